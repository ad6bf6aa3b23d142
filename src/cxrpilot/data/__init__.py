"""Dataset adapters: every dataset read into one record type, :class:`Study`.

Adapters return ``list[Study]``: :func:`read_iu_xray` (IU Open-i XML), :func:`read_mimic_cxr`,
:func:`read_chexpert`, :func:`read_nih` (``Data_Entry_2017.csv``), :func:`read_image_folders`
(folder-per-class: COVID-19 Radiography, Kermany pediatric pneumonia),
:func:`read_covid_chestxray` (ieee8023) and :func:`read_manifest` (any CSV/JSONL);
:func:`read_dataset` detects the format (:func:`detect_format`); :func:`describe` counts studies, views and labels.
:func:`read_text` and :func:`read_csv` read any text file or CSV table with errors that name
the file, line and byte (the CLI reads its inputs with them); :func:`find_files` lists the
files named and those of a kind under folders (:data:`RADIOGRAPH_SUFFIXES` for images).
:func:`find_duplicates` / :func:`deduplicate` find the same radiograph in several datasets by
perceptual hash; :func:`assign_splits` makes patient-level, duplicate-aware, stratified splits
with a seed. Heavy libraries (imagehash, Pillow) are imported only when images are read.

>>> from cxrpilot.data import read_image_folders, read_covid_chestxray, find_duplicates, assign_splits
>>> studies = read_image_folders("../shared/data/covid-radiography", source="covid-radiography")  # doctest: +SKIP
>>> studies += read_covid_chestxray("../shared/data/covid-chestxray")  # doctest: +SKIP
>>> groups = find_duplicates(studies, cache_dir=".cache/cxrpilot")  # doctest: +SKIP
>>> studies = assign_splits(studies, seed=0, groups=groups)  # doctest: +SKIP
"""

from __future__ import annotations

from cxrpilot.data._chexpert import read_chexpert
from cxrpilot.data._covid_chestxray import read_covid_chestxray
from cxrpilot.data._dedup import DuplicateGroup, deduplicate, find_duplicates
from cxrpilot.data._detect import FORMATS, describe, detect_format, read_dataset
from cxrpilot.data._files import RADIOGRAPH_SUFFIXES, find_files
from cxrpilot.data._folders import read_image_folders
from cxrpilot.data._iu import read_iu_xray
from cxrpilot.data._manifest import read_manifest
from cxrpilot.data._mimic import read_mimic_cxr
from cxrpilot.data._nih import read_nih
from cxrpilot.data._splits import assign_splits
from cxrpilot.data._study import Study, StudyImage
from cxrpilot.data._tables import read_csv, read_text

__all__ = [
    "Study",
    "StudyImage",
    "read_iu_xray",
    "read_mimic_cxr",
    "read_chexpert",
    "read_nih",
    "read_image_folders",
    "read_covid_chestxray",
    "read_manifest",
    "read_dataset",
    "detect_format",
    "describe",
    "FORMATS",
    "DuplicateGroup",
    "find_duplicates",
    "deduplicate",
    "assign_splits",
    "read_csv",
    "read_text",
    "find_files",
    "RADIOGRAPH_SUFFIXES",
]
