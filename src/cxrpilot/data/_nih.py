"""NIH ChestX-ray14 ``Data_Entry_2017.csv``.

Label mapping to the 14 observations (:data:`NIH_TO_OBSERVATION`): Atelectasis,
Cardiomegaly, Consolidation, Edema, Pneumonia and Pneumothorax keep their names; Effusion ->
Pleural Effusion; Mass and Nodule -> Lung Lesion; ``No Finding`` -> No Finding. Each of these
is a key of every study's labels (1 when listed, else 0: the NIH labels were mined for all 14
NIH findings on every image). Infiltration, Emphysema, Fibrosis, Pleural_Thickening and Hernia
have no CheXpert counterpart and are kept in ``meta["nih_labels"]`` with the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from cxrpilot.data._common import normalise_view
from cxrpilot.data._study import Study, StudyImage
from cxrpilot.data._tables import parse_int, read_csv
from cxrpilot.errors import InvalidDatasetError

__all__ = ["read_nih", "NIH_LABELS", "NIH_TO_OBSERVATION"]

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
    "No Finding": "No Finding",
}
_MAPPED = tuple(dict.fromkeys(NIH_TO_OBSERVATION.values()))
_REQUIRED = ("Image Index", "Finding Labels", "Patient ID")


def _index_images(root: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for pattern in ("*.png", "images/*.png", "images_*/images/*.png", "images_*/*.png"):
        for path in root.glob(pattern):
            found.setdefault(path.name, path)
    return found


def read_nih(csv_path: str | Path, *, image_root: str | Path | None = None) -> list[Study]:
    """Read NIH ChestX-ray14's ``Data_Entry_2017.csv``: one :class:`Study` per image.

    Parameters
    ----------
    csv_path : path
        The CSV (``Image Index``, ``Finding Labels`` ``"A|B"``, ``Follow-up #``,
        ``Patient ID``, ``Patient Age``, ``Patient Gender``, ``View Position`` ...).
    image_root : path, optional
        Where the PNGs are (directly, in ``images/`` or in ``images_NNN/images/``); default
        the CSV's folder. Image paths are None for files not found.

    Returns
    -------
    list of Study
        In file order. ``study_id`` is the image name without ``.png`` (``00000001_000``),
        ``patient_id`` the ``Patient ID``; labels per :data:`NIH_TO_OBSERVATION`;
        ``meta`` has ``nih_labels``, ``follow_up``, ``age``, ``sex``.

    Raises
    ------
    InvalidDatasetError
        Missing columns, or a label not among :data:`NIH_LABELS` (file and row named).
    """
    csv_path = Path(csv_path)
    _, rows = read_csv(csv_path, required=_REQUIRED)
    images = _index_images(Path(image_root) if image_root is not None else csv_path.parent)
    studies = []
    for number, line, cells in rows:
        where = f"{csv_path}: row {number} (line {line})"
        name = cells["Image Index"].strip()
        patient = cells["Patient ID"].strip()
        if not name or not patient:
            raise InvalidDatasetError(f"{where}: empty 'Image Index' or 'Patient ID'")
        found = [t.strip() for t in cells["Finding Labels"].split("|") if t.strip()]
        unknown = [t for t in found if t not in NIH_LABELS]
        if unknown or not found:
            raise InvalidDatasetError(
                f"{where}: 'Finding Labels' value {cells['Finding Labels']!r}; expected labels from "
                f"{', '.join(NIH_LABELS)} joined by '|'"
            )
        labels: dict[str, int | None] = dict.fromkeys(_MAPPED, 0)
        for label in found:
            if label in NIH_TO_OBSERVATION:
                labels[NIH_TO_OBSERVATION[label]] = 1
        meta: dict[str, object] = {"nih_labels": found}
        for key, column in (("follow_up", "Follow-up #"), ("age", "Patient Age")):
            value = parse_int(cells.get(column))
            if value is not None:
                meta[key] = value
        if cells.get("Patient Gender", "").strip():
            meta["sex"] = cells["Patient Gender"].strip()
        path = images.get(name)
        studies.append(
            Study(
                study_id=Path(name).stem,
                patient_id=patient,
                source="nih",
                images=(
                    StudyImage(
                        str(path) if path else None,
                        Path(name).stem,
                        normalise_view(cells.get("View Position")),
                    ),
                ),
                labels=labels,
                meta=meta,
            )
        )
    return studies
