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
    # the CPU named, the bounds measured in the run and every configuration's distance from them
    assert "; CPU " in text and "Measured bounds (this run" in text and "Measured again after the workers" in text
    ratios = text.split("Distance from this machine's bounds", 1)[1]
    assert all(f"| {name} |" in ratios for name in ("fp32", "int4-ort"))


def test_bounds_arithmetic_of_the_full_size_architecture():
    # FLOPs and bytes the ratio columns divide by, from Janus-Pro-1B's published sizes
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import bench_janus_speed as bench
    finally:
        sys.path.remove(str(SCRIPT.parent))
    from types import SimpleNamespace

    text = SimpleNamespace(hidden_size=2048, intermediate_size=5632, num_hidden_layers=24, num_attention_heads=16,
                           num_key_value_heads=16, vocab_size=102400, head_dim=None)
    vision = SimpleNamespace(image_size=384, patch_size=16, hidden_size=1024, num_hidden_layers=24)
    per_layer = 4 * 2048 * 2048 + 3 * 2048 * 5632
    lm = bench.linear_numel(text)
    assert lm == 24 * per_layer + 102400 * 2048  # 1.44 B, as the benchmark's model reports
    prefill, vis = bench.step_flops(text, vision, lm, 300_000_000, 646)
    assert prefill == 2 * 24 * per_layer * 646 + 2 * 102400 * 2048 + 2 * 646**2 * 2048 * 24
    assert vis == 2 * 300_000_000 * 576 + 4 * 576**2 * 1024 * 24
    assert bench.kv_bytes_per_position(text, 4) == 2 * 24 * 16 * 128 * 4
    args = SimpleNamespace(tokens=150)
    r = {"prompt_tokens": 646, "weight_bytes_per_token": 900_000_000, "kv_bytes_per_position": 2 * 24 * 2048 * 4,
         "vision_flops": vis, "prefill_flops": prefill, "vision_s": 2.0, "prefill_s": 6.0, "decode_tok_s": 20.0}
    bounds = {"matmul_bfloat16_flops": 350e9, "matmul_float32_flops": 130e9, "read_bytes_s": 30e9}
    b = bench.bound_rows(args, r, bounds)
    assert b["step_bytes"] == 900_000_000 + 2 * 24 * 2048 * 4 * (646 + 75)
    assert b["decode_x"] == pytest.approx(50.0 / (1e3 * b["step_bytes"] / 30e9))
    assert b["prefill_x"] == pytest.approx(6.0 / (prefill / 350e9))
    # no native bf16: the fp32 peak is the bound
    nan = float("nan")
    assert bench.bound_rows(args, r, {**bounds, "matmul_bfloat16_flops": nan})["prefill_bound_s"] == \
        pytest.approx(prefill / 130e9)
