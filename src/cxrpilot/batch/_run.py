"""run_batch: draft every image of a folder or manifest on Ray Data, resumably."""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cxrpilot.batch._results import DoneIndex, write_part
from cxrpilot.batch._sources import list_items, source_stat
from cxrpilot.batch._worker import DraftWorker, ModelSpec
from cxrpilot.errors import InvalidInputError, require

__all__ = ["run_batch", "BatchSummary"]

#: Object store of the embedded local Ray (bytes): small, rows are small; Ray spills beyond it.
LOCAL_OBJECT_STORE_BYTES = 500 * 1024**2
#: Tries of a block whose worker process died (a restarted actor runs it again); a block
#: that kills its worker every time is given up.
BLOCK_RETRIES = 3
#: Passes after the first over the images no block brought back (a block given up, or lost
#: with its node): one image per block, on the actors the cluster can still place, so only
#: an image that kills every worker itself stays missing (left for a re-run).
RECOVERY_PASSES = 1


@dataclass(frozen=True)
class BatchSummary:
    """What one :func:`run_batch` call did.

    Attributes
    ----------
    out : pathlib.Path
        The RESULTS folder.
    total : int
        Images in SOURCE.
    skipped : int
        Images already in RESULTS (same file unchanged, or same content under another path).
    drafted, failed : int
        Rows written by this run: drafted without error / recorded as failed.
    missing : int
        Images neither skipped nor written: still not brought back after the
        ``RECOVERY_PASSES`` extra passes (an image whose worker died ``BLOCK_RETRIES + 1``
        times in each pass); a re-run retries them.
    recovered : int
        Of the rows written, those written by a recovery pass (their first block was given up
        or lost with its node).
    parts : int
        Part files written by this run.
    seconds : float
        Wall time of the run, Ray start-up included.
    write_s : float
        Of which: writing part files (on the driver).
    """

    out: Path
    total: int
    skipped: int
    drafted: int
    failed: int
    missing: int
    parts: int
    seconds: float
    write_s: float = 0.0
    recovered: int = 0

    @property
    def images_per_s(self) -> float:
        """Images drafted or failed per second of wall time."""
        done = self.drafted + self.failed
        return done / self.seconds if self.seconds > 0 else math.nan


@contextlib.contextmanager
def _ray_session(address: str | None, num_cpus: int, object_store_memory: int | None
                 ) -> Iterator[Any]:
    """Use a running Ray, connect to ``address`` / ``$RAY_ADDRESS``, or start a local one
    (shut down again on exit)."""
    ray = require("ray", extra="batch")
    if ray.is_initialized():
        yield ray
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        ray.init(address=address, log_to_driver=False, logging_level="WARNING")
    else:
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False,
                 logging_level="WARNING",
                 object_store_memory=object_store_memory or LOCAL_OBJECT_STORE_BYTES)
    try:
        yield ray
    finally:
        ray.shutdown()


def _portable_model(model: ModelSpec) -> ModelSpec:
    """``model`` with a relative weights path made absolute, so that workers on other nodes
    (whose working folder is not the driver's) find the same folder."""
    if not isinstance(model, str):
        return model
    kind, sep, arg = model.partition(":")
    if sep and arg and os.path.exists(arg):
        return f"{kind}:{os.path.abspath(arg)}"
    return model


def _default_workers() -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // 2)


