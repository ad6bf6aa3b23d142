"""/api/users: accounts (admins manage them; coordinators may list them)."""

from __future__ import annotations

from fastapi import APIRouter

from .._schemas import PathId, UserCreate, UserOut, UserUpdate
from .._services import auth as service
from ..deps import CurrentActor, Db, State

router = APIRouter(prefix="/api/users", tags=["users"])


@router.get("", response_model=list[UserOut])
def list_users(actor: CurrentActor, db: Db) -> list:
    return service.list_users(db, actor)


@router.post("", response_model=UserOut, status_code=201)
def create_user(body: UserCreate, actor: CurrentActor, state: State, db: Db):
    return service.create_user(db, actor, hasher=state.hasher, **body.model_dump())


@router.patch("/{user_id}", response_model=UserOut)
def update_user(user_id: PathId, body: UserUpdate, actor: CurrentActor, state: State, db: Db):
    return service.update_user(
        db, actor, user_id, hasher=state.hasher, **body.model_dump(exclude_unset=True)
    )
