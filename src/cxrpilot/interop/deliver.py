"""Small clients that deliver one document and say whether the receiver acknowledged it:
C-STORE (pynetdicom), STOW-RS and FHIR ``PUT`` (httpx).

Each returns an :class:`Ack` when the receiver took the document, and raises
:class:`DeliveryError` otherwise, with ``retry`` telling a transient failure (no
connection, timeout, a busy or failing server) from one that will fail again the same way
(the receiver refused this document). One rule decides for both DICOM senders
(:func:`store_status_retry`: a C-STORE status and a STOW-RS Failure Reason are the same
codes) and one for HTTP statuses (:func:`http_status_retry`). Nothing here retries or
keeps state: the workstation's outbox does.
"""

from __future__ import annotations

import io
import re
import uuid
from dataclasses import dataclass

from cxrpilot.errors import CxrpilotError

from .dicomweb import DICOM_JSON, json_value, json_values

#: The ``user:password@`` of a URL (``http://bridge:s3cret@pacs/...``).
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#@\s]*@")


def without_credentials(text: str) -> str:
    """``text`` with the ``user:password@`` of each URL in it left out: what errors (kept
    in the outbox as ``last_error``), logs and pages say of a receiver.

    >>> without_credentials("FHIR PUT https://ris:pw@fhir.example/r4/DiagnosticReport/x")
    'FHIR PUT https://fhir.example/r4/DiagnosticReport/x'
    """
    return _USERINFO.sub(r"\1", text)

__all__ = [
    "Ack",
    "DeliveryError",
    "c_store",
    "stow_rs",
    "fhir_put",
    "store_status_retry",
    "http_status_retry",
    "STORE_OK",
]

#: C-STORE statuses that mean "stored": success, and the warnings B000 (coercion of data
#: elements), B007 (data set does not match SOP class), B006 (elements discarded).
STORE_OK = frozenset({0x0000, 0xB000, 0xB006, 0xB007})
# Store failures worth trying again: out of resources (A7xx), cannot understand (C0xx) and
# processing failure (0110) may be transient on a PACS under load.
_STORE_TRANSIENT_PREFIXES = (0xA7, 0xC0)
_HTTP_TRANSIENT = frozenset({408, 425, 429})


def store_status_retry(code: int) -> bool:
    """Whether a DICOM store failure (a C-STORE response status, or a STOW-RS Failure
    Reason (0008,1197)) may succeed when tried again: out of resources (A7xx), cannot
    understand (C0xx), processing failure (0110). Refusals (A9xx data set does not match
    SOP class, 0122 SOP class not supported, 0124 not authorized...) are not retried.

    >>> store_status_retry(0xA700), store_status_retry(0xA900)
    (True, False)
    """
    return (code >> 8) in _STORE_TRANSIENT_PREFIXES or code == 0x0110


def http_status_retry(code: int) -> bool:
    """Whether an HTTP error status may go away: server errors (5xx), 408, 425, 429.
    Client errors (400, 401, 403, 404, 409, 415...) fail again the same way.

    >>> http_status_retry(503), http_status_retry(401)
    (True, False)
    """
    return code >= 500 or code in _HTTP_TRANSIENT


@dataclass(frozen=True)
class Ack:
    """What the receiver answered when it took the document (e.g. ``"C-STORE 0x0000"``)."""

    detail: str


