"""``benchmarks/bench_janus_quantization.py`` end to end with a few training steps."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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
    rows = {line.split("|")[1].strip(): line for line in out.read_text().splitlines() if line.startswith("| ")}
    assert {"fp32", "int8", "int4"} <= set(rows)
    assert "| +0.00 % | 0.0e+00 | 100.00 % | 100.0 % |" in rows["fp32"]  # the reference against itself
