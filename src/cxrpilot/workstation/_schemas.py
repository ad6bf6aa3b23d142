"""Pydantic request and response bodies of the API (apart from the ORM models).

This module owns the limits of every API input: the annotated types below (:data:`Id`,
:data:`Seed`, :func:`Text`, ...) bound integers to what both databases' columns hold
(``INTEGER`` ids are 32-bit on PostgreSQL, ``BIGINT`` seeds 64-bit), strings to their
column lengths, and refuse NUL characters and lone surrogates (which PostgreSQL and
UTF-8 cannot store). Path and query parameters use the same types (:data:`PathId`,
:func:`QueryText`). Request bodies derive from :class:`_In`: unknown fields are ignored,
non-finite floats refused. What JSON itself must be (finite numbers, valid Unicode) is
checked before these models see it, by :mod:`._validation`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from cxrpilot.errors import InvalidInputError
from cxrpilot.vocabulary import ARMS, DESIGNS, MEMBER_ROLES, ROLES, Arm

#: What a body may give for a read's arm and a user's role (values of the enums that
#: :mod:`cxrpilot.vocabulary` owns; plain strings in the model and in JSON).
ArmValue = Literal[ARMS]  # type: ignore[valid-type]
RoleValue = Literal[ROLES]  # type: ignore[valid-type]

#: Largest value of a 32-bit signed ``INTEGER`` column (ids, revisions, PostgreSQL).
INT32_MAX = 2**31 - 1
#: Largest value of a 64-bit signed ``BIGINT`` column (seeds).
INT64_MAX = 2**63 - 1
#: Largest client time in ms: JavaScript's ``Number.MAX_SAFE_INTEGER``.
MAX_CLIENT_MS = 2**53 - 1
#: Longest washout between crossover periods (days).
MAX_WASHOUT_DAYS = 365
#: Longest report section (characters).
MAX_REPORT_TEXT = 20_000
#: Longest short free text (notes, reasons, comments, criterion texts).
MAX_NOTE = 2_000
#: Longest accepted password (OWASP ASVS 2.1.2: at least 64 allowed, at most 128).
MAX_PASSWORD = 128
#: Most items in one list of ids.
MAX_IDS = 10_000

_SURROGATE = re.compile("[\ud800-\udfff]")


def check_text(value: str) -> str:
    """``value`` if it is text both databases store: no NUL character, no lone surrogate."""
    if "\x00" in value:
        raise InvalidInputError("contains a NUL character (\\x00), which text cannot hold")
    if _SURROGATE.search(value):
        raise InvalidInputError("contains a lone surrogate (not valid Unicode text)")
    return value


def Text(max_length: int, *, min_length: int = 0) -> Any:
    """A ``str`` of ``min_length``..``max_length`` characters that :func:`check_text` accepts."""
    return Annotated[
        str, Field(min_length=min_length, max_length=max_length), AfterValidator(check_text)
    ]


def QueryText(max_length: int) -> Any:
    """A query-string parameter: at most ``max_length`` characters, no NUL."""
    return Annotated[str, Query(max_length=max_length), AfterValidator(check_text)]


#: A database id in a body: a JSON integer 1 ... 2**31-1 (not a string, float or bool).
Id = Annotated[int, Field(strict=True, ge=1, le=INT32_MAX)]
#: A database id in the path (``/api/reads/{read_id}``): 1 ... 2**31-1.
PathId = Annotated[int, Path(ge=1, le=INT32_MAX)]
#: A report revision (optimistic concurrency): 0 ... 2**31-1.
Rev = Annotated[int, Field(strict=True, ge=0, le=INT32_MAX)]
#: A random seed: 0 ... 2**63-1 (a ``BIGINT`` column; numpy refuses negative seeds).
Seed = Annotated[int, Field(strict=True, ge=0, le=INT64_MAX)]
#: A client clock reading, ms since the Unix epoch: 1 ... 2**53-1.
ClientMs = Annotated[int, Field(strict=True, ge=1, le=MAX_CLIENT_MS)]
#: A Likert score.
Likert = Annotated[int, Field(strict=True, ge=1, le=5)]
#: A page size (``limit``) and a row offset in a query string.
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=INT32_MAX)]
#: ``before_id`` in a query string.
QueryId = Annotated[int, Query(ge=1, le=INT32_MAX)]


class _In(BaseModel):
    """Base of request bodies: unknown fields are ignored, floats must be finite."""

    model_config = ConfigDict(allow_inf_nan=False)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class LoginIn(_In):
    username: Text(64)
    password: Text(1024)
    #: Where the login page goes next (``?next=``); only a same-origin path is used.
    next: Text(2048) | None = None


class UserOut(_Out):
    id: int
    username: str
    display_name: str
    role: str
    active: bool


class SessionOut(BaseModel):
    user: UserOut
    csrf_token: str
    #: The same-origin path to go to after login (the ``next`` asked for, else the role's home).
    redirect: str | None = None


class UserCreate(_In):
    username: Text(64)
    password: Text(MAX_PASSWORD)
    role: RoleValue
    display_name: Text(128) = ""


class UserUpdate(_In):
    role: RoleValue | None = None
    active: bool | None = None
    password: Text(MAX_PASSWORD) | None = None
    display_name: Text(128) | None = None


class PasswordChange(_In):
    old_password: Text(1024)
    new_password: Text(MAX_PASSWORD)


class ExamFacts(BaseModel):
    """The facts of a case's exam that its reader sees (None where unknown or not given)."""

    patient_age_years: float | None = None
    patient_sex: str | None = None
    view_position: str | None = None
    accession: str | None = None


