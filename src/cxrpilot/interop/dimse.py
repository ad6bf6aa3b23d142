"""A DICOM C-STORE SCP (pynetdicom) that hands each received instance to a callback.

:class:`StoreSCP` listens on a TCP port under an AE title, negotiates the storage SOP
classes it accepts (CR, DX for presentation and for processing, Secondary Capture) and
Verification (C-ECHO),
and calls ``on_store(ReceivedInstance)`` for every C-STORE with the instance as the
peer encoded it (a DICOM Part 10 file, bytes): the SCP decodes nothing itself, so the
callback can decode untrusted data where it likes (a contained worker process).

Storage SOP classes it does not accept are, by default, still negotiated, so that a
C-STORE of a CT gets a failure status with a reason (``0x0122`` *Refused: SOP Class not
supported*, Error Comment "CT Image Storage is not accepted ...") instead of a bare
association rejection; the association goes on and the next instance is stored.

The callback returns ``None`` (success), a :class:`StoreResult`, or raises: a
:class:`~cxrpilot.errors.CxrpilotError` becomes a failure status by its class (see
:meth:`StoreResult.from_error`), anything else ``0x0110`` *Processing failure*. Failure
statuses carry an Error Comment (0000,0902), at most 64 characters, that says why.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Self

from cxrpilot.errors import (
    CxrpilotError,
    DecoderBusyError,
    InvalidImageError,
    InvalidInputError,
    UnsupportedImageError,
)

__all__ = [
    "StoreSCP",
    "ReceivedInstance",
    "StoreResult",
    "ACCEPTED_SOP_CLASSES",
    "SUCCESS",
    "REFUSED_SOP_CLASS",
    "OUT_OF_RESOURCES",
    "DOES_NOT_MATCH_SOP_CLASS",
    "CANNOT_UNDERSTAND",
    "NOT_ACCEPTED",
    "PROCESSING_FAILURE",
    "check_ae_title",
]

log = logging.getLogger(__name__)

#: SOP classes passed to the callback by default: CR, DX for presentation, DX for
#: processing, and Secondary Capture (digitised films and archives such as SIIM's store
#: chest radiographs so, with Modality CR or DX). Which of their instances are taken is the
#: callback's decision (the workstation: a human chest radiograph with Modality CR/DX).
ACCEPTED_SOP_CLASSES: dict[str, str] = {
    "1.2.840.10008.5.1.4.1.1.1": "Computed Radiography Image Storage",
    "1.2.840.10008.5.1.4.1.1.1.1": "Digital X-Ray Image Storage - For Presentation",
    "1.2.840.10008.5.1.4.1.1.1.1.1": "Digital X-Ray Image Storage - For Processing",
    "1.2.840.10008.5.1.4.1.1.7": "Secondary Capture Image Storage",
}
VERIFICATION = "1.2.840.10008.1.1"

# C-STORE statuses (DICOM PS3.4 B.2.3, PS3.7 C.4.2.1.4).
SUCCESS = 0x0000
#: Refused: SOP Class not supported (a storage SOP class this SCP does not take: CT, MR ...).
REFUSED_SOP_CLASS = 0x0122
#: Processing failure (an unexpected error of the receiving side).
PROCESSING_FAILURE = 0x0110
#: Refused: Out of Resources (decoders busy, database unreachable: the sender may retry).
OUT_OF_RESOURCES = 0xA700
#: Error: Data Set does not match SOP Class (e.g. the data set's own SOP Class UID differs).
DOES_NOT_MATCH_SOP_CLASS = 0xA900
#: Error: Cannot understand (a data set that cannot be parsed or decoded).
CANNOT_UNDERSTAND = 0xC000
#: Error (0xC000 range): a readable image that is not accepted (not a human chest
#: radiograph: another body part, a veterinary study, a raw 'for processing' image).
NOT_ACCEPTED = 0xC001

_AE_TITLE = re.compile(r"^[\x20-\x5b\x5d-\x7e]{1,16}$")  # printable ASCII without backslash
_COMMENT_MAX = 64  # Error Comment is LO: 64 characters


def check_ae_title(value: str, *, what: str = "AE title") -> str:
    """``value`` stripped, if it is a valid AE title (1-16 printable ASCII characters, no
    backslash, not only spaces); otherwise :class:`~cxrpilot.errors.InvalidInputError`."""
    title = (value or "").strip()
    if not title or not _AE_TITLE.match(title):
        raise InvalidInputError(
            f"{what} {value!r} is not valid: expected 1-16 printable ASCII characters "
            "without a backslash (e.g. CXRPILOT)"
        )
    return title


def error_comment(text: str) -> str:
    """``text`` fitted into an Error Comment: one line, ASCII, at most 64 characters, cut
    at a word boundary."""
    line = re.sub(r"[^\x20-\x5b\x5d-\x7e]+", " ", text).strip()
    if len(line) <= _COMMENT_MAX:
        return line
    cut = line[: _COMMENT_MAX - 3].rsplit(" ", 1)[0].rstrip(" ,;:")
    return cut + "..."


@dataclass(frozen=True)
class ReceivedInstance:
    """One instance received by C-STORE, as the peer encoded it.

    Attributes
    ----------
    data : bytes
        A DICOM Part 10 file: preamble, file meta (with the negotiated transfer syntax)
        and the data set exactly as sent. Not decoded: untrusted input.
    sop_class_uid, sop_instance_uid : str
        From the C-STORE request (the command set), not from the data set.
    transfer_syntax : str
        The presentation context's transfer syntax UID.
    calling_aet, called_aet : str
        The peer's AE title and the one it called.
    peer_address : str
        The peer's IP address.
    """

    data: bytes
    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax: str
    calling_aet: str
    called_aet: str
    peer_address: str = ""


@dataclass(frozen=True)
class StoreResult:
    """The answer to one C-STORE: a status and, for failures, why (Error Comment)."""

    status: int = SUCCESS
    comment: str = ""

    @property
    def ok(self) -> bool:
        return self.status == SUCCESS or (self.status & 0xF000) == 0xB000

    @classmethod
    def from_error(cls, exc: BaseException) -> StoreResult:
        """The failure status of an error raised while storing.

        ``DecoderBusyError`` -> ``0xA700`` (out of resources: retry later);
        ``InvalidImageError`` (unparseable, truncated, corrupt) -> ``0xC000``;
        ``UnsupportedImageError`` (a readable image that is not a chest radiograph
        cxrpilot reads) -> ``0xC001``; another ``CxrpilotError`` -> ``0xC001``;
        anything else -> ``0x0110`` with a comment that names no detail.
        """
        if isinstance(exc, DecoderBusyError):
            return cls(OUT_OF_RESOURCES, error_comment(f"busy, retry later: {exc}"))
        if isinstance(exc, InvalidImageError):
            return cls(CANNOT_UNDERSTAND, error_comment(str(exc)))
        if isinstance(exc, UnsupportedImageError | CxrpilotError):
            return cls(NOT_ACCEPTED, error_comment(str(exc)))
        return cls(PROCESSING_FAILURE, f"processing failure ({type(exc).__name__})")


StoreCallback = Callable[[ReceivedInstance], "StoreResult | None"]


class StoreSCP:
    """A C-STORE SCP on ``host:port`` under ``ae_title`` that passes instances to ``on_store``.

    Parameters
    ----------
    on_store : callable
        ``ReceivedInstance -> StoreResult | None``, called in the association's thread
        (several associations run at once, up to ``max_associations``); ``None`` means
        success; an exception becomes a failure status (:meth:`StoreResult.from_error`).
    ae_title : str, default "CXRPILOT"
        This SCP's AE title (1-16 characters).
    port : int, default 11112
        TCP port; 0 picks a free one (see :attr:`port` after :meth:`start`).
    host : str, default "127.0.0.1"
        Address to listen on ("0.0.0.0": every interface).
    sop_classes : iterable of str
        Storage SOP class UIDs stored (default :data:`ACCEPTED_SOP_CLASSES`).
    refuse_others : bool, default True
        Negotiate every other storage SOP class too and answer its C-STOREs with
        ``0x0122`` and a reason; False rejects them at association negotiation instead.
    require_called_aet : bool, default True
        Reject associations that call another AE title.
    allowed_calling_aets : iterable of str or None
        Only these peers may associate (None: any).
    max_associations : int, default 8
        Associations served at once.
    network_timeout_s : float, default 60
        Idle time after which an association is dropped.

    Examples
    --------
    >>> scp = StoreSCP(lambda inst: None, port=0)            # doctest: +SKIP
    >>> with scp:                                            # doctest: +SKIP
    ...     print(scp.ae_title, scp.port)
    CXRPILOT 40123
    """

    def __init__(
        self,
        on_store: StoreCallback,
        *,
        ae_title: str = "CXRPILOT",
        port: int = 11112,
        host: str = "127.0.0.1",
        sop_classes: Iterable[str] = tuple(ACCEPTED_SOP_CLASSES),
        refuse_others: bool = True,
        require_called_aet: bool = True,
        allowed_calling_aets: Iterable[str] | None = None,
        max_associations: int = 8,
        network_timeout_s: float = 60.0,
    ) -> None:
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise InvalidInputError(f"DICOM port {port!r} is not valid: expected 0-65535")
        if not isinstance(max_associations, int) or max_associations < 1:
            raise InvalidInputError(
                f"max_associations={max_associations!r}: expected a positive integer"
            )
        self.on_store = on_store
        self.ae_title = check_ae_title(ae_title)
        self.host = host
        self._requested_port = port
        self.sop_classes = tuple(dict.fromkeys(sop_classes))
        for uid in self.sop_classes:
            if not re.fullmatch(r"[0-9.]{1,64}", uid):
                raise InvalidInputError(f"SOP class UID {uid!r} is not valid")
        self.refuse_others = refuse_others
        self.require_called_aet = require_called_aet
        self.allowed_calling_aets = (
            tuple(check_ae_title(a, what="calling AE title") for a in allowed_calling_aets)
            if allowed_calling_aets is not None
            else None
        )
        self.max_associations = max_associations
        self.network_timeout_s = float(network_timeout_s)
        self._server: Any = None
        self._lock = threading.Lock()

    # -- life cycle ------------------------------------------------------------------------
    def _application_entity(self) -> Any:
        from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts

        ae = AE(ae_title=self.ae_title)
        ae.maximum_associations = self.max_associations
        ae.network_timeout = self.network_timeout_s
        ae.require_called_aet = self.require_called_aet
        if self.allowed_calling_aets is not None:
            ae.require_calling_aet = list(self.allowed_calling_aets)
        ae.add_supported_context(VERIFICATION)
        for uid in self.sop_classes:
            ae.add_supported_context(uid, ALL_TRANSFER_SYNTAXES)
        if self.refuse_others:
            for cx in AllStoragePresentationContexts:
                if cx.abstract_syntax not in self.sop_classes:
                    ae.add_supported_context(cx.abstract_syntax, ALL_TRANSFER_SYNTAXES)
        return ae

    def start(self) -> StoreSCP:
        """Start listening in background threads (returns at once). Raises
        :class:`~cxrpilot.errors.InvalidInputError` when the port cannot be bound."""
        from pynetdicom import evt

        with self._lock:
            if self._server is not None:
                return self
            ae = self._application_entity()
            handlers = [(evt.EVT_C_STORE, self._handle_store), (evt.EVT_C_ECHO, _handle_echo)]
            try:
                self._server = ae.start_server(
                    (self.host, self._requested_port), block=False, evt_handlers=handlers
                )
            except OSError as exc:
                raise InvalidInputError(
                    f"cannot listen for DICOM on {self.host}:{self._requested_port}: "
                    f"{exc.strerror or exc}; choose another port (--dicom-port)"
                ) from exc
        log.info("DICOM SCP %s listening on %s:%d", self.ae_title, self.host, self.port)
        return self

    def stop(self) -> None:
        """Stop listening and end the open associations."""
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.shutdown()

    def serve_forever(self) -> None:
        """Start, then block until interrupted (Ctrl-C / SIGTERM), then stop."""
        self.start()
        try:
            threading.Event().wait()
        finally:
            self.stop()

    @property
    def port(self) -> int:
        """The port listened on (the chosen one when started with port 0)."""
        if self._server is not None:
            return int(self._server.server_address[1])
        return self._requested_port

    @property
    def running(self) -> bool:
        return self._server is not None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- C-STORE ---------------------------------------------------------------------------
    def _handle_store(self, event: Any) -> Any:
        request = event.request
        sop_class = str(request.AffectedSOPClassUID or "")
        if sop_class not in self.sop_classes:
            return _status(StoreResult(REFUSED_SOP_CLASS, _refusal(sop_class)))
        assoc = event.assoc
        try:
            instance = ReceivedInstance(
                data=event.encoded_dataset(include_meta=True),
                sop_class_uid=sop_class,
                sop_instance_uid=str(request.AffectedSOPInstanceUID or ""),
                transfer_syntax=str(event.context.transfer_syntax),
                calling_aet=str(assoc.requestor.ae_title).strip(),
                called_aet=str(assoc.acceptor.ae_title).strip(),
                peer_address=str(assoc.requestor.address or ""),
            )
            result = self.on_store(instance)
        except Exception as exc:  # noqa: BLE001 - every failure is a status to the peer
            result = StoreResult.from_error(exc)
            if result.status == PROCESSING_FAILURE:
                log.error("C-STORE handler failed with %s", type(exc).__name__)
        return _status(result if result is not None else StoreResult())


def _refusal(sop_class: str) -> str:
    from pydicom.uid import UID

    name = UID(sop_class).name if sop_class else "(no SOP class)"
    name = name.replace(" Image Storage", "").replace(" Storage", "")
    return error_comment(f"{name} is not accepted: cxrpilot takes CR/DX chest radiographs")


def _status(result: StoreResult) -> Any:
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds.Status = result.status
    if result.comment and not result.ok:
        ds.ErrorComment = error_comment(result.comment)
    return ds


def _handle_echo(_event: Any) -> int:
    return SUCCESS
