"""API tokens: created by admins and shown once, hashed at rest, scoped, revocable, expiring,
audited without flooding; listed in OpenAPI; the CLI."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update

from .helpers import png_bytes


def _create(world, scopes, **body) -> dict:
    return world.admin.ok(
        "post", "/api/tokens", 201, json={"name": "PACS bridge", "scopes": scopes, **body}
    )


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_token_is_shown_once_and_stored_only_as_its_sha256(world):
    created = _create(world, ["ingest"])
    token = created["token"]
    assert token.startswith("cxrp_") and len(token) == 5 + 43  # 256 random bits
    assert created["prefix"] == token[:12]
    listed = world.admin.ok("get", "/api/tokens")
    assert [t["id"] for t in listed] == [created["id"]]
    assert "token" not in listed[0]
    with world.state.engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(text("SELECT * FROM api_tokens"))]
    flat = json.dumps(rows, default=str)
    assert token not in flat and token[12:] not in flat
    assert hashlib.sha256(token.encode()).hexdigest() in flat


def test_ingest_token_uploads_without_session_or_csrf(world):
    token = _create(world, ["ingest"])["token"]
    machine = world._TestClient(world.app)  # no cookie, no CSRF header
    r = machine.post(
        "/api/cases",
        files={"file": ("x.png", png_bytes(1), "application/octet-stream")},
        headers=_bearer(token),
    )
    assert r.status_code == 200, r.text
    case_id = r.json()["case"]["id"]
    events = world.admin.ok("get", "/api/audit")
    imported = next(e for e in events if e["action"] == "case.import")
    assert imported["object_id"] == str(case_id) and imported["actor"] == "admin"
    assert imported["detail"]["api_token"] is not None
    assert any(e["action"] == "token.use" for e in events)


@pytest.mark.parametrize(
    "scopes, method, path, status",
    [
        (["ingest"], "get", "/fhir/DiagnosticReport", 403),  # needs read:results
        (["read:results"], "post", "/api/cases", 403),  # needs ingest
        (["read:results"], "get", "/fhir/DiagnosticReport", 200),
        (["read:results"], "get", "/api/cases", 200),
        (["read:results"], "get", "/api/exams/1", 404),  # a token route: no such exam
        (["ingest"], "get", "/api/exams/1", 403),  # needs read:results
        (["read:results"], "post", "/api/pacs/pull", 403),  # needs ingest
        (["ingest"], "post", "/api/pacs/pull", 422),  # accepted; no PACS configured
        (["ingest", "read:results"], "get", "/api/audit", 403),  # not a token route at all
        (["ingest", "read:results"], "get", "/api/tokens", 403),  # tokens cannot make tokens
        (["ingest", "read:results"], "post", "/api/tokens", 403),
    ],
)
def test_scope_enforcement(world, scopes, method, path, status):
    token = _create(world, scopes)["token"]
    machine = world._TestClient(world.app)
    kwargs = {"headers": _bearer(token)}
    if method == "post" and path == "/api/cases":
        kwargs["files"] = {"file": ("x.png", png_bytes(2), "application/octet-stream")}
    elif method == "post" and path == "/api/pacs/pull":
        kwargs["json"] = {}
    elif method == "post":
        kwargs["json"] = {"name": "x", "scopes": ["ingest"]}
    r = getattr(machine, method)(path, **kwargs)
    assert r.status_code == status, r.text
    if status == 403:  # /fhir answers with an OperationOutcome
        body = r.json()
        detail = body["detail"] if "detail" in body else body["issue"][0]["diagnostics"]
        assert "scope" in detail or "does not accept API tokens" in detail


def test_revoked_token_is_refused_at_once(world):
    created = _create(world, ["read:results"])
    machine = world._TestClient(world.app)
    assert machine.get("/api/cases", headers=_bearer(created["token"])).status_code == 200
    revoked = world.admin.ok("post", f"/api/tokens/{created['id']}/revoke")
    assert revoked["revoked_at"] is not None
    r = machine.get("/api/cases", headers=_bearer(created["token"]))
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    actions = [e["action"] for e in world.admin.ok("get", "/api/audit")]
    assert "token.revoke" in actions and "token.create" in actions


def test_expired_token_is_refused(world):
    from cxrpilot.workstation._interop_orm import ApiToken
    from cxrpilot.workstation._orm import utcnow

    created = _create(world, ["read:results"], expires_days=1)
    with world.state.sessions() as db:
        db.execute(
            update(ApiToken)
            .where(ApiToken.id == created["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        db.commit()
    r = world._TestClient(world.app).get("/api/cases", headers=_bearer(created["token"]))
    assert r.status_code == 401 and "expired" in r.json()["detail"]


@pytest.mark.parametrize(
    "header, message",
    [
        ("Bearer cxrp_" + "A" * 43, "API token not valid"),
        ("Bearer not-a-token", "expected 'Authorization: Bearer cxrp_"),
        ("Bearer ", "not logged in"),
    ],
)
def test_unknown_or_malformed_token_is_401(world, header, message):
    r = world._TestClient(world.app).get("/api/cases", headers={"Authorization": header})
    assert r.status_code == 401 and message in r.json()["detail"]


def test_disabled_owner_disables_the_token(world):
    uid, _ = world.user("coordinator", "bridge")
    token = _create(world, ["read:results"], user_id=uid)["token"]
    machine = world._TestClient(world.app)
    assert machine.get("/api/cases", headers=_bearer(token)).status_code == 200
    world.admin.ok("patch", f"/api/users/{uid}", json={"active": False})
    r = machine.get("/api/cases", headers=_bearer(token))
    assert r.status_code == 401 and "disabled" in r.json()["detail"]


def test_token_acts_with_its_owners_role(world):
    """A radiologist's token with ingest is still a radiologist: import needs staff."""
    uid, _ = world.user("radiologist", "rad")
    token = _create(world, ["ingest"], user_id=uid)["token"]
    r = world._TestClient(world.app).post(
        "/api/cases",
        files={"file": ("x.png", png_bytes(3), "application/octet-stream")},
        headers=_bearer(token),
    )
    assert r.status_code == 403 and "role" in r.json()["detail"]


