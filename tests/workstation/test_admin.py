"""The public administration API (:mod:`cxrpilot.workstation.admin`) on a real database (SQLite
file and PostgreSQL): schema, users, roles and API tokens from the server's shell, as the CLI
uses them; what it does is the same as the web app's (a token it makes logs in, a role it sets
applies, the last admin keeps the role) and is audited as ``system``."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, select

from cxrpilot.errors import CxrpilotError
from cxrpilot.workstation import Settings, admin, create_app

PASSWORD = "a long enough passphrase"


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key="z" * 40,
        environment="development",
        password_time_cost=1,
        password_memory_kib=1024,
    )


def test_users_roles_and_schema(settings):
    assert admin.migrate(settings) == admin.head_revision() == admin.current_revision(settings)
    boss = admin.create_user(settings, "boss", "admin", password=PASSWORD, display_name="The Boss")
    assert boss == {"id": boss["id"], "username": "boss", "role": "admin", "display_name": "The Boss",
                    "active": True}
    assert admin.ensure_user(settings, "boss", "radiologist") == (False, None)  # unchanged
    created, generated = admin.ensure_user(settings, "dr.adams", "radiologist")
    assert created and len(generated) >= 16
    with pytest.raises(CxrpilotError, match="taken"):
        admin.create_user(settings, "dr.adams", "evaluator", password=PASSWORD)
    with pytest.raises(CxrpilotError, match="role 'reader' is not known"):
        admin.create_user(settings, "x1", "reader", password=PASSWORD)
    assert admin.set_role(settings, "dr.adams", "evaluator")["role"] == "evaluator"
    with pytest.raises(CxrpilotError, match="last active admin"):
        admin.set_role(settings, "boss", "coordinator")
    with pytest.raises(CxrpilotError, match="'nobody' does not exist"):
        admin.set_role(settings, "nobody", "admin")
    assert [(u["username"], u["role"]) for u in admin.list_users(settings)] == [
        ("boss", "admin"), ("dr.adams", "evaluator"),
    ]
    assert all("password" not in k for u in admin.list_users(settings) for k in u)
    # the generated password logs in, with the role set from the shell
    from fastapi.testclient import TestClient

    with TestClient(create_app(settings)) as http:
        r = http.post("/api/auth/login", json={"username": "dr.adams", "password": generated})
        assert r.status_code == 200 and r.json()["user"]["role"] == "evaluator"
    events = _audit(settings)
    assert ("system", "user.update", {"role": "evaluator"}) in events
    assert admin.migrate(settings, "base", downgrade=True) is None


def test_tokens_create_list_revoke(settings):
    admin.create_user(settings, "bridge", "coordinator", password=PASSWORD)
    info, token = admin.create_token(settings, "PACS bridge", ["read:results", "ingest"], user="bridge",
                                     expires_days=30)
    assert token.startswith("cxrp_") and info["prefix"] == token[:12]
    assert info["scopes"] == ["ingest", "read:results"]  # in the owner's order
    json.dumps(info)  # plain values
    listed = admin.list_tokens(settings)
    assert [t["id"] for t in listed] == [info["id"]] and "token" not in listed[0]
    from fastapi.testclient import TestClient

    with TestClient(create_app(settings)) as http:
        auth = {"Authorization": f"Bearer {token}"}
        assert http.get("/fhir/DiagnosticReport", headers=auth).status_code == 200
        assert admin.revoke_token(settings, info["id"])["revoked_at"] is not None
        assert http.get("/fhir/DiagnosticReport", headers=auth).status_code == 401
    assert admin.revoke_token(settings, info["id"])["revoked_at"] is not None  # idempotent
    for bad, message in [({"scopes": ["admin"]}, "not valid"), ({"user": "nobody"}, "nobody")]:
        with pytest.raises(CxrpilotError, match=message):
            admin.create_token(settings, "x", **{"scopes": ["ingest"], "user": "bridge", **bad})
    with pytest.raises(CxrpilotError, match="API token 999"):
        admin.revoke_token(settings, 999)
    assert {a for who, a, _ in _audit(settings) if who == "system"} >= {"token.create", "token.revoke"}


def _audit(settings) -> list[tuple[str, str, dict]]:
    from cxrpilot.workstation._orm import AuditEvent

    engine = create_engine(settings.resolved_database_url)
    try:
        with engine.connect() as c:
            return [(e.actor, e.action, e.detail) for e in c.execute(select(AuditEvent.__table__))]
    finally:
        engine.dispose()


def test_cli_set_role(tmp_path, sqlite_url, capsys, monkeypatch):
    from cxrpilot.cli import main

    common = ["--data-dir", str(tmp_path / "d"), "--database-url", sqlite_url]
    monkeypatch.setenv("CXRPILOT_NEW_PASSWORD", PASSWORD)
    assert main(["admin", "create-user", "dr.baker", "--role", "radiologist", *common]) == 0
    assert main(["admin", "set-role", "dr.baker", "--role", "coordinator", "--json", *common]) == 0
    out = capsys.readouterr().out.splitlines()[-1]
    assert json.loads(out)["role"] == "coordinator"
    assert main(["admin", "set-role", "nobody", "--role", "admin", *common]) == 2
    assert "'nobody' does not exist" in capsys.readouterr().err
