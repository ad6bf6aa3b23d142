"""Fuzzing the workstation's own decode path: 300 seeded mutations (as in test_fuzz.py, another
seed) through :meth:`IsolatedLoader.load_for_exam`, which also builds the de-identified file
to store and reads the exam identifiers in the worker. Each loads or raises a CxrpilotError
subclass; none raises another exception, crashes or hangs. ``test_fuzz.py`` and
``benchmarks/fuzz_imaging.py`` fuzz :func:`cxrpilot.imaging.load` alone."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from cxrpilot import imaging

from .fuzzing import cases, outcome, seed_files

N_CASES = 300


@pytest.mark.slow
@pytest.mark.data
def test_mutated_files_through_load_for_exam_load_or_raise_a_cxrpilot_error(shared_data):
    seeds = seed_files(shared_data)
    loader = imaging.IsolatedLoader(timeout_s=20, max_concurrent=2)

    def one(case):
        name, _fmt, data = case
        return name, outcome(lambda: loader.load_for_exam(data, check=True))

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(one, cases(seeds, N_CASES, seed=1515)))
    counts = Counter(kind for _, (kind, _) in results)
    failures = [(name, o) for name, o in results if o[0] not in ("loaded", "refused")]
    assert failures == [], failures
    assert counts["loaded"] > 0 and counts["refused"] > 0, counts
    assert len(results) == N_CASES
