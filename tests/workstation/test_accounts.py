"""Accounts as OWASP ASVS level 2 asks: the password policy, sessions ended on a password
change, throttling per user and per address, audit of failures (and no unbounded anonymous
audit rows), same-origin ``next``, role checks on every read action, the last admin kept,
and no database write lock held while a password hash is checked."""

from __future__ import annotations

import threading

import pytest
from argon2 import PasswordHasher

from cxrpilot.workstation._errors import InvalidInput
from cxrpilot.workstation._passwords import check_password_policy, common_passwords
from cxrpilot.workstation._security import safe_next_path

from .helpers import PASSWORD, png_bytes

#: (password, user name, display name, message of the refusal)
BAD_PASSWORDS = [
    ("short pass", "rad1", "", "password too short (10 characters); use at least 12"),
    ("a          b", "rad1", "", "password too short (3 characters)"),
    ("password1234", "rad1", "", "one of the most common passwords"),
    ("Password 1234", "rad1", "", "one of the most common passwords"),
    ("PASSWORD1234!", "rad1", "", "one of the most common passwords"),
    ("qwertyuiop123", "rad1", "", "one of the most common passwords"),
    ("iloveyou2024", "rad1", "", "one of the most common passwords"),
    ("radiology2025", "rad1", "", "one of the most common passwords"),
    ("correcthorsebatterystaple", "rad1", "", "one of the most common passwords"),
    ("aaaaaaaaaaaa", "rad1", "", "one of the most common passwords"),
    ("dr.watson is here", "dr.watson", "", "contains the user name"),
    ("my name is DrWatson!", "drwatson", "", "contains the user name"),
    ("greetings from Emma Lind", "rad7", "Emma Lind", "contains the display name"),
    ("zyzyzyzyzyzyzy", "rad1", "", "one character repeated or a plain sequence"),
    ("ghghghghghghghgh", "rad1", "", "one character repeated or a plain sequence"),
    ("98765432109876543210987654", "rad1", "", "one character repeated or a plain sequence"),
]

GOOD_PASSWORDS = [
    (PASSWORD, "rad1", ""),
    ("granite violin tuesday", "rad1", "Emma Lind"),
    ("Ünïcödé-pässwörd-✓", "rad1", ""),
    ("x" * 6 + "q7" + "y" * 6 + "!", "rad1", ""),
    ("pT3" * 42 + "zz", "rad1", ""),  # 128 characters, the longest allowed
]


@pytest.mark.parametrize("password, username, display_name, message", BAD_PASSWORDS)
def test_password_policy_refuses(password, username, display_name, message):
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_password_policy(password, username=username, display_name=display_name)


@pytest.mark.parametrize("password, username, display_name", GOOD_PASSWORDS)
def test_password_policy_accepts(password, username, display_name):
    check_password_policy(password, username=username, display_name=display_name)


def test_the_common_password_list_is_shipped_and_large():
    words = common_passwords()
    assert len(words) > 100_000
    assert {"password1234", "qwertyuiop123", "123456789012"} <= words
    assert all(w == w.lower() and " " not in w for w in list(words)[:5000])


@pytest.mark.parametrize(
    "method, path, body_of",
    [
        ("post", "/api/users", lambda pw: {"username": "eva", "password": pw, "role": "evaluator"}),
        ("patch", "/api/users/{uid}", lambda pw: {"password": pw}),
        ("post", "/api/auth/password", lambda pw: {"old_password": PASSWORD, "new_password": pw}),
    ],
)
def test_every_way_to_set_a_password_applies_the_policy(world, method, path, body_of):
    uid, client = world.user("evaluator", "eva")
    who = client if path == "/api/auth/password" else world.admin
    for password, message in (("password1234", "most common"), ("eva is my name", "user name")):
        r = getattr(who, method)(path.format(uid=uid), json=body_of(password))
        assert r.status_code == 422 and message in r.json()["detail"], r.text


def test_a_password_change_ends_the_other_sessions(world):
    _, here = world.user("radiologist", "rachel")
    there = world.new_client()
    assert there.login("rachel").status_code == 200
    new = "a longer pass phrase now"
    here.ok("post", "/api/auth/password", 204, json={"old_password": PASSWORD, "new_password": new})
    assert here.get("/api/auth/me").status_code == 200  # the session that changed it stays
    assert there.get("/api/auth/me").status_code == 401
    event = next(e for e in world.admin.ok("get", "/api/audit") if e["action"] == "user.password")
    assert event["detail"]["other_sessions_ended"] == 1


