"""The interop-facing routes validate every field as the rest of the API does (issue 15 item
3): API tokens, the PACS pull, case priority, the outbox. Each bad field is a 422 that names
it, never a 500, and the answer does not echo the bad value.

These routes are what machine clients (a PACS bridge, an integration engine) call, so a
lax coercion here (``"1"`` or ``true`` taken as an id, an integer taken as a date) would act
on something the client did not mean.
"""

from __future__ import annotations

import pytest

from cxrpilot.workstation._schemas import INT32_MAX

from .helpers import each_row, png_bytes

TOKEN = {"name": "PACS bridge", "scopes": ["ingest"]}
#: A marker that must never come back in an answer (it would be the client's input echoed).
ECHO = "zq7echo"

#: (method, path, JSON body, field the 422 must name)
BAD_FIELDS = [
    ("post", "/api/tokens", {**TOKEN, "name": ""}, "body.name"),
    ("post", "/api/tokens", {**TOKEN, "name": ECHO * 19}, "body.name"),
    ("post", "/api/tokens", {**TOKEN, "name": "a\x00" + ECHO}, "body.name"),
    ("post", "/api/tokens", {**TOKEN, "name": 5}, "body.name"),
    ("post", "/api/tokens", {"name": "n"}, "body.scopes"),
    ("post", "/api/tokens", {**TOKEN, "scopes": []}, "body.scopes"),
    ("post", "/api/tokens", {**TOKEN, "scopes": "ingest"}, "body.scopes"),
    ("post", "/api/tokens", {**TOKEN, "scopes": [ECHO]}, "body.scopes[0]"),
    ("post", "/api/tokens", {**TOKEN, "scopes": ["ingest", "read:results", "ingest"]}, "body.scopes"),
    ("post", "/api/tokens", {**TOKEN, "user_id": 0}, "body.user_id"),
    ("post", "/api/tokens", {**TOKEN, "user_id": INT32_MAX + 1}, "body.user_id"),
    ("post", "/api/tokens", {**TOKEN, "user_id": 2**64}, "body.user_id"),
    ("post", "/api/tokens", {**TOKEN, "user_id": "1"}, "body.user_id"),
    ("post", "/api/tokens", {**TOKEN, "user_id": True}, "body.user_id"),
    ("post", "/api/tokens", {**TOKEN, "user_id": 1.0}, "body.user_id"),
    ("post", "/api/tokens", {**TOKEN, "expires_days": 0}, "body.expires_days"),
    ("post", "/api/tokens", {**TOKEN, "expires_days": 3651}, "body.expires_days"),
    ("post", "/api/tokens", {**TOKEN, "expires_days": 2**64}, "body.expires_days"),
    ("post", "/api/tokens", {**TOKEN, "expires_days": True}, "body.expires_days"),
    ("post", "/api/tokens", {**TOKEN, "expires_days": "30"}, "body.expires_days"),
    ("post", "/api/tokens", {**TOKEN, "expires_days": 1.5}, "body.expires_days"),
    ("post", "/api/tokens", {**TOKEN, "role": "admin"}, "body.role"),
    ("post", "/api/pacs/pull", {"since": "2026-13-01"}, "body.since"),
    ("post", "/api/pacs/pull", {"since": ECHO}, "body.since"),
    ("post", "/api/pacs/pull", {"since": 1_700_000_000}, "body.since"),
    ("post", "/api/pacs/pull", {"since": 1_699_920_000}, "body.since"),
    ("post", "/api/pacs/pull", {"since": "1699920000"}, "body.since"),
    ("post", "/api/pacs/pull", {"since": "2026-02-30"}, "body.since"),
    ("post", "/api/pacs/pull", {"since": 10**20}, "body.since"),
    ("post", "/api/pacs/pull", {"since": "2026-01-01T00:00:00"}, "body.since"),
    ("post", "/api/pacs/pull", {"since": "2026-01-01T10:00:00"}, "body.since"),
    ("post", "/api/pacs/pull", {"since": ["2026-01-01"]}, "body.since"),
    ("put", "/api/cases/1/priority", {}, "body.priority"),
    ("put", "/api/cases/1/priority", {"priority": None}, "body.priority"),
    ("put", "/api/cases/1/priority", {"priority": "STAT"}, "body.priority"),
    ("put", "/api/cases/1/priority", {"priority": ECHO}, "body.priority"),
    ("put", "/api/cases/1/priority", {"priority": 1}, "body.priority"),
    ("put", "/api/cases/1/priority", {"priority": ["urgent"]}, "body.priority"),
]

