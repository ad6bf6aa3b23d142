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


#: The remedy the CLI gives for an undecodable input (its commands that read text have
#: ``--encoding``); passed to :func:`cxrpilot.data.read_text` / :func:`cxrpilot.data.read_csv`.
ENCODING_FIX = "re-save the file as UTF-8 or pass --encoding with the file's encoding (e.g. latin-1, cp1252)"


def check_encoding(encoding: str) -> str:
    """The ``--encoding`` value, or :class:`InvalidInputError` if Python does not know it."""
    import codecs

    from cxrpilot.errors import InvalidInputError

    try:
        codecs.lookup(encoding)
    except LookupError:
        raise InvalidInputError(
            f"unknown encoding {encoding!r} given with --encoding; expected e.g. utf-8, latin-1, cp1252"
        ) from None
    return encoding