class ReaderCaseOut(_Out, ExamFacts):
    """A case as its reader gets it (``GET /api/reads/{id}``): never the reference report,
    which is the evaluators' ground truth and would tell the reader the answer."""

    id: int
    label: str
    indication: str
    source: str
    created_at: datetime
    priority: str = "routine"


class CaseOut(ReaderCaseOut):
    """A case as coordinators and results clients get it, with its reference report."""

    reference_text: str


class CaseSummary(BaseModel):
    case: CaseOut
    draft_status: str
    draft_error: str | None
    reads: int
    #: The case's exam (``GET /api/cases/{id}`` only): see :class:`ExamOut`.
    exam: ExamOut | None = None


class ExamImageOut(BaseModel):
    id: int
    view: str | None
    view_position: str | None
    modality: str | None
    width: int
    height: int
    #: ``drafted`` (the image the AI draft is of) or ``shown`` (kept for display).
    role: str
    not_drafted_reason: str | None
    url: str


class _ExamIds(BaseModel):
    """An exam's identifiers, as every exam listing gives them."""

    id: int
    study_instance_uid: str
    accession_number: str | None
    study_date: str | None
    modality: str | None
    source: str
    case_id: int | None


class PriorOut(_ExamIds):
    images: int


class ExamOut(_ExamIds):
    """An exam (a DICOM study): identifiers, its images with their view, and the same
    patient's earlier exams (``priors``, newest first)."""

    images: list[ExamImageOut]
    priors: list[PriorOut]


class ReadExamImageOut(ExamImageOut):
    #: The image's viewer data (``{pixels_base}/pixels.png``, ``/header``).
    viewer_url: str
    pixels_base: str


class PriorReportOut(BaseModel):
    """A prior exam's signed report, as the reader may see it beside the current exam."""

    status: str
    version: int
    indication_text: str
    comparison_text: str
    findings_text: str
    impression_text: str
    signed_at: datetime | None
    signed_by: str | None


class ReadPriorOut(BaseModel):
    id: int
    accession_number: str | None
    study_date: str | None
    modality: str | None
    case_id: int | None
    images: list[ReadExamImageOut]
    views: list[str]
    #: ``signed``, ``in_progress``, ``new`` (this reader's read of it) or ``not read``.
    status: str
    report: PriorReportOut | None
    #: Why no report is shown ("" when one is).
    report_note: str


