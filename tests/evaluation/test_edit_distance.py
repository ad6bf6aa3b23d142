"""The one edit-distance definition shared by the workstation (stored at sign time) and
``cxrpilot eval study`` (recomputed from the export)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from cxrpilot.errors import InvalidInputError
from cxrpilot.evaluation import char_edit_distance, draft_edits, word_edit_distance, word_tokens
from cxrpilot.workstation import edit_distance


def textbook(a, b) -> int:
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("No acute disease.", ["no", "acute", "disease"]),
        ("no acute disease", ["no", "acute", "disease"]),
        ("FINDINGS: Nodule 1.5 cm.\n\nIMPRESSION: T-spine normal.",
         ["findings", "nodule", "1.5", "cm", "impression", "t-spine", "normal"]),
        ("Patient's heart, lungs; clear.", ["patient's", "heart", "lungs", "clear"]),
        ("No acute bone abnormality..", ["no", "acute", "bone", "abnormality"]),
        ("Épanchement pleural", ["épanchement", "pleural"]),
    ],
)
def test_word_tokens(text, expected):
    assert word_tokens(text) == expected


@pytest.mark.parametrize(
    ("a", "b", "words", "chars"),
    [
        ("No acute disease.", "no acute disease", 0, 2),  # case and full stop only
        ("No acute disease.", "No acute cardiopulmonary disease.", 1, 16),
        ("Heart enlarged.", "Heart is normal.", 2, 8),
        ("There is no pneumothorax.", "There is a small pneumothorax.", 2, 7),
        ("", "one two three", 3, 13),
    ],
)
def test_word_and_char_distance(a, b, words, chars):
    for x, y in ((a, b), (b, a)):
        assert word_edit_distance(x, y) == words == edit_distance(x, y, unit="word")
        assert char_edit_distance(x, y) == chars == edit_distance(x, y)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: word_edit_distance(None, "x"), r"a must be a str, got NoneType"),
        (lambda: char_edit_distance("x", b"y"), r"b must be a str, got bytes"),
        (lambda: word_tokens(3), r"text must be a str, got int"),
        (lambda: edit_distance("a", "b", unit="line"), r"unit must be 'char' or 'word', got 'line'"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(InvalidInputError, match=match):
        call()


def test_equals_textbook_dp_on_random_texts():
    rng = np.random.default_rng(3)
    vocab = ["no", "No", "acute", "disease", ".", ",", "1.5", "cm", "heart"]
    for _ in range(200):
        a = " ".join(rng.choice(vocab, rng.integers(0, 15)))
        b = " ".join(rng.choice(vocab, rng.integers(0, 15)))
        assert word_edit_distance(a, b) == textbook(word_tokens(a), word_tokens(b))
        assert char_edit_distance(a, b) == textbook(a, b)


def _iu_report(root, number: int) -> str:
    tree = ET.parse(root / "iu-xray" / "reports" / f"{number}.xml")
    parts = {e.get("Label"): (e.text or "").strip() for e in tree.iter("AbstractText")}
    return f"FINDINGS: {parts['FINDINGS']}\n\nIMPRESSION: {parts['IMPRESSION']}"


def test_stored_equals_analysed_on_real_iu_edits(shared_data):
    """What the workstation stores at sign time is what the analysis of the export finds."""
    drafts, finals = [], []
    for n in (1, 10, 100):
        draft = _iu_report(shared_data, n)
        edits = [
            draft,                                                    # signed unchanged
            draft.lower().replace(".", ""),                           # case and stops only
            draft.replace("There is no pulmonary edema. ", ""),
            draft.replace("No acute", "No acute cardiopulmonary"),
            draft.replace("within normal limits", "mildly enlarged"),
            _iu_report(shared_data, 100 if n != 100 else 1),          # rewritten
        ]
        for final in edits:
            drafts.append(draft)
            finals.append(final)
    stored = [edit_distance(d, f, unit="word") for d, f in zip(drafts, finals, strict=True)]
    analysed = [word_edit_distance(d, f) for d, f in zip(drafts, finals, strict=True)]
    assert stored == analysed
    assert stored[:2] == [0, 0]  # report 1 unchanged; only case and full stops changed
    assert stored[2] == 5  # the five words of "There is no pulmonary edema." deleted
    summary = draft_edits(drafts, finals, labeler=lambda texts: [{} for _ in texts])
    assert summary["edit_distance"]["mean"] == pytest.approx(np.mean(stored))
    assert summary["unchanged"] == pytest.approx(np.mean(np.array(stored) == 0))
