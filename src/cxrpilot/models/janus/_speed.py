"""Precision and quantisation choices that make Janus-Pro faster, CPU first.

- :func:`cpu_has_native_bf16`: whether this CPU computes bf16 in hardware (AVX512-BF16 or
  AMX). There bf16 halves the weight bytes read per decoded token and oneDNN's bf16 matrix
  products, which the prefill is made of, run several times faster than fp32's (AMX tiles;
  measured peaks 2.7x fp32's on a Zen 4 EPYC, ~4x on a Zen 5 EPYC, both AVX512-BF16 without
  AMX); elsewhere bf16 is emulated and slower, so fp32 stays the default.
- :data:`QUANTIZATION_BITS`: ``quantize="int8"`` / ``"int4"`` in :func:`cxrpilot.models.janus.load`
  decode with the ONNX Runtime graph of :mod:`cxrpilot.models.janus._ort_decode` (language
  model and text head with 8- or 4-bit block-wise weights); the prefill stays in torch.

Measured figures: ``BENCHMARKS.md`` (section *Janus-Pro speed*). torch is imported only
when :func:`cpu_has_native_bf16` runs.
"""

from __future__ import annotations

from cxrpilot.vocabulary import QUANTIZATIONS as _NAMES

__all__ = ["QUANTIZATION_BITS", "cpu_has_native_bf16"]

#: Accepted values of ``quantize`` (:data:`cxrpilot.vocabulary.QUANTIZATIONS`) -> weight bits.
QUANTIZATION_BITS = {name: int(name.removeprefix("int")) for name in _NAMES}


def _cpu_check(name: str) -> bool:
    """``torch.cpu.<name>()``, False when this torch lacks the probe or it fails."""
    import torch

    check = getattr(getattr(torch, "cpu", None), name, None)
    try:
        return bool(check()) if check is not None else False
    except RuntimeError:  # pragma: no cover - probing failed; assume no
        return False


def cpu_has_native_bf16() -> bool:
    """True when the CPU has bf16 arithmetic in hardware (AVX512-BF16 or AMX tiles)."""
    return _cpu_check("_is_avx512_bf16_supported") or _cpu_check("_is_amx_tile_supported")
