"""The shared value sets: label -> status, and the quantize choices, each defined once."""

from __future__ import annotations

import re

import pytest

from cxrpilot import pipeline
from cxrpilot.cli import main
from cxrpilot.errors import InvalidInputError, UnknownModelError
from cxrpilot.vocabulary import LABEL_STATUS, QUANTIZATIONS, Status, check_quantize


@pytest.mark.parametrize(
    ("label", "status"),
    [(1, Status.PRESENT), (0, Status.ABSENT), (-1, Status.UNCERTAIN), (None, Status.NOT_ASSESSED)],
)
def test_label_status(label, status):
    assert LABEL_STATUS[label] is status


def test_label_status_is_read_only():
    with pytest.raises(TypeError):
        LABEL_STATUS[2] = Status.PRESENT  # type: ignore[index]


@pytest.mark.parametrize("value", [None, *QUANTIZATIONS])
def test_check_quantize_accepts(value):
    assert check_quantize(value) == value


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: check_quantize("int3"), InvalidInputError, "unknown quantize='int3'; expected None or one of int8, int4"),
        (lambda: check_quantize("INT8"), InvalidInputError, "unknown quantize='INT8'; expected None or one of int8, int4"),
        (lambda: pipeline.load_drafter("expert", quantize="int2"), InvalidInputError,
         "unknown quantize='int2'; expected None or one of int8, int4"),
        (lambda: pipeline.load_drafter("expert", quantize="int8"), InvalidInputError,
         "quantize='int8' applies to Janus models ('janus:PATH'), not 'expert'"),
    ],
)
def test_bad_quantize(call, error, message):
    with pytest.raises(error, match=re.escape(message)) as info:
        call()
    assert not isinstance(info.value, UnknownModelError)
    assert isinstance(info.value, ValueError)  # still caught by code that catches ValueError


@pytest.mark.parametrize("command", ["report", "serve"])
def test_cli_quantize_choices_are_the_shared_ones(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, *(["x.png"] if command == "report" else []), "--quantize", "int3"])
    assert info.value.code == 2
    assert "invalid choice: 'int3' (choose from 'int8', 'int4')" in capsys.readouterr().err.replace("\u2018", "'")
