from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from cxrpilot.data import read_image_folders
from cxrpilot.data._folders import patient_id_from_name
from cxrpilot.errors import InvalidDatasetError
from cxrpilot.vocabulary import OBSERVATIONS

PNEUMONIA = {"No Finding": 0, "Lung Opacity": 1, "Pneumonia": 1}
NORMAL = {"No Finding": 1, "Lung Opacity": 0, "Pneumonia": 0}


def test_covid_radiography_real(covid_radiography):
    assert len(covid_radiography) == 12451
    classes = Counter(s.meta["class"] for s in covid_radiography)
    assert classes == {"COVID": 3278, "Normal": 9173}
    by_id = {s.study_id: s for s in covid_radiography}
    covid, normal = by_id["COVID/COVID-1"], by_id["Normal/Normal-1"]
    assert covid.labels == PNEUMONIA and normal.labels == NORMAL
    assert covid.patient_id == covid.study_id  # no patient ids in this source
    assert covid.images[0].image_id == "COVID-1" and Path(covid.images[0].path).is_file()
    assert all(set(s.labels) <= set(OBSERVATIONS) for s in covid_radiography)
    assert covid.split is None and covid.source == "covid-radiography"


def test_pediatric_real(pediatric):
    assert len(pediatric) == 5216
    assert Counter(s.meta["class"] for s in pediatric) == {"PNEUMONIA": 3875, "NORMAL": 1341}
    assert Counter(s.meta.get("pneumonia_type") for s in pediatric) == {
        "bacteria": 2530,
        "virus": 1345,
        None: 1341,
    }
    by_id = {s.study_id: s for s in pediatric}
    s = by_id["train/PNEUMONIA/person23_bacteria_100"]
    assert s.patient_id == "person23" and s.labels == PNEUMONIA and s.images[0].view == "AP"
    assert s.meta["source_split"] == "train"
    assert sum(x.patient_id == "person23" for x in pediatric) == 30
    assert by_id["train/NORMAL/IM-0629-0001-0002"].patient_id == "IM-0629"
    assert by_id["train/NORMAL/NORMAL2-IM-0629-0001"].patient_id == "NORMAL2-IM-0629"
    assert len({x.patient_id for x in pediatric}) < len(pediatric)


@pytest.mark.parametrize(
    ("stem", "expected"),
    [
        ("person1000_bacteria_2931", ("person1000", "bacteria")),
        ("person1_virus_6", ("person1", "virus")),
        ("IM-0115-0001", ("IM-0115", None)),
        ("NORMAL2-IM-1345-0001-0002", ("NORMAL2-IM-1345", None)),
        ("COVID-1", (None, None)),
        ("Normal-10", (None, None)),
    ],
)
def test_patient_id_from_name(stem, expected):
    assert patient_id_from_name(stem) == expected


def _tree(root: Path, files: list[str]) -> None:
    for rel in files:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", (8, 8), 128).save(path)


def test_scan_without_labels_file(tmp_path):
    _tree(
        tmp_path,
        ["train/NORMAL/a.png", "train/PNEUMONIA/person7_virus_1.jpeg", "test/Lung_Opacity/c.png"],
    )
    (tmp_path / "notes.txt").write_text("not an image")
    studies = read_image_folders(tmp_path, source="demo")
    assert [s.study_id for s in studies] == [
        "test/Lung_Opacity/c",
        "train/NORMAL/a",
        "train/PNEUMONIA/person7_virus_1",
    ]
    assert [s.meta.get("source_split") for s in studies] == ["test", "train", "train"]
    assert studies[0].labels == {"No Finding": 0, "Lung Opacity": 1}
    assert studies[2].patient_id == "person7" and studies[2].meta["pneumonia_type"] == "virus"


def test_class_labels_override(tmp_path):
    _tree(tmp_path, ["Tuberculosis/x.png"])
    studies = read_image_folders(
        tmp_path, source="tb", class_labels={"Tuberculosis": {"Lung Opacity": 1}}
    )
    assert studies[0].labels == {"Lung Opacity": 1}


@pytest.mark.parametrize(
    ("files", "labels_csv", "kwargs", "match"),
    [
        (["Tuberculosis/x.png"], None, {}, r"unknown class 'Tuberculosis'.*class_labels"),
        (["x.png"], None, {}, r"x\.png: image directly in .*sub-folder per class"),
        ([], None, {}, r"no images found"),
        (
            ["A/x.png"],
            "path,class\nA/x.png,Normal\n",
            {},
            r"labels\.csv: missing column\(s\) 'file', 'label'",
        ),
        (
            ["A/x.png"],
            "file,label\nA/x.png,Normal\nA/y.png,Normal\n",
            {},
            r"labels\.csv: row 2 \(line 3\): image 'A/y\.png' not found",
        ),
        (["A/x.png"], "file,label\nA/x.png,\n", {}, r"row 1 \(line 2\): empty 'file' or 'label'"),
        (
            ["A/x.png"],
            None,
            {"class_labels": {"A": {"Pneumonia": 2}}},
            r"class_labels\['A'\].*value 2",
        ),
        (["A/x.png"], None, {"class_labels": {"A": {"Flu": 1}}}, r"unknown observation 'Flu'"),
    ],
)
def test_bad_folders(tmp_path, files, labels_csv, kwargs, match):
    _tree(tmp_path, files)
    if labels_csv is not None:
        (tmp_path / "labels.csv").write_text(labels_csv)
    with pytest.raises(InvalidDatasetError, match=match):
        read_image_folders(tmp_path, source="demo", **kwargs)


def test_missing_root(tmp_path):
    with pytest.raises(InvalidDatasetError, match=r"nope: not a folder"):
        read_image_folders(tmp_path / "nope", source="demo")
