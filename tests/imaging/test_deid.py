"""De-identification on import: identity gone, UIDs and technical attributes kept."""

from __future__ import annotations

import logging

import pydicom
import pytest
from pydicom.data import get_testdata_file

from cxrpilot import imaging

# Values of identifying attributes in the source headers (checked as text anywhere in the copy).
RG1_PHI = (
    "CompressedSamples",
    "9RG1",
    "19400305",
    "26210",
    "Philips Medical Systems Hamburg",
    "Our Department",
    "THORAVISION",
    "exam Number",
    "ward",
    "92.00.003",
    "CLUNIE1",
)
DOG_PHI = ("AVeryGood", "123456", "20140422", "16387a", "Veterinarian", "A2273", "DEVO", "D123871")
REMOVED = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "OtherPatientIDs",
    "InstitutionName",
    "InstitutionalDepartmentName",
    "ReferringPhysicianName",
    "AccessionNumber",
    "StudyDate",
    "StudyTime",
    "ContentDate",
    "StudyID",
    "StationName",
    "DeviceSerialNumber",
    "ImageComments",
    "StudyDescription",
    "PixelData",
)
KEPT = (
    "SOPClassUID",
    "SOPInstanceUID",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "Modality",
    "PatientSex",
    "BodyPartExamined",
    "ViewPosition",
    "Rows",
    "Columns",
    "BitsStored",
    "PhotometricInterpretation",
    "WindowCenter",
    "WindowWidth",
    "KVP",
)


def test_rg1_header_is_deidentified():
    source = pydicom.dcmread(get_testdata_file("RG1_UNCR.dcm"), stop_before_pixels=True)
    header = imaging.load(get_testdata_file("RG1_UNCR.dcm")).header
    for keyword in REMOVED:
        assert keyword not in header, keyword
    for keyword in KEPT:
        assert header[keyword].value == source[keyword].value, keyword
    text = str(header) + str(header.file_meta)
    for value in RG1_PHI:
        assert value not in text, value
    assert header.PatientIdentityRemoved == "YES"
    assert [c.CodeValue for c in header.DeidentificationMethodCodeSequence] == [
        "113100",
        "113108",
        "113110",
    ]
    assert header.file_meta.MediaStorageSOPInstanceUID == source.SOPInstanceUID


def test_dog_header_nested_and_private_content_removed(dog, caplog):
    caplog.set_level(logging.DEBUG)
    xr = imaging.load(dog, check=False)
    header = xr.header
    text = str(header)
    for value in DOG_PHI:
        assert value not in text, value
        assert value not in caplog.text, value  # no PHI in logs
    assert not any(elem.tag.is_private for elem in header.iterall())
    assert "RequestAttributesSequence" not in header and "PatientAge" in header
    assert header.StudyInstanceUID == pydicom.dcmread(dog).StudyInstanceUID


def test_deidentify_false_keeps_the_full_header_without_pixels(siim):
    header = imaging.load(siim, deidentify=False).header
    assert str(header.PatientName) == str(pydicom.dcmread(siim).PatientName)
    assert "PixelData" not in header and "PatientIdentityRemoved" not in header


def test_deidentify_header_leaves_the_source_alone():
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    before = str(ds.PatientName)
    clean = imaging.deidentify_header(ds)
    assert str(ds.PatientName) == before and "PatientName" not in clean
    assert clean.SOPInstanceUID == ds.SOPInstanceUID


@pytest.mark.parametrize("name", ["RG1_UNCR.dcm", "RG1_J2KI.dcm"])
def test_header_round_trips_through_pydicom(tmp_path, name):
    header = imaging.load(get_testdata_file(name)).header
    path = tmp_path / "header.dcm"
    header.save_as(path, enforce_file_format=False)
    assert pydicom.dcmread(path, force=True).SOPInstanceUID == header.SOPInstanceUID