def test_password_change_guesses_are_throttled_and_audited(world_factory):
    w = world_factory(login_max_failures=3, login_window_s=60, login_lockout_s=60)
    _, c = w.user("evaluator", "eve")
    new = "a longer pass phrase now"
    codes = [
        c.post("/api/auth/password", json={"old_password": f"guess {i}", "new_password": new}).status_code
        for i in range(3)
    ]
    assert codes == [401, 401, 401]
    r = c.post("/api/auth/password", json={"old_password": PASSWORD, "new_password": new})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    actions = [e["action"] for e in w.admin.ok("get", "/api/audit")]
    assert actions.count("user.password_failed") == 3 and "user.password_throttled" in actions
    # and the guesses count against logging in as eve too
    assert w.new_client().login("eve").status_code == 429


def test_password_spraying_from_one_address_is_throttled(world_factory):
    w = world_factory(login_ip_max_failures=4, login_window_s=60, login_lockout_s=60)
    for i in range(3):
        w.user("evaluator", f"ev{i}")
    anon = w.new_client()
    codes = [anon.login(name, "summer 2025 summer").status_code for name in ("ev0", "ev1", "ev2", "x")]
    assert codes == [401, 401, 401, 401]
    assert anon.login("ev0").status_code == 429  # right password, but this address is locked


def test_one_user_name_from_many_addresses_is_throttled(world_factory):
    """Per user name whatever the address (service level: the test client has one address)."""
    from cxrpilot.workstation._errors import NotAuthenticated, Throttled
    from cxrpilot.workstation._services import auth

    w = world_factory(login_user_max_failures=3, login_window_s=60, login_lockout_s=60)
    state = w.state

    def attempt(ip: str, password: str):
        with state.sessions() as db:
            return auth.login(
                db, state.settings, state.secret, username="admin", password=password, ip=ip,
                hasher=state.hasher,
            )

    for i in range(3):
        with pytest.raises(NotAuthenticated):
            attempt(f"10.0.0.{i}", "not the password")
    with pytest.raises(Throttled):
        attempt("10.0.9.9", PASSWORD)


def test_anonymous_audit_rows_are_rate_limited(world_factory):
    w = world_factory(login_ip_max_failures=1000)
    anon = w.new_client()
    assert {anon.login(f"nobody{i}", "whatever it is").status_code for i in range(30)} == {401}
    events = [e for e in w.admin.ok("get", "/api/audit") if e["action"] == "login.failed"]
    assert len(events) == 1 and "at most one" in events[0]["detail"]["note"]
    # a known user's failures are each audited (the throttles bound them)
    for _ in range(2):
        assert anon.login("admin", "not the password").status_code == 401
    events = [e for e in w.admin.ok("get", "/api/audit") if e["action"] == "login.failed"]
    assert len(events) == 3


@pytest.mark.parametrize(
    "value, expected",
    [
        ("/read/12", "/read/12"),
        ("/worklist?status=new#top", "/worklist?status=new#top"),
        ("/%5Cevil.example/x", "/"),
        ("/\\evil.example/x", "/"),
        ("//evil", "/"),
        ("///evil", "/"),
        ("https://evil", "/"),
        ("http:/evil", "/"),
        ("javascript:alert(1)", "/"),
        ("/\t/evil", "/"),
        ("/\n/evil", "/"),
        ("evil", "/"),
        ("", "/"),
    ],
)
def test_next_is_a_same_origin_path_only(value, expected):
    assert safe_next_path(value) == expected


@pytest.mark.parametrize(
    "next_, redirect",
    [(None, "/worklist"), ("/read/5", "/read/5"), ("/%5Cevil.example/x", "/"), ("//evil", "/"),
     ("https://evil", "/")],
)
def test_login_answers_where_to_go(world, next_, redirect):
    world.user("radiologist", "rita")
    body = {"username": "rita", "password": PASSWORD} | ({} if next_ is None else {"next": next_})
    r = world.new_client().http.post("/api/auth/login", json=body)
    assert r.status_code == 200 and r.json()["redirect"] == redirect


def test_home_sends_a_logged_in_user_to_their_page(world):
    _, rc = world.user("radiologist")
    r = rc.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/worklist"
    r = world.new_client().get("/", follow_redirects=False)
    assert r.headers["location"] == "/login"


