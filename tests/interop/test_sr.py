"""DICOM SR of the signed report (TID 2000) and of the AI findings (TID 1500): written by
highdicom from real DICOM headers, read back with pydicom, checked by DCMTK's dsrdump."""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import UTC, datetime

import pydicom
import pytest

from cxrpilot.draft import Finding, apply_no_finding_rule
from cxrpilot.errors import InvalidInputError
from cxrpilot.interop import sr

SIGNED = datetime(2026, 11, 30, 14, 5, 6, tzinfo=UTC)


def _exam(path, **kw) -> sr.ExamRef:
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    return sr.ExamRef(str(ds.StudyInstanceUID), (sr.SourceImage.from_dataset(ds),), **kw)


@pytest.fixture(params=["RG1_UNCR", "highdicom_dx_image.dcm"])
def real_header(request, rg1_uncr, shared_data):
    """A real radiograph's header: pydicom-data's RG1 (CR) and the shared data's DX."""
    if request.param == "RG1_UNCR":
        return rg1_uncr
    path = shared_data / "dicom" / request.param
    if not path.exists():
        pytest.skip(f"{path} is not in the shared data")
    return path


def _final(text="Heart size is enlarged. Lungs clear.", impression="Cardiomegaly.", **kw):
    values = dict(status="final", signer="Jane Smith", signed_at=SIGNED)
    values.update(kw)
    return sr.ReportContent(text, impression, **values)


def test_report_round_trip_from_real_header(real_header):
    ds = pydicom.dcmread(real_header, stop_before_pixels=True)
    exam = _exam(real_header, accession_number="A123", patient_key="pk-7f3a", patient_sex="F")
    data = sr.to_bytes(sr.report_sr(_final(), exam, sop_instance_uid="2.25.1001"))
    back = sr.read_sr(data)
    assert back.sop_class_uid == sr.ENHANCED_SR
    assert back.sop_instance_uid == "2.25.1001"
    assert back.template == "2000"
    assert back.study_instance_uid == str(ds.StudyInstanceUID)
    assert back.accession_number == "A123"
    assert back.patient_id == "pk-7f3a" and back.patient_name == ""
    assert back.findings == ("Heart size is enlarged. Lungs clear.",)
    assert back.impressions == ("Cardiomegaly.",)
    assert back.person_observers == ("Smith^Jane",) == back.verifying_observers
    assert (back.completion, back.verification, back.preliminary) == (
        "COMPLETE",
        "VERIFIED",
        "FINAL",
    )
    assert back.evidence_sop_instance_uids == (str(ds.SOPInstanceUID),)
    assert back.image_sop_instance_uids == (str(ds.SOPInstanceUID),)
    assert back.predecessor_sop_instance_uids == ()
    raw = pydicom.dcmread(io.BytesIO(data))
    assert raw.Modality == "SR" and raw.SeriesNumber == sr.REPORT_SERIES_NUMBER
    ref = raw.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert ref.SeriesInstanceUID == ds.SeriesInstanceUID
    assert ref.ReferencedSOPSequence[0].ReferencedSOPClassUID == ds.SOPClassUID
    assert raw.VerifyingObserverSequence[0].VerificationDateTime.startswith("20261130140506")
    assert raw.ContentDate == "20261130"


def test_amendment_lists_its_predecessor(rg1_uncr):
    exam = _exam(rg1_uncr)
    first = sr.report_sr(_final(), exam, sop_instance_uid="2.25.2001")
    amended = sr.report_sr(
        _final(impression="Mild cardiomegaly.", status="amended", version=2,
               predecessor=sr.sr_ref(first), amendment_reason="Wrong side:\nleft, not right."),
        exam,
        sop_instance_uid="2.25.2002",
    )
    back = sr.read_sr(sr.to_bytes(amended))
    assert back.predecessor_sop_instance_uids == ("2.25.2001",)
    assert back.amendment_reason == "Wrong side:\nleft, not right."
    assert back.sections["Addendum"] == ("Reason for amendment: Wrong side:\nleft, not right.",)
    # the reason is the last section, a TEXT Comment (DCM 121106) under Addendum (DCM 121078)
    last = amended.ContentSequence[-1]
    assert last.ConceptNameCodeSequence[0].CodeValue == "121078"
    assert last.ContentSequence[0].ConceptNameCodeSequence[0].CodeValue == "121106"
    assert sr.read_sr(sr.to_bytes(first)).amendment_reason == ""
    assert "Addendum" not in sr.read_sr(sr.to_bytes(first)).sections
    assert back.impressions == ("Mild cardiomegaly.",)
    assert back.preliminary == "FINAL" and back.verification == "VERIFIED"
    assert amended.InstanceNumber == 2
    assert amended.SeriesInstanceUID == first.SeriesInstanceUID  # one series per study


