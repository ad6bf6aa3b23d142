"""Temperature scaling, ECE and the low/high thresholds (pure functions)."""

from __future__ import annotations

import numpy as np
import pytest

from cxrpilot.evaluation import expected_calibration_error
from cxrpilot.models.expert._calibration import choose_thresholds, fit_temperature, sigmoid


def _sample(temperature: float, n: int = 20000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 4, n)
    y = (rng.random(n) < sigmoid(logits / temperature)).astype(float)
    return y, logits


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0, 4.0])
def test_fit_temperature_recovers_the_true_one(temperature: float) -> None:
    y, logits = _sample(temperature)
    assert fit_temperature(y, logits) == pytest.approx(temperature, rel=0.1)


def test_calibration_lowers_ece() -> None:
    y, logits = _sample(3.0)
    before = expected_calibration_error(y, sigmoid(logits))
    after = expected_calibration_error(y, sigmoid(logits / fit_temperature(y, logits)))
    assert after < 0.02 < before


def test_single_class_temperature_is_one() -> None:
    assert fit_temperature(np.ones(5), np.arange(5.0)) == 1.0


def test_thresholds_keep_sensitivity_and_specificity() -> None:
    y, logits = _sample(6.0)  # a weak model: an uncertain band must exist
    p = sigmoid(logits / 6.0)
    low, high = choose_thresholds(y, p)
    assert low < high
    assert (p[y == 1] >= low).mean() >= 0.95
    assert (p[y == 0] <= high).mean() >= 0.95


def test_perfect_separation_gives_one_cut() -> None:
    y = np.array([0, 0, 0, 1, 1, 1])
    low, high = choose_thresholds(y, np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9]))
    assert low == high == pytest.approx(0.7)


@pytest.mark.parametrize(
    ("y", "p", "message"),
    [
        ([1, 1], [0.2, 0.3], r"both classes"),
        ([0, 1], [0.2], r"one length"),
    ],
)
def test_bad_threshold_inputs(y: list, p: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        choose_thresholds(np.array(y), np.array(p))


def test_unknown_labels_contribute_no_loss_and_no_gradient() -> None:
    """Partial labels: a label a source does not give (NaN) is masked, never a negative."""
    import torch

    from cxrpilot.models.expert._fit import _masked_bce

    logits = torch.tensor([[2.0, -1.0], [0.5, 3.0]], requires_grad=True)
    targets = torch.tensor([[1.0, float("nan")], [0.0, float("nan")]])
    loss = _masked_bce(logits, targets, torch.ones(2))
    loss.backward()
    assert torch.all(logits.grad[:, 1] == 0)  # the unknown column gets no gradient
    assert torch.all(logits.grad[:, 0] != 0)
    # the same loss as if the unknown column did not exist
    alone = torch.nn.functional.binary_cross_entropy_with_logits(logits[:, :1], targets[:, :1])
    assert float(loss) == pytest.approx(float(alone))


def _auc(auc: float, n: int = 150, pos: int = 25, ci_low: float | None = None) -> dict:
    return {"auc": auc, "n": n, "n_positive": pos,
            "ci_low": auc - 0.08 if ci_low is None else ci_low}


@pytest.mark.parametrize(
    ("test", "validation", "expected"),
    [
        # passes everywhere
        ({"nih-chestxray14": {"Edema": _auc(0.85)}, "nih-chestxray14 AP": {"Edema": _auc(0.82)}},
         {"nih-chestxray14": {"Edema": _auc(0.81)}}, ("Edema",)),
        # the shipped model's Edema: 0.84 overall, but 0.74 within AP (the view carries it)
        ({"nih-chestxray14": {"Edema": _auc(0.837)}, "nih-chestxray14 AP": {"Edema": _auc(0.741)}},
         {"nih-chestxray14": {"Edema": _auc(0.809)}}, ()),
        # a view with too few positives is not checked
        ({"nih-chestxray14": {"Edema": _auc(0.85)}, "nih-chestxray14 PA": {"Edema": _auc(0.5, pos=1)}},
         {"nih-chestxray14": {"Edema": _auc(0.81)}}, ("Edema",)),
        # a lucky test split: validation below the bar
        ({"nih-chestxray14": {"Edema": _auc(0.85)}}, {"nih-chestxray14": {"Edema": _auc(0.77)}}, ()),
        # another source that labels the finding is checked too (cross-source)...
        ({"nih-chestxray14": {"Pneumonia": _auc(0.85)}, "pediatric-pneumonia": {"Pneumonia": _auc(0.78)}},
         {"nih-chestxray14": {"Pneumonia": _auc(0.81)}}, ()),
        ({"nih-chestxray14": {"Pneumonia": _auc(0.85)}, "pediatric-pneumonia": {"Pneumonia": _auc(0.88)}},
         {"nih-chestxray14": {"Pneumonia": _auc(0.81)}}, ("Pneumonia",)),
        # ...where it has enough negatives (covid-chestxray: 4 of 93)
        ({"nih-chestxray14": {"Pneumonia": _auc(0.85)}, "covid-chestxray": {"Pneumonia": _auc(0.5, 93, 89)}},
         {"nih-chestxray14": {"Pneumonia": _auc(0.81)}}, ("Pneumonia",)),
        # an abnormality score: high overall, no better than chance among the abnormal images
        # (the shipped model's Lung Opacity: 0.813 overall, 0.450 among the abnormal)
        ({"nih-chestxray14": {"Lung Opacity": _auc(0.85)},
          "nih-chestxray14 abnormal": {"Lung Opacity": _auc(0.55, 226, 192, ci_low=0.47)}},
         {"nih-chestxray14": {"Lung Opacity": _auc(0.84)}}, ()),
        ({"nih-chestxray14": {"Lung Opacity": _auc(0.85)},
          "nih-chestxray14 abnormal": {"Lung Opacity": _auc(0.66, 226, 192, ci_low=0.57)}},
         {"nih-chestxray14": {"Lung Opacity": _auc(0.84)}}, ("Lung Opacity",)),
        # No Finding is never assessed
        ({"nih-chestxray14": {"No Finding": _auc(0.95)}}, None, ()),
    ],
)
def test_assessment_rule(test, validation, expected) -> None:
    from cxrpilot.models.expert._train import choose_assessed

    assert choose_assessed(test, validation) == expected
