"""``cxrpilot models import-janus`` and ``cxrpilot train janus`` end to end."""

from __future__ import annotations

import json
import re

import pytest

from cxrpilot.cli import main
from cxrpilot.models.janus import load


def test_import_janus_command(original_checkpoint, tmp_path, capsys):
    dst = tmp_path / "Janus-Pro-CXR-tiny"
    assert main(["models", "import-janus", str(original_checkpoint[0]), str(dst), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["dst"] == str(dst) and printed["model_id"] == "janus:Janus-Pro-CXR-tiny"
    assert load(dst, device="cpu").chat_format.name == "janus-pro-cxr"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["models", "import-janus", "{tmp}/nope", "{tmp}/out"], "checkpoint folder '.*nope' does not exist"),
        (["train", "janus", "--model", "{tmp}/nope", "--train", "{tmp}/m.jsonl", "--output", "{tmp}/o"],
         "manifest '.*m.jsonl' does not exist"),
        (["train", "janus", "--model", "{tmp}/nope", "--train", "{tmp}/bad.jsonl", "--output", "{tmp}/o"],
         r"study 'row1' has no image; every row needs a 'path'.*use 'path'"),
        (["train", "janus", "--model", "{tmp}/nope", "--train", "{tmp}/ok.jsonl", "--output", "{tmp}/o",
          "--lora-rank", "0"], "invalid training option: lora_rank must be >= 1"),
        (["train", "janus", "--model", "{tmp}/nope", "--train", "{tmp}/ok.jsonl", "--output", "{tmp}/o"],
         "Janus model folder '.*nope' does not exist"),
    ],
)
def test_user_errors_exit_2_with_one_line(argv, message, tmp_path, capsys):
    (tmp_path / "bad.jsonl").write_text(json.dumps({"study_id": "row1", "image": "x.png", "findings": "Clear."}) + "\n")
    (tmp_path / "ok.jsonl").write_text(json.dumps({"path": "x.png", "findings": "Clear."}) + "\n")
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cxrpilot: error: ") and len(err.strip().splitlines()) == 1
    assert re.search(message, err)


@pytest.mark.slow
def test_train_janus_command(tiny_janus_dir, radiographs, tmp_path, capsys):
    manifest = tmp_path / "reports.jsonl"
    rows = [{"path": r.source, "findings": "Clear lungs.", "impression": "Normal.",
             "split": "validate" if i == 3 else "train"} for i, r in enumerate(radiographs)]
    manifest.write_text("".join(json.dumps(row) + "\n" for row in rows))
    out = tmp_path / "run"
    argv = ["train", "janus", "--model", str(tiny_janus_dir), "--train", str(manifest), "--output", str(out),
            "--lora-rank", "8", "--max-steps", "2", "--batch-size", "2", "--eval-generate", "1",
            "--device", "cpu", "--merge", "--no-progress", "--json"]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps"] == 2 and summary["merged"] == str(out / "merged")
    assert len(summary["validations"]) == 1
    start = json.loads((out / "train_log.jsonl").read_text().splitlines()[0])
    assert start["n_train"] == 3 and start["n_val"] == 1 and start["config"]["lora_rank"] == 8
    assert load(out / "merged", device="cpu").model_id == "janus:run"


@pytest.mark.parametrize("quantize", [None, "int4"])
def test_report_command_with_janus(tiny_janus_dir, radiographs, capsys, quantize):
    argv = ["report", radiographs[0].source, "--model", f"janus:{tiny_janus_dir}", "--expert", "--json",
            "--no-check"]
    assert main(argv + (["--quantize", quantize] if quantize else [])) == 0
    draft = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert draft["model_id"] == f"janus:{tiny_janus_dir.name}"
    assert len(draft["findings"]) == 14
