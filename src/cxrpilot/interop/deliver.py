"""Small clients that deliver one document and say whether the receiver acknowledged it:
C-STORE (pynetdicom), STOW-RS and FHIR ``PUT`` (httpx).

Each returns an :class:`Ack` when the receiver took the document, and raises
:class:`DeliveryError` otherwise, with ``retry`` telling a transient failure (no
connection, timeout, a busy or failing server) from one that will fail again the same way
(the receiver refused this document). Nothing here retries or keeps state: the
workstation's outbox does.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass

from cxrpilot.errors import CxrpilotError

__all__ = ["Ack", "DeliveryError", "c_store", "stow_rs", "fhir_put", "STORE_OK"]

#: C-STORE statuses that mean "stored": success, and the warnings B000 (coercion of data
#: elements), B007 (data set does not match SOP class), B006 (elements discarded).
STORE_OK = frozenset({0x0000, 0xB000, 0xB006, 0xB007})
# C-STORE failures worth trying again: out of resources (A7xx), cannot understand /
# processing failure (C000-CFFF, 0110) may be transient on a PACS under load.
_STORE_TRANSIENT_PREFIXES = (0xA7, 0xC0)


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
        retry=(int(code) >> 8) in _STORE_TRANSIENT_PREFIXES or int(code) == 0x0110,
    )


def _http_error(what: str, exc: Exception) -> DeliveryError:
    return DeliveryError(f"{what}: {type(exc).__name__}: {exc}"[:500], retry=True)


def _status_error(what: str, response) -> DeliveryError:
    code = response.status_code
    retry = code >= 500 or code in (408, 425, 429)
    return DeliveryError(f"{what}: HTTP {code} {response.text[:300]!r}", retry=retry)


def stow_rs(
    data: bytes,
    *,
    url: str,
    sop_instance_uid: str,
    headers: dict[str, str] | None = None,
    timeout_s: float = 30.0,
) -> Ack:
    """Store one DICOM file with STOW-RS (``POST {url}/studies``) and check that the
    answer lists ``sop_instance_uid`` as stored (Referenced SOP Sequence), not failed."""
    import httpx

    boundary = f"cxrpilot-{uuid.uuid4().hex}"
    body = (
        f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    what = f"STOW-RS to {url}"
    try:
        response = httpx.post(
            f"{url.rstrip('/')}/studies",
            content=body,
            headers={
                "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
                "Accept": "application/dicom+json",
                **(headers or {}),
            },
            timeout=timeout_s,
        )
    except httpx.HTTPError as exc:
        raise _http_error(what, exc) from exc
    if response.status_code not in (200, 202):
        raise _status_error(what, response)
    try:
        answer = response.json() if response.content else {}
    except ValueError:
        answer = {}
    stored = {
        (item.get("00081155", {}).get("Value") or [None])[0]
        for item in (answer.get("00081199", {}).get("Value") or [])
    }
    failed = answer.get("00081198", {}).get("Value") or []
    if sop_instance_uid in stored and not failed:
        return Ack(f"STOW-RS HTTP {response.status_code}")
    if failed:
        reason = (failed[0].get("00081197", {}).get("Value") or ["?"])[0]
        raise DeliveryError(f"{what}: instance refused (failure reason {reason})", retry=False)
    raise DeliveryError(f"{what}: the answer does not list the instance as stored", retry=True)


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
    what = f"FHIR PUT {url}"
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
