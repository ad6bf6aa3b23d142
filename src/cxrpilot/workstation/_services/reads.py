"""Reads: assignment, the worklist, the report editor (open, autosave, sign, amend) and
reading-time events."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cxrpilot.draft import DRAFT_BANNER, report_text
from cxrpilot.vocabulary import CRITICAL_FINDINGS, Arm, Role

from .._errors import Conflict, Forbidden, InvalidInput, NotFound
from .._orm import (
    ARMS,
    REPORT_SECTIONS,
    AiDraft,
    Case,
    Job,
    Read,
    ReadEvent,
    Report,
    User,
    utcnow,
)
from .._reading import EVENT_KINDS, ClientEvent, compute_reading_time, edit_distance
from .._schemas import MAX_CLIENT_MS
from .._study_orm import ProtocolDeviation, ReaderStudy
from ._common import Actor, audit, get_or_404, insert_unique
from .cases import draft_status, latest_draft

MAX_TEXT = 20_000
MAX_EVENTS = 500


def assign(
    db: Session, actor: Actor, *, case_id: int, reader_id: int, arm: str = Arm.AI_ASSISTED.value
) -> Read:
    """Assign a case to a radiologist outside any study."""
    actor.require(Role.ADMIN, Role.COORDINATOR)
    if arm not in ARMS:
        raise InvalidInput(f"arm {arm!r} is not known; expected one of {', '.join(ARMS)}")
    get_or_404(db, Case, case_id)
    reader = get_or_404(db, User, reader_id, "user")
    if reader.role != Role.RADIOLOGIST:
        raise InvalidInput(f"user {reader.username!r} is a {reader.role}, not a radiologist")
    if db.scalar(
        select(Read.id).where(
            Read.study_id.is_(None), Read.case_id == case_id, Read.reader_id == reader_id
        )
    ):
        raise Conflict(f"case {case_id} is already assigned to {reader.username!r}")
    read = Read(case_id=case_id, reader_id=reader_id, arm=arm)
    # (a unique constraint refuses the same case assigned at the same moment by another request)
    insert_unique(db, read, f"case {case_id} is already assigned to {reader.username!r}")
    audit(db, actor, "read.assign", "read", read.id, case_id=case_id, reader_id=reader_id, arm=arm)
    db.commit()
    return read


def _own_read(db: Session, actor: Actor, read_id: int) -> Read:
    """The read, if ``actor`` is a radiologist it is assigned to and it is open now: a user
    no longer a radiologist cannot open, edit, sign or amend even their own reads."""
    actor.require(Role.RADIOLOGIST)
    read = db.get(Read, read_id)
    if read is None:
        raise NotFound(f"read {read_id} does not exist")
    if actor.user is None or read.reader_id != actor.user.id:
        raise Forbidden(f"read {read_id} is not assigned to you")
    if read.available_from is not None and read.available_from > utcnow():
        raise Forbidden(
            f"read {read_id} opens on {read.available_from.isoformat()} (washout period)"
        )
    return read


def _critical_flags(draft: AiDraft | None) -> list[dict[str, Any]]:
    if draft is None:
        return []
    return [
        {"name": f["name"], "status": f["status"], "probability": f.get("probability")}
        for f in draft.findings
        if f["name"] in CRITICAL_FINDINGS and f["status"] in ("present", "uncertain")
    ]


def worklist(db: Session, actor: Actor, *, status: str | None = None) -> list[dict[str, Any]]:
    """The actor's reads that are open now: status, arm, draft state and critical flags.

    In the ``scp`` arm nothing of the AI is shown (no draft state, no flags)."""
    user = actor.require(Role.RADIOLOGIST)
    now = utcnow()
    query = (
        select(Read, Case.label, ReaderStudy.name)
        .join(Case, Read.case_id == Case.id)
        .outerjoin(ReaderStudy, Read.study_id == ReaderStudy.id)
        .where(
            Read.reader_id == user.id,
            or_(Read.available_from.is_(None), Read.available_from <= now),
        )
        .order_by((Read.status == "signed").asc(), Read.id)
    )
    if status is not None:
        query = query.where(Read.status == status)
    rows = db.execute(query).all()
    case_ids = sorted({r.Read.case_id for r in rows})
    jobs = {
        j.case_id: j
        for j in db.scalars(
            select(Job).where(
                Job.id.in_(
                    select(func.max(Job.id)).where(Job.case_id.in_(case_ids)).group_by(Job.case_id)
                )
            )
        )
    }
    drafts = {
        d.case_id: d
        for d in db.scalars(
            select(AiDraft).where(
                AiDraft.id.in_(
                    select(func.max(AiDraft.id))
                    .where(AiDraft.case_id.in_(case_ids))
                    .group_by(AiDraft.case_id)
                )
            )
        )
    }
    items = []
    for read, label, study_name in rows:
        item: dict[str, Any] = {
            "read_id": read.id,
            "case_id": read.case_id,
            "case_label": label,
            "study": study_name,
            "period": read.period,
            "arm": read.arm,
            "status": read.status,
            "draft_status": None,
            "critical_flags": [],
        }
        if read.arm == Arm.AI_ASSISTED:
            job = jobs.get(read.case_id)
            if job is not None and job.status in ("pending", "running"):
                item["draft_status"] = "pending"
            elif job is not None and job.status == "failed":
                item["draft_status"] = "failed"
            else:
                item["draft_status"] = "ready" if read.case_id in drafts else "none"
            item["critical_flags"] = _critical_flags(drafts.get(read.case_id))
        items.append(item)
    return items


def current_report(db: Session, read_id: int) -> Report | None:
    return db.scalar(
        select(Report).where(Report.read_id == read_id).order_by(Report.version.desc()).limit(1)
    )


def read_detail(db: Session, actor: Actor, read_id: int) -> dict[str, Any]:
    """Everything the report editor shows for one read (the reader's own reads only)."""
    read = _own_read(db, actor, read_id)
    case = db.get(Case, read.case_id)
    assert case is not None
    detail: dict[str, Any] = {
        "read": read,
        "case": case,
        "draft": None,
        "draft_status": None,
        "draft_error": None,
    }
    if read.arm == Arm.AI_ASSISTED:
        detail["draft_status"], detail["draft_error"] = draft_status(db, case.id)
        draft = latest_draft(db, case.id)
        if draft is not None and detail["draft_status"] == "ready":
            detail["draft"] = {
                "banner": DRAFT_BANNER,
                "model_id": draft.model_id,
                "model_version": draft.model_version,
                "findings": draft.findings,
                "critical_flags": _critical_flags(draft),
                "findings_text": draft.findings_text,
                "impression_text": draft.impression_text,
                "timings": draft.timings,
                "maps": draft.maps,
            }
    detail["reports"] = list(
        db.scalars(select(Report).where(Report.read_id == read.id).order_by(Report.version))
    )
    return detail


def open_read(db: Session, actor: Actor, read_id: int) -> Report:
    """The report being written for a read, creating version 1 on first open: from the AI
    draft in the ``ai_assisted`` arm, from an empty FINDINGS/IMPRESSION template in ``scp``.
    A case that is never drafted (``not_drafted_reason``: an exam with only a lateral) opens
    from the template in both arms; the read page says why there is no draft."""
    read = _own_read(db, actor, read_id)
    report = current_report(db, read.id)
    if report is not None:
        return report
    draft = None
    if read.arm == Arm.AI_ASSISTED:
        state, error = draft_status(db, read.case_id)
        if state == "pending":
            raise Conflict(
                "draft pending: the AI draft of this case is not ready yet; try again shortly"
            )
        never_drafted = state == "none" and bool(
            (case := db.get(Case, read.case_id)) is not None and case.not_drafted_reason
        )
        if state != "ready" and not never_drafted:
            raise Conflict(
                f"no AI draft for this case ({state}{': ' + error if error else ''}); ask a coordinator to redraft it"
            )
        draft = latest_draft(db, read.case_id) if not never_drafted else None
    report = Report(
        read_id=read.id,
        version=1,
        origin="ai_draft" if draft else "template",
        draft_id=draft.id if draft else None,
        draft_text=report_text(draft.findings_text, draft.impression_text) if draft else "",
        findings_text=draft.findings_text if draft else "",
        impression_text=draft.impression_text if draft else "",
        indication_text=case.indication if (case := db.get(Case, read.case_id)) else "",
    )
    db.add(report)
    try:
        db.flush()
    except IntegrityError:  # opened at the same moment in another tab
        db.rollback()
        existing = current_report(db, read.id)
        assert existing is not None
        return existing
    db.execute(
        update(Read).where(Read.id == read.id, Read.status == "new").values(status="in_progress")
    )
    audit(db, actor, "report.open", "report", report.id, read_id=read.id, origin=report.origin)
    db.commit()
    return report


def _check_text(findings_text: str, impression_text: str) -> None:
    for name, value in (("findings_text", findings_text), ("impression_text", impression_text)):
        if len(value) > MAX_TEXT:
            raise InvalidInput(
                f"{name} has {len(value)} characters; at most {MAX_TEXT} are accepted"
            )


def _section_values(sections: dict[str, str] | None) -> dict[str, str]:
    """Column values of the report sections besides FINDINGS and IMPRESSION
    (:data:`REPORT_SECTIONS`: ``{"technique": ...}`` -> ``{"technique_text": ...}``)."""
    out = {}
    for name, value in (sections or {}).items():
        if name not in REPORT_SECTIONS:
            raise InvalidInput(
                f"report section {name!r} is not known; expected one of {', '.join(REPORT_SECTIONS)}"
            )
        if len(value) > MAX_TEXT:
            raise InvalidInput(f"{name}_text has {len(value)} characters; at most {MAX_TEXT} are accepted")
        out[f"{name}_text"] = value
    return out


def _conflict(db: Session, report_id: int, what: str) -> Conflict:
    db.rollback()
    current = db.get(Report, report_id, populate_existing=True)
    assert current is not None
    if current.signed_at is not None:
        what = f"report version {current.version} is signed and read-only; amend it to change it"
    return Conflict(
        what,
        current={
            "rev": current.rev,
            "status": current.status,
            "findings_text": current.findings_text,
            "impression_text": current.impression_text,
            **{f"{s}_text": getattr(current, f"{s}_text") for s in REPORT_SECTIONS},
        },
    )


def autosave(
    db: Session,
    actor: Actor,
    read_id: int,
    *,
    rev: int,
    findings_text: str,
    impression_text: str,
    sections: dict[str, str] | None = None,
) -> Report:
    """Save the text if ``rev`` is the current revision; durable (committed) on return.
    ``sections``: the other sections to save (``{"technique": ...}``; others unchanged).

    Raises
    ------
    Conflict
        The copy was stale (another tab saved since) or the report is signed; nothing is
        overwritten and the current text comes with the error.
    """
    read = _own_read(db, actor, read_id)
    _check_text(findings_text, impression_text)
    section_values = _section_values(sections)
    report = current_report(db, read.id)
    if report is None:
        raise Conflict(f"read {read_id} has no report yet: open it first")
    _update_unsigned(
        db, report, rev, "saved", utcnow(),
        findings_text=findings_text, impression_text=impression_text, **section_values,
    )
    db.execute(
        update(Read).where(Read.id == read.id, Read.status == "new").values(status="in_progress")
    )
    db.commit()
    return db.get(Report, report.id, populate_existing=True)  # type: ignore[return-value]


def _events(db: Session, read_id: int) -> list[ClientEvent]:
    return [
        ClientEvent(e.kind, e.client_ms, e.received_at, e.visible, e.focused)
        for e in db.scalars(select(ReadEvent).where(ReadEvent.read_id == read_id))
    ]


def _normalised(text: str) -> str:
    return " ".join(text.split())


def _update_unsigned(db: Session, report: Report, rev: int, verb: str, now: datetime, **values: Any) -> None:
    """Write ``values`` to ``report`` if it is unsigned and still at revision ``rev`` (the
    revision goes up by one), else raise the stale-copy :class:`Conflict` (``verb``: what the
    user did with that revision) with the current text."""
    result = db.execute(
        update(Report)
        .where(Report.id == report.id, Report.rev == rev, Report.signed_at.is_(None))
        .values(rev=Report.rev + 1, updated_at=now, **values)
    )
    if result.rowcount != 1:
        raise _conflict(
            db,
            report.id,
            f"stale copy: you {verb} revision {rev} but the report is at a newer one; reload",
        )


def _deviation(
    db: Session, actor: Actor, study: ReaderStudy, kind: str, read: Read, report_id: int, **detail: Any
) -> None:
    """Record a protocol deviation of ``study`` by ``actor`` on ``read`` and its report."""
    db.add(
        ProtocolDeviation(
            study_id=study.id,
            kind=kind,
            read_id=read.id,
            report_id=report_id,
            detail=detail,
            actor_id=actor.user.id,  # type: ignore[union-attr]
        )
    )


def _frozen_study(db: Session, read: Read) -> ReaderStudy | None:
    """The read's study if its evaluation has started (its reads are frozen), else None."""
    if read.study_id is None:
        return None
    study = db.get(ReaderStudy, read.study_id)
    return study if study is not None and study.status in ("evaluation", "closed") else None


def sign(
    db: Session,
    actor: Actor,
    read_id: int,
    *,
    rev: int,
    findings_text: str | None = None,
    impression_text: str | None = None,
    confirm_unedited: bool = False,
    sections: dict[str, str] | None = None,
    heartbeat_timeout_s: float = 30.0,
) -> Report:
    """Sign the current version (with its final text, if given): it becomes ``final`` (or
    ``amended`` for a later version) and read-only. The first signature also stores the
    read's times and the edit distance between draft and signed text.

    Raises
    ------
    InvalidInput
        Both FINDINGS and IMPRESSION are empty.
    Conflict
        Stale ``rev`` or already signed; or the text is the AI draft unedited (apart from
        white space) and ``confirm_unedited`` is not set (``code="unedited_draft"``): the
        reader is asked to confirm, and the answer is kept (``unedited_confirmed``).
    """
    read = _own_read(db, actor, read_id)
    report = current_report(db, read.id)
    if report is None:
        raise Conflict(f"read {read_id} has no report yet: open it first")
    if report.signed_at is not None:
        raise _conflict(db, report.id, "signed")
    findings = report.findings_text if findings_text is None else findings_text
    impression = report.impression_text if impression_text is None else impression_text
    _check_text(findings, impression)
    if not findings.strip() and not impression.strip():
        raise InvalidInput(
            "an empty report cannot be signed: write the FINDINGS or the IMPRESSION first"
        )
    unedited = report.origin == "ai_draft" and _normalised(
        report_text(findings, impression)
    ) == _normalised(report.draft_text)
    if unedited and not confirm_unedited:
        raise Conflict(
            "this report is the AI draft, unedited: confirm that you reviewed the image and "
            "sign the draft as it is (confirm_unedited), or edit it first",
            code="unedited_draft",
        )
    values: dict[str, Any] = {}
    if findings_text is not None or impression_text is not None:
        values["findings_text"], values["impression_text"] = findings, impression
    values.update(_section_values(sections))
    now = utcnow()
    status = "final" if report.version == 1 else "amended"
    _update_unsigned(
        db, report, rev, "signed", now,
        status=status,
        signed_at=now,
        signed_by_id=actor.user.id,  # type: ignore[union-attr]
        unedited_confirmed=True if unedited else None,
        **values,
    )
    report = db.get(Report, report.id, populate_existing=True)
    assert report is not None
    if report.version == 1:
        times = compute_reading_time(
            _events(db, read.id),
            now,
            opened_at=report.created_at,
            heartbeat_timeout_s=heartbeat_timeout_s,
        )
        final = report.text
        db.execute(
            update(Read)
            .where(Read.id == read.id)
            .values(
                status="signed",
                started_at=times.started_at,
                signed_at=now,
                wall_seconds=times.wall_seconds,
                active_seconds=times.active_seconds,
                edit_distance_chars=edit_distance(report.draft_text, final),
                edit_distance_words=edit_distance(report.draft_text, final, unit="word"),
            )
        )
    study = _frozen_study(db, read)
    if study is not None:
        _deviation(db, actor, study, "signed_after_freeze", read, report.id,
                   version=report.version, study_status=study.status)
    audit(
        db,
        actor,
        "report.sign",
        "report",
        report.id,
        read_id=read.id,
        version=report.version,
        status=status,
        unedited_confirmed=bool(unedited),
    )
    # The outbound documents (DICOM SR, FHIR) commit with the signature, or neither does.
    on_signed = db.info.get("on_report_signed")
    if on_signed is not None:
        on_signed(db, report)
    db.commit()
    return report


def amend(db: Session, actor: Actor, read_id: int, *, reason: str) -> Report:
    """Start an amendment: a new version (preliminary, text copied) beside the signed one."""
    read = _own_read(db, actor, read_id)
    if not reason.strip():
        raise InvalidInput("an amendment needs a reason")
    report = current_report(db, read.id)
    if report is None or report.signed_at is None:
        raise Conflict("only a signed report can be amended; the current version is not signed")
    new = Report(
        read_id=read.id,
        version=report.version + 1,
        origin="amendment",
        draft_id=report.draft_id,
        draft_text=report.draft_text,
        findings_text=report.findings_text,
        impression_text=report.impression_text,
        **{f"{s}_text": getattr(report, f"{s}_text") for s in REPORT_SECTIONS},
        amends_id=report.id,
        amendment_reason=reason.strip(),
    )
    insert_unique(db, new, "an amendment of this report was just started elsewhere; reload")
    study = _frozen_study(db, read)
    if study is not None:  # allowed (the patient's report must be right), and recorded
        _deviation(db, actor, study, "amended_after_freeze", read, new.id, amends=report.id,
                   rated_version_kept=report.frozen_at is not None, reason=reason.strip())
    audit(
        db,
        actor,
        "report.amend",
        "report",
        new.id,
        read_id=read.id,
        amends=report.id,
        reason=reason.strip(),
        protocol_deviation=study is not None,
    )
    db.commit()
    return new


def record_events(db: Session, actor: Actor, read_id: int, events: Iterable[dict[str, Any]]) -> int:
    """Store client events of a read (ignored once the read is signed). Returns how many.

    The events are hints: :func:`compute_reading_time` clamps them to when they arrived.
    A bad event (unknown kind, a time not after the epoch) refuses the whole request;
    nothing of it is stored."""
    read = _own_read(db, actor, read_id)
    events = list(events)
    if len(events) > MAX_EVENTS:
        raise InvalidInput(f"{len(events)} events in one request; send at most {MAX_EVENTS}")
    for i, e in enumerate(events):  # all checked before any is stored
        if e["kind"] not in EVENT_KINDS:
            raise InvalidInput(
                f"event {i}: event kind {e['kind']!r} is not known; "
                f"expected one of {', '.join(EVENT_KINDS)}"
            )
        t = e["t"]
        if not isinstance(t, int) or isinstance(t, bool) or not 0 < t <= MAX_CLIENT_MS:
            raise InvalidInput(
                f"event {i}: t={t!r} is not a client time "
                f"(ms since the Unix epoch, 1 to {MAX_CLIENT_MS})"
            )
    if read.status == "signed":
        return 0
    now = utcnow()
    for e in events:
        db.add(
            ReadEvent(
                read_id=read.id,
                kind=e["kind"],
                client_ms=int(e["t"]),
                received_at=now,
                visible=bool(e["visible"]),
                focused=bool(e["focused"]),
            )
        )
    db.execute(
        update(Read).where(Read.id == read.id, Read.status == "new").values(status="in_progress")
    )
    db.commit()
    return len(events)
