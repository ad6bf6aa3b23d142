"""IU Open-i MeSH major terms (coded by people) -> the 14 observations.

The IU reports carry MeSH "major" terms written as ``Head/qualifier/qualifier...``:
``Cardiomegaly/mild``, ``Pulmonary Atelectasis/base/left``, ``Opacity/lung/base/left``,
``Catheters, Indwelling``, ``Fractures, Bone/ribs/left/healed``, ``normal``. The coders
recorded what a report states as present (hedged findings included); they never record an
absence. So a mapped term gives 1, and an observation with no mapped term is 0.

Some terms are too ambiguous to say yes or no for an observation; they give ``None`` for
that observation only (the report is left out of that observation's evaluation):

- ``Opacity`` / ``Density`` outside the lung (ribs, breast, sternum, mediastinum, heart,
  spine, soft tissue) for Lung Opacity;
- ``Mass`` / ``Nodule`` outside the lung (breast, heart, thorax wall) for Lung Lesion;
- ``Costophrenic Angle/blunted`` (fluid or pleural thickening) for Pleural Effusion and
  Pleural Other;
- ``Surgical Instruments``, ``Sutures`` (surgical clips, sternal wires, suture lines) and
  ``Foreign Bodies`` for Support Devices;
- ``Cardiac Shadow/borderline`` and ``Heart Failure`` for Cardiomegaly;
- No Finding, for a report coded only with devices, surgical instruments, sutures, foreign
  bodies, breast implants or "Technical Quality of Image Unsatisfactory" (the labeler's No
  Finding ignores devices, as CheXpert's does; the coders had no code for "normal apart
  from the catheter");
- ``Mediastinum/lymph nodes`` and ``Cardiac Shadow/enlarged`` (the coders' code for an
  enlarged cardiac *or cardiomediastinal* silhouette) for Enlarged Cardiomediastinum;
- ``Nodule`` in a report also coded ``Calcinosis``, ``Calcified Granuloma``, ``Granuloma``
  or ``Granulomatous Disease`` (and no ``Mass``) for Lung Lesion: the coders write
  "Nodule" for a *calcified* nodule, which CheXpert's convention (and this labeler) does
  not count as a lung lesion;
- ``Opacity`` or ``Density`` that is ``round`` or outside the lung (ribs, breast, thorax
  wall, paratracheal, costophrenic angle ...), or coded together with a ``Nodule``,
  ``Mass`` or granuloma and no other parenchymal term, for Lung Opacity: such a density is
  the lesion or an extra-pulmonary shadow, which CheXpert's convention does not call a
  Lung Opacity.

``round`` is the coders' qualifier for a *nodular* opacity ("6 mm nodular opacity in the
right upper lobe" -> ``Opacity/lung/upper lobe/right/round``), so ``Opacity``, ``Density``
or ``Infiltrate`` qualified ``round`` maps to Lung Lesion (ambiguous outside the lung and for
a reticulonodular, ``reticular``/``interstitial``, pattern, which is a Lung Opacity). Pleural
calcification (``Calcinosis/pleura``) is Pleural Other; increased or reticular lung markings
(``Markings/lung/prominent``, ``Markings/.../reticular``) are Lung Opacity. These rules were
added after the reports were split into halves (:func:`cxrpilot.reports.iu_half`), from
errors on the development half only.

``No Indexing`` (the report was not coded) gives ``None`` for everything.

Observations validated: all 14, with few positives for some (Enlarged Cardiomediastinum,
Pneumothorax, Consolidation, Pleural Other); see :data:`MESH_VALIDATED`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from cxrpilot.vocabulary import OBSERVATIONS

#: Observations the MeSH mapping can validate (No Finding from ``normal``).
MESH_VALIDATED: tuple[str, ...] = OBSERVATIONS

# qualifiers that place a finding outside the lung parenchyma
_OUTSIDE_LUNG = (
    r"ribs?|breast|sternum|mediastinum|heart|thoracic vertebrae|spine|adipose tissue|clavicle|humerus|"
    r"shoulder|abdomen|soft tissue|neck|pleura|diaphragm|cervical vertebrae|lumbar vertebrae|thorax|paratracheal"
)
_NOT_LUNG = rf"(?:^|/)(?:{_OUTSIDE_LUNG}|costophrenic angle|sulcus|pleural sinus|supracardiac|round)(?:/|$)"

# "round" is how the coders qualify a *nodular* opacity or density ("6 mm nodular opacity in
# the right upper lobe" -> Opacity/lung/upper lobe/right/round): a nodule, unless it lies
# outside the lung or is a reticulonodular (interstitial) pattern
_ROUND = r"(?:^|/)round(?:/|$)"
_ROUND_NOT_LESION = rf"^(?=.*{_ROUND})(?=.*(?:^|/)(?:{_OUTSIDE_LUNG}|supracardiac|reticular|interstitial)(?:/|$))"

#: (MeSH head, regex over the qualifiers or None for any, observation, value): value 1 maps
#: the term to the observation, None marks it ambiguous for that observation. Rules are
#: tried in order; every matching rule applies.
MESH_RULES: list[tuple[str, str | None, str, int | None]] = [
    ("normal", None, "No Finding", 1),
    # heart and mediastinum
    ("Cardiomegaly", None, "Cardiomegaly", 1),
    ("Cardiac Shadow", r"enlarged", "Cardiomegaly", 1),
    ("Cardiac Shadow", r"borderline", "Cardiomegaly", None),
    ("Cardiac Shadow", r"enlarged", "Enlarged Cardiomediastinum", None),
    ("Heart Failure", None, "Cardiomegaly", None),
    ("Mediastinum", r"lymph nodes", "Enlarged Cardiomediastinum", None),
    ("Mediastinum", r"prominent|enlarged|widened", "Enlarged Cardiomediastinum", 1),
    # lung parenchyma
    ("Opacity", r"(?:^|/)(?:interstitial|reticular)(?:/|$)", "Lung Opacity", 1),  # reticulonodular: not a lesion
    ("Opacity", _NOT_LUNG, "Lung Opacity", None),
    ("Opacity", None, "Lung Opacity", 1),
    ("Density", _NOT_LUNG, "Lung Opacity", None),
    ("Density", None, "Lung Opacity", 1),
    ("Infiltrate", None, "Lung Opacity", 1),
    ("Airspace Disease", None, "Lung Opacity", 1),
    ("Cicatrix", r"pleura|costophrenic|breast|ribs", "Lung Opacity", None),
    ("Cicatrix", None, "Lung Opacity", 1),
    ("Pulmonary Fibrosis", None, "Lung Opacity", 1),
    ("Fibrosis", None, "Lung Opacity", 1),
    ("Lung Diseases, Interstitial", None, "Lung Opacity", 1),
    ("Markings", r"interstitial|reticular", "Lung Opacity", 1),
    ("Lung", r"interstitial", "Lung Opacity", 1),
    ("Thickening", r"bronchi|bronchovascular|interstitial", "Lung Opacity", 1),
    ("Markings", r"^(?=.*(?:^|/)lung(?:/|$))(?=.*(?:^|/)(?:prominent|increased|coarse)(?:/|$))", "Lung Opacity", 1),
    ("Nodule", r"(?:^|/)(?:heart|breast|thorax|pleura|reticular)(?:/|$)", "Lung Lesion", None),
    ("Nodule", None, "Lung Lesion", 1),
    ("Mass", r"(?:^|/)(?:breast|mediastinum|thorax|paratracheal)(?:/|$)", "Lung Lesion", None),
    ("Mass", None, "Lung Lesion", 1),
    ("Opacity", _ROUND_NOT_LESION, "Lung Lesion", None),
    ("Opacity", _ROUND, "Lung Lesion", 1),
    ("Density", _ROUND_NOT_LESION, "Lung Lesion", None),
    ("Density", _ROUND, "Lung Lesion", 1),
    ("Infiltrate", _ROUND_NOT_LESION, "Lung Lesion", None),
    ("Infiltrate", _ROUND, "Lung Lesion", 1),
    ("Pulmonary Edema", None, "Edema", 1),
    ("Edema", None, "Edema", 1),
    ("Pulmonary Congestion", None, "Edema", 1),
    ("Heart Failure", None, "Edema", 1),
    ("Consolidation", None, "Consolidation", 1),
    ("Pneumonia", None, "Pneumonia", 1),
    ("Pulmonary Atelectasis", None, "Atelectasis", 1),
    ("Atelectasis", None, "Atelectasis", 1),
    # pleura
    ("Pneumothorax", None, "Pneumothorax", 1),
    ("Hydropneumothorax", None, "Pneumothorax", 1),
    ("Hemopneumothorax", None, "Pneumothorax", 1),
    ("Pleural Effusion", None, "Pleural Effusion", 1),
    ("Hydropneumothorax", None, "Pleural Effusion", 1),
    ("Hemopneumothorax", None, "Pleural Effusion", 1),
    ("Hemothorax", None, "Pleural Effusion", 1),
    ("Costophrenic Angle", r"blunted|obscured", "Pleural Effusion", None),
    ("Costophrenic Angle", r"blunted|obscured", "Pleural Other", None),
    ("Thickening", r"pleura", "Pleural Other", 1),
    ("Cicatrix", r"pleura", "Pleural Other", 1),
    ("Pleura", None, "Pleural Other", 1),
    ("Density", r"(?:^|/)pleura(?:/|$)", "Pleural Other", 1),
    ("Opacity", r"(?:^|/)pleura(?:/|$)", "Pleural Other", 1),
    ("Calcinosis", r"(?:^|/)pleura(?:/|$)", "Pleural Other", 1),
    # bones and devices
    ("Fractures, Bone", None, "Fracture", 1),
    ("Catheters, Indwelling", None, "Support Devices", 1),
    ("Tube, Inserted", None, "Support Devices", 1),
    ("Implanted Medical Device", None, "Support Devices", 1),
    ("Medical Device", None, "Support Devices", 1),
    ("Stents", None, "Support Devices", 1),
    ("Surgical Instruments", None, "Support Devices", None),
    ("Sutures", None, "Support Devices", None),
    ("Foreign Bodies", None, "Support Devices", None),
]

_CALCIFIED = {"calcinosis", "calcified granuloma", "granuloma", "granulomatous disease"}

_OPACITY_ONLY = {"infiltrate", "airspace disease", "cicatrix", "pulmonary fibrosis", "fibrosis",
                 "lung diseases, interstitial", "markings"}

_NEUTRAL = {
    "catheters, indwelling", "tube, inserted", "implanted medical device", "medical device", "stents",
    "surgical instruments", "sutures", "foreign bodies", "breast implants",
    "technical quality of image unsatisfactory",
}

_COMPILED = [(head.lower(), re.compile(q, re.IGNORECASE) if q else None, obs, value) for head, q, obs, value in MESH_RULES]


def mesh_labels(terms: Iterable[str]) -> dict[str, int | None]:
    """Labels of the 14 observations from a report's MeSH major terms.

    Parameters
    ----------
    terms : iterable of str
        MeSH major terms as the IU XML gives them (``"Cardiomegaly/mild"``,
        ``"Pulmonary Atelectasis/base/left"``, ``"normal"`` ...).

    Returns
    -------
    dict of str to (1, 0 or None)
        Every observation: 1 when a term maps to it, None when a term is ambiguous for it
        (and none maps to it), else 0. All None when the report was not coded
        (``"No Indexing"`` or no terms).

    Examples
    --------
    >>> labels = mesh_labels(["Cardiomegaly/mild", "Surgical Instruments/mediastinum"])
    >>> labels["Cardiomegaly"], labels["Support Devices"], labels["Edema"], labels["No Finding"]
    (1, None, 0, 0)
    """
    items = [" ".join(str(t).split()) for t in terms]
    items = [t for t in items if t]
    if not items or any(t.lower() == "no indexing" for t in items):
        return dict.fromkeys(OBSERVATIONS)
    labels: dict[str, int | None] = dict.fromkeys(OBSERVATIONS, 0)
    ambiguous: set[str] = set()
    for term in items:
        head, _, qualifiers = term.partition("/")
        head = head.strip().lower()
        blocked: set[str] = set()  # observations for which this term was found ambiguous
        for rule_head, pattern, observation, value in _COMPILED:
            if head != rule_head or observation in blocked:
                continue
            if pattern is not None and not pattern.search(qualifiers):
                continue
            if value is None:
                ambiguous.add(observation)
                blocked.add(observation)  # e.g. Opacity/ribs: the generic Opacity rule must not apply
            else:
                labels[observation] = value
    # a nodule coded together with calcification or granuloma is a calcified nodule, which
    # CheXpert's convention does not count as a Lung Lesion
    heads = {t.partition("/")[0].strip().lower() for t in items}
    if labels["Lung Lesion"] == 1 and heads & _CALCIFIED and not any(
        t.lower().startswith("mass") for t in items
    ):
        labels["Lung Lesion"] = None
    # devices, clips, sutures and foreign bodies are not pathology: No Finding (which ignores
    # Support Devices) cannot be judged from a report coded with nothing else
    if labels["No Finding"] != 1 and all(h in _NEUTRAL for h in heads):
        labels["No Finding"] = None
    # likewise a density or opacity coded with a nodule, mass or granuloma describes that
    # lesion, which is not a Lung Opacity in CheXpert's convention
    if labels["Lung Opacity"] == 1 and heads & (_CALCIFIED | {"nodule", "mass"}) and not heads & _OPACITY_ONLY:
        labels["Lung Opacity"] = None
    for observation in ambiguous:
        if labels[observation] != 1:
            labels[observation] = None
    return labels
