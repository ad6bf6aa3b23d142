"""Passwords (argon2id), session tokens and CSRF tokens."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from cxrpilot.errors import InvalidInputError

from ._passwords import MIN_PASSWORD_LENGTH

__all__ = [
    "hash_password",
    "verify_password",
    "password_hasher",
    "new_session_token",
    "session_key",
    "csrf_token",
    "check_csrf",
    "load_or_create_secret",
    "safe_next_path",
    "MIN_PASSWORD_LENGTH",
]

_DEFAULT = PasswordHasher()
_dummy_hashes: dict[tuple[int, int], str] = {}


def _usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. a container's cpuset)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 2


#: Password hashes computed at once **by this process**: half the cores it may use, at least
#: one. Each argon2id hash takes tens of ms of CPU and 64 MiB: without a cap a login flood
#: takes every core from the readers' autosaves (issue 15); with it the flood waits in line
#: and half the cores stay free for everything else. The cap is a semaphore of this process,
#: not shared with others: ``cxrpilot serve`` is one process, and several server processes on
#: one host (``uvicorn --workers N``) would each hash this many at once (docs/workstation.md,
#: *One server process per host*).
HASH_CONCURRENCY = max(1, _usable_cores() // 2)
_hash_slots = threading.BoundedSemaphore(HASH_CONCURRENCY)


def password_hasher(time_cost: int = 3, memory_kib: int = 65536) -> PasswordHasher:
    """An argon2id hasher with the given cost (verification reads the cost from each hash)."""
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)


def hash_password(password: str, hasher: PasswordHasher | None = None) -> str:
    """The argon2id hash of ``password`` (at most :data:`HASH_CONCURRENCY` at once)."""
    with _hash_slots:
        return (hasher or _DEFAULT).hash(password)


def verify_password(
    password_hash: str | None, password: str, hasher: PasswordHasher | None = None
) -> bool:
    """Whether ``password`` matches ``password_hash``. When there is no hash (no such user) a
    dummy hash of the same cost is verified, so that timing does not reveal user names. At
    most :data:`HASH_CONCURRENCY` verifications run at once (the others wait)."""
    hasher = hasher or _DEFAULT
    if password_hash is None:
        key = (hasher.time_cost, hasher.memory_cost)
        if key not in _dummy_hashes:
            _dummy_hashes[key] = hash_password("not a password of anybody", hasher)
        password_hash, exists = _dummy_hashes[key], False
    else:
        exists = True
    try:
        with _hash_slots:
            return hasher.verify(password_hash, password) and exists
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_session_token() -> str:
    """A new random session token (the cookie value)."""
    return secrets.token_urlsafe(32)


def session_key(secret: bytes, token: str) -> str:
    """The digest under which a session is stored (the token itself is never stored)."""
    return hmac.new(secret, b"session:" + token.encode(), hashlib.sha256).hexdigest()


def csrf_token(secret: bytes, token: str) -> str:
    """The CSRF token bound to a session token (synchroniser token, sent in a header)."""
    return hmac.new(secret, b"csrf:" + token.encode(), hashlib.sha256).hexdigest()


def check_csrf(secret: bytes, token: str | None, header: str | None) -> bool:
    """Whether ``header`` is the CSRF token of the session ``token``. Compared as bytes: a
    header of any characters (HTTP headers arrive as latin-1) is a mismatch, not an error."""
    if not token or not header:
        return False
    expected = csrf_token(secret, token).encode()
    return hmac.compare_digest(expected, header.encode("utf-8", "surrogateescape"))


def load_or_create_secret(path: Path) -> bytes:
    """The secret key kept in ``path``; created (mode 0600) when absent."""
    if path.exists():
        value = path.read_text().strip()
        if len(value) < 32:
            raise InvalidInputError(
                f"secret key file {path} holds fewer than 32 characters; delete it to regenerate"
            )
        return value.encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first
        return load_or_create_secret(path)
    with os.fdopen(handle, "w") as fh:
        fh.write(value)
    return value.encode()


def safe_next_path(value: str | None, default: str = "/") -> str:
    """``value`` if it is a path on this site, else ``default`` (the login page's ``?next=``).

    Only a single-slash absolute path is kept: no scheme or host (``https://evil``), no
    protocol-relative ``//evil``, no backslash (browsers read ``/\\evil`` as ``//evil``,
    also when written ``%5C``), no control or white-space characters (browsers drop tabs and
    new lines from URLs, which would join ``/`` and ``/evil``).

    Examples
    --------
    >>> safe_next_path("/read/12?x=1#a")
    '/read/12?x=1#a'
    >>> safe_next_path("/\\evil.example/x"), safe_next_path("//evil"), safe_next_path("https://evil")
    ('/', '/', '/')
    """
    from urllib.parse import urlsplit

    if not value or len(value) > 2048 or not value.startswith("/"):
        return default
    if value[1:2] in ("/", "\\") or "\\" in value or "%5c" in value.lower():
        return default
    if any(ord(ch) <= 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value
