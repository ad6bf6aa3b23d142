"""A deterministic report written from findings, for when no language model is present.

The text is report language only (what a radiologist would sign): present findings stated,
uncertain ones hedged, absence only for findings assessed absent, nothing about findings not
assessed, in the usual report order, critical positives first in a numbered IMPRESSION. The
sentences come from a phrase bank of real report sentences (IU Open-i, dev half; see
``scripts/build_phrase_bank.py``), with templates where the bank has none. Machine facts
(statuses, probabilities, what was not assessed) stay in the draft's structured part.

:func:`clean_report_text` applies the same rule to text written by a language model, and
:func:`clean_section` to any drafter's section text (the workstation stores every draft so).

Example
-------
>>> from cxrpilot.draft import Finding
>>> findings = [Finding("Pneumonia", "present", 0.93), Finding("Lung Opacity", "present", 0.95),
...             Finding("No Finding", "absent", 0.04)]
>>> findings_text, impression = compose(findings)
>>> print(impression)
Airspace opacity, consistent with pneumonia.
"""

from cxrpilot.models.composer._clean import MODEL_WORDING, clean_report_text, clean_section
from cxrpilot.models.composer._compose import METHODS, compose, likelihood_phrase
from cxrpilot.models.composer._phrases import indication_findings

__all__ = ["compose", "likelihood_phrase", "clean_report_text", "clean_section", "indication_findings",
           "METHODS", "MODEL_WORDING"]
