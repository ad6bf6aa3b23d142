"""CheXpert (Stanford) label CSV: ``train.csv`` / ``valid.csv``.

Columns: ``Path`` (``CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg``),
``Sex``, ``Age``, ``Frontal/Lateral``, ``AP/PA`` and the 14 observations with 1.0 / 0.0 / -1.0
(uncertain) / blank (not mentioned).
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from cxrpilot.data._common import normalise_view
from cxrpilot.data._labels import label_columns, read_labels
from cxrpilot.data._study import Study, StudyImage
from cxrpilot.data._tables import parse_int, read_csv
from cxrpilot.errors import InvalidDatasetError

__all__ = ["read_chexpert"]

_STUDY = re.compile(r"(patient\d+)/(study\d+)/")
_SPLIT_BY_NAME = {
    "train": "train",
    "valid": "validate",
    "validation": "validate",
    "val": "validate",
    "test": "test",
}


def read_chexpert(
    csv_path: str | Path,
    *,
    image_root: str | Path | None = None,
    split: str | None = None,
) -> list[Study]:
    """Read a CheXpert label CSV: one :class:`Study` per ``patientNNNNN/studyN``.

    Parameters
    ----------
    csv_path : path
        ``train.csv`` or ``valid.csv`` (or a CSV with the same columns).
    image_root : path, optional
        Folder the ``Path`` column is relative to; by default the CSV's parent's parent when
        ``Path`` starts with the CSV folder's name (the official layout), else the CSV folder.
    split : str, optional
        ``Study.split``; by default from the file name (``train`` -> ``"train"``,
        ``valid`` -> ``"validate"``, ``test`` -> ``"test"``), else None.

    Returns
    -------
    list of Study
        In file order. ``study_id`` is ``patient00001/study1``, ``patient_id``
        ``patient00001``; views are the ``AP/PA`` value for frontal images (``"FRONTAL"``
        when blank) and ``LATERAL`` for lateral ones; labels are the first row's (all rows of
        a study carry the report's labels), every observation column a key, blank -> None;
        ``meta`` has sex and age.

    Raises
    ------
    InvalidDatasetError
        Missing ``Path`` or observation columns, a path without ``patientN/studyN``, or a
        label value other than 1/0/-1/blank (file, row and column named).
    """
    csv_path = Path(csv_path)
    header, rows = read_csv(csv_path, required=("Path",))
    columns = label_columns(header)
    if not columns:
        raise InvalidDatasetError(
            f"{csv_path}: no observation columns; expected the 14 CheXpert label columns"
        )
    if split is None:
        split = _SPLIT_BY_NAME.get(csv_path.name.split(".")[0].lower())
    studies: dict[str, dict] = {}
    root: Path | None = Path(image_root) if image_root is not None else None
    for number, line, cells in rows:
        where = f"{csv_path}: row {number} (line {line})"
        rel = cells["Path"].strip()
        match = _STUDY.search(rel)
        if not match:
            raise InvalidDatasetError(f"{where}: Path {rel!r} has no patientNNNNN/studyN/ part")
        if root is None:
            first = PurePosixPath(rel).parts[0] if rel else ""
            root = csv_path.parent.parent if first == csv_path.parent.name else csv_path.parent
        path = root / rel
        kind = cells.get("Frontal/Lateral", "").strip().lower()
        if kind == "lateral":
            view = "LATERAL"
        else:
            view = normalise_view(cells.get("AP/PA")) or ("FRONTAL" if kind == "frontal" else None)
        patient, study_no = match.group(1), match.group(2)
        study_id = f"{patient}/{study_no}"
        entry = studies.get(study_id)
        if entry is None:
            entry = studies[study_id] = {
                "patient": patient,
                "images": [],
                "labels": read_labels(cells, columns, path=csv_path, row=number, line=line),
                "meta": {
                    k: v
                    for k, v in (
                        ("sex", cells.get("Sex", "").strip()),
                        ("age", parse_int(cells.get("Age"))),
                    )
                    if v not in ("", None)
                },
            }
        else:
            read_labels(cells, columns, path=csv_path, row=number, line=line)  # validate every row
        entry["images"].append(
            StudyImage(str(path) if path.is_file() else None, PurePosixPath(rel).stem, view)
        )
    return [
        Study(
            study_id=sid,
            patient_id=e["patient"],
            source="chexpert",
            images=tuple(e["images"]),
            labels=e["labels"],
            split=split,
            meta=e["meta"],
        )
        for sid, e in studies.items()
    ]
