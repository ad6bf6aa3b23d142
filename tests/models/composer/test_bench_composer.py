"""``benchmarks/bench_composer.py``: the No Finding ceiling of the perfect-findings protocol, the
causes of a No Finding read back otherwise, and the script end to end on a few dev reports."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cxrpilot.vocabulary import OBSERVATIONS
from tests.benchmark_scripts import BENCHMARKS, load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("bench_composer")


def labels(**given):
    out = dict.fromkeys(OBSERVATIONS)
    out.update({k.replace("_", " "): v for k, v in given.items()})
    return out


@pytest.mark.parametrize(
    ("given", "read", "implied", "cause"),
    [
        # "Calcified granuloma. Heart size normal.": No Finding 0, nothing among the 13 present
        (labels(No_Finding=0, Cardiomegaly=0), labels(No_Finding=1, Cardiomegaly=0), 1, "abnormality outside the 14"),
        # "No active disease.": No Finding 1 and nothing else, so the composer writes nothing
        (labels(No_Finding=1), labels(), None, "No Finding 1, nothing else mentioned"),
        # a present finding: No Finding 0 follows from it, so a miss is an error
        (labels(No_Finding=0, Pneumothorax=1), labels(No_Finding=1, Pneumothorax=1), 0, "other"),
        (labels(No_Finding=0, Pneumothorax=1), labels(No_Finding=0, Pneumothorax=1), 0, None),
        (labels(No_Finding=0, Edema=-1), labels(No_Finding=0, Edema=-1), 0, None),
        # Support Devices do not make a study abnormal
        (labels(No_Finding=1, Support_Devices=1), labels(No_Finding=1, Support_Devices=1), 1, None),
        (labels(No_Finding=0, Support_Devices=1), labels(No_Finding=1, Support_Devices=1), 1,
         "abnormality outside the 14"),
        (labels(), labels(), None, None),
    ],
)
def test_no_finding_ceiling_and_causes(bench, given, read, implied, cause):
    stated = bench.stated_exactly(given)
    assert stated["No Finding"] == implied
    assert {k: v for k, v in stated.items() if k != "No Finding"} == {k: v for k, v in given.items() if k != "No Finding"}
    assert bench.no_finding_cause(given, read) == cause
    # the 13 determine No Finding unless the cause is one of the two protocol causes
    assert bench.determined(given) == (cause not in bench.NO_FINDING_CAUSES[:2])


def test_ceiling_reads_back_every_stated_observation(bench):
    inputs = [labels(No_Finding=0, Cardiomegaly=0), labels(No_Finding=0, Pneumothorax=1), labels(No_Finding=1)]
    r = bench.consistency(inputs, [bench.stated_exactly(x) for x in inputs])
    assert r["ce13"]["F1"] == 1.0 and r["agree"] == (1.0, 0)
    assert r["causes"] == {"abnormality outside the 14": 1, "No Finding 1, nothing else mentioned": 1, "other": 0}
    assert r["n_det"] == 1 and r["ce_det"]["F1"] == 1.0
    # the out-of-vocabulary report costs a false positive, the empty one a false negative
    assert r["ce1"]["P"] == pytest.approx(1 / 2) and r["ce1"]["R"] == pytest.approx(1 / 2)


@pytest.mark.data
@pytest.mark.slow
def test_script_on_dev_reports_the_composer_at_the_ceiling(shared_data, tmp_path):
    out = tmp_path / "composer.md"
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_composer.py"), "--data", str(shared_data), "--half", "dev",
         "--limit", "120", "--repeat", "1", "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = out.read_text()
    assert "IU dev half" in text and "error analysis only" in text
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in text.split("Clinical consistency")[1].splitlines() if line.startswith(("| (", "| ceiling"))}
    ceiling = next(v for k, v in rows.items() if k.startswith("ceiling"))
    for method in ("(a) templates", "(b) sentence retrieval (default)"):
        # (a) and (b) read back as a text stating exactly their input: no No Finding error of their own
        assert rows[method] == ceiling, (method, rows[method], ceiling)
        assert rows[method][-1].endswith("/ 0"), rows[method]
