"""Images in from a PACS: the DICOM C-STORE SCP and the DICOMweb pull, wired to the exams.

:class:`Inbound` owns the SCP (:class:`cxrpilot.interop.dimse.StoreSCP`) and the poll
thread of one app. Every received instance goes through the app's loader (decoded in a
contained worker process, checked, de-identified, exactly as an upload) into its exam's
case (:func:`._services.exams.ingest`), and the draft worker is woken. Refusals are
answered with a DIMSE failure status and a reason; nothing already stored changes. Logs
name cases, AE titles and UID digests, never a patient attribute.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from cxrpilot.errors import CxrpilotError

from ._errors import InvalidInput, Throttled
from ._interop_orm import PullRefusal
from ._orm import Case, Image
from ._services._common import Actor
from ._services.cases import key_patient, load_image
from ._services.exams import ingest, uid_digest

__all__ = ["Inbound", "PullReport", "SopClassMismatch"]

log = logging.getLogger(__name__)


class SopClassMismatch(InvalidInput):
    """The data set's own SOP Class UID is not the one it was sent as."""


@dataclass
class PullReport:
    """What one DICOMweb pull did (no patient attribute: UIDs as digests)."""

    url: str
    since: str | None
    studies: int = 0
    instances: int = 0
    stored: int = 0
    known: int = 0
    refused: list[dict[str, str]] = field(default_factory=list)
    #: Instances not retrieved because an earlier pull was refused them (``pull_refusals``).
    skipped: int = 0
    #: Earlier refusals forgotten before this pull (``retry_refused``).
    forgotten: int = 0
    cases: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "since": self.since,
            "studies": self.studies,
            "instances": self.instances,
            "stored": self.stored,
            "known": self.known,
            "refused": self.refused,
            "skipped": self.skipped,
            "forgotten": self.forgotten,
            "cases": sorted(set(self.cases)),
        }


def _sop_sha256(sop: str) -> str:
    """The key of a refused instance: the SHA-256 of its SOP Instance UID (hex; the first
    12 characters are the :func:`uid_digest` of logs and pull reports)."""
    return hashlib.sha256(sop.encode()).hexdigest()


def _reason(exc: BaseException) -> str:
    """A refusal's reason without the placeholder source name."""
    return str(exc).replace("<bytes>: ", "").replace(" <bytes>", "")


