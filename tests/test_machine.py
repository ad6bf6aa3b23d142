"""``cxrpilot.machine``: the machine line and the CPU features benchmarks record."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxrpilot.machine import describe_cpu_features, describe_machine


def test_machine_line_names_the_cores():
    assert "cores available" in describe_machine()


@pytest.mark.skipif(not Path("/proc/cpuinfo").is_file(), reason="needs /proc/cpuinfo")
def test_cpu_features_say_which_speed_relevant_sets_are_present_and_absent():
    text = describe_cpu_features()
    assert " family " in text and " model " in text
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    for feature in ("avx2", "avx512_bf16", "amx_tile"):
        listed = text.split("; has ", 1)[1] if "; has " in text else ""
        has = listed.split("; lacks", 1)[0]
        assert (feature in has.split(", ")) == (feature in flags)
