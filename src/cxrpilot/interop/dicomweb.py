"""A small DICOMweb client (plain httpx): QIDO-RS study search, WADO-RS retrieve.

>>> client = DicomWebClient("http://pacs:8042/dicom-web")            # doctest: +SKIP
>>> for study in client.search_studies(modalities=("CR", "DX"), since=date(2024, 1, 1)):
...     for part in client.retrieve_study(study.study_uid):           # doctest: +SKIP
...         ingest(part)                                              # a DICOM Part 10 file

WADO-RS answers ``multipart/related; type="application/dicom"``; :func:`parse_multipart_related`
splits such a body into its parts (RFC 2046 / RFC 2387: the boundary from the Content-Type,
CRLF before each delimiter, preamble and epilogue ignored, each part's headers kept).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Self

from cxrpilot.errors import CxrpilotError, InvalidInputError

__all__ = [
    "DicomWebClient",
    "DicomWebError",
    "StudySummary",
    "MultipartPart",
    "parse_multipart_related",
    "parse_since",
]

DICOM_JSON = "application/dicom+json"
ACCEPT_DICOM = 'multipart/related; type="application/dicom"; transfer-syntax=*'

# Tags (DICOM JSON keys) of the study attributes read from a QIDO-RS answer.
_STUDY_UID = "0020000D"
_STUDY_DATE = "00080020"
_ACCESSION = "00080050"
_MODALITIES = "00080061"
_N_INSTANCES = "00201208"
_SERIES_UID = "0020000E"
_SOP_UID = "00080018"


class DicomWebError(CxrpilotError):
    """A DICOMweb server that cannot be reached or answers with an error or a malformed
    body; the message names the URL (never a patient attribute) and what went wrong."""


@dataclass(frozen=True)
class StudySummary:
    """One study of a QIDO-RS answer (attributes absent from the answer are None/empty)."""

    study_uid: str
    study_date: str | None = None
    accession_number: str | None = None
    modalities: tuple[str, ...] = ()
    instances: int | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class MultipartPart:
    """One body part of a multipart message: its headers (lower-cased names) and bytes."""

    headers: Mapping[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "text/plain").split(";")[0].strip().lower()


def json_value(item: Mapping[str, Any], tag: str) -> Any:
    """The first value of attribute ``tag`` (``"0020000D"``) of a DICOM JSON object, None
    when it is absent or has no value."""
    values = (item.get(tag) or {}).get("Value") or []
    return values[0] if values else None


def json_values(item: Mapping[str, Any], tag: str) -> tuple[Any, ...]:
    """All values of attribute ``tag`` of a DICOM JSON object (empty when absent)."""
    return tuple((item.get(tag) or {}).get("Value") or ())


def parse_since(value: str | date | None) -> date | None:
    """A ``--since`` value: a :class:`date`, ``YYYY-MM-DD`` or ``YYYYMMDD``, or None."""
    if value is None or isinstance(value, date):
        return value
    text = value.strip()
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            from datetime import datetime

            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise InvalidInputError(f"since={value!r} is not a date: expected YYYY-MM-DD (e.g. 2024-01-31)")


def _boundary(content_type: str) -> str:
    match = re.search(r'boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))', content_type, re.IGNORECASE)
    if not match:
        raise DicomWebError(f"multipart answer without a boundary (Content-Type {content_type!r})")
    return match.group(1) or match.group(2)


def parse_multipart_related(body: bytes, content_type: str) -> list[MultipartPart]:
    """Split a ``multipart/related`` (or any ``multipart/*``) body into its parts.

    Parameters
    ----------
    body : bytes
        The message body.
    content_type : str
        Its Content-Type header, with the ``boundary`` parameter.

    Returns
    -------
    list of MultipartPart

    Raises
    ------
    DicomWebError
        Not multipart, no boundary, no opening delimiter, a part without the blank line
        after its headers, or no closing delimiter (a truncated answer).

    Examples
    --------
    >>> body = b'--b1\\r\\nContent-Type: application/dicom\\r\\n\\r\\nDICM\\r\\n--b1--\\r\\n'
    >>> parts = parse_multipart_related(body, "multipart/related; boundary=b1")
    >>> [(p.content_type, p.body) for p in parts]
    [('application/dicom', b'DICM')]
    """
    if not content_type.lower().startswith("multipart/"):
        raise DicomWebError(f"expected a multipart answer, got Content-Type {content_type!r}")
    delimiter = b"--" + _boundary(content_type).encode("latin-1")
    # The first delimiter may start the body; every later one follows a CRLF.
    if body.startswith(delimiter):
        pos = len(delimiter)
    else:
        start = body.find(b"\r\n" + delimiter)
        if start < 0:
            raise DicomWebError("multipart answer without its opening boundary")
        pos = start + 2 + len(delimiter)
    parts: list[MultipartPart] = []
    separator = b"\r\n" + delimiter
    while True:
        if body.startswith(b"--", pos):  # the close delimiter
            return parts
        line_end = body.find(b"\r\n", pos)  # transport padding up to the CRLF
        if line_end < 0:
            break
        start = line_end + 2
        if body.startswith(b"\r\n", start):  # a part without headers
            headers_raw, content_start = b"", start + 2
        else:
            head_end = body.find(b"\r\n\r\n", start)
            if head_end < 0:
                raise DicomWebError(f"multipart part {len(parts) + 1} has no end of headers")
            headers_raw, content_start = body[start:head_end], head_end + 4
        end = body.find(separator, content_start)
        if end < 0:
            break
        parts.append(MultipartPart(_headers(headers_raw), body[content_start:end]))
        pos = end + len(separator)
    raise DicomWebError(
        f"truncated multipart answer: no closing boundary after {len(parts)} part(s)"
    )


def _headers(raw: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    name = None
    for line in raw.decode("latin-1").split("\r\n"):
        if line[:1] in (" ", "\t") and name:  # folded header
            headers[name] += " " + line.strip()
            continue
        key, sep, value = line.partition(":")
        if sep:
            name = key.strip().lower()
            headers[name] = value.strip()
    return headers


class DicomWebClient:
    """QIDO-RS and WADO-RS against one DICOMweb root (e.g. Orthanc's ``/dicom-web``).

    Parameters
    ----------
    url : str
        The DICOMweb root, ``http(s)://host:port/path`` (no trailing ``/studies``).
    timeout_s : float, default 60
        Per request (WADO-RS of a study with large images takes a while).
    headers : mapping, optional
        Sent with every request (e.g. ``{"Authorization": "Bearer ..."}``).
    auth : tuple of (user, password), optional
        HTTP basic authentication.
    page_size : int, default 100
        QIDO-RS ``limit`` per request; pages are fetched until one comes back short.
    max_study_bytes : int, default 2 GiB
        Largest WADO-RS answer read for one study.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 60.0,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        page_size: int = 100,
        max_study_bytes: int = 2 << 30,
        transport: Any = None,
    ) -> None:
        import httpx

        if not re.match(r"^https?://[^/\s]+", url or ""):
            raise InvalidInputError(
                f"DICOMweb URL {url!r} is not valid: expected http(s)://host[:port]/path "
                "(e.g. http://pacs:8042/dicom-web)"
            )
        if page_size < 1:
            raise InvalidInputError(f"page_size={page_size!r}: expected a positive integer")
        self.url = url.rstrip("/")
        self.page_size = page_size
        self.max_study_bytes = max_study_bytes
        self._http = httpx.Client(
            base_url=self.url,
            timeout=timeout_s,
            headers=dict(headers or {}),
            auth=auth,
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- HTTP ------------------------------------------------------------------------------
    def _get(self, path: str, *, params: Any = None, accept: str) -> Any:
        import httpx

        try:
            response = self._http.get(path, params=params, headers={"Accept": accept})
        except httpx.HTTPError as exc:
            raise DicomWebError(
                f"DICOMweb server {self.url} cannot be reached ({type(exc).__name__}: {exc})"
            ) from exc
        if response.status_code == 204:
            return response
        if response.status_code >= 400:
            raise DicomWebError(
                f"DICOMweb server {self.url} answered {response.status_code} to GET {path}"
                f"{': ' + response.text[:200] if response.text else ''}"
            )
        return response

    def _json(self, path: str, params: Any) -> list[dict[str, Any]]:
        response = self._get(path, params=params, accept=DICOM_JSON)
        if response.status_code == 204 or not response.content:
            return []
        try:
            data = response.json()
        except ValueError as exc:
            raise DicomWebError(f"DICOMweb server {self.url}: GET {path} is not JSON") from exc
        if not isinstance(data, list):
            raise DicomWebError(
                f"DICOMweb server {self.url}: GET {path} is not a DICOM JSON array"
            )
        return [item for item in data if isinstance(item, dict)]

    # -- QIDO-RS ---------------------------------------------------------------------------
    def search_studies(
        self,
        *,
        modalities: Iterable[str] = ("CR", "DX"),
        since: date | str | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> list[StudySummary]:
        """Studies with any of ``modalities`` (ModalitiesInStudy), dated ``since`` or
        later (StudyDate range ``YYYYMMDD-``), oldest first, each study once.

        One query per modality (servers differ on multi-valued ModalitiesInStudy), paged
        with ``limit``/``offset``.
        """
        since_date = parse_since(since)
        found: dict[str, StudySummary] = {}
        for modality in dict.fromkeys(m.strip().upper() for m in modalities):
            base: dict[str, str] = {
                "ModalitiesInStudy": modality,
                "includefield": f"{_STUDY_DATE},{_ACCESSION},{_MODALITIES},{_N_INSTANCES}",
            }
            if since_date is not None:
                base["StudyDate"] = f"{since_date:%Y%m%d}-"
            base.update(extra or {})
            offset = 0
            while True:
                page = self._json(
                    "/studies", {**base, "limit": str(self.page_size), "offset": str(offset)}
                )
                for item in page:
                    uid = json_value(item, _STUDY_UID)
                    if not uid or uid in found:
                        continue
                    n = json_value(item, _N_INSTANCES)
                    found[uid] = StudySummary(
                        study_uid=str(uid),
                        study_date=json_value(item, _STUDY_DATE),
                        accession_number=json_value(item, _ACCESSION),
                        modalities=tuple(str(m) for m in json_values(item, _MODALITIES)),
                        instances=int(n) if n is not None else None,
                        attributes=item,
                    )
                if len(page) < self.page_size:
                    break
                offset += len(page)
        return sorted(found.values(), key=lambda s: (s.study_date or "", s.study_uid))

    def search_instances(self, study_uid: str) -> list[tuple[str, str]]:
        """``(series_uid, sop_instance_uid)`` of every instance of a study."""
        out = []
        for item in self._json(f"/studies/{_uid(study_uid)}/instances", None):
            series, sop = json_value(item, _SERIES_UID), json_value(item, _SOP_UID)
            if series and sop:
                out.append((str(series), str(sop)))
        return out

    # -- WADO-RS ---------------------------------------------------------------------------
    def retrieve_study(self, study_uid: str) -> Iterator[bytes]:
        """The instances of a study (WADO-RS), each a DICOM Part 10 file."""
        return iter(self._retrieve(f"/studies/{_uid(study_uid)}"))

    def retrieve_instance(self, study_uid: str, series_uid: str, sop_instance_uid: str) -> bytes:
        """One instance (WADO-RS) as a DICOM Part 10 file."""
        path = (
            f"/studies/{_uid(study_uid)}/series/{_uid(series_uid)}"
            f"/instances/{_uid(sop_instance_uid)}"
        )
        parts = self._retrieve(path)
        if len(parts) != 1:
            raise DicomWebError(f"DICOMweb server {self.url}: {len(parts)} parts for one instance")
        return parts[0]

    def _retrieve(self, path: str) -> list[bytes]:
        import httpx

        try:
            with self._http.stream("GET", path, headers={"Accept": ACCEPT_DICOM}) as response:
                if response.status_code >= 400:
                    raise DicomWebError(
                        f"DICOMweb server {self.url} answered {response.status_code} to GET {path}"
                    )
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > self.max_study_bytes:
                        raise DicomWebError(
                            f"DICOMweb answer to GET {path} is larger than "
                            f"{self.max_study_bytes >> 20} MiB; raise max_study_bytes"
                        )
                    chunks.append(chunk)
                content_type = response.headers.get("content-type", "")
        except httpx.HTTPError as exc:
            raise DicomWebError(
                f"DICOMweb server {self.url} cannot be reached ({type(exc).__name__}: {exc})"
            ) from exc
        parts = parse_multipart_related(b"".join(chunks), content_type)
        return [p.body for p in parts if p.content_type == "application/dicom"]


def _uid(value: str) -> str:
    text = str(value).strip()
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)*", text) or len(text) > 64:
        raise InvalidInputError(f"{value!r} is not a DICOM UID (digits and dots, at most 64)")
    return text
