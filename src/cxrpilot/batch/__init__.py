"""Batch inference over an archive on Ray Data: resumable, and the same drafts as one process.

:func:`run_batch` drafts every image of a folder or a CSV/JSONL manifest with model workers
on Ray Data (an embedded local Ray by default, a cluster by address) and writes one Parquet
row per image to a RESULTS folder; :func:`read_results` reads it back, one row per image.
A re-run skips what RESULTS already holds; images lost with a worker or a node are drafted
again in a recovery pass. Running on a cluster: ``docs/batch.md``. Ray is the ``batch`` extra
(``pip install 'cxrpilot[batch]'``); importing this package does not import it.

>>> from cxrpilot.batch import run_batch, read_results                 # doctest: +SKIP
>>> summary = run_batch("archive/", "results/", concurrency=4)          # doctest: +SKIP
>>> table = read_results("results/")                                    # doctest: +SKIP
"""

from __future__ import annotations

from cxrpilot.batch._results import read_results, result_schema
from cxrpilot.batch._run import BatchSummary, run_batch

__all__ = ["run_batch", "BatchSummary", "read_results", "result_schema"]
