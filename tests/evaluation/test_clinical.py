"""Clinical efficacy: hand-computed examples, sklearn, the report labeler on real IU reports."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from sklearn.metrics import precision_recall_fscore_support

from cxrpilot.errors import InvalidInputError
from cxrpilot.evaluation import clinical_efficacy
from cxrpilot.evaluation._clinical import binarise_labels
from cxrpilot.vocabulary import CHEXPERT_5, OBSERVATIONS

REFS = [{"Cardiomegaly": 1, "Edema": 1}, {"Atelectasis": -1, "Pleural Effusion": 1}, {}]
PREDS = [{"Cardiomegaly": 1}, {"Atelectasis": 1, "Pleural Effusion": 1, "Edema": 1},
         {"Consolidation": -1, "Edema": None}]


@pytest.mark.parametrize(
    ("uncertain", "average", "expected"),
    [  # worked by hand over the 5 observations (see the test body)
        ("negative", "micro", (2 / 4, 2 / 3, 4 / 7)),
        ("negative", "macro", (0.4, 0.4, 0.4)),
        ("positive", "micro", (3 / 5, 3 / 4, 2 / 3)),
        ("positive", "macro", (0.6, 0.6, 0.6)),
    ],
)
def test_hand_computed_five_observations(uncertain, average, expected):
    """U-zeros: TP card+PE, FP atel+edema, FN edema -> P 2/4, R 2/3; per observation F1
    (0, 1, 0, 0, 1) -> macro 0.4. U-ones adds TP atel and FP consolidation."""
    ce = clinical_efficacy(PREDS, REFS)
    got = tuple(ce.score(m, average=average, observations="5", uncertain=uncertain)
                for m in ("precision", "recall", "f1"))
    assert got == pytest.approx(expected, abs=1e-12)


def test_matches_sklearn_on_random_labels_and_table_counts():
    rng = np.random.default_rng(0)
    values = [1, 0, -1, None]

    def draw(n):
        return [{o: values[rng.integers(4)] for o in OBSERVATIONS if rng.random() < 0.5} for _ in range(n)]

    preds, refs = draw(200), draw(200)
    ce = clinical_efficacy(preds, refs)
    assert ce.n == 200 and len(ce.summary) == 8 and len(ce.per_observation) == 28
    for policy in ("negative", "positive"):
        yt = binarise_labels(refs, uncertain=policy)
        yp = binarise_labels(preds, uncertain=policy)
        for set_name, obs in (("14", OBSERVATIONS), ("5", CHEXPERT_5)):
            cols = [OBSERVATIONS.index(o) for o in obs]
            for average in ("micro", "macro"):
                want = precision_recall_fscore_support(yt[:, cols], yp[:, cols], average=average,
                                                       zero_division=0)[:3]
                got = [ce.score(m, average=average, observations=set_name, uncertain=policy)
                       for m in ("precision", "recall", "f1")]
                assert got == pytest.approx(want, abs=1e-12)
        rows = [r for r in ce.per_observation if r["uncertain"] == policy]
        assert [r["support"] for r in rows] == yt.sum(0).tolist()
        assert [r["tp"] + r["fp"] for r in rows] == yp.sum(0).tolist()
        assert all(r["tp"] + r["fp"] + r["fn"] + r["tn"] == 200 for r in rows)


def test_per_observation_undefined_is_nan():
    ce = clinical_efficacy([{"Edema": 1}], [{"Edema": 1}])
    rows = {r["observation"]: r for r in ce.per_observation if r["uncertain"] == "negative"}
    assert rows["Edema"]["f1"] == 1.0
    assert math.isnan(rows["Fracture"]["precision"]) and math.isnan(rows["Fracture"]["recall"])
    assert ce.to_dict()["per_observation"][12]["precision"] is None  # JSON null


def test_texts_with_a_given_labeler():
    calls = []

    def labeler(texts):
        calls.append(list(texts))
        return [{"Edema": 1} if "edema" in t.lower() else {"Edema": 0} for t in texts]

    labeler.name = "toy"
    ce = clinical_efficacy(["Mild edema.", "Clear."], ["Edema present.", "Edema."], labeler=labeler)
    assert calls == [["Mild edema.", "Clear."], ["Edema present.", "Edema."]]
    assert ce.labeler == "toy"
    assert ce.score("recall", observations="5") == 0.5 and ce.score("precision", observations="5") == 1.0


@pytest.mark.data
def test_real_iu_reports_with_the_report_labeler(shared_data):
    reports = pytest.importorskip("cxrpilot.reports")
    if not hasattr(reports, "label_reports"):
        pytest.skip("cxrpilot.reports.label_reports is not available")
    findings, impressions = [], []
    for f in sorted((shared_data / "iu-xray" / "reports").glob("*.xml"))[:200]:
        s = {a.get("Label"): (a.text or "").strip() for a in ET.parse(f).getroot().iter("AbstractText")}
        if s.get("FINDINGS") and s.get("IMPRESSION"):
            findings.append(s["FINDINGS"])
            impressions.append(s["IMPRESSION"])
    ce = clinical_efficacy(findings, impressions)
    same = clinical_efficacy(reports.label_reports(findings), reports.label_reports(impressions))
    assert ce.labeler == "cxrpilot.reports.label_reports" and same.labeler == "given"
    assert ce.summary == same.summary
    # FINDINGS and IMPRESSION of the same report mostly agree, but not perfectly
    assert 0.3 < ce.score("f1", average="micro") < 1.0


@pytest.mark.parametrize(
    ("preds", "refs", "match"),
    [
        ([{"Edema": 2}], [{}], r"predictions\[0\]\['Edema'\] is 2; expected 1 \(present\)"),
        ([{"Effusion": 1}], [{}], r"unknown observation\(s\) \['Effusion'\]"),
        ([{}], [{}, {}], "predictions has 1 reports but references has 2"),
        (["text", {}], [{}, {}], "all texts \\(str\\) or all label dicts; got dict, str"),
        ([], [], "predictions is empty"),
        ("one string", ["x"], "not one string"),
        ([{"Edema": True}], [{}], "is True; expected 1"),
    ],
)
def test_bad_input(preds, refs, match):
    with pytest.raises(InvalidInputError, match=match):
        clinical_efficacy(preds, refs, labeler=lambda texts: [{} for _ in texts])
