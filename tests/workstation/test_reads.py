"""Worklist, reader isolation, report editor (autosave conflicts, sign, amend), reading time."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from cxrpilot.draft import DRAFT_BANNER

from .helpers import MAP_PEAKS, MODEL_ID, png_bytes


def setup_read(world, arm="ai_assisted", seed=11, reader=None):
    case_id = world.upload(png_bytes(seed))["case"]["id"]
    world.wait_draft(case_id)
    rid, rc = reader or world.user("radiologist")
    read = world.admin.ok(
        "post", "/api/reads", 201, json={"case_id": case_id, "reader_id": rid, "arm": arm}
    )
    return read["id"], case_id, (rid, rc)


def test_worklist_shows_status_and_critical_flags(world):
    ai_read, _, reader = setup_read(world, "ai_assisted", 21)
    scp_read, _, _ = setup_read(world, "scp", 22, reader=reader)
    items = {i["read_id"]: i for i in reader[1].ok("get", "/api/worklist")}
    assert items[ai_read]["status"] == "new" and items[ai_read]["draft_status"] == "ready"
    flags = {f["name"]: f["status"] for f in items[ai_read]["critical_flags"]}
    assert flags == {"Cardiomegaly": "present", "Pneumothorax": "uncertain"}
    # The scp arm shows nothing of the AI.
    assert items[scp_read]["draft_status"] is None and items[scp_read]["critical_flags"] == []
    reader[1].ok("post", f"/api/reads/{ai_read}/open")
    assert {i["read_id"]: i["status"] for i in reader[1].ok("get", "/api/worklist")}[
        ai_read
    ] == "in_progress"


def test_reader_sees_only_own_cases(world):
    read_id, case_id, _ = setup_read(world)
    _, other = world.user("radiologist")
    assert other.get(f"/api/reads/{read_id}").status_code == 403
    assert other.get(f"/api/cases/{case_id}/image").status_code == 403
    assert other.post(f"/api/reads/{read_id}/open").status_code == 403
    assert (
        other.put(
            f"/api/reads/{read_id}/report",
            json={"rev": 1, "findings_text": "x", "impression_text": "y"},
        ).status_code
        == 403
    )
    assert other.ok("get", "/api/worklist") == []
    _, evaluator = world.user("evaluator")
    assert evaluator.get(f"/api/cases/{case_id}/image").status_code == 403


def test_reader_never_gets_the_reference_report(world):
    case_id = world.upload(png_bytes(35), reference_text="FINDINGS: Right pneumothorax.")["case"]["id"]
    assert world.admin.ok("get", f"/api/cases/{case_id}")["case"]["reference_text"]
    rid, rc = world.user("radiologist")
    read = world.admin.ok("post", "/api/reads", 201,
                          json={"case_id": case_id, "reader_id": rid, "arm": "scp"})
    detail = rc.ok("get", f"/api/reads/{read['id']}")
    assert detail["case"]["id"] == case_id and "reference_text" not in detail["case"]
    assert "pneumothorax" not in str(detail).lower()


def test_ai_arm_starts_from_the_draft_scp_from_template(world):
    ai_read, _, reader = setup_read(world, "ai_assisted", 31)
    detail = reader[1].ok("get", f"/api/reads/{ai_read}")
    assert detail["draft"]["banner"] == DRAFT_BANNER and detail["draft"]["model_id"] == MODEL_ID
    statuses = [f["status"] for f in detail["draft"]["findings"]]
    assert statuses.count("not_assessed") == 11 and len(statuses) == 14
    rep = reader[1].ok("post", f"/api/reads/{ai_read}/open")
    assert rep["origin"] == "ai_draft" and rep["status"] == "preliminary" and rep["version"] == 1
    assert rep["findings_text"] == detail["draft"]["findings_text"] and rep[
        "draft_text"
    ].startswith("FINDINGS: ")
    scp_read, _, _ = setup_read(world, "scp", 32, reader=reader)
    assert reader[1].ok("get", f"/api/reads/{scp_read}")["draft"] is None
    rep = reader[1].ok("post", f"/api/reads/{scp_read}/open")
    assert (rep["origin"], rep["findings_text"], rep["impression_text"], rep["draft_text"]) == (
        "template",
        "",
        "",
        "",
    )
    # opening twice gives the same report
    assert reader[1].ok("post", f"/api/reads/{scp_read}/open")["id"] == rep["id"]


def test_draft_payload_carries_the_maps_scp_none(world):
    ai_read, case_id, reader = setup_read(world, "ai_assisted", 41)
    draft = reader[1].ok("get", f"/api/reads/{ai_read}")["draft"]
    statuses = {f["name"]: f["status"] for f in draft["findings"]}
    mapped = {n for n, s in statuses.items() if s in ("present", "uncertain")}
    assert {m["name"] for m in draft["maps"]} == mapped == set(MAP_PEAKS)
    image = world.admin.ok("get", f"/api/cases/{case_id}/viewer")
    for m in draft["maps"]:
        rows, cols = len(m["grid"]), len(m["grid"][0])
        assert max(rows, cols) == 16 and {len(r) for r in m["grid"]} == {cols}
        assert abs(cols / rows - image["width"] / image["height"]) < 0.1
        assert all(0.0 <= v <= 1.0 for r in m["grid"] for v in r)
        # the peak is where the drafter put it (row, column fractions of the image)
        peak = max((v, i, j) for i, r in enumerate(m["grid"]) for j, v in enumerate(r))
        py, px = MAP_PEAKS[m["name"]]
        assert abs((peak[1] + 0.5) / rows - py) < 1 / rows + 1e-9, m["name"]
        assert abs((peak[2] + 0.5) / cols - px) < 1 / cols + 1e-9, m["name"]
    # the scp arm serves no draft, hence no maps
    scp_read, _, _ = setup_read(world, "scp", 42, reader=reader)
    body = reader[1].ok("get", f"/api/reads/{scp_read}")
    assert body["draft"] is None and "maps" not in str(body)


def test_open_waits_for_a_pending_draft(world_factory):
    w = world_factory(worker_threads=0)
    case_id = w.upload(png_bytes(33))["case"]["id"]
    rid, rc = w.user("radiologist")
    read = w.admin.ok("post", "/api/reads", 201, json={"case_id": case_id, "reader_id": rid})
    r = rc.post(f"/api/reads/{read['id']}/open")
    assert r.status_code == 409 and r.json()["detail"].startswith("draft pending")
    assert rc.ok("get", f"/api/reads/{read['id']}")["draft_status"] == "pending"


def test_autosave_from_a_stale_copy_is_409_not_an_overwrite(world):
    read_id, _, (_, rc) = setup_read(world, "scp", 41)
    rep = rc.ok("post", f"/api/reads/{read_id}/open")
    tab_a = tab_b = rep["rev"]
    r = rc.put(
        f"/api/reads/{read_id}/report",
        json={"rev": tab_a, "findings_text": "A", "impression_text": "a"},
    )
    assert (
        r.status_code == 200
        and r.json()["rev"] == tab_a + 1
        and r.headers["etag"] == f'"{tab_a + 1}"'
    )
    stale = rc.put(
        f"/api/reads/{read_id}/report",
        json={"rev": tab_b, "findings_text": "B", "impression_text": "b"},
    )
    assert stale.status_code == 409
    assert "stale copy" in stale.json()["detail"]
    assert (
        stale.json()["current"]["findings_text"] == "A"
        and stale.json()["current"]["rev"] == tab_a + 1
    )
    assert rc.ok("get", f"/api/reads/{read_id}")["reports"][0]["findings_text"] == "A"


def test_sign_makes_the_report_final_and_read_only(world):
    read_id, _, (_, rc) = setup_read(world, "ai_assisted", 51)
    rep = rc.ok("post", f"/api/reads/{read_id}/open")
    rep = rc.ok(
        "put",
        f"/api/reads/{read_id}/report",
        json={
            "rev": rep["rev"],
            "findings_text": "Heart enlarged.",
            "impression_text": "Cardiomegaly.",
        },
    )
    assert rep["signed_by"] is None
    signed = rc.ok("post", f"/api/reads/{read_id}/sign", json={"rev": rep["rev"]})
    assert signed["status"] == "final" and signed["read_only"] is True and signed["signed_at"]
    me = rc.ok("get", "/api/auth/me")["user"]
    assert signed["signed_by"] == (me["display_name"] or me["username"])  # the banner's "Signed by NAME"
    for method, url, body in [
        (
            "put",
            f"/api/reads/{read_id}/report",
            {"rev": signed["rev"], "findings_text": "x", "impression_text": "y"},
        ),
        ("post", f"/api/reads/{read_id}/sign", {"rev": signed["rev"]}),
    ]:
        r = getattr(rc, method)(url, json=body)
        assert r.status_code == 409 and "signed and read-only" in r.json()["detail"]
    read = rc.ok("get", f"/api/reads/{read_id}")["read"]
    assert read["status"] == "signed" and read["edit_distance_words"] > 0
    # The database itself refuses a change to signed text.
    with pytest.raises(Exception, match="read-only"), world.state.engine.begin() as conn:
        conn.execute(
            text("UPDATE reports SET findings_text = 'tampered' WHERE id = :id"),
            {"id": signed["id"]},
        )


def test_amendment_is_a_new_version_beside_the_old(world):
    read_id, _, (_, rc) = setup_read(world, "scp", 61)
    rep = rc.ok("post", f"/api/reads/{read_id}/open")
    v1 = rc.ok(
        "post",
        f"/api/reads/{read_id}/sign",
        json={"rev": rep["rev"], "findings_text": "Clear lungs.", "impression_text": "Normal."},
    )
    assert rc.post(f"/api/reads/{read_id}/amend", json={"reason": "  "}).status_code == 422
    v2 = rc.ok("post", f"/api/reads/{read_id}/amend", 201, json={"reason": "missed rib fracture"})
    assert (v2["version"], v2["status"], v2["amends_id"], v2["findings_text"]) == (
        2,
        "preliminary",
        v1["id"],
        "Clear lungs.",
    )
    assert rc.post(f"/api/reads/{read_id}/amend", json={"reason": "again"}).status_code == 409
    v2 = rc.ok(
        "put",
        f"/api/reads/{read_id}/report",
        json={
            "rev": v2["rev"],
            "findings_text": "Left 6th rib fracture.",
            "impression_text": "Rib fracture.",
        },
    )
    v2 = rc.ok("post", f"/api/reads/{read_id}/sign", json={"rev": v2["rev"]})
    assert v2["status"] == "amended"
    reports = rc.ok("get", f"/api/reads/{read_id}")["reports"]
    assert [(r["version"], r["status"], r["findings_text"]) for r in reports] == [
        (1, "final", "Clear lungs."),
        (2, "amended", "Left 6th rib fracture."),
    ]


def test_reading_time_is_computed_from_client_events(world):
    read_id, _, (_, rc) = setup_read(world, "ai_assisted", 71)
    rep = rc.ok("post", f"/api/reads/{read_id}/open")
    skew_ms = 7_200_000  # a client clock two hours fast

    def send(kind, visible=True, focused=True):
        t = time.time()
        rc.ok(
            "post",
            f"/api/reads/{read_id}/events",
            json={
                "events": [
                    {
                        "kind": kind,
                        "t": int(t * 1000) + skew_ms,
                        "visible": visible,
                        "focused": focused,
                    }
                ]
            },
        )
        return t

    shown = send("image_shown")
    time.sleep(1.0)
    hidden = send("visibility", visible=False, focused=False)
    time.sleep(0.5)
    back = send("visibility")
    time.sleep(0.5)
    before_sign = time.time()
    rc.ok("post", f"/api/reads/{read_id}/sign", json={"rev": rep["rev"], "confirm_unedited": True})
    after_sign = time.time()
    read = rc.ok("get", f"/api/reads/{read_id}")["read"]
    assert before_sign - shown - 0.05 <= read["wall_seconds"] <= after_sign - shown + 0.05
    away = back - hidden
    assert (
        before_sign - shown - away - 0.1
        <= read["active_seconds"]
        <= after_sign - shown - away + 0.1
    )
    assert read["edit_distance_chars"] == 0  # signed the draft unchanged
    late = rc.post(f"/api/reads/{read_id}/events", json={"events": [{"kind": "heartbeat", "t": 1}]})
    assert late.status_code == 200 and late.json()["accepted"] == 0  # signed: events are ignored


def test_unknown_event_kind_is_422(world):
    read_id, _, (_, rc) = setup_read(world, "scp", 72)
    r = rc.post(f"/api/reads/{read_id}/events", json={"events": [{"kind": "keypress", "t": 1}]})
    assert r.status_code == 422 and "event kind 'keypress' is not known" in r.json()["detail"]


@pytest.mark.parametrize(
    "body, status, message",
    [
        ({"case_id": 999, "reader_id": 1}, 404, "case 999 does not exist"),
        ({"case_id": 1, "reader_id": 1}, 422, "not a radiologist"),
        ({"case_id": 1, "reader_id": 1, "arm": "placebo"}, 422, ""),
    ],
)
def test_bad_assignment(world, body, status, message):
    world.upload(png_bytes(81))
    r = world.admin.post("/api/reads", json=body)
    assert r.status_code == status and message in str(r.json()["detail"])


@pytest.mark.parametrize(
    ("findings", "impression"),
    [
        (None, None),  # signed as drafted
        ("The cardiac silhouette and mediastinum size are within normal limits. "
         "There is no pulmonary edema. There is no focal consolidation.", "Normal chest x-XXXX."),
        ("Both lungs are clear and expanded. Heart and mediastinum normal.", "no active disease"),
    ],
)
def test_stored_word_edit_distance_is_what_the_analysis_recomputes(world, findings, impression):
    """The edit distance stored at sign time equals cxrpilot.evaluation's, which
    ``cxrpilot eval study`` recomputes from the exported draft and signed texts."""
    from cxrpilot.evaluation import char_edit_distance, word_edit_distance

    read_id, _, (_, rc) = setup_read(world, "ai_assisted", 81)
    rep = rc.ok("post", f"/api/reads/{read_id}/open")
    if findings is not None:  # real IU X-ray report sentences (reports 1 and 100)
        rep = rc.ok("put", f"/api/reads/{read_id}/report",
                    json={"rev": rep["rev"], "findings_text": findings, "impression_text": impression})
    rc.ok("post", f"/api/reads/{read_id}/sign", json={"rev": rep["rev"], "confirm_unedited": True})
    detail = rc.ok("get", f"/api/reads/{read_id}")
    signed = detail["reports"][0]
    final = f"FINDINGS: {signed['findings_text']}\n\nIMPRESSION: {signed['impression_text']}"
    assert detail["read"]["edit_distance_words"] == word_edit_distance(signed["draft_text"], final)
    assert detail["read"]["edit_distance_chars"] == char_edit_distance(signed["draft_text"], final)
    assert (detail["read"]["edit_distance_words"] == 0) == (findings is None)
