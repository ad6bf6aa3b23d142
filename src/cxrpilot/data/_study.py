"""The one record type every dataset adapter produces."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["StudyImage", "Study", "SECTION_NAMES"]

#: Report sections a Study may carry (keys of :attr:`Study.sections`).
SECTION_NAMES: tuple[str, ...] = ("indication", "comparison", "technique", "findings", "impression")


@dataclass(frozen=True, slots=True)
class StudyImage:
    """One image of a study.

    Attributes
    ----------
    path : str or None
        Where the image file is (None when the dataset has the report but not the image,
        as for IU Open-i here).
    image_id : str
        The dataset's own id of the image.
    view : str or None
        ``"PA"``, ``"AP"``, ``"LATERAL"`` ... as the dataset states it, normalised to upper case.
    """

    path: str | None
    image_id: str
    view: str | None = None


@dataclass(frozen=True)
class Study:
    """One imaging study: its images, its report sections, its labels, its split.

    Attributes
    ----------
    study_id, patient_id : str
        Ids as the dataset gives them (``patient_id`` falls back to ``study_id`` when the
        dataset has no patient ids; patient-level splits then are study-level).
    source : str
        Dataset name, e.g. ``"iu-xray"``, ``"mimic-cxr"``, ``"covid-radiography"``.
    images : tuple of StudyImage
    sections : dict of str to str
        Report text per section name (see :data:`SECTION_NAMES`); empty when no report.
    labels : dict of str to (1, 0, -1 or None)
        Per observation of the 14: 1 present, 0 absent, -1 uncertain, None not mentioned.
        Only observations the dataset states are keys.
    split : str or None
        ``"train"``, ``"validate"``, ``"test"`` or None when not assigned.
    meta : dict
        Anything else the dataset gives (age, sex, class name, licence ...).
    """

    study_id: str
    patient_id: str
    source: str
    images: tuple[StudyImage, ...] = ()
    sections: dict[str, str] = field(default_factory=dict)
    labels: dict[str, int | None] = field(default_factory=dict)
    split: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
