"""The outbox sender: a thread that delivers queued documents to the PACS and the FHIR
server, with retries and exponential back-off.

Like the draft queue, the outbox is a table: a restart resumes where it was. An item is
claimed by a compare-and-set UPDATE and leased; it is marked ``sent`` only after the
receiver acknowledged it (C-STORE success status, STOW-RS listing the instance, and
with ``Settings.pacs_stow_verify`` a QIDO-RS search finding it; FHIR 200/201). If the acknowledgement is lost (the PACS died after storing), the item is sent
again with the same SOP Instance UID, which a PACS stores once. A failure schedules the
next attempt ``base * 2**(attempts-1)`` seconds later (capped at ``max``, with up to 10 %
random jitter), and after ``max_attempts`` the item is ``failed`` (an admin can retry it).

One thread delivers items in queue order, so two versions of one FHIR resource cannot
overtake each other (and an undelivered older version is superseded when a newer one is
queued, see :mod:`._services.outbound`).
"""

from __future__ import annotations

import logging
import random
import threading
from datetime import timedelta

from pydantic import SecretStr
from sqlalchemy import and_, or_, update
from sqlalchemy.orm import Session, sessionmaker

from cxrpilot.interop.deliver import without_credentials

from ._interop_orm import OutboxItem
from ._orm import utcnow
from ._polling import claim_row, lease_holder_name, run_until_stopped
from ._settings import Settings

__all__ = ["OutboxSender", "backoff_s", "channel", "destination"]

log = logging.getLogger(__name__)
POLL_S = 1.0
MAX_ERROR = 1000


def channel(settings: Settings, kind: str) -> str | None:
    """How an item of ``kind`` is sent under ``settings``: ``"c-store"`` (preferred for SRs),
    ``"stow-rs"``, ``"fhir-put"``, or None when no receiver is configured or the kind is
    unknown. The one choice :meth:`OutboxSender.deliver` and :func:`destination` follow."""
    if kind in ("report_sr", "ai_sr"):
        if settings.pacs_store_host:
            return "c-store"
        return "stow-rs" if settings.pacs_stow_url else None
    if kind == "fhir_report":
        return "fhir-put" if settings.fhir_url else None
    return None


def destination(settings: Settings, kind: str) -> str:
    """Where an item of ``kind`` goes under ``settings`` (:func:`channel`), for people: no
    credentials.

    >>> destination(Settings(pacs_store_host="pacs", pacs_store_ae_title="ORTHANC"), "ai_sr")
    'C-STORE ORTHANC@pacs:104'
    >>> destination(Settings(fhir_url="https://u:pw@fhir.example/r4"), "fhir_report")
    'FHIR PUT https://fhir.example/r4'
    >>> destination(Settings(), "report_sr")
    'no PACS configured'
    """
    s = settings
    way = channel(s, kind)
    if way == "c-store":
        return f"C-STORE {s.pacs_store_ae_title}@{s.pacs_store_host}:{s.pacs_store_port}"
    if way == "stow-rs":
        return f"STOW-RS {without_credentials(s.pacs_stow_url)}"
    if way == "fhir-put":
        return f"FHIR PUT {without_credentials(s.fhir_url)}"
    if kind in ("report_sr", "ai_sr"):
        return "no PACS configured"
    return "no FHIR server configured" if kind == "fhir_report" else f"unknown kind {kind}"


