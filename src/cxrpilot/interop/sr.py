"""DICOM Structured Reports of a signed report and of the AI findings (highdicom).

Two documents per exam, both pure functions of their inputs (no database, no network):

- :func:`report_sr`: the radiologist's report as an Enhanced SR following TID 2000 *Basic
  Diagnostic Imaging Report*: the FINDINGS and IMPRESSION sections as text items, the
  signing radiologist as the person observer and verifying observer, the source images in
  an image library and in the evidence sequence. Its life cycle is in the SR flags: a
  preliminary report is ``PARTIAL`` / ``UNVERIFIED`` / ``PRELIMINARY``; a signed one
  ``COMPLETE`` / ``VERIFIED`` / ``FINAL``; an amendment is a new instance that also lists
  the SR it replaces in the Predecessor Documents Sequence and states why in an *Addendum*
  section (a TEXT *Comment*, "Reason for amendment: ...").
- :func:`ai_findings_sr`: what the model stated, as a Comprehensive SR following TID 1500
  *Measurement Report*: one measurement group per finding the model assessed, each with a
  qualitative evaluation (present / absent / indeterminate) and the probability, the model
  as the device observer and as the algorithm of every group. The document is
  ``UNVERIFIED`` and ``PRELIMINARY`` (no person checked it) and its series says it is AI
  output. Findings the model did not assess are not written: the SR never states them
  absent.

:func:`read_sr` reads either document back into a :class:`SrSummary`.

The documents are built in :mod:`._sr_report` and :mod:`._sr_ai`, on what they share in
:mod:`._sr_common`, and read back in :mod:`._sr_read`; this module is their public face.
"""

from __future__ import annotations

from ._sr_ai import AI_SERIES_DESCRIPTION, AI_SERIES_NUMBER, ai_findings_sr
from ._sr_common import (
    COMPREHENSIVE_SR,
    ENHANCED_SR,
    ExamRef,
    SourceImage,
    SrRef,
    person_name,
    series_uid_for,
    sr_ref,
    to_bytes,
)
from ._sr_read import SrSummary, read_sr
from ._sr_report import (
    AMENDMENT_PREFIX,
    REPORT_SERIES_DESCRIPTION,
    REPORT_SERIES_NUMBER,
    ReportContent,
    ReportStatus,
    report_sr,
)

__all__ = [
    "SourceImage",
    "ExamRef",
    "SrRef",
    "ReportContent",
    "SrSummary",
    "report_sr",
    "ai_findings_sr",
    "to_bytes",
    "read_sr",
    "sr_ref",
    "series_uid_for",
    "person_name",
    "ENHANCED_SR",
    "COMPREHENSIVE_SR",
    "AI_SERIES_DESCRIPTION",
    "REPORT_SERIES_DESCRIPTION",
    "AI_SERIES_NUMBER",
    "REPORT_SERIES_NUMBER",
    "ReportStatus",
    "AMENDMENT_PREFIX",
]
