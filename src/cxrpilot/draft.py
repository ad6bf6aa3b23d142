"""The output of every drafting model: :class:`Finding` and :class:`Draft`.

A :class:`Draft` is always a draft: it is labelled as one wherever it is shown, and only a
report signed by a radiologist (in the workstation) is final.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from cxrpilot.errors import InvalidInputError
from cxrpilot.vocabulary import CRITICAL_FINDINGS, OBSERVATIONS, Status, check_observation

__all__ = [
    "DRAFT_BANNER",
    "Finding",
    "FindingMap",
    "Draft",
    "not_assessed",
    "complete_findings",
    "apply_no_finding_rule",
    "report_text",
]

#: Shown above every AI draft, in every interface.
DRAFT_BANNER = "DRAFT \u2014 requires review by a radiologist"


def report_text(findings_text: str, impression_text: str) -> str:
    """A report's text as cxrpilot writes it everywhere (drafts, the workstation's reports,
    their edit distances): FINDINGS and IMPRESSION under their headings.

    Examples
    --------
    >>> report_text("Lungs are clear.", "Normal chest.")
    'FINDINGS: Lungs are clear.\\n\\nIMPRESSION: Normal chest.'
    """
    return f"FINDINGS: {findings_text}\n\nIMPRESSION: {impression_text}"


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
                raise InvalidInputError(f"probability of {self.name!r} must be in [0, 1], got {p!r}")
            object.__setattr__(self, "probability", p)
        if self.status is Status.NOT_ASSESSED and self.probability is not None:
            raise InvalidInputError(f"{self.name!r} is not assessed but has a probability")

    @property
    def assessed(self) -> bool:
        return self.status is not Status.NOT_ASSESSED


def not_assessed(name: str) -> Finding:
    """The finding a model states nothing about."""
    return Finding(name, Status.NOT_ASSESSED)


def complete_findings(findings: list[Finding] | tuple[Finding, ...]) -> tuple[Finding, ...]:
    """All 14 observations in vocabulary order; those missing from ``findings`` are
    marked not assessed. Raises :class:`~cxrpilot.errors.InvalidInputError` on a duplicate
    name."""
    by_name: dict[str, Finding] = {}
    for f in findings:
        if f.name in by_name:
            raise InvalidInputError(f"finding {f.name!r} given twice")
        by_name[f.name] = f
    return tuple(by_name.get(name) or not_assessed(name) for name in OBSERVATIONS)


def apply_no_finding_rule(findings: list[Finding] | tuple[Finding, ...]) -> tuple[Finding, ...]:
    """All 14 findings with **No Finding** set by the rule of DESIGN.md.

    No Finding is *present* only when every critical finding
    (:data:`~cxrpilot.vocabulary.CRITICAL_FINDINGS`) is assessed and absent and nothing else
    is present or uncertain; *absent* when any finding is present; otherwise it is *not
    assessed* — a model that does not assess every critical finding cannot say an image is
    normal. A probability the model gave for No Finding is kept where the status is assessed.

    >>> fs = apply_no_finding_rule([Finding("Cardiomegaly", "absent", 0.1),
    ...                             Finding("No Finding", "present", 0.9)])
    >>> fs[0].status.label
    'not assessed'
    """
    complete = complete_findings(list(findings))
    others = [f for f in complete if f.name != "No Finding"]
    given = complete[0]
    if any(f.status is Status.PRESENT for f in others):
        status = Status.ABSENT
    elif all(f.status is Status.ABSENT for f in others if f.name in CRITICAL_FINDINGS) and not any(
            f.status is Status.UNCERTAIN for f in others):
        status = Status.PRESENT
    else:
        status = Status.NOT_ASSESSED
    probability = given.probability if status is not Status.NOT_ASSESSED else None
    return (Finding("No Finding", status, probability), *others)


@dataclass(frozen=True, slots=True)
class FindingMap:
    """Where a model saw the evidence for one finding.

    Attributes
    ----------
    name : str
        The finding (one of the 14 observations).
    grid : tuple of tuple of float
        Rows top to bottom over the whole image (the grid has the image's aspect ratio),
        values in [0, 1]: 1 where the evidence is strongest. A relative map (class
        activation, min-max scaled per finding), not a probability or a segmentation.
    """

    name: str
    grid: tuple[tuple[float, ...], ...]

    def __post_init__(self) -> None:
        check_observation(self.name)
        rows = tuple(tuple(round(float(v), 3) for v in row) for row in self.grid)
        if not rows or not rows[0] or len({len(r) for r in rows}) != 1:
            raise InvalidInputError(f"map of {self.name!r} must be a non-empty rectangular grid")
        if any(not 0.0 <= v <= 1.0 for r in rows for v in r):
            raise InvalidInputError(f"map of {self.name!r} must have values in [0, 1]")
        object.__setattr__(self, "grid", rows)


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
        Which model wrote it (e.g. ``"expert-resnet10-res224-cxr4"``, ``"0.1.0"``).
    timings : dict of str to float
        Seconds spent per stage (``"load"``, ``"model"``, ``"compose"``...).
    maps : tuple of FindingMap
        Where the model looked, for each present or uncertain finding it can map (empty
        for models without maps).
    """

    source: str
    findings: tuple[Finding, ...]
    findings_text: str
    impression_text: str
    model_id: str
    model_version: str
    timings: dict[str, float] = field(default_factory=dict)
    maps: tuple[FindingMap, ...] = ()

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
        """The report text: FINDINGS and IMPRESSION sections under their headings
        (:func:`report_text`)."""
        return report_text(self.findings_text, self.impression_text)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (statuses as strings)."""
        d = asdict(self)
        d["findings"] = [
            {"name": f.name, "status": str(f.status), "probability": f.probability}
            for f in self.findings
        ]
        d["maps"] = [{"name": m.name, "grid": [list(r) for r in m.grid]} for m in self.maps]
        return d

    def map_of(self, name: str) -> FindingMap | None:
        """The map of finding ``name``, or None when the draft has none for it."""
        return next((m for m in self.maps if m.name == name), None)
