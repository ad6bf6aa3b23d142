"""NIH ChestX-ray14: ``Data_Entry_2017.csv``, or the shared selection's ``labels.csv``.

Label mapping to the 14 observations (:data:`NIH_TO_OBSERVATION`): Atelectasis,
Cardiomegaly, Consolidation, Edema, Pneumonia and Pneumothorax keep their names; Effusion ->
Pleural Effusion; Mass and Nodule -> Lung Lesion; Pleural_Thickening -> Pleural Other;
``No Finding`` -> No Finding. **Lung Opacity** (CheXpert's umbrella for any parenchymal
opacity) is derived: 1 when any of :data:`NIH_OPACITY_LABELS` (Infiltration, Consolidation,
Pneumonia, Atelectasis, Edema, Mass, Nodule) is listed, else 0 — so Infiltration, which has no
CheXpert counterpart of its own, counts as Lung Opacity. Each mapped observation is a key of
every study's labels (1 when listed, else 0: the NIH labels were mined for all 14 NIH
findings on every image). Emphysema, Fibrosis and Hernia have no counterpart and are kept in
``meta["nih_labels"]`` with the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from cxrpilot.data._common import normalise_view
from cxrpilot.data._study import Study, StudyImage
from cxrpilot.data._tables import parse_int, read_csv
from cxrpilot.errors import InvalidDatasetError

__all__ = ["read_nih", "nih_observations", "NIH_LABELS", "NIH_TO_OBSERVATION", "NIH_OPACITY_LABELS"]

#: The 14 NIH findings and "No Finding".
NIH_LABELS: tuple[str, ...] = (
    "Atelectasis",
    "Cardiomegaly",
    "Effusion",
    "Infiltration",
    "Mass",
    "Nodule",
    "Pneumonia",
    "Pneumothorax",
    "Consolidation",
    "Edema",
    "Emphysema",
    "Fibrosis",
    "Pleural_Thickening",
    "Hernia",
    "No Finding",
)
#: NIH label -> observation, where one corresponds.
NIH_TO_OBSERVATION: Mapping[str, str] = {
    "Atelectasis": "Atelectasis",
    "Cardiomegaly": "Cardiomegaly",
    "Effusion": "Pleural Effusion",
    "Mass": "Lung Lesion",
    "Nodule": "Lung Lesion",
    "Pneumonia": "Pneumonia",
    "Pneumothorax": "Pneumothorax",
    "Consolidation": "Consolidation",
    "Edema": "Edema",
    "Pleural_Thickening": "Pleural Other",
    "No Finding": "No Finding",
}
#: NIH labels that are each a kind of parenchymal opacity: any of them -> Lung Opacity = 1.
NIH_OPACITY_LABELS: tuple[str, ...] = (
    "Infiltration", "Consolidation", "Pneumonia", "Atelectasis", "Edema", "Mass", "Nodule",
)
_MAPPED = (*dict.fromkeys(NIH_TO_OBSERVATION.values()), "Lung Opacity")
#: Column names of the original ``Data_Entry_2017.csv`` and of the shared selection's table.
_ORIGINAL = {"image": "Image Index", "labels": "Finding Labels", "patient": "Patient ID",
             "view": "View Position", "age": "Patient Age", "sex": "Patient Gender",
             "follow_up": "Follow-up #"}
_SELECTION = {"image": "image", "labels": "finding_labels", "patient": "patient_id",
              "view": "view", "age": "age", "sex": "sex", "follow_up": "follow_up"}


def _index_images(root: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for pattern in ("*.png", "images/*.png", "images_*/images/*.png", "images_*/*.png"):
        for path in root.glob(pattern):
            found.setdefault(path.name, path)
    return found


def read_nih(csv_path: str | Path, *, image_root: str | Path | None = None) -> list[Study]:
    """Read NIH ChestX-ray14 labels: one :class:`Study` per image.

    Two layouts are recognised by their header: the original ``Data_Entry_2017.csv``
    (``Image Index``, ``Finding Labels`` ``"A|B"``, ``Follow-up #``, ``Patient ID``,
    ``Patient Age``, ``Patient Gender``, ``View Position`` ...) and the shared selection's
    ``labels.csv`` (``image`` as a relative path, ``finding_labels``, ``patient_id``, ``view``,
    ``age``, ``sex``, ``subsets``). A folder is read as its ``labels.csv``. Radiologist boxes
    in a ``boxes.csv`` beside the table (``image, finding, x, y, w, h`` in the image's pixels)
    go to ``meta["boxes"]`` as ``(finding, x, y, w, h)`` with the NIH finding name.

    Parameters
    ----------
    csv_path : path
        The CSV, or a folder holding ``labels.csv``.
    image_root : path, optional
        Where the images are (directly, in ``images/`` or in ``images_NNN/images/``); default
        the CSV's folder. Image paths are None for files not found.

    Returns
    -------
    list of Study
        In file order. ``study_id`` is the image name without extension (``00000001_000``),
        ``patient_id`` the patient id; labels per :data:`NIH_TO_OBSERVATION` and
        :data:`NIH_OPACITY_LABELS`; ``meta`` has ``nih_labels``, ``follow_up``, ``age``,
        ``sex`` (and ``subsets``, ``boxes`` where given).

    Raises
    ------
    InvalidDatasetError
        Missing columns, or a label not among :data:`NIH_LABELS` (file and row named).
    """
    csv_path = Path(csv_path)
    if csv_path.is_dir():
        csv_path = csv_path / "labels.csv"
    header, rows = read_csv(csv_path)
    columns = _SELECTION if {"image", "finding_labels"} <= set(header) else _ORIGINAL
    required = [columns[k] for k in ("image", "labels", "patient")]
    missing = [c for c in required if c not in header]
    if missing:
        raise InvalidDatasetError(
            f"{csv_path}: missing column(s) {', '.join(map(repr, missing))}; expected NIH "
            f"ChestX-ray14 labels (Data_Entry_2017.csv, or a labels.csv with image, "
            f"finding_labels, patient_id)")
    root = Path(image_root) if image_root is not None else csv_path.parent
    images = _index_images(root) if columns is _ORIGINAL else {}
    boxes = _read_boxes(csv_path.parent / "boxes.csv")
    studies = []
    for number, line, cells in rows:
        where = f"{csv_path}: row {number} (line {line})"
        name = cells[columns["image"]].strip()
        patient = cells[columns["patient"]].strip()
        if not name or not patient:
            raise InvalidDatasetError(f"{where}: empty {columns['image']!r} or {columns['patient']!r}")
        found = [t.strip() for t in cells[columns["labels"]].split("|") if t.strip()]
        unknown = [t for t in found if t not in NIH_LABELS]
        if unknown or not found:
            raise InvalidDatasetError(
                f"{where}: {columns['labels']!r} value {cells[columns['labels']]!r}; expected "
                f"labels from {', '.join(NIH_LABELS)} joined by '|'"
            )
        meta: dict[str, object] = {"nih_labels": found}
        for key in ("follow_up", "age"):
            value = parse_int(cells.get(columns[key]))
            if value is not None:
                meta[key] = value
        if cells.get(columns["sex"], "").strip():
            meta["sex"] = cells[columns["sex"]].strip()
        if cells.get("subsets", "").strip():
            meta["subsets"] = cells["subsets"].strip()
        if name in boxes:
            meta["boxes"] = boxes[name]
        if columns is _ORIGINAL:
            path = images.get(name)
        else:
            candidate = root / name
            path = candidate if candidate.is_file() else None
        studies.append(
            Study(
                study_id=Path(name).stem,
                patient_id=patient,
                source="nih",
                images=(
                    StudyImage(
                        str(path) if path else None,
                        Path(name).stem,
                        normalise_view(cells.get(columns["view"])),
                    ),
                ),
                labels=nih_observations(found),
                meta=meta,
            )
        )
    return studies


def nih_observations(nih_labels: list[str]) -> dict[str, int | None]:
    """The observation labels (0/1) of one image's NIH labels (see the module docstring)."""
    labels: dict[str, int | None] = dict.fromkeys(_MAPPED, 0)
    for label in nih_labels:
        if label in NIH_TO_OBSERVATION:
            labels[NIH_TO_OBSERVATION[label]] = 1
        if label in NIH_OPACITY_LABELS:
            labels["Lung Opacity"] = 1
    return labels


def _read_boxes(path: Path) -> dict[str, tuple[tuple[str, float, float, float, float], ...]]:
    """``boxes.csv`` (``image, finding, x, y, w, h``) -> boxes per image; {} when absent."""
    if not path.is_file():
        return {}
    _, rows = read_csv(path, required=("image", "finding", "x", "y", "w", "h"))
    out: dict[str, list[tuple[str, float, float, float, float]]] = {}
    for number, line, cells in rows:
        try:
            box = tuple(float(cells[k]) for k in ("x", "y", "w", "h"))
        except ValueError:
            raise InvalidDatasetError(f"{path}: row {number} (line {line}): box coordinates "
                                      f"must be numbers") from None
        out.setdefault(cells["image"].strip(), []).append((cells["finding"].strip(), *box))
    return {k: tuple(v) for k, v in out.items()}
