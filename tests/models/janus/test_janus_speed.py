"""Faster Janus inference: bf16 where the CPU has it natively, int8 language model (CPU)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cxrpilot.models.janus import load
from cxrpilot.models.janus import _speed
from cxrpilot.models.janus._reporter import resolve_dtype

from .janus_tiny import torch


def cpuinfo_flags() -> set[str]:
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    match = re.search(r"^flags\s*:(.*)$", text, flags=re.M)
    return set(match.group(1).split()) if match else set()


def test_native_bf16_detection_matches_the_cpu_flags():
    flags = cpuinfo_flags()
    if not flags:
        pytest.skip("no /proc/cpuinfo flags on this system")
    assert _speed.cpu_has_native_bf16() == bool({"avx512_bf16", "amx_bf16", "amx_tile"} & flags)


@pytest.mark.parametrize(("native", "expected"), [(True, "bfloat16"), (False, "float32")])
def test_default_dtype_on_cpu_follows_native_bf16(monkeypatch, native, expected):
    monkeypatch.setattr(_speed, "cpu_has_native_bf16", lambda: native)
    assert resolve_dtype(None, torch.device("cpu")) == getattr(torch, expected)
    # an explicit dtype always wins
    assert resolve_dtype("float32", torch.device("cpu")) == torch.float32
    assert resolve_dtype(torch.bfloat16, torch.device("cpu")) == torch.bfloat16


def test_default_load_uses_bf16_only_where_native(tiny_janus_dir):
    reporter = load(tiny_janus_dir, device="cpu")
    expected = torch.bfloat16 if _speed.cpu_has_native_bf16() else torch.float32
    assert reporter.dtype == expected
    assert reporter.model.model.language_model.layers[0].mlp.up_proj.weight.dtype == expected


def first_step_logits(reporter, radiographs):
    inputs = reporter.batch_inputs([reporter.prompt_ids("Give a radiology report.")], radiographs[:1])
    with torch.inference_mode():
        return reporter.model(**inputs).logits[0, -1].float()


def relative_error(got, ref) -> float:
    return float((got - ref).norm() / ref.norm())


@pytest.fixture(scope="module")
def fp32_reporter(tiny_janus_dir):
    return load(tiny_janus_dir, device="cpu", dtype="float32")


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_int8_replaces_the_language_model_linears(tiny_janus_dir, dtype):
    reporter = load(tiny_janus_dir, device="cpu", dtype=dtype, quantize="int8")
    assert reporter.quantization == "int8"
    lm = reporter.model.model.language_model
    linears = [m for m in lm.modules() if type(m) is torch.nn.Linear]
    assert linears == []
    assert isinstance(reporter.model.lm_head, _speed.Int8DynamicLinear)
    assert isinstance(lm.layers[0].self_attn.q_proj, _speed.Int8DynamicLinear)
    # the vision tower and aligner keep their dtype
    assert reporter.model.model.aligner.fc1.weight.dtype == getattr(torch, dtype)


@pytest.mark.parametrize(
    ("kwargs", "tolerance"),
    # relative error of the first-step logits measured on the tiny model (AMX/VNNI CPU):
    # bf16 0.017, int8 0.058, int8 + bf16 0.069; the bounds leave ~2x room
    [({"dtype": "bfloat16"}, 0.04), ({"dtype": "float32", "quantize": "int8"}, 0.12),
     ({"dtype": "bfloat16", "quantize": "int8"}, 0.14)],
)
def test_faster_variants_stay_close_to_fp32(tiny_janus_dir, fp32_reporter, radiographs, kwargs, tolerance):
    ref = first_step_logits(fp32_reporter, radiographs)
    got = first_step_logits(load(tiny_janus_dir, device="cpu", **kwargs), radiographs)
    assert got.shape == ref.shape
    assert relative_error(got, ref) < tolerance
    assert int(got.argmax()) == int(ref.argmax())


def test_int8_writes_reports_batched_like_one_by_one(tiny_janus_dir, radiographs):
    reporter = load(tiny_janus_dir, device="cpu", dtype="float32", quantize="int8")
    batched = reporter.generate(radiographs[:2], max_new_tokens=12, batch_size=2)
    single = [reporter.generate([r], max_new_tokens=12)[0] for r in radiographs[:2]]
    assert [o.new_tokens for o in batched] == [o.new_tokens for o in single]
    assert all(o.new_tokens >= 1 for o in batched)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"quantize": "int4"}, "unknown quantize='int4'; expected None or one of int8"),
     ({"quantize": "int8", "device": "cuda"}, "runs on the CPU only")],
)
def test_bad_quantize_options(tiny_janus_dir, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        load(tiny_janus_dir, **{"device": "cpu", **kwargs})


def test_quantize_int8_refuses_a_model_off_the_cpu():
    class OnMeta(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.empty(1, device="meta"))

    with pytest.raises(ValueError, match="CPU only"):
        _speed.quantize_int8(OnMeta())


def test_load_drafter_passes_quantize_to_janus_only(tiny_janus_dir):
    from cxrpilot import pipeline
    from cxrpilot.errors import UnknownModelError

    drafter = pipeline.load_drafter(f"janus:{tiny_janus_dir}", quantize="int8")
    assert drafter.reporter.quantization == "int8"
    with pytest.raises(UnknownModelError, match="applies to Janus models"):
        pipeline.load_drafter("expert", quantize="int8")
