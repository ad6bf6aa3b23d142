"""Report text: section split, normalisation of de-identification tokens, sentence split.

Radiology reports come as one block of text with headings (``FINDINGS:``, ``Impression``,
``HISTORY:`` ...) in any case, with or without colons, on their own line or inline. MIMIC-CXR
reports start with ``FINAL REPORT`` and use ``EXAMINATION:``, ``INDICATION:``, ``TECHNIQUE:``,
``COMPARISON:``, ``FINDINGS:``, ``IMPRESSION:``; IU Open-i reports carry the same sections as
XML elements (see :func:`cxrpilot.reports.read_iu_xml`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: The one token that every de-identification mark becomes (IU's ``XXXX``, MIMIC's ``___``).
PLACEHOLDER = "___"


def check_text(text: object) -> None:
    """Refuse report text that is not a str (the one wording of this error in the package)."""
    if not isinstance(text, str):
        raise TypeError(f"report text must be a str, got {type(text).__name__}")


# heading words -> section field; longest spellings first so that the alternation prefers them
_HEADINGS: dict[str, str] = {
    "clinical indication": "indication",
    "clinical history": "indication",
    "clinical information": "indication",
    "clinical data": "indication",
    "clinical notes": "indication",
    "reason for examination": "indication",
    "reason for exam": "indication",
    "reason for study": "indication",
    "indications": "indication",
    "indication": "indication",
    "history": "indication",
    "comparisons": "comparison",
    "comparison": "comparison",
    "technique": "technique",
    "examination": "technique",
    "exam": "technique",
    "procedure": "technique",
    "findings and impression": "findings",
    "findings/impression": "findings",
    "findings": "findings",
    "finding": "findings",
    "impressions": "impression",
    "impression": "impression",
    "conclusions": "impression",
    "conclusion": "impression",
    "summary": "impression",
    "interpretation": "impression",
}
# headings that are titles or notes: their text goes to ``other``
_OTHER_HEADINGS = (
    "final report",
    "addendum",
    "notification",
    "recommendations",
    "recommendation",
    "wet read",
    "preliminary report",
)



def _alternation(words: list[str] | tuple[str, ...], *, upper: bool = False) -> str:
    words = sorted(words, key=len, reverse=True)
    return "|".join(re.escape(w.upper() if upper else w).replace(r"\ ", r"[ \t]+") for w in words)


_HEAD_ALT = _alternation([*_HEADINGS, *_OTHER_HEADINGS])
_HEAD_ALT_UPPER = _alternation([*_HEADINGS, *_OTHER_HEADINGS], upper=True)

# 1. a known heading followed by a colon: at a line start or after a sentence end, any case
_COLON_HEADING = re.compile(
    rf"(?:^|(?<=\n)|(?<=[.;!?]))[ \t]*(?P<head>{_HEAD_ALT})[ \t]*:",
    re.IGNORECASE,
)
# 2. a known heading alone on its line (any case), optionally underlined or followed by "-"
_LINE_HEADING = re.compile(
    rf"^[ \t]*(?P<head>{_HEAD_ALT})[ \t]*[-:]?[ \t]*$", re.IGNORECASE | re.MULTILINE
)
# 3. an UPPER-CASE known heading at a line start followed by text on the same line
_UPPER_HEADING = re.compile(
    rf"^[ \t]*(?P<head>{_HEAD_ALT_UPPER})[ \t]+(?=\S)",
    re.MULTILINE,
)
# any other upper-case heading with a colon at a line start (``NOTIFICATION:``, ``REFERENCE EXAM:``)
_GENERIC_HEADING = re.compile(r"^[ \t]*(?P<head>[A-Z][A-Z /&()-]{2,40}?)[ \t]*:", re.MULTILINE)

_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class Sections:
    """The sections of one report; a missing section is ``''``.

    Attributes
    ----------
    indication, comparison, technique, findings, impression : str
        Whitespace-normalised text of each section (INDICATION and HISTORY both go to
        ``indication``; TECHNIQUE and EXAMINATION to ``technique``; IMPRESSION and
        CONCLUSION to ``impression``). Repeated headings are joined with a space.
    other : tuple of (str, str)
        ``(heading, text)`` for everything else: text before the first heading (heading
        ``''``), title lines such as ``FINAL REPORT`` and unknown headings.
    """

    indication: str = ""
    comparison: str = ""
    technique: str = ""
    findings: str = ""
    impression: str = ""
    other: tuple[tuple[str, str], ...] = field(default=())

    @property
    def has_headings(self) -> bool:
        """True when any of the five known sections was found."""
        return any((self.indication, self.comparison, self.technique, self.findings, self.impression))

    def labeling_text(self) -> str:
        """The text a labeler reads: FINDINGS then IMPRESSION; when a report has none of
        the known headings, all of its text."""
        if self.findings or self.impression:
            return f"{self.findings} {self.impression}".strip()
        if self.has_headings:
            return ""
        return " ".join(text for _, text in self.other if text).strip()


def _clean(text: str) -> str:
    return _WS.sub(" ", text).strip()


def split_sections(text: str) -> Sections:
    """Split report text into its sections.

    Parameters
    ----------
    text : str
        A whole report. Headings are recognised in any case with a colon (at a line start
        or after a sentence end: ``"... FINDINGS: ..."``), alone on their line with or
        without a colon, or in upper case at a line start followed by text
        (``"IMPRESSION No acute disease."``).

    Returns
    -------
    Sections
        Missing sections are ``''``; text without any heading goes to ``other`` under
        heading ``''``.

    Raises
    ------
    TypeError
        If ``text`` is not a string.

    Examples
    --------
    >>> s = split_sections("FINDINGS: Lungs are clear.\\nIMPRESSION: 1. Normal. 2. No effusion.")
    >>> s.findings, s.impression
    ('Lungs are clear.', '1. Normal. 2. No effusion.')
    """
    check_text(text)
    marks: list[tuple[int, int, str]] = []  # (start, end of heading, heading as written)
    taken: list[tuple[int, int]] = []

    def overlaps(a: int, b: int) -> bool:
        return any(a < e and s < b for s, e in taken)

    for pattern in (_COLON_HEADING, _LINE_HEADING, _UPPER_HEADING, _GENERIC_HEADING):
        for m in pattern.finditer(text):
            start = m.start("head")
            if overlaps(start, m.end()):
                continue
            marks.append((start, m.end(), m.group("head")))
            taken.append((start, m.end()))
    marks.sort()

    parts: dict[str, list[str]] = {name: [] for name in ("indication", "comparison", "technique", "findings", "impression")}
    other: list[tuple[str, str]] = []
    first = marks[0][0] if marks else len(text)
    lead = _clean(text[:first])
    if lead:
        other.append(("", lead))
    for i, (start, end, head) in enumerate(marks):
        stop = marks[i + 1][0] if i + 1 < len(marks) else len(text)
        body = _clean(text[end:stop])
        key = _HEADINGS.get(_clean(head).lower())
        if key is None:
            other.append((_clean(head).upper(), body))
        elif body:
            parts[key].append(body)
    return Sections(**{k: " ".join(v) for k, v in parts.items()}, other=tuple(other))


# IU's de-identification marks: XXXX (also inside words: "x-XXXX"); MIMIC's ___
_DEID = re.compile(r"(?<![A-Za-z0-9])(?:X{2,}|x{3,})(?![A-Za-z0-9])|(?<!_)_{2,}(?!_)")
_DEID_RUN = re.compile(rf"{re.escape(PLACEHOLDER)}(?:[\s-]+{re.escape(PLACEHOLDER)})+")


def normalise(text: str) -> str:
    """Replace de-identification marks by :data:`PLACEHOLDER` and normalise whitespace.

    IU Open-i's ``XXXX`` (any run of two or more capital X, or three or more lower-case x,
    standing alone or hyphenated as in ``x-XXXX``) and MIMIC-CXR's ``___`` each become
    one ``"___"``; a run of such marks (``"XXXX XXXX"``) becomes a single one. Runs of
    whitespace become one space.

    >>> normalise("Normal chest x-XXXX.  The XXXX XXXX are intact.")
    'Normal chest x-___. The ___ are intact.'
    """
    check_text(text)
    out = _DEID.sub(PLACEHOLDER, text)
    out = _DEID_RUN.sub(PLACEHOLDER, out)
    return _clean(out)


_ABBREVIATIONS = frozenset(
    ["dr", "mr", "mrs", "ms", "st", "vs", "e.g", "i.e", "eg", "ie", "approx", "etc", "fig", "figs", "no", "nos", "cf", "al", "ca", "incl", "resp", "pt", "pts", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"]
)
# a sentence end: . ! ? (possibly repeated) followed by whitespace or the end of the text
_BOUNDARY = re.compile(r"[.!?]+(?=\s|$)|\n\s*\n")
# a list marker at the start of a sentence: "1." "2)" "(3)" "a."
_LIST_MARKER = re.compile(r"^\s*(?:\(?\d{1,2}[.)]|[a-h][.)])\s+")
_TOKEN_BEFORE = re.compile(r"(\S+)$")


def split_sentences(text: str) -> list[str]:
    """Split text into sentences.

    A sentence ends at ``.``, ``!`` or ``?`` followed by a space or the end (in any case,
    so lower-cased text splits too) and at a blank line. A period after an abbreviation
    (``Dr.``, ``e.g.``, ``vs.``, ``approx.``) or inside a number (``1.5 cm``) does not end
    a sentence; the markers of numbered lists (``1.``, ``2)``) are removed and start a
    new sentence. Empty sentences are dropped; whitespace is normalised.

    >>> split_sentences("1. No acute disease. 2. A 1.5 cm nodule, seen by Dr. Smith.")
    ['No acute disease.', 'A 1.5 cm nodule, seen by Dr. Smith.']
    """
    check_text(text)
    sentences: list[str] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        end = m.end()
        piece = text[start:end]
        before = _TOKEN_BEFORE.search(text[start:m.start()])
        token = before.group(1).lower() if before else ""
        bare = token.lstrip("(").rstrip(".")
        if m.group().startswith((".",)) and bare in _ABBREVIATIONS:
            continue  # "Dr." "vs." "e.g."
        if bare.isdigit() and len(bare) <= 2 and text[start:m.start()].strip() == token:
            continue  # "1." on its own: a list marker that belongs to what follows
        sentences.append(piece)
        start = end
    sentences.append(text[start:])
    out = []
    for s in sentences:
        s = _LIST_MARKER.sub("", _clean(s))
        s = _LIST_MARKER.sub("", s)  # "1. 2. text" (an empty item) -> text
        if s.strip(" .;:!?()0123456789"):  # not empty, not a bare list number
            out.append(s)
    return out
