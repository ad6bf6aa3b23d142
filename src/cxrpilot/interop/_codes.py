"""Codes shared by the DICOM SR and FHIR converters: the 14 findings and their statuses.

Every finding has a code in cxrpilot's own coding scheme (DICOM private designator
``99CXRPILOT``, FHIR system :data:`LOCAL_SYSTEM`); where the DICOM standard's own concept
dictionary (the one pydicom ships) has the very concept, its SNOMED CT code is given too.
Findings without a standard code here (Lung Lesion, Pleural Other, Support Devices ...) are
left to the local code rather than mapped to a near miss.
"""

from __future__ import annotations

from dataclasses import dataclass

from cxrpilot.vocabulary import OBSERVATIONS, Status, check_observation

__all__ = [
    "LOCAL_SCHEME",
    "LOCAL_SYSTEM",
    "SNOMED_SYSTEM",
    "FindingCode",
    "finding_code",
    "STATUS_CODES",
]

#: DICOM coding scheme designator of cxrpilot's own codes ("99" marks a private scheme).
LOCAL_SCHEME = "99CXRPILOT"
LOCAL_SCHEME_NAME = "cxrpilot findings"
#: FHIR ``system`` of cxrpilot's own codes.
LOCAL_SYSTEM = "urn:cxrpilot:finding"
SNOMED_SYSTEM = "http://snomed.info/sct"


@dataclass(frozen=True, slots=True)
class FindingCode:
    """One finding's codes: the local one (value, meaning) and a SNOMED CT one, if any."""

    name: str
    local: str
    snomed: tuple[str, str] | None = None


# SNOMED CT codes exactly as the DICOM concept dictionary (PS3.16) has them.
_SNOMED = {
    "Cardiomegaly": ("287272002", "Cardiomegaly"),
    "Pneumothorax": ("36118008", "Pneumothorax"),
    "Pleural Effusion": ("60046008", "Pleural effusion"),
    "Edema": ("19242006", "Pulmonary edema"),
}

_CODES = {
    name: FindingCode(name, name.upper().replace(" ", "_"), _SNOMED.get(name))
    for name in OBSERVATIONS
}


def finding_code(name: str) -> FindingCode:
    """The codes of one of the 14 observations (``ValueError`` naming the valid ones)."""
    check_observation(name)
    return _CODES[name]


#: DICOM/SNOMED CT codes of the statuses a model states (not assessed has none on purpose:
#: a finding the model did not assess is not written at all).
STATUS_CODES: dict[Status, tuple[str, str]] = {
    Status.PRESENT: ("52101004", "Present"),
    Status.ABSENT: ("272519000", "Absent"),
    Status.UNCERTAIN: ("82334004", "Indeterminate"),
}
