from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cxrpilot.data import DuplicateGroup, Study, StudyImage, deduplicate, find_duplicates
from cxrpilot.data._dedup import image_fingerprints
from cxrpilot.errors import InvalidDatasetError

# Copies measured on ../shared/data (see cxrpilot.data._dedup's docstring).
KNOWN_GROUPS = [
    {
        ("covid-radiography", "Normal/Normal-100"),
        ("pediatric-pneumonia", "train/NORMAL/IM-0187-0001"),
    },
    {
        ("covid-radiography", "Normal/Normal-1000"),
        ("pediatric-pneumonia", "train/NORMAL/NORMAL2-IM-0879-0001"),
    },
    {("covid-radiography", "COVID/COVID-1013"), ("covid-chestxray", "gr1_lrg-a")},
    {
        ("covid-radiography", "COVID/COVID-1"),
        ("covid-radiography", "COVID/COVID-140"),
        ("covid-radiography", "COVID/COVID-591"),
        ("covid-chestxray", "353889E0-A1E8-4F9E-A0B8-F24F36BCFBFB"),
        ("covid-chestxray", "case_72_RX-TORACE1"),
    },
]
# Images with no copy anywhere in the data.
SINGLES = [
    ("pediatric-pneumonia", f"train/PNEUMONIA/person{n}_bacteria_{k}")
    for n, k in [(1000, 2931), (1001, 2932), (1002, 2933), (1003, 2934)]
]
SINGLES += [("covid-radiography", f"COVID/COVID-{n}") for n in (10, 100, 1000)]


@pytest.fixture(scope="module")
def subset(covid_radiography, pediatric, covid_chestxray) -> list[Study]:
    wanted = set().union(*KNOWN_GROUPS) | set(SINGLES)
    studies = [
        s
        for s in covid_radiography + pediatric + covid_chestxray
        if (s.source, s.study_id) in wanted
    ]
    assert len(studies) == len(wanted)
    return studies


def test_known_duplicates_found(subset, tmp_path):
    groups = find_duplicates(subset, cache_dir=tmp_path)
    assert sorted(map(set, (g.members for g in groups)), key=sorted) == sorted(
        KNOWN_GROUPS, key=sorted
    )
    assert all(g.cross_source for g in groups)
    assert all(0 <= g.max_distance <= 8 for g in groups)
    assert (tmp_path / "image-fingerprints-v1.npz").is_file()
    # second call reads the cache and returns the same groups
    assert find_duplicates(subset, cache_dir=tmp_path) == groups


def test_hash_alone_is_not_enough(subset):
    # Without the thumbnail check, a loose hash threshold merges unrelated radiographs.
    loose = find_duplicates(subset, max_distance=16, min_correlation=-1.0)
    strict = find_duplicates(subset, max_distance=16)
    assert sum(len(g.members) for g in loose) > sum(len(g.members) for g in strict)
    assert sorted(map(set, (g.members for g in strict)), key=sorted) == sorted(
        KNOWN_GROUPS, key=sorted
    )


def test_deduplicate_keeps_preferred(subset):
    groups = find_duplicates(subset)
    kept = deduplicate(subset, groups=groups, prefer=["covid-chestxray", "pediatric-pneumonia"])
    assert len(kept) == len(subset) - sum(len(g) - 1 for g in KNOWN_GROUPS)
    keys = {(s.source, s.study_id) for s in kept}
    assert ("pediatric-pneumonia", "train/NORMAL/IM-0187-0001") in keys
    assert ("covid-radiography", "Normal/Normal-100") not in keys
    assert ("covid-chestxray", "gr1_lrg-a") in keys
    (big,) = [s for s in kept if s.study_id == "353889E0-A1E8-4F9E-A0B8-F24F36BCFBFB"]
    assert sorted(big.meta["duplicates"]) == [
        "covid-chestxray:case_72_RX-TORACE1",
        "covid-radiography:COVID/COVID-1",
        "covid-radiography:COVID/COVID-140",
        "covid-radiography:COVID/COVID-591",
    ]
    # default: first in input order is kept, input order preserved
    default = deduplicate(subset, groups=groups)
    assert [s.study_id for s in default] == [
        s.study_id
        for s in subset
        if (s.source, s.study_id) in {(d.source, d.study_id) for d in default}
    ]


