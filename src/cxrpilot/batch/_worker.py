"""The model actor of a batch run: loads the drafter once, drafts a block of images.

Each image goes through exactly what ``cxrpilot report`` does (``imaging.load(path)`` then
``drafter.draft``), one image at a time, so the results are the same bit for bit. A
:class:`~cxrpilot.errors.CxrpilotError` (or any other exception a decoder raises on a bad
file) becomes a failed row and the block goes on.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cxrpilot.batch._results import draft_row, failure_row, result_schema
from cxrpilot.batch._sources import file_stat

__all__ = ["DraftWorker", "ModelSpec"]

#: A model spec for :func:`cxrpilot.pipeline.load_drafter`, or a zero-argument callable
#: that returns a drafter (called once per worker).
ModelSpec = str | Callable[[], Any] | None


def _sha256(path: str) -> tuple[bytes | None, str | None]:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return None, None  # imaging.load reports it with its own message
    return data, hashlib.sha256(data).hexdigest()


class DraftWorker:
    """A Ray Data callable class: one instance (one loaded model) per worker process."""

    def __init__(self, model: ModelSpec = None, *, done: frozenset[str] = frozenset(),
                 check: bool = True, indication: str | None = None) -> None:
        import logging

        from cxrpilot.pipeline import load_drafter

        logging.getLogger("pydicom").setLevel(logging.ERROR)  # header values may be PHI
        self.drafter = model() if callable(model) else load_drafter(model)
        self.done = done
        self.check = check
        self.indication = indication
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.schema = result_schema()

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        rows = [self.draft_one(item) for item in batch.to_pylist()]
        return pa.Table.from_pylist(rows, schema=self.schema)

    def draft_one(self, item: dict[str, Any]) -> dict[str, Any]:
        """The result row of one item; ``status="skipped"`` (dropped by the writer) when its
        content is already in RESULTS under another path."""
        from cxrpilot import imaging

        path = item["source"]
        size, mtime_ns = file_stat(path)
        t0 = time.perf_counter()
        data, sha = _sha256(path)
        read_s = time.perf_counter() - t0
        if sha is not None and sha in self.done:
            return {"source": path, "sha256": sha, "status": "skipped"}
        del data
        load_s = None
        try:
            t1 = time.perf_counter()
            radiograph = imaging.load(path, check=self.check)
            load_s = time.perf_counter() - t1
            t2 = time.perf_counter()
            draft = self.drafter.draft(radiograph, indication=self.indication)
            draft_s = time.perf_counter() - t2
        except Exception as exc:  # noqa: BLE001 - one bad file must not end an archive run
            return failure_row(item, exc, sha256=sha, size=size, mtime_ns=mtime_ns,
                               read_s=read_s, load_s=load_s, model_id=self.drafter.model_id,
                               model_version=self.drafter.version, worker=self.worker,
                               finished_at=datetime.now(UTC))
        return draft_row(item, draft, sha256=sha, size=size, mtime_ns=mtime_ns, read_s=read_s,
                         load_s=load_s, draft_s=draft_s, worker=self.worker,
                         finished_at=datetime.now(UTC))
