"""Study integrity, tried as a coordinator would: no empty signature, an unedited AI draft
is signed only when the reader confirms it (and the answer is kept), study reads are frozen
once evaluation starts (a later amendment is a protocol deviation and the export keeps the
rated text), evaluation does not start on unsigned reads unless overridden, every seed is
kept, and the exported files are read as they are by ``cxrpilot eval study``."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import zipfile

import pytest
from sqlalchemy import select

from .helpers import png_bytes

SIGN_TEXT = {"findings_text": "Lungs are clear.", "impression_text": "No acute disease."}


def _ai_read(world, seed: int):
    case_id = world.upload(png_bytes(seed))["case"]["id"]
    world.wait_draft(case_id)
    rid, rc = world.user("radiologist")
    read_id = world.admin.ok(
        "post", "/api/reads", 201, json={"case_id": case_id, "reader_id": rid}
    )["id"]
    return read_id, rc, rc.ok("post", f"/api/reads/{read_id}/open")


@pytest.mark.parametrize(
    "text",
    [
        {},  # the empty template as opened
        {"findings_text": "", "impression_text": ""},
        {"findings_text": "  \n\t ", "impression_text": " "},
    ],
)
def test_an_empty_report_cannot_be_signed(world, text):
    case_id = world.upload(png_bytes(1))["case"]["id"]
    rid, rc = world.user("radiologist")
    read_id = world.admin.ok(
        "post", "/api/reads", 201, json={"case_id": case_id, "reader_id": rid, "arm": "scp"}
    )["id"]
    rep = rc.ok("post", f"/api/reads/{read_id}/open")
    r = rc.post(f"/api/reads/{read_id}/sign", json={"rev": rep["rev"], **text})
    assert r.status_code == 422 and "an empty report cannot be signed" in r.json()["detail"]
    assert rc.ok("get", f"/api/reads/{read_id}")["read"]["status"] != "signed"


def test_signing_the_ai_draft_unedited_asks_and_records_the_answer(world):
    from cxrpilot.workstation._orm import Report

    read_id, rc, rep = _ai_read(world, 2)
    r = rc.post(f"/api/reads/{read_id}/sign", json={"rev": rep["rev"]})
    assert r.status_code == 409 and r.json()["code"] == "unedited_draft"
    assert "AI draft, unedited" in r.json()["detail"]
    # white space is not an edit
    spaced = {"findings_text": rep["findings_text"] + "  ", "impression_text": rep["impression_text"]}
    r = rc.post(f"/api/reads/{read_id}/sign", json={"rev": rep["rev"], **spaced})
    assert r.status_code == 409 and r.json()["code"] == "unedited_draft"
    assert rc.ok("get", f"/api/reads/{read_id}")["reports"][0]["status"] == "preliminary"
    signed = rc.ok(
        "post", f"/api/reads/{read_id}/sign", json={"rev": rep["rev"], "confirm_unedited": True}
    )
    assert signed["status"] == "final" and signed["unedited_confirmed"] is True
    with world.state.sessions() as db:
        assert db.scalar(select(Report.unedited_confirmed).where(Report.id == signed["id"]))
    sign_event = next(e for e in world.admin.ok("get", "/api/audit") if e["action"] == "report.sign")
    assert sign_event["detail"]["unedited_confirmed"] is True


def test_an_edited_draft_is_signed_without_the_question(world):
    read_id, rc, rep = _ai_read(world, 3)
    signed = rc.ok(
        "post",
        f"/api/reads/{read_id}/sign",
        json={"rev": rep["rev"], "impression_text": rep["impression_text"] + " Follow up."},
    )
    assert signed["status"] == "final" and signed["unedited_confirmed"] is None


def _study(world, *, sign: bool = True, design: str = "per_reader"):
    """Two cases, two readers (one per arm), one evaluator; randomised with seed 5."""
    admin = world.admin
    case_ids = [world.upload(png_bytes(40 + i), reference_text=f"ref {i}")["case"]["id"] for i in range(2)]
    for c in case_ids:
        world.wait_draft(c)
    readers = [world.user("radiologist", f"reader{i}") for i in range(2)]
    evaluator_id, evaluator = world.user("evaluator", "senior")
    sid = admin.ok("post", "/api/studies", 201, json={"name": "integrity", "design": design})["id"]
    admin.ok("post", f"/api/studies/{sid}/cases", json={"case_ids": case_ids})
    admin.ok(
        "post", f"/api/studies/{sid}/members", json={"user_ids": [r[0] for r in readers], "role": "reader"}
    )
    admin.ok("post", f"/api/studies/{sid}/members", json={"user_ids": [evaluator_id], "role": "evaluator"})
    admin.ok("post", f"/api/studies/{sid}/randomise", json={"seed": 5})
    reads = []
    for i, (_, rc) in enumerate(readers):
        for item in rc.ok("get", "/api/worklist"):
            rep = rc.ok("post", f"/api/reads/{item['read_id']}/open")
            reads.append((rc, item["read_id"], rep))
            if sign:
                rc.ok(
                    "post",
                    f"/api/reads/{item['read_id']}/sign",
                    json={"rev": rep["rev"], "findings_text": f"Reader {i} v1.", "impression_text": "Ok."},
                )
    return sid, reads, evaluator


def test_evaluation_does_not_start_on_unsigned_reads_unless_overridden(world):
    admin = world.admin
    sid, reads, _ = _study(world, sign=False)
    rc, read_id, rep = reads[0]
    rc.ok("post", f"/api/reads/{read_id}/sign", json={"rev": rep["rev"], **SIGN_TEXT})
    r = admin.post(f"/api/studies/{sid}/evaluation", json={"seed": 9})
    assert r.status_code == 409 and "3 of 4 reads of study 'integrity' are not signed" in r.json()["detail"]
    assert admin.ok("get", f"/api/studies/{sid}")["study"]["status"] == "reading"
    out = admin.ok("post", f"/api/studies/{sid}/evaluation", json={"seed": 9, "allow_unsigned": True})
    assert out["seed"] == 9 and out["tasks"] == 1
    progress = admin.ok("get", f"/api/studies/{sid}")
    [dev] = progress["protocol_deviations"]
    assert dev["kind"] == "evaluation_started_unsigned" and len(dev["detail"]["unsigned_reads"]) == 3
    # a read signed after the start is recorded as a deviation too
    rc, read_id, rep = reads[1]
    rc.ok("post", f"/api/reads/{read_id}/sign", json={"rev": rep["rev"], **SIGN_TEXT})
    kinds = [d["kind"] for d in admin.ok("get", f"/api/studies/{sid}")["protocol_deviations"]]
    assert kinds == ["evaluation_started_unsigned", "signed_after_freeze"]


def test_every_seed_is_kept_and_evaluation_starts_once(world):
    admin = world.admin
    sid, _, _ = _study(world)
    admin.ok("post", f"/api/studies/{sid}/evaluation", json={"seed": 11})
    again = admin.post(f"/api/studies/{sid}/evaluation", json={"seed": 12})
    assert again.status_code == 409 and "starts once" in again.json()["detail"]
    progress = admin.ok("get", f"/api/studies/{sid}")
    assert progress["study"]["evaluation_seed"] == 11
    assert [(s["purpose"], s["seed"]) for s in progress["seeds"]] == [("randomise", 5), ("evaluation", 11)]


def test_an_amendment_after_evaluation_started_is_a_deviation_and_the_export_keeps_the_rated_text(world):
    admin = world.admin
    sid, reads, evaluator = _study(world)
    admin.ok("post", f"/api/studies/{sid}/evaluation", json={"seed": 21})
    rated = {t["task_id"]: evaluator.ok("get", f"/api/evaluations/{t['task_id']}") for t in evaluator.ok("get", "/api/evaluations")}
    rc, read_id, _ = reads[0]
    v2 = rc.ok("post", f"/api/reads/{read_id}/amend", 201, json={"reason": "missed a nodule"})
    rc.ok(
        "post",
        f"/api/reads/{read_id}/sign",
        json={"rev": v2["rev"], "findings_text": "Amended after rating.", "impression_text": "Nodule."},
    )
    deviations = admin.ok("get", f"/api/studies/{sid}")["protocol_deviations"]
    assert [d["kind"] for d in deviations] == ["amended_after_freeze", "signed_after_freeze"]
    assert deviations[0]["read_id"] == read_id and deviations[0]["detail"]["rated_version_kept"]
    export = admin.ok("get", f"/api/studies/{sid}/export")
    finals = [r["final_text"] for r in export["reads"]]
    assert not any("Amended after rating" in f for f in finals)
    assert sum("Reader 0 v1." in f for f in finals) == 2  # reader 0's rated v1, both cases
    assert [d["kind"] for d in export["protocol_deviations"]] == [d["kind"] for d in deviations]
    # the evaluators still see what they rated
    for task_id, form in rated.items():
        assert evaluator.ok("get", f"/api/evaluations/{task_id}")["reports"] == form["reports"]


def _disposition_name(response) -> str:
    return re.search(r'filename="([^"]+)"', response.headers["content-disposition"]).group(1)


def _eval_study(path) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "cxrpilot.cli", "eval", "study", str(path), "--json",
         "--no-mixed-model", "--n-bootstrap", "50"],
        check=False, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_exported_files_are_read_by_eval_study_as_they_are(world, tmp_path):
    admin = world.admin
    sid, _, evaluator = _study(world)
    admin.ok("post", f"/api/studies/{sid}/evaluation", json={"seed": 31})
    for t in evaluator.ok("get", "/api/evaluations"):
        evaluator.ok(
            "post",
            f"/api/evaluations/{t['task_id']}",
            json={"ratings": {"left": {"likert": 4, "radpeer": "1"}, "right": {"likert": 3, "radpeer": "2a"}},
                  "preference": "left"},
        )
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    # The JSON export, saved under the name the server gives it.
    r = admin.get(f"/api/studies/{sid}/export")
    assert r.status_code == 200
    (downloads / _disposition_name(r)).write_bytes(r.content)
    # Both CSV tables, saved side by side in one folder under their given names.
    folder = downloads / "csv"
    folder.mkdir()
    for table in ("reads", "evaluations"):
        r = admin.ok("get", f"/api/studies/{sid}/export/{table}?format=csv")
        (folder / _disposition_name(r)).write_bytes(r.content)
    assert sorted(p.name for p in folder.iterdir()) == ["evaluations.csv", "reads.csv"]
    # The zip, unpacked where it was saved.
    r = admin.ok("get", f"/api/studies/{sid}/export.zip")
    assert _disposition_name(r) == f"study-{sid}.zip"
    zipfile.ZipFile(io.BytesIO(r.content)).extractall(downloads)
    results = [
        _eval_study(path) for path in (downloads / f"study-{sid}.json", folder, downloads / f"study-{sid}")
    ]
    assert all(r["counts"] and r["reading_time"] and r["likert"] for r in results)
    assert results[0]["counts"] == results[1]["counts"] == results[2]["counts"]


def test_the_read_page_asks_before_signing_an_unedited_draft(site, browser):
    from cxrpilot.workstation._orm import Report

    from .helpers import PASSWORD, browser_login, wait_for

    server, admin = site
    case_id = admin.ok(
        "post", "/api/cases", files={"file": ("a.png", png_bytes(90), "image/png")}
    )["case"]["id"]
    wait_for(lambda: admin.ok("get", f"/api/cases/{case_id}")["draft_status"] == "ready", 30)
    uid = admin.ok(
        "post", "/api/users", 201, json={"username": "rad", "password": PASSWORD, "role": "radiologist"}
    )["id"]
    read_id = admin.ok("post", "/api/reads", 201, json={"case_id": case_id, "reader_id": uid})["id"]
    page = browser()
    browser_login(page, server.url, "rad")
    page.wait_for_url("**/worklist")
    page.goto(f"{server.url}/read/{read_id}")
    page.wait_for_selector("body[data-editor-ready]")
    asked: list[str] = []

    def answer(accept: bool):
        def on_dialog(dialog):
            asked.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        return on_dialog

    handler = answer(False)
    page.on("dialog", handler)
    page.click("[data-testid=sign]")
    # (Playwright hands the dialog to the handler while it waits here)
    page.wait_for_function(
        "document.querySelector('[data-testid=save-state]').textContent.startsWith('Not signed')"
    )
    assert len(asked) == 1 and "AI draft, unedited" in asked[0]
    assert page.get_attribute("body", "data-signed") is None
    page.remove_listener("dialog", handler)
    page.on("dialog", answer(True))
    page.click("[data-testid=sign]")
    page.wait_for_selector("body[data-signed]")
    assert len(asked) == 2
    with server.app.state.ws.sessions() as db:
        report = db.scalar(select(Report).where(Report.read_id == read_id))
    assert report.status == "final" and report.unedited_confirmed is True
