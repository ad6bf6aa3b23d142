"""How far a signed report is from its draft: Levenshtein distance in characters or in
words, with word tokenisation defined once.

This is the one owner of the definition: the workstation stores these values when a read
is signed (``reads.edit_distance_chars`` / ``reads.edit_distance_words``) and
``cxrpilot eval study`` recomputes them from the exported texts, with the same functions,
so the stored and the analysed figures agree.

Pure Python (no numpy), so that importing it costs nothing beyond this package.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence

from cxrpilot.errors import InvalidInputError

# A decimal number ("1.5", "2,000") or a word with internal hyphens or apostrophes
# ("T-spine", "patient's"); everything else (spaces, punctuation) separates tokens.
_TOKEN = re.compile(r"\d+(?:[.,]\d+)+|\w+(?:['\u2019-]\w+)*")


def word_tokens(text: str) -> list[str]:
    """The words of a report text, as :func:`word_edit_distance` counts them.

    Case-folded; punctuation and whitespace only separate words; a decimal number
    (``1.5``) and a hyphenated or apostrophised word (``T-spine``) are one word each. This
    is the usual normalisation of word error rate (lower case, no punctuation), so that
    a reader who only fixes capitals or a final full stop has changed no word.

    Parameters
    ----------
    text : str

    Returns
    -------
    list of str

    Raises
    ------
    InvalidInputError
        If ``text`` is not a string.

    Examples
    --------
    >>> word_tokens("FINDINGS: No acute disease. Nodule 1.5 cm, T-spine normal.")
    ['findings', 'no', 'acute', 'disease', 'nodule', '1.5', 'cm', 't-spine', 'normal']
    """
    if not isinstance(text, str):
        raise InvalidInputError(f"text must be a str, got {type(text).__name__}: {text!r:.80}")
    return _TOKEN.findall(text.casefold())


def _levenshtein(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """Levenshtein distance by the bit-parallel algorithm of Myers (1999) / Hyyrö (2003)."""
    if len(a) < len(b):
        a, b = b, a
    m = len(b)
    if m == 0:
        return len(a)
    peq: dict[Hashable, int] = {}
    for i, symbol in enumerate(b):
        peq[symbol] = peq.get(symbol, 0) | (1 << i)
    mask = (1 << m) - 1
    last = 1 << (m - 1)
    pv, mv, score = mask, 0, m
    for symbol in a:
        eq = peq.get(symbol, 0)
        xv = eq | mv
        xh = ((((eq & pv) + pv) & mask) ^ pv) | eq
        ph = (mv | ~(xh | pv)) & mask
        mh = pv & xh
        if ph & last:
            score += 1
        elif mh & last:
            score -= 1
        ph = ((ph << 1) | 1) & mask
        mh = (mh << 1) & mask
        pv = (mh | ~(xv | ph)) & mask
        mv = ph & xv
    return score


def _check_texts(a: object, b: object) -> None:
    for name, value in (("a", a), ("b", b)):
        if not isinstance(value, str):
            raise InvalidInputError(f"{name} must be a str, got {type(value).__name__}: {value!r:.80}")


def word_edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two texts counted in words: the fewest insertions,
    deletions and substitutions of words (as :func:`word_tokens` splits them) that turn
    ``a`` into ``b``.

    Changing case or punctuation only is no word edit (:func:`char_edit_distance` counts
    it). Databases of the workstation written before this definition was shared stored
    ``reads.edit_distance_words`` with case kept and each punctuation mark counted as a
    word ("No acute disease." -> "no acute disease" was 2, now 0); those stored values are
    not comparable with new ones. ``cxrpilot eval study`` always recomputes the distance
    from the exported draft and signed texts, so its figures are unaffected.

    Parameters
    ----------
    a, b : str

    Returns
    -------
    int

    Raises
    ------
    InvalidInputError
        If ``a`` or ``b`` is not a string.

    References
    ----------
    .. [1] Levenshtein VI. Binary codes capable of correcting deletions, insertions and
       reversals. Sov Phys Dokl 1966;10:707-10.
    .. [2] Myers G. A fast bit-vector algorithm for approximate string matching based on
       dynamic programming. J ACM 1999;46:395-415.

    Examples
    --------
    >>> word_edit_distance("No acute disease.", "No acute cardiopulmonary disease.")
    1
    >>> word_edit_distance("No acute disease.", "no acute disease")
    0
    """
    _check_texts(a, b)
    return _levenshtein(word_tokens(a), word_tokens(b))


def char_edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two texts in characters (case and punctuation count).

    Parameters
    ----------
    a, b : str

    Returns
    -------
    int

    Raises
    ------
    InvalidInputError
        If ``a`` or ``b`` is not a string.

    Examples
    --------
    >>> char_edit_distance("kitten", "sitting")
    3
    """
    _check_texts(a, b)
    return _levenshtein(a, b)
