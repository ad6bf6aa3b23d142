"""The model actor of a batch run: loads the drafter once, drafts a block of images.

Each image goes through exactly what ``cxrpilot report`` does (``imaging.load`` then
``drafter.draft``), one image at a time, so the results are the same bit for bit. A DICOMweb
item is retrieved (WADO-RS) by the worker itself, so instances never pass through the driver. A
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
from cxrpilot.batch._sources import dicomweb_root, is_dicomweb, source_stat

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


def _parse_instance_url(url: str) -> tuple[str, str, str]:
    parts = url.split("/studies/", 1)[1].split("/")
    return parts[0], parts[2], parts[4]  # study, "series", series, "instances", sop


def _ray_node_id() -> str | None:
    """The Ray node this process runs on (hex id), or None outside Ray."""
    try:
        import ray
    except ImportError:
        return None
    return ray.get_runtime_context().get_node_id() if ray.is_initialized() else None


class DraftWorker:
    """A Ray Data callable class: one instance (one loaded model) per worker process."""

    def __init__(self, model: ModelSpec = None, *, done: frozenset[str] = frozenset(),
                 check: bool = True, indication: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        import logging

        from cxrpilot.pipeline import load_drafter

        logging.getLogger("pydicom").setLevel(logging.ERROR)  # header values may be PHI
        self.drafter = model() if callable(model) else load_drafter(model)
        self.done = done
        self.check = check
        self.indication = indication
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.node_id = _ray_node_id()
        self.schema = result_schema()
        self.headers = headers
        self._dicomweb: dict[str, Any] = {}

    def _retrieve(self, url: str) -> bytes:
        from cxrpilot.interop.dicomweb import DicomWebClient

        root = dicomweb_root(url)
        if root not in self._dicomweb:
            self._dicomweb[root] = DicomWebClient(root, headers=self.headers)
        return self._dicomweb[root].retrieve_instance(*_parse_instance_url(url))

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        rows = [self.draft_one(item) for item in batch.to_pylist()]
        return pa.Table.from_pylist(rows, schema=self.schema)

    def draft_one(self, item: dict[str, Any]) -> dict[str, Any]:
        """The result row of one item; ``status="skipped"`` (dropped by the writer) when its
        content is already in RESULTS under another path."""
        from cxrpilot import imaging

        path = item["source"]
        size, mtime_ns = source_stat(path)
        t0 = time.perf_counter()
        load_s = sha = read_s = None
        try:
            if is_dicomweb(path):
                data = self._retrieve(path)
                sha = hashlib.sha256(data).hexdigest()
                source: str | bytes = data
            else:
                data, sha = _sha256(path)
                source = path
            read_s = time.perf_counter() - t0
            if sha is not None and sha in self.done:
                return {"source": path, "sha256": sha, "status": "skipped"}
            del data
            t1 = time.perf_counter()
            radiograph = imaging.load(source, check=self.check)
            load_s = time.perf_counter() - t1
            t2 = time.perf_counter()
            draft = self.drafter.draft(radiograph, indication=self.indication)
            draft_s = time.perf_counter() - t2
        except Exception as exc:  # noqa: BLE001 - one bad file must not end an archive run
            read_s = read_s if read_s is not None else time.perf_counter() - t0
            return failure_row(item, exc, sha256=sha, size=size, mtime_ns=mtime_ns,
                               read_s=read_s, load_s=load_s, model_id=self.drafter.model_id,
                               model_version=self.drafter.version, worker=self.worker,
                               node_id=self.node_id, finished_at=datetime.now(UTC))
        return draft_row(item, draft, sha256=sha, size=size, mtime_ns=mtime_ns, read_s=read_s,
                         load_s=load_s, draft_s=draft_s, worker=self.worker,
                         node_id=self.node_id, finished_at=datetime.now(UTC))
