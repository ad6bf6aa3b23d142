"""Every API input is validated at the edge: standard JSON only, bounded integers, bounded
text without NUL or lone surrogates; a bad input is a 4xx naming the field, never a 500.

The tables below go over every route's inputs; each test runs them against one app (per
database) and reports every row that fails, so one run shows them all.
"""

from __future__ import annotations

import re

import pytest

from cxrpilot.workstation._schemas import INT32_MAX, INT64_MAX, MAX_CLIENT_MS
from cxrpilot.workstation._validation import json_body_error

from .helpers import PASSWORD, each_row, png_bytes

# ---------------------------------------------------------------------------------------
# The JSON gate: what Python's json accepts but JSON (RFC 8259) and the databases do not.

#: (raw body, expected fragment of the message)
NON_JSON = [
    (b'{"username": NaN, "password": "x"}', "body.username: NaN is not a JSON number"),
    (b'{"a": [1, Infinity]}', "body.a[1]: Infinity is not a JSON number"),
    (b'{"a": {"b": -Infinity}}', "body.a.b: -Infinity is not a JSON number"),
    (b'{"t": 1e999}', "body.t: a number out of the range of a double"),
    (b'{"username": "\\ud800x"}', "body.username: contains a lone surrogate"),
    (b'{"k": {"\\udfff": 1}}', "body.k: a key contains a lone surrogate"),
    (b'{"username": "ad\\u0000min"}', "body.username: contains a NUL character"),
    (b'{"username": "\xff\xfe"}', "body: not UTF-8 text"),
    (b'{"a": ' + b"[" * 40 + b"]" * 40 + b"}", "nested more than 32 levels"),
    (b"[" * 100_000, "body: "),
    (b'{"seed": ' + b"9" * 5000 + b"}", "body: not acceptable JSON"),
    (b'{"a": 1,}', "body: not valid JSON"),
]


@pytest.mark.parametrize("raw, message", NON_JSON)
def test_json_body_error_names_where_the_bad_value_is(raw, message):
    found = json_body_error(raw)
    assert found is not None and message in found[0], found


@pytest.mark.parametrize(
    "raw", [b'{"a": 1.5, "b": "\\u00e9\\ud83d\\ude00", "c": [null, true, -0.0]}', b"[]", b'"x"']
)
def test_standard_json_passes_the_gate(raw):
    assert json_body_error(raw) is None


#: Every route that takes a JSON body (method, path); ids need not exist: the gate and the
#: schemas answer before any lookup.
JSON_ROUTES = [
    ("post", "/api/auth/login"),
    ("post", "/api/auth/password"),
    ("post", "/api/users"),
    ("patch", "/api/users/1"),
    ("post", "/api/cases/import-folder"),
    ("post", "/api/reads"),
    ("put", "/api/reads/1/report"),
    ("post", "/api/reads/1/sign"),
    ("post", "/api/reads/1/amend"),
    ("post", "/api/reads/1/events"),
    ("post", "/api/studies"),
    ("post", "/api/studies/1/cases"),
    ("post", "/api/studies/1/members"),
    ("put", "/api/studies/1/cases/1/eligibility"),
    ("post", "/api/studies/1/randomise"),
    ("post", "/api/studies/1/evaluation"),
    ("post", "/api/evaluations/1"),
    ("put", "/api/cases/1/priority"),
    ("post", "/api/pacs/pull"),
    ("post", "/api/tokens"),
]


def test_json_routes_table_covers_every_json_route(world):
    """A new route with a JSON body must be added to JSON_ROUTES (and so get tested)."""
    from fastapi import params

    table = {(m.upper(), re.sub(r"/\d+", "/{}", p)) for m, p in JSON_ROUTES}
    seen = 0
    for route in _api_routes(world.app):
        if not route.dependant.body_params:
            continue
        seen += 1
        if any(isinstance(p.field_info, params.Form) for p in route.dependant.body_params):
            continue  # a multipart upload (its form fields: test_upload_form_fields)
        path = re.sub(r"\{[^}]+\}", "{}", route.path)
        for method in route.methods - {"HEAD"}:
            assert (method, path) in table, f"{method} {route.path} is not in JSON_ROUTES"
    assert seen >= len(JSON_ROUTES)


