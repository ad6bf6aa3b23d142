from __future__ import annotations

import gzip

import pytest

from cxrpilot.data import read_mimic_cxr
from cxrpilot.errors import InvalidDatasetError
from cxrpilot.vocabulary import OBSERVATIONS

CHEXPERT_HEADER = (
    "subject_id,study_id,Atelectasis,Cardiomegaly,Consolidation,Edema,Enlarged Cardiomediastinum,"
    "Fracture,Lung Lesion,Lung Opacity,No Finding,Pleural Effusion,Pleural Other,Pneumonia,"
    "Pneumothorax,Support Devices"
)
METADATA_HEADER = (
    "dicom_id,subject_id,study_id,PerformedProcedureStepDescription,ViewPosition,Rows,Columns,"
    "StudyDate,StudyTime,ProcedureCodeSequence_CodeMeaning,ViewCodeSequence_CodeMeaning,"
    "PatientOrientationCodeSequence_CodeMeaning"
)
REPORT = """                                 FINAL REPORT
 EXAMINATION:  CHEST (PA AND LAT)

 INDICATION:  ___F with new onset ascites  // eval for infection

 TECHNIQUE:  Chest PA and lateral

 COMPARISON:  None.

 FINDINGS:

 There is no focal consolidation, pleural effusion or pneumothorax.  Bilateral
 nodular opacities that most likely represent nipple shadows.

 IMPRESSION:

 No acute cardiopulmonary process.
"""
D1 = "02aa804e-bde0afdd-112c0b34-7bc16630-4e384014"
D2 = "174413ec-4ec4c1f7-34ea26b7-c5f994f8-79ef1962"
D3 = "2a2277a9-b0ded155-c0de8eb9-c124d10e-82c5caab"


def _gz(path, text):
    path.write_bytes(gzip.compress(text.encode()))


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "mimic-cxr-jpg"
    study = root / "files" / "p10" / "p10000032" / "s50414267"
    study.mkdir(parents=True)
    (study / f"{D1}.jpg").write_bytes(b"jpg")
    (study.parent / "s50414267.txt").write_text(REPORT)
    (root / "files" / "p10" / "p10000764").mkdir(parents=True)
    (root / "files" / "p10" / "p10000764" / "s57375967.txt").write_text(
        "FINDINGS: Left lower lobe pneumonia."
    )
    _gz(
        root / "mimic-cxr-2.0.0-split.csv.gz",
        f"dicom_id,study_id,subject_id,split\n{D1},50414267,10000032,train\n{D2},50414267,10000032,train\n"
        f"{D3},57375967,10000764,test\n",
    )
    _gz(
        root / "mimic-cxr-2.0.0-chexpert.csv.gz",
        f"{CHEXPERT_HEADER}\n10000032,50414267,,,,,,,,,1.0,,,,,\n10000764,57375967,,,1.0,,,,,1.0,,,,-1.0,,\n",
    )
    _gz(
        root / "mimic-cxr-2.0.0-metadata.csv.gz",
        f"{METADATA_HEADER}\n{D1},10000032,50414267,CHEST (PA AND LAT),PA,3056,2544,21800506,213014.531,"
        f"CHEST (PA AND LAT),postero-anterior,Erect\n{D2},10000032,50414267,CHEST (PA AND LAT),LATERAL,3056,2544,"
        f"21800506,213014.531,CHEST (PA AND LAT),lateral,Erect\n{D3},10000764,57375967,CHEST (PORTABLE AP),AP,"
        f"2705,2539,21321205,"
        f"114506,CHEST (PORTABLE AP),antero-posterior,\n",
    )
    return root


def test_small_tree(tree):
    studies = read_mimic_cxr(tree)
    assert [(s.patient_id, s.study_id, s.split) for s in studies] == [
        ("10000032", "50414267", "train"),
        ("10000764", "57375967", "test"),
    ]
    first, second = studies
    assert [(i.image_id, i.view, i.path is not None) for i in first.images] == [
        (D1, "PA", True),
        (D2, "LATERAL", False),
    ]
    assert first.images[0].path.endswith(f"files/p10/p10000032/s50414267/{D1}.jpg")
    assert first.sections["impression"] == "No acute cardiopulmonary process."
    assert first.sections["findings"].startswith("There is no focal consolidation")
    assert first.sections["comparison"] == "None."
    assert set(first.labels) == set(OBSERVATIONS)
    assert first.labels["No Finding"] == 1 and first.labels["Pneumonia"] is None
    assert second.labels["Consolidation"] == 1 and second.labels["Pneumonia"] == -1
    assert second.sections == {"findings": "Left lower lobe pneumonia."}
    assert first.meta["study_date"] == "21800506"


def test_reports_only(tmp_path):
    folder = tmp_path / "files" / "p12" / "p12000001"
    folder.mkdir(parents=True)
    (folder / "s51000001.txt").write_text("IMPRESSION: Normal.")
    (study,) = read_mimic_cxr(tmp_path)
    assert (study.study_id, study.patient_id, study.split, study.labels) == (
        "51000001",
        "12000001",
        None,
        {},
    )


@pytest.mark.parametrize(
    ("table", "text", "match"),
    [
        (
            "split",
            "dicom_id,study_id,subject_id\nx,1,2\n",
            r"split\.csv\.gz: missing column\(s\) 'split'",
        ),
        (
            "split",
            "dicom_id,study_id,subject_id,split\nx,1,2,holdout\n",
            r"split\.csv\.gz: row 1 \(line 2\): split 'holdout'",
        ),
        (
            "split",
            "dicom_id,study_id,subject_id,split\nx,1,2,train\ny,1,2,test\n",
            r"row 2 \(line 3\): study 1 is in split test here, train elsewhere",
        ),
        (
            "split",
            "dicom_id,study_id,subject_id,split\nx,1,2,train\ny,1,3,train\n",
            r"row 2 \(line 3\): study 1 is listed under subject 3, elsewhere 2",
        ),
        (
            "chexpert",
            f"{CHEXPERT_HEADER}\n1,2,,,,,,,,,yes,,,,,\n",
            r"chexpert\.csv\.gz: row 1 \(line 2\): column 'No Finding' has label value 'yes'",
        ),
        ("chexpert", "subject_id,study_id,Foo\n1,2,1\n", r"no observation columns"),
    ],
)
def test_bad_tables(tmp_path, table, text, match):
    _gz(tmp_path / f"mimic-cxr-2.0.0-{table}.csv.gz", text)
    with pytest.raises(InvalidDatasetError, match=match):
        read_mimic_cxr(tmp_path)


def test_empty_folder(tmp_path):
    with pytest.raises(
        InvalidDatasetError, match=r"no mimic-cxr-2\.0\.0-split/-metadata/-chexpert table"
    ):
        read_mimic_cxr(tmp_path)
