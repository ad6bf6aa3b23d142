"""The RESULTS folder: one Parquet part file per finished block, read back deduplicated.

Layout: ``RESULTS/part-<run>-<seq>.parquet``, each written to a hidden temporary file in the
same folder and moved into place with :func:`os.replace` (atomic on POSIX), so a crash leaves
either a whole part file or none. Rows are keyed by the image's content sha256 (by its source
path for a file that could not be read); :func:`read_results` keeps one row per key.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cxrpilot.errors import InvalidDatasetError, require

__all__ = ["result_schema", "draft_row", "failure_row", "write_part", "read_results", "DoneIndex",
           "PART_GLOB"]

PART_GLOB = "part-*.parquet"
_TIMING_STAGES = ("read", "load", "draft")


def result_schema() -> Any:
    """The pyarrow schema of a results row (see :func:`cxrpilot.batch.run_batch`)."""
    pa = require("pyarrow", extra="batch")
    finding = pa.struct([("name", pa.string()), ("status", pa.string()),
                         ("probability", pa.float64())])
    return pa.schema([
        ("source", pa.string()),
        ("sha256", pa.string()),
        ("size_bytes", pa.int64()),
        ("mtime_ns", pa.int64()),
        ("study_id", pa.string()),
        ("image_id", pa.string()),
        ("status", pa.string()),
        ("error", pa.string()),
        ("error_type", pa.string()),
        ("findings", pa.list_(finding)),
        ("findings_text", pa.string()),
        ("impression_text", pa.string()),
        ("model_id", pa.string()),
        ("model_version", pa.string()),
        ("maps_json", pa.string()),
        ("read_s", pa.float64()),
        ("load_s", pa.float64()),
        ("draft_s", pa.float64()),
        ("timings", pa.map_(pa.string(), pa.float64())),
        ("worker", pa.string()),
        ("node_id", pa.string()),
        ("finished_at", pa.timestamp("us", tz="UTC")),
    ])


def _base(item: dict[str, Any], *, sha256: str | None, size: int, mtime_ns: int,
          worker: str, node_id: str | None, finished_at: Any) -> dict[str, Any]:
    return {
        "source": item["source"], "sha256": sha256, "size_bytes": size, "mtime_ns": mtime_ns,
        "study_id": item.get("study_id"), "image_id": item.get("image_id"),
        "worker": worker, "node_id": node_id, "finished_at": finished_at,
    }


def draft_row(item: dict[str, Any], draft: Any, *, sha256: str, size: int, mtime_ns: int,
              read_s: float, load_s: float, draft_s: float, worker: str,
              finished_at: Any, node_id: str | None = None) -> dict[str, Any]:
    """The row of an image drafted without error (``draft``: a :class:`~cxrpilot.draft.Draft`)."""
    maps = [{"name": m.name, "grid": [list(r) for r in m.grid]} for m in draft.maps]
    return {
        **_base(item, sha256=sha256, size=size, mtime_ns=mtime_ns, worker=worker,
                node_id=node_id, finished_at=finished_at),
        "status": "ok", "error": None, "error_type": None,
        "findings": [{"name": f.name, "status": str(f.status), "probability": f.probability}
                     for f in draft.findings],
        "findings_text": draft.findings_text, "impression_text": draft.impression_text,
        "model_id": draft.model_id, "model_version": draft.model_version,
        "maps_json": json.dumps(maps, separators=(",", ":")) if maps else None,
        "read_s": read_s, "load_s": load_s, "draft_s": draft_s,
        "timings": list(draft.timings.items()),
    }


def failure_row(item: dict[str, Any], error: BaseException, *, sha256: str | None, size: int,
                mtime_ns: int, read_s: float | None, load_s: float | None, model_id: str,
                model_version: str, worker: str, finished_at: Any,
                node_id: str | None = None) -> dict[str, Any]:
    """The row of an image that could not be drafted: the error text, no findings."""
    return {
        **_base(item, sha256=sha256, size=size, mtime_ns=mtime_ns, worker=worker,
                node_id=node_id, finished_at=finished_at),
        "status": "failed", "error": str(error) or type(error).__name__,
        "error_type": type(error).__name__,
        "findings": None, "findings_text": None, "impression_text": None,
        "model_id": model_id, "model_version": model_version, "maps_json": None,
        "read_s": read_s, "load_s": load_s, "draft_s": None, "timings": None,
    }


def write_part(table: Any, out: Path, *, run_id: str, seq: int) -> Path:
    """Write ``table`` as ``out/part-<run_id>-<seq>.parquet`` atomically (temporary file in
    the same folder, fsync, :func:`os.replace`)."""
    pq = require("pyarrow.parquet", extra="batch")
    final = out / f"part-{run_id}-{seq:06d}.parquet"
    tmp = out / f".{final.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        pq.write_table(table, tmp, compression="zstd")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return final


def _part_files(out: Path) -> list[Path]:
    return sorted(out.glob(PART_GLOB)) if out.is_dir() else []


def read_results(out: str | os.PathLike[str], *, columns: Iterable[str] | None = None) -> Any:
    """Read a RESULTS folder (or one part file) written by :func:`run_batch`, one row per image.

    Rows are deduplicated by content sha256 (by source for unreadable files): a row with
    status ``"ok"`` wins over a failed one, then the latest ``finished_at``. Temporary files
    of an interrupted write are ignored.

    Parameters
    ----------
    out : path
        The RESULTS folder (or a single ``.parquet`` file).
    columns : iterable of str, optional
        Only these columns (the key columns are read anyway, and dropped again).

    Returns
    -------
    pyarrow.Table
        With :func:`result_schema`'s columns, sorted by source.

    Raises
    ------
    InvalidDatasetError
        ``out`` does not exist, or a part file is not readable Parquet.

    Examples
    --------
    >>> table = read_results("results/")                      # doctest: +SKIP
    >>> table.num_rows, table.column_names[:3]                 # doctest: +SKIP
    (2000, ['source', 'sha256', 'size_bytes'])
    """
    pa = require("pyarrow", extra="batch")
    pq = require("pyarrow.parquet", extra="batch")
    path = Path(out)
    if not path.exists():
        raise InvalidDatasetError(f"results {str(path)!r} do not exist; expected a folder "
                                  "written by 'cxrpilot batch'")
    files = [path] if path.is_file() else _part_files(path)
    schema = result_schema()
    if not files:
        return schema.empty_table()
    tables = []
    for file in files:
        try:
            tables.append(pq.read_table(file, schema=schema))
        except (OSError, pa.ArrowInvalid) as exc:
            raise InvalidDatasetError(f"{file}: not a readable results part file: {exc}") from exc
    table = pa.concat_tables(tables)
    keep = _dedup_indices(table)
    table = table.take(pa.array(keep, type=pa.int64()))
    table = table.sort_by([("source", "ascending")])
    if columns is not None:
        table = table.select(list(columns))
    return table


def _dedup_indices(table: Any) -> list[int]:
    sha = table.column("sha256").to_pylist()
    source = table.column("source").to_pylist()
    status = table.column("status").to_pylist()
    finished = table.column("finished_at").to_pylist()
    best: dict[str, int] = {}
    for i, (h, s, st, t) in enumerate(zip(sha, source, status, finished, strict=True)):
        key = h or f"source:{s}"
        j = best.get(key)
        if j is None or (st == "ok", t) > (status[j] == "ok", finished[j]):
            best[key] = i
    return sorted(best.values())


@dataclass(frozen=True)
class DoneIndex:
    """What a RESULTS folder already holds: content hashes, and (source, size, mtime) of
    the files they came from (so unchanged files are skipped without being read)."""

    hashes: frozenset[str]
    stats: frozenset[tuple[str, int, int]]
    rows: int

    @classmethod
    def of(cls, out: Path, *, retry_failed: bool = False) -> DoneIndex:
        if not _part_files(out):
            return cls(frozenset(), frozenset(), 0)
        table = read_results(out, columns=("source", "sha256", "size_bytes", "mtime_ns", "status"))
        rows = table.to_pylist()
        if retry_failed:
            rows = [r for r in rows if r["status"] == "ok"]
        return cls(
            frozenset(r["sha256"] for r in rows if r["sha256"]),
            frozenset((r["source"], r["size_bytes"], r["mtime_ns"]) for r in rows),
            len(rows),
        )
