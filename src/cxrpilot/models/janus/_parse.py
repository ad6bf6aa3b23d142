"""Generated report text -> sections and findings (through :mod:`cxrpilot.reports`).

Decision on observations the text does not mention: they are **not assessed**. Janus writes
free text; when it says nothing about, say, a fracture, the text states nothing about it, and
the vocabulary rule is that a model's silence is never shown as a "no". The labeler's
``None`` (not mentioned) therefore maps to :attr:`~cxrpilot.vocabulary.Status.NOT_ASSESSED`,
its 1/0/-1 to present/absent/uncertain.
"""

from __future__ import annotations

import re

from cxrpilot.draft import Finding, complete_findings
from cxrpilot.vocabulary import LABEL_STATUS

__all__ = ["read_report"]

_HEADING = re.compile(r"\b(FINDINGS|IMPRESSION)\s*:", re.IGNORECASE)


def _split_fallback(text: str) -> tuple[str, str]:
    """FINDINGS/IMPRESSION split used only while :mod:`cxrpilot.reports` is unavailable."""
    parts: dict[str, str] = {}
    matches = list(_HEADING.finditer(text))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        parts.setdefault(m.group(1).lower(), " ".join(text[m.end():end].split()))
    return parts.get("findings", ""), parts.get("impression", "")


def read_report(text: str) -> tuple[str, str, tuple[Finding, ...]]:
    """Split generated text into FINDINGS / IMPRESSION and label the 14 observations.

    Returns
    -------
    findings_text, impression_text : str
        The two sections. Text without either heading is returned whole as findings.
    findings : tuple of Finding
        All 14 observations; status from the report labeler, not mentioned -> not assessed,
        no probabilities (text gives none).
    """
    try:
        from cxrpilot import reports
    except ImportError:  # pragma: no cover - the reports layer ships with cxrpilot
        reports = None  # type: ignore[assignment]

    split = getattr(reports, "split_sections", None)
    if split is not None:
        sections = split(text)
        findings_text = " ".join((getattr(sections, "findings", None) or "").split())
        impression_text = " ".join((getattr(sections, "impression", None) or "").split())
    else:  # pragma: no cover - only while the reports layer is being built
        findings_text, impression_text = _split_fallback(text)
    if not findings_text and not impression_text:
        findings_text = " ".join(text.split())

    label = getattr(reports, "label_report", None)
    if label is None:  # pragma: no cover
        return findings_text, impression_text, complete_findings([])
    labels = label(" ".join(p for p in (findings_text, impression_text) if p))
    findings = [
        Finding(name, LABEL_STATUS[value])
        for name, value in labels.items()
        if value is not None
    ]
    return findings_text, impression_text, complete_findings(findings)
