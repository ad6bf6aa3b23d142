"""/api/tokens: API tokens of machine clients (admins create, list and revoke them)."""

from __future__ import annotations

from fastapi import APIRouter

from .._interop_schemas import TokenCreated, TokenIn, TokenOut
from .._schemas import PathId
from .._services import tokens as service
from ..deps import CurrentActor, Db

router = APIRouter(prefix="/api/tokens", tags=["tokens"])

@router.post("", response_model=TokenCreated, status_code=201)
def create_token(body: TokenIn, actor: CurrentActor, db: Db) -> TokenCreated:
    """Create a token; the answer holds it, once (it is stored only as a SHA-256)."""
    row, token = service.create_token(
        db,
        actor,
        name=body.name,
        scopes=list(body.scopes),
        user_id=body.user_id,
        expires_days=body.expires_days,
    )
    return TokenCreated(**TokenOut.model_validate(row).model_dump(), token=token)


@router.get("", response_model=list[TokenOut])
def list_tokens(actor: CurrentActor, db: Db) -> list:
    return service.list_tokens(db, actor)


@router.post("/{token_id}/revoke", response_model=TokenOut)
def revoke_token(token_id: PathId, actor: CurrentActor, db: Db):
    return service.revoke_token(db, actor, token_id)
