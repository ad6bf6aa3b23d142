"""scripts/device/train_expert_gpu.py: the smoke mode end to end on the CPU, and its
file splitting (the device tool brings back files of at most 16 MiB)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "scripts" / "device" / "train_expert_gpu.py"


def _script():
    spec = importlib.util.spec_from_file_location("train_expert_gpu", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_split_and_join_give_back_the_file(tmp_path: Path) -> None:
    script = _script()
    data = os.urandom(2500)
    (tmp_path / "model.onnx").write_bytes(data)
    (tmp_path / "card.json").write_text(json.dumps({"sha256": hashlib.sha256(data).hexdigest()}))
    parts = script.split_file(tmp_path / "model.onnx", part_bytes=1000)
    assert [p.name for p in parts] == ["model.onnx.part0", "model.onnx.part1", "model.onnx.part2"]
    assert not (tmp_path / "model.onnx").exists()
    assert script.join_parts(tmp_path).read_bytes() == data
    (tmp_path / "card.json").write_text(json.dumps({"sha256": "0" * 64}))
    with pytest.raises(SystemExit, match="differs from the card"):
        script.join_parts(tmp_path)


def test_epochs_fit_the_budget() -> None:
    script = _script()
    assert script.plan_epochs(100.0, 0.1, 10, overhead=1.0) == 100
    assert script.plan_epochs(1.0, 0.1, 10, overhead=1.0) == 1  # always at least one
    assert script.plan_epochs(1e6, 0.1, 10) == 200


@pytest.mark.slow
@pytest.mark.data
def test_smoke_mode_runs_end_to_end(tiny_pack: Path, shared_data: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from cxrpilot import imaging
    from cxrpilot.models import expert

    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "run", "--smoke", "--device", "cpu", "--budget", "40",
         "--pack", str(tiny_pack), "--out", str(out), "--work", str(tmp_path / "work"),
         "--threads", "2"],
        capture_output=True, text=True, env=env, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "preflight" in proc.stdout and "SSL done" in proc.stdout and "NIH done" in proc.stdout
    table = (out / "results.md").read_text()
    assert "**Smoke run**" in table and "NOT the shipped model's" in table
    assert "| SSL > joint > NIH | expert-resnet10t-res48-cxr4 |" in table
    assert "| shipped (CPU) | expert-resnet10-res224-cxr4 |" in table
    results = json.loads((out / "results.json").read_text())
    stages = results["timings"]["stages"]
    assert set(stages) == {"ssl", "joint", "nih"}
    assert results["timings"]["total"] < 40 + 60  # budget plus fixed costs of a busy CPU
    model = expert.load(out / "model")
    assert model.card.image_size == 48
    radiograph = imaging.load(shared_data / "samples" / "nih" / "00000001_000.png")
    findings = model.assess(radiograph)  # the 14 observations, as for the shipped model
    assert len(findings) == 14
    assert {f.name for f in findings} >= set(model.labels)
