"""Finding input files: the files named, plus those of a kind found under folders."""

from __future__ import annotations

from collections.abc import Iterable
from os import PathLike
from pathlib import Path

__all__ = ["find_files", "RADIOGRAPH_SUFFIXES"]

#: Suffixes of the files :func:`cxrpilot.imaging.load` is given from a folder (``""``: DICOM
#: files without one; the format is recognised from the content, not the name).
RADIOGRAPH_SUFFIXES: frozenset[str] = frozenset({".dcm", ".dicom", ".png", ".jpg", ".jpeg", ""})


def find_files(paths: Iterable[str | PathLike[str]], suffixes: Iterable[str]) -> list[Path]:
    """The files named directly, plus the files under the folders named whose suffix is in
    ``suffixes``.

    Parameters
    ----------
    paths : iterable of str or path
        Files and folders. A named file is kept even when it does not exist, so that the
        reader reports it by name; folders are searched recursively, hidden files left out.
    suffixes : iterable of str
        Lower-case suffixes with the dot (``".png"``); ``""`` for files without one.

    Returns
    -------
    list of Path
        In the order given, each folder's files sorted.

    >>> find_files(["no-such-file.dcm"], RADIOGRAPH_SUFFIXES)
    [PosixPath('no-such-file.dcm')]
    """
    wanted = frozenset(suffixes)
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(
                f for f in sorted(path.rglob("*"))
                if f.is_file() and not f.name.startswith(".") and f.suffix.lower() in wanted
            )
        else:
            found.append(path)
    return found
