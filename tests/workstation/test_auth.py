"""Login, sessions, cookies, CSRF, throttling and role checks against the real app."""

from __future__ import annotations

import time

import pytest
from pydantic import ValidationError

from .helpers import PASSWORD


def test_login_sets_session_and_csrf_cookies(world):
    client = world.new_client()
    world.user("radiologist", "rad")
    r = client.login("rad")
    assert r.status_code == 200
    cookies = r.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("cxrpilot_session="))
    csrf = next(c for c in cookies if c.startswith("cxrpilot_csrf="))
    assert "HttpOnly" in session and "samesite=lax" in session.lower() and "Secure" not in session
    assert "HttpOnly" not in csrf and "samesite=strict" in csrf.lower()
    me = client.ok("get", "/api/auth/me")
    assert me["user"]["username"] == "rad" and me["csrf_token"] == r.json()["csrf_token"]
    assert "password_hash" not in r.text


def test_secure_cookie_when_configured(world_factory):
    w = world_factory(secure_cookies="always", admin=False)
    w.bootstrap_admin()
    r = w.new_client().login("admin")
    assert all("Secure" in c for c in r.headers.get_list("set-cookie"))


@pytest.mark.parametrize(
    "username, password",
    [("admin", "wrong password!"), ("nobody", PASSWORD), ("ADMIN", "wrong password!")],
)
def test_bad_login_is_401_with_one_message(world, username, password):
    r = world.new_client().login(username, password)
    assert r.status_code == 401
    assert r.json()["detail"] == "wrong user name or password"


def test_password_is_stored_as_argon2id(world):
    from sqlalchemy import select

    from cxrpilot.workstation._orm import User

    with world.state.sessions() as db:
        h = db.scalar(select(User.password_hash).where(User.username == "admin"))
    assert h.startswith("$argon2id$") and PASSWORD not in h


def test_production_refuses_weak_password_hashing():
    from cxrpilot.workstation import Settings

    with pytest.raises(ValidationError, match="password hashing cost"):
        Settings(password_time_cost=1, password_memory_kib=1024)
    assert Settings().password_memory_kib == 65536  # argon2-cffi's RFC 9106 default


def test_throttling_locks_user_and_address_then_releases(world_factory):
    w = world_factory(login_max_failures=3, login_window_s=60, login_lockout_s=2)
    c = w.new_client()
    assert [c.login("admin", "nope nope nope").status_code for _ in range(3)] == [401, 401, 401]
    r = c.login("admin")  # right password, but locked
    assert r.status_code == 429
    assert 1 <= int(r.headers["Retry-After"]) <= 2
    assert "too many failed logins" in r.json()["detail"]
    time.sleep(2.1)
    assert c.login("admin").status_code == 200
    actions = [e["action"] for e in w.admin.ok("get", "/api/audit")]
    assert actions.count("login.failed") == 3 and "login.throttled" in actions


def test_login_attempts_older_than_the_throttle_window_are_pruned_on_login(world_factory):
    from datetime import timedelta

    from sqlalchemy import select

    from cxrpilot.workstation._orm import LoginAttempt, utcnow

    w = world_factory(login_max_failures=3, login_window_s=60, login_lockout_s=30)
    old, recent = utcnow() - timedelta(seconds=61), utcnow() - timedelta(seconds=50)
    with w.state.sessions() as db:
        db.add_all(
            [
                LoginAttempt(username=f"gone{i}", ip="10.0.0.1", at=old, success=False)
                for i in range(50)
            ]
            + [LoginAttempt(username="kept", ip="10.0.0.2", at=recent, success=False)]
        )
        db.commit()
    c = w.new_client()
    assert c.login("admin", "nope nope nope").status_code == 401
    with w.state.sessions() as db:
        left = sorted((a.username, a.success) for a in db.scalars(select(LoginAttempt)))
    # the bootstrap login and this failure are recent; the 50 old ones are gone
    assert left == [("admin", False), ("admin", True), ("kept", False)]
    # pruning never frees a locked-out address early: failures inside the window stay
    assert [c.login("admin", "nope nope nope").status_code for _ in range(2)] == [401, 401]
    assert c.login("admin").status_code == 429


@pytest.mark.parametrize("header", [None, "", "0" * 64, "forged"])
def test_state_change_without_valid_csrf_token_is_403(world, header):
    headers = {} if header is None else {"X-CSRF-Token": header}
    r = world.admin.http.post(
        "/api/users",
        json={"username": "x1", "password": PASSWORD, "role": "evaluator"},
        headers=headers,
    )
    assert r.status_code == 403
    assert "CSRF" in r.json()["detail"]
    assert (
        world.admin.post(
            "/api/users", json={"username": "x1", "password": PASSWORD, "role": "evaluator"}
        ).status_code
        == 201
    )