def _noise(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (16, 16), dtype=np.uint8)
    return Image.fromarray(small).resize((256, 256), Image.Resampling.BICUBIC)


def test_synthetic_copies(tmp_path):
    a = _noise(1)
    a.save(tmp_path / "a.png")
    a.resize((180, 180)).save(tmp_path / "a_small.jpg", quality=70)  # resized, re-encoded copy
    _noise(2).save(tmp_path / "b.png")
    studies = [
        Study(name, name, "synthetic", images=(StudyImage(str(tmp_path / f"{name}"), name),))
        for name in ("a.png", "a_small.jpg", "b.png")
    ]
    studies.append(Study("report-only", "p", "synthetic", images=(StudyImage(None, "x"),)))
    groups = find_duplicates(studies, n_jobs=2)
    assert groups == [
        DuplicateGroup(
            members=(("synthetic", "a.png"), ("synthetic", "a_small.jpg")),
            paths=(str(tmp_path / "a.png"), str(tmp_path / "a_small.jpg")),
            max_distance=groups[0].max_distance,
        )
    ]


def test_fingerprint_cache_invalidated_on_change(tmp_path):
    path = tmp_path / "x.png"
    _noise(3).save(path)
    h1, t1 = image_fingerprints([path], cache_dir=tmp_path / "cache")
    _noise(4).save(path)
    h2, _ = image_fingerprints([path], cache_dir=tmp_path / "cache")
    assert h1[0] != h2[0] and t1.shape == (1, 1024) and t1.dtype == np.uint8


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda d: [Study("a", "p", "s", images=(StudyImage(str(d / "missing.png"), "a"),))],
            r"missing\.png: image not found",
        ),
        (
            lambda d: [Study("a", "p", "s", images=(StudyImage(str(d / "bad.png"), "a"),))],
            r"bad\.png: cannot read image for de-duplication",
        ),
        (
            lambda d: [Study("a", "p", "s"), Study("a", "q", "s")],
            r"study 'a' of source 's' appears twice",
        ),
    ],
)
def test_bad_inputs(tmp_path, make, match):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(InvalidDatasetError, match=match):
        find_duplicates(make(tmp_path))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"max_distance": 64}, "max_distance=64"), ({"min_correlation": 1.5}, "min_correlation=1.5")],
)
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        find_duplicates([], **kwargs)


@pytest.mark.slow
def test_full_data_duplicate_counts(
    covid_radiography, pediatric, covid_chestxray, tmp_path_factory
):
    """All 18,242 images: the counts reported in the data adapters' notes."""
    studies = covid_radiography + pediatric + covid_chestxray
    groups = find_duplicates(studies, cache_dir=tmp_path_factory.mktemp("fp"), n_jobs=2)
    members = [m for g in groups for m in g.members]
    ped_normal_copied = {
        m
        for g in groups
        for m in g.members
        if m[0] == "pediatric-pneumonia"
        and "/NORMAL/" in m[1]
        and any(o[0] == "covid-radiography" for o in g.members)
    }
    chestxray_copied = {
        m
        for g in groups
        for m in g.members
        if m[0] == "covid-chestxray" and any(o[0] == "covid-radiography" for o in g.members)
    }
    assert len(ped_normal_copied) == 1197  # of 1,341 pediatric normals
    assert len(chestxray_copied) == 227  # of 575 covid-chestxray rows
    assert not any(
        m[0] == "pediatric-pneumonia"
        and "/PNEUMONIA/" in m[1]
        and any(o[0] != "pediatric-pneumonia" for o in g.members)
        for g in groups
        for m in g.members
    )
    assert len(deduplicate(studies, groups=groups)) == len(studies) - (len(members) - len(groups))
