"""Reading any supported dataset by path (format detection) and summarising a list of studies."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from cxrpilot.data._study import SECTION_NAMES, Study
from cxrpilot.data._tables import read_csv
from cxrpilot.errors import InvalidDatasetError
from cxrpilot.vocabulary import OBSERVATIONS

__all__ = ["FORMATS", "detect_format", "read_dataset", "describe"]

#: Dataset formats :func:`read_dataset` reads.
FORMATS: tuple[str, ...] = (
    "iu",
    "mimic",
    "chexpert",
    "nih",
    "folders",
    "covid-chestxray",
    "manifest",
)


def _csv_header(path: Path) -> list[str]:
    try:
        header, _ = read_csv(path)
    except InvalidDatasetError:
        return []
    return header


def _csv_format(path: Path) -> str | None:
    header = set(_csv_header(path))
    if {"Image Index", "Finding Labels"} <= header or {"image", "finding_labels"} <= header:
        return "nih"
    if {"Path", "Frontal/Lateral"} <= header:
        return "chexpert"
    if {"patientid", "finding", "filename"} <= header:
        return "covid-chestxray"
    if {"path", "study_id"} & header:
        return "manifest"
    return None


def detect_format(path: str | Path) -> str:
    """The dataset format at ``path`` (one of :data:`FORMATS`), judged by file names and CSV headers.

    Raises
    ------
    InvalidDatasetError
        A path that does not exist or whose format is not recognised (the valid formats listed).
    """
    path = Path(path)
    if path.is_file():
        name = path.name.lower().removesuffix(".gz")
        if name.endswith((".jsonl", ".ndjson")):
            return "manifest"
        if name.endswith((".csv", ".tsv")):
            found = _csv_format(path)
            if found:
                return found
        raise InvalidDatasetError(
            f"{path}: cannot tell the dataset format from the file; pass --format, one of {', '.join(FORMATS)}"
        )
    if not path.is_dir():
        raise InvalidDatasetError(f"{path}: no such file or folder")
    if any((path / "reports").glob("*.xml")) or any(path.glob("*.xml")):
        return "iu"
    if any(path.glob("mimic-cxr-*.csv*")) or any((path / "files").glob("p*/p*")):
        return "mimic"
    if (path / "metadata.csv").is_file() and _csv_format(
        path / "metadata.csv"
    ) == "covid-chestxray":
        return "covid-chestxray"
    for candidate in (
        "Data_Entry_2017.csv",
        "Data_Entry_2017_v2020.csv",
        "train.csv",
        "valid.csv",
        "labels.csv",
    ):
        if (path / candidate).is_file() and _csv_format(path / candidate) in ("nih", "chexpert"):
            return _csv_format(path / candidate)
    if (path / "manifest.csv").is_file() or (path / "manifest.jsonl").is_file():
        return "manifest"
    return "folders"


def _dataset_file(path: Path, fmt: str) -> Path:
    if path.is_file():
        return path
    names = {
        "nih": ("Data_Entry_2017.csv", "Data_Entry_2017_v2020.csv", "labels.csv"),
        "chexpert": ("train.csv", "valid.csv"),
        "manifest": ("manifest.csv", "manifest.jsonl"),
    }[fmt]
    for name in names:
        if (path / name).is_file():
            return path / name
    raise InvalidDatasetError(f"{path}: no {' or '.join(names)} for format {fmt!r}")


def read_dataset(
    path: str | Path, *, format: str = "auto", source: str | None = None
) -> list[Study]:
    """Read any supported dataset: ``format="auto"`` detects it (:func:`detect_format`).

    Parameters
    ----------
    path : path
        A dataset folder, or its main CSV/JSONL file.
    format : str
        ``"auto"`` or one of :data:`FORMATS`.
    source : str, optional
        Source name for folder and manifest datasets (default: the folder / file name).

    Returns
    -------
    list of Study
    """
    from cxrpilot import data

    path = Path(path)
    fmt = detect_format(path) if format == "auto" else format
    if fmt not in FORMATS:
        raise InvalidDatasetError(
            f"unknown dataset format {format!r}; expected auto or one of {', '.join(FORMATS)}"
        )
    if fmt == "iu":
        return data.read_iu_xray(path)
    if fmt == "mimic":
        return data.read_mimic_cxr(path)
    if fmt == "covid-chestxray":
        return data.read_covid_chestxray(path.parent if path.is_file() else path)
    if fmt == "folders":
        return data.read_image_folders(path, source=source or path.name)
    if fmt == "chexpert":
        return data.read_chexpert(_dataset_file(path, fmt))
    if fmt == "nih":
        return data.read_nih(_dataset_file(path, fmt))
    file = _dataset_file(path, fmt)
    return data.read_manifest(file, source=source or file.parent.name)


def describe(studies: Sequence[Study]) -> dict:
    """Counts of a list of studies, as plain JSON-ready data.

    Returns
    -------
    dict
        ``studies``, ``patients`` (distinct ``(source, patient_id)``), ``images``,
        ``images_with_file``, ``sources``, ``splits``, ``views`` (None as ``"unknown"``),
        ``sections`` (studies having each), and ``labels``: per observation the number of
        studies with 1 (``positive``), 0 (``negative``), -1 (``uncertain``), None
        (``not_mentioned``) and without the key (``not_stated``), plus ``prevalence`` =
        positive / (positive + negative + uncertain) (None when nothing is stated).
    """
    labels = {}
    for name in OBSERVATIONS:
        counts = Counter(
            s.labels.get(name, "absent") if name in s.labels else "absent" for s in studies
        )
        stated = counts[1] + counts[0] + counts[-1]
        labels[name] = {
            "positive": counts[1],
            "negative": counts[0],
            "uncertain": counts[-1],
            "not_mentioned": counts[None],
            "not_stated": counts["absent"],
            "prevalence": round(counts[1] / stated, 4) if stated else None,
        }
    images = [i for s in studies for i in s.images]
    return {
        "studies": len(studies),
        "patients": len({(s.source, s.patient_id) for s in studies}),
        "images": len(images),
        "images_with_file": sum(i.path is not None for i in images),
        "sources": dict(Counter(s.source for s in studies).most_common()),
        "splits": dict(Counter(s.split or "unassigned" for s in studies).most_common()),
        "views": dict(Counter(i.view or "unknown" for i in images).most_common()),
        "sections": {n: sum(bool(s.sections.get(n)) for s in studies) for n in SECTION_NAMES},
        "labels": labels,
    }
