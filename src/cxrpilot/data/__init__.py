"""Dataset adapters: every dataset read into one record type, :class:`Study`.

Heavy libraries (imagehash, Pillow) are imported only when images are read.

Adapters return ``list[Study]``; :func:`find_duplicates` / :func:`deduplicate` find the same
radiograph in several datasets by perceptual hash; :func:`assign_splits` makes patient-level,
duplicate-aware, stratified splits with a seed.

>>> from cxrpilot.data import read_image_folders, read_covid_chestxray, find_duplicates, assign_splits
>>> studies = read_image_folders("../shared/data/covid-radiography", source="covid-radiography")  # doctest: +SKIP
>>> studies += read_covid_chestxray("../shared/data/covid-chestxray")  # doctest: +SKIP
>>> groups = find_duplicates(studies, cache_dir=".cache/cxrpilot")  # doctest: +SKIP
>>> studies = assign_splits(studies, seed=0, groups=groups)  # doctest: +SKIP
"""

from __future__ import annotations

from cxrpilot.data._covid_chestxray import read_covid_chestxray
from cxrpilot.data._dedup import DuplicateGroup, deduplicate, find_duplicates
from cxrpilot.data._folders import read_image_folders
from cxrpilot.data._splits import assign_splits
from cxrpilot.data._study import Study, StudyImage

__all__ = [
    "Study",
    "StudyImage",
    "read_image_folders",
    "read_covid_chestxray",
    "DuplicateGroup",
    "find_duplicates",
    "deduplicate",
    "assign_splits",
]

