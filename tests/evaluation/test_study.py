"""Reader-study export: schema validation, the whole analysis on a simulated study with the
published trial's reading times, the HTML report."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from cxrpilot.errors import InvalidDatasetError
from cxrpilot.evaluation import (
    EVALUATION_COLUMNS,
    READ_COLUMNS,
    SimulationSpec,
    analyze_study,
    load_study,
    simulate_reader_study,
    study_from_records,
    write_study_export,
)
from cxrpilot.evaluation._html import render_study_html

TRUE_CHANGE = 119.4 / 146.6 - 1  # the published trial: -18.55 %


@pytest.fixture(scope="module")
def small_study(tmp_path_factory) -> Path:
    reads, evaluations = simulate_reader_study(SimulationSpec(n_cases=80, n_readers=5), seed=7)
    return write_study_export(tmp_path_factory.mktemp("study"), reads, evaluations)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_export_round_trip_and_derived_columns(small_study):
    data = load_study(small_study)
    assert list(data.reads.columns[: len(READ_COLUMNS)]) == list(READ_COLUMNS)
    assert len(data.reads) == 160 and len(data.evaluations) == 800
    first = _rows(small_study / "reads.csv")[0]
    assert data.reads["wall_seconds"].iloc[0] == pytest.approx(
        (data.reads["signed_at"].iloc[0] - data.reads["started_at"].iloc[0]).total_seconds())
    assert data.reads["active_seconds"].iloc[0] == float(first["active_seconds"])
    active = load_study(small_study, time="active")
    assert (active.reads["seconds"] == active.reads["active_seconds"]).all()
    assert set(data.evaluations["radpeer"]) <= {"1", "2a", "2b", "3a", "3b"}


def test_json_export_as_the_workstation_writes_it(tmp_path):
    reads, evaluations = simulate_reader_study(SimulationSpec(n_cases=10, n_readers=3, n_evaluators=3), seed=1)
    evaluations[0]["preference"] = None  # a single (unpaired) report
    (tmp_path / "export.json").write_text(json.dumps({"reads": reads, "evaluations": evaluations}))
    data = load_study(tmp_path / "export.json")
    assert len(data.reads) == 20 and math.isnan(data.evaluations["preference"].iloc[0])


def _write(tmp_path: Path, reads: list[dict], evaluations: list[dict]) -> Path:
    for name, rows, cols in (("reads.csv", reads, READ_COLUMNS), ("evaluations.csv", evaluations, EVALUATION_COLUMNS)):
        with (tmp_path / name).open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else list(cols))
            w.writeheader()
            w.writerows(rows)
    return tmp_path


READ = {"study": "s", "case": "c1", "reader": "r1", "arm": "scp", "started_at": "2025-01-01T10:00:00+00:00",
        "signed_at": "2025-01-01T10:02:00+00:00", "active_seconds": "100", "draft_text": "", "final_text": "ok"}
RATING = {"study": "s", "case": "c1", "evaluator": "e1", "report_id": "1", "arm": "scp", "likert": "4",
          "radpeer": "1", "preference": ""}


@pytest.mark.parametrize(
    ("read", "rating", "match"),
    [
        ({"arm": "ai"}, {}, r"reads.csv: row 2, column 'arm': 'ai'; expected one of ai_assisted, scp"),
        ({"signed_at": "2025-01-01T09:00:00+00:00"}, {}, r"row 2, column 'signed_at'.*expected a time after started_at"),
        ({"started_at": "yesterday"}, {}, r"column 'started_at': 'yesterday'; expected an ISO 8601 date-time"),
        ({"active_seconds": "-3"}, {}, r"column 'active_seconds': '-3'; expected a number >= 0 or empty"),
        ({}, {"likert": "6"}, r"evaluations.csv: row 2, column 'likert': '6'; expected an integer 1-5"),
        ({}, {"radpeer": "4"}, r"column 'radpeer': '4'; expected one of 1, 2a, 2b, 3a, 3b"),
        ({}, {"preference": "yes"}, r"column 'preference': 'yes'; expected 1 \(preferred\), 0, 0.5"),
        ({"reader": None}, {}, r"missing column\(s\) \['reader'\]"),
    ],
)
def test_bad_exports_name_file_row_and_column(tmp_path, read, rating, match):
    r = {**READ, **read}
    r = {k: v for k, v in r.items() if v is not None}
    _write(tmp_path, [r], [{**RATING, **rating}])
    with pytest.raises(InvalidDatasetError, match=match):
        load_study(tmp_path)


def test_missing_export_files(tmp_path):
    with pytest.raises(InvalidDatasetError, match="no such study export"):
        load_study(tmp_path / "absent")
    with pytest.raises(InvalidDatasetError, match="reads.csv is missing"):
        load_study(tmp_path)


def test_analysis_of_a_simulated_study_without_mixed_model(small_study):
    a = analyze_study(small_study, mixed_model=False, n_bootstrap=500)
    assert a.counts["reads"] == {"ai_assisted": 80, "scp": 80} and a.counts["evaluators"] == 5
    rc = a.reading_time["relative_change"]
    assert rc.ci_low <= TRUE_CHANGE <= rc.ci_high
    assert "paired" in a.likert["design"] and a.likert["test"].method == "Wilcoxon signed-rank"
    assert a.preference["rule"] == "at least 3 of 5 evaluators"
    r = a.preference["result"]
    assert r.n_cases == 80
    assert r.prefer_a.estimate + r.prefer_b.estimate + r.no_consensus.estimate == pytest.approx(1.0)
    assert a.agreement["likert"]["n_evaluators"] == 5 and -1 <= a.agreement["likert"]["icc2"].estimate <= 1
    assert a.edits["n"] == 80 and 0 < a.edits["unchanged"] < 1
    json.dumps(a.to_dict(), allow_nan=False)  # JSON-clean (NaN -> null)


def test_preference_votes_follow_the_k_of_n_rule(small_study):
    data = load_study(small_study)
    ai = data.evaluations[(data.evaluations["arm"] == "ai_assisted")]
    per_case = ai.groupby("case")["preference"].agg(lambda v: ((v == 1).sum(), (v == 0).sum()))
    expect_a = sum(a >= 4 for a, _ in per_case)
    a = analyze_study(data, k=4, mixed_model=False, n_bootstrap=50)
    assert a.preference["rule"] == "at least 4 of 5 evaluators"
    assert a.preference["result"].prefer_a.estimate == pytest.approx(expect_a / 80)


def test_study_from_records_without_evaluations():
    reads, _ = simulate_reader_study(SimulationSpec(n_cases=12, n_readers=3), seed=2)
    a = analyze_study(study_from_records(reads), mixed_model=False, n_bootstrap=100)
    assert a.likert == {} and a.preference == {} and a.counts["evaluations"] == 0


@pytest.mark.slow
def test_published_effect_recovered_and_html_report(tmp_path):
    """The worked example of docs/evaluation.md: 300 cases, both arms, 5 evaluators."""
    reads, evaluations = simulate_reader_study(seed=0)
    export = write_study_export(tmp_path / "export", reads, evaluations)
    data = load_study(export)
    a = analyze_study(data)
    for est in (a.reading_time["relative_change"], a.reading_time["mixed_model"].relative_change):
        assert est.ci_low <= TRUE_CHANGE <= est.ci_high
    means = a.reading_time["mixed_model_seconds"].arm_means  # with reader and case variability
    assert means["ai_assisted"].ci_low <= 119.4 <= means["ai_assisted"].ci_high
    assert means["scp"].ci_low <= 146.6 <= means["scp"].ci_high
    diff = a.reading_time["mixed_model_seconds"].arm_effect
    assert diff.ci_low <= 119.4 - 146.6 <= diff.ci_high
    html = render_study_html(a, data)
    assert html.count("data:image/png;base64,") == 4  # times, Likert, RADPEER, preference
    assert "Reading time" in html and "Fleiss" in html and "<script" not in html
    assert "http://" not in html and "https://" not in html  # self-contained
