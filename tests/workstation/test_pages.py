"""The HTML pages: one base template, the CSP kept (no inline script or style), staff-only
study pages (and their API) refused to other roles, the study list and case search the
pages use."""

from __future__ import annotations

import re

import pytest

from .helpers import png_bytes

PAGES = {
    "/login": ["login.js"],
    "/worklist": ["worklist.js"],
    "/read/1": ["png16.js", "viewer.js", "maps.js", "editor.js", "exam.js", "read.js"],
    "/read/1/report": ["report.js"],
    "/account": ["account.js"],
    "/evaluations": ["evaluations.js"],
    "/evaluation/1": ["png16.js", "viewer.js", "evaluation.js"],
    "/admin": ["admin.js"],
    "/studies": ["studies.js"],
    "/studies/1": ["study.js"],
}


def test_every_page_comes_from_the_base_template_without_inline_code(world):
    for path, scripts in PAGES.items():
        r = world.admin.get(path)
        assert r.status_code == 200, path
        html = r.text
        assert html.count("<head>") == 1
        assert re.search(r'<link rel="stylesheet" href="/static/app\.css\?v=[0-9a-f]{12}">', html)
        srcs = re.findall(r'<script src="/static/([\w.]+)\?v=[0-9a-f]{12}" defer></script>', html)
        assert srcs == ["api.js", *scripts], (path, srcs)
        # besides the files, one data block (JSON, which the browser does not run: the constants)
        assert html.count('<script type="application/json" id="cxr-constants">') == 1, path
        assert len(re.findall(r"<script", html)) == len(srcs) + 1, f"{path}: an inline script"
        assert " style=" not in html and "<style" not in html, f"{path}: inline style (CSP)"
        assert re.search(r" on[a-z]+=", html) is None, f"{path}: inline event handler"
        assert "not for clinical use" in html
        assert "script-src" not in r.headers["content-security-policy"]  # default-src 'self' only
        assert r.headers["content-security-policy"].startswith("default-src 'self'")


def test_static_scripts_set_no_style_attribute():
    """The CSP (no 'unsafe-inline') drops style attributes set from markup or setAttribute."""
    from cxrpilot.workstation._assets import STATIC

    for js in STATIC.glob("*.js"):
        text = js.read_text()
        assert 'style: "' not in text and "setAttribute(\"style\"" not in text, js.name


