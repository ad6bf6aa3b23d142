"""Reading time statistics and draft edits."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from cxrpilot.errors import InvalidInputError
from cxrpilot.evaluation import (
    draft_edits,
    reading_time_mixed_model,
    relative_change_ci,
    summarise,
    word_edit_distance,
)


def levenshtein(a: list[str], b: list[str]) -> int:
    """The textbook dynamic programme."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
    return d[-1][-1]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("", "", 0), ("a b c", "", 3), ("", "a b", 2),
        ("No acute disease.", "No acute disease.", 0),
        ("No acute disease.", "No acute cardiopulmonary disease.", 1),
        ("kitten sat on mat", "sitting sat mat", 2),
        ("The heart is normal", "the HEART is normal", 0),  # case-insensitive
        ("a b c d", "d c b a", 4),
    ],
)
def test_word_edit_distance_examples(a, b, expected):
    assert word_edit_distance(a, b) == expected


def test_word_edit_distance_equals_textbook_dp():
    rng = np.random.default_rng(0)
    words = ["a", "b", "c", "d", "e", "f"]
    for _ in range(200):
        x = list(rng.choice(words, rng.integers(0, 12)))
        y = list(rng.choice(words, rng.integers(0, 12)))
        assert word_edit_distance(" ".join(x), " ".join(y)) == levenshtein(x, y)


def test_summarise_against_numpy_and_t_interval():
    x = np.array([119.0, 150.2, 98.3, 133.3, 141.0, 87.5])
    s = summarise(x)
    half = stats.t.ppf(0.975, 5) * x.std(ddof=1) / math.sqrt(6)
    assert (s.n, s.mean, s.sd, s.median) == (6, pytest.approx(x.mean()), pytest.approx(x.std(ddof=1)),
                                             pytest.approx(np.median(x)))
    assert (s.mean_ci_low, s.mean_ci_high) == pytest.approx((x.mean() - half, x.mean() + half))


def test_relative_change_published_effect_and_coverage():
    """Means 119.4 vs 146.6 s give -18.55 %; the bootstrap interval covers the truth."""
    rng = np.random.default_rng(1)
    truth = 119.4 / 146.6 - 1
    hits, reps = 0, 150
    for r in range(reps):
        t = rng.gamma(5.0, 119.4 / 5.0, 150)
        c = rng.gamma(5.0, 146.6 / 5.0, 150)
        est = relative_change_ci(np.r_[t, c], ["ai"] * 150 + ["scp"] * 150, treatment="ai", control="scp",
                                 n_bootstrap=300, seed=r)
        assert est.estimate == pytest.approx(t.mean() / c.mean() - 1)
        hits += est.ci_low <= truth <= est.ci_high
    assert 0.89 <= hits / reps <= 0.99


def test_relative_change_cluster_bootstrap_keeps_cases_together():
    rng = np.random.default_rng(2)
    case_eff = rng.normal(0, 0.5, 100)
    t = np.exp(np.log(119.4) + case_eff + rng.normal(0, 0.1, 100))
    c = np.exp(np.log(146.6) + case_eff + rng.normal(0, 0.1, 100))
    cases = np.r_[np.arange(100), np.arange(100)]
    arms = ["ai"] * 100 + ["scp"] * 100
    clustered = relative_change_ci(np.r_[t, c], arms, treatment="ai", control="scp", clusters=cases, n_bootstrap=500)
    naive = relative_change_ci(np.r_[t, c], arms, treatment="ai", control="scp", n_bootstrap=500)
    assert clustered.estimate == naive.estimate
    # pairing removes the shared case effect: a much narrower interval
    assert clustered.ci_high - clustered.ci_low < 0.5 * (naive.ci_high - naive.ci_low)
    with pytest.raises(InvalidInputError, match="same length"):
        relative_change_ci([1, 2], ["a"], treatment="a", control="b")


@pytest.mark.slow
def test_mixed_model_recovers_arm_effect_with_crossed_effects():
    rng = np.random.default_rng(3)
    n_cases, readers = 120, 6
    reader_eff = rng.normal(0, 0.15, readers)
    rows = []
    for c in range(n_cases):
        ce = rng.normal(0, 0.2)
        for arm, mu in (("ai_assisted", math.log(119.4)), ("scp", math.log(146.6))):
            r = int(rng.integers(readers))
            rows.append((math.exp(mu + reader_eff[r] + ce + rng.normal(0, 0.25)), arm, f"r{r}", f"c{c}"))
    secs, arm, reader, case = map(list, zip(*rows, strict=True))
    m = reading_time_mixed_model(secs, arm, reader, case)
    assert m.random_effects == ("reader", "case")
    truth = 119.4 / 146.6 - 1
    assert m.relative_change.ci_low <= truth <= m.relative_change.ci_high
    assert m.p < 1e-6 and set(m.variance_components) == {"reader", "case", "residual"}


def test_mixed_model_without_repeated_cases_uses_reader_effect_only():
    rng = np.random.default_rng(4)
    secs = np.exp(rng.normal(5, 0.3, 60))
    arm = ["ai_assisted", "scp"] * 30
    reader = [f"r{i % 4}" for i in range(60)]
    case = [f"c{i}" for i in range(60)]
    m = reading_time_mixed_model(secs, arm, reader, case)
    assert m.random_effects == ("reader",)
    with pytest.raises(InvalidInputError, match="needs positive times"):
        reading_time_mixed_model([0.0, 1.0, 2.0, 3.0], arm[:4], reader[:4], case[:4])


def test_draft_edits_with_a_given_labeler():
    def labeler(texts):
        return [{"Pleural Effusion": 1 if "effusion" in t.lower() else None,
                 "Cardiomegaly": 1 if "cardiomegaly" in t.lower() else 0} for t in texts]

    drafts = ["Small effusion.", "Cardiomegaly.", "Clear lungs."]
    finals = ["Small effusion.", "No cardiomegaly seen here", "Clear lungs. Small effusion."]
    out = draft_edits(drafts, finals, labeler=labeler)
    assert out["n"] == 3 and out["unchanged"] == pytest.approx(1 / 3)
    # punctuation is no word: "Cardiomegaly." -> "No cardiomegaly seen here" inserts 3 words
    assert out["edit_distance"]["mean"] == pytest.approx((0 + 3 + 2) / 3)
    # "No cardiomegaly" still contains the word: this toy labeler keeps it present
    assert out["findings"]["added"] == {"Pleural Effusion": 1}
    assert out["findings"]["removed"] == {}
    with pytest.raises(InvalidInputError, match="drafts has 1 texts but finals has 2"):
        draft_edits(["a"], ["a", "b"])