def run_batch(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    model: ModelSpec = None,
    address: str | None = None,
    batch_size: int = 32,
    concurrency: int | None = None,
    progress: bool = True,
    check: bool = True,
    indication: str | None = None,
    retry_failed: bool = False,
    num_gpus: float | None = None,
    object_store_memory: int | None = None,
    since: str | None = None,
    headers: dict[str, str] | None = None,
) -> BatchSummary:
    """Draft every image of ``source`` on Ray Data and write the results to ``out`` as Parquet.

    Each image is drafted exactly as ``cxrpilot report`` drafts it (``imaging.load`` then
    the drafter), so the findings, probabilities and text are identical. The work is
    resumable: what ``out`` already holds (by content sha256; files unchanged since are not
    even read) is skipped, every finished block becomes its own part file, written
    atomically, and an unreadable or refused image becomes a row with ``status="failed"``.

    Parameters
    ----------
    source : path or URL
        A folder (searched recursively for DICOM, PNG and JPEG files, as ``cxrpilot report``
        does), a CSV / JSON-lines manifest (:func:`cxrpilot.data.read_manifest`), or a
        DICOMweb root (``http(s)://pacs:8042/dicom-web``): its CR and DX studies (QIDO-RS),
        each instance retrieved (WADO-RS) by the worker that drafts it.
    out : path
        The RESULTS folder (created); read it with :func:`read_results`.
    model : str, callable or None
        A spec for :func:`cxrpilot.pipeline.load_drafter` (``None``/``"expert"`` for the
        shipped default, ``"expert:NAME_OR_PATH"``, ``"janus:PATH"``), or a picklable
        zero-argument callable returning a drafter. Loaded once per worker, on the worker's
        node: a PATH must exist there (a relative PATH is made absolute here first).
    address : str or None
        A Ray cluster (``"ray://head:10001"``, ``"auto"``); default ``$RAY_ADDRESS``, else an
        embedded local Ray with ``concurrency`` CPUs. A Ray already initialised in this
        process is used as it is.
    batch_size : int, default 32
        Images per block: per task sent to a worker, and per part file.
    concurrency : int or None
        Model workers (actors), each holding one model (1 logical CPU of Ray's each).
        Default: one per CPU the Ray cluster offers (the embedded local Ray offers one per
        two cores here, as ONNX Runtime uses two threads per session), or one per GPU for a
        Janus model on a cluster with GPUs.
    progress : bool, default True
        A progress bar on stderr with images/s and ETA.
    check : bool, default True
        The frontal-chest-radiograph checks of :func:`cxrpilot.imaging.load`.
    indication : str or None
        Clinical indication given to every draft.
    retry_failed : bool, default False
        Draft again the images recorded as failed (e.g. after a fix).
    num_gpus : float or None
        GPUs per worker; default 1 for a Janus model when the cluster has GPUs, else 0.
    object_store_memory : int or None
        Object store of the embedded local Ray, bytes (default 500 MB).
    since : str or None
        DICOMweb only: studies dated on or after this day (``YYYY-MM-DD`` or ``YYYYMMDD``).
    headers : dict or None
        DICOMweb only: HTTP headers for every request (e.g. ``Authorization``).

    Returns
    -------
    BatchSummary

    Raises
    ------
    InvalidDatasetError
        ``source`` is missing, neither a folder nor a manifest, or holds no image.
    DicomWebError
        the DICOMweb server cannot be queried.
    InvalidInputError
        ``batch_size`` or ``concurrency`` below 1.
    MissingDependencyError
        Ray is not installed (``pip install 'cxrpilot[batch]'``).

    Examples
    --------
    >>> from cxrpilot.batch import run_batch, read_results              # doctest: +SKIP
    >>> summary = run_batch("archive/", "results/")                      # doctest: +SKIP
    >>> read_results("results/").num_rows == summary.total               # doctest: +SKIP
    True
    """
    if batch_size < 1:
        raise InvalidInputError(f"batch_size must be at least 1, got {batch_size}")
    if concurrency is not None and concurrency < 1:
        raise InvalidInputError(f"concurrency must be at least 1, got {concurrency}")
    t_start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    items = list_items(source, since=since, headers=headers)
    done = DoneIndex.of(out, retry_failed=retry_failed)
    pending = []
    for item in items:
        size, mtime_ns = source_stat(item["source"])
        if (item["source"], size, mtime_ns) not in done.stats:
            pending.append(item)
    skipped = len(items) - len(pending)
    drafted = failed = parts = recovered = 0
    write_s = 0.0
    if pending:
        is_janus = isinstance(model, str) and model.startswith("janus")
        model = _portable_model(model)
        workers = concurrency or _default_workers()
        with _ray_session(address, workers, object_store_memory) as ray:
            resources = ray.cluster_resources()
            gpus = num_gpus
            if gpus is None:
                gpus = 1.0 if is_janus and resources.get("GPU", 0) >= 1 else 0.0
            if concurrency is None:  # one worker per GPU, else per CPU the cluster offers
                workers = max(1, int(resources.get("GPU", 0) // gpus) if gpus
                              else int(resources.get("CPU", workers)))
            job = _Job(model=model, done=done.hashes, batch_size=batch_size, workers=workers,
                       gpus=gpus, check=check, indication=indication, headers=headers)
            counts = _execute(ray, pending, out, job, progress=progress)
        skipped += counts.hash_skipped
        drafted, failed, parts = counts.drafted, counts.failed, counts.parts
        write_s, recovered = counts.write_s, counts.recovered
    missing = len(items) - skipped - drafted - failed
    return BatchSummary(out=out, total=len(items), skipped=skipped, drafted=drafted,
                        failed=failed, missing=missing, parts=parts,
                        seconds=time.perf_counter() - t_start, write_s=write_s,
                        recovered=recovered)


@dataclass(frozen=True)
class _Job:
    """What every block of one run is drafted with: the worker's options (the model, the
    hashes already in RESULTS, the checks, the indication, the DICOMweb headers) and the
    actor pool's shape (images per block, workers, GPUs per worker)."""

    model: ModelSpec
    done: frozenset[str]
    batch_size: int
    workers: int
    gpus: float
    check: bool
    indication: str | None
    headers: dict[str, str] | None

    def worker_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of each :class:`DraftWorker`."""
        return {"model": self.model, "done": self.done, "check": self.check,
                "indication": self.indication, "headers": self.headers}


def _map(ds: Any, ray: Any, job: _Job, *, recovery: bool = False) -> Any:
    # A dead worker is restarted (model loaded again) and its block run again, at most
    # BLOCK_RETRIES times: a file that kills every worker must not loop forever. A recovery
    # pass starts with the actors the cluster can place now (a lost node's never come back).
    pool = (ray.data.ActorPoolStrategy(min_size=1, max_size=job.workers, initial_size=job.workers)
            if recovery else ray.data.ActorPoolStrategy(size=job.workers))
    return ds.map_batches(
        DraftWorker,
        fn_constructor_kwargs=job.worker_kwargs(),
        batch_size=job.batch_size,
        batch_format="pyarrow",
        compute=pool,
        num_cpus=1,
        num_gpus=job.gpus or None,
        max_restarts=-1,
        max_task_retries=BLOCK_RETRIES,
    )


@dataclass
class _Counts:
    drafted: int = 0
    failed: int = 0
    parts: int = 0
    hash_skipped: int = 0
    write_s: float = 0.0
    recovered: int = 0


def _execute(ray: Any, pending: list[dict[str, Any]], out: Path, job: _Job, *,
             progress: bool) -> _Counts:
    """Stream ``pending`` through the model actors, then (``RECOVERY_PASSES`` times) the
    images no block brought back, one per block."""
    import ray.data
    from tqdm import tqdm

    ctx = ray.data.DataContext.get_current()
    settings = {"enable_progress_bars": False, "print_on_execution_start": False,
                "enable_auto_log_stats": False,
                # a block given up after BLOCK_RETRIES (or lost with its node) is not the
                # end of the run: its images go to the recovery pass
                "max_errored_blocks": -1}
    saved = {name: getattr(ctx, name) for name in (*settings, "wait_for_min_actors_s")}
    for name, value in settings.items():
        setattr(ctx, name, value)
    counts = _Counts()
    run_id = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    bar = tqdm(total=len(pending), unit="image", disable=not progress, file=sys.stderr,
               dynamic_ncols=True, smoothing=0.1)
    try:
        todo = pending
        for attempt in range(1 + RECOVERY_PASSES):
            recovery = attempt > 0
            if recovery:  # never wait for actors a lost node's resources would have held
                ctx.wait_for_min_actors_s = -1
            before = counts.drafted + counts.failed
            pass_job = replace(job, batch_size=1) if recovery else job  # one image per block
            seen = _stream(ray, todo, out, counts, bar, pass_job, run_id=run_id,
                           recovery=recovery)
            if recovery:
                counts.recovered += counts.drafted + counts.failed - before
            todo = [item for item in todo if item["source"] not in seen]
            if not todo:
                break
    finally:
        bar.close()
        for name, value in saved.items():
            setattr(ctx, name, value)
    return counts


def _stream(ray: Any, pending: list[dict[str, Any]], out: Path, counts: _Counts, bar: Any,
            job: _Job, *, run_id: str, recovery: bool) -> set[str]:
    """One pass: write each block that comes back as a part file; the sources it brought
    back (written or skipped)."""
    import pyarrow.compute as pc

    ds = ray.data.from_items(pending, override_num_blocks=math.ceil(len(pending) / job.batch_size))
    with warnings.catch_warnings():
        # Ray 2.60 deprecates remote args without a replacement for max_task_retries yet
        warnings.simplefilter("ignore", DeprecationWarning)
        ds = _map(ds, ray, job, recovery=recovery)
    seen: set[str] = set()
    for block in ds.iter_batches(batch_size=None, batch_format="pyarrow", prefetch_batches=1):
        n = block.num_rows
        status = block.column("status")
        skipped_here = pc.sum(pc.equal(status, "skipped")).as_py() or 0
        rows = block.filter(pc.not_equal(status, "skipped")) if skipped_here else block
        if rows.num_rows:
            t0 = time.perf_counter()
            write_part(rows, out, run_id=run_id, seq=counts.parts)
            counts.write_s += time.perf_counter() - t0
            counts.parts += 1
            n_failed = pc.sum(pc.equal(rows.column("status"), "failed")).as_py() or 0
            counts.failed += n_failed
            counts.drafted += rows.num_rows - n_failed
        counts.hash_skipped += skipped_here
        seen.update(block.column("source").to_pylist())
        bar.update(n)
        bar.set_postfix(failed=counts.failed, refresh=False)
    return seen
