"""The loop of the workstation's background threads (the draft worker, the outbox sender)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

__all__ = ["run_until_stopped"]


def run_until_stopped(
    run_once: Callable[[], bool],
    stop: threading.Event,
    wake: threading.Event,
    *,
    poll_s: float,
    log: logging.Logger,
    what: str,
) -> None:
    """Call ``run_once`` until ``stop`` is set; when it found nothing to do (returned False),
    wait for ``wake`` or ``poll_s`` seconds. An exception is logged as ``"<what> error"`` and
    the loop goes on: a database hiccup must not kill the thread."""
    while not stop.is_set():
        try:
            busy = run_once()
        except Exception:
            log.exception("%s error", what)
            busy = False
        if not busy:
            wake.wait(poll_s)
            wake.clear()
