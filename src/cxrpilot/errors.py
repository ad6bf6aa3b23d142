"""The small error taxonomy of cxrpilot.

Every error a user can cause (a bad file, an unknown model name, a missing optional
dependency) is a :class:`CxrpilotError`. Its message names the input, the value found,
what was expected and, where there is one, the fix. The CLI prints such errors as one line
(no traceback) and the web app turns them into 4xx responses.
"""

from __future__ import annotations

__all__ = [
    "CxrpilotError",
    "InvalidImageError",
    "UnsupportedImageError",
    "InvalidReportError",
    "InvalidDatasetError",
    "UnknownModelError",
    "ModelLoadError",
    "MissingDependencyError",
    "InvalidInputError",
]


class CxrpilotError(Exception):
    """Base class of every error a user of cxrpilot can cause."""


class InvalidImageError(CxrpilotError):
    """The input is not a readable image: truncated, corrupt, empty, or not an image at all."""


class UnsupportedImageError(CxrpilotError):
    """A readable image that cxrpilot does not read: wrong modality or body part, lateral
    view, too small, too large."""


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
