"""User-facing refusals of the library are InvalidInputError (a CxrpilotError the CLI prints
as one line and the web app turns into a 4xx), naming the input and what was expected; it is
also a ValueError, so callers that catch ValueError keep working."""

from __future__ import annotations

import numpy as np
import pytest

from cxrpilot import pipeline
from cxrpilot.data import assign_splits
from cxrpilot.draft import Finding, FindingMap, complete_findings
from cxrpilot.errors import CxrpilotError, InvalidInputError
from cxrpilot.imaging import fit_square
from cxrpilot.models.composer import compose
from cxrpilot.models.janus import FinetuneConfig, build_question
from cxrpilot.reports import findings_from_labels
from cxrpilot.vocabulary import check_observation


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: check_observation("Pneumonitis"), r"unknown observation 'Pneumonitis'; expected one of No Finding"),
        (lambda: Finding("Edema", "present", 1.5), r"probability of 'Edema' must be in \[0, 1\], got 1.5"),
        (lambda: Finding("Edema", "not_assessed", 0.2), r"'Edema' is not assessed but has a probability"),
        (lambda: complete_findings([Finding("Edema", "absent")] * 2), r"finding 'Edema' given twice"),
        (lambda: FindingMap("Edema", ((0.0, 2.0),)), r"map of 'Edema' must have values in \[0, 1\]"),
        (lambda: fit_square(np.zeros((4, 4), np.float32), 0), r"fit_square size must be >= 1, got 0"),
        (lambda: compose([], method="poetry"), r"unknown composer method 'poetry'; expected one of"),
        (lambda: build_question(expert_findings=["Pneumonitis"]), r"unknown observation 'Pneumonitis'"),
        (lambda: FinetuneConfig(method="qlora"), r"method must be 'lora' or 'full', got 'qlora'"),
        (lambda: assign_splits([], fractions=(0.5, 0.5)), r"fractions=\(0.5, 0.5\); expected 3 non-negative shares"),
        (lambda: findings_from_labels({"Edema": 2}), r"label of 'Edema' is 2; expected 1, 0, -1 or None"),
        (lambda: pipeline.load_drafter("janus:/x", quantize="int3"), r"quantize"),
        (lambda: pipeline.load_drafter("expert", quantize="int4"), r"quantize='int4' applies to Janus models"),
    ],
)
def test_refusals_are_invalid_input_errors(call, message):
    with pytest.raises(InvalidInputError, match=message) as info:
        call()
    assert isinstance(info.value, CxrpilotError) and isinstance(info.value, ValueError)


def test_read_input_file_names_the_file_and_what_was_expected(tmp_path):
    """One wording for a user's file that cannot be read, whichever reader refuses it."""
    from cxrpilot.errors import InvalidDatasetError, InvalidImageError, read_input_file

    (tmp_path / "a.txt").write_bytes(b"abc")
    assert read_input_file(tmp_path / "a.txt", error=InvalidImageError, expected="x") == b"abc"
    for path, error, message in [
        (tmp_path / "nope.png", InvalidImageError, r"nope\.png: no such file; expected an image"),
        (tmp_path, InvalidDatasetError, r": is a folder; expected an image"),
        (tmp_path / "a.txt" / "b", InvalidDatasetError, r"a\.txt/b: cannot read \(Not a directory\)"),
    ]:
        with pytest.raises(error, match=message):
            read_input_file(path, error=error, expected="an image")
