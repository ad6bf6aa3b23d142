"""Is this a chest radiograph cxrpilot can read? Header and image checks, one-line errors.

Each check raises :class:`~cxrpilot.errors.UnsupportedImageError` whose message starts with
what the input is ("CT slice, not a chest radiograph", "lateral view: the model reads
frontal views", ...), then names the file, the value found and what to do.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from cxrpilot.errors import NonFrontalViewError, UnsupportedImageError
from cxrpilot.imaging._dicom import DicomFacts, classify_view

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_MIN_SIDE",
    "check_declared_size",
    "check_dicom_header",
    "check_pixels",
    "check_view_label",
]

DEFAULT_MAX_PIXELS = 40_000_000
"""Largest image (rows x columns x frames) read before refusing it as a possible bomb.

Sized for chest radiographs: the largest flat-panel detectors are 43 x 43 cm at 100 um
(4300 x 4300 = 18.5 MP) and CR plates 35 x 43 cm at 87.5 um (4020 x 4892 = 19.7 MP); the cap
is twice that. Decoding costs about 40 bytes per pixel at its peak (float64 LUT steps), so
the cap bounds one decode to about 1.6 GB."""

DEFAULT_MIN_SIDE = 128
"""Smallest side, in pixels, of an image the models can read."""

RADIOGRAPH_MODALITIES = frozenset({"CR", "DX", "DR", "RG"})
_SKIP = "to read it anyway use check=False (CLI: --no-check)"

_MODALITY_WORDS = {
    "CT": "CT slice",
    "MR": "MR image",
    "PT": "PET image",
    "NM": "nuclear medicine image",
    "US": "ultrasound image",
    "MG": "mammogram",
    "XA": "X-ray angiography image",
    "RF": "fluoroscopy image",
    "IO": "intra-oral dental radiograph",
    "PX": "panoramic dental radiograph",
    "OT": "'other' (OT) image",
    "SC": "secondary capture",
    "XC": "photograph",
    "ES": "endoscopy image",
    "OP": "ophthalmic photograph",
    "SM": "microscopy slide",
    "SEG": "segmentation",
    "SR": "structured report",
    "PR": "presentation state",
    "RTDOSE": "radiotherapy dose",
    "RTSTRUCT": "radiotherapy structure set",
    "RTIMAGE": "radiotherapy portal image",
}

# SOP class name fragments that identify a non-radiograph when Modality is absent.
_SOP_WORDS = (
    ("CT Image", "CT"),
    ("MR Image", "MR"),
    ("Ultrasound", "US"),
    ("Mammography", "MG"),
    ("PET", "PT"),
    ("Nuclear Medicine", "NM"),
    ("Angiographic", "XA"),
    ("Fluoroscop", "RF"),
    ("Intra-oral", "IO"),
    ("RT ", "RTIMAGE"),
)

# Words in header text that mark a veterinary study (matched as whole words or stems).
_ANIMAL = re.compile(
    r"\b(CANINE|CANIS|FELINE|FELIS|EQUINE|EQUUS|BOVINE|PORCINE|OVINE|MURINE|VETERINAR\w*|"
    r"DOG|CAT|HORSE|COW|PIG|SHEEP|RABBIT|RAT|MOUSE|PUPPY|KITTEN)\b"
)
_ANIMAL_FIELDS = (
    ("PatientSpeciesDescription", "Patient Species Description"),
    ("PatientBreedDescription", "Patient Breed Description"),
    ("AcquisitionDeviceProcessingDescription", "Acquisition Device Processing Description"),
    ("ProtocolName", "Protocol Name"),
    ("StudyDescription", "Study Description"),
    ("SeriesDescription", "Series Description"),
    ("BodyPartExamined", "Body Part Examined"),
    ("InstitutionName", "Institution Name"),
    ("InstitutionalDepartmentName", "Institutional Department Name"),
)
_ANIMAL_CODE_SEQUENCES = (
    "PerformedProtocolCodeSequence",
    "ProcedureCodeSequence",
    "PatientSpeciesCodeSequence",
)
_VETERINARY = re.compile(r"\b(VETERINAR\w*|ANIMAL HOSPITAL|ANIMAL CLINIC|VET CLINIC)\b")
_HUMAN = re.compile(r"\b(HOMO SAPIENS|HUMAN)\b")

# Body Part Examined values that mean the chest, in the languages met in practice.
_CHEST = re.compile(r"CHEST|THORA|TORAX|TORACE|LUNG|PULM|BRUST|POITRINE|PECHO|TORSO")


def _field(ds: Any, keyword: str) -> str:
    try:
        value = ds.get(keyword)
    except Exception:  # noqa: BLE001
        return ""
    return "" if value is None else str(value).upper()


def check_declared_size(
    width: int, height: int, frames: int, *, max_pixels: int, source: str
) -> None:
    """Refuse an image whose header declares more than ``max_pixels`` (before decoding)."""
    total = int(width) * int(height) * max(int(frames), 1)
    if total > max_pixels:
        frames_text = f" x {frames} frames" if frames > 1 else ""
        raise UnsupportedImageError(
            f"image too large (possible decompression bomb): {source} declares "
            f"{width}x{height}{frames_text} = {total / 1e6:.0f} MP, above the limit of "
            f"{max_pixels / 1e6:.0f} MP; raise max_pixels if the file is trusted"
        )


def _non_human(ds: Any) -> tuple[str, str] | None:
    """(word, attribute) when the header describes an animal."""
    for keyword, label in _ANIMAL_FIELDS:
        text = _field(ds, keyword)
        if keyword.startswith("PatientSpecies") and text and not _HUMAN.search(text):
            return text.split()[0].lower(), label
        # Institution names only count when they say veterinary ("Dog River Hospital" is not).
        pattern = _VETERINARY if keyword.startswith("Institution") else _ANIMAL
        match = pattern.search(text)
        if match:
            return match.group(1), label
    for keyword in _ANIMAL_CODE_SEQUENCES:
        try:
            items = ds.get(keyword) or []
            for item in items:
                meaning = str(item.get("CodeMeaning", "")).upper()
                match = _ANIMAL.search(meaning)
                if match:
                    return match.group(1), f"{keyword} code meaning"
                if (
                    keyword == "PatientSpeciesCodeSequence"
                    and meaning
                    and not _HUMAN.search(meaning)
                ):
                    return meaning.lower(), "Patient Species Code Sequence"
        except Exception:  # noqa: BLE001, S112
            continue
    if _field(ds, "PatientBreedDescription") or ds.get("BreedRegistrationSequence"):
        return "breed", "Patient Breed Description"
    return None


def check_dicom_header(ds: Any, facts: DicomFacts, *, source: str) -> None:
    """Modality, presentation intent, species, body part and view, from the header alone."""
    modality = facts.modality
    if modality is None and facts.sop_class_name:
        for fragment, implied in _SOP_WORDS:
            if fragment in facts.sop_class_name:
                modality = implied
                break
    if modality is not None and modality not in RADIOGRAPH_MODALITIES:
        what = _MODALITY_WORDS.get(modality, f"{modality} image")
        raise UnsupportedImageError(
            f"{what}, not a chest radiograph: {source} has Modality {modality!r} "
            f"(expected CR or DX); {_SKIP}"
        )
    if facts.presentation_intent == "FOR PROCESSING" or (
        facts.sop_class_name and "For Processing" in facts.sop_class_name
    ):
        raise UnsupportedImageError(
            f"raw detector image, not for presentation: {source} is a 'FOR PROCESSING' "
            "radiograph; send the 'FOR PRESENTATION' image of the same exposure"
        )
    animal = _non_human(ds)
    if animal is not None:
        word, label = animal
        raise UnsupportedImageError(
            f"not a human chest radiograph: {source} describes a veterinary study "
            f"({word!r} in {label}); the models read human chest radiographs"
        )
    body = facts.body_part
    if body and not _CHEST.search(body.upper()):
        raise UnsupportedImageError(
            f"body part {body!r}, not a chest radiograph: {source} has Body Part Examined "
            f"{body!r} (expected CHEST); {_SKIP}"
        )
    if facts.view_position:
        check_view_label(
            facts.view_position, attribute=facts.view_source or "header", source=source
        )


def check_view_label(view: str, *, attribute: str, source: str) -> None:
    """Refuse a lateral or oblique projection stated in the header
    (:class:`~cxrpilot.errors.NonFrontalViewError`)."""
    kind = classify_view(view)
    if kind == "lateral":
        raise NonFrontalViewError(
            f"lateral view: the model reads frontal views ({source}: {attribute} {view!r}); "
            "load the PA or AP image of the study"
        )
    if kind == "oblique":
        raise NonFrontalViewError(
            f"oblique view: the model reads frontal views ({source}: {attribute} {view!r}); "
            "load the PA or AP image of the study"
        )


def check_pixels(pixels: np.ndarray, *, min_side: int, source: str) -> None:
    """Refuse images too small to read and blank images."""
    height, width = pixels.shape
    if min(height, width) < min_side:
        raise UnsupportedImageError(
            f"image too small to read: {source} is {width}x{height} px; the models need at "
            f"least {min_side} px on each side"
        )
    if float(pixels.max()) - float(pixels.min()) < 1e-3:
        raise UnsupportedImageError(
            f"blank image: every pixel of {source} has the same grey level "
            f"({float(pixels.mean()):.3f}); expected a radiograph"
        )
