"""The reading workstation: a FastAPI app where radiologists read, edit and sign, and
where reader studies run (arms, randomisation, blinded evaluation, export).

Start it with ``cxrpilot serve``; build it in code with :func:`create_app`::

    from cxrpilot.workstation import Settings, create_app
    app = create_app(Settings(data_dir="ws-data"))

The database's schema, for seed scripts and research queries, is :mod:`.orm`; the stored and
served pixels are :mod:`.display`; administration from the shell is :mod:`.admin`. See
``docs/workstation.md``.
"""

from ._app import create_app
from ._reading import ClientEvent, ReadingTime, compute_reading_time, edit_distance
from ._settings import Settings, get_settings
from ._worker import DraftProducer

__all__ = [
    "create_app",
    "Settings",
    "get_settings",
    "DraftProducer",
    "ClientEvent",
    "ReadingTime",
    "compute_reading_time",
    "edit_distance",
]