class ReadExamSelf(BaseModel):
    id: int
    accession_number: str | None
    study_date: str | None
    modality: str | None
    case_id: int
    #: The image the case is read on (the main pane); the others are shown beside it.
    case_image_id: int
    images: list[ReadExamImageOut]


class ReadExamOut(BaseModel):
    """``GET /api/reads/{id}/exam``: the read's exam (None for an image without a DICOM
    study) and the patient's earlier exams, newest first."""

    exam: ReadExamSelf | None
    priors: list[ReadPriorOut]


class ImportResult(BaseModel):
    case: CaseOut
    created: bool
    draft_status: str


class FolderImportIn(_In):
    path: Text(4096, min_length=1)


class AssignIn(_In):
    case_id: Id
    reader_id: Id
    arm: ArmValue = Arm.AI_ASSISTED.value


class ReadOut(_Out):
    id: int
    study_id: int | None
    case_id: int
    reader_id: int
    arm: str
    period: int
    status: str
    available_from: datetime | None
    started_at: datetime | None
    signed_at: datetime | None
    wall_seconds: float | None
    active_seconds: float | None
    edit_distance_chars: int | None
    edit_distance_words: int | None


class WorklistItem(ExamFacts):
    read_id: int
    case_id: int
    case_label: str
    study: str | None
    period: int
    arm: str
    status: str
    draft_status: str | None
    critical_flags: list[dict[str, Any]]
    priority: str = "routine"
    indication: str = ""
    study_date: str | None = None
    assigned_at: datetime | None = None


class ReportOut(_Out):
    id: int
    version: int
    status: str
    origin: str
    findings_text: str
    impression_text: str
    indication_text: str = ""
    technique_text: str = ""
    comparison_text: str = ""
    draft_text: str
    rev: int
    amends_id: int | None
    amendment_reason: str
    created_at: datetime
    updated_at: datetime
    signed_at: datetime | None
    signed_by: str | None = None  # the signer's display name (or username), once signed
    read_only: bool = False
    #: True when the signer confirmed signing the AI draft unedited.
    unedited_confirmed: bool | None = None


class FindingMapOut(BaseModel):
    """Where the model looked for one present or uncertain finding: ``grid`` rows top to
    bottom over the whole image (its aspect ratio), values in [0, 1] (relative, not a
    probability)."""

    name: str
    grid: list[list[float]]


class DraftOut(BaseModel):
    banner: str
    model_id: str
    model_version: str
    findings: list[dict[str, Any]]
    critical_flags: list[dict[str, Any]]
    findings_text: str
    impression_text: str
    timings: dict[str, float]
    maps: list[FindingMapOut]


class ReadDetail(BaseModel):
    read: ReadOut
    case: ReaderCaseOut
    image_url: str
    draft_status: str | None
    draft_error: str | None
    draft: DraftOut | None
    reports: list[ReportOut]


_SECTION_FIELDS = ("indication_text", "technique_text", "comparison_text")


class _Sections(_In):
    """The report sections besides FINDINGS and IMPRESSION; ``None``: left as they are."""

    indication_text: Text(MAX_REPORT_TEXT) | None = None
    technique_text: Text(MAX_REPORT_TEXT) | None = None
    comparison_text: Text(MAX_REPORT_TEXT) | None = None

    def sections(self) -> dict[str, str]:
        """``{"technique": text, ...}`` of the sections given."""
        return {
            name[: -len("_text")]: value
            for name in _SECTION_FIELDS
            if (value := getattr(self, name)) is not None
        }

    def report_fields(self) -> dict[str, Any]:
        """The body as the keywords of the report service (:func:`.reads.autosave`,
        :func:`.reads.sign`): its other fields as they are, the sections as ``sections``."""
        return {**self.model_dump(exclude=set(_SECTION_FIELDS)), "sections": self.sections()}


class SaveIn(_Sections):
    rev: Rev
    findings_text: Text(MAX_REPORT_TEXT)
    impression_text: Text(MAX_REPORT_TEXT)


