"""``benchmarks/bench_janus_speed.py`` end to end at ``--scale small`` (a few tokens)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .janus_tiny import torch  # noqa: F401  (skips without torch/transformers)

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_janus_speed.py"


@pytest.mark.slow
def test_benchmark_small_scale_runs_and_writes_the_table(shared_data, tmp_path):
    out = tmp_path / "janus_speed_small.md"
    cmd = [sys.executable, str(SCRIPT), "--scale", "small", "--configs", "fp32,int4-ort", "--tokens", "3",
           "--batches", "1,2", "--repeats", "1", "--device", "cpu", "--data", str(shared_data), "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = out.read_text()
    assert "reduced model (--scale small)" in text and "failed" not in text
    rows: dict[str, str] = {}
    for line in text.splitlines():  # first table: one row per configuration
        if line.startswith("| "):
            rows.setdefault(line.split("|")[1].strip(), line)
    assert {"fp32", "int4-ort"} <= set(rows)
    assert "(reference)" in rows["fp32"]
    assert "/3 (first" in rows["int4-ort"]  # greedy agreement with fp32 over the 3 tokens
    assert "batch 2: s / reports/s / tokens/s" in text
    # a realistic prompt: 576 image tokens + the chat-formatted question
    assert "576 image)" in text
