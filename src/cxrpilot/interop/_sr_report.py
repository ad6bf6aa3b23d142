"""The signed report as a DICOM Enhanced SR, TID 2000 *Basic Diagnostic Imaging Report*
(see :mod:`.sr`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from cxrpilot.errors import InvalidInputError

from ._sr_common import (
    ExamRef,
    SourceImage,  # noqa: F401 - named in report_sr's example
    SrRef,
    evidence,
    language,
    person_name,
    series_uid_for,
    stamp,
    utc,
)

REPORT_SERIES_DESCRIPTION = "cxrpilot signed report"
#: Series number of the report SR series (the images' own series use low numbers).
REPORT_SERIES_NUMBER = 9001

ReportStatus = Literal["preliminary", "final", "amended"]
#: How the reason for an amendment starts in its Addendum section's Comment.
AMENDMENT_PREFIX = "Reason for amendment: "


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
    root_items = [language()]
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
        evidence=evidence(exam),
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
    stamp(sr, when)
    if signed:
        sr.VerifyingObserverSequence[0].VerificationDateTime = utc(when).strftime(
            "%Y%m%d%H%M%S.%f+0000"
        )
    sr.SeriesDate, sr.SeriesTime = sr.ContentDate, sr.ContentTime
    return sr
