from __future__ import annotations

from collections import Counter

import pytest

from cxrpilot.data import read_covid_chestxray
from cxrpilot.data._covid_chestxray import finding_labels
from cxrpilot.errors import InvalidDatasetError

PNEUMONIA = {"No Finding": 0, "Lung Opacity": 1, "Pneumonia": 1}
NORMAL = {"No Finding": 1, "Lung Opacity": 0, "Pneumonia": 0}


@pytest.mark.parametrize(
    ("finding", "expected"),
    [
        ("COVID-19", PNEUMONIA),
        ("COVID-19, ARDS", PNEUMONIA),
        ("Pneumonia/Viral/COVID-19", PNEUMONIA),
        ("Pneumonia/Bacterial/Streptococcus", PNEUMONIA),
        ("SARS", PNEUMONIA),
        ("Pneumocystis", PNEUMONIA),
        ("Lipoid", PNEUMONIA),
        ("ARDS", {"No Finding": 0, "Lung Opacity": 1}),
        ("No Finding", NORMAL),
        ("todo", {}),
        ("", {}),
        ("Tuberculosis", {}),
    ],
)
def test_finding_labels(finding, expected):
    assert finding_labels(finding) == expected


def test_real_collection(covid_chestxray):
    studies = covid_chestxray
    assert len(studies) == 575
    assert len({s.study_id for s in studies}) == 575
    assert Counter(s.images[0].view for s in studies) == {
        "PA": 276,
        "AP SUPINE": 112,
        "AP": 104,
        "LATERAL": 51,
        None: 32,
    }
    assert sum(s.labels == {} for s in studies) == 62  # the 'todo' rows
    assert sum(s.labels == NORMAL for s in studies) == 16
    first = studies[0]
    assert first.patient_id == "2" and first.meta["finding"] == "COVID-19"
    assert first.meta["age"] == 65 and first.meta["sex"] == "M"
    assert "infiltrate" in first.meta["clinical_notes"] and first.sections == {}
    # the source lists two files under two patient ids: both rows kept, ids unique
    twice = [s for s in studies if s.images[0].image_id == "000001-27"]
    assert [s.patient_id for s in twice] == ["287", "340"]
    assert twice[1].study_id.startswith("000001-27~")


@pytest.mark.parametrize(
    ("csv_text", "match"),
    [
        (
            "patientid,finding,view\n1,COVID-19,PA\n",
            r"metadata\.csv: missing column\(s\) 'filename'",
        ),
        (
            "patientid,finding,view,filename\n1,COVID-19,PA,a.jpg\n,COVID-19,PA,a.jpg\n",
            r"row 2 \(line 3\): empty 'patientid'",
        ),
        (
            "patientid,finding,view,filename\n1,COVID-19,PA,missing.jpg\n",
            r"row 1 \(line 2\): image .*missing\.jpg not found",
        ),
        (
            "patientid,finding,view,filename\n1,COVID-19,PA,a.jpg,extra\n",
            r"row 1 \(line 2\): 5 cells but the header has 4",
        ),
        (
            b"patientid,finding,view,filename\n1,COVID-19,PA,a.jpg\n2,Pneum\xf6nia,PA,a.jpg\n",
            r"metadata\.csv: line 3: byte 0xf6 is not valid utf-8",
        ),
        ("", r"metadata\.csv: empty file"),
    ],
)
def test_bad_metadata(tmp_path, csv_text, match):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.jpg").write_bytes(b"")
    data = csv_text if isinstance(csv_text, bytes) else csv_text.encode()
    (tmp_path / "metadata.csv").write_bytes(data)
    with pytest.raises(InvalidDatasetError, match=match):
        read_covid_chestxray(tmp_path)


def test_missing_metadata(tmp_path):
    with pytest.raises(InvalidDatasetError, match=r"no metadata\.csv"):
        read_covid_chestxray(tmp_path)
