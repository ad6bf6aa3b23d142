"""A simulated reader study in the tidy export schema, with known effect sizes.

Used by the worked example in ``docs/evaluation.md`` and by the tests: the analysis must
recover the effects the data were generated with. Reading times default to the published
Janus-Pro-CXR trial (mean 119.4 s with the AI draft vs 146.6 s in standard practice,
-18.5 %); the rating distributions are illustrative, not published figures.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from cxrpilot.vocabulary import ARMS, Arm

from ._study_data import EVALUATION_COLUMNS, RADPEER_SCORES, READ_COLUMNS
from ._validation import check_positive_int

_FINDINGS = (
    "Mild cardiomegaly.", "Small left pleural effusion.", "Small right pleural effusion.",
    "Bibasilar atelectasis.", "Right lower lobe consolidation.", "Mild pulmonary edema.",
    "Endotracheal tube in place.", "Right-sided central venous catheter in place.",
    "Small right apical pneumothorax.", "Healed left rib fracture.",
)
_NORMAL = (
    "The heart size is normal.", "The lungs are clear.", "No pneumothorax.", "No pleural effusion.",
    "No focal consolidation.", "The mediastinal contours are within normal limits.",
)


@dataclass(frozen=True)
class SimulationSpec:
    """Parameters of :func:`simulate_reader_study`.

    Reading times are log-normal: ``log t = mu_arm + reader + case + noise`` with normal
    random effects (SDs on the log scale), ``mu_arm`` set so that each arm's expected mean is
    ``mean_seconds[arm]``. Each case is read once in each arm by two different readers; each
    evaluator rates both reports of every case (Likert, RADPEER) and states a preference.
    """

    n_cases: int = 300
    n_readers: int = 8
    n_evaluators: int = 5
    mean_seconds: tuple[float, float] = (119.4, 146.6)  # (ai_assisted, scp)
    reader_sd: float = 0.15
    case_sd: float = 0.20
    residual_sd: float = 0.30
    likert_shift: float = 0.25  # latent quality advantage of AI-assisted reports (illustrative)
    p_prefer_ai: float = 0.6  # per evaluator vote, among votes with a preference (illustrative)
    p_no_preference: float = 0.15
    p_unchanged_draft: float = 0.35


def _report(rng: np.random.Generator) -> str:
    k = int(rng.integers(0, 3))
    findings = list(rng.choice(_FINDINGS, size=k, replace=False)) if k else []
    normals = list(rng.choice(_NORMAL, size=3, replace=False))
    impression = "No acute cardiopulmonary abnormality." if not findings else findings[0]
    return "FINDINGS: " + " ".join(findings + normals) + " IMPRESSION: " + impression


def _edit(rng: np.random.Generator, draft: str, p_unchanged: float) -> str:
    if rng.random() < p_unchanged:
        return draft
    findings, impression = draft.split(" IMPRESSION: ")
    sentences = findings.removeprefix("FINDINGS: ").split(". ")
    move = rng.random()
    if move < 0.4 and len(sentences) > 1:  # remove a sentence
        sentences.pop(int(rng.integers(len(sentences))))
    elif move < 0.8:  # add a finding
        sentences.insert(0, str(rng.choice(_FINDINGS)).rstrip("."))
    else:  # reword
        sentences = [s.replace("The ", "").replace("normal", "within normal limits") for s in sentences]
    text = ". ".join(s.rstrip(".") for s in sentences) + "."
    return "FINDINGS: " + text + " IMPRESSION: " + impression


def simulate_reader_study(
    spec: SimulationSpec | None = None, *, seed: int = 0, study: str = "simulated-trial"
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Simulate reads and evaluations of a two-arm reader study.

    Returns
    -------
    (reads, evaluations) : tuple of lists of dict
        Rows in the :data:`~cxrpilot.evaluation.READ_COLUMNS` /
        :data:`~cxrpilot.evaluation.EVALUATION_COLUMNS` schema.
    """
    spec = spec or SimulationSpec()
    check_positive_int(spec.n_cases, "n_cases", minimum=2)
    check_positive_int(spec.n_readers, "n_readers", minimum=2)
    check_positive_int(spec.n_evaluators, "n_evaluators")
    rng = np.random.default_rng(seed)
    var = spec.reader_sd**2 + spec.case_sd**2 + spec.residual_sd**2
    mu = {arm: math.log(m) - var / 2 for arm, m in zip(ARMS, spec.mean_seconds, strict=True)}
    reader_eff = rng.normal(0, spec.reader_sd, spec.n_readers)
    readers = [f"reader{r + 1:02d}" for r in range(spec.n_readers)]
    evaluators = [f"evaluator{e + 1}" for e in range(spec.n_evaluators)]
    evaluator_bias = rng.normal(0, 0.3, spec.n_evaluators)
    t0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
    reads: list[dict[str, Any]] = []
    evaluations: list[dict[str, Any]] = []
    for c in range(spec.n_cases):
        case = f"case{c + 1:04d}"
        case_eff = rng.normal(0, spec.case_sd)
        quality = rng.normal(0, 0.5)  # case difficulty shared by both reports
        r_ai, r_scp = rng.choice(spec.n_readers, size=2, replace=False)
        draft = _report(rng)
        latent_pref = rng.normal(0, 1.0)
        for arm, r in ((Arm.AI_ASSISTED.value, r_ai), (Arm.SCP.value, r_scp)):
            seconds = math.exp(mu[arm] + reader_eff[r] + case_eff + rng.normal(0, spec.residual_sd))
            start = t0 + timedelta(minutes=int(rng.integers(0, 60 * 24 * 20)), seconds=float(rng.random()))
            final = _edit(rng, draft, spec.p_unchanged_draft) if arm == Arm.AI_ASSISTED else _report(rng)
            reads.append({
                "study": study, "case": case, "reader": readers[r], "arm": arm,
                "started_at": start.isoformat(), "signed_at": (start + timedelta(seconds=seconds)).isoformat(),
                "active_seconds": round(seconds * float(rng.uniform(0.8, 0.97)), 2),
                "draft_text": draft if arm == Arm.AI_ASSISTED else "", "final_text": final,
            })
        for e, ev in enumerate(evaluators):
            u = rng.random()
            if u < spec.p_no_preference:
                pref_ai = 0.5
            else:
                p = spec.p_prefer_ai + 0.15 * math.tanh(latent_pref)
                pref_ai = 1.0 if rng.random() < p else 0.0
            for arm in ARMS:
                latent = 4.0 + quality + evaluator_bias[e] + (spec.likert_shift if arm == Arm.AI_ASSISTED else 0.0)
                likert = int(np.clip(round(latent + rng.normal(0, 0.6)), 1, 5))
                disc = max(0.0, 3.2 - latent + rng.normal(0, 0.8))
                radpeer = RADPEER_SCORES[int(np.clip(round(disc), 0, 4))]
                evaluations.append({
                    "study": study, "case": case, "evaluator": ev, "report_id": f"{case}-{arm}", "arm": arm,
                    "likert": likert, "radpeer": radpeer,
                    "preference": pref_ai if arm == Arm.AI_ASSISTED else (0.5 if pref_ai == 0.5 else 1.0 - pref_ai),
                })
    return reads, evaluations


def write_study_export(
    path: str | Path, reads: list[dict[str, Any]], evaluations: list[dict[str, Any]]
) -> Path:
    """Write ``reads.csv`` and ``evaluations.csv`` into the folder ``path`` (created)."""
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    for name, rows, cols in (("reads.csv", reads, READ_COLUMNS), ("evaluations.csv", evaluations, EVALUATION_COLUMNS)):
        with (out / name).open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(cols), extrasaction="ignore")
            writer.writeheader()
            writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
    return out
