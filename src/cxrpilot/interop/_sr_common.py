"""What both SR documents share: the exam and its source images, the SR's evidence,
language, content time and series, and writing one as a file (see :mod:`.sr`)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Literal

from cxrpilot.errors import InvalidInputError

ENHANCED_SR = "1.2.840.10008.5.1.4.1.1.88.22"
COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"


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


def utc(dt: datetime) -> datetime:
    return dt.astimezone(UTC)


def evidence(exam: ExamRef) -> list:
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


def language():
    import highdicom as hd

    return hd.sr.LanguageOfContentItemAndDescendants(
        language=hd.sr.CodedConcept("en-US", "RFC5646", "English (United States)")
    )


def stamp(ds, when: datetime) -> None:
    when = utc(when)
    ds.ContentDate = when.strftime("%Y%m%d")
    ds.ContentTime = when.strftime("%H%M%S.%f")
    ds.TimezoneOffsetFromUTC = "+0000"


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
