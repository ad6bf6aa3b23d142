"""Workstation fixtures: a real SQLite file database and a real throwaway PostgreSQL."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import system_component_missing

from .helpers import PASSWORD, Client, image_loader, live_site, small_drafter

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = (
    os.environ.get("CXRPILOT_CHROMIUM")
    or shutil.which("chromium")
    or shutil.which("chromium-browser")
)
POSTGRES_SH = REPO / "scripts" / "postgres.sh"


def _have_postgres_binaries() -> bool:
    return shutil.which("initdb") is not None or any(
        Path("/usr/lib/postgresql").glob("*/bin/initdb")
    )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL of a PostgreSQL server: $CXRPILOT_TEST_POSTGRES_URL, else a throwaway cluster
    started with scripts/postgres.sh; skips when neither is possible."""
    url = os.environ.get("CXRPILOT_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    if not _have_postgres_binaries():
        pytest.skip(
            "PostgreSQL server binaries not found (apt-get install -y postgresql), "
            "and CXRPILOT_TEST_POSTGRES_URL is not set"
        )
    directory = f"/tmp/cxrpilot-pg-test-{uuid.uuid4().hex[:8]}"
    port = str(56000 + os.getpid() % 4000)
    out = subprocess.run(
        [str(POSTGRES_SH), "start", directory, port], capture_output=True, text=True
    )
    if out.returncode != 0:
        system_component_missing(
            f"could not start a throwaway PostgreSQL: {out.stderr.strip()[-500:]}")
    try:
        yield out.stdout.strip()
    finally:
        subprocess.run([str(POSTGRES_SH), "stop", directory], capture_output=True)


def _fresh_postgres_db(server_url: str, template: str | None = None) -> tuple[str, str]:
    import psycopg

    name = f"ws_{uuid.uuid4().hex[:12]}"
    plain = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return server_url.rsplit("/", 1)[0] + f"/{name}", name


def _migrate(url: str) -> None:
    from cxrpilot.workstation import _db

    engine = _db.make_engine(url)
    try:
        _db.upgrade(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_template(postgres_server) -> Iterator[str]:
    """A migrated database that each test's database is copied from (fast)."""
    url, name = _fresh_postgres_db(postgres_server)
    _migrate(url)
    yield name
    _drop_postgres_db(postgres_server, name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "ws.sqlite"
    _migrate(f"sqlite:///{path}")
    return path


def _drop_postgres_db(server_url: str, name: str) -> None:
    import psycopg

    plain = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path) -> Iterator[str]:
    """A fresh database at the newest schema: an SQLite file, and a PostgreSQL database."""
    if request.param == "sqlite":
        shutil.copyfile(request.getfixturevalue("sqlite_template"), tmp_path / "ws.sqlite")
        yield f"sqlite:///{tmp_path / 'ws.sqlite'}"
        return
    server = request.getfixturevalue("postgres_server")
    url, name = _fresh_postgres_db(server, request.getfixturevalue("postgres_template"))
    try:
        yield url
    finally:
        _drop_postgres_db(server, name)


@pytest.fixture
def empty_url(request, tmp_path) -> str:
    """An empty database (no schema; for the migration tests, parametrized ``indirect``):
    ``"sqlite"``, an SQLite file, or ``"postgres"``, a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'm.sqlite'}"
    server = request.getfixturevalue("postgres_server")
    url, name = _fresh_postgres_db(server)
    request.addfinalizer(lambda: _drop_postgres_db(server, name))
    return url


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'ws.sqlite'}"


@pytest.fixture
def settings_factory(tmp_path, database_url):
    from cxrpilot.workstation import Settings

    def make(**overrides):
        # Development mode only for a cheap argon2 cost (tests hash many passwords on 2 cores).
        values = dict(
            data_dir=tmp_path / "data",
            database_url=database_url,
            secret_key="s" * 40,
            worker_threads=1,
            heartbeat_timeout_s=30.0,
            environment="development",
            password_time_cost=1,
            password_memory_kib=1024,
        )
        values.update(overrides)
        return Settings(**values)

    return make


class World:
    """One running app and helpers to populate it through its API."""

    def __init__(self, app) -> None:
        from fastapi.testclient import TestClient

        self.app = app
        self.state = app.state.ws
        self._TestClient = TestClient
        self.admin = self.new_client()
        self._n = 0

    def new_client(self) -> Client:
        return Client(self._TestClient(self.app))

    def bootstrap_admin(self) -> Client:
        from cxrpilot.workstation._services import auth

        with self.state.sessions() as db:
            auth.create_user(
                db,
                None,
                username="admin",
                password=PASSWORD,
                role="admin",
                hasher=self.state.hasher,
            )
        assert self.admin.login("admin").status_code == 200
        return self.admin

    def user(self, role: str, name: str | None = None) -> tuple[int, Client]:
        self._n += 1
        name = name or f"{role}{self._n}"
        body = self.admin.ok(
            "post", "/api/users", 201, json={"username": name, "password": PASSWORD, "role": role}
        )
        client = self.new_client()
        assert client.login(name).status_code == 200
        return body["id"], client

    def upload(self, data: bytes, *, label: str = "", name: str = "x.png", **form) -> dict:
        return self.admin.ok(
            "post",
            "/api/cases",
            files={"file": (name, data, "application/octet-stream")},
            data={"label": label, **form},
        )

    def wait_draft(self, case_id: int, timeout: float = 20.0) -> dict:
        from .helpers import wait_for

        return wait_for(
            lambda: (
                (c := self.admin.ok("get", f"/api/cases/{case_id}"))["draft_status"]
                in ("ready", "failed")
                and c
            ),
            timeout=timeout,
        )


@pytest.fixture
def world_factory(settings_factory):
    """Build apps (lifespan entered: the draft worker runs); all are closed at the end."""
    from fastapi.testclient import TestClient

    from cxrpilot.workstation import create_app

    opened = []

    def make(*, producer=small_drafter, admin: bool = True, loader="test", **overrides) -> World:
        """``loader="test"``: imaging.load without its chest checks; None: the app's default."""
        loader = image_loader() if loader == "test" else loader
        app = create_app(settings_factory(**overrides), draft_producer=producer, loader=loader)
        tc = TestClient(app)
        tc.__enter__()
        opened.append(tc)
        w = World(app)
        if admin:
            w.bootstrap_admin()
        return w

    yield make
    for tc in reversed(opened):
        tc.__exit__(None, None, None)


@pytest.fixture
def world(world_factory) -> World:
    return world_factory()


@pytest.fixture
def browser():
    """``browser(**context_options) -> Page`` in Debian's chromium (skips without it).

    ``strict_csp=True``: the app's Content-Security-Policy applies (as for a user); otherwise
    it is bypassed, because Playwright's ``wait_for_function`` evaluates strings."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="pip install playwright (the Python package)"
    )
    if not CHROMIUM:
        system_component_missing(
            "chromium not found: apt-get install -y chromium (or set CXRPILOT_CHROMIUM)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield lambda strict_csp=False, **kw: b.new_context(
            bypass_csp=not strict_csp, **kw
        ).new_page()
        b.close()


@pytest.fixture
def shots(tmp_path) -> Path:
    """Where browser tests save screenshots: $CXRPILOT_SCREENSHOTS or a temporary folder."""
    out = Path(os.environ.get("CXRPILOT_SCREENSHOTS") or tmp_path / "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture
def site(settings_factory):
    """The real app on uvicorn with an admin; yields ``(server, admin client)``."""
    from cxrpilot.workstation import create_app

    with live_site(create_app(settings_factory(), draft_producer=small_drafter, loader=image_loader())) as s:
        yield s
