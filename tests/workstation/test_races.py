"""Races on a real server (uvicorn, real threads, SQLite and PostgreSQL): parallel requests
that used to duplicate rows or slip past checks now give one result and clear 409/429s."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

from .helpers import PASSWORD, LiveServer, image_loader, png_bytes, small_drafter, wait_for

N = 8


@pytest.fixture
def live(settings_factory):
    """``live(**settings) -> (server, admin client)``: the app on uvicorn with an admin."""
    from cxrpilot.workstation import create_app
    from cxrpilot.workstation._services import auth

    servers = []

    def make(**overrides):
        app = create_app(
            settings_factory(**overrides), draft_producer=small_drafter, loader=image_loader()
        )
        with app.state.ws.sessions() as db:
            auth.create_user(
                db, None, username="admin", password=PASSWORD, role="admin",
                hasher=app.state.ws.hasher,
            )
        server = LiveServer(app)
        servers.append(server)
        admin = server.client()
        assert admin.login("admin").status_code == 200
        return server, admin

    yield make
    for server in servers:
        server.stop()


def together(n: int, fn) -> list:
    """Run ``fn(i)`` in ``n`` threads released at once; their results (or exceptions)."""
    barrier = threading.Barrier(n)
    out: list = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait(30)
            out[i] = fn(i)
        except Exception as exc:  # noqa: BLE001 - reported by the caller
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return out


def _count(app, model, *where) -> int:
    with app.state.ws.sessions() as db:
        return db.scalar(select(func.count()).select_from(model).where(*where))


def _user(admin, name: str, role: str) -> int:
    return admin.ok(
        "post", "/api/users", 201, json={"username": name, "password": PASSWORD, "role": role}
    )["id"]


def test_parallel_assignments_make_one_read(live):
    from cxrpilot.workstation._orm import Read

    server, admin = live(worker_threads=0)
    case_id = admin.ok(
        "post", "/api/cases", files={"file": ("a.png", png_bytes(1), "image/png")}
    )["case"]["id"]
    rid = _user(admin, "r1", "radiologist")
    clients = [server.client() for _ in range(N)]
    for c in clients:
        c.login("admin")
    codes = together(
        N,
        lambda i: clients[i].post(
            "/api/reads", json={"case_id": case_id, "reader_id": rid, "arm": "scp"}
        ).status_code,
    )
    assert Counter(codes) == {201: 1, 409: N - 1}, codes
    assert _count(server.app, Read, Read.case_id == case_id) == 1


def test_parallel_identical_uploads_make_one_case(live):
    from cxrpilot.workstation._orm import Case, Image

    server, _ = live(worker_threads=0)
    clients = [server.client() for _ in range(N)]
    for c in clients:
        c.login("admin")
    data = png_bytes(2)
    results = together(
        N,
        lambda i: clients[i].post(
            "/api/cases", files={"file": ("same.png", data, "image/png")}
        ),
    )
    codes = [r.status_code if not isinstance(r, Exception) else repr(r) for r in results]
    assert set(codes) == {200}, codes
    bodies = [r.json() for r in results]
    assert len({b["case"]["id"] for b in bodies}) == 1
    assert sum(b["created"] for b in bodies) == 1
    assert _count(server.app, Image) == 1 and _count(server.app, Case) == 1


def _study_ready_for_evaluation(server, admin, *, signed: bool = True) -> int:
    case_ids = [
        admin.ok(
            "post", "/api/cases", files={"file": (f"{i}.png", png_bytes(10 + i), "image/png")}
        )["case"]["id"]
        for i in range(2)
    ]
    for c in case_ids:
        wait_for(lambda c=c: admin.ok("get", f"/api/cases/{c}")["draft_status"] == "ready", 30)
    readers = [_user(admin, f"reader{i}", "radiologist") for i in range(2)]
    evaluators = [_user(admin, f"eval{i}", "evaluator") for i in range(2)]
    sid = admin.ok("post", "/api/studies", 201, json={"name": "race", "design": "per_reader"})["id"]
    admin.ok("post", f"/api/studies/{sid}/cases", json={"case_ids": case_ids})
    admin.ok("post", f"/api/studies/{sid}/members", json={"user_ids": readers, "role": "reader"})
    admin.ok(
        "post", f"/api/studies/{sid}/members", json={"user_ids": evaluators, "role": "evaluator"}
    )
    admin.ok("post", f"/api/studies/{sid}/randomise", json={"seed": 3})
    if signed:
        for i in range(2):
            rc = server.client()
            rc.login(f"reader{i}")
            for item in rc.ok("get", "/api/worklist"):
                rep = rc.ok("post", f"/api/reads/{item['read_id']}/open")
                rc.ok(
                    "post",
                    f"/api/reads/{item['read_id']}/sign",
                    json={"rev": rep["rev"], "findings_text": f"By {i}.", "impression_text": "Ok."},
                )
    return sid


def test_parallel_evaluation_starts_make_one_set_of_tasks_under_one_seed(live):
    from cxrpilot.workstation._study_orm import EvaluationTask, StudySeed

    server, admin = live()
    sid = _study_ready_for_evaluation(server, admin)
    clients = [server.client() for _ in range(N)]
    for c in clients:
        c.login("admin")
    results = together(
        N, lambda i: clients[i].post(f"/api/studies/{sid}/evaluation", json={"seed": 100 + i})
    )
    codes = Counter(r.status_code for r in results)
    assert codes == {200: 1, 409: N - 1}, codes
    winner = next(r.json() for r in results if r.status_code == 200)
    assert winner["tasks"] == 4  # 2 evaluators x 2 cases, each a pair
    assert _count(server.app, EvaluationTask, EvaluationTask.study_id == sid) == 4
    seeds = admin.ok("get", f"/api/studies/{sid}")["seeds"]
    assert [(s["purpose"], s["seed"]) for s in seeds] == [
        ("randomise", 3),
        ("evaluation", winner["seed"]),
    ]
    assert _count(server.app, StudySeed, StudySeed.study_id == sid) == 2
    assert admin.ok("get", f"/api/studies/{sid}")["study"]["evaluation_seed"] == winner["seed"]


def test_parallel_randomisations_make_one_plan(live):
    from cxrpilot.workstation._orm import Read

    server, admin = live(worker_threads=0)
    case_id = admin.ok(
        "post", "/api/cases", files={"file": ("a.png", png_bytes(3), "image/png")}
    )["case"]["id"]
    rid = _user(admin, "r1", "radiologist")
    sid = admin.ok("post", "/api/studies", 201, json={"name": "r", "design": "per_case"})["id"]
    admin.ok("post", f"/api/studies/{sid}/cases", json={"case_ids": [case_id]})
    admin.ok("post", f"/api/studies/{sid}/members", json={"user_ids": [rid], "role": "reader"})
    clients = [server.client() for _ in range(N)]
    for c in clients:
        c.login("admin")
    codes = together(
        N, lambda i: clients[i].post(f"/api/studies/{sid}/randomise", json={"seed": i}).status_code
    )
    assert Counter(codes) == {200: 1, 409: N - 1}, codes
    assert _count(server.app, Read, Read.study_id == sid) == 1


def test_parallel_login_guesses_cannot_pass_the_throttle(live):
    from cxrpilot.workstation._orm import LoginAttempt

    server, _ = live(login_max_failures=5, login_window_s=600, login_lockout_s=600)
    n = 40
    clients = [server.client() for _ in range(n)]
    codes = together(n, lambda i: clients[i].login("admin", f"guess number {i}").status_code)
    counts = Counter(codes)
    assert set(counts) <= {401, 429} and counts[401] <= 5, counts
    assert _count(server.app, LoginAttempt, LoginAttempt.success.is_(False)) == counts[401]
    # attempts refused in the burst checked nothing; later guesses get only what is left
    late = server.client()
    more = [late.login("admin", f"late guess {i}").status_code for i in range(6)]
    assert counts[401] + more.count(401) == 5 and more[-1] == 429, (counts, more)
    assert late.login("admin").status_code == 429


def test_two_admins_demoting_each_other_at_once_leave_one(live):
    from cxrpilot.workstation._orm import User

    server, admin = live(worker_threads=0)
    me = admin.ok("get", "/api/auth/me")["user"]["id"]
    other = _user(admin, "admin2", "admin")
    second = server.client()
    second.login("admin2")
    results = together(
        2,
        lambda i: (admin, second)[i].patch(
            f"/api/users/{(other, me)[i]}", json={"role": "coordinator"}
        ).status_code,
    )
    assert sorted(results) in ([200, 403], [200, 409]), results
    assert _count(server.app, User, User.role == "admin", User.active.is_(True)) == 1