class DeliveryError(CxrpilotError):
    """The receiver did not acknowledge the document; ``retry`` says whether trying again
    later may work."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


def c_store(
    data: bytes,
    *,
    host: str,
    port: int,
    called_ae: str,
    calling_ae: str = "CXRPILOT",
    timeout_s: float = 30.0,
) -> Ack:
    """Send one DICOM file by C-STORE and wait for the PACS's response.

    Raises
    ------
    DeliveryError
        No association (PACS down, refused, wrong AE title), aborted or timed out
        association (``retry=True``), or a failure status (``retry`` by status).
    """
    import pydicom
    from pynetdicom import AE
    from pynetdicom.presentation import build_context

    ds = pydicom.dcmread(io.BytesIO(data))
    ae = AE(ae_title=calling_ae)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout_s
    ae.connection_timeout = timeout_s
    ae.requested_contexts = [
        build_context(ds.SOPClassUID, [str(ds.file_meta.TransferSyntaxUID)])
    ]
    target = f"{called_ae}@{host}:{port}"
    assoc = ae.associate(host, port, ae_title=called_ae)
    if not assoc.is_established:
        reason = "rejected" if assoc.is_rejected else "aborted" if assoc.is_aborted else "failed"
        raise DeliveryError(f"C-STORE to {target}: association {reason}", retry=True)
    try:
        status = assoc.send_c_store(ds)
    finally:
        if assoc.is_established:
            assoc.release()
    code = getattr(status, "Status", None) if status is not None else None
    if code is None:
        raise DeliveryError(
            f"C-STORE to {target}: no response (connection lost or timed out)", retry=True
        )
    if int(code) in STORE_OK:
        return Ack(f"C-STORE 0x{int(code):04X}")
    comment = str(status.get("ErrorComment", "") or "")[:200]
    raise DeliveryError(
        f"C-STORE to {target}: failure status 0x{int(code):04X}"
        + (f" ({comment})" if comment else ""),
        retry=store_status_retry(int(code)),
    )


def _http_error(what: str, exc: Exception) -> DeliveryError:
    return DeliveryError(
        without_credentials(f"{what}: {type(exc).__name__}: {exc}")[:500], retry=True
    )


def _status_error(what: str, response) -> DeliveryError:
    code = response.status_code
    return DeliveryError(
        without_credentials(f"{what}: HTTP {code} {response.text[:300]!r}"),
        retry=http_status_retry(code),
    )


def stow_rs(
    data: bytes,
    *,
    url: str,
    sop_instance_uid: str,
    headers: dict[str, str] | None = None,
    timeout_s: float = 30.0,
    verify: bool = False,
) -> Ack:
    """Store one DICOM file with STOW-RS (``POST {url}/studies``) and check that the
    answer lists ``sop_instance_uid`` as stored (Referenced SOP Sequence), not failed.

    Parameters
    ----------
    verify : bool
        Also search for the instance (QIDO-RS ``GET {url}/instances?SOPInstanceUID=``)
        after the PACS acknowledged it, and count it delivered only when found. For a PACS
        that acknowledges instances it then drops (Orthanc 1.10 with DICOMweb 1.7 lists an
        instance its ``ReceivedInstanceFilter`` refused as stored).

    Raises
    ------
    DeliveryError
        No connection or a timeout (``retry=True``); an HTTP error status (``retry`` by
        :func:`http_status_retry`); the instance listed as failed (``retry`` by its Failure
        Reason, :func:`store_status_retry`); an answer that does not list it, or (with
        ``verify``) a search that does not find it (``retry=True``).
    """
    import httpx

    boundary = f"cxrpilot-{uuid.uuid4().hex}"
    body = (
        f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    what = f"STOW-RS to {without_credentials(url)}"
    root = url.rstrip("/")
    try:
        response = httpx.post(
            f"{root}/studies",
            content=body,
            headers={
                "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
                "Accept": DICOM_JSON,
                **(headers or {}),
            },
            timeout=timeout_s,
        )
    except httpx.HTTPError as exc:
        raise _http_error(what, exc) from exc
    try:
        answer = response.json() if response.content else {}
    except ValueError:
        answer = {}
    if not isinstance(answer, dict):
        answer = {}
    failed = [
        item for item in json_values(answer, "00081198")
        if json_value(item, "00081155") in (sop_instance_uid, None)
    ]
    if failed and response.status_code in (200, 202, 409):
        reason = json_value(failed[0], "00081197")
        shown = f"0x{int(reason):04X}" if isinstance(reason, int) else "not given"
        raise DeliveryError(
            f"{what}: instance refused (HTTP {response.status_code}, failure reason {shown})",
            retry=isinstance(reason, int) and store_status_retry(reason),
        )
    if response.status_code not in (200, 202):
        raise _status_error(what, response)
    stored = {json_value(item, "00081155") for item in json_values(answer, "00081199")}
    if sop_instance_uid not in stored:
        raise DeliveryError(
            f"{what}: the answer does not list the instance as stored", retry=True
        )
    if verify:
        _verify_stored(root, sop_instance_uid, what, headers=headers, timeout_s=timeout_s)
    return Ack(f"STOW-RS HTTP {response.status_code}" + (", found by QIDO-RS" if verify else ""))


def _verify_stored(
    root: str, sop_instance_uid: str, what: str, *, headers: dict[str, str] | None,
    timeout_s: float,
) -> None:
    import httpx

    try:
        response = httpx.get(
            f"{root}/instances",
            params={"SOPInstanceUID": sop_instance_uid},
            headers={"Accept": DICOM_JSON, **(headers or {})},
            timeout=timeout_s,
        )
    except httpx.HTTPError as exc:
        raise _http_error(f"{what} (QIDO-RS check)", exc) from exc
    if response.status_code not in (200, 204):
        err = _status_error(f"{what} (QIDO-RS check)", response)
        raise DeliveryError(str(err), retry=True)
    try:
        found = response.json() if response.status_code == 200 and response.content else []
    except ValueError:
        found = []
    uids = {json_value(item, "00080018") for item in found if isinstance(item, dict)}
    if sop_instance_uid not in uids:
        raise DeliveryError(
            f"{what}: the PACS acknowledged the instance but a QIDO-RS search does not find "
            "it (refused after acknowledging, or not indexed yet)",
            retry=True,
        )


def fhir_put(
    body: bytes,
    *,
    base_url: str,
    resource_type: str,
    resource_id: str,
    headers: dict[str, str] | None = None,
    timeout_s: float = 30.0,
) -> Ack:
    """``PUT {base_url}/{resource_type}/{resource_id}`` (an idempotent create-or-update):
    sending the same version twice leaves one resource."""
    import httpx

    url = f"{base_url.rstrip('/')}/{resource_type}/{resource_id}"
    what = f"FHIR PUT {without_credentials(url)}"
    try:
        response = httpx.put(
            url,
            content=body,
            headers={
                "Content-Type": "application/fhir+json",
                "Accept": "application/fhir+json",
                **(headers or {}),
            },
            timeout=timeout_s,
        )
    except httpx.HTTPError as exc:
        raise _http_error(what, exc) from exc
    if response.status_code not in (200, 201):
        raise _status_error(what, response)
    return Ack(f"FHIR HTTP {response.status_code}")
