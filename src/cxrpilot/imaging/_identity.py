"""Which exam a DICOM file belongs to: its study, series and instance UIDs, accession
number, study date, Patient ID and Issuer of Patient ID, read from the *original* header (de-identification
drops all but the UIDs).

The Patient ID is returned so that the caller can turn it into a pseudonymous key at once
(:func:`patient_key`, a keyed hash); it must never be stored or logged as it is.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

__all__ = ["StudyIdentity", "study_identity", "patient_key"]

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")


@dataclass(frozen=True)
class StudyIdentity:
    """The identifiers of one DICOM instance that group it into an exam.

    Attributes
    ----------
    study_uid, series_uid, sop_instance_uid, sop_class_uid : str or None
        UIDs (None when absent or not a valid UID).
    accession_number : str or None
        Accession Number (0008,0050), the RIS order's identifier.
    study_date : datetime.date or None
        Study Date (0008,0020), None when absent or not a date.
    modality : str or None
        Modality (0008,0060).
    patient_id : str or None
        Patient ID (0010,0020) as sent: PHI. Hash it (:func:`patient_key`) and drop it.
    issuer_of_patient_id : str or None
        Issuer of Patient ID (0010,0021): the authority (hospital, MPI domain) that assigned
        ``patient_id``; part of the key, so two hospitals' ID "123" are two patients.
    """

    study_uid: str | None
    series_uid: str | None
    sop_instance_uid: str | None
    sop_class_uid: str | None
    accession_number: str | None
    study_date: date | None
    modality: str | None
    patient_id: str | None
    issuer_of_patient_id: str | None = None

    def __repr__(self) -> str:  # never show the Patient ID
        return (
            f"StudyIdentity(study_uid={self.study_uid!r}, sop_instance_uid="
            f"{self.sop_instance_uid!r}, modality={self.modality!r}, patient_id=<hidden>)"
        )


def _text(ds: Any, keyword: str, limit: int = 64) -> str | None:
    try:
        value = ds.get(keyword)
    except Exception:  # noqa: BLE001 - a malformed element reads as absent
        return None
    if value is None:
        return None
    text = str(value).strip().replace("\x00", "")
    return text[:limit] or None


def _uid(ds: Any, keyword: str) -> str | None:
    text = _text(ds, keyword)
    return text if text and len(text) <= 64 and _UID.match(text) else None


def _date(ds: Any) -> date | None:
    text = _text(ds, "StudyDate") or ""
    match = re.fullmatch(r"(\d{4})\.?(\d{2})\.?(\d{2})", text)  # DA, and the old ACR-NEMA form
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def study_identity(data: bytes, *, source: str = "<bytes>") -> StudyIdentity:
    """The exam identifiers of a DICOM file (header only; pixel data is not read).

    Parameters
    ----------
    data : bytes
        The original DICOM file (untrusted: call this in a worker process, as
        :meth:`cxrpilot.imaging.IsolatedLoader.load_for_exam` does).
    source : str
        Name used in error messages.

    Raises
    ------
    InvalidImageError
        The header cannot be parsed.

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> ident = study_identity(open(get_testdata_file("RG1_UNCR.dcm"), "rb").read())
    >>> ident.modality, ident.study_date, ident.accession_number
    ('CR', datetime.date(2004, 8, 26), 'exam Number')
    """
    import pydicom

    from cxrpilot.imaging._dicom import parser_errors, quiet_pydicom

    has_marker = len(data) >= 132 and data[128:132] == b"DICM"
    with quiet_pydicom(), parser_errors(source):
        ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, force=not has_marker)
        return StudyIdentity(
            study_uid=_uid(ds, "StudyInstanceUID"),
            series_uid=_uid(ds, "SeriesInstanceUID"),
            sop_instance_uid=_uid(ds, "SOPInstanceUID"),
            sop_class_uid=_uid(ds, "SOPClassUID"),
            accession_number=_text(ds, "AccessionNumber"),
            study_date=_date(ds),
            modality=(_text(ds, "Modality", 16) or "").upper() or None,
            patient_id=_text(ds, "PatientID"),
            issuer_of_patient_id=_text(ds, "IssuerOfPatientID"),
        )


def patient_key(patient_id: str | None, secret: bytes, issuer: str | None = None) -> str | None:
    """A pseudonymous patient key: HMAC-SHA256 of the Issuer of Patient ID and the Patient
    ID under ``secret`` (hex).

    The same ID from the same issuer gives the same key under the same secret (so a
    patient's earlier exams are found); the same ID from another issuer (another hospital's
    "123") gives another key. Without an issuer the HMAC input is the ID alone, as before
    issuers were keyed, so exams keyed then still link; with one it is ``issuer NUL id``,
    which no ID alone can equal (IDs are read without NUL). Without the secret the key
    cannot be turned back into the ID, nor checked against a guessed one. An empty ID gives
    None (an issuer alone names no patient).

    >>> patient_key("12345", b"k" * 32) == patient_key(" 12345 ", b"k" * 32)
    True
    >>> patient_key("123", b"k" * 32, "HOSP-A") == patient_key("123", b"k" * 32, "HOSP-B")
    False
    >>> patient_key("123", b"k" * 32, " ") == patient_key("123", b"k" * 32)
    True
    >>> patient_key("", b"k" * 32) is None
    True
    """
    text = (patient_id or "").strip().replace("\x00", "")
    if not text:
        return None
    if len(secret) < 16:
        from cxrpilot.errors import InvalidInputError

        raise InvalidInputError("the patient-key secret is shorter than 16 bytes")
    authority = (issuer or "").strip().replace("\x00", "")
    if authority:
        text = f"{authority}\x00{text}"
    return hmac.new(secret, text.encode("utf-8"), hashlib.sha256).hexdigest()
