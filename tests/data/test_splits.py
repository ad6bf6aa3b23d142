from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from cxrpilot.data import DuplicateGroup, Study, assign_splits
from cxrpilot.data._splits import main_label, split_name


def _studies(n_patients: int = 200, per_patient: int = 3) -> list[Study]:
    out = []
    for p in range(n_patients):
        positive = p % 4 == 0
        for k in range(per_patient):
            labels = (
                {"Pneumonia": 1, "No Finding": 0} if positive else {"Pneumonia": 0, "No Finding": 1}
            )
            out.append(Study(f"s{p}-{k}", f"p{p}", "demo", labels=labels))
    return out


def test_patient_level_and_fractions():
    studies = _studies()
    out = assign_splits(studies, seed=0)
    per_patient = defaultdict(set)
    for s in out:
        per_patient[s.patient_id].add(s.split)
    assert all(len(v) == 1 for v in per_patient.values())
    counts = Counter(s.split for s in out)
    assert counts == {"train": 480, "validate": 60, "test": 60}
    # stratified: the positive share is the same in every split
    for split in ("train", "validate", "test"):
        members = [s for s in out if s.split == split]
        assert sum(s.labels["Pneumonia"] for s in members) / len(members) == pytest.approx(
            0.25, abs=0.03
        )
    assert [s.study_id for s in out] == [s.study_id for s in studies]


def test_deterministic_and_order_independent():
    studies = _studies()
    a = assign_splits(studies, seed=3)
    b = assign_splits(list(reversed(studies)), seed=3)
    assert {s.study_id: s.split for s in a} == {s.study_id: s.split for s in b}
    c = assign_splits(studies, seed=4)
    assert {s.study_id: s.split for s in a} != {s.study_id: s.split for s in c}


def test_duplicate_groups_stay_together():
    studies = [Study(f"a{i}", f"a{i}", "src-a") for i in range(50)] + [
        Study(f"b{i}", f"b{i}", "src-b") for i in range(50)
    ]
    groups = [
        DuplicateGroup(
            members=(("src-a", f"a{i}"), ("src-b", f"b{i}")), paths=("x", "y"), max_distance=0
        )
        for i in range(50)
    ]
    for seed in range(5):
        split = {s.study_id: s.split for s in assign_splits(studies, seed=seed, groups=groups)}
        assert all(split[f"a{i}"] == split[f"b{i}"] for i in range(50))
    # plain key collections work too
    out = assign_splits(studies, groups=[[("src-a", "a0"), ("src-b", "b7")]])
    split = {s.study_id: s.split for s in out}
    assert split["a0"] == split["b7"]


def test_same_patient_id_in_two_sources_is_two_patients():
    studies = [Study(f"{src}{i}", "1", src) for src in ("x", "y") for i in range(20)]
    out = assign_splits(studies, fractions=(0.5, 0.0, 0.5))
    assert {s.split for s in out if s.source == "x"} != {s.split for s in out if s.source == "y"}
    assert "validate" not in {s.split for s in out}


def test_real_folders_with_duplicates(pediatric):
    out = assign_splits(pediatric, seed=0)
    by_patient = defaultdict(set)
    for s in out:
        by_patient[s.patient_id].add(s.split)
    assert all(len(v) == 1 for v in by_patient.values())
    counts = Counter(s.split for s in out)
    assert counts["train"] / len(out) == pytest.approx(0.8, abs=0.01)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"No Finding": 1, "Pneumonia": 0}, "No Finding"),
        ({"No Finding": 0, "Pneumonia": 1, "Lung Opacity": 1}, "Lung Opacity"),
        ({"Pneumonia": -1}, "unlabelled"),
        ({}, "unlabelled"),
    ],
)
def test_main_label(labels, expected):
    assert main_label(Study("s", "p", "x", labels=labels)) == expected


@pytest.mark.parametrize(
    "fractions", [(0.8, 0.1), (0.8, 0.3, 0.1), (1.2, -0.1, -0.1), (float("nan"), 0.5, 0.5)]
)
def test_bad_fractions(fractions):
    with pytest.raises(ValueError, match=r"fractions=.*summing to 1"):
        assign_splits([], fractions=fractions)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("train", "train"), (" Training ", "train"), ("val", "validate"), ("VALID", "validate"),
     ("validate", "validate"), ("validation", "validate"), ("test", "test"),
     ("", None), (None, None), ("dev", None), (1, None)],
)
def test_split_name_one_table_for_every_reader(cell, expected):
    # the manifest and MIMIC-CXR readers both read split cells through this one table
    assert split_name(cell) == expected
