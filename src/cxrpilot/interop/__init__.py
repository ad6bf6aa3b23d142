"""Interop: the hospital's formats and protocols, as pure converters and small clients.

Inbound: :mod:`.dimse` (a C-STORE SCP that hands each received instance to a callback)
and :mod:`.dicomweb` (QIDO-RS search and WADO-RS retrieve against a PACS). The
workstation wires them to its database; nothing here touches one.

Outbound: :mod:`.sr` (the signed report and the AI findings as DICOM SR documents) and
:mod:`.fhir` (FHIR R4 DiagnosticReport and Observation resources).

Names are imported on first use (``import cxrpilot.interop`` loads neither pynetdicom nor
httpx).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    # inbound
    "StoreSCP": ".dimse",
    "ReceivedInstance": ".dimse",
    "StoreResult": ".dimse",
    "DicomWebClient": ".dicomweb",
    "StudySummary": ".dicomweb",
    "parse_multipart_related": ".dicomweb",
    # outbound
    "report_sr": ".sr",
    "ai_findings_sr": ".sr",
    "read_sr": ".sr",
    "signed_report": ".fhir",
    "ai_draft_report": ".fhir",
    "parse_report": ".fhir",
    "capability_statement": ".fhir",
}

__all__ = list(_EXPORTS)  # the lazy exports, in reading order


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cxrpilot.interop' has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
