"""The tidy reader-study export: schema, loading and validation.

A study export is a folder with two CSV files (or one JSON file ``{"reads": [...],
"evaluations": [...]}``, as the workstation's export returns them):

``reads.csv`` — one row per signed read
    study, case, reader, arm (``ai_assisted`` | ``scp``), started_at, signed_at (ISO 8601),
    active_seconds (number, may be empty), draft_text (the AI draft; empty in the scp arm),
    final_text (the signed report).

``evaluations.csv`` — one row per rating of one report by one blinded evaluator
    study, case, evaluator, report_id, arm, likert (1-5), radpeer (1, 2a, 2b, 3a, 3b),
    preference (1 = this report preferred over the other report of its pair, 0 = the other
    preferred, 0.5 = no preference, empty = not part of a pair).

Other columns are kept and ignored. See ``docs/evaluation.md``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cxrpilot.errors import InvalidDatasetError, require
from cxrpilot.vocabulary import ARMS, EVALUATION_COLUMNS, RADPEER_SCORES, READ_COLUMNS

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


@dataclass(frozen=True)
class StudyData:
    """A validated reader-study export.

    Attributes
    ----------
    reads : pandas.DataFrame
        The reads with two derived columns: ``wall_seconds`` (signed_at - started_at) and
        ``seconds`` (the reading time the analysis uses; see :func:`load_study`).
    evaluations : pandas.DataFrame
        The ratings; ``radpeer`` as a string, ``likert`` as int, ``preference`` as float (NaN
        when empty).
    source : str
        Where the data came from.
    """

    reads: pd.DataFrame
    evaluations: pd.DataFrame
    source: str


def _fail(source: str, message: str) -> InvalidDatasetError:
    return InvalidDatasetError(f"{source}: {message}")


def _check_columns(df: pd.DataFrame, required: tuple[str, ...], source: str) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise _fail(source, f"missing column(s) {missing}; expected columns {', '.join(required)} "
                            "(see docs/evaluation.md)")


def _row_error(source: str, row: int, column: str, value: Any, expected: str) -> InvalidDatasetError:
    # row numbers as in a spreadsheet: the header is line 1
    return _fail(source, f"row {row + 2}, column {column!r}: {value!r}; expected {expected}")


def _clean_reads(reads: pd.DataFrame, source: str, time: str) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    _check_columns(reads, READ_COLUMNS, source)
    reads = reads.copy()
    for col in ("study", "case", "reader", "arm"):
        reads[col] = reads[col].astype("string").str.strip()
    for col in ("draft_text", "final_text"):
        reads[col] = reads[col].fillna("").astype(str)
    for i, arm in enumerate(reads["arm"]):
        if arm not in ARMS:
            raise _row_error(source, i, "arm", arm, f"one of {', '.join(ARMS)}")
    for col in ("started_at", "signed_at"):
        parsed = pd.to_datetime(reads[col], errors="coerce", utc=True, format="ISO8601")
        bad = parsed.isna() & reads[col].notna() & (reads[col].astype(str).str.strip() != "")
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise _row_error(source, i, col, reads[col].iloc[i], "an ISO 8601 date-time")
        reads[col] = parsed
    reads["wall_seconds"] = (reads["signed_at"] - reads["started_at"]).dt.total_seconds()
    neg = reads["wall_seconds"] < 0
    if neg.any():
        i = int(np.flatnonzero(neg.to_numpy())[0])
        raise _row_error(source, i, "signed_at", str(reads["signed_at"].iloc[i]), "a time after started_at")
    active = pd.to_numeric(reads["active_seconds"], errors="coerce")
    bad = (active.isna() & reads["active_seconds"].notna() & (reads["active_seconds"].astype(str).str.strip() != "")) | (active < 0)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise _row_error(source, i, "active_seconds", reads["active_seconds"].iloc[i], "a number >= 0 or empty")
    reads["active_seconds"] = active.astype(float)
    if time not in ("wall", "active"):
        raise InvalidDatasetError(f"time must be 'wall' or 'active'; got {time!r}")
    reads["seconds"] = reads["wall_seconds"] if time == "wall" else reads["active_seconds"]
    return reads


def _clean_evaluations(ev: pd.DataFrame, source: str) -> pd.DataFrame:
    import pandas as pd

    _check_columns(ev, EVALUATION_COLUMNS, source)
    ev = ev.copy()
    for col in ("study", "case", "evaluator", "report_id", "arm"):
        ev[col] = ev[col].astype("string").str.strip()
    likert, radpeer, pref = [], [], []
    for i, (arm, lk, rp, pf) in enumerate(zip(ev["arm"], ev["likert"], ev["radpeer"], ev["preference"], strict=True)):
        if arm not in ARMS:
            raise _row_error(source, i, "arm", arm, f"one of {', '.join(ARMS)}")
        try:
            lk_num = float(lk)
        except (TypeError, ValueError):
            lk_num = math.nan
        if not (lk_num in (1, 2, 3, 4, 5)):
            raise _row_error(source, i, "likert", lk, "an integer 1-5")
        likert.append(int(lk_num))
        rp_s = str(rp).strip().lower()
        rp_s = rp_s.removesuffix(".0")
        if rp_s not in RADPEER_SCORES:
            raise _row_error(source, i, "radpeer", rp, f"one of {', '.join(RADPEER_SCORES)}")
        radpeer.append(rp_s)
        if pf is None or (isinstance(pf, float) and math.isnan(pf)) or str(pf).strip() in ("", "nan", "<NA>", "None"):
            pref.append(math.nan)
        else:
            try:
                v = float(pf)
            except (TypeError, ValueError):
                v = math.nan
            if v not in (0.0, 0.5, 1.0):
                raise _row_error(source, i, "preference", pf, "1 (preferred), 0, 0.5 (no preference) or empty")
            pref.append(v)
    ev["likert"] = pd.Series(likert, index=ev.index, dtype="int64")
    ev["radpeer"] = pd.Series(radpeer, index=ev.index, dtype="string")
    ev["preference"] = pd.Series(pref, index=ev.index, dtype="float64")
    return ev


def study_from_records(
    reads: list[dict[str, Any]] | pd.DataFrame,
    evaluations: list[dict[str, Any]] | pd.DataFrame | None = None,
    *,
    time: str = "wall",
    source: str = "<records>",
) -> StudyData:
    """Validate reads and evaluations given as records or DataFrames (see :func:`load_study`)."""
    pd: Any = require("pandas", extra="eval")
    reads_df = reads if isinstance(reads, pd.DataFrame) else pd.DataFrame(list(reads))
    if evaluations is None:
        ev_df = pd.DataFrame({c: pd.Series(dtype="object") for c in EVALUATION_COLUMNS})
    else:
        ev_df = evaluations if isinstance(evaluations, pd.DataFrame) else pd.DataFrame(list(evaluations))
        if ev_df.empty and not len(ev_df.columns):
            ev_df = pd.DataFrame({c: pd.Series(dtype="object") for c in EVALUATION_COLUMNS})
    if reads_df.empty and not len(reads_df.columns):
        reads_df = pd.DataFrame({c: pd.Series(dtype="object") for c in READ_COLUMNS})
    return StudyData(
        _clean_reads(reads_df, f"{source} (reads)", time),
        _clean_evaluations(ev_df, f"{source} (evaluations)"),
        source,
    )


def load_study(path: str | Path, *, time: str = "wall") -> StudyData:
    """Load and validate a reader-study export.

    Parameters
    ----------
    path : path
        A folder with ``reads.csv`` and (optionally) ``evaluations.csv``, or a JSON file
        ``{"reads": [...], "evaluations": [...]}``.
    time : {"wall", "active"}, default "wall"
        The reading time analysed: ``"wall"`` is image first shown to report signed
        (signed_at - started_at), ``"active"`` the ``active_seconds`` column (time the
        case was visible and focused).

    Returns
    -------
    StudyData

    Raises
    ------
    InvalidDatasetError
        A missing file or column, or a value out of its domain; the message names the file,
        the row (as a spreadsheet numbers it) and the column.
    """
    pd: Any = require("pandas", extra="eval")
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidDatasetError(f"{path}: not a readable JSON export: {exc}") from exc
        if not isinstance(data, dict) or "reads" not in data:
            raise InvalidDatasetError(f"{path}: expected a JSON object with 'reads' and 'evaluations' lists")
        return study_from_records(data["reads"], data.get("evaluations") or [], time=time, source=str(path))
    if not path.is_dir():
        raise InvalidDatasetError(f"{path}: no such study export; expected a folder with reads.csv "
                                  "and evaluations.csv, or an export .json file")
    reads_file = path / "reads.csv"
    if not reads_file.is_file():
        raise InvalidDatasetError(f"{path}: reads.csv is missing; a study export has reads.csv and "
                                  "evaluations.csv (see docs/evaluation.md)")
    read_kw = {"dtype": str, "keep_default_na": False, "na_values": [""]}
    try:
        reads = pd.read_csv(reads_file, **read_kw)
        ev_file = path / "evaluations.csv"
        ev = pd.read_csv(ev_file, **read_kw) if ev_file.is_file() else None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InvalidDatasetError(f"{path}: could not parse the CSV files: {exc}") from exc
    return StudyData(
        _clean_reads(reads, str(reads_file), time),
        _clean_evaluations(ev if ev is not None else pd.DataFrame({c: [] for c in EVALUATION_COLUMNS}),
                           str(path / "evaluations.csv")),
        str(path),
    )
