"""Importing images into cases, draft jobs, and who may see a case."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cxrpilot.errors import CxrpilotError, DecoderBusyError
from cxrpilot.imaging import Radiograph
from cxrpilot.vocabulary import Role

from .._errors import Conflict, Forbidden, InvalidInput, NotFound, Throttled
from .._orm import AiDraft, Case, Image, Job, Read, utcnow
from .._storage import BlobStore
from .._study_orm import EvaluationTask
from ._common import Actor, audit, get_or_404
from .exams import Loaded, ingest
from .png16 import decode_png16

#: ``bytes -> Radiograph``; or ``bytes -> (Radiograph, de-identified DICOM file or None,
#: note)`` as :meth:`cxrpilot.imaging.IsolatedLoader.load_for_storage` returns; or ``bytes
#: -> ExamImage`` as :meth:`cxrpilot.imaging.IsolatedLoader.load_for_exam` returns (the
#: app's default: the server process then parses no untrusted byte itself, and a lateral
#: view is kept, not drafted).
Loader = Callable[[bytes], Any]
IMPORT_ROLES = (Role.ADMIN, Role.COORDINATOR)

log = logging.getLogger(__name__)


def deidentified_dicom(radiograph: Radiograph, source: bytes) -> tuple[bytes | None, str]:
    """The de-identified DICOM file to store for ``source`` (see
    :func:`cxrpilot.imaging.deidentified_file`), for loaders that return a bare Radiograph.

    Returns ``(bytes, "kept")`` or ``(None, reason)``; the original bytes are never stored.
    This parses ``source`` in this process: the app's default loader builds the file in
    its decode worker instead.
    """
    if radiograph.header is None:
        return None, "no de-identified header from the loader"
    from cxrpilot.imaging import deidentified_file

    try:
        return deidentified_file(source, source=radiograph.source), "kept"
    except CxrpilotError as exc:
        return None, str(exc)


def _identity(radiograph: Radiograph, data: bytes) -> Any:
    """Exam identifiers for loaders that do not give them (parsed in this process)."""
    if radiograph.format != "dicom":
        return None
    from cxrpilot.imaging import study_identity

    try:
        return study_identity(data)
    except CxrpilotError:
        return None


def load_image(loader: Loader, data: bytes, name: str) -> Loaded:
    """Run ``loader`` on ``data``; its refusals become :class:`InvalidInput` naming ``name``
    (the loader's own error is the ``__cause__``), a busy decoder :class:`Throttled`."""
    from cxrpilot.imaging import ExamImage

    try:
        out = loader(data)
    except DecoderBusyError as exc:
        raise Throttled(f"{name}: {exc}", retry_after_s=5) from exc
    except CxrpilotError as exc:
        raise InvalidInput(f"{name}: {exc}") from exc
    if isinstance(out, ExamImage):
        return Loaded(
            out.radiograph, out.dicom_file, out.dicom_note, out.identity, out.not_drafted_reason
        )
    if isinstance(out, tuple):
        rg, dicom_file, note = out
        return Loaded(rg, dicom_file, note, _identity(rg, data))
    if out.format != "dicom":
        return Loaded(out, None, "not DICOM")
    return Loaded(out, *deidentified_dicom(out, data), _identity(out, data))


def import_bytes(
    db: Session,
    store: BlobStore,
    loader: Loader,
    actor: Actor,
    data: bytes,
    *,
    name: str,
    label: str | None = None,
    indication: str = "",
    reference_text: str = "",
    source: str = "upload",
    patient_secret: bytes | None = None,
) -> tuple[Case, bool]:
    """Import one image into its exam's case (see :mod:`.exams`) and queue its draft.
    Returns ``(case, created)``; an image imported before (the same bytes, or the same
    SOP instance) gives its existing case and ``created=False``.

    ``name`` (a file name) is used in error messages only, never stored: file names can
    carry patient names. ``patient_secret`` keys the pseudonymous patient key of DICOM
    images (without it no key is kept and no priors are found).
    """
    actor.require(*IMPORT_ROLES)
    if not data:
        raise InvalidInput(f"{name}: the file is empty")
    loaded = load_image(loader, data, name)
    return ingest(
        db,
        store,
        actor,
        loaded,
        patient_key=key_patient(loaded, patient_secret),
        label=label,
        indication=indication,
        reference_text=reference_text,
        source=source,
    )


def key_patient(loaded: Loaded, secret: bytes | None) -> str | None:
    """The pseudonymous patient key of a loaded image (None without an ID or a secret):
    keyed by Issuer of Patient ID too when the image names one."""
    if loaded.identity is None or not secret:
        return None
    from cxrpilot.imaging import patient_key

    ident = loaded.identity
    return patient_key(ident.patient_id, secret, ident.issuer_of_patient_id)


def import_folder(
    db: Session,
    store: BlobStore,
    loader: Loader,
    actor: Actor,
    folder: str,
    *,
    roots: list[Path],
    patient_secret: bytes | None = None,
) -> list[dict[str, Any]]:
    """Import every file under ``folder`` (which must lie inside one of ``roots``).

    Returns one result per file: ``{"file": relative path, "case_id": ..., "created": ...}``
    or ``{"file": ..., "error": message}``. One bad file does not stop the others, and
    nothing escapes half-way: each file is its own transaction (committed when imported,
    rolled back when refused), and every file gets a result, whatever went wrong.
    """
    actor.require(*IMPORT_ROLES)
    if not roots:
        raise Forbidden(
            "folder import is off: set CXRPILOT_IMPORT_ROOTS to the folders that may be imported from"
        )
    path = Path(folder).expanduser().resolve()
    if not any(path.is_relative_to(Path(r).expanduser().resolve()) for r in roots):
        raise Forbidden(
            f"folder {folder!r} is outside the import roots ({', '.join(str(r) for r in roots)})"
        )
    if not path.is_dir():
        raise InvalidInput(f"folder {folder!r} does not exist or is not a folder")
    results: list[dict[str, Any]] = []
    for file in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
        rel = str(file.relative_to(path))
        try:
            data = file.read_bytes()
        except OSError as exc:
            results.append({"file": rel, "error": f"{rel}: cannot be read ({exc.strerror})"})
            continue
        try:
            case, created = import_bytes(
                db,
                store,
                loader,
                actor,
                data,
                name=rel,
                source="folder",
                patient_secret=patient_secret,
            )
        except (InvalidInput, Throttled) as exc:
            db.rollback()
            results.append({"file": rel, "error": str(exc)})
            continue
        except Exception as exc:  # noqa: BLE001 - one file's failure must not abort the rest
            db.rollback()
            log.error("folder import: a file failed with %s", type(exc).__name__)  # no name: PHI
            results.append(
                {"file": rel, "error": f"{rel}: not imported ({type(exc).__name__}); see the log"}
            )
            continue
        results.append({"file": rel, "case_id": case.id, "created": created})
    audit(
        db,
        actor,
        "case.import_folder",
        "folder",
        None,
        files=len(results),
        failed=sum("error" in r for r in results),
    )
    db.commit()
    return results


def radiograph_of(store: BlobStore, image: Image) -> Radiograph:
    """The radiograph of a stored image, as the pipeline sees it (display pixels + metadata)."""
    header = None
    if image.dicom_path:
        import pydicom

        header = pydicom.dcmread(io.BytesIO(store.read(image.dicom_path)), stop_before_pixels=True)
    meta = image.meta or {}
    spacing = meta.get("pixel_spacing_mm")
    return Radiograph(
        pixels=decode_png16(store.read(image.display_path)),
        source=str(store.path(image.display_path)),
        format=image.format,
        sha256=image.source_sha256,
        modality=meta.get("modality"),
        view_position=meta.get("view_position"),
        body_part=meta.get("body_part"),
        photometric=meta.get("photometric") or "MONOCHROME2",
        bits_stored=int(meta.get("bits_stored") or 8),
        pixel_spacing_mm=tuple(spacing) if spacing else None,
        patient_age_years=meta.get("patient_age_years"),
        patient_sex=meta.get("patient_sex"),
        header=header,
    )


def latest_job(db: Session, case_id: int) -> Job | None:
    return db.scalar(
        select(Job)
        .where(Job.case_id == case_id, Job.kind == "draft")
        .order_by(Job.id.desc())
        .limit(1)
    )


def latest_draft(db: Session, case_id: int) -> AiDraft | None:
    return db.scalar(
        select(AiDraft).where(AiDraft.case_id == case_id).order_by(AiDraft.id.desc()).limit(1)
    )


def draft_status(db: Session, case_id: int) -> tuple[str, str | None]:
    """``("pending" | "ready" | "failed" | "none", error)`` of the case's draft."""
    job = latest_job(db, case_id)
    if job is None:
        if latest_draft(db, case_id):
            return "ready", None
        case = db.get(Case, case_id)
        return "none", (case.not_drafted_reason or None) if case is not None else None
    if job.status in ("pending", "running"):
        return "pending", None
    if job.status == "failed":
        return "failed", job.error
    return "ready", None


def request_draft(db: Session, actor: Actor, case_id: int) -> Job:
    """Queue a new draft of a case (e.g. after a failure or a model change)."""
    actor.require(*IMPORT_ROLES)
    case = get_or_404(db, Case, case_id)
    if case.not_drafted_reason:
        raise Conflict(f"case {case_id} is not drafted: {case.not_drafted_reason}")
    job = latest_job(db, case_id)
    if job is not None and job.status in ("pending", "running"):
        raise Conflict(f"case {case_id} already has a draft job {job.status}")
    job = Job(kind="draft", case_id=case_id)
    db.add(job)
    db.flush()
    audit(db, actor, "draft.request", "case", case_id, job_id=job.id)
    db.commit()
    return job


def list_cases(
    db: Session, actor: Actor, *, limit: int = 200, offset: int = 0, q: str = ""
) -> list[dict[str, Any]]:
    """Cases by id with their draft state and number of reads; ``q``: only those whose label
    or indication contains it (case-insensitive)."""
    actor.require(*IMPORT_ROLES)
    query = select(Case).order_by(Case.id).limit(limit).offset(offset)
    if q.strip():
        needle = q.strip().lower()
        query = query.where(
            func.lower(Case.label).contains(needle, autoescape=True)
            | func.lower(Case.indication).contains(needle, autoescape=True)
        )
    cases = list(db.scalars(query))
    reads = dict(
        db.execute(
            select(Read.case_id, func.count())
            .where(Read.case_id.in_([c.id for c in cases]))
            .group_by(Read.case_id)
        ).all()
    )
    out = []
    for c in cases:
        status, error = draft_status(db, c.id)
        out.append(
            {"case": c, "draft_status": status, "draft_error": error, "reads": reads.get(c.id, 0)}
        )
    return out


def count_reads(db: Session, case_id: int) -> int:
    return int(
        db.scalar(select(func.count()).select_from(Read).where(Read.case_id == case_id)) or 0
    )


def check_case_access(db: Session, actor: Actor, case_id: int) -> Case:
    """The case, if ``actor`` may see it: staff always, a reader with a read of it (available
    now), an evaluator with a task on it. Otherwise :class:`Forbidden`."""
    case = db.get(Case, case_id)
    if case is None:
        raise NotFound(f"case {case_id} does not exist")
    role = actor.role
    if role in IMPORT_ROLES:
        return case
    user_id = actor.user.id if actor.user else -1
    if role == Role.RADIOLOGIST:
        now = utcnow()
        reads = db.scalars(select(Read).where(Read.case_id == case_id, Read.reader_id == user_id))
        if any(r.available_from is None or r.available_from <= now for r in reads):
            return case
    elif role == Role.EVALUATOR:  # noqa: SIM102 - one branch per role
        if db.scalar(
            select(EvaluationTask.id)
            .where(EvaluationTask.case_id == case_id, EvaluationTask.evaluator_id == user_id)
            .limit(1)
        ):
            return case
    raise Forbidden(f"case {case_id} is not assigned to you")


def case_image(db: Session, actor: Actor, case_id: int) -> Image:
    """The image of the case, if ``actor`` may see the case (:func:`check_case_access`)."""
    case = check_case_access(db, actor, case_id)
    image = db.get(Image, case.image_id)
    if image is None:  # a case always has its image; a broken row is a server fault
        raise RuntimeError(f"case {case_id} has no image row {case.image_id}")
    return image