def _api_routes(app):
    """Every APIRoute of the app (FastAPI keeps included routers as branches)."""
    from fastapi.routing import APIRoute

    stack = list(app.router.routes)
    while stack:
        route = stack.pop()
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # an included router (its paths are full)
            stack.extend(route.original_router.routes)
        elif hasattr(route, "routes") and not hasattr(route, "app"):
            stack.extend(route.routes)


def test_non_json_bodies_are_422_on_every_route_never_500(world):
    def check(method, path, raw, message):
        r = getattr(world.admin, method)(
            path, content=raw, headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 422, f"{r.status_code} {r.text[:200]}"
        assert message in r.json()["detail"], r.json()["detail"]

    each_row([(m, p, raw, msg) for m, p in JSON_ROUTES for raw, msg in NON_JSON], check)


def test_a_body_without_content_type_is_checked_too(world):
    r = world.admin.http.post(
        "/api/auth/login", content=b'{"username": NaN, "password": "x"}'
    )
    assert r.status_code == 422 and "NaN" in r.json()["detail"]


def test_a_huge_json_body_is_413(world):
    r = world.admin.post(
        "/api/reads/1/events",
        content=b'{"events": [' + b'{"kind": "heartbeat", "t": 1},' * 100_000 + b"]}",
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413 and "larger than" in r.json()["detail"]


def test_a_validation_error_does_not_echo_the_input(world):
    r = world.new_client().http.post(
        "/api/auth/login", json={"username": "admin", "password": "p" * 2000}
    )
    assert r.status_code == 422 and "body.password" in r.json()["detail"]
    assert "ppppp" not in r.text


# ---------------------------------------------------------------------------------------
# Field by field: each row is one bad field in an otherwise plausible body.

LONG = "x" * 20_001
NUL = "a\x00b"
GOOD_EVENT = {"kind": "heartbeat", "t": 1_700_000_000_000}
RATING = {"likert": 3, "radpeer": "1"}

#: (method, path, JSON body, field the 422 must name)
BAD_FIELDS = [
    ("post", "/api/auth/login", {"username": "u" * 65, "password": "x"}, "body.username"),
    ("post", "/api/auth/login", {"username": "admin", "password": "p" * 1025}, "body.password"),
    ("post", "/api/auth/login", {"username": 5, "password": "x"}, "body.username"),
    ("post", "/api/auth/password", {"old_password": "x", "new_password": "n" * 129}, "body.new_password"),
    ("post", "/api/users", {"username": "u" * 65, "password": PASSWORD, "role": "admin"}, "body.username"),
    ("post", "/api/users", {"username": "bob", "password": PASSWORD, "role": "root"}, "body.role"),
    ("post", "/api/users", {"username": "bob", "password": PASSWORD, "role": "admin", "display_name": "d" * 129}, "body.display_name"),
    ("patch", "/api/users/1", {"display_name": NUL}, "body.display_name"),
    ("patch", "/api/users/1", {"active": "perhaps"}, "body.active"),
    ("post", "/api/cases/import-folder", {"path": "/tmp/" + NUL}, "body.path"),
    ("post", "/api/cases/import-folder", {"path": ""}, "body.path"),
    ("post", "/api/reads", {"case_id": INT32_MAX + 1, "reader_id": 1}, "body.case_id"),
    ("post", "/api/reads", {"case_id": 1, "reader_id": INT64_MAX + 1}, "body.reader_id"),
    ("post", "/api/reads", {"case_id": 2**64, "reader_id": 1}, "body.case_id"),
    ("post", "/api/reads", {"case_id": "1", "reader_id": 1}, "body.case_id"),
    ("post", "/api/reads", {"case_id": True, "reader_id": 1}, "body.case_id"),
    ("post", "/api/reads", {"case_id": 1.5, "reader_id": 1}, "body.case_id"),
    ("post", "/api/reads", {"case_id": 0, "reader_id": 1}, "body.case_id"),
    ("post", "/api/reads", {"case_id": 1, "reader_id": 1, "arm": "placebo"}, "body.arm"),
    ("put", "/api/reads/1/report", {"rev": -1, "findings_text": "", "impression_text": ""}, "body.rev"),
    ("put", "/api/reads/1/report", {"rev": INT32_MAX + 1, "findings_text": "", "impression_text": ""}, "body.rev"),
    ("put", "/api/reads/1/report", {"rev": 1, "findings_text": LONG, "impression_text": ""}, "body.findings_text"),
    ("put", "/api/reads/1/report", {"rev": 1, "findings_text": "", "impression_text": NUL}, "body.impression_text"),
    ("post", "/api/reads/1/sign", {"rev": 2**64}, "body.rev"),
    ("post", "/api/reads/1/sign", {"rev": 1, "findings_text": NUL}, "body.findings_text"),
    ("post", "/api/reads/1/sign", {"rev": 1, "confirm_unedited": "perhaps"}, "body.confirm_unedited"),
    ("post", "/api/reads/1/amend", {"reason": "r" * 2001}, "body.reason"),
    ("post", "/api/reads/1/amend", {"reason": NUL}, "body.reason"),
    ("post", "/api/reads/1/events", {"events": [{"kind": "image_shown", "t": 0}]}, "body.events[0].t"),
    ("post", "/api/reads/1/events", {"events": [GOOD_EVENT, {"kind": "heartbeat", "t": -5}]}, "body.events[1].t"),
    ("post", "/api/reads/1/events", {"events": [{"kind": "heartbeat", "t": MAX_CLIENT_MS + 1}]}, "body.events[0].t"),
    ("post", "/api/reads/1/events", {"events": [{"kind": "heartbeat", "t": 2**64}]}, "body.events[0].t"),
    ("post", "/api/reads/1/events", {"events": [{"kind": "heartbeat", "t": 1.5e12}]}, "body.events[0].t"),
    ("post", "/api/reads/1/events", {"events": [{"kind": "k" * 17, "t": 1}]}, "body.events[0].kind"),
    ("post", "/api/reads/1/events", {"events": [{**GOOD_EVENT, "visible": "x"}]}, "body.events[0].visible"),
    ("post", "/api/reads/1/events", {"events": [GOOD_EVENT] * 501}, "body.events"),
    ("post", "/api/studies", {"name": "n" * 129, "design": "per_case"}, "body.name"),
    ("post", "/api/studies", {"name": NUL, "design": "per_case"}, "body.name"),
    ("post", "/api/studies", {"name": "s", "design": "latin"}, "body.design"),
    ("post", "/api/studies", {"name": "s", "design": "crossover", "washout_days": 10**9}, "body.washout_days"),
    ("post", "/api/studies", {"name": "s", "design": "crossover", "washout_days": 2**64}, "body.washout_days"),
    ("post", "/api/studies", {"name": "s", "design": "per_case", "washout_days": -1}, "body.washout_days"),
    ("post", "/api/studies", {"name": "s", "design": "per_case", "description": "d" * 10_001}, "body.description"),
    ("post", "/api/studies", {"name": "s", "design": "per_case", "criteria": [{"key": "k" * 41, "text": "t"}]}, "body.criteria[0].key"),
    ("post", "/api/studies", {"name": "s", "design": "per_case", "criteria": [{"key": "k", "text": "t" * 501}]}, "body.criteria[0].text"),
    ("post", "/api/studies", {"name": "s", "design": "per_case", "criteria": [{"key": "k", "text": "t"}] * 101}, "body.criteria"),
    ("post", "/api/studies/1/cases", {"case_ids": [1, INT32_MAX + 1]}, "body.case_ids[1]"),
    ("post", "/api/studies/1/cases", {"case_ids": ["a"]}, "body.case_ids[0]"),
    ("post", "/api/studies/1/cases", {"case_ids": [1] * 10_001}, "body.case_ids"),
    ("post", "/api/studies/1/members", {"user_ids": [0], "role": "reader"}, "body.user_ids[0]"),
    ("post", "/api/studies/1/members", {"user_ids": [1], "role": "boss"}, "body.role"),
    ("put", "/api/studies/1/cases/1/eligibility", {"answers": {"k" * 41: True}}, "body.answers"),
    ("put", "/api/studies/1/cases/1/eligibility", {"answers": {"a": "perhaps"}}, "body.answers.a"),
    ("put", "/api/studies/1/cases/1/eligibility", {"answers": {}, "note": "n" * 2001}, "body.note"),
    ("put", "/api/studies/1/cases/1/eligibility", {"answers": {f"k{i}": True for i in range(101)}}, "body.answers"),
    ("post", "/api/studies/1/randomise", {"seed": INT64_MAX + 1}, "body.seed"),
    ("post", "/api/studies/1/randomise", {"seed": -1}, "body.seed"),
    ("post", "/api/studies/1/randomise", {"seed": "7"}, "body.seed"),
    ("post", "/api/studies/1/randomise", {"seed": 1.5}, "body.seed"),
    ("post", "/api/studies/1/evaluation", {"seed": 2**64}, "body.seed"),
    ("post", "/api/studies/1/evaluation", {"allow_unsigned": "perhaps"}, "body.allow_unsigned"),
    ("post", "/api/evaluations/1", {"ratings": {"left": {**RATING, "likert": 6}}}, "body.ratings.left.likert"),
    ("post", "/api/evaluations/1", {"ratings": {"left": {**RATING, "likert": 2**64}}}, "body.ratings.left.likert"),
    ("post", "/api/evaluations/1", {"ratings": {"left": {**RATING, "radpeer": "2aaaa"}}}, "body.ratings.left.radpeer"),
    ("post", "/api/evaluations/1", {"ratings": {"left": {**RATING, "comment": "c" * 2001}}}, "body.ratings.left.comment"),
    ("post", "/api/evaluations/1", {"ratings": {"middle": RATING}}, "body.ratings.middle"),
    ("post", "/api/evaluations/1", {"ratings": {"left": RATING}, "preference": "both"}, "body.preference"),
]

#: (method, path with query, field)
BAD_QUERIES = [
    ("get", "/api/cases?limit=0", "query.limit"),
    ("get", f"/api/cases?limit={2**64}", "query.limit"),
    ("get", "/api/cases?offset=-1", "query.offset"),
    ("get", f"/api/cases?offset={2**70}", "query.offset"),
    ("get", "/api/cases?q=a%00b", "query.q"),
    ("get", "/api/cases?q=" + "q" * 201, "query.q"),
    ("get", "/api/worklist?status=bogus", "query.status"),
    ("get", f"/api/audit?limit={2**64}", "query.limit"),
    ("get", "/api/audit?before_id=0", "query.before_id"),
    ("get", f"/api/audit?before_id={2**63}", "query.before_id"),
    ("get", "/api/studies/1/export/bogus", "path.table"),
    ("get", "/api/studies/1/export/reads?format=xml", "query.format"),
]


def test_every_bad_field_is_422_naming_it(world):
    def check(method, path, body, field):
        r = getattr(world.admin, method)(path, json=body)
        assert r.status_code == 422, f"{r.status_code} {r.text[:300]}"
        assert field in r.json()["detail"], r.json()["detail"]

    each_row(BAD_FIELDS, check)


def test_every_bad_query_is_422_naming_it(world):
    def check(method, path, field):
        r = getattr(world.admin, method)(path)
        assert r.status_code == 422, f"{r.status_code} {r.text[:300]}"
        assert field in r.json()["detail"], r.json()["detail"]

    each_row(BAD_QUERIES, check)


def test_every_path_id_out_of_range_is_422_naming_it(world):
    """All routes with an id in the path, found in the app itself (none can be left out)."""
    rows = []
    for route in _api_routes(world.app):
        names = [p.name for p in route.dependant.path_params if p.field_info.annotation is int]
        for name in names:
            for value in (0, -1, INT32_MAX + 1, 2**64, "x"):
                path = route.path.replace(f"{{{name}}}", str(value))
                path = re.sub(r"\{table\}", "reads", path)
                path = re.sub(r"\{\w+\}", "1", path)
                for method in sorted(route.methods - {"HEAD"}):
                    rows.append((method.lower(), path, name))

    def check(method, path, name):
        kwargs = {} if method == "get" else {"json": {}}
        r = getattr(world.admin, method)(path, **kwargs)
        if path.startswith("/fhir/"):  # FHIR's own error shape: a 400 OperationOutcome
            assert r.status_code == 400, f"{r.status_code} {r.text[:200]}"
            detail = r.json()["issue"][0]["diagnostics"]
        else:
            assert r.status_code == 422, f"{r.status_code} {r.text[:200]}"
            detail = r.json()["detail"]
        assert f"path.{name}" in detail, detail

    assert len(rows) > 40
    each_row(rows, check)


@pytest.mark.parametrize(
    "form, field",
    [
        ({"label": "l" * 129}, "body.label"),
        ({"label": NUL}, "body.label"),
        ({"indication": "i" * 2001}, "body.indication"),
        ({"reference_text": "r" * 20_001}, "body.reference_text"),
    ],
)
def test_upload_form_fields(world, form, field):
    r = world.admin.post(
        "/api/cases", files={"file": ("a.png", png_bytes(1), "image/png")}, data=form
    )
    assert r.status_code == 422 and field in r.json()["detail"], r.text[:300]


@pytest.mark.parametrize(
    "header",
    ["é" * 64, "\u00ff" * 10, "тест"],
)
def test_a_non_ascii_csrf_header_is_403_not_500(world, header):
    r = world.admin.http.post(
        "/api/studies",
        json={"name": "s", "design": "per_case"},
        headers={"X-CSRF-Token": header.encode("utf-8")},
    )
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]


def test_limits_at_the_edge_are_accepted(world):
    """The largest values the schemas allow are stored and read back on this database."""
    study = world.admin.ok(
        "post",
        "/api/studies",
        201,
        json={
            "name": "é" * 128,
            "design": "crossover",
            "washout_days": 365,
            "description": "d" * 10_000,
            "criteria": [{"key": "k" * 40, "text": "t" * 500}],
        },
    )
    assert study["name"] == "é" * 128 and study["washout_days"] == 365
    case_id = world.upload(png_bytes(3), label="l" * 128)["case"]["id"]
    rid, _ = world.user("radiologist")
    world.admin.ok("post", f"/api/studies/{study['id']}/cases", json={"case_ids": [case_id]})
    world.admin.ok(
        "post", f"/api/studies/{study['id']}/members", json={"user_ids": [rid], "role": "reader"}
    )
    world.admin.ok(
        "put",
        f"/api/studies/{study['id']}/cases/{case_id}/eligibility",
        json={"answers": {"k" * 40: True}, "note": "n" * 2000},
    )
    out = world.admin.ok(
        "post", f"/api/studies/{study['id']}/randomise", json={"seed": INT64_MAX}
    )
    assert out["seed"] == INT64_MAX
    assert world.admin.ok("get", "/api/cases?limit=1000&offset=2147483647") == []


#: Text query parameters checked in their route instead of by a bounded type: (path, name).
CHECKED_IN_ROUTE = {
    ("/fhir/DiagnosticReport", "patient"),  # fhir._search_value_problem: OperationOutcomes
    ("/fhir/DiagnosticReport", "accession"),
    ("/fhir/DiagnosticReport", "status"),
    ("/api/cases/{case_id}/pixels.png", "resolution"),  # compared with RESOLUTIONS only
    ("/api/exams/{exam_id}/images/{image_id}/pixels.png", "resolution"),
}


def test_every_text_query_parameter_is_bounded(world):
    """A new route with a free ``str`` query parameter (no length limit, no Literal) fails
    here: it could reach the database with a NUL or an over-long value (a 500 on
    PostgreSQL), or be echoed back."""
    import typing

    from annotated_types import MaxLen

    unbounded = []
    for route in _api_routes(world.app):
        for p in route.dependant.query_params:
            args = typing.get_args(p.field_info.annotation) or (p.field_info.annotation,)
            if str not in args:
                continue  # int, Literal[...], ...
            if any(isinstance(m, MaxLen) for m in p.field_info.metadata):
                continue
            if (route.path, p.name) not in CHECKED_IN_ROUTE:
                unbounded.append(f"{sorted(route.methods)} {route.path} ?{p.name}")
    assert unbounded == [], unbounded