#: (method, path with query, field)
BAD_QUERIES = [
    ("get", "/api/outbox?status=" + ECHO, "query.status"),
    ("get", "/api/outbox?status=a%00" + ECHO, "query.status"),
    ("get", "/api/outbox?status=" + ECHO * 2000, "query.status"),
    ("get", "/api/outbox?limit=0", "query.limit"),
    ("get", f"/api/outbox?limit={2**64}", "query.limit"),
    ("get", "/api/cases/1/pixels.png?resolution=" + ECHO, "query.resolution"),
    ("get", "/api/exams/1/images/1/pixels.png?resolution=" + ECHO * 100, "query.resolution"),
]

#: Path ids out of range on these routes (the route walker in test_validation covers every
#: route; these rows pin the interop ones, with and without a body).
BAD_PATHS = [
    ("post", f"/api/tokens/{INT32_MAX + 1}/revoke", "path.token_id"),
    ("post", "/api/tokens/0/revoke", "path.token_id"),
    ("post", f"/api/outbox/{2**64}/retry", "path.item_id"),
    ("post", "/api/outbox/-1/retry", "path.item_id"),
    ("post", f"/api/outbox/{ECHO}/retry", "path.item_id"),
    ("put", f"/api/cases/{INT32_MAX + 1}/priority", "path.case_id"),
]


def _refused(r, field):
    assert r.status_code == 422, f"{r.status_code} {r.text[:300]}"
    assert field in r.json()["detail"], r.json()["detail"]
    assert ECHO not in r.text, r.text[:300]


def test_every_bad_field_is_422_naming_it_without_echo(world):
    each_row(BAD_FIELDS, lambda m, p, body, field: _refused(getattr(world.admin, m)(p, json=body), field))


def test_every_bad_query_is_422_naming_it_without_echo(world):
    each_row(BAD_QUERIES, lambda m, p, field: _refused(getattr(world.admin, m)(p), field))


def test_every_bad_path_id_is_422_naming_it(world):
    each_row(
        BAD_PATHS,
        lambda m, p, field: _refused(getattr(world.admin, m)(p, json={"priority": "urgent"}), field),
    )


def test_the_limits_at_the_edge_are_accepted(world):
    """The largest and smallest values the schemas allow work on this database."""
    rid, _ = world.user("radiologist")
    made = world.admin.ok(
        "post",
        "/api/tokens",
        201,
        json={"name": "é" * 128, "scopes": ["ingest", "read:results"], "user_id": rid,
              "expires_days": 3650},
    )
    assert made["name"] == "é" * 128 and made["user_id"] == rid
    assert made["scopes"] == ["ingest", "read:results"]
    short = world.admin.ok("post", "/api/tokens", 201, json={**TOKEN, "expires_days": 1})
    assert world.admin.ok("post", f"/api/tokens/{short['id']}/revoke")["revoked_at"]
    case_id = world.upload(png_bytes(5))["case"]["id"]
    for priority in ("stat", "urgent", "routine"):
        out = world.admin.ok("put", f"/api/cases/{case_id}/priority", json={"priority": priority})
        assert out["priority"] == priority
    for status in ("pending", "sending", "sent", "failed", "superseded"):
        assert world.admin.ok("get", f"/api/outbox?status={status}&limit=1000") == []


