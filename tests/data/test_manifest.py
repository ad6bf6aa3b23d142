from __future__ import annotations

import json

import pytest

from cxrpilot.data import read_manifest
from cxrpilot.errors import InvalidDatasetError


def test_csv_rows_per_image(tmp_path):
    (tmp_path / "m.csv").write_text(
        "path,study_id,patient_id,view,split,findings,impression,Pleural Effusion,pneumothorax,site\n"
        "img/a1.png,s1,p1,PA,train,Small left effusion.,Effusion.,1,0,north\n"
        "img/a2.png,s1,p1,LL,train,,,,,north\n"
        "/abs/b.dcm,s2,,AP,test,,No acute disease.,0,,south\n"
    )
    s1, s2 = read_manifest(tmp_path / "m.csv", source="hospital")
    assert [(i.path, i.view) for i in s1.images] == [
        (str(tmp_path / "img/a1.png"), "PA"),
        (str(tmp_path / "img/a2.png"), "LATERAL"),
    ]
    assert s1.sections == {"findings": "Small left effusion.", "impression": "Effusion."}
    assert s1.labels == {"Pleural Effusion": 1, "Pneumothorax": 0}
    assert (s1.split, s1.source, s1.meta) == ("train", "hospital", {"site": "north"})
    assert s2.patient_id == "s2" and s2.images[0].path == "/abs/b.dcm" and s2.split == "test"
    assert s2.labels == {"Pleural Effusion": 0, "Pneumothorax": None}


def test_jsonl_nested(tmp_path):
    rows = [
        {
            "paths": ["x.jpg", "y.jpg"],
            "patient_id": "p9",
            "labels": {"Cardiomegaly": 1, "No Finding": 0},
            "sections": {"impression": "Cardiomegaly."},
            "age": 70,
        },
        {"path": "z.jpg", "Edema": -1.0, "split": "val"},
    ]
    (tmp_path / "m.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    a, b = read_manifest(tmp_path / "m.jsonl")
    assert a.study_id == "x" and len(a.images) == 2 and a.patient_id == "p9"
    assert a.labels == {"Cardiomegaly": 1, "No Finding": 0} and a.sections == {
        "impression": "Cardiomegaly."
    }
    assert a.meta == {"age": 70}
    assert (b.study_id, b.labels, b.split, b.source) == ("z", {"Edema": -1}, "validate", "manifest")


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        ("m.csv", "image,label\na.png,1\n", r"m\.csv: neither a 'path' nor a 'study_id' column"),
        (
            "m.csv",
            "path,study_id,findings\n,,Clear.\n",
            r"m\.csv: row 1 \(line 2\): no 'path' and no 'study_id'",
        ),
        (
            "m.csv",
            "path,Pneumonia\na.png,1\nb.png,maybe\n",
            r"row 2 \(line 3\): column 'Pneumonia' has label value 'maybe'",
        ),
        ("m.csv", "path,split\na.png,holdout\n", r"row 1 \(line 2\): split 'holdout'"),
        (
            "m.csv",
            "path,study_id,patient_id\na.png,s,p1\nb.png,s,p2\n",
            r"row 2 \(line 3\): study 's' has patient_id 'p2'",
        ),
        (
            "m.jsonl",
            '{"path": "a.png"}\n{"path": \n',
            r"m\.jsonl: row 2 \(line 2\): not valid JSON",
        ),
        ("m.jsonl", "[1, 2]\n", r"row 1 \(line 1\): expected a JSON object, got list"),
        (
            "m.jsonl",
            '{"path": "a.png", "labels": {"Flu": 1}}\n',
            r"row 1 \(line 1\): unknown observation 'Flu'",
        ),
        (
            "m.jsonl",
            '{"path": "a.png", "labels": {"Edema": 3}}\n',
            r"column 'labels.Edema' has label value 3",
        ),
    ],
)
def test_bad_manifest(tmp_path, name, text, match):
    (tmp_path / name).write_text(text)
    with pytest.raises(InvalidDatasetError, match=match):
        read_manifest(tmp_path / name)


def test_latin1_needs_encoding(tmp_path):
    (tmp_path / "m.csv").write_bytes(
        "path,findings\na.png,Pleurale Verschattung ätiologisch unklar\n".encode("latin-1")
    )
    with pytest.raises(
        InvalidDatasetError,
        match=r"m\.csv: line 2: byte 0xe4 is not valid utf-8.*encoding='latin-1'",
    ):
        read_manifest(tmp_path / "m.csv")
    (study,) = read_manifest(tmp_path / "m.csv", encoding="latin-1")
    assert "ätiologisch" in study.sections["findings"]
