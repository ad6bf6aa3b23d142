"""Input discovery shared by the sub-commands that take files or folders."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def collect_files(paths: Iterable[str], suffixes: set[str]) -> list[Path]:
    """Files named directly (kept even if missing, so the loader reports them), plus the
    non-hidden files under folders whose suffix is in ``suffixes`` (lower case, sorted)."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(
                f for f in sorted(path.rglob("*"))
                if f.is_file() and not f.name.startswith(".") and f.suffix.lower() in suffixes
            )
        else:
            found.append(path)
    return found