@pytest.mark.parametrize("since", [None, "2026-02-28", "1900-01-01"])
def test_a_valid_pull_without_a_pacs_says_so(world, since):
    """The body passes; the answer is the missing configuration, not the body."""
    r = world.admin.post("/api/pacs/pull", json={} if since is None else {"since": since})
    assert r.status_code == 422 and "no PACS configured" in r.json()["detail"], r.text


@pytest.mark.parametrize(
    "method, path, status, message",
    [
        ("post", f"/api/tokens/{INT32_MAX}/revoke", 404, "does not exist"),
        ("post", f"/api/outbox/{INT32_MAX}/retry", 404, "does not exist"),
        ("put", f"/api/cases/{INT32_MAX}/priority", 404, "not"),
    ],
)
def test_missing_objects_are_404(world, method, path, status, message):
    r = getattr(world.admin, method)(path, json={"priority": "urgent"})
    assert r.status_code == status and message in r.json()["detail"], r.text


def test_revoking_twice_is_idempotent_and_keeps_the_first_time(world):
    made = world.admin.ok("post", "/api/tokens", 201, json=TOKEN)
    first = world.admin.ok("post", f"/api/tokens/{made['id']}/revoke")["revoked_at"]
    assert world.admin.ok("post", f"/api/tokens/{made['id']}/revoke")["revoked_at"] == first


@pytest.mark.parametrize(
    "role, method, path, body",
    [
        ("coordinator", "post", "/api/tokens", TOKEN),
        ("radiologist", "post", "/api/tokens/1/revoke", None),
        ("coordinator", "post", "/api/pacs/pull", {}),
        ("radiologist", "get", "/api/outbox", None),
        ("evaluator", "post", "/api/outbox/1/retry", None),
    ],
)
def test_admin_routes_refuse_other_roles_before_any_lookup(world, role, method, path, body):
    _, client = world.user(role)
    kwargs = {} if body is None else {"json": body}
    r = getattr(client, method)(path, **kwargs)
    assert r.status_code == 403, r.text


#: FHIR search parameters (an OperationOutcome 400 names the parameter, never echoes it).
BAD_FHIR_QUERIES = [
    ("patient=a%00" + ECHO, "patient"),
    ("patient=Patient/a%00" + ECHO, "patient"),
    ("patient=" + ECHO * 100, "patient"),
    ("accession=a%00" + ECHO, "accession"),
    ("accession=" + ECHO * 100, "accession"),
    ("status=final,a%00" + ECHO, "status"),
    ("status=final," + ECHO, "status"),
    ("status=" + "final," * 11 + "final", "status"),
    ("_count=%C2%B2", "_count"),  # '²': str.isdigit() says yes, int() says no
    ("_count=" + "9" * 5000, "_count"),
    ("_count=201", "_count"),
    ("_count=-1", "_count"),
    ("_count=" + ECHO, "_count"),
    ("_format=" + ECHO, "_format"),
    (ECHO * 5 + "=1", "search parameter"),
    ("a%00" + ECHO + "=1", "search parameter"),
]


def test_bad_fhir_search_parameters_are_400_outcomes_without_echo(world):
    def check(query, name):
        r = world.admin.get("/fhir/DiagnosticReport?" + query)
        assert r.status_code in (400, 406), f"{r.status_code} {r.text[:300]}"
        body = r.json()
        assert body["resourceType"] == "OperationOutcome", body
        assert name in body["issue"][0]["diagnostics"], body
        assert ECHO not in r.text, r.text[:300]

    each_row(BAD_FHIR_QUERIES, check)


@pytest.mark.parametrize(
    "query", ["patient=Patient/" + "k" * 64, "accession=" + "A" * 16, "status=final,amended",
              "_count=0", "_count=200"]
)
def test_fhir_search_parameters_at_the_edge_are_searched(world, query):
    r = world.admin.get("/fhir/DiagnosticReport?" + query)
    assert r.status_code == 200 and r.json()["resourceType"] == "Bundle", r.text[:300]