def test_login_page_next_never_leaves_the_site(site, browser):
    from .helpers import browser_login

    server, _ = site
    page = browser()
    page.goto(f"{server.url}/login?next=/%5Cevil.example/x")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/admin")
    assert page.url.startswith(server.url)
    browser_login(page, server.url, "admin")  # a plain login still goes home
    page.wait_for_url(f"{server.url}/admin")


def _reader_with_a_signed_read(world):
    case_id = world.upload(png_bytes(61))["case"]["id"]
    uid, rc = world.user("radiologist", "demoted")
    read_id = world.admin.ok(
        "post", "/api/reads", 201, json={"case_id": case_id, "reader_id": uid, "arm": "scp"}
    )["id"]
    rep = rc.ok("post", f"/api/reads/{read_id}/open")
    rep = rc.ok(
        "post",
        f"/api/reads/{read_id}/sign",
        json={"rev": rep["rev"], "findings_text": "Clear.", "impression_text": "Normal."},
    )
    return uid, rc, read_id, rep


def test_a_demoted_radiologist_cannot_touch_their_reads(world):
    uid, rc, read_id, rep = _reader_with_a_signed_read(world)
    world.admin.ok("patch", f"/api/users/{uid}", json={"role": "evaluator"})
    actions = [
        ("get", f"/api/reads/{read_id}", None),
        ("post", f"/api/reads/{read_id}/open", None),
        ("put", f"/api/reads/{read_id}/report", {"rev": rep["rev"], "findings_text": "x", "impression_text": "y"}),
        ("post", f"/api/reads/{read_id}/sign", {"rev": rep["rev"]}),
        ("post", f"/api/reads/{read_id}/amend", {"reason": "changed my mind"}),
        ("post", f"/api/reads/{read_id}/events", {"events": [{"kind": "heartbeat", "t": 1}]}),
        ("get", "/api/worklist", None),
    ]
    for method, url, body in actions:
        r = getattr(rc, method)(url, **({} if body is None else {"json": body}))
        assert r.status_code == 403, (method, url, r.status_code, r.text)
        assert "radiologist" in r.json()["detail"]


def test_the_last_admin_cannot_demote_or_deactivate_themselves(world):
    me = world.admin.ok("get", "/api/auth/me")["user"]["id"]
    for body in ({"role": "coordinator"}, {"active": False}):
        r = world.admin.patch(f"/api/users/{me}", json=body)
        assert r.status_code == 409 and "last active admin" in r.json()["detail"]
    assert world.admin.ok("get", "/api/auth/me")["user"]["role"] == "admin"
    other, _ = world.user("admin", "second")
    world.admin.ok("patch", f"/api/users/{me}", json={"role": "coordinator"})  # now allowed
    r = world.admin.patch(f"/api/users/{other}", json={"active": False})
    assert r.status_code == 403  # no longer an admin


def test_no_write_lock_is_held_while_a_password_is_checked(site):
    """A login's password check runs with no transaction open: an autosave made while it
    runs completes (on SQLite a held write lock would make it wait for the login)."""
    server, admin = site
    state = server.app.state.ws
    uid = admin.ok(
        "post", "/api/users", 201, json={"username": "rk", "password": PASSWORD, "role": "radiologist"}
    )["id"]
    case_id = admin.ok(
        "post", "/api/cases", files={"file": ("a.png", png_bytes(7), "image/png")}
    )["case"]["id"]
    read_id = admin.ok(
        "post", "/api/reads", 201, json={"case_id": case_id, "reader_id": uid, "arm": "scp"}
    )["id"]
    reader = server.client()
    assert reader.login("rk").status_code == 200
    rev = reader.ok("post", f"/api/reads/{read_id}/open")["rev"]

    checking, saved = threading.Event(), threading.Event()
    released: list[bool] = []

    class SlowHasher(PasswordHasher):
        def verify(self, hash, password):
            checking.set()
            # held until the autosave is through; False if it could not get through
            released.append(saved.wait(20))
            return super().verify(hash, password)

    state.hasher = SlowHasher(time_cost=1, memory_cost=1024)
    codes = []
    t = threading.Thread(target=lambda: codes.append(server.client().login("rk", "wrong!").status_code))
    t.start()
    assert checking.wait(30)
    r = reader.put(
        f"/api/reads/{read_id}/report",
        json={"rev": rev, "findings_text": "saved during a login", "impression_text": "ok"},
    )
    saved.set()
    t.join(60)
    assert r.status_code == 200, r.text
    assert released == [True], "the autosave waited for the login's password check"
    assert codes == [401]
