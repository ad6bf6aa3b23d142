"""The output of every drafting model: :class:`Finding` and :class:`Draft`.

A :class:`Draft` is always a draft: it is labelled as one wherever it is shown, and only a
report signed by a radiologist (in the workstation) is final.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from cxrpilot.vocabulary import OBSERVATIONS, Status, check_observation

__all__ = ["DRAFT_BANNER", "Finding", "Draft", "not_assessed", "complete_findings"]

#: Shown above every AI draft, in every interface.
DRAFT_BANNER = "DRAFT \u2014 requires review by a radiologist"


@dataclass(frozen=True, slots=True)
class Finding:
    """One observation as a model states it.

    Attributes
    ----------
    name : str
        One of the 14 :data:`~cxrpilot.vocabulary.OBSERVATIONS`.
    status : Status
        present / absent / uncertain / not_assessed.
    probability : float or None
        The model's calibrated probability, when it gives one (the expert classifier does;
        a finding read from generated text does not). ``None`` when not assessed.
    """

    name: str
    status: Status
    probability: float | None = None

    def __post_init__(self) -> None:
        check_observation(self.name)
        object.__setattr__(self, "status", Status(self.status))
        if self.probability is not None:
            p = float(self.probability)
            if not (0.0 <= p <= 1.0) or math.isnan(p):
                raise ValueError(f"probability of {self.name!r} must be in [0, 1], got {p!r}")
            object.__setattr__(self, "probability", p)
        if self.status is Status.NOT_ASSESSED and self.probability is not None:
            raise ValueError(f"{self.name!r} is not assessed but has a probability")

    @property
    def assessed(self) -> bool:
        return self.status is not Status.NOT_ASSESSED


def not_assessed(name: str) -> Finding:
    """The finding a model states nothing about."""
    return Finding(name, Status.NOT_ASSESSED)


def complete_findings(findings: "list[Finding] | tuple[Finding, ...]") -> tuple[Finding, ...]:
    """All 14 observations in vocabulary order; those missing from ``findings`` are
    marked not assessed. Raises ``ValueError`` on a duplicate name."""
    by_name: dict[str, Finding] = {}
    for f in findings:
        if f.name in by_name:
            raise ValueError(f"finding {f.name!r} given twice")
        by_name[f.name] = f
    return tuple(by_name.get(name) or not_assessed(name) for name in OBSERVATIONS)


@dataclass(frozen=True)
class Draft:
    """An AI draft report for one radiograph.

    Attributes
    ----------
    source : str
        Where the image came from (a path, or ``"<bytes>"``).
    findings : tuple of Finding
        All 14 observations, in vocabulary order (not assessed ones included).
    findings_text, impression_text : str
        The FINDINGS and IMPRESSION sections.
    model_id, model_version : str
        Which model wrote it (e.g. ``"expert-resnet-res128-cxr3"``, ``"0.1.0"``).
    timings : dict of str to float
        Seconds spent per stage (``"load"``, ``"model"``, ``"compose"``...).
    """

    source: str
    findings: tuple[Finding, ...]
    findings_text: str
    impression_text: str
    model_id: str
    model_version: str
    timings: dict[str, float] = field(default_factory=dict)

    status: str = field(default="draft", init=False)
    banner: str = field(default=DRAFT_BANNER, init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "findings", complete_findings(self.findings))

    def finding(self, name: str) -> Finding:
        """The finding called ``name`` (one of the 14 observations)."""
        check_observation(name)
        return next(f for f in self.findings if f.name == name)

    @property
    def text(self) -> str:
        """The report text: FINDINGS and IMPRESSION sections under their headings."""
        return f"FINDINGS: {self.findings_text}\n\nIMPRESSION: {self.impression_text}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (statuses as strings)."""
        d = asdict(self)
        d["findings"] = [
            {"name": f.name, "status": str(f.status), "probability": f.probability}
            for f in self.findings
        ]
        return d
