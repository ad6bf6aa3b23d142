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


def composing_drafter(radiograph, *, indication=None):
    """Fixed findings written up by the real composer, with the indication it is given."""
    from cxrpilot.draft import Draft, Finding
    from cxrpilot.models.composer import compose

    findings = [Finding("Cardiomegaly", "present", 0.95), Finding("Pneumonia", "absent", 0.05),
                Finding("Consolidation", "absent", 0.04), Finding("Lung Opacity", "absent", 0.06)]
    findings_text, impression_text = compose(findings, indication=indication)
    return Draft(source=radiograph.source, findings=findings, findings_text=findings_text,
                 impression_text=impression_text, model_id="test-composing", model_version="0.0.1")


def test_the_case_indication_reaches_the_producer(world_factory):
    """The IMPRESSION answers the case's indication first (a question about pneumonia: its
    absence before the cardiomegaly); without one, the critical positive comes first."""
    world = world_factory(producer=composing_drafter)
    asked = world.upload(png_bytes(42), indication="Fever, cough.")["case"]["id"]
    plain = world.upload(png_bytes(43))["case"]["id"]
    rid, rc = world.user("radiologist")
    impressions = {}
    for case_id in (asked, plain):
        assert world.wait_draft(case_id)["draft_status"] == "ready"
        read = world.admin.ok("post", "/api/reads", 201, json={"case_id": case_id, "reader_id": rid, "arm": "ai_assisted"})
        impressions[case_id] = rc.ok("get", f"/api/reads/{read['id']}")["draft"]["impression_text"]
    assert re.match(r"1\. No .*pneumonia.*\n2\. Cardiomegaly\.$", impressions[asked]), impressions[asked]
    assert impressions[plain].startswith("Cardiomegaly."), impressions[plain]


def test_takes_indication():
    from functools import partial

    from cxrpilot.workstation._worker import takes_indication

    from .helpers import small_drafter

    def keyword_only(radiograph, *, indication=None): ...
    def positional(radiograph, indication=None): ...
    def any_keyword(radiograph, **kw): ...
    assert not takes_indication(small_drafter)
    assert takes_indication(keyword_only) and takes_indication(positional) and takes_indication(any_keyword)
    # max: a builtin without a signature (not print: Ray, imported by other tests of the
    # same run, swaps builtins.print for a wrapper that takes **kwargs)
    assert takes_indication(partial(keyword_only)) and not takes_indication(max)
    assert not takes_indication(lambda radiograph: None)


def test_the_pipeline_producer_takes_the_indication(settings_factory):
    from cxrpilot.workstation._app import _pipeline_producer
    from cxrpilot.workstation._worker import takes_indication

    assert takes_indication(_pipeline_producer(settings_factory())())
