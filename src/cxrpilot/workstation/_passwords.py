"""The password policy (OWASP ASVS 4.0 level 2, V2.1).

- at least :data:`MIN_PASSWORD_LENGTH` characters (2.1.1: 12; white-space runs count as one),
  at most :data:`~._schemas.MAX_PASSWORD` (2.1.2: 64 allowed, longer than 128 refused);
- not on the list of common passwords shipped in ``data/common-passwords.txt`` (2.1.7; made
  by ``scripts/make_common_passwords.py``), compared in lower case without white space;
- not the user name or the display name, nor containing them (2.1.7's "context-specific
  words"), and not one character repeated or a plain run such as ``123456789012``;
- no composition rules (2.1.9): any printable Unicode text is allowed (2.1.4), unchanged
  (no truncation, 2.1.3).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from ._errors import InvalidInput

__all__ = ["MIN_PASSWORD_LENGTH", "check_password_policy", "common_passwords"]

MIN_PASSWORD_LENGTH = 12
COMMON_PASSWORDS = Path(__file__).with_name("data") / "common-passwords.txt"
_RUNS = ("0123456789", "9876543210", "abcdefghijklmnopqrstuvwxyz", "qwertyuiopasdfghjklzxcvbnm")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords (lower case, no white space)."""
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(w for w in lines if w and not w.startswith("#"))


def _folded(text: str) -> str:
    return re.sub(r"\s+", "", text).casefold()


def _is_run(text: str) -> bool:
    """A single character repeated, or a slice of one sequence repeated (``abcabcabc...``)."""
    if len(set(text)) <= 2:
        return True
    for size in range(1, len(text) // 2 + 1):
        if len(text) % size == 0 and text[:size] * (len(text) // size) == text:
            return True
    return any(text in (run * 3) for run in _RUNS)


def check_password_policy(password: str, *, username: str, display_name: str = "") -> None:
    """Raise :class:`InvalidInput` saying why ``password`` is not allowed for ``username``.

    Examples
    --------
    >>> check_password_policy("correct horse battery", username="rad1")
    >>> check_password_policy("password1234", username="rad1")
    Traceback (most recent call last):
    ...
    cxrpilot.workstation._errors.InvalidInput: password is one of the most common passwords; choose another (a few unrelated words make a strong one)
    """
    length = len(re.sub(r"\s+", " ", password.strip()))
    if length < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"password too short ({length} characters); use at least {MIN_PASSWORD_LENGTH}"
        )
    folded = _folded(password)
    if folded in common_passwords():
        raise InvalidInput(
            "password is one of the most common passwords; choose another "
            "(a few unrelated words make a strong one)"
        )
    for what, value in (("user name", username), ("display name", display_name)):
        name = _folded(value)
        if len(name) >= 3 and name in folded:
            raise InvalidInput(f"password contains the {what}; choose one that does not")
    if _is_run(folded):
        raise InvalidInput(
            "password is one character repeated or a plain sequence; choose another"
        )
