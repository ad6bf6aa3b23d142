"""Report text as a reader edits it: no model wording, tidy whitespace and headings."""

from __future__ import annotations

import re

#: Wording that belongs to the machine facts of a draft, never to its report text.
MODEL_WORDING: re.Pattern[str] = re.compile(
    r"(?i:\b(?:models?|probabilit(?:y|ies)|not\s+assessed|assessed\s+findings?|unassessed|"
    r"expert\s+(?:analysis|findings?|classifier)|artificial\s+intelligence|algorithms?|classifiers?|"
    r"ai[\s-]+(?:draft|generated|assisted))\b)|\bAI\b"
)

# "(model probability 0.95)", "(p = 0.93)", "(probability: 0.9)"
_MACHINE_PARENS = re.compile(
    r"\s*[(\[][^()\[\]]*?(?:\bmodel\b|\bprobabilit\w*|\bp\s*[=:]\s*0?\.\d|\bconfidence\b|\bscore\b)[^()\[\]]*[)\]]",
    re.IGNORECASE,
)
_HEADING = re.compile(
    r"^\s*(findings|impression|indication|comparison|technique|history|examination)\s*:\s*", re.IGNORECASE
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")
_LIST_MARKER = re.compile(r"^\(?\d{1,2}[.)]$")


def _clean_line(line: str) -> str:
    line = _MACHINE_PARENS.sub("", line)
    heading = ""
    m = _HEADING.match(line)
    if m:
        heading, line = f"{m.group(1).upper()}: ", line[m.end():]
    pieces = _SENTENCE_END.split(" ".join(line.split()))
    sentences: list[str] = []
    marker = ""
    for piece in pieces:
        if _LIST_MARKER.match(piece):
            marker = piece + " "  # "2." belongs to the sentence after it
            continue
        sentence, marker = marker + piece, ""
        if MODEL_WORDING.search(sentence):
            continue
        if any(sentence.lower() == s.lower() for s in sentences):
            continue  # a generation loop repeating itself
        sentences.append(sentence)
    body = " ".join(sentences)
    if heading and not body:
        return heading.rstrip()
    return heading + body


def clean_report_text(text: str) -> str:
    """Strip model wording from report text and tidy it.

    Parenthesised machine facts ("(model probability 0.95)") are removed; a sentence that
    still contains model wording (:data:`MODEL_WORDING`: "model", "probability", "not
    assessed", "assessed findings", "AI" ...) is dropped whole; a sentence repeated within
    a line (a generation loop) is kept once; known headings are upper-cased
    (``FINDINGS:``); whitespace is normalised (one space inside lines, no blank runs).

    Parameters
    ----------
    text : str
        FINDINGS / IMPRESSION text, with or without headings.

    Returns
    -------
    str

    Raises
    ------
    TypeError
        If ``text`` is not a str.

    Examples
    --------
    >>> clean_report_text("Findings:  Lung opacity is present (model probability 0.96).  "
    ...                   "Not assessed by this model: pneumothorax.\\nimpression: Pneumonia.")
    'FINDINGS: Lung opacity is present.\\nIMPRESSION: Pneumonia.'
    """
    if not isinstance(text, str):
        raise TypeError(f"report text must be a str, got {type(text).__name__}")
    lines: list[str] = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = _clean_line(raw) if raw.strip() else ""
        if line or (lines and lines[-1]):
            lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def clean_section(text: str, heading: str) -> str:
    """One section's text (FINDINGS or IMPRESSION) as a draft stores it: cleaned by
    :func:`clean_report_text`, without the section's own heading at its start (the report
    adds the headings, :func:`cxrpilot.draft.report_text`).

    Parameters
    ----------
    text : str
        The section's text, as any drafter wrote it.
    heading : str
        ``"FINDINGS"`` or ``"IMPRESSION"`` (any case).

    Returns
    -------
    str

    Examples
    --------
    >>> clean_section("Findings: Lungs are clear (model probability 0.97).", "FINDINGS")
    'Lungs are clear.'
    """
    cleaned = clean_report_text(text)
    own = f"{heading.strip().upper()}:"
    if cleaned.startswith(own):
        cleaned = cleaned[len(own):].lstrip()
    return cleaned
