"""Models that turn a :class:`~cxrpilot.imaging.Radiograph` into findings or text.

- :mod:`cxrpilot.models.expert`: the small finding classifier (the embedded default).
- :mod:`cxrpilot.models.janus`: Janus-Pro through ``transformers`` (bring your own weights).
- :mod:`cxrpilot.models.composer`: a deterministic report written from findings.

Importing this package imports nothing heavy; import the submodule you need.

Caches the models write (decoded training images, Janus decoder graphs) live under one
folder, ``$CXRPILOT_CACHE_DIR`` (:func:`cache_dir_from_env`); each model names its own
default when the variable is unset.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CACHE_DIR_VARIABLE", "cache_dir_from_env"]

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
