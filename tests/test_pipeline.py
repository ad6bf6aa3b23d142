"""pipeline: Radiograph -> Draft with the default expert model, expert fusion, model-spec errors."""

from __future__ import annotations

import pytest

from cxrpilot import imaging, pipeline
from cxrpilot.draft import DRAFT_BANNER, Finding
from cxrpilot.errors import ModelLoadError, UnknownModelError
from cxrpilot.vocabulary import OBSERVATIONS, Status


def test_default_draft_on_real_chest_radiograph(rg1_uncr):
    drafter = pipeline.load_drafter()
    draft = pipeline.draft(imaging.load(rg1_uncr), model=drafter)
    assert draft.banner == DRAFT_BANNER and draft.status == "draft"
    assert [f.name for f in draft.findings] == list(OBSERVATIONS)
    assessed = [f for f in draft.findings if f.assessed]
    assert {f.name for f in assessed} - {"No Finding"} == set(drafter.model.assessed)
    assert all(f.probability is not None for f in assessed)
    assert all(f.probability is None for f in draft.findings if f.status is Status.NOT_ASSESSED)
    # What the model does not assess is never mentioned in the report text (it is listed in
    # the draft's structured part), and no model wording enters the text.
    from cxrpilot.reports import label_report

    read = label_report(draft.text)
    assert all(read[f.name] is None for f in draft.findings if f.status is Status.NOT_ASSESSED and f.name != "No Finding")
    assert "model" not in draft.text.lower() and "assessed" not in draft.text.lower()
    assert draft.model_id == drafter.model_id and draft.timings["model"] > 0


def test_every_output_drafter_is_labelled_evaluation_only(rg1_uncr):
    """The evaluation-only setting states every output of the network, with the statuses of
    the card's thresholds, and its drafts can never pass for the shipped model's."""
    from cxrpilot.draft import apply_no_finding_rule
    from cxrpilot.reports import label_report

    model = pipeline.load_drafter().model
    rg = imaging.load(rg1_uncr)
    draft = pipeline.draft(rg, model=pipeline.ExpertDrafter(model, every_output=True))
    assert draft.model_id == model.model_id + pipeline.EVALUATION_ONLY_SUFFIX
    assert draft.banner == DRAFT_BANNER
    proba = dict(zip(model.labels, model.predict_proba([rg])[0], strict=True))
    expected = apply_no_finding_rule([Finding(n, model.status_of(n, p), p) for n, p in proba.items() if n != "No Finding"])
    by_name = {f.name: f for f in draft.findings}
    for f in expected:
        assert by_name[f.name].status is f.status, f.name
        if f.name != "No Finding" and f.name in proba:
            assert by_name[f.name].probability == pytest.approx(proba[f.name])
    assert {f.name for f in draft.findings if f.assessed} >= set(model.labels) - {"No Finding"}
    assert {m.name for m in draft.maps} == {f.name for f in draft.findings
                                            if f.status in (Status.PRESENT, Status.UNCERTAIN) and f.name in proba}
    read = label_report(draft.text)
    for f in draft.findings:
        if f.name == "No Finding":
            continue
        want = {Status.PRESENT: (1,), Status.UNCERTAIN: (-1, 1), Status.ABSENT: (0,), Status.NOT_ASSESSED: (None,)}
        assert read[f.name] in want[f.status], (f, draft.text)
    # the default path is unchanged by the setting's existence
    assert pipeline.load_drafter().model_id == model.model_id


@pytest.mark.parametrize(
    ("spec", "error", "message"),
    [
        ("bogus", UnknownModelError, r"unknown model spec 'bogus'; expected 'expert'"),
        ("janus", UnknownModelError, r"needs a path: 'janus:PATH'"),
        ("expert:no-such-model", UnknownModelError, "no-such-model"),
        ("janus:/nonexistent/janus-pro", ModelLoadError, "/nonexistent/janus-pro"),
    ],
)
def test_bad_model_specs(spec, error, message):
    with pytest.raises(error, match=message):
        pipeline.load_drafter(spec)


@pytest.mark.parametrize(
    ("text_status", "expert", "expected"),
    [
        ("present", Finding("Edema", "absent", 0.2), ("present", 0.2)),      # text wins, keeps p
        ("not_assessed", Finding("Edema", "absent", 0.2), ("absent", 0.2)),  # expert fills the gap
        ("uncertain", None, ("uncertain", None)),
        ("not_assessed", "Edema", ("not_assessed", None)),                   # a bare name has no status
        ("not_assessed", Finding("Edema", "not_assessed"), ("not_assessed", None)),  # neither assesses it
    ],
)
def test_fuse_findings(text_status, expert, expected):
    fused = pipeline.fuse_findings([Finding("Edema", text_status)], [expert] if expert is not None else None)
    edema = next(f for f in fused if f.name == "Edema")
    assert (str(edema.status), edema.probability) == expected
