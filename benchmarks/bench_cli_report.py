"""Wall time of `cxrpilot report` on the shipped example DICOM, process start included.

Usage: python benchmarks/bench_cli_report.py [--runs 10]
Target (issue 2): a draft in under 3 s wall time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _machine import machine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    from pydicom.data import get_testdata_file

    example = get_testdata_file("RG1_UNCR.dcm")
    cli = Path(sys.executable).with_name("cxrpilot")
    walls = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        done = subprocess.run([str(cli), "report", example], capture_output=True, text=True,
                              check=False)
        walls.append(time.perf_counter() - t0)
        if done.returncode != 0:
            sys.exit(f"cxrpilot report failed: {done.stderr}")
    print(f"machine: {machine()}, load average {os.getloadavg()[0]:.2f}")
    print(f"cxrpilot report RG1_UNCR.dcm (1841x1955 CR, 15-bit), {args.runs} runs: "
          f"median {statistics.median(walls):.2f} s, max {max(walls):.2f} s wall (target < 3 s)")


if __name__ == "__main__":
    main()
