"""Fuzzing the loader: 300 seeded mutations of real DICOM, PNG and JPEG files each load or
raise a CxrpilotError subclass; none raises another exception, crashes or hangs.

DICOM cases (native codecs: GDCM, libjpeg, OpenJPEG, CharLS) run through the isolated loader,
so that a crash would be counted, not fatal; PNG/JPEG (Pillow) run in this process. The
longer run is ``benchmarks/fuzz_imaging.py``.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from cxrpilot import imaging

from .fuzzing import cases, outcome, seed_files

N_CASES = 300


@pytest.mark.slow
@pytest.mark.data
def test_mutated_files_load_or_raise_a_cxrpilot_error(shared_data):
    seeds = seed_files(shared_data)
    assert sum(fmt == "dicom" for fmt, _ in seeds.values()) >= 4
    loader = imaging.IsolatedLoader(timeout_s=20, max_concurrent=2)

    def one(case):
        name, fmt, data = case
        if fmt == "dicom":
            return name, outcome(lambda: loader(data, check=True))
        return name, outcome(lambda: imaging.load(data, check=True))

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(one, cases(seeds, N_CASES, seed=15)))
    counts = Counter(kind for _, (kind, _) in results)
    failures = [(name, o) for name, o in results if o[0] not in ("loaded", "refused")]
    assert failures == [], failures
    assert counts["loaded"] > 0 and counts["refused"] > 0, counts
    assert len(results) == N_CASES