class Inbound:
    """The inbound side of one app: store received bytes, the SCP, the DICOMweb poll."""

    def __init__(self, state: Any) -> None:
        self.state = state
        self.settings = state.settings
        self.scp: Any = None
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    # -- storing ---------------------------------------------------------------------------
    def store(
        self,
        data: bytes,
        *,
        source: str,
        sop_class_uid: str | None = None,
        peer: str | None = None,
    ) -> tuple[Case, bool]:
        """Load ``data`` (a DICOM file) as an upload is loaded and store it in its exam.

        Raises :class:`InvalidInput` (the loader's error as ``__cause__``),
        :class:`SopClassMismatch` or :class:`Throttled`.
        """
        state = self.state
        loaded = load_image(state.loader, data, "<received>")
        ident = loaded.identity
        if sop_class_uid and ident is not None and ident.sop_class_uid not in (None, sop_class_uid):
            raise SopClassMismatch(
                f"the data set's SOP Class UID {ident.sop_class_uid} is not the "
                f"{sop_class_uid} it was sent as"
            )
        with state.sessions() as db:
            case, created = ingest(
                db,
                state.store,
                Actor(None, peer),
                loaded,
                patient_key=key_patient(loaded, state.patient_secret),
                source=source,
            )
        if created:
            state.wake_worker()
        return case, created

    def on_store(self, instance: Any) -> Any:
        """The SCP's callback: store one C-STORE, answer with a status."""
        from cxrpilot.interop.dimse import (
            DOES_NOT_MATCH_SOP_CLASS,
            OUT_OF_RESOURCES,
            StoreResult,
            error_comment,
        )

        digest = uid_digest(instance.sop_instance_uid)
        try:
            case, created = self.store(
                instance.data,
                source="dimse",
                sop_class_uid=instance.sop_class_uid,
                peer=(instance.peer_address or instance.calling_aet)[:64],
            )
        except SopClassMismatch as exc:
            log.info("C-STORE from %s refused (sop %s): %s", instance.calling_aet, digest, exc)
            return StoreResult(DOES_NOT_MATCH_SOP_CLASS, error_comment(str(exc)))
        except Throttled as exc:
            log.warning("C-STORE from %s deferred (sop %s): busy", instance.calling_aet, digest)
            return StoreResult(OUT_OF_RESOURCES, error_comment(f"busy, retry later: {exc}"))
        except InvalidInput as exc:
            cause = exc.__cause__ if isinstance(exc.__cause__, CxrpilotError) else exc
            log.info(
                "C-STORE from %s refused (sop %s): %s", instance.calling_aet, digest, _reason(cause)
            )
            result = StoreResult.from_error(cause)
            return StoreResult(result.status, error_comment(_reason(cause).split(": ")[0]))
        log.info(
            "C-STORE from %s: %s case %d (sop %s)",
            instance.calling_aet,
            "stored in" if created else "already in",
            case.id,
            digest,
        )
        return None

    # -- DICOMweb pull ---------------------------------------------------------------------
    def pull(
        self,
        url: str | None = None,
        *,
        since: date | str | None = None,
        client: Any = None,
        retry_refused: bool = False,
    ) -> PullReport:
        """Query a PACS (QIDO-RS) for CR/DX studies since ``since`` and retrieve (WADO-RS)
        the instances not stored yet. ``url``: the DICOMweb root (default
        ``settings.pacs_url``).

        An instance refused once is kept in ``pull_refusals`` and not retrieved again by any
        later pull (counted as ``skipped``); ``retry_refused`` forgets every refusal first
        (after an upgrade that reads more, say)."""
        from cxrpilot.errors import InvalidInputError
        from cxrpilot.interop.dicomweb import DicomWebClient, DicomWebError, parse_since

        url = url or self.settings.pacs_url
        if not url:
            raise InvalidInputError(
                "no PACS to pull from: give its DICOMweb URL (--url) or set CXRPILOT_PACS_URL"
            )
        since_date = parse_since(since)
        report = PullReport(url=url, since=since_date.isoformat() if since_date else None)
        if retry_refused:
            report.forgotten = self.forget_refusals()
        owned = client is None
        client = client or DicomWebClient(url)
        try:
            for study in client.search_studies(since=since_date):
                report.studies += 1
                try:
                    instances = client.search_instances(study.study_uid)
                except DicomWebError:
                    instances = None  # no instance-level QIDO: retrieve the whole study
                if instances is None:
                    for data in client.retrieve_study(study.study_uid):
                        self._pull_one(report, data, None)
                    continue
                known = self._known_sops([sop for _, sop in instances])
                refused = self._refused_sops([sop for _, sop in instances if sop not in known])
                for series, sop in instances:
                    report.instances += 1
                    if sop in known:
                        report.known += 1
                        continue
                    if sop in refused:
                        report.skipped += 1
                        continue
                    data = client.retrieve_instance(study.study_uid, series, sop)
                    self._pull_one(report, data, sop)
        finally:
            if owned:
                client.close()
        log.info(
            "DICOMweb pull from %s: %d studies, %d stored, %d known, %d refused, %d refused "
            "before",
            url,
            report.studies,
            report.stored,
            report.known,
            len(report.refused),
            report.skipped,
        )
        return report

    def _known_sops(self, sops: list[str]) -> set[str]:
        if not sops:
            return set()
        with self.state.sessions() as db:
            return set(
                db.scalars(select(Image.sop_instance_uid).where(Image.sop_instance_uid.in_(sops)))
            )

    def _refused_sops(self, sops: list[str]) -> set[str]:
        """Those of ``sops`` that an earlier pull was refused."""
        digests = {_sop_sha256(sop): sop for sop in sops}
        if not digests:
            return set()
        with self.state.sessions() as db:
            found = db.scalars(
                select(PullRefusal.sop_sha256).where(PullRefusal.sop_sha256.in_(list(digests)))
            )
            return {digests[d] for d in found}

    def _remember_refusal(self, sop: str, reason: str) -> None:
        with self.state.sessions() as db:
            db.add(PullRefusal(sop_sha256=_sop_sha256(sop), reason=reason[:500]))
            try:
                db.commit()
            except IntegrityError:  # another pull refused it at the same time
                db.rollback()

    def forget_refusals(self) -> int:
        """Forget every instance a pull was refused (they are retrieved again); how many."""
        with self.state.sessions() as db:
            count = db.execute(delete(PullRefusal)).rowcount
            db.commit()
        log.info("DICOMweb pull: %d earlier refusals forgotten", count)
        return count

    def _pull_one(self, report: PullReport, data: bytes, sop: str | None) -> None:
        try:
            case, created = self.store(data, source="dicomweb")
        except Throttled:
            return  # the next pull takes it
        except InvalidInput as exc:
            cause = exc.__cause__ if isinstance(exc.__cause__, CxrpilotError) else exc
            if sop:
                self._remember_refusal(sop, _reason(cause))
            report.refused.append({"sop": uid_digest(sop), "reason": _reason(cause)})
            return
        report.cases.append(case.id)
        report.stored += int(created)
        report.known += int(not created)

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Start the SCP (when ``settings.dicom_port`` is set) and the poll (when
        ``settings.pacs_poll_s`` and ``settings.pacs_url`` are)."""
        s = self.settings
        if s.dicom_port is not None:
            from cxrpilot.interop.dimse import StoreSCP

            self.scp = StoreSCP(
                self.on_store,
                ae_title=s.dicom_ae_title,
                port=s.dicom_port,
                host=s.dicom_host,
                allowed_calling_aets=s.dicom_allowed_aets or None,
                max_associations=s.dicom_max_associations,
            ).start()
        if s.pacs_poll_s > 0 and s.pacs_url:
            self._stop.clear()
            self._poller = threading.Thread(
                target=self._poll, name="cxrpilot-pacs-poll", daemon=True
            )
            self._poller.start()

    def stop(self) -> None:
        self._stop.set()
        if self.scp is not None:
            self.scp.stop()
        if self._poller is not None:
            self._poller.join(10)
            self._poller = None

    def _poll(self) -> None:
        from cxrpilot.interop.dicomweb import DicomWebError

        while not self._stop.is_set():
            since = date.today() - timedelta(days=self.settings.pacs_poll_days)
            try:
                self.pull(since=since)
            except DicomWebError as exc:
                log.warning("DICOMweb poll failed: %s", exc)
            except Exception as exc:  # noqa: BLE001 - the poll must go on
                log.error("DICOMweb poll failed with %s", type(exc).__name__)
            self._stop.wait(self.settings.pacs_poll_s)
