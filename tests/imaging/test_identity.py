"""Exam identifiers of a DICOM file, the pseudonymous patient key, and load_for_exam
(laterals kept with the reason, every other refusal raised)."""

from __future__ import annotations

import io
from datetime import date

import pydicom
import pytest
from pydicom.data import get_testdata_file

from cxrpilot import imaging
from cxrpilot.errors import InvalidImageError, NonFrontalViewError, UnsupportedImageError
from cxrpilot.imaging._isolate import load_for_exam

from .helpers import edited_bytes


def rg1(**changes) -> bytes:
    return edited_bytes(get_testdata_file("RG1_UNCR.dcm"), **changes)


def test_study_identity_of_a_real_cr():
    ident = imaging.study_identity(open(get_testdata_file("RG1_UNCR.dcm"), "rb").read())
    ds = pydicom.dcmread(get_testdata_file("RG1_UNCR.dcm"), stop_before_pixels=True)
    assert ident.study_uid == ds.StudyInstanceUID
    assert ident.series_uid == ds.SeriesInstanceUID
    assert ident.sop_instance_uid == ds.SOPInstanceUID
    assert ident.sop_class_uid == "1.2.840.10008.5.1.4.1.1.1"
    assert (ident.accession_number, ident.study_date, ident.modality) == (
        "exam Number", date(2004, 8, 26), "CR",
    )
    assert ident.patient_id == ds.PatientID
    assert ds.PatientID not in repr(ident)


@pytest.mark.filterwarnings("ignore:Invalid value for VR DA")
@pytest.mark.parametrize(
    ("changes", "attribute", "expected"),
    [
        ({"StudyDate": "2024.03.01"}, "study_date", date(2024, 3, 1)),
        ({"StudyDate": "20241301"}, "study_date", None),
        ({"StudyDate": None}, "study_date", None),
        ({"StudyInstanceUID": None}, "study_uid", None),
        ({"AccessionNumber": ""}, "accession_number", None),
        ({"PatientID": None}, "patient_id", None),
    ],
)
def test_study_identity_of_edited_headers(changes, attribute, expected):
    assert getattr(imaging.study_identity(rg1(**changes)), attribute) == expected


@pytest.mark.parametrize("data", [b"\0" * 128 + b"DICM" + b"\x02\x00\x10", b"not DICOM"])
def test_study_identity_of_garbage_is_empty_or_an_error(data):
    try:
        ident = imaging.study_identity(data)
    except InvalidImageError:
        return
    assert (ident.study_uid, ident.sop_instance_uid, ident.patient_id) == (None, None, None)


def test_patient_key():
    key = imaging.patient_key("12345", b"s" * 32)
    assert len(key) == 64 and key != imaging.patient_key("12345", b"t" * 32)
    assert key == imaging.patient_key("12345 ", b"s" * 32)
    assert key != imaging.patient_key("12346", b"s" * 32)
    assert imaging.patient_key(None, b"s" * 32) is None
    with pytest.raises(ValueError, match="shorter than 16 bytes"):
        imaging.patient_key("1", b"short")


@pytest.mark.parametrize("view", ["LL", "RL", "LATERAL"])
def test_a_lateral_is_a_non_frontal_view_error(view):
    with pytest.raises(NonFrontalViewError, match="^lateral view: the model reads frontal views"):
        imaging.load(rg1(ViewPosition=view))


def test_load_for_exam_keeps_a_lateral_with_the_reason():
    got = load_for_exam(rg1(ViewPosition="LL"))
    assert got.not_drafted_reason.startswith("lateral view: the model reads frontal views")
    assert got.radiograph.view_position == "LL"
    assert got.dicom_note == "kept" and got.identity.modality == "CR"
    assert "PatientID" not in pydicom.dcmread(io.BytesIO(got.dicom_file))
    frontal = load_for_exam(rg1())
    assert frontal.not_drafted_reason == ""


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (lambda: open(get_testdata_file("CT_small.dcm"), "rb").read(), "^CT slice"),
        (lambda: rg1(ViewPosition="LL", BodyPartExamined="KNEE"), "^body part 'KNEE'"),
    ],
)
def test_load_for_exam_raises_other_refusals(data, message):
    with pytest.raises(UnsupportedImageError, match=message) as info:
        load_for_exam(data())
    assert not isinstance(info.value, NonFrontalViewError)


def test_issuer_of_patient_id_is_read_and_keyed():
    ident = imaging.study_identity(rg1(PatientID="123", IssuerOfPatientID="HOSP-A"))
    assert (ident.patient_id, ident.issuer_of_patient_id) == ("123", "HOSP-A")
    assert "HOSP-A" not in repr(ident) and imaging.study_identity(rg1()).issuer_of_patient_id \
        in (None, pydicom.dcmread(get_testdata_file("RG1_UNCR.dcm")).get("IssuerOfPatientID"))
    secret = b"s" * 32
    a, b = (imaging.patient_key("123", secret, issuer) for issuer in ("HOSP-A", "HOSP-B"))
    assert a != b and a == imaging.patient_key("123", secret, " HOSP-A ")
    # no issuer (or an empty one): the key of the ID alone, as before issuers were keyed
    alone = imaging.patient_key("123", secret)
    assert alone == imaging.patient_key("123", secret, "") == imaging.patient_key("123", secret, None)
    assert alone not in (a, b)
    # the issuer and ID cannot be shifted into each other
    assert imaging.patient_key("A-123", secret, "HOSP") != imaging.patient_key("123", secret, "HOSP-A")
    assert imaging.patient_key("", secret, "HOSP-A") is None
