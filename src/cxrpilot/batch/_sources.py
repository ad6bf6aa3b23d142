"""SOURCE of a batch run: a folder of images, or a CSV / JSON-lines manifest."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cxrpilot.errors import InvalidDatasetError

__all__ = ["list_items", "file_stat", "MANIFEST_SUFFIXES"]

MANIFEST_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".csv.gz", ".tsv.gz", ".jsonl.gz")


def list_items(source: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The images of ``source``, in order: dicts with ``source`` (the path as a string),
    ``study_id`` and ``image_id`` (from a manifest; None for a folder).

    A folder is searched recursively for the files ``cxrpilot report`` would draft (same
    suffixes, hidden files left out); a manifest is read with
    :func:`cxrpilot.data.read_manifest` (one item per image path, study rows without an
    image path left out).

    Raises
    ------
    InvalidDatasetError
        ``source`` does not exist, is neither a folder nor a manifest, or holds no image.
    """
    path = Path(source)
    if path.is_dir():
        from cxrpilot.cli._report import collect_inputs

        items = [{"source": str(p), "study_id": None, "image_id": None}
                 for p in collect_inputs([str(path)])]
    elif path.is_file() and path.name.lower().endswith(MANIFEST_SUFFIXES):
        from cxrpilot.data import read_manifest

        items = []
        for study in read_manifest(path):
            for image in study.images:
                if image.path:
                    items.append({"source": str(image.path), "study_id": study.study_id,
                                  "image_id": image.image_id})
    elif path.exists():
        raise InvalidDatasetError(
            f"batch source {str(path)!r} is neither a folder nor a manifest; expected a folder "
            f"of images or a manifest ending in {', '.join(MANIFEST_SUFFIXES)}")
    else:
        raise InvalidDatasetError(f"batch source {str(path)!r} does not exist; expected a folder "
                                  "of images or a CSV/JSONL manifest")
    if not items:
        raise InvalidDatasetError(f"no image files found in {str(path)!r}")
    return items


def file_stat(path: str) -> tuple[int, int]:
    """(size in bytes, mtime in ns) of ``path``, or (-1, -1) when it cannot be stat'ed."""
    try:
        st = os.stat(path)
    except OSError:
        return -1, -1
    return st.st_size, st.st_mtime_ns
