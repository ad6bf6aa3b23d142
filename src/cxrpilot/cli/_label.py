"""``cxrpilot label REPORTS...``: label report texts with the 14 observations.

Inputs, recognised by suffix: ``.csv`` (one report per row, text in ``--text-column``),
``.jsonl`` (one JSON object per line, text under ``--text-column``), ``.txt`` (one report
per file), ``.xml`` (an IU Open-i report), or a folder of ``.txt`` / ``.xml`` files.
Output: CSV with a ``source`` column and the 14 observation columns (1 present, 0 absent,
-1 uncertain, blank not mentioned) by default; ``--format jsonl`` or ``text``; ``--json``
prints JSON lines. A bad file or row is reported (naming the file and row) and the run goes
on; the exit status is then 1. A missing text column or an undecodable file is an error.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from cxrpilot.cli._inputs import ENCODING_FIX, add_encoding_option, check_encoding
from cxrpilot.data import find_files
from cxrpilot.errors import CxrpilotError, InvalidDatasetError

TEXT_SUFFIXES = {".txt", ".xml"}
TABLE_SUFFIXES = {".csv", ".jsonl", ".ndjson"}
DEFAULT_COLUMNS = ("report", "text", "report_text", "Report Impression")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "label",
        help="Label radiology reports with the 14 CheXpert observations.",
        description="Label each report (FINDINGS + IMPRESSION; the whole text when it has no "
        "headings) as 1 present, 0 absent, -1 uncertain or blank (not mentioned) for the 14 "
        "observations. Inputs: .csv, .jsonl, .txt, IU .xml, or folders of .txt/.xml.",
    )
    p.add_argument("paths", nargs="+", metavar="REPORTS", help="report files or folders")
    p.add_argument("--format", choices=("csv", "jsonl", "text"), default="csv", help="output format (default csv)")
    p.add_argument("--text-column", default=None,
                   help=f"column / key holding the report text in CSV and JSONL (default: the first of {', '.join(DEFAULT_COLUMNS)})")
    add_encoding_option(p)
    p.add_argument("--labeler", default="rules", help="'rules' (default) or 'chexbert:PATH'")
    p.add_argument("--out", default=None, metavar="FILE", help="write the labels here instead of standard output")
    p.add_argument("--json", action="store_true", help="machine output: JSON lines (same as --format jsonl)")
    p.set_defaults(handler=run)


def _read(path: Path, encoding: str) -> str:
    from cxrpilot.data import read_text

    return read_text(path, encoding=encoding, fix=ENCODING_FIX)


def _pick_column(path: Path, columns: list[str], wanted: str | None) -> str:
    if wanted is not None:
        if wanted not in columns:
            raise InvalidDatasetError(
                f"{path}: row 1: no column {wanted!r}; the columns are {', '.join(map(repr, columns)) or 'none'}; "
                "pass --text-column with one of them"
            )
        return wanted
    for name in DEFAULT_COLUMNS:
        if name in columns:
            return name
    raise InvalidDatasetError(
        f"{path}: row 1: no report text column ({', '.join(DEFAULT_COLUMNS)}); the columns are "
        f"{', '.join(map(repr, columns)) or 'none'}; pass --text-column"
    )


def iter_reports(path: Path, *, text_column: str | None, encoding: str) -> Iterator[tuple[str, str | CxrpilotError]]:
    """``(source, text)`` per report of one input; a bad row gives ``(source, error)``.

    Raises :class:`InvalidDatasetError` for a file that cannot be read at all (missing,
    undecodable, no text column).
    """
    suffix = path.suffix.lower()
    if suffix == ".xml":
        from cxrpilot.reports import read_iu_xml

        try:
            yield str(path), read_iu_xml(path).text
        except CxrpilotError as exc:
            yield str(path), exc
        return
    if suffix == ".csv":
        from cxrpilot.data import read_csv

        header, rows = read_csv(path, encoding=encoding, fix=ENCODING_FIX)
        column = _pick_column(path, header, text_column)
        try:
            for _, line, record in rows:
                yield f"{path}:row {line}", record[column]
        except InvalidDatasetError as exc:  # a malformed row ends the table; earlier rows stand
            yield str(path), exc
        return
    if suffix in (".jsonl", ".ndjson"):
        text = _read(path, encoding)
        column_checked = False
        for row, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            source = f"{path}:row {row}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield source, InvalidDatasetError(f"{path}: row {row}: not valid JSON ({exc.msg} at column {exc.colno})")
                continue
            if not isinstance(record, dict):
                yield source, InvalidDatasetError(f"{path}: row {row}: expected a JSON object, got {type(record).__name__}")
                continue
            if not column_checked:
                text_column = _pick_column(path, list(record), text_column)
                column_checked = True
            value = record.get(text_column)
            if value is not None and not isinstance(value, str):
                yield source, InvalidDatasetError(f"{path}: row {row}: {text_column!r} is a {type(value).__name__}, expected text")
                continue
            yield source, value or ""
        return
    yield str(path), _read(path, encoding)


def _cell(value: int | None) -> str:
    return "" if value is None else str(value)


def run(args: argparse.Namespace) -> int:
    from cxrpilot.reports import get_labeler
    from cxrpilot.vocabulary import LABEL_STATUS, OBSERVATIONS

    check_encoding(args.encoding)
    inputs = find_files(args.paths, TEXT_SUFFIXES)
    if not inputs:
        raise CxrpilotError(f"no report files (.txt, .xml) found in {', '.join(args.paths)}")
    labeler = get_labeler(args.labeler)
    fmt = "jsonl" if args.json else args.format

    sources: list[str] = []
    texts: list[str] = []
    errors: list[tuple[str, str]] = []
    for path in inputs:
        try:
            for source, item in iter_reports(path, text_column=args.text_column, encoding=args.encoding):
                if isinstance(item, CxrpilotError):
                    errors.append((source, str(item)))
                else:
                    sources.append(source)
                    texts.append(item)
        except CxrpilotError as exc:
            if len(inputs) == 1:
                raise
            errors.append((str(path), str(exc)))
    labels = labeler(texts) if texts else []

    out = open(args.out, "w", newline="", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115
    try:
        if fmt == "csv":
            writer = csv.writer(out)
            writer.writerow(["source", *OBSERVATIONS])
            for source, lab in zip(sources, labels):
                writer.writerow([source, *(_cell(lab[n]) for n in OBSERVATIONS)])
        elif fmt == "jsonl":
            for source, lab in zip(sources, labels):
                out.write(json.dumps({"source": source, "labels": lab}) + "\n")
            for source, message in errors:
                out.write(json.dumps({"source": source, "error": message}) + "\n")
        else:
            words = {value: status.label for value, status in LABEL_STATUS.items()} | {None: "not mentioned"}
            for source, lab in zip(sources, labels):
                out.write(f"== {source} ==\n")
                for name in OBSERVATIONS:
                    out.write(f"  {name:<28}{words[lab[name]]}\n")
    finally:
        if args.out:
            out.close()
    for source, message in errors:
        print(f"cxrpilot: {message}" if message.startswith(source.split(':row')[0]) else f"cxrpilot: {source}: {message}",
              file=sys.stderr)
    if errors:
        print(f"cxrpilot: {len(errors)} input(s) failed, {len(sources)} labelled", file=sys.stderr)
    return 1 if errors else 0
