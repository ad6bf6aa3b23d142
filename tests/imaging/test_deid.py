"""De-identification on import: identity gone, UIDs and technical attributes kept."""

from __future__ import annotations

import functools
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


# -- PHI planted at every level: none of it reaches the stored file or a log ----------------
PLANTED = {
    "top": "PHITOPNAME",
    "dob": "PHIDOBBAD",  # a malformed DA: pydicom's warning would quote it
    "g0028_comment": "PHI0028COMMENT",
    "g0028_explanation": "PHI0028WCWE",
    "g0028_invalid_cs": "PHI^LOSSY",
    "private_top": "PHIPRIVATETOP",
    "private_seq": "PHIPRIVATESEQ",
    "level1": "PHILEVEL1NAME",
    "level1_private": "PHILEVEL1PRIV",
    "level1_free_text": "PHILUTEXPL",
    "level2": "PHILEVEL2ID",
    "level3": "PHILEVEL3NAME",
    "unknown_seq": "PHIREFSEQ",
    "meta": "PHIIMPLVER",
}


@functools.cache
def _planted_dicom() -> bytes:
    import io
    import warnings

    with warnings.catch_warnings():  # pydicom warns, quoting the bad values, as they are set
        warnings.simplefilter("ignore")
        logging.getLogger("pydicom").disabled = True
        try:
            return _build_planted(io)
        finally:
            logging.getLogger("pydicom").disabled = False


def _build_planted(io) -> bytes:

    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    ds = pydicom.dcmread(get_testdata_file("RG1_UNCR.dcm"))
    ds.PatientName = PLANTED["top"]
    ds.add_new(0x00100030, "DA", PLANTED["dob"])
    ds.add_new(0x00284000, "LT", PLANTED["g0028_comment"])  # Image Presentation Comments
    ds.add_new(0x00281055, "LO", PLANTED["g0028_explanation"])  # Window C/W Explanation
    ds.add_new(0x00282114, "CS", PLANTED["g0028_invalid_cs"])  # Lossy Compression Method
    block = ds.private_block(0x0009, "ACME 1.0", create=True)
    block.add_new(0x01, "LO", PLANTED["private_top"])
    private_item = Dataset()
    private_item.PatientName = PLANTED["private_seq"]
    block.add_new(0x02, "SQ", Sequence([private_item]))
    level3 = Dataset()
    level3.CodeValue = "T-D3000"
    level3.PatientName = PLANTED["level3"]
    level2 = Dataset()
    level2.CodeValue = "R-10206"
    level2.PatientID = PLANTED["level2"]
    level2.AnatomicRegionModifierSequence = Sequence([level3])
    level1 = Dataset()
    level1.CodeValue = "R-10214"
    level1.CodingSchemeDesignator = "SRT"
    level1.CodeMeaning = "postero-anterior"
    level1.PatientName = PLANTED["level1"]
    level1.LUTExplanation = PLANTED["level1_free_text"]
    level1.private_block(0x0011, "ACME 1.0", create=True).add_new(
        0x01, "LO", PLANTED["level1_private"]
    )
    level1.ViewModifierCodeSequence = Sequence([level2])
    ds.ViewCodeSequence = Sequence([level1])
    reference = Dataset()
    reference.ReferencedSOPInstanceUID = "1.2.3.4"
    reference.PatientName = PLANTED["unknown_seq"]
    ds.ReferencedStudySequence = Sequence([reference])
    ds.file_meta.ImplementationVersionName = PLANTED["meta"]
    buffer = io.BytesIO()
    ds.save_as(buffer)
    data = buffer.getvalue()
    for value in PLANTED.values():
        assert value.encode() in data, value
    return data


def _survivors(blob: bytes | str) -> list[str]:
    text = blob.decode("latin-1") if isinstance(blob, bytes) else blob
    return [value for value in PLANTED.values() if value in text]


def test_planted_phi_survives_nowhere(caplog, capfd):
    import io
    import logging

    data = _planted_dicom()
    capfd.readouterr()
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        radiograph = imaging.load(data, check=False)
        stored = imaging.deidentified_file(data)
    assert _survivors(stored) == []
    assert _survivors(str(radiograph.header) + str(radiograph.header.file_meta)) == []
    clean = pydicom.dcmread(io.BytesIO(stored))
    assert clean.ViewCodeSequence[0].CodeMeaning == "postero-anterior"  # codes are kept
    assert clean.ViewCodeSequence[0].ViewModifierCodeSequence[0].CodeValue == "R-10206"
    assert clean.pixel_array.shape == (1955, 1841)
    captured = capfd.readouterr()
    assert _survivors(caplog.text) == [] and _survivors(captured.err + captured.out) == []


def test_planted_phi_through_the_isolated_loader(caplog, capfd):
    import logging

    loader = imaging.IsolatedLoader(timeout_s=60, max_concurrent=1)
    data = _planted_dicom()
    capfd.readouterr()
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        _, stored, note = loader.load_for_storage(data, check=False)
    assert note == "kept" and _survivors(stored) == []
    captured = capfd.readouterr()
    assert _survivors(caplog.text + captured.err + captured.out) == []


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda ds: setattr(ds, "PatientName", "X"), r"element \(0010,0010\) PatientName is not"),
        (
            lambda ds: ds.private_block(0x0009, "ACME", create=True).add_new(0x01, "LO", "x"),
            r"element \(0009,0010\) \(private or unknown\) is not on the allowlist",
        ),
        (
            lambda ds: setattr(ds, "PatientIdentityRemoved", "NO"),
            r"Patient Identity Removed is not YES",
        ),
    ],
    ids=["name", "private", "not-removed"],
)
def test_stored_file_check_names_the_element(edit, message):
    import io

    ds = pydicom.dcmread(io.BytesIO(imaging.deidentified_file(_planted_dicom())))
    edit(ds)
    buffer = io.BytesIO()
    ds.save_as(buffer)
    with pytest.raises(imaging_errors().InvalidImageError, match=message):
        imaging.check_deidentified(buffer.getvalue())


def imaging_errors():
    import cxrpilot.errors

    return cxrpilot.errors


def _splice(keyword: str, placeholder: str, value: bytes) -> bytes:
    import io

    ds = pydicom.dcmread(get_testdata_file("RG1_UNCR.dcm"))
    setattr(ds, keyword, placeholder)
    buffer = io.BytesIO()
    ds.save_as(buffer)
    data = buffer.getvalue()
    assert placeholder.encode() in data
    return data.replace(placeholder.encode(), value, 1)


@pytest.mark.parametrize(
    "keyword, placeholder, value, message",
    [
        ("NumberOfFrames", "77777777", b"PHIFRAME", r"corrupt DICOM.* <bytes>.*'…'"),
        ("PixelSpacing", "7.7777\\7.7777", b"PHISPACE\\PHIXY", r"corrupt DICOM: <bytes>: .*'…'"),
    ],
    ids=["IS-in-0028", "DS"],
)
def test_malformed_values_are_refused_without_quoting_them(
    keyword, placeholder, value, message, caplog, capfd
):
    data = _splice(keyword, placeholder, value)
    caplog.clear()
    with pytest.raises(imaging_errors().InvalidImageError, match=message) as info:
        imaging.load(data, check=False)
    captured = capfd.readouterr()
    for planted in value.split(b"\\"):
        text = planted.decode()
        assert text not in str(info.value) and text not in caplog.text
        assert text not in captured.err + captured.out
