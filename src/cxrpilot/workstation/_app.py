"""The FastAPI application factory."""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from cxrpilot import __version__
from cxrpilot.errors import CxrpilotError

from . import _db
from ._csrf import CSRFMiddleware
from ._errors import Conflict, Throttled, WorkstationError
from ._headers import SecurityHeadersMiddleware
from ._security import load_or_create_secret, password_hasher
from ._settings import Settings, get_settings
from ._storage import BlobStore
from ._validation import StrictJSONMiddleware, validation_error_body
from ._worker import DraftProducer, DraftWorker
from .deps import CSRF_HEADER, SESSION_COOKIE, AppState

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def _import_string(spec: str) -> Any:
    module, _, attr = spec.partition(":")
    if not module or not attr:
        raise CxrpilotError(f"CXRPILOT_DRAFT_PRODUCER={spec!r}: expected 'package.module:callable'")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise CxrpilotError(f"CXRPILOT_DRAFT_PRODUCER={spec!r} cannot be imported: {exc}") from exc


def _pipeline_producer(settings: Settings) -> Callable[[], DraftProducer]:
    """A factory (called in the worker thread, once) of the pipeline's default drafter; the
    worker gives it the case's indication."""

    def factory() -> DraftProducer:
        from cxrpilot import pipeline

        drafter = pipeline.load_drafter(settings.draft_model, quantize=settings.draft_quantize)

        def produce(radiograph, *, indication: str | None = None):
            return pipeline.draft(radiograph, model=drafter, indication=indication)

        return produce

    return factory


def _default_loader(settings: Settings) -> Callable[[bytes], Any]:
    """Uploads are decoded in contained worker processes (a native codec crash, a bomb or a
    runaway decode fails that upload, never the server), a few at a time; the worker also
    writes the de-identified DICOM file to store and reads the exam identifiers, so this
    process parses no untrusted byte. A lateral view passes (kept in its exam, not drafted)."""
    from cxrpilot.imaging import IsolatedLoader

    isolated = IsolatedLoader(
        timeout_s=settings.decode_timeout_s,
        memory_mb=settings.decode_memory_mb,
        max_concurrent=settings.decode_concurrency,
        wait_s=settings.decode_wait_s,
    )

    def load(data: bytes):
        return isolated.load_for_exam(data, check=settings.import_checks)

    return load


