"""One line naming the machine a figure came from (benchmarks, model cards).

Speed figures only mean something beside the CPU they were measured on: every benchmark and
every trained model's card records :func:`describe_machine`.
"""

from __future__ import annotations

import contextlib
import os
import platform
from pathlib import Path

__all__ = ["describe_machine"]


def describe_machine() -> str:
    """CPU model, cores available to this process, OS, architecture and Python version.

    >>> "cores available" in describe_machine()
    True
    """
    model = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (f"{model}, {cores} cores available, {platform.system()} {platform.machine()}, "
            f"Python {platform.python_version()}")
