"""`cxrpilot batch` with no address: an embedded local Ray, started and stopped by the run."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from cxrpilot.batch import read_results
from tests.batch.conftest import copy_images

pytestmark = [pytest.mark.data, pytest.mark.slow]


def test_cli_batch_starts_its_own_local_ray_with_a_progress_bar(tmp_path, model_spec,
                                                                 nih_images):
    pytest.importorskip("ray", reason="Ray is the 'batch' extra: pip install 'cxrpilot[batch]'")
    copy_images(nih_images[:4], tmp_path / "src")
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    # relative SOURCE and RESULTS, from the folder that holds them
    proc = subprocess.run(
        [sys.executable, "-m", "cxrpilot.cli", "batch", "src", "--out", "out", "--model",
         model_spec, "--batch-size", "2"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=480)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "4 image(s): 4 drafted, 0 failed, 0 already in out" in proc.stderr
    # tqdm's bar: done/total, elapsed<remaining (the ETA), a rate
    assert re.search(r"4/4 \[[\d:]+<[\d:]+, +[\d.]+(image/s|s/image)", proc.stderr), proc.stderr
    table = read_results(tmp_path / "out")
    assert sorted(table.column("source").to_pylist()) == sorted(
        str(tmp_path / "src" / p.name) for p in nih_images[:4])  # made absolute for the workers
    assert set(table.column("status").to_pylist()) == {"ok"}
    assert len(set(table.column("node_id").to_pylist())) == 1  # one local node
