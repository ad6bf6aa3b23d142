"""The draft worker stores every producer's report text cleaned (issue 12)."""

from __future__ import annotations

import re

from cxrpilot.draft import DRAFT_BANNER

from .helpers import png_bytes
from .wordy_producer import MODEL_ID

#: The issue's model wording, whole words, case-insensitive ("AI" as a word).
MODEL_WORDS = re.compile(r"(?i:\bmodels?\b|probabilit|not assessed|assessed findings|algorithm)|\bAI\b")


def test_custom_producer_text_is_stored_without_model_wording(world_factory):
    """A producer named by ``CXRPILOT_DRAFT_PRODUCER`` (imported by the app, as a site's would
    be) writes model wording; the reader's draft, the report opened from it and the signed
    report hold the report sentences only, and the structured findings keep the statuses and
    probabilities."""
    world = world_factory(producer=None, draft_producer="tests.workstation.wordy_producer:wordy_drafter")
    case_id = world.upload(png_bytes(41))["case"]["id"]
    assert world.wait_draft(case_id)["draft_status"] == "ready"
    rid, rc = world.user("radiologist")
    read = world.admin.ok("post", "/api/reads", 201, json={"case_id": case_id, "reader_id": rid, "arm": "ai_assisted"})
    draft = rc.ok("get", f"/api/reads/{read['id']}")["draft"]
    assert draft["model_id"] == MODEL_ID and draft["banner"] == DRAFT_BANNER
    assert draft["findings_text"] == "The heart is enlarged. No pleural effusion."
    assert draft["impression_text"] == "1. Cardiomegaly. 2. No pleural effusion."
    stated = {f["name"]: (f["status"], f["probability"]) for f in draft["findings"] if f["status"] != "not_assessed"}
    assert stated == {"Cardiomegaly": ("present", 0.91), "Pleural Effusion": ("absent", 0.04)}
    rep = rc.ok("post", f"/api/reads/{read['id']}/open")
    assert rep["draft_text"] == (
        "FINDINGS: The heart is enlarged. No pleural effusion.\n\nIMPRESSION: 1. Cardiomegaly. 2. No pleural effusion.")
    signed = rc.ok("post", f"/api/reads/{read['id']}/sign", json={"rev": rep["rev"], "confirm_unedited": True})
    for text in (rep["draft_text"], rep["findings_text"], rep["impression_text"],
                 signed["findings_text"], signed["impression_text"]):
        assert not MODEL_WORDS.search(text), text