@pytest.mark.parametrize(
    "body, message",
    [
        ({"name": "x", "scopes": ["admin"]}, "scopes"),
        ({"name": "x", "scopes": []}, "scopes"),
        ({"name": "", "scopes": ["ingest"]}, "name"),
        ({"name": "x", "scopes": ["ingest"], "user_id": 999999}, "does not exist"),
        ({"name": "x", "scopes": ["ingest"], "expires_days": 0}, "expires_days"),
    ],
)
def test_bad_token_requests_are_4xx(world, body, message):
    r = world.admin.post("/api/tokens", json=body)
    assert r.status_code in (404, 422) and message in r.text


def test_only_admins_manage_tokens(world):
    _, coordinator = world.user("coordinator")
    r = coordinator.post("/api/tokens", json={"name": "x", "scopes": ["ingest"]})
    assert r.status_code == 403
    assert coordinator.get("/api/tokens").status_code == 403


def test_reads_are_audited_in_windows_not_one_row_each(world):
    from cxrpilot.workstation._interop_orm import ApiToken
    from cxrpilot.workstation._orm import AuditEvent

    created = _create(world, ["read:results"])
    machine = world._TestClient(world.app)
    for _ in range(25):
        assert machine.get("/api/cases", headers=_bearer(created["token"])).status_code == 200
    with world.state.sessions() as db:
        uses = list(
            db.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "token.use", AuditEvent.object_id == str(created["id"])
                )
            )
        )
        row = db.get(ApiToken, created["id"])
        assert len(uses) == 1  # the first use of the window; the rest are counted
        assert row.use_count == 25 and row.unaudited_uses == 24
        assert row.last_used_at is not None and row.last_used_ip == "testclient"
        # the next window's event carries the count
        db.execute(
            update(ApiToken)
            .where(ApiToken.id == row.id)
            .values(audited_at=row.audited_at - timedelta(minutes=2))
        )
        db.commit()
    machine.get("/api/cases", headers=_bearer(created["token"]))
    with world.state.sessions() as db:
        last = db.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "token.use")
            .order_by(AuditEvent.id.desc())
        ).first()
        assert last.detail["uses_since_last_event"] == 25


def test_openapi_lists_both_security_schemes(world):
    spec = world.admin.ok("get", "/openapi.json")
    schemes = spec["components"]["securitySchemes"]
    assert schemes["apiToken"] == {**schemes["apiToken"], "type": "http", "scheme": "bearer"}
    assert schemes["session"]["in"] == "cookie"
    upload = spec["paths"]["/api/cases"]["post"]["security"]
    assert {"apiToken": []} in upload and {"session": []} in upload
    fhir = spec["paths"]["/fhir/DiagnosticReport"]["get"]["security"]
    assert {"apiToken": []} in fhir
    assert {"apiToken": []} not in spec["paths"]["/api/audit"]["get"]["security"]


def test_cli_tokens_create_list_revoke(tmp_path, sqlite_url, capsys):
    from cxrpilot.cli import main

    common = ["--data-dir", str(tmp_path / "d"), "--database-url", sqlite_url]
    env_user = ["admin", "create-user", "bridge", "--role", "coordinator", *common]
    import os

    os.environ["CXRPILOT_NEW_PASSWORD"] = "correct horse battery"
    try:
        assert main(env_user) == 0
    finally:
        del os.environ["CXRPILOT_NEW_PASSWORD"]
    capsys.readouterr()
    assert main(["tokens", "create", "RIS", "--user", "bridge", "--scope", "read:results",
                 "--json", *common]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["token"].startswith("cxrp_") and created["scopes"] == ["read:results"]
    assert main(["tokens", "list", "--json", *common]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [t["name"] for t in listed] == ["RIS"] and "token" not in listed[0]
    assert main(["tokens", "revoke", str(created["id"]), *common]) == 0
    assert "revoked" in capsys.readouterr().out
    assert main(["tokens", "create", "x", "--user", "nobody", "--scope", "ingest", *common]) == 2
    assert "nobody" in capsys.readouterr().err
