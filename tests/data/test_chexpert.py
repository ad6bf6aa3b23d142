from __future__ import annotations

import pytest

from cxrpilot.data import read_chexpert
from cxrpilot.errors import InvalidDatasetError

HEADER = (
    "Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Enlarged Cardiomediastinum,Cardiomegaly,Lung Opacity,"
    "Lung Lesion,Edema,Consolidation,Pneumonia,Atelectasis,Pneumothorax,Pleural Effusion,Pleural Other,"
    "Fracture,Support Devices"
)
ROWS = [
    "CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg,Female,68,Frontal,AP,1.0,,,,,,,,,0.0,,,,1.0",
    "CheXpert-v1.0-small/train/patient00002/study2/view1_frontal.jpg,Female,87,Frontal,AP,,,-1.0,1.0,,-1.0,-1.0,,-1.0,,-1.0,,1.0,",
    "CheXpert-v1.0-small/train/patient00002/study2/view2_lateral.jpg,Female,87,Lateral,,,,-1.0,1.0,,-1.0,-1.0,,-1.0,,-1.0,,1.0,",
    "CheXpert-v1.0-small/train/patient00002/study1/view1_frontal.jpg,Female,83,Frontal,AP,,,,1.0,,,-1.0,,,,,,1.0,",
]


@pytest.fixture
def csv_path(tmp_path):
    folder = tmp_path / "CheXpert-v1.0-small"
    image = folder / "train" / "patient00001" / "study1"
    image.mkdir(parents=True)
    (image / "view1_frontal.jpg").write_bytes(b"jpg")
    path = folder / "train.csv"
    path.write_text("\n".join([HEADER, *ROWS]) + "\n")
    return path


def test_small_csv(csv_path):
    studies = read_chexpert(csv_path)
    assert [(s.study_id, s.patient_id, len(s.images)) for s in studies] == [
        ("patient00001/study1", "patient00001", 1),
        ("patient00002/study2", "patient00002", 2),
        ("patient00002/study1", "patient00002", 1),
    ]
    first, second, _ = studies
    assert first.split == "train" and first.source == "chexpert"
    assert first.images[0].path == str(
        csv_path.parent / "train/patient00001/study1/view1_frontal.jpg"
    )
    assert second.images[0].path is None  # not on disk
    assert [i.view for i in second.images] == ["AP", "LATERAL"]
    assert first.labels["No Finding"] == 1 and first.labels["Pneumothorax"] == 0
    assert first.labels["Support Devices"] == 1 and first.labels["Edema"] is None
    assert second.labels["Cardiomegaly"] == -1 and second.labels["Fracture"] == 1
    assert len(first.labels) == 14
    assert first.meta == {"sex": "Female", "age": 68}


def test_split_from_name_and_override(tmp_path):
    path = tmp_path / "valid.csv"
    path.write_text(HEADER + "\n" + ROWS[0].replace("train/", "valid/") + "\n")
    assert read_chexpert(path)[0].split == "validate"
    assert read_chexpert(path, split="test")[0].split == "test"
    image = tmp_path / "x" / "CheXpert-v1.0-small/valid/patient00001/study1/view1_frontal.jpg"
    image.parent.mkdir(parents=True)
    image.write_bytes(b"jpg")
    assert read_chexpert(path, image_root=tmp_path / "x")[0].images[0].path == str(image)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("Sex,Age\nF,1\n", r"missing column\(s\) 'Path'"),
        ("Path,Sex\nx/patient1/study1/a.jpg,F\n", r"no observation columns"),
        (
            HEADER
            + "\nCheXpert-v1.0-small/train/p1/s1/view1.jpg,F,1,Frontal,AP"
            + ",1.0" * 14
            + "\n",
            r"row 1 \(line 2\): Path '.*' has no patientNNNNN/studyN/ part",
        ),
        (
            HEADER + "\n" + ROWS[0] + "\n" + ROWS[1].replace("-1.0,1.0", "2.0,1.0", 1) + "\n",
            r"train\.csv: row 2 \(line 3\): column 'Cardiomegaly' has label value '2\.0'",
        ),
    ],
)
def test_bad_csv(tmp_path, text, match):
    path = tmp_path / "train.csv"
    path.write_text(text)
    with pytest.raises(InvalidDatasetError, match=match):
        read_chexpert(path)
