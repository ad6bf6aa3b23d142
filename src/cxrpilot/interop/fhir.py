"""FHIR R4 DiagnosticReport and Observation resources of a report (fhir.resources, R4B
models: R4B changed nothing in these two resources).

- :func:`signed_report` — the radiologist's report: ``final``, or ``amended`` for a later
  signed version; ``conclusion`` is the IMPRESSION, ``presentedForm`` the full text
  (base64, ``text/plain``), ``resultsInterpreter`` the signer by display name. An amendment
  says why in the :data:`AMENDMENT_REASON_URL` extension and at the end of its text (R4's
  DiagnosticReport has no ``note``).
- :func:`ai_draft_report` — the AI draft: ``preliminary``, tagged as AI-asserted, with one
  contained Observation per finding and the model as a contained Device (each Observation's
  ``device``). A finding the model did not assess is an Observation with a
  ``dataAbsentReason`` ("not-performed", text "not assessed") and no value: never absent.
- :func:`searchset` — a ``searchset`` Bundle of such resources.
- :func:`parse_report` — read a DiagnosticReport from JSON (validated by fhir.resources).
- :func:`capability_statement` — the server's CapabilityStatement (``/metadata``): what it
  serves, built from the same tables the server checks requests against.

Every report names its exam by identifiers only: the StudyInstanceUID as a logical
``imagingStudy`` reference (``urn:dicom:uid`` / ``urn:oid:...``), the accession number as
an identifier of type ACSN, and the subject as the pseudonymous patient key (a logical
Patient reference by identifier, never a name).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cxrpilot.draft import report_text as draft_report_text
from cxrpilot.errors import InvalidInputError

from ._codes import LOCAL_SYSTEM, SNOMED_SYSTEM, STATUS_CODES, finding_code

__all__ = [
    "ExamIds",
    "signed_report",
    "ai_draft_report",
    "searchset",
    "parse_report",
    "SearchParam",
    "capability_statement",
    "to_json",
    "report_text",
    "FHIR_JSON",
    "STATUSES",
    "PATIENT_KEY_SYSTEM",
    "ACCESSION_SYSTEM",
    "REPORT_SYSTEM",
    "AI_TAG",
    "AMENDMENT_REASON_URL",
    "amendment_reason",
]

FHIR_JSON = "application/fhir+json"
#: Identifier systems (a hospital maps these to its own in its FHIR server's configuration).
PATIENT_KEY_SYSTEM = "urn:cxrpilot:patient-key"
ACCESSION_SYSTEM = "urn:cxrpilot:accession"
REPORT_SYSTEM = "urn:cxrpilot:report"
DICOM_UID_SYSTEM = "urn:dicom:uid"
DCM_SYSTEM = "http://dicom.nema.org/resources/ontology/DCM"
LOINC = "http://loinc.org"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
#: HL7's security/tag code for content asserted by an artificial intelligence.
AI_TAG = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "AIAST",
    "display": "Artificial Intelligence asserted",
}
DRAFT_TAG = {
    "system": "urn:cxrpilot:tag",
    "code": "ai-draft",
    "display": "AI draft - requires review by a radiologist",
}
#: The DiagnosticReport statuses written here (AI drafts, signed and amended reports).
STATUSES = ("preliminary", "final", "amended")
#: The extension (valueString) that carries why a report version amends the previous one.
AMENDMENT_REASON_URL = "urn:cxrpilot:fhir:extension:amendment-reason"
AMENDMENT_HEADING = "REASON FOR AMENDMENT"
#: The FHIR version the resources follow: R4 (4.0.1). They are built and validated with
#: fhir.resources' R4B models, which are the same as R4's for every resource served here.
FHIR_VERSION = "4.0.1"
#: ``_format`` values (and MIME types) the server answers in: JSON only.
FORMATS = ("application/fhir+json", "json")
DIAGNOSTIC_REPORT_PROFILE = "http://hl7.org/fhir/StructureDefinition/DiagnosticReport"


@dataclass(frozen=True, slots=True)
class ExamIds:
    """How a report names its exam: StudyInstanceUID, accession, pseudonymous patient key
    (each may be unknown: ``None`` / "")."""

    study_instance_uid: str | None = None
    accession_number: str = ""
    patient_key: str = ""


def _code(system: str, code: str, display: str) -> dict[str, str]:
    return {"system": system, "code": code, "display": display}


def _common(
    resource_id: str,
    status: str,
    exam: ExamIds,
    *,
    issued: datetime,
    version: int,
    findings_text: str,
    impression_text: str,
    title: str,
    sections: dict[str, str] | None = None,
    amendment_reason: str = "",
) -> dict[str, Any]:
    if status not in STATUSES:
        raise InvalidInputError(
            f"report status {status!r} is not known; expected one of {', '.join(STATUSES)}"
        )
    if issued.tzinfo is None:
        raise InvalidInputError("issued must be timezone-aware")
    text = report_text(
        findings_text, impression_text, sections, amendment_reason=amendment_reason
    )
    identifiers: list[dict[str, Any]] = [{"system": REPORT_SYSTEM, "value": resource_id}]
    if exam.accession_number:
        identifiers.append(
            {
                "type": {"coding": [_code(V2_0203, "ACSN", "Accession ID")]},
                "system": ACCESSION_SYSTEM,
                "value": exam.accession_number,
            }
        )
    body: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "id": resource_id,
        "meta": {"versionId": str(version), "lastUpdated": issued.isoformat()},
        "identifier": identifiers,
        "status": status,
        "category": [{"coding": [_code(V2_0074, "RAD", "Radiology")]}],
        "code": {
            "coding": [_code(LOINC, "18748-4", "Diagnostic imaging study")],
            "text": "Chest radiograph report",
        },
        "issued": issued.isoformat(),
        "conclusion": impression_text,
        "presentedForm": [
            {
                "contentType": "text/plain; charset=utf-8",
                "language": "en",
                "data": base64.b64encode(text.encode("utf-8")).decode("ascii"),
                "title": title,
                "creation": issued.isoformat(),
            }
        ],
    }
    if exam.patient_key:
        body["subject"] = _subject(exam)
    if exam.study_instance_uid:
        body["imagingStudy"] = [
            {
                "identifier": {
                    "system": DICOM_UID_SYSTEM,
                    "value": f"urn:oid:{exam.study_instance_uid}",
                },
                "display": f"Study {exam.study_instance_uid}",
            }
        ]
    return body


def report_text(
    findings_text: str,
    impression_text: str,
    sections: dict[str, str] | None = None,
    *,
    amendment_reason: str = "",
) -> str:
    """The full report as plain text: the other sections that have text (INDICATION,
    TECHNIQUE, COMPARISON...), then FINDINGS and IMPRESSION, each under its heading, and
    last, for an amendment, REASON FOR AMENDMENT."""
    parts = [
        f"{name.upper()}: {value}" for name, value in (sections or {}).items() if value.strip()
    ]
    parts.append(draft_report_text(findings_text, impression_text))
    if amendment_reason.strip():
        parts.append(f"{AMENDMENT_HEADING}: {amendment_reason.strip()}")
    return "\n\n".join(parts)


def amendment_reason(report) -> str:
    """Why a DiagnosticReport amends its previous version ("" when it does not say)."""
    for ext in report.extension or ():
        if ext.url == AMENDMENT_REASON_URL:
            return ext.valueString or ""
    return ""


def _subject(exam: ExamIds) -> dict[str, Any]:
    return {
        "type": "Patient",
        "identifier": {"system": PATIENT_KEY_SYSTEM, "value": exam.patient_key},
    }


def signed_report(
    *,
    resource_id: str,
    status: str,
    exam: ExamIds,
    findings_text: str,
    impression_text: str,
    signer: str,
    signed_at: datetime,
    version: int = 1,
    sections: dict[str, str] | None = None,
    amendment_reason: str = "",
):
    """The signed report as a DiagnosticReport (``final``, or ``amended`` for a version
    after the first).

    Parameters
    ----------
    resource_id : str
        The resource's id (also an identifier in :data:`REPORT_SYSTEM`).
    status : {"final", "amended"}
    exam : ExamIds
    findings_text, impression_text : str
        As signed; ``conclusion`` is the impression, ``presentedForm`` both sections.
    signer : str
        The signing radiologist's display name (``resultsInterpreter``).
    signed_at : datetime
        Timezone-aware time of signature (``issued``).
    version : int
        The report version (``meta.versionId``).
    sections : dict of str to str, optional
        The other sections by name (``{"indication": ..., "technique": ...}``), in the
        order they are to appear in ``presentedForm`` before FINDINGS.
    amendment_reason : str
        Why an ``amended`` version amends the previous one: the extension
        :data:`AMENDMENT_REASON_URL` (``valueString``) and the last part of
        ``presentedForm``. Refused for a ``final`` report.

    Returns
    -------
    fhir.resources.R4B.diagnosticreport.DiagnosticReport

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> dr = signed_report(resource_id="report-1", status="final", exam=ExamIds("1.2.3"),
    ...     findings_text="Clear.", impression_text="Normal.", signer="Jane Smith",
    ...     signed_at=datetime(2026, 1, 2, tzinfo=UTC))
    >>> dr.status, dr.conclusion
    ('final', 'Normal.')
    """
    from fhir.resources.R4B.diagnosticreport import DiagnosticReport

    if status not in ("final", "amended"):
        raise InvalidInputError(
            f"a signed report is final or amended, not {status!r} (the AI draft is preliminary)"
        )
    if not signer.strip():
        raise InvalidInputError("a signed report needs its signer's name")
    reason = amendment_reason.strip()
    if reason and status != "amended":
        raise InvalidInputError(
            f"an amendment reason belongs to an amended report, not a {status} one"
        )
    body = _common(
        resource_id,
        status,
        exam,
        issued=signed_at,
        version=version,
        findings_text=findings_text,
        impression_text=impression_text,
        title=f"Chest radiograph report ({status})",
        sections=sections,
        amendment_reason=reason,
    )
    if reason:
        body["extension"] = [{"url": AMENDMENT_REASON_URL, "valueString": reason}]
    body["resultsInterpreter"] = [{"type": "Practitioner", "display": signer}]
    return DiagnosticReport.model_validate(body)


def ai_draft_report(
    *,
    resource_id: str,
    exam: ExamIds,
    findings: Iterable,
    findings_text: str,
    impression_text: str,
    model_id: str,
    model_version: str,
    drafted_at: datetime,
):
    """The AI draft as a ``preliminary`` DiagnosticReport with its findings.

    Parameters
    ----------
    findings : iterable of cxrpilot.draft.Finding (or dicts with name/status/probability)
        All the model's findings; each becomes a contained Observation (``preliminary``,
        ``device`` = the model). Present / absent / uncertain are SNOMED CT values with the
        probability as a component; *not assessed* has no value but a ``dataAbsentReason``.
    model_id, model_version : str
        The model (a contained Device).

    Returns
    -------
    fhir.resources.R4B.diagnosticreport.DiagnosticReport
        Tagged ``AIAST`` (AI asserted) and ``ai-draft``; its text is the draft's.
    """
    from fhir.resources.R4B.diagnosticreport import DiagnosticReport

    from cxrpilot.vocabulary import Status

    if not model_id:
        raise InvalidInputError("model_id is empty; an AI draft must name its model")
    body = _common(
        resource_id,
        "preliminary",
        exam,
        issued=drafted_at,
        version=1,
        findings_text=findings_text,
        impression_text=impression_text,
        title="AI draft - requires review by a radiologist",
    )
    body["meta"]["tag"] = [AI_TAG, DRAFT_TAG]
    device = {
        "resourceType": "Device",
        "id": "model",
        "manufacturer": "cxrpilot",
        "deviceName": [{"name": model_id, "type": "model-name"}],
        "version": [{"value": model_version or "unknown"}],
        "type": {"text": "AI model (chest radiograph findings and report draft)"},
    }
    contained: list[dict[str, Any]] = [device]
    results = []
    seen = set()
    for f in findings:
        if isinstance(f, dict):
            name, status, p = f["name"], Status(f["status"]), f.get("probability")
        else:
            name, status, p = f.name, Status(f.status), f.probability
        if name in seen:
            raise InvalidInputError(f"finding {name!r} given twice")
        seen.add(name)
        obs = _observation(name, status, p, exam, drafted_at)
        contained.append(obs)
        results.append({"reference": f"#{obs['id']}", "display": name})
    body["contained"] = contained
    body["result"] = results
    return DiagnosticReport.model_validate(body)


def _observation(name: str, status, probability, exam: ExamIds, when: datetime) -> dict:
    from cxrpilot.vocabulary import Status

    code = finding_code(name)
    coding = [_code(LOCAL_SYSTEM, code.local, name)]
    if code.snomed is not None:
        coding.append(_code(SNOMED_SYSTEM, code.snomed[0], code.snomed[1]))
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": "finding-" + code.local.lower().replace("_", "-"),
        "status": "preliminary",
        "category": [{"coding": [_code(OBS_CATEGORY, "imaging", "Imaging")]}],
        "code": {"coding": coding, "text": name},
        "issued": when.isoformat(),
        "device": {"reference": "#model"},
        "meta": {"tag": [AI_TAG]},
    }
    if exam.patient_key:
        obs["subject"] = _subject(exam)
    if status is Status.NOT_ASSESSED:
        obs["dataAbsentReason"] = {
            "coding": [_code(DATA_ABSENT, "not-performed", "Not Performed")],
            "text": "not assessed",
        }
        return obs
    value, meaning = STATUS_CODES[status]
    obs["valueCodeableConcept"] = {
        "coding": [_code(SNOMED_SYSTEM, value, meaning)],
        "text": status.label,
    }
    if probability is not None:
        p = float(probability)
        if not 0.0 <= p <= 1.0:
            raise InvalidInputError(f"probability of {name!r} must be in [0, 1], got {p!r}")
        obs["component"] = [
            {
                "code": {"coding": [_code(DCM_SYSTEM, "122157", "Probability")],
                         "text": "probability"},
                "valueQuantity": {
                    "value": round(p, 6),
                    "unit": "1",
                    "system": "http://unitsofmeasure.org",
                    "code": "1",
                },
            }
        ]
    return obs


def searchset(resources: Sequence, *, base_url: str, self_url: str, total: int | None = None):
    """A ``searchset`` Bundle of DiagnosticReports (``fullUrl`` under ``base_url``)."""
    from fhir.resources.R4B.bundle import Bundle

    base = base_url.rstrip("/")
    return Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(resources) if total is None else total,
            "link": [{"relation": "self", "url": self_url}],
            "entry": [
                {
                    "fullUrl": f"{base}/DiagnosticReport/{r.id}",
                    "resource": r,
                    "search": {"mode": "match"},
                }
                for r in resources
            ],
        }
    )


@dataclass(frozen=True, slots=True)
class SearchParam:
    """One search parameter a server supports: FHIR name, type (``token``, ``reference``,
    ``number``...), what it matches, and its canonical definition when it is FHIR's own."""

    name: str
    type: str
    documentation: str
    definition: str | None = None


