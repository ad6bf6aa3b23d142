"""MIMIC-CXR / MIMIC-CXR-JPG: report text files, the official split, CheXpert labels, metadata.

Layout (PhysioNet)::

    ROOT/mimic-cxr-2.0.0-split.csv.gz      dicom_id, study_id, subject_id, split
    ROOT/mimic-cxr-2.0.0-chexpert.csv.gz   subject_id, study_id, 14 observation columns
    ROOT/mimic-cxr-2.0.0-metadata.csv.gz   dicom_id, subject_id, study_id, ViewPosition, ...
    ROOT/files/p10/p10000032/s50414267.txt           report (MIMIC-CXR)
    ROOT/files/p10/p10000032/s50414267/{dicom_id}.jpg image (-JPG; .dcm for MIMIC-CXR)

The tables may also be plain ``.csv``; each is optional (no split table: ``split`` None; no
CheXpert table: no labels; no metadata: no views).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from cxrpilot.data._common import normalise_view
from cxrpilot.data._labels import label_columns, read_labels
from cxrpilot.data._splits import split_name
from cxrpilot.data._study import SECTION_NAMES, Study, StudyImage
from cxrpilot.data._tables import Row, read_csv, read_text
from cxrpilot.errors import InvalidDatasetError

__all__ = ["read_mimic_cxr"]

_REPORT = re.compile(r"^s(\d+)\.txt$")


def _table(root: Path, name: str) -> Path | None:
    for candidate in (root / f"{name}.csv.gz", root / f"{name}.csv"):
        if candidate.is_file():
            return candidate
    return None


def _image_rows(table: Path, rows: Iterable[Row]) -> Iterator[tuple[str, tuple[str, str, str], dict[str, str]]]:
    """Per row of an image table: where it is, its (study, subject, dicom) ids, its cells."""
    for number, line, cells in rows:
        ids = (cells["study_id"].strip(), cells["subject_id"].strip(), cells["dicom_id"].strip())
        yield f"{table}: row {number} (line {line})", ids, cells


def _folder(root: Path, subject: str, study: str) -> Path:
    return root / "files" / f"p{subject[:2]}" / f"p{subject}" / f"s{study}"


def read_mimic_cxr(
    root: str | Path,
    *,
    reports_root: str | Path | None = None,
    prefix: str = "mimic-cxr-2.0.0",
) -> list[Study]:
    """Read MIMIC-CXR(-JPG): one :class:`Study` per study id.

    Parameters
    ----------
    root : path
        The dataset folder with the tables and ``files/``.
    reports_root : path, optional
        Where ``files/pXX/pSUBJECT/sSTUDY.txt`` reports are when not under ``root`` (the
        reports come in a separate archive).
    prefix : str
        Table name prefix (``{prefix}-split.csv.gz`` ...).

    Returns
    -------
    list of Study
        Sorted by (subject, study). ``study_id`` and ``patient_id`` are MIMIC's numbers as
        text (``"50414267"``, ``"10000032"``); ``split`` is the official one (``train``,
        ``validate``, ``test``); ``labels`` has all 14 observations of the CheXpert table
        (blank -> None); ``sections`` come from the report (via
        :func:`cxrpilot.reports.split_sections`); images are the ``dicom_id`` rows with their
        ``ViewPosition`` and the ``.jpg``/``.dcm`` path when the file exists (else None).

    Raises
    ------
    InvalidDatasetError
        No tables and no reports; a table missing its id columns; a study listed under two
        subjects or two splits; an unknown split or label value (file and row named).
    """
    from cxrpilot.reports import split_sections

    root = Path(root)
    if not root.is_dir():
        raise InvalidDatasetError(f"{root}: not a folder; expected the MIMIC-CXR dataset folder")
    text_root = Path(reports_root) if reports_root is not None else root
    subjects: dict[str, str] = {}
    images: dict[str, dict[str, StudyImage]] = {}
    splits: dict[str, str] = {}
    labels: dict[str, dict[str, int | None]] = {}
    meta: dict[str, dict[str, object]] = {}

    def note_subject(study: str, subject: str, where: str) -> None:
        known = subjects.setdefault(study, subject)
        if known != subject:
            raise InvalidDatasetError(
                f"{where}: study {study} is listed under subject {subject}, elsewhere {known}"
            )

    metadata = _table(root, f"{prefix}-metadata")
    if metadata:
        _, rows = read_csv(
            metadata, required=("dicom_id", "subject_id", "study_id", "ViewPosition")
        )
        for where, (study, subject, dicom), cells in _image_rows(metadata, rows):
            if not (study and subject and dicom):
                raise InvalidDatasetError(f"{where}: empty 'dicom_id', 'subject_id' or 'study_id'")
            note_subject(study, subject, where)
            images.setdefault(study, {})[dicom] = StudyImage(
                None, dicom, normalise_view(cells["ViewPosition"])
            )
            if cells.get("StudyDate", "").strip():
                meta.setdefault(study, {})["study_date"] = cells["StudyDate"].strip()
    split_table = _table(root, f"{prefix}-split")
    if split_table:
        _, rows = read_csv(split_table, required=("dicom_id", "study_id", "subject_id", "split"))
        for where, (study, subject, dicom), cells in _image_rows(split_table, rows):
            note_subject(study, subject, where)
            split = split_name(cells["split"])
            if split is None:
                raise InvalidDatasetError(
                    f"{where}: split {cells['split']!r}; expected one of train, validate, test"
                )
            if splits.setdefault(study, split) != split:
                raise InvalidDatasetError(
                    f"{where}: study {study} is in split {split} here, {splits[study]} elsewhere"
                )
            images.setdefault(study, {}).setdefault(dicom, StudyImage(None, dicom, None))
    chexpert = _table(root, f"{prefix}-chexpert")
    if chexpert:
        header, rows = read_csv(chexpert, required=("subject_id", "study_id"))
        columns = label_columns(header)
        if not columns:
            raise InvalidDatasetError(
                f"{chexpert}: no observation columns; expected the 14 CheXpert label columns"
            )
        for number, line, cells in rows:
            where = f"{chexpert}: row {number} (line {line})"
            study = cells["study_id"].strip()
            note_subject(study, cells["subject_id"].strip(), where)
            labels[study] = read_labels(cells, columns, path=chexpert, row=number, line=line)
    reports: dict[str, Path] = {}
    files = text_root / "files"
    if files.is_dir():
        for path in files.glob("p*/p*/s*.txt"):
            match = _REPORT.match(path.name)
            if match:
                study = match.group(1)
                reports[study] = path
                subjects.setdefault(study, path.parent.name.removeprefix("p"))
    if not subjects:
        raise InvalidDatasetError(
            f"{root}: no {prefix}-split/-metadata/-chexpert table and no files/pXX/pSUBJECT/sSTUDY.txt reports"
        )

    studies = []
    for study, subject in sorted(subjects.items(), key=lambda kv: (kv[1], kv[0])):
        folder = _folder(root, subject, study)
        study_images = []
        for dicom, image in sorted(images.get(study, {}).items()):
            for suffix in (".jpg", ".dcm"):
                candidate = folder / f"{dicom}{suffix}"
                if candidate.is_file():
                    image = StudyImage(str(candidate), dicom, image.view)
                    break
            study_images.append(image)
        sections: dict[str, str] = {}
        report = reports.get(study)
        study_meta = dict(meta.get(study, {}))
        if report is not None:
            parsed = split_sections(read_text(report))
            sections = {n: getattr(parsed, n) for n in SECTION_NAMES if getattr(parsed, n)}
            study_meta["report"] = str(report)
        studies.append(
            Study(
                study_id=study,
                patient_id=subject,
                source="mimic-cxr",
                images=tuple(study_images),
                sections=sections,
                labels=labels.get(study, {}),
                split=splits.get(study),
                meta=study_meta,
            )
        )
    return studies
