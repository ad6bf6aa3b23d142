"""Small helpers shared by the adapters: view names, label dictionaries."""

from __future__ import annotations

from collections.abc import Mapping

from cxrpilot.errors import InvalidInputError
from cxrpilot.vocabulary import OBSERVATIONS

__all__ = ["normalise_view", "check_labels", "POSITIVE_PNEUMONIA", "NORMAL", "OPACITY_ONLY"]

_VIEW_ALIASES = {
    "L": "LATERAL",
    "LL": "LATERAL",
    "LAT": "LATERAL",
    "LATERAL": "LATERAL",
    "RL": "LATERAL",
    "LEFT LATERAL": "LATERAL",
    "RIGHT LATERAL": "LATERAL",
    "FRONTAL": "FRONTAL",
}
_UNKNOWN_VIEWS = {"", "?", "NAN", "NONE", "UNKNOWN", "NA", "N/A"}


def normalise_view(value: object) -> str | None:
    """A dataset's view string in upper case with lateral spellings unified.

    ``"PA"`` -> ``"PA"``, ``"AP Supine"`` -> ``"AP SUPINE"``, ``"L"``/``"LL"``/``"Lateral"`` ->
    ``"LATERAL"`` (as is any view with the word LATERAL, e.g. ``"LARGE LATERAL"``); blank, ``"?"`` and ``"unknown"`` -> None.
    """
    if value is None:
        return None
    text = " ".join(str(value).replace("_", " ").split()).upper()
    if text in _UNKNOWN_VIEWS:
        return None
    if text in _VIEW_ALIASES:
        return _VIEW_ALIASES[text]
    return "LATERAL" if "LATERAL" in text.split() else text


def check_labels(labels: Mapping[str, int | None]) -> dict[str, int | None]:
    """Copy ``labels`` after checking keys are observations and values 1/0/-1/None."""
    out: dict[str, int | None] = {}
    for name, value in labels.items():
        if name not in OBSERVATIONS:
            raise InvalidInputError(
                f"unknown observation {name!r}; expected one of {', '.join(OBSERVATIONS)}"
            )
        if value not in (1, 0, -1, None):
            raise InvalidInputError(f"label {name!r} has value {value!r}; expected 1, 0, -1 or None")
        out[name] = value
    return out


#: An image of a pneumonia (any cause, COVID-19 included): what such a class label states.
POSITIVE_PNEUMONIA: Mapping[str, int] = {"No Finding": 0, "Lung Opacity": 1, "Pneumonia": 1}
#: A normal image: no finding; in particular no pneumonia and no lung opacity.
NORMAL: Mapping[str, int] = {"No Finding": 1, "Lung Opacity": 0, "Pneumonia": 0}
#: An opacity without a stated cause.
OPACITY_ONLY: Mapping[str, int] = {"No Finding": 0, "Lung Opacity": 1}
