"""The model card: everything needed to run, judge and cite one expert model.

A card is the ``card.json`` beside the weights. Preprocessing, calibration and the
present/uncertain/absent thresholds are all read from it, so a model folder is
self-describing: nothing about a model is hard-coded in the code that runs it.
"""

from __future__ import annotations

import json
import math
from dataclasses import MISSING, asdict, dataclass, field
from pathlib import Path
from typing import Any

from cxrpilot.errors import InvalidInputError, ModelLoadError
from cxrpilot.vocabulary import OBSERVATIONS

__all__ = ["ModelCard", "Thresholds", "read_card", "write_card", "CARD_FILE", "WEIGHTS_FILE"]

CARD_FILE = "card.json"
WEIGHTS_FILE = "model.onnx"
CARD_SCHEMA = 2
#: Card schemas this version reads (1: every output label is assessed).
READABLE_SCHEMAS = (1, 2)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Probability cut-offs of one finding.

    A calibrated probability below ``low`` reads *absent*, above ``high`` reads *present*,
    and anything in ``[low, high]`` reads *uncertain*.
    """

    low: float
    high: float

    def __post_init__(self) -> None:
        lo, hi = float(self.low), float(self.high)
        if not (0.0 <= lo <= hi <= 1.0) or math.isnan(lo) or math.isnan(hi):
            raise InvalidInputError(f"thresholds must satisfy 0 <= low <= high <= 1, got low={lo}, high={hi}")
        object.__setattr__(self, "low", lo)
        object.__setattr__(self, "high", hi)


@dataclass(frozen=True)
class ModelCard:
    """What an expert model is, what it was trained on, how well it does, how to run it.

    Attributes
    ----------
    model_id : str
        Descriptive name ``expert-{arch}-res{N}-{data}``, e.g. ``"expert-resnet10-res224-cxr4"``.
    version : str
        Version of these weights.
    labels : tuple of str
        The network's outputs, in order (a subset of the 14 observations).
    assessed : tuple of str or None
        The outputs the model *assesses* (states present/uncertain/absent about): those whose
        measured held-out performance supports it. ``None`` means all of ``labels``. Every
        other observation, including outputs left out of ``assessed``, is *not assessed*.
    image_size : int
        Side of the square input in pixels (aspect-preserving fit, then padding).
    mean, std : float
        Normalisation of the [0, 1] grey levels: ``(x - mean) / std``.
    temperatures : tuple of float
        Per-label temperature of the calibration: ``p = sigmoid(logit / T)``.
    thresholds : dict of str to Thresholds
        Per-label low/high cut-offs on the calibrated probability.
    weights_file : str
        File name of the ONNX weights in the model folder.
    sha256 : str
        Hex digest of the weights file; checked on load.
    architecture : dict
        Library, class and configuration of the network (informative).
    training : dict
        Seed, epochs, data sources with counts and licences, splits, timings.
    metrics : dict
        Measured metrics (AUC with 95 % CI per label and split, calibration error).
    intended_use : str
    limitations : tuple of str
    """

    model_id: str
    version: str
    labels: tuple[str, ...]
    image_size: int
    mean: float
    std: float
    temperatures: tuple[float, ...]
    thresholds: dict[str, Thresholds]
    sha256: str
    weights_file: str = WEIGHTS_FILE
    assessed: tuple[str, ...] | None = None
    architecture: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    intended_use: str = "Research and demonstration only. Not for clinical use."
    limitations: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        labels = tuple(self.labels)
        if not labels:
            raise InvalidInputError("a model card needs at least one label")
        unknown = [name for name in labels if name not in OBSERVATIONS]
        if unknown:
            raise InvalidInputError(f"unknown labels {unknown}; expected names from {', '.join(OBSERVATIONS)}")
        if len(set(labels)) != len(labels):
            raise InvalidInputError(f"duplicate labels in {labels}")
        temps = tuple(float(t) for t in self.temperatures)
        if len(temps) != len(labels) or any(not t > 0 for t in temps):
            raise InvalidInputError(f"need one positive temperature per label ({len(labels)}), got {temps}")
        thresholds = {
            name: t if isinstance(t, Thresholds) else Thresholds(**t)
            for name, t in dict(self.thresholds).items()
        }
        if set(thresholds) != set(labels):
            raise InvalidInputError(f"thresholds must cover exactly the labels {labels}, got {sorted(thresholds)}")
        if int(self.image_size) < 8:
            raise InvalidInputError(f"image_size must be >= 8, got {self.image_size}")
        if not float(self.std) > 0:
            raise InvalidInputError(f"std must be > 0, got {self.std}")
        assessed = labels if self.assessed is None else tuple(self.assessed)
        outside = [name for name in assessed if name not in labels]
        if outside:
            raise InvalidInputError(f"assessed findings {outside} are not among the outputs {labels}")
        object.__setattr__(self, "assessed", assessed)
        if len(self.sha256) != 64:
            raise InvalidInputError(f"sha256 must be 64 hex digits, got {self.sha256!r}")
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "temperatures", temps)
        object.__setattr__(self, "thresholds", thresholds)
        object.__setattr__(self, "image_size", int(self.image_size))
        object.__setattr__(self, "mean", float(self.mean))
        object.__setattr__(self, "std", float(self.std))
        object.__setattr__(self, "limitations", tuple(self.limitations))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the content of ``card.json``)."""
        d = asdict(self)
        d["schema"] = CARD_SCHEMA
        d["labels"] = list(self.labels)
        d["assessed"] = list(self.assessed)
        d["temperatures"] = list(self.temperatures)
        d["limitations"] = list(self.limitations)
        d["thresholds"] = {k: {"low": v.low, "high": v.high} for k, v in self.thresholds.items()}
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        """Build a card from the content of ``card.json``; raises ``InvalidInputError`` on bad content."""
        data = dict(data)
        schema = data.pop("schema", CARD_SCHEMA)
        if schema not in READABLE_SCHEMAS:
            raise InvalidInputError(f"card schema {schema!r} is not supported (expected one of "
                             f"{', '.join(map(str, READABLE_SCHEMAS))})")
        known = set(cls.__dataclass_fields__)
        extra = sorted(set(data) - known)
        if extra:
            raise InvalidInputError(f"unexpected card fields {extra}")
        missing = sorted(
            name for name, f in cls.__dataclass_fields__.items()
            if name not in data and f.default is MISSING and f.default_factory is MISSING
        )
        if missing:
            raise InvalidInputError(f"missing card fields {missing}")
        return cls(**data)