def test_preliminary_report_is_unverified(rg1_uncr):
    rep = sr.ReportContent("Lungs clear.", "Normal.", status="preliminary")
    back = sr.read_sr(sr.report_sr(rep, _exam(rg1_uncr), sop_instance_uid="2.25.3001"))
    assert (back.completion, back.verification, back.preliminary) == (
        "PARTIAL",
        "UNVERIFIED",
        "PRELIMINARY",
    )
    assert back.verifying_observers == ()


def test_non_ascii_and_long_text_survive(rg1_uncr):
    text = ("Épanchement pleural droit; kein Pneumothorax.\n" * 300).rstrip()
    back = sr.read_sr(
        sr.to_bytes(sr.report_sr(_final(text=text), _exam(rg1_uncr), sop_instance_uid="2.25.4"))
    )
    assert back.findings == (text,)


def test_other_sections_under_their_headings(rg1_uncr):
    rep = _final(indication_text="Cough, fever.", technique_text="PA chest.",
                 comparison_text="None.")
    back = sr.read_sr(sr.report_sr(rep, _exam(rg1_uncr), sop_instance_uid="2.25.11"))
    assert back.sections == {
        "Indications for Procedure": ("Cough, fever.",),
        "Current Procedure Descriptions": ("PA chest.",),
        "Prior Procedure Descriptions": ("None.",),
        "Findings": ("Heart size is enlarged. Lungs clear.",),
        "Impressions": ("Cardiomegaly.",),
    }
    assert list(back.sections)[-2:] == ["Findings", "Impressions"]


def test_empty_impression_is_left_out_not_written_empty(rg1_uncr):
    back = sr.read_sr(
        sr.report_sr(_final(impression=""), _exam(rg1_uncr), sop_instance_uid="2.25.5")
    )
    assert back.impressions == () and back.findings


FINDINGS = [
    Finding("Cardiomegaly", "present", 0.81),
    Finding("Pleural Effusion", "absent", 0.04),
    Finding("Pneumothorax", "uncertain", 0.45),
    Finding("Support Devices", "present", None),
]


def test_ai_findings_round_trip(real_header):
    ds = pydicom.dcmread(real_header, stop_before_pixels=True)
    doc = sr.ai_findings_sr(
        apply_no_finding_rule(FINDINGS),
        _exam(real_header),
        model_id="expert-resnet10-res224-cxr4",
        model_version="2.0.0",
        created_at=SIGNED,
        sop_instance_uid="2.25.6001",
    )
    back = sr.read_sr(sr.to_bytes(doc))
    assert back.sop_class_uid == sr.COMPREHENSIVE_SR and back.template == "1500"
    assert back.device_observers == ("expert-resnet10-res224-cxr4",)
    assert back.person_observers == () and back.verifying_observers == ()
    assert (back.verification, back.preliminary) == ("UNVERIFIED", "PRELIMINARY")
    assert "AI" in back.series_description and "not reviewed" in back.series_description
    got = {e[0]: e[1:] for e in back.evaluations}
    model = ("expert-resnet10-res224-cxr4", "2.0.0")
    assert got == {
        "Cardiomegaly": ("Present", 0.81, *model),
        "Pleural Effusion": ("Absent", 0.04, *model),
        "Pneumothorax": ("Indeterminate", 0.45, *model),
        "Support Devices": ("Present", None, *model),
        # the No Finding rule: absent, since a finding is present
        "No Finding": ("Absent", None, *model),
    }
    assert back.evidence_sop_instance_uids == (str(ds.SOPInstanceUID),)
    assert str(ds.SOPInstanceUID) in back.image_sop_instance_uids


def test_not_assessed_findings_are_not_stated_absent(rg1_uncr):
    only = [Finding("Cardiomegaly", "absent", 0.1)]  # the other 13 are not assessed
    doc = sr.ai_findings_sr(
        only, _exam(rg1_uncr), model_id="m", model_version="1", created_at=SIGNED,
        sop_instance_uid="2.25.7",
    )
    assert [e[:2] for e in sr.read_sr(doc).evaluations] == [("Cardiomegaly", "Absent")]
    raw = sr.to_bytes(doc)
    assert b"Pneumothorax" not in raw and b"PNEUMOTHORAX" not in raw


def test_a_model_that_assessed_nothing_has_nothing_to_report(rg1_uncr):
    with pytest.raises(InvalidInputError, match="assessed none of the findings"):
        sr.ai_findings_sr(
            apply_no_finding_rule([]), _exam(rg1_uncr), model_id="m", model_version="1",
            created_at=SIGNED, sop_instance_uid="2.25.7",
        )


