"""A deterministic report written from findings, for when no language model is present.

The composer states present and uncertain findings with graded likelihood wording, states
absence only for findings the model assessed, and names plainly the findings it did not
assess. It never writes a global "normal" sentence ("no acute cardiopulmonary abnormality")
because no model here assesses everything.

Example
-------
>>> from cxrpilot.draft import Finding
>>> findings = [Finding("Pneumonia", "present", 0.93), Finding("Lung Opacity", "present", 0.95),
...             Finding("No Finding", "absent", 0.04)]
>>> findings_text, impression = compose(findings)
>>> print(impression)
1. Lung opacity, consistent with pneumonia.
"""

from __future__ import annotations

from collections.abc import Iterable

from cxrpilot.draft import Finding, complete_findings
from cxrpilot.vocabulary import Status

__all__ = ["compose", "likelihood_phrase"]

# How each observation reads in a sentence (lower case, as a noun phrase).
_NOUN: dict[str, str] = {
    "Enlarged Cardiomediastinum": "enlarged cardiomediastinal silhouette",
    "Cardiomegaly": "cardiomegaly",
    "Lung Opacity": "lung opacity",
    "Lung Lesion": "lung lesion (nodule or mass)",
    "Edema": "pulmonary edema",
    "Consolidation": "consolidation",
    "Pneumonia": "pneumonia",
    "Atelectasis": "atelectasis",
    "Pneumothorax": "pneumothorax",
    "Pleural Effusion": "pleural effusion",
    "Pleural Other": "other pleural abnormality",
    "Fracture": "fracture",
    "Support Devices": "support devices",
}

# Interpretations that explain an imaging sign: stated together in the impression
# ("lung opacity, consistent with pneumonia") instead of as two separate items.
_EXPLAINS: dict[str, str] = {"Pneumonia": "Lung Opacity", "Atelectasis": "Lung Opacity",
                             "Consolidation": "Lung Opacity", "Edema": "Lung Opacity"}


def likelihood_phrase(probability: float | None, status: Status) -> str:
    """Graded wording for a present or uncertain finding.

    The bands follow common radiology hedging practice (consistent with > likely >
    possible > cannot be excluded). With no probability (e.g. a finding read from text),
    the wording follows the status alone.
    """
    status = Status(status)
    if status is Status.UNCERTAIN:
        return "possible" if probability is not None and probability >= 0.5 else "cannot be excluded"
    if status is not Status.PRESENT:
        raise ValueError(f"likelihood wording is for present or uncertain findings, not {status}")
    if probability is None or probability >= 0.9:
        return "consistent with"
    return "likely"


def _sentence(f: Finding) -> str:
    noun = _NOUN[f.name]
    p = "" if f.probability is None else f" (model probability {f.probability:.2f})"
    if f.status is Status.PRESENT:
        if likelihood_phrase(f.probability, f.status) == "consistent with":
            return f"{noun[0].upper()}{noun[1:]} is present{p}."
        return f"{noun[0].upper()}{noun[1:]} is likely{p}."
    # uncertain
    if likelihood_phrase(f.probability, f.status) == "possible":
        return f"Possible {noun}{p}."
    return f"{noun[0].upper()}{noun[1:]} cannot be excluded{p}."


def _join(names: list[str]) -> str:
    if len(names) <= 2:
        return " or ".join(names)
    return ", ".join(names[:-1]) + f", or {names[-1]}"


def compose(findings: Iterable[Finding]) -> tuple[str, str]:
    """Write FINDINGS and IMPRESSION text from a model's findings.

    Parameters
    ----------
    findings : iterable of Finding
        The model's findings; observations missing from it count as not assessed.

    Returns
    -------
    findings_text, impression_text : str

    Notes
    -----
    "No Finding" present means: nothing abnormal among the findings the model assesses. It
    is never turned into a statement about findings the model does not assess.
    """
    all_findings = complete_findings(list(findings))
    by_status: dict[Status, list[Finding]] = {s: [] for s in Status}
    for f in all_findings:
        if f.name != "No Finding":
            by_status[f.status].append(f)
    present, uncertain = by_status[Status.PRESENT], by_status[Status.UNCERTAIN]
    absent, unassessed = by_status[Status.ABSENT], by_status[Status.NOT_ASSESSED]
    no_finding = all_findings[0]

    sentences = [_sentence(f) for f in present + uncertain]
    if absent:
        sentences.append(f"No {_join([_NOUN[f.name] for f in absent])} identified.")
    if no_finding.status is Status.PRESENT and not present:
        p = "" if no_finding.probability is None else f" (model probability {no_finding.probability:.2f})"
        sentences.append(f"No abnormality among the assessed findings{p}.")
    if unassessed:
        names = ", ".join(_NOUN[f.name] for f in unassessed)
        sentences.append(f"Not assessed by this model: {names}.")
    findings_text = " ".join(sentences)

    impression = _impression(present, uncertain, absent)
    return findings_text, impression


def _impression(present: list[Finding], uncertain: list[Finding], absent: list[Finding]) -> str:
    items: list[str] = []
    present_names = {f.name for f in present}
    explained = {_EXPLAINS[f.name] for f in present if _EXPLAINS.get(f.name) in present_names}
    for f in present:
        if f.name in explained:
            continue
        sign = _EXPLAINS.get(f.name)
        if sign in explained:
            items.append(f"{_NOUN[sign].capitalize()}, {likelihood_phrase(f.probability, f.status)} {_NOUN[f.name]}.")
        elif likelihood_phrase(f.probability, f.status) == "consistent with":
            items.append(f"{_NOUN[f.name].capitalize()}.")
        else:
            items.append(f"Likely {_NOUN[f.name]}.")
    for f in uncertain:
        if likelihood_phrase(f.probability, f.status) == "possible":
            items.append(f"Possible {_NOUN[f.name]}; correlate clinically.")
        else:
            items.append(f"{_NOUN[f.name].capitalize()} cannot be excluded; correlate clinically.")
    if not items:
        if absent:
            return (f"No {_join([_NOUN[f.name] for f in absent])} detected. "
                    "Other findings were not assessed by this model.")
        return "No finding could be assessed by this model."
    if len(items) == 1:
        return f"1. {items[0]}"
    return "\n".join(f"{i}. {item}" for i, item in enumerate(items, start=1))
