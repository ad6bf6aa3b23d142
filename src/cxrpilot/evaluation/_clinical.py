"""Clinical efficacy of generated reports: do they state the same findings as the reference?

Both reports are labelled with the 14 CheXpert observations (1 present, 0 absent, -1
uncertain, None not mentioned), then scored as multi-label classification of the predicted
labels against the reference labels: precision, recall and F1, micro and macro, over the
14 observations and over the usual 5 (:data:`~cxrpilot.vocabulary.CHEXPERT_5`), with
uncertain counted as negative and, separately, as positive. "Not mentioned" is negative.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from sklearn.metrics import precision_recall_fscore_support

from cxrpilot.errors import InvalidInputError
from cxrpilot.vocabulary import CHEXPERT_5, OBSERVATIONS

from ._result import to_jsonable

Labels = Mapping[str, int | None]
Labeler = Callable[[Sequence[str]], Sequence[Labels]]
UNCERTAIN_POLICIES = ("negative", "positive")
OBSERVATION_SETS: dict[str, tuple[str, ...]] = {"14": OBSERVATIONS, "5": CHEXPERT_5}


def _label_value(value: Any, where: str) -> int | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool) or value not in (1, 0, -1):
        raise InvalidInputError(f"{where} is {value!r}; expected 1 (present), 0 (absent), "
                                "-1 (uncertain) or None (not mentioned)")
    return int(value)


def binarise_labels(
    labels: Sequence[Labels],
    *,
    observations: Sequence[str] = OBSERVATIONS,
    uncertain: Literal["negative", "positive"] = "negative",
    name: str = "labels",
) -> np.ndarray:
    """Label dicts as a 0/1 matrix of shape ``(n_reports, len(observations))``.

    1 -> 1, 0 -> 0, None (not mentioned, or a key left out) -> 0, -1 (uncertain) -> 0 or 1
    as ``uncertain`` says. Keys that are not observations are an error.
    """
    if uncertain not in UNCERTAIN_POLICIES:
        raise InvalidInputError(f"uncertain must be 'negative' or 'positive'; got {uncertain!r}")
    u = 1 if uncertain == "positive" else 0
    out = np.zeros((len(labels), len(observations)), dtype=np.int64)
    for i, row in enumerate(labels):
        if not isinstance(row, Mapping):
            raise InvalidInputError(f"{name}[{i}] must be a dict of observation -> 1/0/-1/None; "
                                    f"got {type(row).__name__}")
        unknown = [k for k in row if k not in OBSERVATIONS]
        if unknown:
            raise InvalidInputError(f"{name}[{i}] has unknown observation(s) {unknown}; expected names "
                                    f"from: {', '.join(OBSERVATIONS)}")
        for j, obs in enumerate(observations):
            v = _label_value(row.get(obs), f"{name}[{i}][{obs!r}]")
            out[i, j] = 1 if v == 1 else (u if v == -1 else 0)
    return out


@dataclass(frozen=True)
class ClinicalEfficacy:
    """Clinical efficacy scores.

    Attributes
    ----------
    n : int
        Number of report pairs.
    summary : list of dict
        Tidy rows ``{uncertain, observations, average, precision, recall, f1}`` for uncertain
        in (negative, positive), observations in ("14", "5"), average in (micro, macro).
    per_observation : list of dict
        Rows ``{uncertain, observation, tp, fp, fn, tn, support, precision, recall, f1}``
        (NaN where a denominator is 0).
    labeler : str
        What produced the labels (``"given"`` when label dicts were passed).
    """

    n: int
    summary: list[dict[str, Any]] = field(repr=False)
    per_observation: list[dict[str, Any]] = field(repr=False)
    labeler: str = "given"

    def score(self, metric: str = "f1", *, average: str = "micro", observations: str = "14",
              uncertain: str = "negative") -> float:
        """One summary number, e.g. ``score("f1", average="micro", observations="5")``."""
        for row in self.summary:
            if (row["average"], row["observations"], row["uncertain"]) == (average, observations, uncertain):
                return float(row[metric])
        raise InvalidInputError(f"no summary row for average={average!r}, observations={observations!r}, "
                                f"uncertain={uncertain!r}")

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable({"n": self.n, "labeler": self.labeler, "summary": self.summary,
                            "per_observation": self.per_observation})


def _labels_of(items: Sequence[Any], labeler: Labeler | None, name: str) -> tuple[list[Labels], str]:
    if isinstance(items, str):
        raise InvalidInputError(f"{name} must be a sequence of reports or label dicts, not one string")
    items = list(items)
    if all(isinstance(x, str) for x in items):
        if labeler is None:
            from cxrpilot.reports import label_reports

            labeler, label_name = label_reports, "cxrpilot.reports.label_reports"
        else:
            label_name = getattr(labeler, "name", None) or getattr(labeler, "__name__", repr(labeler))
        labelled = list(labeler(items))
        if len(labelled) != len(items):
            raise InvalidInputError(f"the labeler returned {len(labelled)} label dicts for {len(items)} "
                                    f"{name}; it must return one per text")
        return labelled, str(label_name)
    if all(isinstance(x, Mapping) for x in items):
        return items, "given"
    kinds = sorted({type(x).__name__ for x in items})
    raise InvalidInputError(f"{name} must be all texts (str) or all label dicts; got {', '.join(kinds)}")


def clinical_efficacy(
    predictions: Sequence[str] | Sequence[Labels],
    references: Sequence[str] | Sequence[Labels],
    *,
    labeler: Labeler | None = None,
    zero_division: float = 0.0,
) -> ClinicalEfficacy:
    """Precision, recall and F1 of the findings stated by generated reports.

    Parameters
    ----------
    predictions, references : sequence of str or of dict, length n
        Report texts (labelled by ``labeler``), or label dicts ``{observation: 1/0/-1/None}``
        (left-out observations are "not mentioned").
    labeler : callable, optional
        ``labeler(texts) -> list of label dicts``; default
        :func:`cxrpilot.reports.label_reports` (imported only when texts are given).
    zero_division : float, default 0.0
        The value of a precision/recall/F1 whose denominator is 0 inside the micro and
        macro averages, as :func:`sklearn.metrics.precision_recall_fscore_support` takes it
        (0 is scikit-learn's default and what published clinical-efficacy figures used).

    Returns
    -------
    ClinicalEfficacy

    References
    ----------
    .. [1] Irvin J et al. CheXpert: a large chest radiograph dataset with uncertainty labels
       and expert comparison. AAAI 2019 (the 14 observations; U-zeros / U-ones policies).
    .. [2] Chen Z, Song Y, Chang T-H, Wan X. Generating radiology reports via memory-driven
       transformer. EMNLP 2020 (clinical efficacy: micro P/R/F1 over the 14).
    .. [3] Miura Y et al. Improving factual completeness and consistency of image-to-text
       radiology report generation. NAACL 2021 (micro/macro F1 over 14 and 5).

    Examples
    --------
    >>> ce = clinical_efficacy([{"Edema": 1, "Cardiomegaly": -1}], [{"Edema": 1, "Cardiomegaly": 1}])
    >>> ce.score("f1", uncertain="negative"), ce.score("f1", uncertain="positive")
    (0.6666666666666666, 1.0)
    """
    pred_labels, pred_by = _labels_of(predictions, labeler, "predictions")
    ref_labels, ref_by = _labels_of(references, labeler, "references")
    if len(pred_labels) != len(ref_labels):
        raise InvalidInputError(f"predictions has {len(pred_labels)} reports but references has "
                                f"{len(ref_labels)}; give one reference per prediction")
    if not pred_labels:
        raise InvalidInputError("predictions is empty; give at least one report pair")
    zero_division = float(zero_division)
    summary: list[dict[str, Any]] = []
    per_obs: list[dict[str, Any]] = []
    for policy in UNCERTAIN_POLICIES:
        y_pred = binarise_labels(pred_labels, uncertain=policy, name="predictions")
        y_true = binarise_labels(ref_labels, uncertain=policy, name="references")
        for set_name, obs in OBSERVATION_SETS.items():
            cols = [OBSERVATIONS.index(o) for o in obs]
            for average in ("micro", "macro"):
                p, r, f, _ = precision_recall_fscore_support(
                    y_true[:, cols], y_pred[:, cols], average=average, zero_division=zero_division)
                summary.append({"uncertain": policy, "observations": set_name, "average": average,
                                "precision": float(p), "recall": float(r), "f1": float(f)})
        tp = (y_true & y_pred).sum(0)
        fp = ((1 - y_true) & y_pred).sum(0)
        fn = (y_true & (1 - y_pred)).sum(0)
        tn = ((1 - y_true) & (1 - y_pred)).sum(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p, r, f, support = precision_recall_fscore_support(
                y_true, y_pred, average=None, zero_division=np.nan)
        for j, obs_name in enumerate(OBSERVATIONS):
            per_obs.append({"uncertain": policy, "observation": obs_name, "tp": int(tp[j]), "fp": int(fp[j]),
                            "fn": int(fn[j]), "tn": int(tn[j]), "support": int(support[j]),
                            "precision": float(p[j]), "recall": float(r[j]), "f1": float(f[j])})
    by = pred_by if pred_by == ref_by else f"predictions: {pred_by}; references: {ref_by}"
    return ClinicalEfficacy(len(pred_labels), summary, per_obs, by)
