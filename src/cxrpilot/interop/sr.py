"""DICOM Structured Reports of a signed report and of the AI findings (highdicom).

Two documents per exam, both pure functions of their inputs (no database, no network):

- :func:`report_sr`: the radiologist's report as an Enhanced SR following TID 2000 *Basic
  Diagnostic Imaging Report*: the FINDINGS and IMPRESSION sections as text items, the
  signing radiologist as the person observer and verifying observer, the source images in
  an image library and in the evidence sequence. Its life cycle is in the SR flags: a
  preliminary report is ``PARTIAL`` / ``UNVERIFIED`` / ``PRELIMINARY``; a signed one
  ``COMPLETE`` / ``VERIFIED`` / ``FINAL``; an amendment is a new instance that also lists
  the SR it replaces in the Predecessor Documents Sequence and states why in an *Addendum*
  section (a TEXT *Comment*, "Reason for amendment: ...").
- :func:`ai_findings_sr`: what the model stated, as a Comprehensive SR following TID 1500
  *Measurement Report*: one measurement group per finding the model assessed, each with a
  qualitative evaluation (present / absent / indeterminate) and the probability, the model
  as the device observer and as the algorithm of every group. The document is
  ``UNVERIFIED`` and ``PRELIMINARY`` (no person checked it) and its series says it is AI
  output. Findings the model did not assess are not written: the SR never states them
  absent.

:func:`read_sr` reads either document back into a :class:`SrSummary`.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Literal

from cxrpilot.errors import InvalidInputError

from ._codes import LOCAL_SCHEME, LOCAL_SCHEME_NAME, STATUS_CODES, finding_code

__all__ = [
    "SourceImage",
    "ExamRef",
    "SrRef",
    "ReportContent",
    "SrSummary",
    "report_sr",
    "ai_findings_sr",
    "to_bytes",
    "read_sr",
    "sr_ref",
    "series_uid_for",
    "person_name",
    "ENHANCED_SR",
    "COMPREHENSIVE_SR",
    "AI_SERIES_DESCRIPTION",
    "REPORT_SERIES_DESCRIPTION",
    "AMENDMENT_PREFIX",
]

ENHANCED_SR = "1.2.840.10008.5.1.4.1.1.88.22"
COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"
REPORT_SERIES_DESCRIPTION = "cxrpilot signed report"
AI_SERIES_DESCRIPTION = "cxrpilot AI findings - not reviewed by a radiologist"
#: Series numbers of the two SR series (the images' own series use low numbers).
REPORT_SERIES_NUMBER = 9001
AI_SERIES_NUMBER = 9002

ReportStatus = Literal["preliminary", "final", "amended"]
#: How the reason for an amendment starts in its Addendum section's Comment.
AMENDMENT_PREFIX = "Reason for amendment: "


@dataclass(frozen=True, slots=True)
class SourceImage:
    """One image a report is about: its SOP class, SOP instance and series UIDs."""

    sop_class_uid: str
    sop_instance_uid: str
    series_instance_uid: str

    @classmethod
    def from_dataset(cls, ds) -> SourceImage:
        """From a DICOM header (a :class:`pydicom.Dataset`, pixels not needed)."""
        missing = [
            k for k in ("SOPClassUID", "SOPInstanceUID", "SeriesInstanceUID") if not ds.get(k)
        ]
        if missing:
            raise InvalidInputError(
                f"source image header lacks {', '.join(missing)}; an SR can reference only "
                "images with their UIDs"
            )
        return cls(str(ds.SOPClassUID), str(ds.SOPInstanceUID), str(ds.SeriesInstanceUID))


@dataclass(frozen=True, slots=True)
class ExamRef:
    """The exam (DICOM study) a report belongs to.

    Attributes
    ----------
    study_instance_uid : str
        The study's StudyInstanceUID (the SR joins this study).
    images : tuple of SourceImage
        The source images (at least one).
    accession_number : str
        The RIS accession number, "" when unknown.
    patient_key : str
        The pseudonymous patient key written as Patient ID ("" when unknown). Never a name:
        Patient's Name is left empty.
    patient_sex : str
        ``"M"``, ``"F"``, ``"O"`` or "".
    study_date, study_time : date and time, or None
        When the study was acquired, if known.
    """

    study_instance_uid: str
    images: tuple[SourceImage, ...]
    accession_number: str = ""
    patient_key: str = ""
    patient_sex: str = ""
    study_date: date | None = None
    study_time: time | None = None

    def __post_init__(self) -> None:
        if not self.study_instance_uid:
            raise InvalidInputError("exam has no StudyInstanceUID; an SR needs the study's UID")
        object.__setattr__(self, "images", tuple(self.images))
        if not self.images:
            raise InvalidInputError("exam has no source image; an SR must reference its images")
        if len(self.accession_number) > 16:
            raise InvalidInputError(
                f"accession number {self.accession_number!r} has {len(self.accession_number)} "
                "characters; DICOM (SH) allows at most 16"
            )
        if len(self.patient_key) > 64:
            raise InvalidInputError(
                f"patient key has {len(self.patient_key)} characters; DICOM (LO) allows at most 64"
            )
        if self.patient_sex not in ("", "M", "F", "O"):
            raise InvalidInputError(
                f"patient sex {self.patient_sex!r} is not a DICOM value; expected M, F, O or ''"
            )


@dataclass(frozen=True, slots=True)
class SrRef:
    """Where an SR instance lives (a predecessor of an amendment)."""

    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    sop_class_uid: str = ENHANCED_SR


@dataclass(frozen=True, slots=True)
class ReportContent:
    """The report to encode.

    Attributes
    ----------
    findings_text, impression_text : str
        The FINDINGS and IMPRESSION sections as signed.
    status : {"preliminary", "final", "amended"}
        ``final`` and ``amended`` need ``signer`` and ``signed_at``; ``amended`` also
        ``predecessor``.
    signer : str or None
        The signing radiologist's display name ("Jane Smith" or DICOM's "Smith^Jane").
    signed_at : datetime or None
        Time of signature (timezone-aware).
    version : int
        The report version (1, then 2... for amendments): the SR's Instance Number.
    predecessor : SrRef or None
        The SR this amendment replaces.
    organization : str
        Verifying organisation (the hospital); DICOM needs one for a verified document.
    indication_text, technique_text, comparison_text : str
        The other sections, written (before FINDINGS) only when not empty: under the TID
        2000 headings *Indications for Procedure*, *Current Procedure Descriptions* and
        *Prior Procedure Descriptions*.
    amendment_reason : str
        Why this version amends an earlier one: written after IMPRESSION as an *Addendum*
        section (DCM 121078, a CID 7001 heading) holding a TEXT *Comment* (DCM 121106),
        :data:`AMENDMENT_PREFIX` + the reason. Only for a signed report after version 1.
    """

    findings_text: str
    impression_text: str
    status: ReportStatus = "final"
    signer: str | None = None
    signed_at: datetime | None = None
    version: int = 1
    predecessor: SrRef | None = None
    organization: str = "cxrpilot"
    indication_text: str = ""
    technique_text: str = ""
    comparison_text: str = ""
    amendment_reason: str = ""

    def __post_init__(self) -> None:
        if self.status not in ("preliminary", "final", "amended"):
            raise InvalidInputError(
                f"report status {self.status!r} is not known; expected preliminary, final or amended"
            )
        if self.status != "preliminary" and (not self.signer or self.signed_at is None):
            raise InvalidInputError(f"a {self.status} report needs its signer and signing time")
        if self.status == "amended" and self.predecessor is None:
            raise InvalidInputError("an amended report needs the SR it amends (predecessor)")
        if self.signed_at is not None and self.signed_at.tzinfo is None:
            raise InvalidInputError("signed_at must be timezone-aware")
        if not (self.findings_text.strip() or self.impression_text.strip()):
            raise InvalidInputError("the report is empty: no FINDINGS and no IMPRESSION text")
        if self.version < 1:
            raise InvalidInputError(f"report version must be >= 1, got {self.version}")
        if self.amendment_reason.strip() and (self.status == "preliminary" or self.version < 2):
            raise InvalidInputError(
                f"an amendment reason belongs to a signed version after the first; got a "
                f"{self.status} report at version {self.version}"
            )


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


# -- helpers -------------------------------------------------------------------------------


def person_name(display_name: str) -> str:
    """A DICOM PN value for a display name: "Jane Smith" -> "Smith^Jane", "jsmith" ->
    "jsmith^"; a value that already has "^" is kept."""
    name = " ".join(display_name.replace("\\", " ").split())
    if not name:
        raise InvalidInputError("the signer has no name; a verified SR needs one")
    if "^" in name:
        return name[:64]
    if " " not in name:
        return f"{name[:63]}^"
    given, family = name.rsplit(" ", 1)
    return f"{family[:31]}^{given[:32]}"


def series_uid_for(study_instance_uid: str, kind: Literal["report", "ai"]) -> str:
    """The SR series of one kind within a study: the same UID every time (all report
    versions of a study in one series, the AI findings in another)."""
    from pydicom.uid import generate_uid

    return str(generate_uid(entropy_srcs=["cxrpilot-sr-series", study_instance_uid, kind]))


def _utc(dt: datetime) -> datetime:
    return dt.astimezone(UTC)


def _evidence(exam: ExamRef) -> list:
    """One minimal dataset per source image; the first carries the patient and study
    modules the SR inherits (pseudonymous key, never a name)."""
    from pydicom.dataset import Dataset

    out = []
    for i, image in enumerate(exam.images):
        ds = Dataset()
        ds.SOPClassUID = image.sop_class_uid
        ds.SOPInstanceUID = image.sop_instance_uid
        ds.SeriesInstanceUID = image.series_instance_uid
        ds.StudyInstanceUID = exam.study_instance_uid
        if i == 0:
            ds.SpecificCharacterSet = "ISO_IR 192"
            ds.PatientID = exam.patient_key
            ds.PatientName = ""
            ds.PatientBirthDate = ""
            ds.PatientSex = exam.patient_sex
            ds.AccessionNumber = exam.accession_number
            ds.StudyID = ""
            ds.StudyDate = exam.study_date.strftime("%Y%m%d") if exam.study_date else ""
            ds.StudyTime = exam.study_time.strftime("%H%M%S") if exam.study_time else ""
            ds.ReferringPhysicianName = ""
        out.append(ds)
    return out


def _image_library(exam: ExamRef):
    """TID 1600 Image Library: one group holding the source images."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    items = []
    for image in exam.images:
        items.append(
            hd.sr.ImageContentItem(
                name=hd.sr.CodedConcept("260753009", "SCT", "Source"),
                referenced_sop_class_uid=image.sop_class_uid,
                referenced_sop_instance_uid=image.sop_instance_uid,
                relationship_type=hd.sr.RelationshipTypeValues.CONTAINS,
            )
        )
    group = hd.sr.ContainerContentItem(
        name=codes.DCM.ImageLibraryGroup,
        relationship_type=hd.sr.RelationshipTypeValues.CONTAINS,
    )
    group.ContentSequence = hd.sr.ContentSequence(items)
    library = hd.sr.ContainerContentItem(
        name=codes.DCM.ImageLibrary,
        relationship_type=hd.sr.RelationshipTypeValues.CONTAINS,
    )
    library.ContentSequence = hd.sr.ContentSequence([group])
    return library


