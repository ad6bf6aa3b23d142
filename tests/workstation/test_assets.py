"""The static files' HTTP caching: versioned URLs kept a year (immutable), any other URL
revalidated by a content ETag; a changed file is never served stale, in the HTTP exchange
and in real Chromium (whose cache is the one that matters)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil

import pytest

from .helpers import image_loader, live_site, small_drafter

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

IMMUTABLE = "public, max-age=31536000, immutable"


def _urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/static/[^"]+)"', html)


def test_pages_name_static_files_by_content_version_kept_a_year(world):
    from cxrpilot.workstation._assets import STATIC

    urls = _urls(world.admin.get("/read/1").text)
    assert {u.split("?")[0] for u in urls} >= {"/static/app.css", "/static/favicon.svg", "/static/api.js",
                                               "/static/png16.js", "/static/viewer.js", "/static/read.js"}
    for url in urls:
        path, _, version = url.partition("?v=")
        digest = hashlib.sha256((STATIC / path.removeprefix("/static/")).read_bytes()).hexdigest()
        assert version == digest[:12], url
        r = world.admin.get(url)
        assert r.status_code == 200 and r.headers["cache-control"] == IMMUTABLE, url
        assert r.headers["etag"] == f'"{digest[:32]}"'
        assert "nosniff" in r.headers["x-content-type-options"]
        # the same file by its bare URL or an old version's: revalidated each time
        for other in (path, f"{path}?v=000000000000"):
            r = world.admin.get(other)
            assert r.status_code == 200 and r.headers["cache-control"] == "no-cache", other
            again = world.admin.get(other, headers={"If-None-Match": r.headers["etag"]})
            assert again.status_code == 304 and again.content == b"", other
            assert again.headers["etag"] == r.headers["etag"] and again.headers["cache-control"] == "no-cache"


def test_a_changed_file_gets_a_new_url_and_its_old_etag_no_longer_matches(world_factory, tmp_path, monkeypatch):
    """Same size and the same modification time (as a reproducible build leaves them): the
    content decides."""
    from cxrpilot.workstation import _assets

    static = tmp_path / "static"
    shutil.copytree(_assets.STATIC, static)
    monkeypatch.setattr(_assets, "STATIC", static)
    world = world_factory()
    js = static / "login.js"
    js.write_text(js.read_text() + '\n// build "1"\n')
    (url,) = [u for u in _urls(world.admin.get("/login").text) if "login.js" in u]
    first = world.admin.get(url)
    assert first.headers["cache-control"] == IMMUTABLE and first.text.endswith('// build "1"\n')
    st = js.stat()
    js.write_text(js.read_text().replace('"1"', '"2"'))
    os.utime(js, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert js.stat().st_size == st.st_size and js.stat().st_mtime_ns == st.st_mtime_ns

    (new_url,) = [u for u in _urls(world.admin.get("/login").text) if "login.js" in u]
    assert new_url != url
    r = world.admin.get(new_url)
    assert r.headers["cache-control"] == IMMUTABLE and r.text.endswith('// build "2"\n')
    # the old page's URL: the new content, not kept; the old ETag: no 304
    stale = world.admin.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert stale.status_code == 200 and stale.text.endswith('// build "2"\n')
    assert stale.headers["cache-control"] == "no-cache" and stale.headers["etag"] != first.headers["etag"]
    # a date alone confirms nothing (the time did not change)
    dated = world.admin.get("/static/login.js", headers={"If-Modified-Since": first.headers["last-modified"]})
    assert dated.status_code == 200 and dated.text.endswith('// build "2"\n')


class _Hits:
    """ASGI middleware counting the requests for /static/ files (path -> [status, ...])."""

    def __init__(self, app, log):
        self.app, self.log = app, log

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return

        async def record(message):
            if message["type"] == "http.response.start":
                self.log.setdefault(scope["path"], []).append(message["status"])
            await send(message)

        await self.app(scope, receive, record)


@pytest.mark.slow
def test_chromium_keeps_versioned_files_and_takes_a_changed_one(browser, settings_factory, tmp_path, monkeypatch):
    from cxrpilot.workstation import _assets, create_app

    static = tmp_path / "static"
    shutil.copytree(_assets.STATIC, static)
    monkeypatch.setattr(_assets, "STATIC", static)
    js = static / "login.js"
    js.write_text(js.read_text() + '\ndocument.documentElement.dataset.build = "1";\n')
    app = create_app(settings_factory(), draft_producer=small_drafter, loader=image_loader())
    hits: dict[str, list[int]] = {}
    app.add_middleware(_Hits, log=hits)
    with live_site(app) as (server, _admin):
        page = browser(strict_csp=True)
        page.goto(f"{server.url}/login")
        assert page.evaluate("document.documentElement.dataset.build") == "1"
        assert hits["/static/login.js"] == [200] and hits["/static/app.css"] == [200]
        hits.clear()
        # the next page view: every file from the browser's cache, not one request
        page.goto(f"{server.url}/login")
        page.wait_for_selector("#username")
        assert page.evaluate("document.documentElement.dataset.build") == "1"
        assert hits == {}

        st = js.stat()
        js.write_text(js.read_text().replace('build = "1"', 'build = "2"'))
        os.utime(js, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same time
        page.goto(f"{server.url}/login")
        page.wait_for_selector("#username")
        assert page.evaluate("document.documentElement.dataset.build") == "2"
        assert hits == {"/static/login.js": [200]}  # only the changed file, once

        # by its bare URL: kept, but asked again each time (304 while unchanged)
        hits.clear()
        fetch = "() => fetch('/static/login.js').then(r => r.text())"
        assert page.evaluate(fetch).endswith('build = "2";\n')
        assert page.evaluate(fetch).endswith('build = "2";\n')
        assert hits == {"/static/login.js": [200, 304]}
        js.write_text(js.read_text().replace('build = "2"', 'build = "3"'))
        os.utime(js, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert page.evaluate(fetch).endswith('build = "3";\n')
        assert hits == {"/static/login.js": [200, 304, 200]}
        page.context.close()
