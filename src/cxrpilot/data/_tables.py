"""Reading the CSV/JSONL tables datasets come with, with errors that name the file and row."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from cxrpilot.errors import InvalidDatasetError, read_input_file

__all__ = ["read_text", "read_csv", "read_jsonl", "Row", "parse_label", "parse_int", "parse_float"]

#: One table row: its 1-based data-row number, the line it starts on, and its cells.
Row = tuple[int, int, dict[str, str]]


#: What an undecodable-file error tells a caller of the library to do.
DECODE_FIX = "re-save the file as UTF-8 or pass the file's encoding (e.g. encoding='latin-1')"


def read_text(path: str | Path, *, encoding: str = "utf-8", fix: str = DECODE_FIX) -> str:
    """Read a text file (``.gz`` transparently) or raise :class:`InvalidDatasetError`.

    Parameters
    ----------
    path : str or Path
    encoding : str
        ``utf-8`` (the default) also accepts a leading byte-order mark.
    fix : str
        The remedy the undecodable-bytes message ends with (the CLI names its
        ``--encoding`` option instead of the keyword argument).

    Raises
    ------
    InvalidDatasetError
        Naming the file: missing, a folder, unreadable, not gzip, an unknown encoding, or
        the line, byte and offset of the first undecodable byte and the encoding tried.

    Examples
    --------
    >>> read_text("reports.csv")  # doctest: +SKIP
    """
    path = Path(path)
    raw = read_input_file(path, error=InvalidDatasetError, expected="a text file")
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise InvalidDatasetError(f"{path}: not a readable gzip file ({exc})") from None
    if encoding.lower().replace("-", "").replace("_", "") == "utf8":
        encoding = "utf-8-sig"  # tolerate a byte-order mark
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InvalidDatasetError(
            f"{path}: line {line}: byte {raw[exc.start]:#04x} is not valid {encoding.removesuffix('-sig')} "
            f"(offset {exc.start}); {fix}"
        ) from None
    except LookupError:
        raise InvalidDatasetError(f"{path}: unknown encoding {encoding!r}; expected e.g. utf-8, latin-1") from None


def read_csv(
    path: str | Path,
    *,
    required: Sequence[str] = (),
    encoding: str = "utf-8",
    delimiter: str = ",",
    fix: str = DECODE_FIX,
) -> tuple[list[str], Iterator[Row]]:
    """Open a CSV table; return its header and an iterator of :data:`Row`.

    Parameters
    ----------
    path : str or Path
    required : sequence of str
        Columns the header must have.
    encoding, fix
        As in :func:`read_text`.
    delimiter : str

    Raises
    ------
    InvalidDatasetError
        When the file is missing, empty, undecodable, lacks a ``required`` column, or (from
        the iterator) has a malformed row or one with more cells than the header.

    Examples
    --------
    >>> header, rows = read_csv("labels.csv", required=("id",))  # doctest: +SKIP
    >>> for number, line, cells in rows: ...  # doctest: +SKIP
    """
    path = Path(path)
    text = read_text(path, encoding=encoding, fix=fix)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidDatasetError(f"{path}: empty file; expected a header row") from None
    except csv.Error as exc:
        raise InvalidDatasetError(f"{path}: line 1: not a CSV header ({exc})") from None
    header = [h.strip() for h in header]
    missing = [c for c in required if c not in header]
    if missing:
        raise InvalidDatasetError(
            f"{path}: missing column(s) {', '.join(map(repr, missing))}; "
            f"found {', '.join(map(repr, header))}"
        )

    def rows() -> Iterator[Row]:
        number = 0
        line = reader.line_num + 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise InvalidDatasetError(
                    f"{path}: row {number + 1} (line {line}): malformed CSV ({exc})"
                ) from None
            if not cells or all(not c.strip() for c in cells):
                line = reader.line_num + 1
                continue
            number += 1
            if len(cells) > len(header):
                raise InvalidDatasetError(
                    f"{path}: row {number} (line {line}): {len(cells)} cells but the header has "
                    f"{len(header)} columns; quote cells that contain the delimiter {delimiter!r}"
                )
            cells += [""] * (len(header) - len(cells))
            yield number, line, dict(zip(header, cells, strict=True))
            line = reader.line_num + 1

    return header, rows()


def read_jsonl(path: str | Path, *, encoding: str = "utf-8") -> Iterator[Row]:
    """Iterate a JSON-lines file as :data:`Row` (each line one JSON object)."""
    path = Path(path)
    text = read_text(path, encoding=encoding)
    number = 0
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        number += 1
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidDatasetError(
                f"{path}: row {number} (line {line_no}): not valid JSON ({exc.msg})"
            ) from None
        if not isinstance(obj, dict):
            raise InvalidDatasetError(
                f"{path}: row {number} (line {line_no}): expected a JSON object, got {type(obj).__name__}"
            )
        yield number, line_no, {str(k): v for k, v in obj.items()}


_LABEL_VALUES: dict[str, int | None] = {
    "1": 1,
    "1.0": 1,
    "0": 0,
    "0.0": 0,
    "-1": -1,
    "-1.0": -1,
    "": None,
    "nan": None,
    "true": 1,
    "false": 0,
    "present": 1,
    "absent": 0,
    "uncertain": -1,
}


def parse_label(value: Any, *, path: Path | str, row: int, line: int, column: str) -> int | None:
    """A label cell -> 1, 0, -1 or None; anything else raises naming file, row and column."""
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        if value != value:  # NaN  # noqa: PLR0124
            return None
        if value in (1, 0, -1):
            return int(value)
    else:
        key = str(value).strip().lower()
        if key in _LABEL_VALUES:
            return _LABEL_VALUES[key]
    raise InvalidDatasetError(
        f"{path}: row {row} (line {line}): column {column!r} has label value {value!r}; "
        "expected 1, 0, -1 or blank (1.0/0.0/-1.0 also accepted)"
    )


def parse_int(value: str | None) -> int | None:
    """``"57"`` -> 57, ``"57.0"`` -> 57; blank or unparsable -> None."""
    number = parse_float(value)
    return None if number is None or number in (float("inf"), float("-inf")) else int(number)


def parse_float(value: str | None) -> float | None:
    """``"0.143"`` -> 0.143; blank or unparsable -> None."""
    if value is None:
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if number == number else None  # noqa: PLR0124
