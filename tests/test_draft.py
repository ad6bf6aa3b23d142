"""Finding and Draft: the contract every drafting model fills."""

from __future__ import annotations

import json

import pytest

from cxrpilot.draft import DRAFT_BANNER, Draft, Finding, complete_findings
from cxrpilot.vocabulary import OBSERVATIONS, Status


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"name": "Pneumonitis", "status": "present"}, ValueError, "unknown observation 'Pneumonitis'"),
        ({"name": "Pneumonia", "status": "maybe"}, ValueError, "'maybe' is not a valid Status"),
        ({"name": "Pneumonia", "status": "present", "probability": 1.5}, ValueError, r"must be in \[0, 1\]"),
        ({"name": "Pneumonia", "status": "not_assessed", "probability": 0.2}, ValueError, "not assessed but"),
    ],
)
def test_finding_rejects_bad_values(kwargs, error, message):
    with pytest.raises(error, match=message):
        Finding(**kwargs)


def test_complete_findings_marks_missing_as_not_assessed():
    full = complete_findings([Finding("Pneumonia", "present", 0.9)])
    assert [f.name for f in full] == list(OBSERVATIONS)
    assert {f.status for f in full if f.name != "Pneumonia"} == {Status.NOT_ASSESSED}
    with pytest.raises(ValueError, match="given twice"):
        complete_findings([Finding("Pneumonia", "present"), Finding("Pneumonia", "absent")])


def test_draft_is_labelled_and_serialisable():
    draft = Draft("x.dcm", (Finding("Pneumonia", "present", 0.9),), "Pneumonia.", "1. Pneumonia.",
                  "expert-test", "0.0")
    assert draft.status == "draft" and draft.banner == DRAFT_BANNER
    assert draft.text.startswith("FINDINGS: Pneumonia.") and "IMPRESSION: 1. Pneumonia." in draft.text
    d = json.loads(json.dumps(draft.to_dict()))
    assert d["banner"] == DRAFT_BANNER and d["status"] == "draft"
    assert d["findings"][OBSERVATIONS.index("Pneumonia")] == {"name": "Pneumonia", "status": "present", "probability": 0.9}
    assert d["findings"][OBSERVATIONS.index("Pneumothorax")]["status"] == "not_assessed"
