"""FHIR R4 DiagnosticReport/Observation resources: built, validated by fhir.resources,
round-tripped through JSON; not assessed is never absent; no name in the subject."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from cxrpilot.draft import Finding, apply_no_finding_rule
from cxrpilot.errors import InvalidInputError
from cxrpilot.interop import fhir

WHEN = datetime(2026, 11, 30, 14, 5, 6, tzinfo=UTC)
EXAM = fhir.ExamIds("1.3.6.1.4.1.5962.1.2.9.20040826185059.5457", "A123", "pk-7f3a")


def _signed(**kw):
    values = dict(
        resource_id="report-7",
        status="final",
        exam=EXAM,
        findings_text="Heart enlarged.",
        impression_text="Cardiomegaly.",
        signer="Jane Smith",
        signed_at=WHEN,
    )
    values.update(kw)
    return fhir.signed_report(**values)


def _ai(findings):
    return fhir.ai_draft_report(
        resource_id="ai-draft-3",
        exam=EXAM,
        findings=findings,
        findings_text="The heart is enlarged.",
        impression_text="Cardiomegaly.",
        model_id="expert-resnet10-res224-cxr4",
        model_version="2.0.0",
        drafted_at=WHEN,
    )


def test_amendment_reason_is_an_extension_and_in_the_text():
    dr = _signed(status="amended", version=2, amendment_reason=" Wrong side. ")
    back = fhir.parse_report(fhir.to_json(dr))
    assert back.status == "amended" and fhir.amendment_reason(back) == "Wrong side."
    body = json.loads(fhir.to_json(back))
    assert body["extension"] == [{"url": fhir.AMENDMENT_REASON_URL, "valueString": "Wrong side."}]
    text = base64.b64decode(body["presentedForm"][0]["data"]).decode()
    assert text.endswith("IMPRESSION: Cardiomegaly.\n\nREASON FOR AMENDMENT: Wrong side.")
    assert fhir.amendment_reason(_signed()) == ""
    assert "extension" not in json.loads(fhir.to_json(_signed(status="amended", version=2)))


@pytest.mark.parametrize("status, version", [("final", 1), ("amended", 2)])
def test_signed_report_round_trips(status, version):
    dr = _signed(status=status, version=version, sections={"indication": "Cough."})
    text = fhir.to_json(dr)
    back = fhir.parse_report(text)
    assert back == dr and fhir.to_json(back) == text
    body = json.loads(text)
    assert body["status"] == status and body["meta"]["versionId"] == str(version)
    assert body["conclusion"] == "Cardiomegaly."
    form = body["presentedForm"][0]
    assert form["contentType"].startswith("text/plain")
    assert base64.b64decode(form["data"]).decode() == (
        "INDICATION: Cough.\n\nFINDINGS: Heart enlarged.\n\nIMPRESSION: Cardiomegaly."
    )
    assert body["imagingStudy"][0]["identifier"] == {
        "system": "urn:dicom:uid",
        "value": f"urn:oid:{EXAM.study_instance_uid}",
    }
    acsn = [i for i in body["identifier"] if i.get("type")]
    assert acsn[0]["value"] == "A123" and acsn[0]["type"]["coding"][0]["code"] == "ACSN"
    assert body["subject"] == {
        "type": "Patient",
        "identifier": {"system": fhir.PATIENT_KEY_SYSTEM, "value": "pk-7f3a"},
    }
    assert body["resultsInterpreter"] == [{"type": "Practitioner", "display": "Jane Smith"}]
    assert "contained" not in body and "result" not in body


def test_ai_draft_is_preliminary_tagged_and_has_a_device():
    dr = _ai(apply_no_finding_rule([Finding("Cardiomegaly", "present", 0.81),
                                    Finding("Pleural Effusion", "absent", 0.04),
                                    Finding("Pneumothorax", "uncertain", 0.45)]))
    body = json.loads(fhir.to_json(dr))
    assert fhir.parse_report(fhir.to_json(dr)) == dr
    assert body["status"] == "preliminary"
    assert fhir.AI_TAG in body["meta"]["tag"]
    assert "requires review" in body["presentedForm"][0]["title"]
    device, *observations = body["contained"]
    assert device["resourceType"] == "Device"
    assert device["deviceName"] == [{"name": "expert-resnet10-res224-cxr4", "type": "model-name"}]
    assert device["version"] == [{"value": "2.0.0"}]
    assert len(observations) == 14 == len(body["result"])
    by_name = {o["code"]["text"]: o for o in observations}
    assert {o["device"]["reference"] for o in observations} == {"#model"}
    assert {o["status"] for o in observations} == {"preliminary"}
    cardio = by_name["Cardiomegaly"]
    assert cardio["valueCodeableConcept"]["coding"][0]["code"] == "52101004"
    assert cardio["component"][0]["valueQuantity"]["value"] == 0.81
    assert {"system": "http://snomed.info/sct", "code": "287272002",
            "display": "Cardiomegaly"} in cardio["code"]["coding"]
    assert by_name["Pleural Effusion"]["valueCodeableConcept"]["text"] == "absent"
    assert by_name["Pneumothorax"]["valueCodeableConcept"]["text"] == "uncertain"


def test_not_assessed_is_data_absent_never_absent():
    dr = _ai(apply_no_finding_rule([Finding("Cardiomegaly", "absent", 0.1)]))
    observations = json.loads(fhir.to_json(dr))["contained"][1:]
    by_name = {o["code"]["text"]: o for o in observations}
    assert "valueCodeableConcept" in by_name["Cardiomegaly"]
    silent = [o for name, o in by_name.items() if name != "Cardiomegaly"]
    assert len(silent) == 13  # No Finding included: not every critical finding is assessed
    for o in silent:
        assert "valueCodeableConcept" not in o and "component" not in o
        assert o["dataAbsentReason"]["coding"][0]["code"] == "not-performed"
        assert o["dataAbsentReason"]["text"] == "not assessed"


def test_no_patient_key_no_subject_and_never_a_name():
    dr = _signed(exam=fhir.ExamIds("1.2.3"))
    body = json.loads(fhir.to_json(dr))
    assert "subject" not in body
    assert "name" not in json.dumps(body).lower().replace("devicename", "")


def test_searchset_bundle_validates():
    bundle = fhir.searchset(
        [_signed(), _ai([])], base_url="https://ws.example/fhir/",
        self_url="https://ws.example/fhir/DiagnosticReport?status=final",
    )
    body = json.loads(fhir.to_json(bundle))
    assert body["type"] == "searchset" and body["total"] == 2
    assert [e["fullUrl"] for e in body["entry"]] == [
        "https://ws.example/fhir/DiagnosticReport/report-7",
        "https://ws.example/fhir/DiagnosticReport/ai-draft-3",
    ]
    from fhir.resources.R4B.bundle import Bundle

    assert Bundle.model_validate_json(fhir.to_json(bundle)).entry[0].resource.status == "final"


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: _signed(status="preliminary"), "final or amended, not 'preliminary'"),
        (lambda: _signed(amendment_reason="typo"), "belongs to an amended report, not a final"),
        (lambda: _signed(signer=" "), "needs its signer"),
        (lambda: _signed(signed_at=datetime(2026, 1, 1)), "timezone-aware"),
        (lambda: _ai([Finding("Edema", "absent", 0.1), Finding("Edema", "absent", 0.2)]),
         "given twice"),
        (lambda: _ai([{"name": "Edema", "status": "present", "probability": 1.5}]),
         r"must be in \[0, 1\]"),
        (lambda: _ai([{"name": "Broken Heart", "status": "present"}]), "Broken Heart"),
    ],
)
def test_bad_input_is_a_clear_error(make, message):
    with pytest.raises((InvalidInputError, ValueError), match=message):
        make()


@pytest.mark.parametrize(
    "text, message",
    [
        ("{", "not JSON"),
        ('{"resourceType": "Patient"}', "expected a DiagnosticReport, got 'Patient'"),
        ('{"resourceType": "DiagnosticReport", "status": "final"}', "code: Field required"),
        ("[]", "got 'list'"),
    ],
)
def test_parse_report_names_the_problem(text, message):
    with pytest.raises(InvalidInputError, match=message):
        fhir.parse_report(text)
