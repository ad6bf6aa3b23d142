"""The RESULTS folder without Ray: atomic part files, deduplicated reading, sources."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

pa = pytest.importorskip("pyarrow")

from cxrpilot.batch import read_results, result_schema
from cxrpilot.batch._results import DoneIndex, write_part
from cxrpilot.batch._sources import list_items
from cxrpilot.errors import InvalidDatasetError

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _row(source, sha, status, minutes=0):
    return {"source": source, "sha256": sha, "size_bytes": 1, "mtime_ns": 2, "status": status,
            "finished_at": T0 + timedelta(minutes=minutes)}


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([_row("a", "h1", "ok"), _row("b", "h2", "ok")], [("a", "ok"), ("b", "ok")]),
        # the same content twice (a retried block, a copy under another path): one row
        ([_row("a", "h1", "ok"), _row("a2", "h1", "ok", 1)], [("a2", "ok")]),
        # ok wins over failed whatever the order; then the latest
        ([_row("a", "h1", "ok"), _row("a", "h1", "failed", 5)], [("a", "ok")]),
        ([_row("a", "h1", "failed", 1), _row("a", "h1", "failed", 3)], [("a", "failed")]),
        # unreadable files (no hash) are keyed by source
        ([_row("x", None, "failed"), _row("x", None, "failed", 1), _row("y", None, "failed")],
         [("x", "failed"), ("y", "failed")]),
    ],
)
def test_read_results_keeps_one_row_per_image(tmp_path, rows, expected):
    for i, row in enumerate(rows):
        write_part(pa.Table.from_pylist([row], schema=result_schema()), tmp_path, run_id="r", seq=i)
    table = read_results(tmp_path)
    assert [(r["source"], r["status"]) for r in table.to_pylist()] == expected


def test_write_part_is_atomic_and_temporary_files_are_ignored(tmp_path):
    table = pa.Table.from_pylist([_row("a", "h1", "ok")], schema=result_schema())
    final = write_part(table, tmp_path, run_id="r", seq=7)
    assert final.name == "part-r-000007.parquet"
    assert [p.name for p in tmp_path.iterdir()] == [final.name]
    (tmp_path / ".part-r-000008.parquet.abcd.tmp").write_bytes(b"PAR1 half written")
    assert read_results(tmp_path).num_rows == 1
    done = DoneIndex.of(tmp_path)
    assert done.hashes == {"h1"} and done.stats == {("a", 1, 2)}


def test_read_results_names_a_broken_part_file(tmp_path):
    (tmp_path / "part-x-000000.parquet").write_bytes(b"not parquet")
    with pytest.raises(InvalidDatasetError, match=r"part-x-000000\.parquet: not a readable"):
        read_results(tmp_path)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing", r"does not exist; expected a folder of images or a CSV/JSONL"),
        (lambda p: (p / "notes.txt").write_text("x") and p / "notes.txt",
         r"neither a folder nor a manifest"),
        (lambda p: p, r"no image files found"),
    ],
)
def test_bad_sources_are_named(tmp_path, make, message):
    with pytest.raises(InvalidDatasetError, match=message):
        list_items(make(tmp_path))


def test_a_manifest_gives_its_image_paths_and_ids(tmp_path):
    (tmp_path / "m.csv").write_text("path,study_id,image_id\na.png,s1,i1\nsub/b.dcm,s2,i2\n")
    items = list_items(tmp_path / "m.csv")
    assert [(i["source"], i["study_id"], i["image_id"]) for i in items] == [
        (str(tmp_path / "a.png"), "s1", "i1"), (str(tmp_path / "sub" / "b.dcm"), "s2", "i2")]


def test_sources_and_model_paths_are_made_absolute_for_workers_on_other_nodes(tmp_path,
                                                                             monkeypatch):
    from cxrpilot.batch._run import _portable_model

    (tmp_path / "archive").mkdir()
    (tmp_path / "archive" / "a.png").write_bytes(b"x")
    (tmp_path / "m.csv").write_text("path,study_id,image_id\narchive/a.png,s1,i1\n")
    (tmp_path / "model").mkdir()
    monkeypatch.chdir(tmp_path)
    want = str(tmp_path / "archive" / "a.png")
    assert [i["source"] for i in list_items("archive")] == [want]
    assert [i["source"] for i in list_items("m.csv")] == [want]
    assert _portable_model("expert:model") == f"expert:{tmp_path / 'model'}"
    assert _portable_model("janus:./model") == f"janus:{tmp_path / 'model'}"
    # a shipped model's name, the default and a callable travel as they are
    assert [_portable_model(m) for m in ("expert:expert-resnet10", "expert", None)] == \
        ["expert:expert-resnet10", "expert", None]