def backoff_s(attempts: int, *, base_s: float, max_s: float, rng: random.Random | None = None) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt: ``base * 2**(attempts-1)``,
    at most ``max_s``, plus up to 10 % jitter when ``rng`` is given."""
    delay = min(max_s, base_s * 2 ** max(0, attempts - 1))
    return delay * (1.0 + 0.1 * rng.random()) if rng is not None else delay


def _authorization(secret: SecretStr | None) -> dict[str, str]:
    """The ``Authorization`` header a configured credential makes (none when unset)."""
    return {} if secret is None else {"Authorization": secret.get_secret_value()}


class OutboxSender:
    """Delivers the outbox (see the module docstring)."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings) -> None:
        self.sessions = sessions
        self.settings = settings
        self.name = lease_holder_name()
        self.rng = random.Random()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="cxrpilot-outbox", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def notify(self) -> None:
        """Wake the sender (something was queued)."""
        self._wake.set()

    # -- work --------------------------------------------------------------------------
    def claim(self, db: Session) -> OutboxItem | None:
        now = utcnow()
        due = or_(
            and_(OutboxItem.status == "pending", OutboxItem.next_attempt_at <= now),
            and_(OutboxItem.status == "sending", OutboxItem.lease_until < now),
        )
        lease = timedelta(seconds=self.settings.pacs_timeout_s * 4 + 30)
        return claim_row(
            db,
            OutboxItem,
            due,
            status="sending",
            attempts=OutboxItem.attempts + 1,
            lease_until=now + lease,
            worker=self.name,
        )

    def deliver(self, item: OutboxItem):
        """Send one item; returns the :class:`~cxrpilot.interop.deliver.Ack` or raises
        :class:`~cxrpilot.interop.deliver.DeliveryError`."""
        from cxrpilot.interop import deliver

        s = self.settings
        way = channel(s, item.kind)
        if way == "c-store":
            return deliver.c_store(
                item.payload,
                host=s.pacs_store_host,
                port=s.pacs_store_port,
                called_ae=s.pacs_store_ae_title,
                calling_ae=s.pacs_calling_ae_title,
                timeout_s=s.pacs_timeout_s,
            )
        if way == "stow-rs":
            return deliver.stow_rs(
                item.payload,
                url=s.pacs_stow_url,
                sop_instance_uid=item.document_uid,
                headers=_authorization(s.pacs_stow_authorization),
                timeout_s=s.pacs_timeout_s,
                verify=s.pacs_stow_verify,
            )
        if way == "fhir-put":
            return deliver.fhir_put(
                item.payload,
                base_url=s.fhir_url,
                resource_type="DiagnosticReport",
                resource_id=item.document_uid,
                headers=_authorization(s.fhir_authorization),
                timeout_s=s.pacs_timeout_s,
            )
        if item.kind in ("report_sr", "ai_sr"):
            raise deliver.DeliveryError(
                "no PACS configured (CXRPILOT_PACS_STORE_HOST or CXRPILOT_PACS_STOW_URL)",
                retry=True,
            )
        if item.kind == "fhir_report":
            raise deliver.DeliveryError("no FHIR server configured (CXRPILOT_FHIR_URL)", retry=True)
        raise deliver.DeliveryError(f"outbox item kind {item.kind!r} is not known", retry=False)

    def run_once(self) -> bool:
        """Deliver one due item if there is one; returns whether one was processed."""
        from cxrpilot.interop.deliver import DeliveryError

        with self.sessions() as db:
            item = self.claim(db)
            if item is None:
                return False
            try:
                ack = self.deliver(item)
            except DeliveryError as exc:
                self._failed(db, item, str(exc), retry=exc.retry)
                return True
            except Exception as exc:  # recorded on the item, retried
                log.exception("outbox item %s: unexpected error", item.id)
                self._failed(db, item, f"{type(exc).__name__}: {exc}", retry=True)
                return True
            result = db.execute(
                update(OutboxItem)
                .where(OutboxItem.id == item.id, OutboxItem.worker == self.name)
                .values(
                    status="sent",
                    sent_at=utcnow(),
                    ack=ack.detail[:128],
                    lease_until=None,
                    last_error=None,
                )
            )
            db.commit()
            if result.rowcount != 1:  # lease lost: another sender took it (and will send it)
                log.warning("outbox item %s: lease lost while sending", item.id)
            return True

    def _failed(self, db: Session, item: OutboxItem, error: str, *, retry: bool) -> None:
        s = self.settings
        give_up = not retry or item.attempts >= s.outbox_max_attempts
        delay = backoff_s(
            item.attempts, base_s=s.outbox_retry_base_s, max_s=s.outbox_retry_max_s, rng=self.rng
        )
        log.warning(
            "outbox item %s (%s) attempt %s failed%s", item.id, item.kind, item.attempts,
            "; giving up" if give_up else f"; next in {delay:.1f} s",
        )
        db.execute(
            update(OutboxItem)
            .where(OutboxItem.id == item.id, OutboxItem.worker == self.name)
            .values(
                status="failed" if give_up else "pending",
                next_attempt_at=utcnow() + timedelta(seconds=delay),
                lease_until=None,
                last_error=error[:MAX_ERROR],
            )
        )
        db.commit()

    def _run(self) -> None:
        run_until_stopped(self.run_once, self._stop, self._wake, poll_s=POLL_S, log=log, what="outbox sender")
