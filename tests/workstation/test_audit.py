"""The audit log: written by every state change that matters, and append-only."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from .helpers import png_bytes


def test_actions_are_audited_with_who_what_when_object(world):
    uid, rc = world.user("radiologist", "reader1")
    case_id = world.upload(png_bytes(90))["case"]["id"]
    world.wait_draft(case_id)
    read = world.admin.ok(
        "post", "/api/reads", 201, json={"case_id": case_id, "reader_id": uid, "arm": "scp"}
    )
    rep = rc.ok("post", f"/api/reads/{read['id']}/open")
    rc.ok(
        "post",
        f"/api/reads/{read['id']}/sign",
        json={"rev": rep["rev"], "findings_text": "Clear lungs.", "impression_text": "Normal."},
    )
    events = world.admin.ok("get", "/api/audit")
    by_action = {e["action"]: e for e in events}
    assert {
        "login",
        "user.create",
        "case.import",
        "read.assign",
        "report.open",
        "report.sign",
    } <= set(by_action)
    sign = by_action["report.sign"]
    assert (
        sign["actor"] == "reader1"
        and sign["object_type"] == "report"
        and sign["object_id"] == str(rep["id"])
    )
    assert sign["at"] and sign["ip"] == "testclient" and sign["detail"]["status"] == "final"
    assert [e["id"] for e in events] == sorted((e["id"] for e in events), reverse=True)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET actor = 'someone else'",
        "DELETE FROM audit_log",
        "DELETE FROM audit_log WHERE id = (SELECT MAX(id) FROM audit_log)",
    ],
)
def test_database_refuses_changes_to_the_audit_log(world, statement):
    before = world.admin.ok("get", "/api/audit")
    with pytest.raises(Exception, match="append-only"), world.state.engine.begin() as conn:
        conn.execute(text(statement))
    assert world.admin.ok("get", "/api/audit") == before


def test_orm_refuses_changes_to_the_audit_log(world):
    from sqlalchemy import select

    from cxrpilot.workstation._orm import AuditEvent

    with world.state.sessions() as db:
        event = db.scalar(select(AuditEvent).limit(1))
        event.action = "rewritten"
        with pytest.raises(PermissionError, match="append-only"):
            db.flush()


@pytest.mark.parametrize("method", ["delete", "put", "patch"])
def test_no_api_route_changes_the_audit_log(world, method):
    assert getattr(world.admin, method)("/api/audit").status_code == 405
