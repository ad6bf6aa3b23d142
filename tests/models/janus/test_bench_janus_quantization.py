"""``benchmarks/bench_janus_quantization.py`` end to end with a few training steps."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.benchmark_scripts import load_benchmark

from .janus_tiny import torch  # noqa: F401  (skips without torch/transformers)

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_janus_quantization.py"


@pytest.mark.slow
def test_quantization_benchmark_runs_and_writes_the_table(shared_data, tmp_path):
    out = tmp_path / "q.md"
    cmd = [sys.executable, str(SCRIPT), "--steps", "3", "--batch", "4", "--hidden", "128", "--layers", "2",
           "--vocab", "600", "--eval-reports", "4", "--new-tokens", "8", "--data", str(shared_data), "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = out.read_text()
    table, paired = text.split("Each block size against blocks of 32", 1)
    rows = {line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| ")}
    assert {"fp32", "int8-b32", "int8-b128", "int4-b32", "int4-b64", "int4-b128"} <= set(rows)  # the default set
    assert "| +0.00 % | 0.0e+00 | 100.00 % | 100.0 % |" in rows["fp32"]  # the reference against itself
    assert "| int4-b128 | 4 | 128 |" in rows["int4-b128"]
    pairs = {tuple(c.strip() for c in line.split("|")[1:3]) for line in paired.splitlines() if line.startswith("| int")}
    assert pairs == {("int8-b128", "int8-b32"), ("int4-b64", "int4-b32"), ("int4-b128", "int4-b32")}


@pytest.mark.parametrize(
    ("text", "expected"),
    [("int4", {"int4-b32": (4, 32)}), ("int4-b128, int8-b64", {"int4-b128": (4, 128), "int8-b64": (8, 64)})],
)
def test_decoder_names(text, expected):
    assert bench_module().parse_decoders(text) == expected


@pytest.mark.parametrize(("text", "message"), [("int3", "unknown decoder 'int3'"), ("int4-b48", "power of two"),
                                               ("fp16", "unknown decoder 'fp16'")])
def test_bad_decoder_names_are_refused(text, message):
    with pytest.raises((SystemExit, ValueError), match=message):
        bench_module().parse_decoders(text)


def test_paired_difference():
    diff, half, mine, theirs = bench_module().paired_difference([True, True, False, True], [True, False, False, False])
    assert (diff, mine, theirs) == (0.5, 2, 0)
    assert half == pytest.approx(1.96 * 0.5773502691896258 / 2)


def bench_module():
    return load_benchmark("bench_janus_quantization")
