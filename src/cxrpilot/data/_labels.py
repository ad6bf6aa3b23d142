"""Reading the 14 CheXpert label columns (CheXpert CSV, MIMIC-CXR ``-chexpert.csv``, manifests)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from cxrpilot.data._tables import parse_label
from cxrpilot.vocabulary import OBSERVATIONS

__all__ = ["label_columns", "read_labels"]


def _key(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name).lower()


_BY_KEY = {_key(o): o for o in OBSERVATIONS}


def label_columns(header: Sequence[str]) -> dict[str, str]:
    """Header column -> observation for columns named like one of the 14 (case, spaces,
    ``_`` and ``-`` ignored: ``pleural_effusion`` is Pleural Effusion)."""
    out = {}
    for column in header:
        name = _BY_KEY.get(_key(column))
        if name is not None:
            out[column] = name
    return out


def read_labels(
    cells: Mapping[str, object],
    columns: Mapping[str, str],
    *,
    path: Path | str,
    row: int,
    line: int,
) -> dict[str, int | None]:
    """The labels of one row: every label column a key (blank -> None = not mentioned)."""
    return {
        name: parse_label(cells.get(column), path=path, row=row, line=line, column=column)
        for column, name in columns.items()
    }