def _section(heading, item_concept, text: str):
    import highdicom as hd

    container = hd.sr.ContainerContentItem(
        name=heading, relationship_type=hd.sr.RelationshipTypeValues.CONTAINS
    )
    container.ContentSequence = hd.sr.ContentSequence(
        [
            hd.sr.TextContentItem(
                name=item_concept,
                value=text,
                relationship_type=hd.sr.RelationshipTypeValues.CONTAINS,
            )
        ]
        if text.strip()
        else []
    )
    return container


def _language():
    import highdicom as hd

    return hd.sr.LanguageOfContentItemAndDescendants(
        language=hd.sr.CodedConcept("en-US", "RFC5646", "English (United States)")
    )


def _stamp(ds, when: datetime) -> None:
    when = _utc(when)
    ds.ContentDate = when.strftime("%Y%m%d")
    ds.ContentTime = when.strftime("%H%M%S.%f")
    ds.TimezoneOffsetFromUTC = "+0000"


# -- the report ----------------------------------------------------------------------------


def report_sr(
    report: ReportContent,
    exam: ExamRef,
    *,
    sop_instance_uid: str,
    series_instance_uid: str | None = None,
    manufacturer: str = "cxrpilot",
    software_version: str | None = None,
):
    """The report as a DICOM Enhanced SR (TID 2000 Basic Diagnostic Imaging Report).

    Parameters
    ----------
    report : ReportContent
        Text, status, signer, version and, for an amendment, the SR it replaces.
    exam : ExamRef
        The study and its source images (referenced in the image library and the
        evidence), accession number and pseudonymous patient key.
    sop_instance_uid : str
        The SR's own UID. Give the same UID for the same report version every time: a PACS
        keeps one instance per UID, which makes a re-send harmless.
    series_instance_uid : str or None
        ``None``: :func:`series_uid_for` ``(study, "report")``.

    Returns
    -------
    highdicom.sr.EnhancedSR
        A pydicom Dataset; :func:`to_bytes` writes it as a DICOM file.

    Raises
    ------
    InvalidInputError
        A report without text, a signed one without signer, an amendment without its
        predecessor.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> exam = ExamRef("1.2.3", (SourceImage("1.2.840.10008.5.1.4.1.1.1", "1.2.3.4", "1.2.3.5"),))
    >>> rep = ReportContent("Clear lungs.", "Normal.", signer="Jane Smith",
    ...                     signed_at=datetime(2026, 1, 2, tzinfo=UTC))
    >>> report_sr(rep, exam, sop_instance_uid="1.2.3.6").VerificationFlag
    'VERIFIED'
    """
    import highdicom as hd
    from pydicom.sr.codedict import codes

    from cxrpilot import __version__

    signed = report.status != "preliminary"
    root_items = [_language()]
    if report.signer:
        root_items.extend(
            hd.sr.ObservationContext(
                observer_person_context=hd.sr.ObserverContext(
                    observer_type=codes.DCM.Person,
                    observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
                        name=person_name(report.signer)
                    ),
                )
            )
        )
    root_items.append(_image_library(exam))
    for heading, concept, text in (
        (codes.DCM.IndicationsForProcedure, codes.DCM.Comment, report.indication_text),
        (codes.DCM.CurrentProcedureDescriptions, codes.DCM.ProcedureDescription,
         report.technique_text),
        (codes.DCM.PriorProcedureDescriptions, codes.DCM.ProcedureDescription,
         report.comparison_text),
    ):
        if text.strip():
            root_items.append(_section(heading, concept, text))
    root_items.append(_section(codes.DCM.Findings, codes.DCM.Finding, report.findings_text))
    root_items.append(
        _section(codes.DCM.Impressions, codes.DCM.Impression, report.impression_text)
    )
    if report.amendment_reason.strip():
        root_items.append(
            _section(
                codes.DCM.Addendum,
                codes.DCM.Comment,
                AMENDMENT_PREFIX + report.amendment_reason.strip(),
            )
        )
    root = hd.sr.ContainerContentItem(
        name=codes.LN.DiagnosticImagingReport, template_id="2000"
    )
    from pydicom.dataset import Dataset

    root.ContentSequence = hd.sr.ContentSequence(
        [item for part in root_items for item in ([part] if isinstance(part, Dataset) else part)]
    )
    previous = None
    if report.predecessor is not None:
        prev = Dataset()
        prev.SOPClassUID = report.predecessor.sop_class_uid
        prev.SOPInstanceUID = report.predecessor.sop_instance_uid
        prev.StudyInstanceUID = report.predecessor.study_instance_uid
        prev.SeriesInstanceUID = report.predecessor.series_instance_uid
        previous = [prev]
    sr = hd.sr.EnhancedSR(
        evidence=_evidence(exam),
        content=root,
        series_instance_uid=series_instance_uid
        or series_uid_for(exam.study_instance_uid, "report"),
        series_number=REPORT_SERIES_NUMBER,
        sop_instance_uid=sop_instance_uid,
        instance_number=report.version,
        manufacturer=manufacturer,
        is_complete=signed,
        is_final=signed,
        is_verified=signed,
        verifying_observer_name=person_name(report.signer) if signed and report.signer else None,
        verifying_organization=(report.organization or "cxrpilot") if signed else None,
        previous_versions=previous,
        series_description=REPORT_SERIES_DESCRIPTION,
        software_versions=software_version or __version__,
        specific_character_set="ISO_IR 192",
    )
    when = report.signed_at or datetime.now(UTC)
    _stamp(sr, when)
    if signed:
        sr.VerifyingObserverSequence[0].VerificationDateTime = _utc(when).strftime(
            "%Y%m%d%H%M%S.%f+0000"
        )
    sr.SeriesDate, sr.SeriesTime = sr.ContentDate, sr.ContentTime
    return sr


