"""``cxrpilot eval ...`` end to end (in process)."""

from __future__ import annotations

import csv
import json
import re
import shutil

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from cxrpilot.cli import main


def test_eval_findings_csv_json_and_html(tmp_path, capsys):
    rng = np.random.default_rng(0)
    n = 120
    y = rng.integers(0, 2, (n, 2))
    s = np.clip(0.5 * y + rng.normal(0.25, 0.2, y.shape), 0, 1)
    s2 = np.clip(0.3 * y + rng.normal(0.35, 0.2, y.shape), 0, 1)
    for name, data, fmt in (("scores.csv", s, "{:.4f}"), ("labels.csv", y, "{}"), ("other.csv", s2, "{:.4f}")):
        with (tmp_path / name).open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["id", "Edema", "Pneumothorax"])
            for i in range(n):
                w.writerow([f"img{i}", fmt.format(data[i, 0]), "" if (name == "labels.csv" and i < 5) else fmt.format(data[i, 1])])
    html = tmp_path / "out" / "findings.html"
    code = main(["eval", "findings", "--scores", str(tmp_path / "scores.csv"), "--labels", str(tmp_path / "labels.csv"),
                 "--compare", str(tmp_path / "other.csv"), "--n-bootstrap", "200", "--json", "--html", str(html)])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    edema, ptx = out["findings"]
    assert edema["n"] == 120 and ptx["n"] == 115  # blank labels are left out
    want = roc_auc_score(y[:, 0], np.round(s[:, 0], 4))
    assert edema["auc"]["estimate"] == pytest.approx(want)
    assert 0 <= edema["delong_vs_compare"]["p"] <= 1 and "sensitivity" in edema["operating_point"]
    assert html.read_text().count("data:image/png;base64,") == 1


def test_eval_findings_errors_exit_2(tmp_path, capsys):
    (tmp_path / "s.csv").write_text("id,Edema\na,0.3\n")
    (tmp_path / "l.csv").write_text("id,Edema\na,2\n")
    assert main(["eval", "findings", "--scores", str(tmp_path / "s.csv"), "--labels", str(tmp_path / "l.csv")]) == 2
    assert "column 'Edema': '2'; expected 1, 0 or blank" in capsys.readouterr().err
    assert main(["eval", "findings", "--scores", str(tmp_path / "nope.csv"), "--labels", str(tmp_path / "l.csv")]) == 2


