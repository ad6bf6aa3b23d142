from __future__ import annotations

import gzip

import pytest

from cxrpilot.data._common import normalise_view
from cxrpilot.data._tables import parse_label, read_csv, read_text
from cxrpilot.errors import InvalidDatasetError


@pytest.mark.parametrize(
    ("raw", "view"),
    [
        ("PA", "PA"),
        ("ap", "AP"),
        ("AP Supine", "AP SUPINE"),
        ("L", "LATERAL"),
        ("LL", "LATERAL"),
        ("RL", "LATERAL"),
        ("Lateral", "LATERAL"),
        ("LARGE LATERAL", "LATERAL"),
        ("", None),
        ("?", None),
        (None, None),
        ("  pa ", "PA"),
    ],
)
def test_normalise_view(raw, view):
    assert normalise_view(raw) == view


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", 1),
        ("1.0", 1),
        ("0.0", 0),
        ("-1.0", -1),
        ("", None),
        (" ", None),
        (None, None),
        (1, 1),
        (-1.0, -1),
        (float("nan"), None),
        (True, 1),
        ("present", 1),
    ],
)
def test_parse_label(value, expected):
    assert parse_label(value, path="f.csv", row=1, line=2, column="Edema") == expected


@pytest.mark.parametrize("value", ["2", "yes", 0.5, "1.5"])
def test_parse_label_bad(value):
    with pytest.raises(
        InvalidDatasetError, match=r"f\.csv: row 3 \(line 4\): column 'Edema' has label value"
    ):
        parse_label(value, path="f.csv", row=3, line=4, column="Edema")


def test_read_csv_gz_bom_and_multiline(tmp_path):
    path = tmp_path / "t.csv.gz"
    path.write_bytes(gzip.compress('\ufeffa,b\n1,"two\nlines"\n\n3,4\n'.encode()))
    header, rows = read_csv(path, required=("a",))
    assert header == ["a", "b"]
    assert list(rows) == [(1, 2, {"a": "1", "b": "two\nlines"}), (2, 5, {"a": "3", "b": "4"})]


@pytest.mark.parametrize(
    ("data", "name", "match"),
    [
        (b"\x1f\x8b\x08 broken", "t.csv.gz", r"t\.csv\.gz: not a readable gzip file"),
        (b"a\n\xff\n", "t.csv", r"t\.csv: line 2: byte 0xff is not valid utf-8"),
    ],
)
def test_read_text_bad(tmp_path, data, name, match):
    (tmp_path / name).write_bytes(data)
    with pytest.raises(InvalidDatasetError, match=match):
        read_text(tmp_path / name)


def test_read_text_unknown_encoding(tmp_path):
    (tmp_path / "t.csv").write_text("a\n")
    with pytest.raises(InvalidDatasetError, match=r"unknown encoding 'klingon'"):
        read_text(tmp_path / "t.csv", encoding="klingon")
    with pytest.raises(InvalidDatasetError, match=r"nope\.csv: no such file"):
        read_text(tmp_path / "nope.csv")
