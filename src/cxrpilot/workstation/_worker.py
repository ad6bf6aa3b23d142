"""The draft worker: threads that take draft jobs from the ``jobs`` table.

The queue is the table, so a restart resumes pending work; a job is claimed by a
compare-and-set UPDATE (safe with several threads or processes on SQLite and PostgreSQL),
leased for ``job_lease_s``, and a job whose lease expired (its worker died) is taken again
until ``job_max_attempts``. Requests never wait for a draft.

Whatever the producer (the pipeline, or one named by ``CXRPILOT_DRAFT_PRODUCER``), the report
text is stored through :func:`cxrpilot.models.composer.clean_section`: no model wording
reaches the text a reader edits or an evaluator sees; the machine facts stay in the findings.
A producer that takes an ``indication`` keyword is given the case's indication (the
IMPRESSION answers it first); one that takes the radiograph only is called with it alone.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import and_, or_, update
from sqlalchemy.orm import Session, sessionmaker

from cxrpilot.draft import Draft
from cxrpilot.errors import CxrpilotError
from cxrpilot.models.composer import clean_section

from ._orm import AiDraft, Case, Image, Job, utcnow
from ._polling import claim_row, lease_holder_name, run_until_stopped
from ._services.cases import radiograph_of
from ._storage import BlobStore

__all__ = ["DraftProducer", "DraftWorker"]

log = logging.getLogger(__name__)

#: Anything that turns a radiograph into a draft (the pipeline, or a test's callable); it may
#: also take ``indication=`` (str or None), see :func:`takes_indication`.
DraftProducer = Callable[..., Draft]

POLL_S = 1.0
MAX_ERROR_CHARS = 2000


def takes_indication(producer: DraftProducer) -> bool:
    """Whether ``producer`` accepts an ``indication`` keyword (or any keyword)."""
    try:
        params = inspect.signature(producer).parameters.values()
    except (TypeError, ValueError):  # a callable without a signature: radiograph only
        return False
    return any(
        p.kind is p.VAR_KEYWORD
        or (p.name == "indication" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))
        for p in params
    )


class DraftWorker:
    """Background threads that turn pending draft jobs into stored drafts."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        store: BlobStore,
        producer: DraftProducer | Callable[[], DraftProducer],
        *,
        threads: int = 1,
        lease_s: int = 300,
        max_attempts: int = 3,
        lazy_producer: bool = False,
    ) -> None:
        self.sessions = sessions
        self.store = store
        self._producer = None if lazy_producer else producer
        self._producer_factory = producer if lazy_producer else None
        self._producer_lock = threading.Lock()
        self.threads = threads
        self.lease_s = lease_s
        self.max_attempts = max_attempts
        self.name = lease_holder_name()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, *, reclaim: bool = True) -> None:
        """Start the threads; ``reclaim`` puts jobs left running by a dead process back."""
        if reclaim:
            with self.sessions() as db:
                db.execute(
                    update(Job)
                    .where(Job.status == "running")
                    .values(status="pending", lease_until=None, worker=None)
                )
                db.commit()
        for i in range(self.threads):
            t = threading.Thread(target=self._run, name=f"cxrpilot-draft-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout)
        self._threads.clear()

    def notify(self) -> None:
        """Wake the threads (a job was queued)."""
        self._wake.set()

    # -- work ------------------------------------------------------------------------------
    def _producer_fn(self) -> DraftProducer:
        if self._producer is None:
            with self._producer_lock:
                if self._producer is None:
                    self._producer = self._producer_factory()  # type: ignore[misc]
        return self._producer  # type: ignore[return-value]

    def claim(self, db: Session) -> Job | None:
        """Claim the oldest claimable job, or None."""
        now = utcnow()
        claimable = or_(
            Job.status == "pending", and_(Job.status == "running", Job.lease_until < now)
        )
        return claim_row(
            db,
            Job,
            claimable,
            status="running",
            attempts=Job.attempts + 1,
            lease_until=now + timedelta(seconds=self.lease_s),
            worker=self.name,
            updated_at=now,
        )

    def run_once(self) -> bool:
        """Process one job if there is one; returns whether one was processed."""
        with self.sessions() as db:
            job = self.claim(db)
            if job is None:
                return False
            if job.attempts > self.max_attempts:
                self._finish(
                    db,
                    job,
                    error=f"gave up after {job.attempts - 1} attempts (the worker stopped each time)",
                )
                return True
            case = db.get(Case, job.case_id)
            image = db.get(Image, case.image_id) if case else None
            try:
                if image is None:
                    raise CxrpilotError(f"case {job.case_id} or its image no longer exists")
                t0 = time.perf_counter()
                radiograph = radiograph_of(self.store, image)
                t_load = time.perf_counter() - t0
                producer = self._producer_fn()
                if takes_indication(producer):
                    draft = producer(radiograph, indication=(case.indication or "").strip() or None)
                else:
                    draft = producer(radiograph)
                if not isinstance(draft, Draft):
                    raise TypeError(
                        f"the draft producer returned {type(draft).__name__}, expected cxrpilot.draft.Draft"
                    )
                findings_text = clean_section(draft.findings_text, "FINDINGS")
                impression_text = clean_section(draft.impression_text, "IMPRESSION")
            except Exception as exc:  # noqa: BLE001 - any failure is recorded on the job
                log.warning("draft job %s failed: %s", job.id, type(exc).__name__)
                retry = (
                    not isinstance(exc, CxrpilotError | TypeError)
                    and job.attempts < self.max_attempts
                )
                self._finish(
                    db, job, error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS], retry=retry
                )
                return True
            d = draft.to_dict()
            db.add(
                AiDraft(
                    case_id=job.case_id,
                    job_id=job.id,
                    model_id=draft.model_id,
                    model_version=draft.model_version,
                    findings=d["findings"],
                    findings_text=findings_text,
                    impression_text=impression_text,
                    maps=d["maps"],
                    timings={
                        "store_load": t_load,
                        **{k: float(v) for k, v in draft.timings.items()},
                    },
                )
            )
            self._finish(db, job)
            return True

    def _finish(
        self, db: Session, job: Job, *, error: str | None = None, retry: bool = False
    ) -> None:
        status = "pending" if retry else ("failed" if error else "done")
        result = db.execute(
            update(Job)
            .where(Job.id == job.id, Job.worker == self.name)
            .values(status=status, error=error, lease_until=None, updated_at=utcnow())
        )
        if result.rowcount != 1:  # the lease expired and another worker owns the job now
            db.rollback()
            return
        db.commit()

    def _run(self) -> None:
        run_until_stopped(self.run_once, self._stop, self._wake, poll_s=POLL_S, log=log, what="draft worker")
