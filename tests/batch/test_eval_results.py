"""`cxrpilot eval findings` reads the RESULTS of `cxrpilot batch` directly as scores."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

pa = pytest.importorskip("pyarrow")

from cxrpilot.batch import result_schema
from cxrpilot.batch._results import write_part
from cxrpilot.cli import main


def _row(source, p_effusion, status="ok", image_id=None):
    findings = None if status != "ok" else [
        {"name": "Pleural Effusion", "status": "absent", "probability": p_effusion},
        {"name": "Fracture", "status": "not_assessed", "probability": None},
    ]
    return {"source": source, "sha256": source, "status": status, "image_id": image_id,
            "findings": findings, "finished_at": datetime(2026, 1, 1, tzinfo=UTC)}


def test_eval_findings_takes_scores_from_batch_results(tmp_path, capsys):
    rows = [_row(f"/archive/images/{i}.jpg", p) for i, p in enumerate([0.9, 0.8, 0.3, 0.2, 0.85, 0.1])]
    rows += [_row("/archive/images/broken.jpg", None, status="failed"),
             _row("/elsewhere/x.png", 0.95, image_id="case-x")]
    out = tmp_path / "results"
    out.mkdir()
    write_part(pa.Table.from_pylist(rows, schema=result_schema()), out, run_id="r", seq=0)
    labels = tmp_path / "labels.csv"
    # ids: a path tail, a bare file name, an image_id; the failed image is left out
    labels.write_text("image,Pleural Effusion\nimages/0.jpg,1\nimages/1.jpg,1\n2.jpg,0\n"
                      "images/3.jpg,0\nimages/4.jpg,0\n5.jpg,0\ncase-x,1\nimages/broken.jpg,1\n")
    assert main(["eval", "findings", "--scores", str(out), "--labels", str(labels), "--json",
                 "--n-bootstrap", "50"]) == 0
    result = json.loads(capsys.readouterr().out)["findings"]
    assert [r["finding"] for r in result] == ["Pleural Effusion"]  # Fracture is not assessed
    assert (result[0]["n"], result[0]["positives"]) == (7, 3)
    assert result[0]["auc"]["estimate"] == pytest.approx(11 / 12)
