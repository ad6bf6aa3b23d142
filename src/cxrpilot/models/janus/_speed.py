"""Precision and quantisation choices that make Janus-Pro faster, CPU first.

- :func:`cpu_has_native_bf16`: whether this CPU computes bf16 in hardware (AVX512-BF16 or
  AMX). There bf16 halves the weight bytes read per decoded token and oneDNN's bf16 matrix
  products (AMX) run the prefill several times faster than fp32; elsewhere bf16 is emulated
  and slower, so fp32 stays the default.
- :func:`quantize_int8`: the language model's linear layers (and its output head) as int8
  weights with per-output-channel scales and dynamically quantised int8 activations
  (``torch.ao`` dynamic quantisation, fbgemm kernels, CPU only). Decoding reads a quarter of
  the fp32 bytes per token; outputs change slightly (measured by
  ``benchmarks/bench_janus_speed.py``, which reports the greedy-token agreement with fp32).

Measured figures: ``BENCHMARKS.md`` (section *Janus-Pro speed*). This module imports torch;
the package imports it only when a model is loaded.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn

__all__ = ["QUANTIZATIONS", "cpu_has_native_bf16", "quantize_int8", "Int8DynamicLinear"]

#: Accepted values of ``quantize`` in :func:`cxrpilot.models.janus.load`.
QUANTIZATIONS = ("int8",)


def _cpu_check(name: str) -> bool:
    """``torch.cpu.<name>()``, False when this torch lacks the probe or it fails."""
    check = getattr(getattr(torch, "cpu", None), name, None)
    try:
        return bool(check()) if check is not None else False
    except RuntimeError:  # pragma: no cover - probing failed; assume no
        return False


def cpu_has_native_bf16() -> bool:
    """True when the CPU has bf16 arithmetic in hardware (AVX512-BF16 or AMX tiles)."""
    return _cpu_check("_is_avx512_bf16_supported") or _cpu_check("_is_amx_tile_supported")


class Int8DynamicLinear(nn.Module):
    """An ``nn.Linear`` computed in int8: weights quantised once per output channel,
    activations quantised per call (dynamic). Input and output keep the caller's dtype (bf16
    or fp32); the int8 kernel itself takes fp32 (fbgemm, CPU)."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear
        from torch.ao.quantization import per_channel_dynamic_qconfig

        source = nn.Linear(linear.in_features, linear.out_features, bias=linear.bias is not None,
                           device="meta")
        source.weight = nn.Parameter(linear.weight.detach().float(), requires_grad=False)
        if linear.bias is not None:
            source.bias = nn.Parameter(linear.bias.detach().float(), requires_grad=False)
        source.qconfig = per_channel_dynamic_qconfig
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.inner = DynamicLinear.from_float(source)
        # 8-bit activations where the CPU has VNNI (no int16 overflow in the kernels);
        # torch.ao's default, 7-bit ("reduce_range"), elsewhere.
        self.reduce_range = not _cpu_check("_is_vnni_supported")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.ops.quantized.linear_dynamic(
            x.float(), self.inner._packed_params._packed_params, reduce_range=self.reduce_range
        )
        return y if x.dtype == torch.float32 else y.to(x.dtype)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8 dynamic"


def quantize_int8(model: Any) -> int:
    """Replace the language model's ``nn.Linear`` layers and the text head of a
    ``JanusForConditionalGeneration`` (on CPU) by :class:`Int8DynamicLinear`, in place.

    The vision tower, aligner, embeddings and image-generation parts keep their dtype (they
    run once per image, or not at all when writing reports). Returns the number of layers
    replaced. Raises ``ValueError`` when the model is not on the CPU.
    """
    device = next(model.parameters()).device
    if device.type != "cpu":
        raise ValueError(f"int8 quantisation runs on the CPU only (fbgemm kernels); the model is on {device}")
    if "fbgemm" in torch.backends.quantized.supported_engines:
        torch.backends.quantized.engine = "fbgemm"
    replaced = 0
    with warnings.catch_warnings():
        # torch 2.13 flags the torch.ao quantised-tensor API as deprecated (moving to torchao);
        # it is what runs here, pinned by constraints.txt.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.ao")
        warnings.filterwarnings("ignore", message=r".*deprecat", category=UserWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        language_model = model.model.language_model
        for parent in list(language_model.modules()):
            for name, child in list(parent.named_children()):
                if type(child) is nn.Linear:
                    setattr(parent, name, Int8DynamicLinear(child))
                    replaced += 1
        if type(model.lm_head) is nn.Linear:
            model.lm_head = Int8DynamicLinear(model.lm_head)
            replaced += 1
    return replaced
