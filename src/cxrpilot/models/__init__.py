"""Models that turn a :class:`~cxrpilot.imaging.Radiograph` into findings or text.

- :mod:`cxrpilot.models.expert`: the small finding classifier (the embedded default).
- :mod:`cxrpilot.models.janus`: Janus-Pro through ``transformers`` (bring your own weights).
- :mod:`cxrpilot.models.composer`: a deterministic report written from findings.

Importing this package imports nothing heavy; import the submodule you need.

Caches the models write (decoded training images, Janus decoder graphs) live under one
folder, :func:`cache_root`: ``$CXRPILOT_CACHE_DIR`` when set, else ``$XDG_CACHE_HOME/cxrpilot``,
else ``~/.cache/cxrpilot``; each model keeps its cache in a subfolder of it.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CACHE_DIR_VARIABLE", "cache_dir_from_env", "cache_root"]

#: The one environment variable that moves cxrpilot's caches.
CACHE_DIR_VARIABLE = "CXRPILOT_CACHE_DIR"


def cache_dir_from_env() -> Path | None:
    """``$CXRPILOT_CACHE_DIR`` (``~`` expanded), or None when it is unset or empty.

    Examples
    --------
    >>> cache_dir_from_env()  # with CXRPILOT_CACHE_DIR=~/scratch/cache  # doctest: +SKIP
    PosixPath('/home/me/scratch/cache')
    """
    value = os.environ.get(CACHE_DIR_VARIABLE)
    return Path(value).expanduser() if value else None


def cache_root() -> Path:
    """The folder of cxrpilot's caches: ``$CXRPILOT_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/cxrpilot``, else ``~/.cache/cxrpilot``."""
    explicit = cache_dir_from_env()
    if explicit is not None:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "cxrpilot"