def test_snomed_where_the_dicom_dictionary_has_it_local_code_otherwise(rg1_uncr):
    doc = sr.ai_findings_sr(
        FINDINGS, _exam(rg1_uncr), model_id="m", model_version="1", created_at=SIGNED,
        sop_instance_uid="2.25.8",
    )
    codes = {}
    from cxrpilot.interop._sr_read import _walk

    for item in _walk(doc.ContentSequence):
        if item.get("ValueType") == "CODE" and item.ConceptCodeSequence[0].CodeValue in (
            "52101004", "272519000", "82334004"
        ):
            c = item.ConceptNameCodeSequence[0]
            codes[str(c.CodeMeaning)] = (str(c.CodingSchemeDesignator), str(c.CodeValue))
    assert codes["Cardiomegaly"] == ("SCT", "287272002")
    assert codes["Support Devices"] == ("99CXRPILOT", "SUPPORT_DEVICES")
    assert doc.CodingSchemeIdentificationSequence[0].CodingSchemeDesignator == "99CXRPILOT"


@pytest.mark.parametrize("kind", ["report", "ai"])
def test_dcmtk_reads_the_documents(kind, rg1_uncr, tmp_path):
    """DCMTK's dsrdump, an independent SR parser, reads both documents without an error."""
    dsrdump = shutil.which("dsrdump")
    if dsrdump is None:
        pytest.skip("dsrdump not found: apt-get install -y dcmtk (.ci/run does)")
    exam = _exam(rg1_uncr)
    amended = _final(status="amended", version=2, amendment_reason="laterality",
                     predecessor=sr.SrRef(exam.study_instance_uid, "2.25.7", "2.25.8"))
    doc = (
        sr.report_sr(amended, exam, sop_instance_uid="2.25.9")
        if kind == "report"
        else sr.ai_findings_sr(FINDINGS, exam, model_id="m", model_version="1",
                               created_at=SIGNED, sop_instance_uid="2.25.10")
    )
    path = tmp_path / "doc.dcm"
    path.write_bytes(sr.to_bytes(doc))
    out = subprocess.run([dsrdump, "-Ec", str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert not [line for line in out.stderr.splitlines() if line.startswith("E:")], out.stderr
    expected = "Diagnostic Imaging Report" if kind == "report" else "Imaging Measurement Report"
    assert expected in out.stdout
    if kind == "report":
        assert '(,,"Addendum")' in out.stdout and '"Reason for amendment: ' in out.stdout


@pytest.mark.parametrize(
    "display, pn",
    [
        ("Jane Smith", "Smith^Jane"),
        ("Jean-Luc  van der Berg", "Berg^Jean-Luc van der"),
        ("jsmith", "jsmith^"),
        ("Smith^Jane", "Smith^Jane"),
    ],
)
def test_person_name(display, pn):
    assert sr.person_name(display) == pn


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: sr.ReportContent("a", "b", status="final"), "needs its signer"),
        (
            lambda: sr.ReportContent("a", "b", status="amended", signer="J S", signed_at=SIGNED),
            "needs the SR it amends",
        ),
        (lambda: sr.ReportContent(" ", "", status="preliminary"), "the report is empty"),
        (
            lambda: sr.ReportContent("a", "b", signer="J S", signed_at=SIGNED,
                                     amendment_reason="typo"),
            "after the first; got a final report at version 1",
        ),
        (lambda: sr.ReportContent("a", "b", status="draft"), "status 'draft' is not known"),
        (
            lambda: sr.ReportContent("a", "b", signer="J S", signed_at=datetime(2026, 1, 1)),
            "timezone-aware",
        ),
        (lambda: sr.ExamRef("", (sr.SourceImage("1", "2", "3"),)), "no StudyInstanceUID"),
        (lambda: sr.ExamRef("1.2", ()), "no source image"),
        (
            lambda: sr.ExamRef("1.2", (sr.SourceImage("1", "2", "3"),), accession_number="A" * 17),
            "at most 16",
        ),
        (lambda: sr.person_name("  "), "has no name"),
    ],
)
def test_bad_input_is_a_clear_error(make, message):
    with pytest.raises(InvalidInputError, match=message):
        make()


def test_image_without_uids_is_refused():
    with pytest.raises(InvalidInputError, match="lacks SOPClassUID"):
        sr.SourceImage.from_dataset(pydicom.Dataset())


def test_read_sr_refuses_an_image(rg1_uncr):
    with pytest.raises(InvalidInputError, match="not a DICOM SR document"):
        sr.read_sr(rg1_uncr.read_bytes())
    with pytest.raises(InvalidInputError, match="not a DICOM file"):
        sr.read_sr(b"not dicom at all")
