"""``benchmarks/bench_janus_speed.py`` end to end at ``--scale small`` (a few tokens)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.benchmark_scripts import load_benchmark

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
    bench = bench_module()
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


def bench_module():
    return load_benchmark("bench_janus_speed")


def test_memory_bandwidth_is_the_best_of_stream_runs_with_the_spread():
    bench = bench_module()
    # 1 GB moved in 10, 20 and 40 ms: best 100 GB/s, median 50, worst 25
    rates = bench.stream_rates(10**9, [0.020, 0.010, 0.040])
    assert rates == pytest.approx({"bytes_s": 1e11, "median_bytes_s": 5e10, "worst_bytes_s": 2.5e10})
    # measured: every kernel timed `repeats` times (the untimed first run dropped), best >= median >= worst
    out = bench.memory_bandwidth("cpu", 1 << 20, repeats=5)
    assert out["stream_repeats"] == 5
    for kernel in ("read", "copy", "triad"):
        best, median, worst = (out[f"{kernel}_{k}"] for k in ("bytes_s", "median_bytes_s", "worst_bytes_s"))
        assert best >= median >= worst > 0


def test_ratios_use_each_bounds_best_measurement_of_the_run():
    bench = bench_module()
    nan = float("nan")
    before = {"native_bf16": 1.0, "matmul_bfloat16_flops": 800e9, "matmul_float32_flops": 220e9,
              "read_bytes_s": 45e9, "read_median_bytes_s": 40e9, "read_worst_bytes_s": 20e9, "stream_repeats": 20.0}
    after = {**before, "matmul_bfloat16_flops": 900e9, "matmul_float32_flops": 200e9, "read_bytes_s": 70e9,
             "read_median_bytes_s": 60e9, "read_worst_bytes_s": 10e9}
    used = bench.run_bounds(before, after)
    assert used["matmul_bfloat16_flops"] == 900e9 and used["matmul_float32_flops"] == 220e9
    assert used["read_bytes_s"] == 70e9
    assert used["read_median_bytes_s"] == 40e9 and used["read_worst_bytes_s"] == 20e9  # the first run's spread
    assert bench.run_bounds(before, None) == before
    no_bf16 = bench.run_bounds({**before, "matmul_bfloat16_flops": nan}, {**after, "matmul_bfloat16_flops": nan})
    assert math.isnan(no_bf16["matmul_bfloat16_flops"])  # no native bf16: stays NaN (the fp32 peak is used)
    assert "read 45.0 (40.0, 20.0)" in bench.stream_text(before, ("read",))


@pytest.mark.parametrize(("bits", "block"), [(4, 32), (4, 64), (4, 128), (8, 32), (8, 128)])
def test_decode_bound_counts_the_graph_bytes_at_its_block_size(tiny_janus_dir, bits, block):
    # the bytes the decode bound divides by are the decoder graph's own packed weights and scales
    pytest.importorskip("onnxruntime")
    from onnx import numpy_helper

    from cxrpilot.models.janus import load
    from cxrpilot.models.janus._ort_decode import build_decoder_graph

    model = load(tiny_janus_dir, device="cpu", dtype="float32").model
    proto = build_decoder_graph(model.model.language_model, model.lm_head, bits=bits, max_length=64,
                                block_size=block)
    stored = sum(numpy_helper.to_array(t).nbytes for t in proto.graph.initializer
                 if t.name.endswith((".qweight", ".scales")))
    assert bench_module().weight_bytes_per_token(model, bits, block) == stored
    assert set(bench_module().CONFIGS) >= {"int4-ort-b64", "int4-ort-b128"}
    assert bench_module().CONFIGS["int4-ort-b128"] == {**bench_module().CONFIGS["int4-ort"], "block": 128}
