"""Folder-per-class image datasets (COVID-19 Radiography Database, Kermany pediatric pneumonia).

Class names map to the 14 observations as follows (:data:`CLASS_LABELS`; matching ignores case,
spaces, ``-`` and ``_``). Only what a class name states is labelled; other observations are
left out (not assessed), never set to 0:

=====================  ====================================================================
class                  labels
=====================  ====================================================================
COVID, COVID-19        Pneumonia 1, Lung Opacity 1, No Finding 0
PNEUMONIA, Viral       Pneumonia 1, Lung Opacity 1, No Finding 0 (``pneumonia_type``
Pneumonia, Bacterial   bacteria/virus kept in ``meta``)
Normal, NORMAL         No Finding 1, Pneumonia 0, Lung Opacity 0
Lung_Opacity           Lung Opacity 1, No Finding 0
=====================  ====================================================================

The COVID mapping is a simplification: a COVID-positive patient's radiograph can look normal;
the class states the diagnosis, not what the image shows. The class name itself is kept in
``meta["class"]`` so that a caller can use it directly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from cxrpilot.data._common import (
    NORMAL,
    OPACITY_ONLY,
    POSITIVE_PNEUMONIA,
    check_labels,
    normalise_view,
)
from cxrpilot.data._study import Study, StudyImage
from cxrpilot.data._tables import read_csv
from cxrpilot.errors import InvalidDatasetError

__all__ = ["read_image_folders", "CLASS_LABELS", "IMAGE_SUFFIXES", "patient_id_from_name"]

#: File suffixes taken as images when a folder tree is scanned.
IMAGE_SUFFIXES: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".dcm"}
)

#: Class (folder) name -> labels. Keys are normalised with :func:`_class_key`.
CLASS_LABELS: Mapping[str, Mapping[str, int]] = {
    "covid": POSITIVE_PNEUMONIA,
    "covid19": POSITIVE_PNEUMONIA,
    "pneumonia": POSITIVE_PNEUMONIA,
    "viralpneumonia": POSITIVE_PNEUMONIA,
    "bacterialpneumonia": POSITIVE_PNEUMONIA,
    "normal": NORMAL,
    "lungopacity": OPACITY_ONLY,
}

_SPLIT_FOLDERS = {
    "train": "train",
    "val": "validate",
    "valid": "validate",
    "validate": "validate",
    "validation": "validate",
    "test": "test",
}
_PERSON = re.compile(r"^(person\d+)_(bacteria|virus)_\d+", re.IGNORECASE)
_IM = re.compile(r"^((?:NORMAL2-)?IM-\d+)-\d+", re.IGNORECASE)


def _class_key(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name).lower()


def patient_id_from_name(stem: str) -> tuple[str | None, str | None]:
    """Patient id and pneumonia type encoded in a Kermany pediatric file name, else ``(None, None)``.

    >>> patient_id_from_name("person1000_bacteria_2931")
    ('person1000', 'bacteria')
    >>> patient_id_from_name("NORMAL2-IM-1345-0001-0002")
    ('NORMAL2-IM-1345', None)
    >>> patient_id_from_name("COVID-1")
    (None, None)
    """
    match = _PERSON.match(stem)
    if match:
        return match.group(1), match.group(2).lower()
    match = _IM.match(stem)
    if match:
        return match.group(1), None
    return None, None


def read_image_folders(
    root: str | Path,
    *,
    source: str,
    class_labels: Mapping[str, Mapping[str, int]] | None = None,
    labels_file: str = "labels.csv",
    view: str | None = None,
) -> list[Study]:
    """Read a folder-per-class image dataset: one :class:`Study` per image.

    Parameters
    ----------
    root : path
        The dataset folder, e.g. ``../shared/data/covid-radiography`` (``COVID/``, ``Normal/``)
        or ``../shared/data/pediatric-pneumonia`` (``train/NORMAL``, ``train/PNEUMONIA``).
    source : str
        Dataset name put in :attr:`Study.source`, e.g. ``"covid-radiography"``.
    class_labels : mapping, optional
        Extra or overriding class name -> ``{observation: 1/0/-1}``; see :data:`CLASS_LABELS`.
    labels_file : str
        Name of a CSV in ``root`` with columns ``file`` (path relative to ``root``) and ``label``
        (class), optionally ``split`` and ``pneumonia_type``; used when present, else the tree is
        scanned and the class is the image's parent folder name.
    view : str, optional
        The view of every image when the source states it once (Kermany: ``"AP"``); else None.

    Returns
    -------
    list of Study
        Sorted by study id. ``study_id`` is the path relative to ``root`` without suffix;
        ``patient_id`` comes from Kermany file names (``person123_bacteria_4`` -> ``person123``,
        ``IM-0629-0001-0002`` -> ``IM-0629``) and is the study id otherwise. ``split`` is None;
        the source's own split folder is kept in ``meta["source_split"]``. ``meta`` has
        ``class``, ``pneumonia_type`` (when known) and other ``labels_file`` columns.

    Raises
    ------
    InvalidDatasetError
        Missing folder, a labels file without ``file``/``label`` columns or naming a missing
        image (file and row named), an unknown class name, or no images at all.

    Examples
    --------
    >>> studies = read_image_folders("../shared/data/covid-radiography", source="covid-radiography")  # doctest: +SKIP
    >>> studies[0].labels  # doctest: +SKIP
    {'No Finding': 0, 'Lung Opacity': 1, 'Pneumonia': 1}
    """
    root = Path(root)
    if not root.is_dir():
        raise InvalidDatasetError(
            f"{root}: not a folder; expected a folder with one sub-folder per class"
        )
    table: dict[str, Mapping[str, int]] = dict(CLASS_LABELS)
    for name, labels in (class_labels or {}).items():
        try:
            table[_class_key(name)] = check_labels(labels)
        except ValueError as exc:
            raise InvalidDatasetError(f"class_labels[{name!r}]: {exc}") from None

    entries: list[tuple[Path, str, dict[str, str], str]] = []  # (path, class, extra meta, where)
    labels_path = root / labels_file
    if labels_file and labels_path.is_file():
        _, rows = read_csv(labels_path, required=("file", "label"))
        for number, line, cells in rows:
            where = f"{labels_path}: row {number} (line {line})"
            rel = cells.pop("file").strip()
            cls = cells.pop("label").strip()
            if not rel or not cls:
                raise InvalidDatasetError(f"{where}: empty 'file' or 'label' cell")
            path = root / rel
            if not path.is_file():
                raise InvalidDatasetError(f"{where}: image {rel!r} not found under {root}")
            entries.append((path, cls, {k: v.strip() for k, v in cells.items() if k}, where))
    else:
        for path in sorted(root.rglob("*")):
            if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
                continue
            if path.name.startswith("."):
                continue
            if path.parent == root:
                raise InvalidDatasetError(
                    f"{path}: image directly in {root}; expected one sub-folder per class "
                    f"(or a {labels_file} with 'file' and 'label' columns)"
                )
            entries.append((path, path.parent.name, {}, str(path)))
    if not entries:
        raise InvalidDatasetError(
            f"{root}: no images found (suffixes {', '.join(sorted(IMAGE_SUFFIXES))})"
        )

    studies = []
    for path, cls, extra, where in entries:
        labels = table.get(_class_key(cls))
        if labels is None:
            known = sorted({k for k in table})
            raise InvalidDatasetError(
                f"{where}: unknown class {cls!r}; known classes (case, spaces, '-' and '_' ignored): "
                f"{', '.join(known)}; pass class_labels={{{cls!r}: {{'Pneumonia': 1, ...}}}} to map it"
            )
        rel = path.relative_to(root)
        study_id = rel.with_suffix("").as_posix()
        patient, kind = patient_id_from_name(path.stem)
        meta: dict[str, object] = {"class": cls}
        source_split = extra.pop("split", "") or next(
            (_SPLIT_FOLDERS[p.lower()] for p in rel.parts[:-1] if p.lower() in _SPLIT_FOLDERS), ""
        )
        if source_split:
            meta["source_split"] = source_split
        pneumonia_type = extra.pop("pneumonia_type", "") or kind
        if pneumonia_type:
            meta["pneumonia_type"] = pneumonia_type
        meta.update({k: v for k, v in extra.items() if v})
        studies.append(
            Study(
                study_id=study_id,
                patient_id=patient or study_id,
                source=source,
                images=(StudyImage(path=str(path), image_id=path.stem, view=normalise_view(view)),),
                labels=dict(labels),
                meta=meta,
            )
        )
    studies.sort(key=lambda s: s.study_id)
    return studies