class SignIn(_Sections):
    rev: Rev
    findings_text: Text(MAX_REPORT_TEXT) | None = None
    impression_text: Text(MAX_REPORT_TEXT) | None = None
    #: Required (true) when the text is the AI draft unedited: the reader confirms signing it.
    confirm_unedited: bool = False


class AmendIn(_In):
    reason: Text(MAX_NOTE)


class EventIn(_In):
    kind: Text(16)
    t: ClientMs = Field(description="client time, ms since the Unix epoch")
    visible: bool = True
    focused: bool = True


class EventsIn(_In):
    events: list[EventIn] = Field(max_length=500)


class Criterion(_In):
    key: Text(40)
    text: Text(500)
    kind: Literal["inclusion", "exclusion"] = "inclusion"


class StudyCreate(_In):
    name: Text(128)
    design: Literal[DESIGNS]  # type: ignore[valid-type]
    description: Text(10_000) = ""
    washout_days: Annotated[int, Field(strict=True, ge=0, le=MAX_WASHOUT_DAYS)] = 0
    criteria: list[Criterion] = Field([], max_length=100)


class StudyOut(_Out):
    id: int
    name: str
    description: str
    design: str
    status: str
    seed: int | None
    washout_days: int
    criteria: list[dict[str, Any]]
    randomised_at: datetime | None
    evaluation_seed: int | None


class CaseIds(_In):
    case_ids: list[Id] = Field(max_length=MAX_IDS)


class MembersIn(_In):
    user_ids: list[Id] = Field(max_length=MAX_IDS)
    role: Literal[MEMBER_ROLES]  # type: ignore[valid-type]


class EligibilityIn(_In):
    answers: dict[Text(40), bool] = Field(max_length=100)
    note: Text(MAX_NOTE) = ""


class SeedIn(_In):
    seed: Seed | None = None


class EvaluationStartIn(SeedIn):
    #: Start although some of the study's reads are not signed (a recorded protocol deviation).
    allow_unsigned: bool = False


class StudyProgress(BaseModel):
    study: StudyOut
    #: Every seed drawn for the study, in order (``purpose``: randomise or evaluation).
    seeds: list[dict[str, Any]] = []
    #: Departures from the protocol (e.g. an amendment after evaluation started).
    protocol_deviations: list[dict[str, Any]] = []
    reads_by_arm: dict[str, dict[str, int]]
    reads_by_reader: dict[str, dict[str, int]]
    reads_by_reader_arm: dict[str, dict[str, dict[str, int]]]
    cases_by_eligibility: dict[str, int]
    evaluations_by_status: dict[str, int]
    mean_active_seconds: dict[str, float | None]


class StudySummary(BaseModel):
    """A row of the studies list."""

    study: StudyOut
    cases: int
    cases_by_eligibility: dict[str, int]
    readers: int
    evaluators: int
    reads: int
    reads_signed: int
    evaluations: int
    evaluations_submitted: int


class StudyCaseOut(BaseModel):
    case_id: int
    case_label: str
    indication: str
    eligibility: str
    checklist: dict[str, bool]
    note: str
    checked_at: datetime | None


class StudyMemberOut(BaseModel):
    user_id: int
    username: str
    display_name: str
    role: str


class TaskSummary(BaseModel):
    task_id: int
    case_id: int
    case_label: str
    status: str
    paired: bool


class BlindedReport(BaseModel):
    position: Literal["left", "right"]
    findings_text: str
    impression_text: str
    likert: int | None
    radpeer: str | None
    comment: str


class TaskOut(BaseModel):
    task_id: int
    case_id: int
    case_label: str
    indication: str
    reference_text: str
    status: str
    reports: list[BlindedReport]
    preference: str | None
    image_url: str


class Rating(_In):
    likert: Likert
    radpeer: Text(4)
    comment: Text(MAX_NOTE) = ""


class TaskSubmit(_In):
    ratings: dict[Literal["left", "right"], Rating]
    preference: Literal["left", "right", "none"] | None = None


class AuditOut(_Out):
    id: int
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str | None
    ip: str | None
    detail: dict[str, Any]
