"""The composer's wording: report order, templates per observation and status, indications.

Every template here is written so that the project's labeler reads back exactly the status
it states (tests/models/composer/test_composer.py checks each one) and names no other observation.
"""

from __future__ import annotations

import re

# The usual reading order of a chest radiograph report.
REGIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("devices", ("Support Devices",)),
    ("lungs", ("Lung Opacity", "Consolidation", "Pneumonia", "Atelectasis", "Edema", "Lung Lesion")),
    ("pleura", ("Pleural Effusion", "Pneumothorax", "Pleural Other")),
    ("heart", ("Cardiomegaly", "Enlarged Cardiomediastinum")),
    ("bones", ("Fracture",)),
)
REGION_OF: dict[str, int] = {name: i for i, (_, names) in enumerate(REGIONS) for name in names}
ORDER: dict[str, int] = {name: i for i, name in enumerate(n for _, names in REGIONS for n in names)}

# FINDINGS sentence for a present finding.
PRESENT: dict[str, str] = {
    "Support Devices": "Support devices are present.",
    "Lung Opacity": "There is an airspace opacity.",
    "Consolidation": "There is consolidation.",
    "Pneumonia": "The appearance is consistent with pneumonia.",
    "Atelectasis": "There is atelectasis.",
    "Edema": "There is pulmonary edema.",
    "Lung Lesion": "There is a pulmonary nodule or mass.",
    "Pleural Effusion": "There is a pleural effusion.",
    "Pneumothorax": "There is a pneumothorax.",
    "Pleural Other": "There is pleural thickening.",
    "Cardiomegaly": "The heart is enlarged.",
    "Enlarged Cardiomediastinum": "The mediastinum is widened.",
    "Fracture": "There is a fracture.",
}

# FINDINGS sentence for a present finding worded "likely" (probability below 0.9), where
# PRESENT states an interpretation outright ("consistent with").
PRESENT_LIKELY: dict[str, str] = {
    "Pneumonia": "The appearance likely represents pneumonia.",
}

# Noun phrase (lower case) for the IMPRESSION and for hedged statements.
NOUN: dict[str, str] = {
    "Support Devices": "support devices",
    "Lung Opacity": "airspace opacity",
    "Consolidation": "consolidation",
    "Pneumonia": "pneumonia",
    "Atelectasis": "atelectasis",
    "Edema": "pulmonary edema",
    "Lung Lesion": "pulmonary nodule or mass",
    "Pleural Effusion": "pleural effusion",
    "Pneumothorax": "pneumothorax",
    "Pleural Other": "pleural thickening",
    "Cardiomegaly": "cardiomegaly",
    "Enlarged Cardiomediastinum": "widened mediastinum",
    "Fracture": "fracture",
}

# IMPRESSION item for a present finding, when it differs from the capitalised noun.
PRESENT_ITEM: dict[str, str] = {
    "Support Devices": "Support devices in place.",
    "Lung Lesion": "Pulmonary nodule or mass.",
}

# Absence: findings that join a "No A, B, or C." list, with their noun; the others have a sentence.
ABSENT_NOUN: dict[str, str] = {
    "Lung Opacity": "focal airspace opacity",
    "Consolidation": "consolidation",
    "Pneumonia": "pneumonia",
    "Atelectasis": "atelectasis",
    "Edema": "pulmonary edema",
    "Pleural Effusion": "pleural effusion",
    "Pneumothorax": "pneumothorax",
    "Pleural Other": "pleural thickening",
}
ABSENT_SENTENCE: dict[str, str] = {
    "Support Devices": "No support devices are seen.",
    "Lung Lesion": "There are no pulmonary nodules or masses.",
    "Cardiomegaly": "The heart is normal in size.",
    "Enlarged Cardiomediastinum": "The mediastinal contours are normal.",
    "Fracture": "No acute fracture is seen.",
}
HEART_AND_MEDIASTINUM_NORMAL = "The heart size and mediastinal contours are normal."

# Signs and the interpretations that explain them: said together in the impression
# ("Airspace opacity, consistent with pneumonia.").
EXPLAINS: dict[str, tuple[str, ...]] = {
    "Pneumonia": ("Consolidation", "Lung Opacity"),
    "Atelectasis": ("Lung Opacity",),
    "Edema": ("Lung Opacity",),
}

# What an indication asks about, in the order the impression answers it.
INDICATIONS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), names)
    for pattern, names in (
        ((r"\b(?:lines?|tubes?|catheters?|piccs?|ports?|placement|position\w*|pacemakers?|pacers?|ett|"
         r"intubat\w*|ng|og|drains?|cvc|central\s+venous)\b"), ("Support Devices", "Pneumothorax")),
        (r"\b(?:fevers?|febrile|cough\w*|pneumonia|infect\w*|sputum|sepsis|septic|aspiration|leukocytosis)\b",
         ("Pneumonia", "Consolidation", "Lung Opacity")),
        (r"\b(?:short(?:ness)?\s+of\s+breath|sob|dyspn\w*|hypox\w*|desat\w*)\b",
         ("Pneumonia", "Consolidation", "Lung Opacity", "Edema", "Pleural Effusion", "Pneumothorax")),
        (r"\b(?:chf|heart\s+failure|edema|fluid\s+overload|volume\s+overload)\b",
         ("Edema", "Pleural Effusion", "Cardiomegaly")),
        (r"\b(?:trauma\w*|falls?|fell|injur\w*|rib\s+pain|mvc|mva|accident)\b", ("Fracture", "Pneumothorax")),
        (r"\b(?:chest\s+pain|pneumothorax|ptx)\b", ("Pneumothorax",)),
        (r"\beffusions?\b", ("Pleural Effusion",)),
        (r"\b(?:nodules?|mass(?:es)?|cancer|malignan\w*|tumou?rs?|metasta\w*|lesions?)\b", ("Lung Lesion",)),
        (r"\b(?:atelectasis|collapse)\b", ("Atelectasis",)),
        (r"\b(?:cardiomegaly|enlarged\s+heart)\b", ("Cardiomegaly",)),
    )
)


def indication_findings(indication: str | None) -> tuple[str, ...]:
    """The observations an indication asks about, in the order it asks (no repeats).

    >>> indication_findings("fever, cough")
    ('Pneumonia', 'Consolidation', 'Lung Opacity')
    >>> indication_findings("line placement")
    ('Support Devices', 'Pneumothorax')
    """
    if not indication:
        return ()
    hits: list[tuple[int, str]] = []
    for pattern, names in INDICATIONS:
        m = pattern.search(indication)
        if m:
            hits.extend((m.start() * 100 + k, name) for k, name in enumerate(names))
    out: list[str] = []
    for _, name in sorted(hits):
        if name not in out:
            out.append(name)
    return tuple(out)
