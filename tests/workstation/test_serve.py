"""``cxrpilot admin`` and ``cxrpilot serve`` from the command line."""

from __future__ import annotations

import json

import pytest

from cxrpilot.cli import main


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("CXRPILOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CXRPILOT_SECRET_KEY", "z" * 40)
    monkeypatch.setenv("CXRPILOT_ENVIRONMENT", "development")
    monkeypatch.setenv("CXRPILOT_PASSWORD_TIME_COST", "1")
    monkeypatch.setenv("CXRPILOT_PASSWORD_MEMORY_KIB", "1024")
    return tmp_path


def test_admin_create_user_and_migrate(env, monkeypatch, capsys):
    monkeypatch.setenv("CXRPILOT_NEW_PASSWORD", "a long password")
    assert main(["admin", "create-user", "alice", "--role", "coordinator", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"created": "alice", "role": "coordinator"}
    assert main(["admin", "create-user", "alice", "--role", "coordinator"]) == 2
    assert "exists already" in capsys.readouterr().err
    assert main(["admin", "migrate", "--json"]) == 0
    from cxrpilot.workstation._db import head_revision

    assert json.loads(capsys.readouterr().out) == {"revision": head_revision()}
    assert main(["admin", "migrate", "--downgrade", "--revision", "base", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"revision": None}


@pytest.mark.parametrize(
    "argv, env_over, message",
    [
        (
            ["admin", "create-user", "bob", "--role", "radiologist"],
            {"CXRPILOT_NEW_PASSWORD": "short"},
            "password too short",
        ),
        (
            ["serve", "--port", "1"],
            {"CXRPILOT_SECRET_KEY": "changeme", "CXRPILOT_ENVIRONMENT": "production"},
            "CXRPILOT_SECRET_KEY is a placeholder",
        ),
        (
            ["admin", "migrate"],
            {"CXRPILOT_DATABASE_URL": "sqlite:///:memory:"},
            "use an SQLite file, not an in-memory database",
        ),
    ],
)
def test_user_errors_are_one_line_exit_2(env, monkeypatch, capsys, argv, env_over, message):
    for k, v in env_over.items():
        monkeypatch.setenv(k, v)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1
