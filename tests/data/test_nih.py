from __future__ import annotations

import pytest

from cxrpilot.data import read_nih
from cxrpilot.errors import InvalidDatasetError

HEADER = (
    "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
    "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],"
)


def test_real_samples(shared_data):
    studies = read_nih(shared_data / "samples" / "nih" / "labels.csv")
    assert len(studies) == 24
    assert all(s.images[0].path is not None for s in studies)
    by_id = {s.study_id: s for s in studies}
    s = by_id["00000001_002"]
    assert s.patient_id == "1" and s.images[0].view == "PA"
    assert (
        s.labels["Cardiomegaly"] == 1
        and s.labels["Pleural Effusion"] == 1
        and s.labels["No Finding"] == 0
    )
    assert s.labels["Pneumonia"] == 0 and s.labels["Lung Opacity"] == 0
    assert s.meta == {
        "nih_labels": ["Cardiomegaly", "Effusion"],
        "follow_up": 2,
        "age": 58,
        "sex": "M",
    }
    assert by_id["00000004_000"].labels["Lung Lesion"] == 1  # Mass|Nodule
    assert by_id["00000002_000"].labels["No Finding"] == 1
    hernia = by_id["00000003_001"]
    assert hernia.meta["nih_labels"] == ["Hernia"] and set(hernia.labels.values()) == {0}
    assert len({s.patient_id for s in studies}) == 8


def test_original_layout(tmp_path):
    (tmp_path / "images_001" / "images").mkdir(parents=True)
    (tmp_path / "images_001" / "images" / "00000001_000.png").write_bytes(b"png")
    (tmp_path / "Data_Entry_2017.csv").write_text(
        HEADER + "\n00000001_000.png,Infiltration|Pneumothorax,0,1,58,M,AP,2500,2048,0.168,0.168,\n"
        "00000001_001.png,No Finding,1,1,58,M,PA,2500,2048,0.168,0.168,\n"
    )
    first, second = read_nih(tmp_path / "Data_Entry_2017.csv")
    assert (
        first.images[0].path.endswith("images_001/images/00000001_000.png")
        and first.images[0].view == "AP"
    )
    assert first.labels["Pneumothorax"] == 1 and first.meta["nih_labels"] == [
        "Infiltration",
        "Pneumothorax",
    ]
    assert second.images[0].path is None


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("Image Index,Finding Labels\na.png,Hernia\n", r"missing column\(s\) 'Patient ID'"),
        (
            HEADER + "\na.png,Hernia|Flu,0,1,5,M,PA,1,1,1,1,\n",
            r"Data_Entry_2017\.csv: row 1 \(line 2\): 'Finding Labels' value 'Hernia\|Flu'",
        ),
        (HEADER + "\na.png,,0,1,5,M,PA,1,1,1,1,\n", r"row 1 \(line 2\): 'Finding Labels' value ''"),
        (
            HEADER + "\na.png,Hernia,0,,5,M,PA,1,1,1,1,\n",
            r"row 1 \(line 2\): empty 'Image Index' or 'Patient ID'",
        ),
    ],
)
def test_bad_csv(tmp_path, text, match):
    (tmp_path / "Data_Entry_2017.csv").write_text(text)
    with pytest.raises(InvalidDatasetError, match=match):
        read_nih(tmp_path / "Data_Entry_2017.csv")


@pytest.mark.data
def test_shared_selection_layout_with_boxes(shared_data):
    """The shared nih-chestxray14 folder: one column per label, relative image paths, boxes."""
    studies = read_nih(shared_data / "nih-chestxray14")
    assert len(studies) > 1000
    assert all(s.images[0].path is not None for s in studies)
    assert {s.images[0].view for s in studies} == {"AP", "PA"}
    by_id = {s.study_id: s for s in studies}
    s = by_id["00000032_037"]  # Cardiomegaly|Edema|Infiltration, radiologist-boxed
    assert s.labels["Cardiomegaly"] == 1 and s.labels["Edema"] == 1
    assert s.labels["Lung Opacity"] == 1  # Infiltration (and Edema) are opacities
    assert s.labels["No Finding"] == 0 and s.labels["Pleural Effusion"] == 0
    assert s.meta["subsets"] == "radiologist-boxes" and s.meta["age"] == 54
    boxed = [s for s in studies if "boxes" in s.meta]
    assert sum(len(s.meta["boxes"]) for s in boxed) == 841
    finding, _x, _y, w, h = boxed[0].meta["boxes"][0]
    assert finding in {"Atelectasis", "Cardiomegaly", "Effusion", "Infiltrate", "Mass", "Nodule",
                       "Pneumonia", "Pneumothorax"} and w > 0 and h > 0


@pytest.mark.parametrize(
    ("nih_labels", "expected"),
    [
        (["Infiltration"], {"Lung Opacity": 1, "No Finding": 0, "Pneumonia": 0}),
        (["Nodule"], {"Lung Lesion": 1, "Lung Opacity": 1}),
        (["Pleural_Thickening"], {"Pleural Other": 1, "Lung Opacity": 0}),
        (["Effusion"], {"Pleural Effusion": 1, "Lung Opacity": 0}),
        (["Hernia"], {"Lung Opacity": 0, "No Finding": 0}),
        (["No Finding"], {"No Finding": 1, "Lung Opacity": 0, "Cardiomegaly": 0}),
    ],
)
def test_observation_mapping(nih_labels, expected):
    from cxrpilot.data._nih import nih_observations

    got = nih_observations(nih_labels)
    assert {k: got[k] for k in expected} == expected
    assert set(got.values()) <= {0, 1}
