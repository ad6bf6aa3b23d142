"""The shared vocabulary: the 14 CheXpert observations, the critical findings, statuses,
what a labeler's 1/0/-1/None states, the reader-study arms, RADPEER scores and workstation
roles, study member roles, API token scopes, and the option values the CLI and the web app offer.

Every finding any model in cxrpilot outputs is one of :data:`OBSERVATIONS` and carries a
:class:`Status`. A model states nothing about a finding it was not trained to assess: such a
finding is :attr:`Status.NOT_ASSESSED`, never :attr:`Status.ABSENT`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from cxrpilot.errors import InvalidInputError

__all__ = [
    "OBSERVATIONS",
    "CRITICAL_FINDINGS",
    "CHEXPERT_5",
    "Status",
    "LABEL_STATUS",
    "QUANTIZATIONS",
    "Arm",
    "ARMS",
    "Design",
    "DESIGNS",
    "Radpeer",
    "RADPEER_SCORES",
    "RADPEER_SIGNIFICANT",
    "Role",
    "ROLES",
    "MemberRole",
    "MEMBER_ROLES",
    "TokenScope",
    "TOKEN_SCOPES",
    "READ_COLUMNS",
    "EVALUATION_COLUMNS",
    "check_observation",
    "check_quantize",
]

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


#: What a CheXpert-style label value states: 1 present, 0 absent, -1 uncertain, None (not
#: mentioned, or not assessed) not assessed. Read-only.
LABEL_STATUS: Mapping[int | None, Status] = MappingProxyType(
    {1: Status.PRESENT, 0: Status.ABSENT, -1: Status.UNCERTAIN, None: Status.NOT_ASSESSED}
)

#: Accepted values of ``quantize`` (Janus-Pro decoding on the CPU with 8- or 4-bit weights in
#: ONNX Runtime): :func:`cxrpilot.models.janus.load`, :func:`cxrpilot.pipeline.load_drafter`,
#: ``cxrpilot report/serve --quantize``.
QUANTIZATIONS: tuple[str, ...] = ("int8", "int4")



class Arm(StrEnum):
    """Reader-study arm: the reader starts from the AI draft, or writes the report from scratch
    (standard clinical practice, where nothing of the AI is shown)."""

    AI_ASSISTED = "ai_assisted"
    SCP = "scp"


#: The values of :class:`Arm`, as stored and exported.
ARMS: tuple[str, ...] = tuple(a.value for a in Arm)


class Design(StrEnum):
    """How a reader study assigns the arms: each case one arm (every reader reads every case),
    each reader one arm, or a crossover (every case read twice by every reader, once in each
    arm, in two periods apart by a washout)."""

    PER_CASE = "per_case"
    PER_READER = "per_reader"
    CROSSOVER = "crossover"


#: The values of :class:`Design`, as stored.
DESIGNS: tuple[str, ...] = tuple(d.value for d in Design)


class Radpeer(StrEnum):
    """RADPEER score of a report, in order of increasing discrepancy: 1 concur, 2 a discrepancy
    not ordinarily expected to be made, 3 one that should be made most of the time; "b" marks a
    discrepancy likely to be clinically significant (Jackson et al., JACR 2009;6:21-5)."""

    CONCUR = "1"
    S2A = "2a"
    S2B = "2b"
    S3A = "3a"
    S3B = "3b"

    @property
    def significant(self) -> bool:
        """Whether the discrepancy is likely clinically significant (2b, 3b)."""
        return self.value.endswith("b")


#: The values of :class:`Radpeer`, in order of increasing discrepancy.
RADPEER_SCORES: tuple[str, ...] = tuple(r.value for r in Radpeer)
#: The clinically significant discrepancies.
RADPEER_SIGNIFICANT: tuple[str, ...] = tuple(r.value for r in Radpeer if r.significant)


class Role(StrEnum):
    """A workstation user's role."""

    ADMIN = "admin"
    COORDINATOR = "coordinator"
    RADIOLOGIST = "radiologist"
    EVALUATOR = "evaluator"


#: The values of :class:`Role`, as stored (``cxrpilot create-user --role``, the users API).
ROLES: tuple[str, ...] = tuple(r.value for r in Role)


class MemberRole(StrEnum):
    """What a user is in one reader study: a reader (reads the cases, must be a
    :attr:`Role.RADIOLOGIST`) or an evaluator (rates the blinded reports, must be a
    :attr:`Role.EVALUATOR`)."""

    READER = "reader"
    EVALUATOR = "evaluator"

    @property
    def user_role(self) -> Role:
        """The workstation role a member of this kind must have."""
        return Role.RADIOLOGIST if self is MemberRole.READER else Role.EVALUATOR


#: The values of :class:`MemberRole`, as stored (the study members API).
MEMBER_ROLES: tuple[str, ...] = tuple(m.value for m in MemberRole)


class TokenScope(StrEnum):
    """What a machine client's API token may be used for: import images, or read reports
    (FHIR, case and draft state)."""

    INGEST = "ingest"
    READ_RESULTS = "read:results"


#: The values of :class:`TokenScope`, as stored (``cxrpilot tokens create --scope``, the
#: tokens API).
TOKEN_SCOPES: tuple[str, ...] = tuple(s.value for s in TokenScope)

#: Columns of the tidy reader-study export's ``reads`` table: the workstation's export writes
#: them, :func:`cxrpilot.evaluation.load_study` reads them.
READ_COLUMNS: tuple[str, ...] = (
    "study", "case", "reader", "arm", "started_at", "signed_at", "active_seconds", "draft_text", "final_text",
)
#: Columns of the export's ``evaluations`` table (one rating of one report by one evaluator).
EVALUATION_COLUMNS: tuple[str, ...] = (
    "study", "case", "evaluator", "report_id", "arm", "likert", "radpeer", "preference",
)


def check_quantize(quantize: str | None) -> str | None:
    """Return ``quantize`` if it is None or one of :data:`QUANTIZATIONS`.

    Raises
    ------
    InvalidInputError
        Naming the value and listing the valid ones.

    Examples
    --------
    >>> check_quantize("int4")
    'int4'
    """
    if quantize is not None and quantize not in QUANTIZATIONS:
        raise InvalidInputError(
            f"unknown quantize={quantize!r}; expected None or one of {', '.join(QUANTIZATIONS)}"
        )
    return quantize


def check_observation(name: str) -> str:
    """Return ``name`` if it is one of the 14 observations, else raise ``InvalidInputError``
    listing the valid names."""
    if name not in OBSERVATIONS:
        raise InvalidInputError(f"unknown observation {name!r}; expected one of {', '.join(OBSERVATIONS)}")
    return name