@pytest.mark.parametrize("path", ["/studies", "/studies/3", "/admin"])
def test_staff_pages_need_a_login_and_a_staff_role(world, path):
    anon = world.new_client()
    r = anon.get(path, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/login?next={path}"
    for role, home in (("radiologist", "/worklist"), ("evaluator", "/evaluations")):
        _, c = world.user(role)
        r = c.get(path)
        assert r.status_code == 403, (role, r.status_code)
        assert "needs the role admin or coordinator; you are " + role in r.text
        assert f'href="{home}"' in r.text and 'data-denied="403"' in r.text
    _, coordinator = world.user("coordinator")
    assert coordinator.get(path).status_code == 200


def test_study_api_is_refused_to_readers_and_evaluators(world):
    admin = world.admin
    case = world.upload(png_bytes(1))["case"]["id"]
    rid, reader = world.user("radiologist")
    _, evaluator = world.user("evaluator")
    sid = admin.ok("post", "/api/studies", 201, json={"name": "s", "design": "per_case"})["id"]
    calls = [
        ("get", "/api/studies", None),
        ("post", "/api/studies", {"name": "t", "design": "per_case"}),
        ("get", f"/api/studies/{sid}", None),
        ("get", f"/api/studies/{sid}/cases", None),
        ("get", f"/api/studies/{sid}/members", None),
        ("post", f"/api/studies/{sid}/cases", {"case_ids": [case]}),
        ("post", f"/api/studies/{sid}/members", {"user_ids": [rid], "role": "reader"}),
        ("put", f"/api/studies/{sid}/cases/{case}/eligibility", {"answers": {}}),
        ("post", f"/api/studies/{sid}/randomise", {"seed": 1}),
        ("post", f"/api/studies/{sid}/evaluation", {"seed": 1}),
        ("get", f"/api/studies/{sid}/export/reads?format=csv", None),
        ("get", f"/api/studies/{sid}/export/evaluations", None),
        ("get", "/api/cases?q=case", None),
    ]
    for client in (reader, evaluator):
        for method, url, body in calls:
            r = getattr(client, method)(url, **({"json": body} if body is not None else {}))
            assert r.status_code == 403, (client.user["role"], method, url, r.status_code)
    # nothing happened
    assert admin.ok("get", f"/api/studies/{sid}/cases") == []
    assert admin.ok("get", f"/api/studies/{sid}/members") == []


def test_study_list_counts_and_study_cases_and_members(world):
    admin = world.admin
    cases = [world.upload(png_bytes(10 + i))["case"]["id"] for i in range(3)]
    readers = [world.user("radiologist", f"r{i}")[0] for i in range(2)]
    ev, _ = world.user("evaluator", "ev")
    crit = [{"key": "frontal", "text": "Frontal view?"}]
    sid = admin.ok(
        "post", "/api/studies", 201, json={"name": "a", "design": "per_case", "criteria": crit}
    )["id"]
    admin.ok("post", "/api/studies", 201, json={"name": "b", "design": "per_reader"})
    admin.ok("post", f"/api/studies/{sid}/cases", json={"case_ids": cases})
    admin.ok("post", f"/api/studies/{sid}/members", json={"user_ids": readers, "role": "reader"})
    admin.ok("post", f"/api/studies/{sid}/members", json={"user_ids": [ev], "role": "evaluator"})
    admin.ok(
        "put",
        f"/api/studies/{sid}/cases/{cases[0]}/eligibility",
        json={"answers": {"frontal": False}, "note": "lateral"},
    )
    rows = {r["study"]["name"]: r for r in admin.ok("get", "/api/studies")}
    assert rows["a"]["cases"] == 3 and rows["a"]["cases_by_eligibility"] == {
        "pending": 2,
        "excluded": 1,
    }
    assert (rows["a"]["readers"], rows["a"]["evaluators"], rows["a"]["reads"]) == (2, 1, 0)
    assert rows["b"]["cases"] == 0 and rows["b"]["study"]["design"] == "per_reader"
    listed = admin.ok("get", f"/api/studies/{sid}/cases")
    assert [c["case_id"] for c in listed] == cases
    assert listed[0]["eligibility"] == "excluded" and listed[0]["checklist"] == {"frontal": False}
    assert listed[0]["note"] == "lateral" and listed[0]["case_label"].startswith("CASE-")
    members = admin.ok("get", f"/api/studies/{sid}/members")
    assert [(m["role"], m["username"]) for m in members] == [
        ("evaluator", "ev"),
        ("reader", "r0"),
        ("reader", "r1"),
    ]
    for c in cases[1:]:
        admin.ok(
            "put",
            f"/api/studies/{sid}/cases/{c}/eligibility",
            json={"answers": {"frontal": True}},
        )
    admin.ok("post", f"/api/studies/{sid}/randomise", json={"seed": 5})
    row = next(r for r in admin.ok("get", "/api/studies") if r["study"]["id"] == sid)
    assert (row["reads"], row["reads_signed"], row["study"]["seed"]) == (4, 0, 5)
    prog = admin.ok("get", f"/api/studies/{sid}")
    assert prog["reads_by_reader_arm"].keys() == {"r0", "r1"}
    assert sum(n for o in prog["reads_by_reader_arm"]["r0"].values() for n in o.values()) == 2
    assert prog["evaluations_by_status"] == {}


def test_case_search(world):
    world.upload(png_bytes(1), label="PILOT-1", indication="Fever")
    world.upload(png_bytes(2), label="PILOT-2", indication="Chest pain, 50% risk")
    world.upload(png_bytes(3), label="OTHER-3", indication="")

    def labels(q: str) -> list[str]:
        return [c["case"]["label"] for c in world.admin.ok("get", f"/api/cases?q={q}")]

    assert labels("pilot") == ["PILOT-1", "PILOT-2"]
    assert labels("FEVER") == ["PILOT-1"]
    assert labels("%25") == ["PILOT-2"]  # "%" is a literal, not a wildcard
    assert labels("_") == []
    assert len(labels("")) == 3
