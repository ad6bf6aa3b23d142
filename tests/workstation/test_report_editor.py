"""Report sections, templates (shipped and replaced), finding phrases, priority and the
worklist's facts, through the API on both databases."""

from __future__ import annotations

import json

import pytest

from cxrpilot.draft import Finding
from cxrpilot.models.composer import compose

from .helpers import png_bytes

SECTIONS = {"indication_text": "Fever.", "technique_text": "PA view.", "comparison_text": "None."}


def _read(world, arm="scp", **form):
    case = world.upload(png_bytes(900 + world._n), **form)["case"]["id"]
    world.wait_draft(case)
    rid, rc = world.user("radiologist")
    read = world.admin.ok("post", "/api/reads", 201, json={"case_id": case, "reader_id": rid, "arm": arm})
    return case, read["id"], rc


def test_sections_are_saved_signed_read_only_and_amended(world):
    _, read, rc = _read(world, indication="Cough.")
    rep = rc.ok("post", f"/api/reads/{read}/open")
    assert rep["indication_text"] == "Cough." and rep["technique_text"] == ""
    rep = rc.ok("put", f"/api/reads/{read}/report",
                json={"rev": rep["rev"], "findings_text": "Clear.", "impression_text": "Normal.", **SECTIONS})
    assert {k: rep[k] for k in SECTIONS} == SECTIONS
    # sections left out are left as they are
    rep = rc.ok("put", f"/api/reads/{read}/report",
                json={"rev": rep["rev"], "findings_text": "Clear lungs.", "impression_text": "Normal."})
    assert rep["technique_text"] == "PA view."
    signed = rc.ok("post", f"/api/reads/{read}/sign", json={"rev": rep["rev"], "comparison_text": "Prior 2019."})
    assert signed["comparison_text"] == "Prior 2019." and signed["status"] == "final"
    r = rc.put(f"/api/reads/{read}/report", json={"rev": signed["rev"], "findings_text": "x",
                                                  "impression_text": "y", "technique_text": "AP."})
    assert r.status_code == 409 and r.json()["current"]["technique_text"] == "PA view."
    new = rc.ok("post", f"/api/reads/{read}/amend", 201, json={"reason": "typo"})
    assert new["technique_text"] == "PA view." and new["comparison_text"] == "Prior 2019."


def test_too_long_section_is_a_422(world):
    _, read, rc = _read(world)
    rep = rc.ok("post", f"/api/reads/{read}/open")
    r = rc.put(f"/api/reads/{read}/report", json={"rev": rep["rev"], "findings_text": "", "impression_text": "",
                                                  "technique_text": "x" * 20_001})
    assert r.status_code == 422 and "technique_text" in r.text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_templates_are_shipped_replaceable_and_a_broken_file_is_said(world, tmp_path):
    _, rc = world.user("radiologist")
    t = rc.ok("get", "/api/report-templates")
    assert t["source"] == "shipped" and t["warning"] is None and t["normal"] == "normal-pa"
    normal = next(x for x in t["templates"] if x["key"] == "normal-pa")
    assert set(normal["sections"]) == {"technique", "comparison", "findings", "impression"}
    assert [m["key"] for m in t["macros"]] == ["F3", "F4", "F6", "F7", "F8", "F9"]
    # the composer's own sentences, for each finding but No Finding
    assert "No Finding" not in t["phrases"] and len(t["phrases"]) == 13
    for name, by_status in t["phrases"].items():
        for status, sentence in by_status.items():
            assert sentence == compose([Finding(name, status, None)])[0]

    override = world.state.settings.data_dir / "report_templates.json"
    mine = {"normal": "n", "templates": [{"key": "n", "name": "Mine", "sections": {"findings": "Clear."}}],
            "macros": [{"key": "F3", "name": "m", "text": "Hello."}]}
    override.write_text(json.dumps(mine))
    t = rc.ok("get", "/api/report-templates")
    assert t["source"] == "report_templates.json" and t["templates"][0]["name"] == "Mine"
    mine["macros"][0]["key"] = "F5"  # the browser's reload key
    override.write_text(json.dumps(mine) + " ")
    t = rc.ok("get", "/api/report-templates")
    assert t["source"] == "shipped" and t["templates"][0]["key"] == "normal-pa"
    assert t["warning"].startswith("report_templates.json: macros.0.key:")
    assert t["warning"].endswith("using the shipped templates")
    override.write_text("{not json")
    assert "report_templates.json: Expecting property name" in rc.ok("get", "/api/report-templates")["warning"]


def test_priority_on_import_and_by_staff_only(world):
    case = world.upload(png_bytes(950), priority="stat")["case"]["id"]
    _, rc = world.user("radiologist")
    assert rc.put(f"/api/cases/{case}/priority", json={"priority": "routine"}).status_code == 403
    r = world.admin.put(f"/api/cases/{case}/priority", json={"priority": "asap"})
    assert r.status_code == 422
    assert world.admin.ok("put", f"/api/cases/{case}/priority", json={"priority": "urgent"})["priority"] == "urgent"
    r = world.admin.post("/api/cases", files={"file": ("x.png", png_bytes(951), "image/png")},
                         data={"priority": "whenever"})
    assert r.status_code == 422 and "priority" in r.text


def test_worklist_rows_carry_facts_and_no_ai_in_scp(world):
    case, read, rc = _read(world, arm="scp", indication="Chest pain.", priority="urgent")
    rid = rc.user["id"]
    other = world.upload(png_bytes(960))["case"]["id"]
    world.wait_draft(other)
    world.admin.ok("post", "/api/reads", 201, json={"case_id": other, "reader_id": rid, "arm": "ai_assisted"})
    rows = {r["case_id"]: r for r in rc.ok("get", "/api/worklist")}
    scp, ai = rows[case], rows[other]
    assert scp["priority"] == "urgent" and scp["indication"] == "Chest pain." and scp["assigned_at"]
    assert scp["draft_status"] is None and scp["critical_flags"] == []
    assert ai["priority"] == "routine" and ai["draft_status"] == "ready"
    for key in ("patient_age_years", "patient_sex", "view_position", "accession"):
        assert key in scp
    detail = rc.ok("get", f"/api/reads/{read}")
    assert detail["case"]["priority"] == "urgent" and detail["draft"] is None
