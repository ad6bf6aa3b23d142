"""The ieee8023 COVID-19 image data collection (``metadata.csv`` + ``images/``).

Labels from the ``finding`` column (:func:`finding_labels`): the finding is split on ``/`` and
``,`` (``"Pneumonia/Viral/COVID-19"``, ``"COVID-19, ARDS"``) and

- any pneumonia or pneumonia-causing organism (COVID-19, SARS, MERS, influenza, varicella,
  Streptococcus, Klebsiella, Legionella, Mycoplasma, Pneumocystis, lipoid, bacterial, viral,
  fungal ...) -> Pneumonia 1, Lung Opacity 1, No Finding 0;
- ARDS alone -> Lung Opacity 1, No Finding 0 (ARDS is diffuse opacity, not necessarily pneumonia);
- ``"No Finding"`` -> No Finding 1, Pneumonia 0, Lung Opacity 0;
- ``"todo"`` (not yet read by the curators), blank or anything else -> no labels at all
  (the finding text is still in ``meta["finding"]``).

Clinical notes are case descriptions from papers, not radiology reports: they go to
``meta["clinical_notes"]``, not to :attr:`Study.sections`.
"""

from __future__ import annotations

import re
from pathlib import Path

from cxrpilot.data._common import NORMAL, OPACITY_ONLY, POSITIVE_PNEUMONIA, normalise_view
from cxrpilot.data._study import Study, StudyImage
from cxrpilot.data._tables import parse_int, read_csv
from cxrpilot.errors import InvalidDatasetError

__all__ = ["read_covid_chestxray", "finding_labels"]

_PNEUMONIA_TOKENS = frozenset(
    {
        "pneumonia",
        "covid19",
        "covid",
        "sars",
        "merscov",
        "mers",
        "influenza",
        "varicella",
        "herpes",
        "streptococcus",
        "staphylococcus",
        "klebsiella",
        "legionella",
        "mycoplasma",
        "mycoplasmabacterialpneumonia",
        "chlamydophila",
        "ecoli",
        "pneumocystis",
        "aspergillosis",
        "nocardia",
        "lipoid",
        "bacterial",
        "viral",
        "fungal",
        "bacterialpneumonia",
        "viralpneumonia",
    }
)
_METADATA_COLUMNS = ("patientid", "finding", "view", "filename")
_META_KEEP = (
    "offset",
    "sex",
    "age",
    "survival",
    "intubated",
    "went_icu",
    "date",
    "location",
    "doi",
    "url",
    "license",
    "clinical_notes",
    "other_notes",
    "modality",
)


def _token(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def finding_labels(finding: str) -> dict[str, int]:
    """Labels stated by a ``finding`` value of the collection (see the module docstring).

    >>> finding_labels("Pneumonia/Viral/COVID-19")
    {'No Finding': 0, 'Lung Opacity': 1, 'Pneumonia': 1}
    >>> finding_labels("No Finding")
    {'No Finding': 1, 'Lung Opacity': 0, 'Pneumonia': 0}
    >>> finding_labels("todo")
    {}
    """
    tokens = {_token(t) for t in re.split(r"[/,;]", finding) if t.strip()}
    if tokens & _PNEUMONIA_TOKENS:
        return dict(POSITIVE_PNEUMONIA)
    if "ards" in tokens:
        return dict(OPACITY_ONLY)
    if tokens == {"nofinding"}:
        return dict(NORMAL)
    return {}


def read_covid_chestxray(root: str | Path, *, check_images: bool = True) -> list[Study]:
    """Read the ieee8023 COVID-19 image data collection: one :class:`Study` per image row.

    Parameters
    ----------
    root : path
        Folder with ``metadata.csv`` and the image folder(s) it names (``folder`` column).
    check_images : bool
        Raise when a row names an image that is not there.

    Returns
    -------
    list of Study
        In file order. ``study_id`` is the image file name without suffix (a file listed twice,
        under two patient ids as two rows of the source do, gets ``~ROW`` appended);
        ``patient_id`` is ``patientid``; the view is normalised (``"L"`` -> ``"LATERAL"``,
        ``"AP Supine"`` -> ``"AP SUPINE"``, blank/``"?"`` -> None); labels per
        :func:`finding_labels`; ``meta`` keeps finding, age (int), sex, licence, clinical notes,
        date, location, doi, url, offset and the outcome columns.

    Raises
    ------
    InvalidDatasetError
        Missing ``metadata.csv`` or columns, a row without patient id or file name, or a
        missing image (file and row named).
    """
    root = Path(root)
    meta_path = root / "metadata.csv"
    if not meta_path.is_file():
        raise InvalidDatasetError(
            f"{root}: no metadata.csv; expected the ieee8023 covid-chestxray layout"
        )
    _, rows = read_csv(meta_path, required=_METADATA_COLUMNS)
    seen: set[str] = set()
    studies = []
    for number, line, cells in rows:
        where = f"{meta_path}: row {number} (line {line})"
        patient = cells["patientid"].strip()
        filename = cells["filename"].strip()
        if not patient or not filename:
            raise InvalidDatasetError(f"{where}: empty 'patientid' or 'filename'")
        path = root / (cells.get("folder", "").strip() or "images") / filename
        if check_images and not path.is_file():
            raise InvalidDatasetError(f"{where}: image {path} not found")
        study_id = Path(filename).stem
        if study_id in seen:
            study_id = f"{study_id}~{number}"
        seen.add(study_id)
        finding = cells["finding"].strip()
        meta: dict[str, object] = {"finding": finding}
        for key in _META_KEEP:
            value = cells.get(key, "").strip()
            if value:
                meta[key] = value
        if "age" in meta:
            meta["age"] = parse_int(str(meta["age"]))
        studies.append(
            Study(
                study_id=study_id,
                patient_id=patient,
                source="covid-chestxray",
                images=(
                    StudyImage(
                        path=str(path),
                        image_id=Path(filename).stem,
                        view=normalise_view(cells["view"]),
                    ),
                ),
                labels=finding_labels(finding),
                meta=meta,
            )
        )
    return studies
