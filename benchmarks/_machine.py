"""The machine line every benchmark prints (scripts here import it as ``from _machine import machine``)."""

from __future__ import annotations

from cxrpilot.machine import describe_machine as machine

__all__ = ["machine"]
