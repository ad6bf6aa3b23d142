"""``cxrpilot label`` end to end: CSV, JSONL, text files, IU XML folders; bad inputs."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil

import pytest

from cxrpilot.cli import main
from cxrpilot.vocabulary import OBSERVATIONS

REPORTS = [
    "FINDINGS: Mild cardiomegaly. No pleural effusion. IMPRESSION: No pneumothorax.",
    "The lungs are clear. No pneumothorax or pleural effusion.",
    "Left lower lobe airspace disease suspicious for pneumonia.",
]


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_in_csv_out(tmp_path, capsys):
    path = tmp_path / "reports.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "report"])
        writer.writerows([i, r] for i, r in enumerate(REPORTS))
    assert main(["label", str(path)]) == 0
    rows = _csv(capsys.readouterr().out)
    assert list(rows[0]) == ["source", *OBSERVATIONS]
    assert [r["source"] for r in rows] == [f"{path}:row {n}" for n in (2, 3, 4)]
    assert rows[0]["Cardiomegaly"] == "1" and rows[0]["Pleural Effusion"] == "0" and rows[0]["Edema"] == ""
    assert rows[1]["No Finding"] == "1"
    assert rows[2]["Pneumonia"] == "-1" and rows[2]["Lung Opacity"] == "1"


def test_jsonl_with_text_column_to_out_file(tmp_path, capsys):
    path = tmp_path / "reports.jsonl"
    path.write_text("\n".join(json.dumps({"body": r, "n": i}) for i, r in enumerate(REPORTS)) + "\n")
    out = tmp_path / "labels.jsonl"
    assert main(["label", str(path), "--text-column", "body", "--format", "jsonl", "--out", str(out)]) == 0
    assert capsys.readouterr().out == ""
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["labels"]["Cardiomegaly"] for r in records] == [1, None, None]
    assert records[2]["labels"]["Pneumonia"] == -1


@pytest.mark.data
def test_folder_of_txt_and_iu_xml(shared_data, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text(REPORTS[0])
    shutil.copy(shared_data / "iu-xray" / "reports" / "1.xml", folder / "1.xml")
    (folder / "notes.md").write_text("ignored")
    assert main(["label", str(folder), "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["source"] for r in records] == [str(folder / "1.xml"), str(folder / "a.txt")]
    assert records[0]["labels"]["No Finding"] == 1  # IU report 1: "Normal chest x-XXXX."
    assert records[1]["labels"]["Cardiomegaly"] == 1


def test_text_output(tmp_path, capsys):
    path = tmp_path / "r.txt"
    path.write_text(REPORTS[2])
    assert main(["label", str(path), "--format", "text"]) == 0
    out = capsys.readouterr().out
    assert f"== {path} ==" in out
    assert "Pneumonia                   uncertain" in out
    assert "Fracture                    not mentioned" in out


@pytest.mark.parametrize(
    ("name", "content", "args", "message"),
    [
        ("r.csv", b"id,body\n1,No effusion.\n", [], r"r\.csv: row 1: no report text column .*the columns are 'id', 'body'; pass --text-column"),
        ("r.csv", b"id,report\n1,x\n", ["--text-column", "impression"], r"r\.csv: row 1: no column 'impression'; the columns are 'id', 'report'"),
        ("r.txt", b"No pleural effusion.\nCaf\xe9 au lait.\n", [], r"r\.txt: line 2: byte 0xe9 is not valid utf-8 \(offset 24\); re-save the file as UTF-8 or pass --encoding"),
        ("r.txt", b"No effusion.", ["--encoding", "klingon"], r"unknown encoding 'klingon' given with --encoding"),
        ("missing.txt", None, [], r"missing\.txt: no such file"),
        ("r.txt", b"x", ["--labeler", "chexbert:/nonexistent"], r"CheXbert weights not found at '/nonexistent'"),
    ],
)
def test_user_errors_exit_2_with_a_clear_message(tmp_path, capsys, name, content, args, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    assert main(["label", str(path), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cxrpilot: error: ")
    assert re.search(message, err), err


def test_latin1_file_with_encoding_option(tmp_path, capsys):
    path = tmp_path / "r.txt"
    path.write_bytes("Small left pleural effusion. Caf\u00e9.".encode("latin-1"))
    assert main(["label", str(path), "--encoding", "latin-1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["labels"]["Pleural Effusion"] == 1


@pytest.mark.data
def test_bad_rows_and_broken_xml_are_reported_and_the_run_goes_on(shared_data, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    good = (shared_data / "iu-xray" / "reports" / "1.xml").read_bytes()
    (folder / "good.xml").write_bytes(good)
    (folder / "broken.xml").write_bytes(good[:300])
    table = tmp_path / "r.jsonl"
    table.write_text('{"report": "No effusion."}\nnot json\n[1, 2]\n{"report": 7}\n')
    assert main(["label", str(folder), str(table)]) == 1
    captured = capsys.readouterr()
    rows = _csv(captured.out)
    assert [r["source"] for r in rows] == [str(folder / "good.xml"), f"{table}:row 1"]
    err = captured.err
    assert f"{folder / 'broken.xml'}: broken XML at line" in err
    assert f"{table}: row 2: not valid JSON" in err
    assert f"{table}: row 3: expected a JSON object, got list" in err
    assert f"{table}: row 4: 'report' is a int, expected text" in err
    assert "4 input(s) failed, 2 labelled" in err


def test_csv_row_with_too_many_cells(tmp_path, capsys):
    path = tmp_path / "r.csv"
    path.write_text('id,report\n1,"No effusion."\n2,No effusion, no pneumothorax.\n')
    assert main(["label", str(path)]) == 1
    captured = capsys.readouterr()
    assert len(_csv(captured.out)) == 1
    assert f"{path}: row 2 (line 3): 3 cells but the header has 2 columns; quote cells that contain the delimiter ','" in captured.err


def test_empty_folder(tmp_path, capsys):
    assert main(["label", str(tmp_path)]) == 2
    assert "no report files (.txt, .xml) found" in capsys.readouterr().err
