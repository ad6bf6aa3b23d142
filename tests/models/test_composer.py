"""The composer: likelihood wording, absence only where assessed, not-assessed named."""

from __future__ import annotations

import re

import pytest

from cxrpilot.draft import Finding
from cxrpilot.models.composer import compose, likelihood_phrase
from cxrpilot.vocabulary import OBSERVATIONS, Status

EXPERT_LIKE = ("No Finding", "Lung Opacity", "Pneumonia")


def expert_findings(no_finding: tuple[str, float], opacity: tuple[str, float], pneumonia: tuple[str, float]):
    return [Finding("No Finding", *no_finding), Finding("Lung Opacity", *opacity),
            Finding("Pneumonia", *pneumonia)]


@pytest.mark.parametrize(
    ("findings", "findings_re", "impression_re"),
    [
        (expert_findings(("absent", 0.03), ("present", 0.96), ("present", 0.94)),
         r"Lung opacity is present \(model probability 0\.96\)\. Pneumonia is present",
         r"^1\. Lung opacity, consistent with pneumonia\.$"),
        (expert_findings(("absent", 0.2), ("present", 0.8), ("uncertain", 0.45)),
         r"Lung opacity is likely .* Pneumonia cannot be excluded",
         r"^1\. Likely lung opacity\.\n2\. Pneumonia cannot be excluded; correlate clinically\.$"),
        (expert_findings(("uncertain", 0.5), ("uncertain", 0.6), ("uncertain", 0.55)),
         r"Possible lung opacity .* Possible pneumonia",
         r"Possible lung opacity; correlate clinically\.\n2\. Possible pneumonia"),
        (expert_findings(("present", 0.97), ("absent", 0.02), ("absent", 0.03)),
         r"No lung opacity or pneumonia identified\. No abnormality among the assessed findings",
         r"^No lung opacity or pneumonia detected\. Other findings were not assessed by this model\.$"),
        ([], r"^Not assessed by this model: enlarged", r"^No finding could be assessed by this model\.$"),
    ],
)
def test_compose_wording(findings, findings_re, impression_re):
    findings_text, impression = compose(findings)
    assert re.search(findings_re, findings_text), findings_text
    assert re.search(impression_re, impression), impression


@pytest.mark.parametrize("absent_name", ["Pneumothorax", "Pleural Effusion", "Cardiomegaly"])
def test_never_states_absence_of_unassessed_findings(absent_name):
    findings_text, impression = compose(expert_findings(("present", 0.97), ("absent", 0.02), ("absent", 0.03)))
    noun = absent_name.lower()
    assert f"no {noun}" not in (findings_text + impression).lower()
    assert noun in findings_text.split("Not assessed by this model:")[1]
    assert "normal" not in impression.lower()  # no global "normal study" claim


def test_absence_stated_only_for_assessed():
    findings = [Finding("Pneumothorax", "absent", 0.01)]
    findings_text, _ = compose(findings)
    assert "No pneumothorax identified." in findings_text
    unassessed = findings_text.split("Not assessed by this model:")[1]
    assert "pneumothorax" not in unassessed
    for name in set(OBSERVATIONS) - {"No Finding", "Pneumothorax"}:
        assert f"no {name.lower()}" not in findings_text.lower()


@pytest.mark.parametrize(
    ("probability", "status", "phrase"),
    [(0.95, Status.PRESENT, "consistent with"), (0.7, Status.PRESENT, "likely"),
     (None, Status.PRESENT, "consistent with"), (0.55, Status.UNCERTAIN, "possible"),
     (0.3, Status.UNCERTAIN, "cannot be excluded")],
)
def test_likelihood_phrase(probability, status, phrase):
    assert likelihood_phrase(probability, status) == phrase


def test_likelihood_phrase_rejects_absent():
    with pytest.raises(ValueError, match="present or uncertain"):
        likelihood_phrase(0.1, Status.ABSENT)
