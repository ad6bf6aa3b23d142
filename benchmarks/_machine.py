"""The machine line every benchmark prints (scripts here import it as ``from _machine import machine``);
``cpu_features`` adds the CPU's family/model and instruction sets where figures are compared with
the machine's bounds."""

from __future__ import annotations

from cxrpilot.machine import describe_cpu_features as cpu_features
from cxrpilot.machine import describe_machine as machine

__all__ = ["cpu_features", "machine"]