def read_card(path: Path) -> ModelCard:
    """Read ``card.json``; raises :class:`ModelLoadError` naming the file when it is
    missing, not JSON, or not a valid card."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelLoadError(
            f"model card {str(path)!r} not found; an expert model folder holds {CARD_FILE} and "
            f"{WEIGHTS_FILE} (as written by 'cxrpilot train expert')"
        ) from None
    except OSError as exc:
        raise ModelLoadError(f"cannot read model card {str(path)!r}: {exc.strerror}") from None
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise InvalidInputError(f"expected a JSON object, got {type(data).__name__}")
        return ModelCard.from_dict(data)
    except (ValueError, TypeError) as exc:
        raise ModelLoadError(f"model card {str(path)!r} is not a valid expert model card: {exc}") from None


def write_card(card: ModelCard, folder: Path) -> Path:
    """Write ``card.json`` and its human-readable ``model_card.md`` into ``folder``; returns
    the path of ``card.json``."""
    path = Path(folder) / CARD_FILE
    path.write_text(json.dumps(card.to_dict(), indent=2) + "\n", encoding="utf-8")
    (Path(folder) / "model_card.md").write_text(render_markdown(card), encoding="utf-8")
    return path


def _fmt_auc(m: dict[str, Any] | None) -> str:
    if not m or m.get("auc") is None or (isinstance(m["auc"], float) and math.isnan(m["auc"])):
        return "n/a"
    return f"{m['auc']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}] (n={m['n']}, pos={m['n_positive']})"


def render_markdown(card: ModelCard) -> str:
    """The card as a Markdown page for people (``model_card.md``)."""
    tr, mt = card.training, card.metrics
    lines = [
        f"# {card.model_id} (version {card.version})",
        "",
        f"**Intended use:** {card.intended_use}",
        "",
        "## What it assesses",
        (f"Assesses: {', '.join(card.assessed)}. Every other of the 14 CheXpert observations is "
         if card.assessed else "Assesses **no finding**: every one of the 14 CheXpert observations is ")
        + "**not assessed** (the model states nothing about it)"
        + (f"; the network also outputs {', '.join(n for n in card.labels if n not in card.assessed)}"
           ", which did not meet the bar for being assessed (see Metrics)."
           if set(card.labels) - set(card.assessed) else "."),
        "",
        "| finding | assessed | temperature | absent below | present above |",
        "|---|---|---|---|---|",
    ]
    for name, temp in zip(card.labels, card.temperatures, strict=True):
        t = card.thresholds[name]
        lines.append(f"| {name} | {'yes' if name in card.assessed else 'no'} | {temp:.3f} | "
                     f"{t.low:.3f} | {t.high:.3f} |")
    lines += ["", tr.get("threshold_rule", ""), ""]
    arch = card.architecture
    lines += [
        "## Model",
        (f"- Architecture: {arch.get('library', '')} `{arch.get('class', '')}` "
        f"({arch.get('name', '')}, {arch.get('parameters', 0):,} parameters), trained from scratch."),
        (f"- Input: greyscale, aspect-preserving fit into {card.image_size}x{card.image_size} "
        f"(black padding), normalised (x - {card.mean:.4f}) / {card.std:.4f} on [0, 1] grey levels."),
        f"- Weights: `{card.weights_file}` (ONNX, run with ONNX Runtime), sha256 `{card.sha256}`.",
        "",
        "## Training data",
        "| source | images used | licence |",
        "|---|---|---|",
    ]
    for src in tr.get("sources", []):
        lic = src.get("licence", "")
        if isinstance(lic, dict):
            lic = "; ".join(f"{k}: {v}" for k, v in lic.items())
        lines.append(f"| {src['name']} | {src['images']} | {lic} |")
    lines += ["", tr.get("data_notes", ""), "", "### Splits", "| split | images | by source |",
              "|---|---|---|"]
    for split, info in tr.get("splits", {}).items():
        by = ", ".join(f"{k} {v}" for k, v in info.get("by_source", {}).items())
        lines.append(f"| {split} | {info.get('images', 0)} | {by} |")
    lines += ["", f"Training: seed {tr.get('seed')}, {tr.get('epochs')} epochs of "
              f"{tr.get('samples_per_epoch')} draws (best epoch {tr.get('best_epoch')}), "
              f"{tr.get('train_seconds', 0):.0f} s training ({tr.get('total_seconds', 0):.0f} s in "
              f"all) on {tr.get('threads')} CPU threads of {tr.get('machine', 'an unrecorded machine')}."
              + (" Fine-tuned from a model trained on "
                 f"{', '.join(tr['fine_tuned_from'].get('train_sources', []))}."
                 if tr.get("fine_tuned_from") else ""), ""]
    test = mt.get("test", {})
    lines += ["## Metrics", mt.get("assessment_rule", ""), "",
              "AUC with 95 % bootstrap CI on the test split (held-out patients), per test set:", "",
              "| finding | assessed | " + " | ".join(test) + " |",
              "|---|---|" + "---|" * len(test)]
    for lab in card.labels:
        lines.append(f"| {lab} | {'yes' if lab in card.assessed else 'no'} | "
                     + " | ".join(_fmt_auc(per.get(lab)) for per in test.values()) + " |")
    hits = mt.get("maps", {})
    if hits:
        lines += ["", ("Where it looked: share of NIH test images whose map peak lies inside the "
                  "radiologist's box for that finding (pointing game, 95 % Wilson CI), beside the "
                  "image centre as a baseline:"), "",
                  "| finding | n | map hit rate | centre hit rate |", "|---|---|---|---|"]
        for lab, h in hits.items():
            lines.append(f"| {lab} | {h['n']} | {h['map_hit_rate']:.2f} [{h['map_ci_low']:.2f}, "
                         f"{h['map_ci_high']:.2f}] | {h['centre_hit_rate']:.2f} "
                         f"[{h['centre_ci_low']:.2f}, {h['centre_ci_high']:.2f}] |")
    cross = mt.get("cross_source", {})
    if cross:
        lines += ["", ("Cross-source (a model of the same recipe trained WITHOUT the source, tested on "
                  "all of it; see benchmarks/bench_expert_quality.py):"), "",
                  "| held-out source | " + " | ".join(card.labels) + " |",
                  "|---|" + "---|" * len(card.labels)]
        for name, per in cross.items():
            lines.append(f"| {name} | " + " | ".join(_fmt_auc(per.get(lab)) for lab in card.labels)
                         + " |")
    checks = mt.get("shortcut_checks", [])
    if checks:
        lines += ["", "Shortcut checks:", "", *[f"- {item}" for item in checks]]
    cal = mt.get("calibration", {})
    if cal:
        lines += ["", ("Calibration (expected calibration error, 10 bins), before -> after temperature "
                  "scaling:"), "", "| finding | validation | test |", "|---|---|---|"]
        for lab in card.labels:
            c = cal.get(lab, {})
            lines.append(f"| {lab} | {c.get('ece_val_before', float('nan')):.3f} -> "
                         f"{c.get('ece_val_after', float('nan')):.3f} | "
                         f"{c.get('ece_test_before', float('nan')):.3f} -> "
                         f"{c.get('ece_test_after', float('nan')):.3f} |")
    lines += ["", "## Limitations", *[f"- {item}" for item in card.limitations], ""]
    return "\n".join(lines)
