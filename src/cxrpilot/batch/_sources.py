"""SOURCE of a batch run: a folder of images, a CSV / JSON-lines manifest, or a DICOMweb
server (a QIDO-RS query for CR/DX studies; each instance retrieved with WADO-RS by the worker
that drafts it)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cxrpilot.errors import InvalidDatasetError

__all__ = ["list_items", "source_stat", "is_dicomweb", "dicomweb_root", "MANIFEST_SUFFIXES"]

MANIFEST_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".csv.gz", ".tsv.gz", ".jsonl.gz")


def is_dicomweb(source: str | os.PathLike[str]) -> bool:
    """True for an ``http(s)://`` DICOMweb root or instance URL."""
    return str(source).lower().startswith(("http://", "https://"))


def dicomweb_root(url: str) -> str:
    """The DICOMweb root of an instance URL (everything before ``/studies/``)."""
    return url.split("/studies/", 1)[0]


def list_items(source: str | os.PathLike[str], *, since: str | None = None,
               headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The images of ``source``, in order: dicts with ``source`` (the absolute path as a
    string, so that workers on any node with the same mount find it),
    ``study_id`` and ``image_id`` (from a manifest or DICOMweb; None for a folder).

    A DICOMweb root (``http(s)://host/dicom-web``) is queried (QIDO-RS) for CR and DX studies
    dated ``since`` or later (all when None); each of their instances is one item whose
    ``source`` is its WADO-RS URL, ``study_id`` the StudyInstanceUID and ``image_id`` the
    SOP Instance UID. ``headers`` go with every request (e.g. an ``Authorization`` header).

    A folder is searched recursively for the files ``cxrpilot report`` would draft (same
    suffixes, hidden files left out); a manifest is read with
    :func:`cxrpilot.data.read_manifest` (one item per image path, study rows without an
    image path left out).

    Raises
    ------
    InvalidDatasetError
        ``source`` does not exist, is neither a folder nor a manifest, or holds no image.
    """
    if is_dicomweb(source):
        return _dicomweb_items(str(source), since=since, headers=headers)
    path = Path(source)
    if path.is_dir():
        from cxrpilot.data import RADIOGRAPH_SUFFIXES, find_files

        items = [{"source": os.path.abspath(p), "study_id": None, "image_id": None}
                 for p in find_files([path], RADIOGRAPH_SUFFIXES)]
    elif path.is_file() and path.name.lower().endswith(MANIFEST_SUFFIXES):
        from cxrpilot.data import read_manifest

        items = []
        for study in read_manifest(path):
            for image in study.images:
                if image.path:
                    items.append({"source": os.path.abspath(image.path),
                                  "study_id": study.study_id,
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


def _dicomweb_items(root: str, *, since: str | None,
                    headers: dict[str, str] | None) -> list[dict[str, Any]]:
    from cxrpilot.interop.dicomweb import DicomWebClient

    items = []
    with DicomWebClient(root, headers=headers) as client:
        for study in client.search_studies(since=since):
            for series_uid, sop_uid in client.search_instances(study.study_uid):
                items.append({
                    "source": f"{client.url}/studies/{study.study_uid}/series/{series_uid}"
                              f"/instances/{sop_uid}",
                    "study_id": study.study_uid, "image_id": sop_uid})
        if not items:
            raise InvalidDatasetError(
                f"DICOMweb server {client.url} holds no CR/DX instance"
                + (f" dated {since} or later" if since else ""))
    return items


def source_stat(source: str) -> tuple[int, int]:
    """(size in bytes, mtime in ns) of a file, or (-1, -1) when it cannot be stat'ed.

    A DICOMweb instance gives (0, 0): a SOP Instance UID names one immutable object, so its
    URL alone says whether RESULTS already holds it (a re-run retrieves nothing again).
    """
    if is_dicomweb(source):
        return 0, 0
    try:
        st = os.stat(source)
    except OSError:
        return -1, -1
    return st.st_size, st.st_mtime_ns
