"""A generic CSV / JSON-lines manifest: the way to bring any other dataset.

One row per image (rows with the same ``study_id`` form one study) or per study. Columns /
keys, all optional except that each row needs ``path`` or ``study_id``:

- ``path`` (image file, relative to the manifest's folder or absolute); JSONL may give
  ``paths`` (a list) instead;
- ``study_id`` (default: the image file name without suffix), ``patient_id`` (default: the
  study id), ``source`` (default: the ``source`` argument), ``split``, ``view``, ``image_id``;
- report sections ``indication``, ``comparison``, ``technique``, ``findings``, ``impression``
  (JSONL may nest them under ``sections``);
- labels: a column per observation named as in :data:`cxrpilot.vocabulary.OBSERVATIONS`
  (case, spaces, ``_`` and ``-`` ignored: ``pleural_effusion``) with 1 / 0 / -1 / blank
  (JSONL may nest them under ``labels``);
- anything else goes to ``meta``.
"""

from __future__ import annotations

from pathlib import Path

from cxrpilot.data._common import normalise_view
from cxrpilot.data._labels import label_columns, read_labels
from cxrpilot.data._splits import split_name
from cxrpilot.data._study import SECTION_NAMES, Study, StudyImage
from cxrpilot.data._tables import read_csv, read_jsonl
from cxrpilot.errors import InvalidDatasetError
from cxrpilot.vocabulary import OBSERVATIONS

__all__ = ["read_manifest"]

_RESERVED = {
    "path",
    "paths",
    "study_id",
    "patient_id",
    "source",
    "split",
    "view",
    "image_id",
    "labels",
    "sections",
    *SECTION_NAMES,
}


def read_manifest(
    path: str | Path, *, source: str = "manifest", encoding: str = "utf-8"
) -> list[Study]:
    """Read a CSV (``.csv``, ``.tsv``, ``.gz``) or JSON-lines (``.jsonl``, ``.ndjson``) manifest.

    Parameters
    ----------
    path : path
        The manifest; its columns are described in the module docstring.
    source : str
        :attr:`Study.source` for rows without a ``source``.
    encoding : str
        Text encoding of the file.

    Returns
    -------
    list of Study
        In order of first appearance. Image paths are resolved against the manifest's folder
        (not checked for existence).

    Raises
    ------
    InvalidDatasetError
        A row without ``path`` and ``study_id``, a bad label value or split, an unknown
        observation under ``labels``, or rows of one study with different patients (file
        and row named).

    Examples
    --------
    >>> studies = read_manifest("my_reports.jsonl", source="hospital-a")  # doctest: +SKIP
    """
    path = Path(path)
    name = path.name.lower().removesuffix(".gz")
    base = path.parent
    if name.endswith((".jsonl", ".ndjson", ".json")):
        rows = read_jsonl(path, encoding=encoding)
        columns = None
    else:
        header, rows = read_csv(
            path, encoding=encoding, delimiter="\t" if name.endswith(".tsv") else ","
        )
        if "path" not in header and "study_id" not in header:
            raise InvalidDatasetError(
                f"{path}: neither a 'path' nor a 'study_id' column; found {', '.join(map(repr, header))}"
            )
        columns = label_columns(header)
    studies: dict[tuple[str, str], dict] = {}
    for number, line, cells in rows:
        where = f"{path}: row {number} (line {line})"
        if columns is None:  # JSONL: labels flat (a key per observation) or nested under "labels"
            nested = cells.get("labels") or {}
            if not isinstance(nested, dict):
                raise InvalidDatasetError(
                    f"{where}: 'labels' must be an object of observation -> 1/0/-1/null"
                )
            values = dict(cells)
            row_columns = label_columns(list(cells))
            for key, value in nested.items():
                mapped = label_columns([key])
                if not mapped:
                    raise InvalidDatasetError(
                        f"{where}: unknown observation {key!r} under 'labels'; expected one of "
                        f"{', '.join(OBSERVATIONS)}"
                    )
                values[f"labels.{key}"] = value
                row_columns[f"labels.{key}"] = mapped[key]
            labels = read_labels(values, row_columns, path=path, row=number, line=line)
        else:
            labels = read_labels(cells, columns, path=path, row=number, line=line)
        raw_paths = cells.get("paths") or (
            [cells["path"]] if str(cells.get("path") or "").strip() else []
        )
        if isinstance(raw_paths, str):
            raw_paths = [raw_paths]
        image_paths = [
            str(p if Path(p).is_absolute() else base / p)
            for p in (str(x).strip() for x in raw_paths)
            if p
        ]
        study_id = str(cells.get("study_id") or "").strip() or (
            Path(image_paths[0]).stem if image_paths else ""
        )
        if not study_id:
            raise InvalidDatasetError(f"{where}: no 'path' and no 'study_id'; every row needs one")
        patient = str(cells.get("patient_id") or "").strip() or study_id
        row_source = str(cells.get("source") or "").strip() or source
        split = split_name(cells.get("split"))
        if split is None and str(cells.get("split") or "").strip():
            raise InvalidDatasetError(
                f"{where}: split {cells.get('split')!r}; expected train, validate, test or blank"
            )
        nested_sections = cells.get("sections") if isinstance(cells.get("sections"), dict) else {}
        sections = {
            n: " ".join(str(cells.get(n) or nested_sections.get(n) or "").split())
            for n in SECTION_NAMES
        }
        view = normalise_view(cells.get("view"))
        new_images = [
            StudyImage(p, str(cells.get("image_id") or "").strip() or Path(p).stem, view)
            for p in image_paths
        ]
        entry = studies.get((row_source, study_id))
        if entry is None:
            studies[(row_source, study_id)] = {
                "patient": patient,
                "images": new_images,
                "labels": {k: v for k, v in labels.items()},
                "sections": {k: v for k, v in sections.items() if v},
                "split": split,
                "meta": {
                    k: v
                    for k, v in cells.items()
                    if k not in _RESERVED
                    and k not in (columns or label_columns(list(cells)))
                    and v not in ("", None)
                },
            }
        else:
            if entry["patient"] != patient:
                raise InvalidDatasetError(
                    f"{where}: study {study_id!r} has patient_id {patient!r} here, {entry['patient']!r} on an earlier row"
                )
            entry["images"].extend(new_images)
            for k, v in sections.items():
                if v and k not in entry["sections"]:
                    entry["sections"][k] = v
            for k, v in labels.items():
                if entry["labels"].get(k) is None and v is not None:
                    entry["labels"][k] = v
    return [
        Study(
            study_id=sid,
            patient_id=e["patient"],
            source=src,
            images=tuple(e["images"]),
            sections=e["sections"],
            labels=e["labels"],
            split=e["split"],
            meta=e["meta"],
        )
        for (src, sid), e in studies.items()
    ]