# -- the AI findings -----------------------------------------------------------------------


def ai_findings_sr(
    findings: Iterable,
    exam: ExamRef,
    *,
    model_id: str,
    model_version: str,
    created_at: datetime,
    sop_instance_uid: str,
    series_instance_uid: str | None = None,
    manufacturer: str = "cxrpilot",
):
    """The model's findings as a DICOM Comprehensive SR (TID 1500 Measurement Report).

    Parameters
    ----------
    findings : iterable of cxrpilot.draft.Finding (or dicts with name/status/probability)
        What the model stated. Findings *not assessed* are left out: the document states
        only what the model assessed.
    exam : ExamRef
        The study and its source images.
    model_id, model_version : str
        The model: device observer name and algorithm name/version of every group.
    created_at : datetime
        When the model drafted (timezone-aware): the content date and time.
    sop_instance_uid : str
        The SR's UID (the same for the same draft every time).

    Returns
    -------
    highdicom.sr.ComprehensiveSR
        ``PRELIMINARY`` and ``UNVERIFIED`` (no person checked it), series description
        :data:`AI_SERIES_DESCRIPTION`.

    Raises
    ------
    InvalidInputError
        The model assessed no finding (nothing to report), a duplicate finding, a
        probability outside [0, 1], a naive ``created_at``.
    """
    import highdicom as hd
    from highdicom.coding_schemes import CodingSchemeIdentificationItem
    from pydicom.sr.codedict import codes
    from pydicom.uid import generate_uid

    from cxrpilot.vocabulary import Status

    if not model_id:
        raise InvalidInputError("model_id is empty; the AI findings SR must name its model")
    if created_at.tzinfo is None:
        raise InvalidInputError("created_at must be timezone-aware")
    algorithm = hd.sr.AlgorithmIdentification(
        name=model_id[:64], version=(model_version or "unknown")[:64], manufacturer=manufacturer
    )
    device_uid = str(generate_uid(entropy_srcs=["cxrpilot-model", model_id, model_version]))
    context = hd.sr.ObservationContext(
        observer_device_context=hd.sr.ObserverContext(
            observer_type=codes.DCM.Device,
            observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
                uid=device_uid,
                name=model_id[:64],
                manufacturer_name=manufacturer,
                model_name=model_id[:64],
            ),
        )
    )
    sources = [
        hd.sr.SourceImageForMeasurementGroup(i.sop_class_uid, i.sop_instance_uid)
        for i in exam.images
    ]
    groups = []
    for f in _findings(findings):
        name, status, probability = f
        if status is Status.NOT_ASSESSED:
            continue
        concept = _finding_concept(name)
        value = hd.sr.CodedConcept(*STATUS_CODES[status][:1], "SCT", STATUS_CODES[status][1])
        measurements = []
        if probability is not None:
            measurements.append(
                hd.sr.Measurement(
                    name=codes.DCM.Probability,
                    value=float(probability),
                    unit=codes.UCUM.NoUnits,
                    algorithm_id=algorithm,
                )
            )
        groups.append(
            hd.sr.MeasurementsAndQualitativeEvaluations(
                tracking_identifier=hd.sr.TrackingIdentifier(
                    uid=str(generate_uid(entropy_srcs=[sop_instance_uid, name])), identifier=name
                ),
                finding_type=concept,
                algorithm_id=algorithm,
                qualitative_evaluations=[hd.sr.QualitativeEvaluation(name=concept, value=value)],
                measurements=measurements or None,
                source_images=sources,
            )
        )
    if not groups:
        raise InvalidInputError(
            f"model {model_id!r} assessed none of the findings: there is nothing to report "
            "(a finding not assessed is never written as absent)"
        )
    report = hd.sr.MeasurementReport(
        observation_context=context,
        procedure_reported=hd.sr.CodedConcept("399208008", "SCT", "Plain chest X-ray"),
        imaging_measurements=groups,
        language_of_content_item_and_descendants=_language(),
    )
    sr = hd.sr.ComprehensiveSR(
        evidence=_evidence(exam),
        content=report[0],
        series_instance_uid=series_instance_uid or series_uid_for(exam.study_instance_uid, "ai"),
        series_number=AI_SERIES_NUMBER,
        sop_instance_uid=sop_instance_uid,
        instance_number=1,
        manufacturer=manufacturer,
        is_complete=True,
        is_final=False,
        is_verified=False,
        series_description=AI_SERIES_DESCRIPTION,
        manufacturer_model_name=model_id[:64],
        software_versions=(model_version or "unknown")[:64],
        specific_character_set="ISO_IR 192",
        coding_schemes=[
            CodingSchemeIdentificationItem(
                designator=LOCAL_SCHEME, name=LOCAL_SCHEME_NAME, responsible_organization="cxrpilot"
            )
        ],
    )
    _stamp(sr, created_at)
    sr.SeriesDate, sr.SeriesTime = sr.ContentDate, sr.ContentTime
    return sr