def test_csrf_token_of_another_session_is_refused(world):
    _, other = world.user("coordinator")
    r = world.admin.http.post(
        "/api/users",
        json={"username": "x2", "password": PASSWORD, "role": "evaluator"},
        headers={"X-CSRF-Token": other.csrf},
    )
    assert r.status_code == 403


def test_logout_ends_the_session(world):
    _, c = world.user("radiologist")
    assert c.get("/api/worklist").status_code == 200
    assert c.post("/api/auth/logout").status_code == 204
    c.http.cookies.clear()
    assert c.get("/api/worklist").status_code == 401


def test_deactivated_user_loses_access_at_once(world):
    uid, c = world.user("radiologist")
    world.admin.ok("patch", f"/api/users/{uid}", json={"active": False})
    assert c.get("/api/worklist").status_code == 401
    assert world.new_client().login(c.user["username"]).status_code == 401


@pytest.mark.parametrize(
    "role, method, path, body, expected",
    [
        ("radiologist", "get", "/api/users", None, 403),
        ("evaluator", "get", "/api/cases", None, 403),
        (
            "radiologist",
            "post",
            "/api/users",
            {"username": "zz", "password": PASSWORD, "role": "admin"},
            403,
        ),
        (
            "coordinator",
            "post",
            "/api/users",
            {"username": "zz", "password": PASSWORD, "role": "admin"},
            403,
        ),
        ("coordinator", "get", "/api/users", None, 200),
        ("coordinator", "get", "/api/cases", None, 200),
        ("coordinator", "get", "/api/audit", None, 403),
        ("evaluator", "get", "/api/worklist", None, 403),
        ("radiologist", "get", "/api/evaluations", None, 403),
        ("radiologist", "post", "/api/studies", {"name": "s", "design": "per_case"}, 403),
        ("coordinator", "post", "/api/studies", {"name": "s", "design": "per_case"}, 201),
    ],
)
def test_role_checks(world, role, method, path, body, expected):
    _, c = world.user(role)
    kwargs = {"json": body} if body is not None else {}
    assert getattr(c, method)(path, **kwargs).status_code == expected


def test_unauthenticated_is_401(world):
    anon = world.new_client()
    assert anon.get("/api/worklist").status_code == 401
    assert anon.get("/api/cases/1/image").status_code == 401


@pytest.mark.parametrize(
    "values, message",
    [
        ({"secret_key": "change-me"}, "placeholder"),
        ({"secret_key": "short"}, "placeholder or shorter than 16"),
        ({"secret_key": "changeme", "environment": "production"}, "CXRPILOT_SECRET_KEY"),
    ],
)
def test_placeholder_secret_refused_outside_development(values, message):
    from cxrpilot.workstation import Settings

    with pytest.raises(ValidationError, match=message):
        Settings(**values)
    Settings(**{**values, "environment": "development"})  # allowed there


@pytest.mark.parametrize(
    "body, status, message",
    [
        ({"username": "a", "password": PASSWORD, "role": "radiologist"}, 422, "not valid"),
        (
            {"username": "bob", "password": "short", "role": "radiologist"},
            422,
            "password too short",
        ),
        ({"username": "admin", "password": PASSWORD, "role": "radiologist"}, 409, "taken"),
    ],
)
def test_bad_new_user(world, body, status, message):
    r = world.admin.post("/api/users", json=body)
    assert r.status_code == status and message in r.json()["detail"]


def test_change_own_password(world):
    _, c = world.user("evaluator", "eve")
    new = "a longer pass phrase now"
    assert (
        c.post("/api/auth/password", json={"old_password": "bad", "new_password": new}).status_code
        == 401
    )
    assert (
        c.post("/api/auth/password", json={"old_password": PASSWORD, "new_password": new}).status_code
        == 204
    )
    assert world.new_client().login("eve", new).status_code == 200


def test_dead_sessions_are_pruned_on_login_and_live_ones_keep_working(world_factory):
    from datetime import timedelta

    from sqlalchemy import select, update

    from cxrpilot.workstation._orm import LoginSession, utcnow

    w = world_factory()
    live, logged_out, expired = w.new_client(), w.new_client(), w.new_client()
    for c in (live, logged_out, expired):
        assert c.login("admin").status_code == 200
    assert logged_out.post("/api/auth/logout").status_code == 204
    with w.state.sessions() as db:
        ids = list(db.scalars(select(LoginSession.id).order_by(LoginSession.created_at)))
        db.execute(update(LoginSession).where(LoginSession.id == ids[-1])
                   .values(expires_at=utcnow() - timedelta(seconds=1)))
        db.commit()
        assert len(ids) == 4  # the world's own admin client, and the three above
    assert w.new_client().login("admin").status_code == 200
    with w.state.sessions() as db:
        left = list(db.scalars(select(LoginSession)))
    assert len(left) == 3  # the revoked and the expired session are gone; the new one is there
    assert all(not s.revoked and s.expires_at > utcnow() for s in left)
    assert live.get("/api/auth/me").status_code == 200
    assert expired.get("/api/auth/me").status_code == 401
