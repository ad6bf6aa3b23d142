"""One line naming the machine a figure came from (benchmarks, model cards).

Speed figures only mean something beside the CPU they were measured on: every benchmark and
every trained model's card records :func:`describe_machine`; speed benchmarks that compare
with the machine's bounds add :func:`describe_cpu_features` (a VM may name the CPU only by
its brand, e.g. "AMD EPYC": the family/model numbers and the instruction sets say which).
"""

from __future__ import annotations

import contextlib
import os
import platform
from pathlib import Path

__all__ = ["describe_cpu_features", "describe_machine"]

#: Instruction sets that decide which kernels a model runs (bf16, int8 dot products, AMX tiles).
_FEATURES = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo ({} where there is none)."""
    fields: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if not line.strip():
                break
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    return fields


def describe_machine() -> str:
    """CPU model, cores available to this process, OS, architecture and Python version.

    >>> "cores available" in describe_machine()
    True
    """
    model = _cpuinfo().get("model name") or platform.processor() or "unknown CPU"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (f"{model}, {cores} cores available, {platform.system()} {platform.machine()}, "
            f"Python {platform.python_version()}")


def describe_cpu_features() -> str:
    """Vendor, family/model/stepping, clock and the speed-relevant instruction sets present
    and absent, e.g. ``"AuthenticAMD family 25 model 17 stepping 1, 2596 MHz; has avx2,
    avx512f, avx512_vnni, avx512_bf16; lacks amx_tile, amx_bf16, amx_int8"``.

    >>> "has" in describe_cpu_features() or "no /proc/cpuinfo" in describe_cpu_features()
    True
    """
    info = _cpuinfo()
    if not info:
        return f"{platform.machine()}: no /proc/cpuinfo"
    flags = set(info.get("flags", "").split())
    has = [f for f in _FEATURES if f in flags]
    lacks = [f for f in _FEATURES if f not in flags]
    ident = (f"{info.get('vendor_id', '?')} family {info.get('cpu family', '?')} model {info.get('model', '?')} "
             f"stepping {info.get('stepping', '?')}")
    mhz = info.get("cpu MHz")
    clock = f", {float(mhz):.0f} MHz" if mhz and mhz.replace(".", "", 1).isdigit() else ""
    return (f"{ident}{clock}; has {', '.join(has) or 'none of ' + ', '.join(_FEATURES)}"
            + (f"; lacks {', '.join(lacks)}" if lacks else ""))