def create_app(
    settings: Settings | None = None,
    *,
    draft_producer: DraftProducer | None = None,
    loader: Callable[[bytes], Any] | None = None,
) -> FastAPI:
    """Build the workstation app.

    Parameters
    ----------
    settings : Settings or None
        ``None``: :func:`get_settings` (the ``CXRPILOT_*`` environment).
    draft_producer : callable or None
        ``Radiograph -> Draft`` run by the background worker. ``None``: the callable named by
        ``settings.draft_producer``, else :func:`cxrpilot.pipeline.draft` with
        ``settings.draft_model`` (loaded once, in the worker thread, on the first job).
    loader : callable or None
        ``bytes -> Radiograph`` used on import; ``None``: :func:`cxrpilot.imaging.load`
        (which de-identifies DICOM headers) in a contained worker process
        (:class:`cxrpilot.imaging.IsolatedLoader`, budgets from ``settings.decode_*``), with
        its checks unless ``settings.import_checks`` is false.

    Returns
    -------
    fastapi.FastAPI
        With the schema migrated to the newest revision (when ``settings.auto_migrate``); the
        draft worker starts and stops with the app's lifespan.

    Examples
    --------
    >>> from cxrpilot.workstation import Settings, create_app        # doctest: +SKIP
    >>> app = create_app(Settings(data_dir="ws-data"))              # doctest: +SKIP
    """
    settings = settings or get_settings()
    if settings.secret_key is not None:
        secret = settings.secret_key.get_secret_value().encode()
    else:
        secret = load_or_create_secret(settings.data_dir / "secret_key")
    engine = _db.make_engine(settings.resolved_database_url)
    if settings.auto_migrate:
        _db.upgrade(engine)
    state = AppState(
        settings=settings,
        engine=engine,
        sessions=_db.make_sessionmaker(engine),
        store=BlobStore(settings.image_dir),
        secret=secret,
        loader=loader or _default_loader(settings),
        hasher=password_hasher(settings.password_time_cost, settings.password_memory_kib),
    )
    if settings.patient_key_secret is not None:
        state.patient_secret = settings.patient_key_secret.get_secret_value().encode()
    else:
        state.patient_secret = load_or_create_secret(settings.data_dir / "patient_key_secret")
    from ._inbound import Inbound

    state.inbound = Inbound(state)
    if settings.worker_threads > 0:
        if draft_producer is not None:
            producer, lazy = draft_producer, False
        elif settings.draft_producer:
            producer, lazy = _import_string(settings.draft_producer), False
        else:
            producer, lazy = _pipeline_producer(settings), True
        state.worker = DraftWorker(
            state.sessions,
            state.store,
            producer,
            threads=settings.worker_threads,
            lease_s=settings.job_lease_s,
            max_attempts=settings.job_max_attempts,
            lazy_producer=lazy,
        )

    # Outbound: documents queued when a report is signed (in its transaction), a sender.
    from ._outbox import OutboxSender
    from ._services.outbound import Outbound

    outbound = Outbound(settings, state.store)
    state.sessions.configure(info={"on_report_signed": outbound})
    state.extra["outbound"] = outbound
    if settings.outbox_sender and (outbound.pacs or outbound.fhir):
        state.extra["outbox"] = OutboxSender(state.sessions, settings)
        outbound.listeners.append(state.extra["outbox"].notify)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if state.worker is not None:
            state.worker.start(reclaim=settings.reclaim_jobs_on_start)
        if state.extra.get("outbox") is not None:
            state.extra["outbox"].start()
        state.inbound.start()  # the DICOM SCP and the DICOMweb poll, when configured
        try:
            yield
        finally:
            state.inbound.stop()
            if state.extra.get("outbox") is not None:
                state.extra["outbox"].stop()
            if state.worker is not None:
                state.worker.stop()
            engine.dispose()

    app = FastAPI(
        title="cxrpilot workstation",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.ws = state
    app.add_middleware(
        CSRFMiddleware,
        secret=secret,
        cookie=SESSION_COOKIE,
        header=CSRF_HEADER,
        exempt=frozenset({"/api/auth/login"}),
    )

    @app.exception_handler(WorkstationError)
    async def _workstation_error(_request: Request, exc: WorkstationError) -> JSONResponse:
        body: dict[str, Any] = {"detail": str(exc)}
        headers = {}
        if isinstance(exc, Conflict) and exc.current:
            body["current"] = exc.current
        if isinstance(exc, Conflict) and exc.code:
            body["code"] = exc.code
        if isinstance(exc, Throttled):
            headers["Retry-After"] = str(exc.retry_after_s)
        return JSONResponse(body, status_code=exc.status_code, headers=headers)

    @app.exception_handler(CxrpilotError)
    async def _user_error(_request: Request, exc: CxrpilotError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(validation_error_body(list(exc.errors())), status_code=422)

    app.add_middleware(StrictJSONMiddleware)

    app.add_middleware(SecurityHeadersMiddleware)

    from . import _assets
    from ._routes import (
        audit,
        auth,
        cases,
        evaluations,
        exams,
        pacs,
        pages,
        reads,
        studies,
        templates,
        users,
        viewer,
        worklist,
    )

    routers = (auth, users, cases, viewer, exams, pacs, reads, templates, worklist, studies, evaluations, audit, pages)
    for module in routers:
        app.include_router(module.router)
    app.mount("/static", _assets.AssetFiles(directory=_assets.STATIC), name="static")

    from ._routes import fhir, outbox, tokens

    for module in (tokens, outbox, fhir):
        app.include_router(module.router)

    @app.get("/api/health", tags=["health"])
    def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "version": __version__,
            "database": engine.dialect.name,
            "schema": _db.current_revision(engine),
            "worker_threads": settings.worker_threads if state.worker is not None else 0,
        }

    return app
