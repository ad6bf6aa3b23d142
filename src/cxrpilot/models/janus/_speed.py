"""Precision and quantisation choices that make Janus-Pro faster, CPU first.

- :func:`cpu_has_native_bf16`: whether this CPU computes bf16 in hardware (AVX512-BF16 or
  AMX). There bf16 halves the weight bytes read per decoded token and oneDNN's bf16 matrix
  products (AMX) run the prefill several times faster than fp32; elsewhere bf16 is emulated
  and slower, so fp32 stays the default.
- :func:`quantize_int4`: the same layers as int4 weights, asymmetric per group of 32 input
  columns (round to nearest), bf16 activations, torch's own CPU kernel
  (``_weight_int4pack_mm_for_cpu``). Half the bytes of int8 again and the fastest decoding
  measured here, but round-to-nearest 4-bit moves each weight by up to half a step (about 3 %
  of its group's range): check report quality on your own images before using it.
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

__all__ = [
    "QUANTIZATIONS",
    "cpu_has_native_bf16",
    "quantize",
    "quantize_int8",
    "quantize_int4",
    "Int8DynamicLinear",
    "Int4WeightOnlyLinear",
]

#: Accepted values of ``quantize`` in :func:`cxrpilot.models.janus.load`.
QUANTIZATIONS = ("int8", "int4")


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


class Int4WeightOnlyLinear(nn.Module):
    """An ``nn.Linear`` with int4 weights (asymmetric, one scale and zero point per output
    row and group of ``group_size`` input columns) and bf16 activations, computed by torch's
    CPU kernel ``_weight_int4pack_mm_for_cpu``. Input and output keep the caller's dtype."""

    def __init__(self, linear: nn.Linear, group_size: int = 32) -> None:
        super().__init__()
        out_features, in_features = linear.weight.shape
        if in_features % group_size:
            raise ValueError(f"in_features {in_features} is not a multiple of group_size {group_size}")
        self.in_features, self.out_features, self.group_size = in_features, out_features, group_size
        # the kernel packs rows in blocks of 16: pad with zero rows, cut them off the output
        rows = -(-out_features // 16) * 16
        w = torch.zeros(rows, in_features)
        w[:out_features] = linear.weight.detach().float()
        w = w.reshape(rows, in_features // group_size, group_size)
        low, high = w.amin(-1, keepdim=True), w.amax(-1, keepdim=True)
        scale = ((high - low) / 15).clamp(min=1e-8)
        q = torch.round((w - low) / scale).clamp(0, 15).to(torch.int32).reshape(rows, in_features)
        # the kernel computes w = (q - 8) * scale + zero, so zero is the value of q = 8
        zero = low + 8 * scale
        scales_zeros = torch.cat([scale, zero], dim=-1).transpose(0, 1).contiguous()
        self.register_buffer("packed", torch.ops.aten._convert_weight_to_int4pack_for_cpu(q, 1))
        self.register_buffer("scales_zeros", scales_zeros.to(torch.bfloat16))
        bias = linear.bias.detach().to(torch.bfloat16) if linear.bias is not None else None
        self.register_buffer("bias", bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features).to(torch.bfloat16).contiguous()
        y = torch.ops.aten._weight_int4pack_mm_for_cpu(rows, self.packed, self.group_size, self.scales_zeros)
        y = y[:, : self.out_features]
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*x.shape[:-1], self.out_features).to(x.dtype)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"int4 weight-only, group {self.group_size}")


def _replace_linears(model: Any, make: Any) -> int:
    """Replace the language model's ``nn.Linear`` layers and the text head of a
    ``JanusForConditionalGeneration`` on the CPU by ``make(linear)``, in place; returns how
    many were replaced. Raises ``ValueError`` when the model is not on the CPU."""
    device = next(model.parameters()).device
    if device.type != "cpu":
        raise ValueError(f"weight quantisation runs on the CPU only (CPU kernels); the model is on {device}")
    replaced = 0
    for parent in list(model.model.language_model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Linear:
                setattr(parent, name, make(child))
                replaced += 1
    if type(model.lm_head) is nn.Linear:
        model.lm_head = make(model.lm_head)
        replaced += 1
    return replaced


def quantize_int4(model: Any, group_size: int = 32) -> int:
    """Make the language model's linear layers and text head :class:`Int4WeightOnlyLinear`
    (in place; the vision tower, aligner, embeddings and image-generation parts keep their
    dtype). Returns the number of layers replaced."""
    return _replace_linears(model, lambda linear: Int4WeightOnlyLinear(linear, group_size))


def quantize_int8(model: Any) -> int:
    """Make the language model's linear layers and text head :class:`Int8DynamicLinear`
    (in place; the vision tower, aligner, embeddings and image-generation parts keep their
    dtype: they run once per image, or not at all when writing reports). Returns the number
    of layers replaced. Raises ``ValueError`` when the model is not on the CPU."""
    if "fbgemm" in torch.backends.quantized.supported_engines:
        torch.backends.quantized.engine = "fbgemm"
    with warnings.catch_warnings():
        # torch 2.13 flags the torch.ao quantised-tensor API as deprecated (moving to torchao);
        # it is what runs here, pinned by constraints.txt.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.ao")
        warnings.filterwarnings("ignore", message=r".*deprecat", category=UserWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        return _replace_linears(model, Int8DynamicLinear)


def quantize(model: Any, method: str) -> int:
    """Apply one of :data:`QUANTIZATIONS` to ``model`` in place; returns the layers replaced."""
    if method == "int8":
        return quantize_int8(model)
    if method == "int4":
        return quantize_int4(model)
    raise ValueError(f"unknown quantisation {method!r}; expected one of {', '.join(QUANTIZATIONS)}")
