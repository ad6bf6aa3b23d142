"""The shared vocabulary: the 14 CheXpert observations, the critical findings, statuses.

Every finding any model in cxrpilot outputs is one of :data:`OBSERVATIONS` and carries a
:class:`Status`. A model states nothing about a finding it was not trained to assess: such a
finding is :attr:`Status.NOT_ASSESSED`, never :attr:`Status.ABSENT`.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["OBSERVATIONS", "CRITICAL_FINDINGS", "CHEXPERT_5", "Status", "check_observation"]

#: The 14 CheXpert observations, in CheXpert's column order.
OBSERVATIONS: tuple[str, ...] = (
    "No Finding",
    "Enlarged Cardiomediastinum",
    "Cardiomegaly",
    "Lung Opacity",
    "Lung Lesion",
    "Edema",
    "Consolidation",
    "Pneumonia",
    "Atelectasis",
    "Pneumothorax",
    "Pleural Effusion",
    "Pleural Other",
    "Fracture",
    "Support Devices",
)

#: The eight critical findings of the Janus-Pro-CXR paper ("AUC > 0.8" set).
CRITICAL_FINDINGS: tuple[str, ...] = (
    "Pleural Effusion",
    "Pneumothorax",
    "Consolidation",
    "Atelectasis",
    "Cardiomegaly",
    "Lung Opacity",
    "Support Devices",
    "Pneumonia",
)

#: The five observations most report-generation papers score clinical efficacy on.
CHEXPERT_5: tuple[str, ...] = (
    "Atelectasis",
    "Cardiomegaly",
    "Consolidation",
    "Edema",
    "Pleural Effusion",
)


class Status(StrEnum):
    """What a model or a labeler states about one observation."""

    PRESENT = "present"
    ABSENT = "absent"
    UNCERTAIN = "uncertain"
    NOT_ASSESSED = "not_assessed"

    @property
    def label(self) -> str:
        """Human wording, e.g. ``"not assessed"``."""
        return self.value.replace("_", " ")


def check_observation(name: str) -> str:
    """Return ``name`` if it is one of the 14 observations, else raise ``ValueError``
    listing the valid names."""
    if name not in OBSERVATIONS:
        raise ValueError(f"unknown observation {name!r}; expected one of {', '.join(OBSERVATIONS)}")
    return name