def _finding_concept(name: str):
    """The finding's SNOMED CT concept where the DICOM dictionary has it, else the local
    code (its meaning is always the cxrpilot finding name)."""
    import highdicom as hd

    code = finding_code(name)
    if code.snomed is not None:
        return hd.sr.CodedConcept(code.snomed[0], "SCT", name)
    return hd.sr.CodedConcept(code.local, LOCAL_SCHEME, name)


def _findings(findings: Iterable) -> Iterator[tuple]:
    from cxrpilot.vocabulary import Status

    seen = set()
    for f in findings:
        if isinstance(f, dict):
            name, status, p = f["name"], f["status"], f.get("probability")
        else:
            name, status, p = f.name, f.status, f.probability
        status = Status(status)
        if name in seen:
            raise InvalidInputError(f"finding {name!r} given twice")
        seen.add(name)
        if p is not None and not 0.0 <= float(p) <= 1.0:
            raise InvalidInputError(f"probability of {name!r} must be in [0, 1], got {p!r}")
        yield name, status, p


# -- bytes and back ------------------------------------------------------------------------


def to_bytes(ds) -> bytes:
    """The SR as a DICOM Part 10 file (explicit VR little endian)."""
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def sr_ref(ds) -> SrRef:
    """Where an SR instance lives (for the predecessor of a later amendment)."""
    return SrRef(
        str(ds.StudyInstanceUID),
        str(ds.SeriesInstanceUID),
        str(ds.SOPInstanceUID),
        str(ds.SOPClassUID),
    )


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
