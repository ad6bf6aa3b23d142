"""The arm, study design, RADPEER, role, study member role and token scope value sets have one owner (:mod:`cxrpilot.vocabulary`): the API
schemas, the database's CHECK constraints, the evaluation toolkit and the CLI allow exactly
its enums' values (issue 17 item 1)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import CheckConstraint

from cxrpilot import evaluation
from cxrpilot.vocabulary import (
    ARMS,
    DESIGNS,
    MEMBER_ROLES,
    RADPEER_SCORES,
    RADPEER_SIGNIFICANT,
    ROLES,
    Arm,
    Design,
    MemberRole,
    Radpeer,
    Role,
)
from cxrpilot.workstation._orm import Read, User
from cxrpilot.workstation._schemas import AssignIn, MembersIn, StudyCreate, UserCreate, UserUpdate
from cxrpilot.workstation._study_orm import EvaluationRating, ReaderStudy, StudyMember


def _enum_values(schema: dict[str, Any]) -> set[str]:
    """The ``enum`` of a JSON-schema property, through ``anyOf`` (an optional field)."""
    if "enum" in schema:
        return set(schema["enum"])
    if "const" in schema:
        return {schema["const"]}
    return set().union(*(_enum_values(s) for s in schema.get("anyOf", [])))


def _check_values(table: Any, name: str) -> set[str]:
    (check,) = [
        c for c in table.constraints if isinstance(c, CheckConstraint) and c.name.endswith(name)
    ]
    return set(re.findall(r"'([^']*)'", str(check.sqltext)))


@pytest.mark.parametrize(
    ("model", "field", "enum"),
    [(AssignIn, "arm", Arm), (UserCreate, "role", Role), (UserUpdate, "role", Role),
     (StudyCreate, "design", Design), (MembersIn, "role", MemberRole)],
)
def test_schema_allows_the_enum_values(model, field, enum):
    allowed = _enum_values(model.model_json_schema()["properties"][field])
    assert allowed == {e.value for e in enum}


@pytest.mark.parametrize(
    ("table", "name", "enum"),
    [(Read.__table__, "arm", Arm), (User.__table__, "role", Role),
     (EvaluationRating.__table__, "radpeer", Radpeer), (ReaderStudy.__table__, "design", Design),
     (StudyMember.__table__, "role", MemberRole)],
)
def test_database_check_allows_the_enum_values(table, name, enum):
    assert _check_values(table, name) == {e.value for e in enum}


def test_tuples_and_evaluation_follow_the_enums():
    assert ARMS == evaluation.ARMS == ("ai_assisted", "scp")
    assert RADPEER_SCORES == evaluation.RADPEER_SCORES == ("1", "2a", "2b", "3a", "3b")
    assert RADPEER_SIGNIFICANT == ("2b", "3b")
    assert ROLES == ("admin", "coordinator", "radiologist", "evaluator")
    assert DESIGNS == ("per_case", "per_reader", "crossover")
    assert MEMBER_ROLES == ("reader", "evaluator")
    assert {m: m.user_role for m in MemberRole} == {
        MemberRole.READER: Role.RADIOLOGIST, MemberRole.EVALUATOR: Role.EVALUATOR,
    }
    assert all(type(v) is str for v in ARMS + RADPEER_SCORES + ROLES + DESIGNS + MEMBER_ROLES)


def test_cli_role_choices_are_the_roles():
    import argparse

    from cxrpilot.cli import _serve

    parser = argparse.ArgumentParser()
    _serve.register(parser.add_subparsers())
    args = parser.parse_args(["admin", "create-user", "u", "--role", "evaluator"])
    assert args.role == "evaluator"
    with pytest.raises(SystemExit):
        parser.parse_args(["admin", "create-user", "u", "--role", "reader"])


def test_export_columns_have_one_owner():
    from cxrpilot import vocabulary
    from cxrpilot.workstation._routes import studies

    assert evaluation.READ_COLUMNS is vocabulary.READ_COLUMNS is studies.READ_COLUMNS
    assert evaluation.EVALUATION_COLUMNS is vocabulary.EVALUATION_COLUMNS is studies.EVALUATION_COLUMNS


def test_token_scopes_have_one_owner():
    import argparse

    from cxrpilot.cli import _tokens
    from cxrpilot.vocabulary import TOKEN_SCOPES, TokenScope
    from cxrpilot.workstation import deps
    from cxrpilot.workstation._interop_schemas import TokenIn
    from cxrpilot.workstation._services import tokens

    assert TOKEN_SCOPES == tuple(s.value for s in TokenScope) == ("ingest", "read:results")
    schema = TokenIn.model_json_schema()
    items = schema["properties"]["scopes"]["items"]
    assert _enum_values(schema["$defs"][items["$ref"].rsplit("/", 1)[-1]] if "$ref" in items else items) == set(
        TOKEN_SCOPES
    )
    assert schema["properties"]["scopes"]["maxItems"] == len(TOKEN_SCOPES)
    assert tokens.check_scopes(list(reversed(TOKEN_SCOPES))) == list(TOKEN_SCOPES)
    parser = argparse.ArgumentParser()
    _tokens.register(parser.add_subparsers())
    for scope in TOKEN_SCOPES:
        assert parser.parse_args(["tokens", "create", "n", "--user", "u", "--scope", scope]).scope == [scope]
    with pytest.raises(SystemExit):
        parser.parse_args(["tokens", "create", "n", "--user", "u", "--scope", "admin"])
    with pytest.raises(ValueError):
        deps.scoped_actor("admin")