def capability_statement(
    *,
    base_url: str,
    software_version: str,
    date: datetime,
    interactions: Sequence[str],
    search_params: Sequence[SearchParam],
    security: str,
):
    """The CapabilityStatement of a read-only DiagnosticReport server.

    Parameters
    ----------
    base_url : str
        The server's FHIR base (``implementation.url``).
    software_version : str
        cxrpilot's version (``software.version``).
    date : datetime
        When this statement last changed (timezone-aware).
    interactions : sequence of str
        DiagnosticReport's type-level and instance-level interactions (``read``,
        ``vread``, ``search-type``...).
    search_params : sequence of SearchParam
        Every search parameter the server accepts, and no other.
    security : str
        How clients authenticate (``rest.security.description``).

    Returns
    -------
    fhir.resources.R4B.capabilitystatement.CapabilityStatement
        ``kind`` instance, ``fhirVersion`` :data:`FHIR_VERSION`, ``format``
        :data:`FORMATS`.
    """
    from fhir.resources.R4B.capabilitystatement import CapabilityStatement

    if date.tzinfo is None:
        raise InvalidInputError("date must be timezone-aware")
    resource = {
        "type": "DiagnosticReport",
        "profile": DIAGNOSTIC_REPORT_PROFILE,
        "documentation": (
            "Chest radiograph reports: report-{read} (final, then amended; each signed "
            "version readable by vread) and ai-draft-{draft} (preliminary, AI asserted)."
        ),
        "interaction": [{"code": code} for code in interactions],
        "versioning": "versioned",
        "readHistory": "vread" in interactions,
        "updateCreate": False,
        "conditionalCreate": False,
        "conditionalRead": "not-supported",
        "conditionalUpdate": False,
        "conditionalDelete": "not-supported",
        "searchParam": [
            {
                "name": p.name,
                "type": p.type,
                "documentation": p.documentation,
                **({"definition": p.definition} if p.definition else {}),
            }
            for p in search_params
        ],
    }
    return CapabilityStatement.model_validate(
        {
            "resourceType": "CapabilityStatement",
            "id": "cxrpilot",
            "name": "CxrpilotReports",
            "title": "cxrpilot chest radiograph reports",
            "status": "active",
            "experimental": False,
            "date": date.isoformat(),
            "publisher": "cxrpilot",
            "kind": "instance",
            "software": {"name": "cxrpilot", "version": software_version},
            "implementation": {
                "description": "cxrpilot workstation: signed reports and AI drafts, read-only",
                "url": base_url,
            },
            "fhirVersion": FHIR_VERSION,
            "format": list(FORMATS),
            "rest": [
                {
                    "mode": "server",
                    "documentation": "Read-only: no create, update, delete or history listing.",
                    "security": {"description": security},
                    "resource": [resource],
                }
            ],
        }
    )


def to_json(resource) -> str:
    """FHIR JSON of a resource (no nulls)."""
    return resource.model_dump_json(by_alias=True, exclude_none=True)


def parse_report(data: str | bytes):
    """A DiagnosticReport from FHIR JSON, validated by fhir.resources.

    Raises
    ------
    InvalidInputError
        Not JSON, not a DiagnosticReport, or not valid (the first problems are named).
    """
    import json

    from fhir.resources.R4B.diagnosticreport import DiagnosticReport
    from pydantic import ValidationError

    try:
        body = json.loads(data)
    except ValueError as exc:
        raise InvalidInputError(f"not JSON: {exc}") from exc
    if not isinstance(body, dict) or body.get("resourceType") != "DiagnosticReport":
        kind = body.get("resourceType") if isinstance(body, dict) else type(body).__name__
        raise InvalidInputError(f"expected a DiagnosticReport, got {kind!r}")
    try:
        return DiagnosticReport.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise InvalidInputError(f"not a valid DiagnosticReport: {problems}") from exc
