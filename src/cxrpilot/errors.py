"""The small error taxonomy of cxrpilot.

Every error a user can cause (a bad file, an unknown model name, a missing optional
dependency) is a :class:`CxrpilotError`. Its message names the input, the value found,
what was expected and, where there is one, the fix. The CLI prints such errors as one line
(no traceback) and the web app turns them into 4xx responses.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "CxrpilotError",
    "InvalidImageError",
    "UnsupportedImageError",
    "NonFrontalViewError",
    "InvalidReportError",
    "InvalidDatasetError",
    "UnknownModelError",
    "ModelLoadError",
    "MissingDependencyError",
    "InvalidInputError",
    "DecoderCrashError",
    "DecodeLimitError",
    "DecoderBusyError",
    "read_input_file",
]


class CxrpilotError(Exception):
    """Base class of every error a user of cxrpilot can cause."""


class InvalidImageError(CxrpilotError):
    """The input is not a readable image: truncated, corrupt, empty, or not an image at all."""


class UnsupportedImageError(CxrpilotError):
    """A readable image that cxrpilot does not read: wrong modality or body part, lateral
    view, too small, too large."""


class NonFrontalViewError(UnsupportedImageError):
    """A readable chest radiograph in a lateral or oblique view: the models read frontal
    views. Raised only after every other check passed, so an exam can keep the image for
    display and not draft it."""


class DecoderCrashError(InvalidImageError):
    """The worker process decoding an image died (a native codec crash, e.g. SIGABRT) or
    failed in a way the loader does not know; the parent process is unharmed.

    ``signal`` is the signal name that ended the worker (``"SIGABRT"``) or None;
    ``exception`` the name of an unexpected exception type raised in it, or None."""

    def __init__(self, message: str, *, signal: str | None = None, exception: str | None = None):
        super().__init__(message)
        self.signal = signal
        self.exception = exception


class DecodeLimitError(UnsupportedImageError):
    """Decoding an image ran past its time or memory budget (``limit`` is ``"time"`` or
    ``"memory"``): a bomb, or a file too costly for this server's limits."""

    def __init__(self, message: str, *, limit: str):
        super().__init__(message)
        self.limit = limit


class DecoderBusyError(CxrpilotError):
    """Every decode slot stayed busy for the whole wait: the server is overloaded; retry."""


class InvalidReportError(CxrpilotError):
    """Report text or a report file that cannot be parsed."""


class InvalidDatasetError(CxrpilotError):
    """A dataset file or folder that does not have the expected structure (missing
    columns, broken XML, unknown encoding); the message names the file and row."""


class UnknownModelError(CxrpilotError):
    """A model name that is not registered; the message lists the valid names."""


class ModelLoadError(CxrpilotError):
    """Model weights that are missing, incomplete or of the wrong kind at the given path."""


class MissingDependencyError(CxrpilotError):
    """An optional dependency is not installed; the message names the extra to install."""


class InvalidInputError(CxrpilotError, ValueError):
    """Arguments of a library function that are not valid (wrong shape, length, values or
    range), in the manner of scikit-learn's ``ValueError``s: the message names the argument,
    the value found and what was expected."""


def require(module: str, *, extra: str) -> object:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the extra to install.

    >>> require("json", extra="eval").__name__
    'json'
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            f"{module!r} is not installed; install it with: pip install 'cxrpilot[{extra}]'"
        ) from exc


def read_input_file(
    path: str | os.PathLike[str], *, error: type[CxrpilotError], expected: str
) -> bytes:
    """The bytes of a file a user named, or ``error`` in the one wording every reader of
    user input shares: ``"{path}: no such file; expected {expected}"``, ``is a folder``, or
    ``cannot read (reason)``.

    >>> try:
    ...     read_input_file("nope.csv", error=InvalidDatasetError, expected="a CSV table")
    ... except InvalidDatasetError as exc:
    ...     print(exc)
    nope.csv: no such file; expected a CSV table
    """
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise error(f"{path}: no such file; expected {expected}") from None
    except IsADirectoryError:
        raise error(f"{path}: is a folder; expected {expected}") from None
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror or exc})") from None
