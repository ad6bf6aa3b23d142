"""Reading either SR document back (see :mod:`.sr`)."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from cxrpilot.errors import InvalidInputError

from ._codes import STATUS_CODES
from ._sr_report import AMENDMENT_PREFIX


@dataclass(frozen=True)
class SrSummary:
    """What :func:`read_sr` finds in an SR document."""

    sop_class_uid: str
    sop_instance_uid: str
    series_instance_uid: str
    study_instance_uid: str
    accession_number: str
    patient_id: str
    patient_name: str
    series_description: str
    template: str | None
    completion: str
    verification: str
    preliminary: str
    verifying_observers: tuple[str, ...]
    person_observers: tuple[str, ...]
    device_observers: tuple[str, ...]
    findings: tuple[str, ...]
    impressions: tuple[str, ...]
    #: Text of every section by heading meaning ("Findings", "Indications for Procedure"...)
    sections: dict[str, tuple[str, ...]]
    evidence_sop_instance_uids: tuple[str, ...]
    image_sop_instance_uids: tuple[str, ...]
    predecessor_sop_instance_uids: tuple[str, ...]
    #: (finding name, status meaning, probability or None, algorithm name, algorithm version)
    evaluations: tuple[tuple[str, str, float | None, str, str], ...] = field(default=())
    #: Why this version amends an earlier one ("" when it does not say).
    amendment_reason: str = ""


def _walk(items: Sequence) -> Iterator:
    for item in items or ():
        yield item
        yield from _walk(item.get("ContentSequence", ()))


def _concept(item) -> tuple[str, str]:
    seq = item.get("ConceptNameCodeSequence")
    return (str(seq[0].CodeValue), str(seq[0].CodeMeaning)) if seq else ("", "")


def _refs(seq: Sequence | None) -> tuple[str, ...]:
    out = []
    for study in seq or ():
        for series in study.get("ReferencedSeriesSequence", ()):
            out.extend(
                str(i.ReferencedSOPInstanceUID) for i in series.get("ReferencedSOPSequence", ())
            )
    return tuple(out)


def read_sr(data: bytes | object) -> SrSummary:
    """Read an SR document (bytes of a DICOM file, or a Dataset) into an :class:`SrSummary`.

    Raises
    ------
    InvalidInputError
        ``data`` is not a DICOM SR document.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    if isinstance(data, bytes | bytearray):
        try:
            ds = pydicom.dcmread(io.BytesIO(bytes(data)))
        except (InvalidDicomError, EOFError, ValueError) as exc:
            raise InvalidInputError(f"not a DICOM file: {exc}") from exc
    else:
        ds = data
    if ds.get("Modality") != "SR" or "ContentSequence" not in ds:
        raise InvalidInputError(
            f"not a DICOM SR document (Modality {ds.get('Modality')!r}, no content tree)"
        )
    findings, impressions, people, devices, images = [], [], [], [], []
    evaluations = []
    sections: dict[str, tuple[str, ...]] = {}
    for item in ds.ContentSequence:
        if item.get("ValueType") == "CONTAINER":
            texts = tuple(
                str(i.TextValue) for i in item.get("ContentSequence", ())
                if i.get("ValueType") == "TEXT"
            )
            if texts:
                sections[_concept(item)[1]] = texts
    for item in _walk(ds.ContentSequence):
        code, _meaning = _concept(item)
        vt = item.get("ValueType")
        if vt == "TEXT" and code == "121071":
            findings.append(str(item.TextValue))
        elif vt == "TEXT" and code == "121073":
            impressions.append(str(item.TextValue))
        elif vt == "PNAME" and code == "121008":
            people.append(str(item.PersonName))
        elif vt == "TEXT" and code == "121013":  # Device Observer Name
            devices.append(str(item.TextValue))
        elif vt == "IMAGE":
            images.extend(str(r.ReferencedSOPInstanceUID) for r in item.ReferencedSOPSequence)
        elif vt == "CONTAINER" and code == "125007":  # Measurement Group
            evaluations.append(_evaluation(item))
    template = None
    if "ContentTemplateSequence" in ds:
        template = str(ds.ContentTemplateSequence[0].TemplateIdentifier)
    return SrSummary(
        sop_class_uid=str(ds.SOPClassUID),
        sop_instance_uid=str(ds.SOPInstanceUID),
        series_instance_uid=str(ds.SeriesInstanceUID),
        study_instance_uid=str(ds.StudyInstanceUID),
        accession_number=str(ds.get("AccessionNumber", "") or ""),
        patient_id=str(ds.get("PatientID", "") or ""),
        patient_name=str(ds.get("PatientName", "") or ""),
        series_description=str(ds.get("SeriesDescription", "") or ""),
        template=template,
        completion=str(ds.get("CompletionFlag", "")),
        verification=str(ds.get("VerificationFlag", "")),
        preliminary=str(ds.get("PreliminaryFlag", "")),
        verifying_observers=tuple(
            str(o.VerifyingObserverName) for o in ds.get("VerifyingObserverSequence", ())
        ),
        person_observers=tuple(people),
        device_observers=tuple(devices),
        findings=tuple(findings),
        impressions=tuple(impressions),
        sections=sections,
        evidence_sop_instance_uids=_refs(ds.get("CurrentRequestedProcedureEvidenceSequence")),
        image_sop_instance_uids=tuple(dict.fromkeys(images)),
        predecessor_sop_instance_uids=_refs(ds.get("PredecessorDocumentsSequence")),
        evaluations=tuple(e for e in evaluations if e is not None),
        amendment_reason=next(
            (t[len(AMENDMENT_PREFIX):] for t in sections.get("Addendum", ())
             if t.startswith(AMENDMENT_PREFIX)),
            "",
        ),
    )


_STATUS_VALUES = frozenset(value for value, _ in STATUS_CODES.values())


def _evaluation(group) -> tuple[str, str, float | None, str, str] | None:
    finding = status = algorithm = version = ""
    probability = None
    for item in _walk(group.get("ContentSequence", ())):
        code, meaning = _concept(item)
        vt = item.get("ValueType")
        if vt == "CODE" and str(item.ConceptCodeSequence[0].CodeValue) in _STATUS_VALUES:
            finding, status = meaning, str(item.ConceptCodeSequence[0].CodeMeaning)
        elif vt == "NUM" and code == "122157":
            probability = float(item.MeasuredValueSequence[0].NumericValue)
        elif vt == "TEXT" and code == "111001":
            algorithm = str(item.TextValue)
        elif vt == "TEXT" and code == "111003":
            version = str(item.TextValue)
    if not finding:
        return None
    return finding, status, probability, algorithm, version
