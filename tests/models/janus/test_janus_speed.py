"""Faster Janus inference: bf16 where the CPU has it natively; quantize options (the decoder
itself is tested in test_janus_ort_decode.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cxrpilot.models.janus import _speed, load
from cxrpilot.models.janus._reporter import resolve_dtype

from .janus_tiny import torch


def cpuinfo_flags() -> set[str]:
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    match = re.search(r"^flags\s*:(.*)$", text, flags=re.MULTILINE)
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


def test_bf16_stays_close_to_fp32(tiny_janus_dir, fp32_reporter, radiographs):
    # relative error of the first-step logits measured on the tiny model (AMX CPU): 0.017
    ref = first_step_logits(fp32_reporter, radiographs)
    got = first_step_logits(load(tiny_janus_dir, device="cpu", dtype="bfloat16"), radiographs)
    assert got.shape == ref.shape
    assert relative_error(got, ref) < 0.04
    assert int(got.argmax()) == int(ref.argmax())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"quantize": "int3"}, "unknown quantize='int3'; expected None or one of int8, int4"),
     ({"quantize": "int8", "device": "cuda"}, "runs on the CPU only")],
)
def test_bad_quantize_options(tiny_janus_dir, kwargs, message):
    from cxrpilot.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match=re.escape(message)):
        load(tiny_janus_dir, **{"device": "cpu", **kwargs})


def test_load_drafter_passes_quantize_to_janus_only(tiny_janus_dir):
    from cxrpilot import pipeline
    from cxrpilot.errors import InvalidInputError

    drafter = pipeline.load_drafter(f"janus:{tiny_janus_dir}", quantize="int8")
    assert drafter.reporter.quantization == "int8"
    with pytest.raises(InvalidInputError, match="applies to Janus models"):
        pipeline.load_drafter("expert", quantize="int8")
