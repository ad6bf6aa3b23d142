"""Generated report text -> sections and findings (through :mod:`cxrpilot.reports`).

Decision on observations the text does not mention: they are **not assessed**. Janus writes
free text; when it says nothing about, say, a fracture, the text states nothing about it, and
the vocabulary rule is that a model's silence is never shown as a "no". The labeler's
``None`` (not mentioned) therefore maps to :attr:`~cxrpilot.vocabulary.Status.NOT_ASSESSED`,
its 1/0/-1 to present/absent/uncertain.
"""

from __future__ import annotations

from cxrpilot.draft import Finding, complete_findings
from cxrpilot.reports import label_report, split_sections
from cxrpilot.vocabulary import LABEL_STATUS

__all__ = ["read_report"]


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
    sections = split_sections(text)
    findings_text = " ".join((sections.findings or "").split())
    impression_text = " ".join((sections.impression or "").split())
    if not findings_text and not impression_text:
        findings_text = " ".join(text.split())
    labels = label_report(" ".join(p for p in (findings_text, impression_text) if p))
    findings = [
        Finding(name, LABEL_STATUS[value])
        for name, value in labels.items()
        if value is not None
    ]
    return findings_text, impression_text, complete_findings(findings)