@pytest.mark.skipif(shutil.which("java") is None, reason="java is not installed")
def test_eval_reports_txt_and_jsonl(tmp_path, capsys):
    (tmp_path / "pred.txt").write_text("The heart is normal.\nSmall left pleural effusion.\n")
    (tmp_path / "ref.jsonl").write_text(json.dumps({"text": "The heart size is normal."}) + "\n"
                                        + json.dumps({"text": "Small left pleural effusion."}) + "\n")
    code = main(["eval", "reports", "--pred", str(tmp_path / "pred.txt"), "--ref", str(tmp_path / "ref.jsonl"),
                 "--metrics", "BLEU-1", "ROUGE-L", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 2 and set(out["metrics"]) == {"BLEU-1", "ROUGE-L"}
    ce = out["clinical_efficacy"]
    assert ce["labeler"] and len(ce["summary"]) == 8
    (tmp_path / "one.txt").write_text("only one\n")
    assert main(["eval", "reports", "--pred", str(tmp_path / "one.txt"), "--ref", str(tmp_path / "ref.jsonl")]) == 2
    assert "has 1 reports but" in capsys.readouterr().err


def test_eval_study_simulated(tmp_path, capsys):
    export = tmp_path / "export"
    assert main(["eval", "simulate-study", str(export), "--cases", "40", "--readers", "4", "--seed", "3"]) == 0
    assert (export / "reads.csv").is_file() and (export / "evaluations.csv").is_file()
    capsys.readouterr()
    html = tmp_path / "study.html"
    assert main(["eval", "study", str(export), "--no-mixed-model", "--n-bootstrap", "200", "--html", str(html)]) == 0
    text = capsys.readouterr().out
    assert "reading time (signed_at - started_at): AI-assisted" in text and "3 of 5 evaluators" in text
    assert html.read_text().startswith("<!DOCTYPE html>")
    assert main(["eval", "study", str(export), "--no-mixed-model", "--n-bootstrap", "50", "--json", "--k", "5"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["preference"]["rule"] == "at least 5 of 5 evaluators"
    assert main(["eval", "study", str(tmp_path / "missing")]) == 2


LATIN1_LABELS = "id,Edema\nr\u00e9f-1,1\nb,0\n".encode("latin-1")  # 0xe9 on line 2, offset 10
GOOD_SCORES = b"id,Edema\nb,0.2\n"
_BAD_BYTES = r"line 2: byte 0xe9 is not valid utf-8 \(offset 10\); re-save the file as UTF-8 or pass --encoding"


@pytest.mark.parametrize(
    ("files", "argv", "message"),
    [
        ({"l.csv": LATIN1_LABELS, "s.csv": GOOD_SCORES}, ["eval", "findings", "--scores", "s.csv", "--labels", "l.csv"],
         r"l\.csv: " + _BAD_BYTES),
        ({"l.csv": GOOD_SCORES.replace(b"0.2", b"1"), "s.csv": LATIN1_LABELS},
         ["eval", "findings", "--scores", "s.csv", "--labels", "l.csv"], r"s\.csv: " + _BAD_BYTES),
        ({"p.csv": "id,text\nr\u00e9,x\n".encode("latin-1"), "r.csv": b"id,text\na,x\n"},
         ["eval", "reports", "--pred", "p.csv", "--ref", "r.csv"], r"p\.csv: line 2: byte 0xe9 is not valid utf-8"),
        ({"p.txt": "No effusion.\nCaf\u00e9.\n".encode("latin-1"), "r.txt": b"a\nb\n"},
         ["eval", "reports", "--pred", "p.txt", "--ref", "r.txt"],
         r"p\.txt: line 2: byte 0xe9 is not valid utf-8 \(offset 16\); re-save"),
        ({"l.csv": LATIN1_LABELS, "s.csv": GOOD_SCORES},
         ["eval", "findings", "--scores", "s.csv", "--labels", "l.csv", "--encoding", "klingon"],
         r"unknown encoding 'klingon' given with --encoding; expected e\.g\. utf-8, latin-1"),
        ({"s.csv": GOOD_SCORES}, ["eval", "findings", "--scores", "s.csv", "--labels", "l.csv"], r"l\.csv: no such file"),
        ({"p.csv": b"id,body\na,x\n", "r.csv": b"id,text\na,x\n"}, ["eval", "reports", "--pred", "p.csv", "--ref", "r.csv"],
         r"p\.csv: missing column\(s\) 'text'; found 'id', 'body'"),
        ({"l.csv": b"id,Edema\na,1\na,0\n", "s.csv": GOOD_SCORES},
         ["eval", "findings", "--scores", "s.csv", "--labels", "l.csv"], r"l\.csv: row 2 \(line 3\): id 'a' appears twice"),
        # cxrpilot label on the same bytes says the same
        ({"l.csv": LATIN1_LABELS}, ["label", "l.csv", "--text-column", "Edema"], r"l\.csv: " + _BAD_BYTES),
    ],
)
def test_unreadable_inputs_give_one_line_errors(tmp_path, capsys, monkeypatch, files, argv, message):
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("cxrpilot: error: ") and err.count("\n") == 1, err
    assert re.search(message, err), err


def test_eval_findings_reads_a_latin1_csv_with_encoding(tmp_path, capsys, monkeypatch):
    (tmp_path / "l.csv").write_bytes("id,Edema\nr\u00e9f-1,1\nb,0\n".encode("latin-1"))
    (tmp_path / "s.csv").write_bytes("id,Edema\nr\u00e9f-1,0.9\nb,0.2\n".encode("latin-1"))
    monkeypatch.chdir(tmp_path)
    assert main(["eval", "findings", "--scores", "s.csv", "--labels", "l.csv", "--encoding", "latin-1",
                 "--n-bootstrap", "50", "--json"]) == 0
    assert "Edema" in capsys.readouterr().out
