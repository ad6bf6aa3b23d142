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


CRITICAL_ABSENT = [Finding(n, "absent", 0.05) for n in (
    "Pleural Effusion", "Pneumothorax", "Consolidation", "Atelectasis", "Cardiomegaly",
    "Lung Opacity", "Support Devices", "Pneumonia")]


@pytest.mark.parametrize(
    ("findings", "expected"),
    [
        # every critical finding assessed and absent: No Finding may be asserted
        (CRITICAL_ABSENT, Status.PRESENT),
        # one critical finding not assessed (here Support Devices): nothing about "normal"
        (CRITICAL_ABSENT[:-2] + CRITICAL_ABSENT[-1:], Status.NOT_ASSESSED),
        # anything present: No Finding is absent, whatever else is assessed
        ([Finding("Cardiomegaly", "present", 0.9)], Status.ABSENT),
        # uncertain and nothing present: not asserted either way
        (CRITICAL_ABSENT[1:] + [Finding("Pleural Effusion", "uncertain", 0.5)], Status.NOT_ASSESSED),
        # a model's own "No Finding: present" is overruled when it assesses too little
        ([Finding("No Finding", "present", 0.95), Finding("Pneumonia", "absent", 0.02)],
         Status.NOT_ASSESSED),
    ],
)
def test_no_finding_rule(findings, expected):
    from cxrpilot.draft import apply_no_finding_rule

    out = apply_no_finding_rule(findings)
    assert [f.name for f in out] == list(OBSERVATIONS)
    assert out[0].status is expected
    if expected is Status.NOT_ASSESSED:
        assert out[0].probability is None
    assert out[1:] == complete_findings(findings)[1:]  # other findings untouched


@pytest.mark.parametrize(
    ("grid", "message"),
    [((), "non-empty rectangular"), (((0.1, 0.2), (0.3,)), "non-empty rectangular"),
     (((0.1, 1.5),), r"values in \[0, 1\]")],
)
def test_finding_map_rejects_bad_grids(grid, message):
    from cxrpilot.draft import FindingMap

    with pytest.raises(ValueError, match=message):
        FindingMap("Cardiomegaly", grid)


def test_draft_maps_in_json():
    from cxrpilot.draft import FindingMap

    m = FindingMap("Cardiomegaly", ((0.0, 0.51234), (1.0, 0.25)))
    d = Draft("x.png", (Finding("Cardiomegaly", "present", 0.9),), "f", "i", "m", "1", maps=(m,))
    out = json.loads(json.dumps(d.to_dict()))
    assert out["maps"] == [{"name": "Cardiomegaly", "grid": [[0.0, 0.512], [1.0, 0.25]]}]
    assert d.map_of("Cardiomegaly") is m and d.map_of("Edema") is None


def test_one_report_text_format_for_drafts_and_signed_reports():
    # the workstation's reports (and the edit distance stored from them) use this one format
    from cxrpilot.draft import report_text
    from cxrpilot.workstation._orm import Report

    d = Draft(source="x.png", findings=complete_findings([]), findings_text="Lungs are clear.",
              impression_text="Normal chest.", model_id="m", model_version="1")
    assert d.text == report_text("Lungs are clear.", "Normal chest.") == (
        "FINDINGS: Lungs are clear.\n\nIMPRESSION: Normal chest.")
    assert Report(findings_text="Lungs are clear.", impression_text="Normal chest.").text == d.text
