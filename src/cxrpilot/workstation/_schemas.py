"""Pydantic request and response bodies of the API (apart from the ORM models)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Arm = Literal["ai_assisted", "scp"]
Role = Literal["admin", "coordinator", "radiologist", "evaluator"]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class LoginIn(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=1024)


class UserOut(_Out):
    id: int
    username: str
    display_name: str
    role: str
    active: bool


class SessionOut(BaseModel):
    user: UserOut
    csrf_token: str


class UserCreate(BaseModel):
    username: str
    password: str = Field(max_length=1024)
    role: Role
    display_name: str = ""


class UserUpdate(BaseModel):
    role: Role | None = None
    active: bool | None = None
    password: str | None = Field(None, max_length=1024)
    display_name: str | None = None


class PasswordChange(BaseModel):
    old_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class CaseOut(_Out):
    id: int
    label: str
    indication: str
    reference_text: str
    source: str
    created_at: datetime


class CaseSummary(BaseModel):
    case: CaseOut
    draft_status: str
    draft_error: str | None
    reads: int


class ImportResult(BaseModel):
    case: CaseOut
    created: bool
    draft_status: str


class FolderImportIn(BaseModel):
    path: str


class AssignIn(BaseModel):
    case_id: int
    reader_id: int
    arm: Arm = "ai_assisted"


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


class WorklistItem(BaseModel):
    read_id: int
    case_id: int
    case_label: str
    study: str | None
    period: int
    arm: str
    status: str
    draft_status: str | None
    critical_flags: list[dict[str, Any]]


class ReportOut(_Out):
    id: int
    version: int
    status: str
    origin: str
    findings_text: str
    impression_text: str
    draft_text: str
    rev: int
    amends_id: int | None
    amendment_reason: str
    created_at: datetime
    updated_at: datetime
    signed_at: datetime | None
    signed_by: str | None = None  # the signer's display name (or username), once signed
    read_only: bool = False


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
    case: CaseOut
    image_url: str
    draft_status: str | None
    draft_error: str | None
    draft: DraftOut | None
    reports: list[ReportOut]


class SaveIn(BaseModel):
    rev: int
    findings_text: str
    impression_text: str


class SignIn(BaseModel):
    rev: int
    findings_text: str | None = None
    impression_text: str | None = None


class AmendIn(BaseModel):
    reason: str = Field(max_length=2000)


class EventIn(BaseModel):
    kind: str
    t: int = Field(description="client time, ms since the Unix epoch")
    visible: bool = True
    focused: bool = True


class EventsIn(BaseModel):
    events: list[EventIn] = Field(max_length=500)


class Criterion(BaseModel):
    key: str
    text: str
    kind: Literal["inclusion", "exclusion"] = "inclusion"


class StudyCreate(BaseModel):
    name: str = Field(max_length=128)
    design: Literal["per_case", "per_reader", "crossover"]
    description: str = ""
    washout_days: int = 0
    criteria: list[Criterion] = []


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


class CaseIds(BaseModel):
    case_ids: list[int]


class MembersIn(BaseModel):
    user_ids: list[int]
    role: Literal["reader", "evaluator"]


class EligibilityIn(BaseModel):
    answers: dict[str, bool]
    note: str = ""


class SeedIn(BaseModel):
    seed: int | None = None


class StudyProgress(BaseModel):
    study: StudyOut
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


class Rating(BaseModel):
    likert: int
    radpeer: str
    comment: str = ""


class TaskSubmit(BaseModel):
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
