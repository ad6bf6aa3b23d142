"""Reader studies: randomisation plans, eligibility, the full flow, blinded evaluation, export."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter

import pytest

from cxrpilot.workstation._errors import InvalidInput
from cxrpilot.workstation._services.studies import assignment_plan

from .helpers import MODEL_ID, png_bytes

CASES, READERS = list(range(1, 11)), [101, 102, 103, 104]


@pytest.mark.parametrize(
    "design, n_reads, periods",
    [("per_case", 40, {1}), ("per_reader", 40, {1}), ("crossover", 80, {1, 2})],
)
def test_assignment_plan_shapes(design, n_reads, periods):
    plan = assignment_plan(design, CASES, READERS, seed=5)
    assert len(plan) == n_reads and {p[3] for p in plan} == periods
    assert Counter(p[2] for p in plan) == {"ai_assisted": n_reads // 2, "scp": n_reads // 2}
    assert plan == assignment_plan(design, CASES, READERS, seed=5)  # the seed fixes it
    assert plan != assignment_plan(design, CASES, READERS, seed=6)
    assert len(set(plan)) == len(plan)


def test_per_case_design_gives_each_case_one_arm_for_all_readers():
    plan = assignment_plan("per_case", CASES, READERS, seed=1)
    arms = {}
    for _, case, arm, _ in plan:
        assert arms.setdefault(case, arm) == arm
    assert Counter(arms.values()) == {"ai_assisted": 5, "scp": 5}


def test_per_reader_design_gives_each_reader_one_arm():
    plan = assignment_plan("per_reader", CASES, READERS, seed=1)
    per_reader = {r: {arm for rr, _, arm, _ in plan if rr == r} for r in READERS}
    assert all(len(a) == 1 for a in per_reader.values())
    assert Counter(next(iter(a)) for a in per_reader.values()) == {"ai_assisted": 2, "scp": 2}


def test_crossover_reads_every_case_in_both_arms_across_periods():
    plan = assignment_plan("crossover", CASES, READERS, seed=3)
    for r in READERS:
        for c in CASES:
            both = sorted((p, a) for rr, cc, a, p in plan if (rr, cc) == (r, c))
            assert [p for p, _ in both] == [1, 2] and {a for _, a in both} == {"ai_assisted", "scp"}
        assert Counter(a for rr, _, a, p in plan if rr == r and p == 1) == {
            "ai_assisted": 5,
            "scp": 5,
        }


def test_reading_order_differs_between_readers():
    plan = assignment_plan("per_case", CASES, READERS, seed=2)
    orders = {r: [c for rr, c, _, _ in plan if rr == r] for r in READERS}
    assert len({tuple(o) for o in orders.values()}) > 1


def test_unknown_design():
    with pytest.raises(
        InvalidInput,
        match="design 'latin' is not known; expected one of per_case, per_reader, crossover",
    ):
        assignment_plan("latin", CASES, READERS, seed=1)


def _walk(obj):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield k, v
            yield from _walk(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _walk(v)


@pytest.mark.parametrize(
    "body, message",
    [
        ({"name": "x", "design": "crossover", "washout_days": 0}, "washout of at least 1 day"),
        (
            {"name": "x", "design": "per_case", "criteria": [{"key": "Bad Key", "text": "t"}]},
            "lower-case letters",
        ),
        (
            {
                "name": "x",
                "design": "per_case",
                "criteria": [{"key": "a", "text": "t"}, {"key": "a", "text": "u"}],
            },
            "given twice",
        ),
    ],
)
def test_bad_study(world, body, message):
    r = world.admin.post("/api/studies", json=body)
    assert r.status_code == 422 and message in r.json()["detail"]


def test_study_end_to_end_with_blinded_evaluation(world):
    admin = world.admin
    case_ids = [
        world.upload(png_bytes(200 + i), reference_text=f"reference {i}")["case"]["id"]
        for i in range(4)
    ]
    for c in case_ids:
        world.wait_draft(c)
    readers = [world.user("radiologist", f"reader{i}") for i in range(2)]
    evaluator_id, evaluator = world.user("evaluator", "senior")
    study = admin.ok(
        "post",
        "/api/studies",
        201,
        json={
            "name": "pilot",
            "design": "per_reader",
            "criteria": [
                {"key": "frontal_view", "text": "Frontal (PA/AP) view?", "kind": "inclusion"},
                {
                    "key": "poor_quality",
                    "text": "Non-diagnostic image quality?",
                    "kind": "exclusion",
                },
            ],
        },
    )
    sid = study["id"]
    assert admin.ok("post", f"/api/studies/{sid}/cases", json={"case_ids": case_ids})["added"] == 4
    admin.ok(
        "post",
        f"/api/studies/{sid}/members",
        json={"user_ids": [r[0] for r in readers], "role": "reader"},
    )
    admin.ok(
        "post",
        f"/api/studies/{sid}/members",
        json={"user_ids": [evaluator_id], "role": "evaluator"},
    )
    r = admin.post(f"/api/studies/{sid}/randomise", json={})
    assert r.status_code == 409 and "no eligibility checklist" in r.json()["detail"]
    bad = admin.put(
        f"/api/studies/{sid}/cases/{case_ids[0]}/eligibility",
        json={"answers": {"frontal_view": True}},
    )
    assert bad.status_code == 422 and "missing ['poor_quality']" in bad.json()["detail"]
    for i, c in enumerate(case_ids):
        out = admin.ok(
            "put",
            f"/api/studies/{sid}/cases/{c}/eligibility",
            json={"answers": {"frontal_view": True, "poor_quality": i == 3}},
        )
        assert out["eligibility"] == ("excluded" if i == 3 else "eligible")
    rnd = admin.ok("post", f"/api/studies/{sid}/randomise", json={"seed": 1234})
    assert rnd == {"reads": 6, "seed": 1234}
    assert admin.post(f"/api/studies/{sid}/randomise", json={}).status_code == 409  # once only

    # Each reader reads and signs their three cases.
    for _, rc in readers:
        items = rc.ok("get", "/api/worklist")
        assert len(items) == 3 and {i["study"] for i in items} == {"pilot"}
        assert case_ids[3] not in {i["case_id"] for i in items}
        for item in items:
            rep = rc.ok("post", f"/api/reads/{item['read_id']}/open")
            rc.ok(
                "post",
                f"/api/reads/{item['read_id']}/sign",
                json={
                    "rev": rep["rev"],
                    "findings_text": f"Read by {rc.user['username']}.",
                    "impression_text": "Fine.",
                },
            )
    prog = admin.ok("get", f"/api/studies/{sid}")
    assert sum(prog["reads_by_arm"][a].get("signed", 0) for a in prog["reads_by_arm"]) == 6
    assert prog["cases_by_eligibility"] == {"eligible": 3, "excluded": 1}

    # Blinded evaluation: one pair per case, left/right randomised.
    ev = admin.ok("post", f"/api/studies/{sid}/evaluation", json={"seed": 99})
    assert ev == {"tasks": 3, "seed": 99}
    tasks = evaluator.ok("get", "/api/evaluations")
    assert len(tasks) == 3 and all(t["paired"] for t in tasks)
    forbidden_keys = {
        "arm",
        "reader",
        "reader_id",
        "author",
        "model",
        "model_id",
        "signed_by_id",
        "report_id",
        "read_id",
    }
    for t in tasks:
        form = evaluator.ok("get", f"/api/evaluations/{t['task_id']}")
        dumped = json.dumps(form)
        assert not forbidden_keys & {k for k, _ in _walk(form)}, form
        for leak in ("ai_assisted", "scp", MODEL_ID, "reader0", "reader1"):
            # the report text says who read it in this test; evaluators must only see it inside the text
            if leak.startswith("reader"):
                continue
            assert leak not in dumped
        assert [rep["position"] for rep in form["reports"]] == ["left", "right"]
        assert evaluator.get(form["image_url"]).status_code == 200
        assert form["reference_text"].startswith("reference")
        evaluator.ok(
            "post",
            f"/api/evaluations/{t['task_id']}",
            json={
                "ratings": {
                    "left": {"likert": 4, "radpeer": "1"},
                    "right": {"likert": 2, "radpeer": "2a"},
                },
                "preference": "left",
            },
        )
    again = evaluator.post(
        f"/api/evaluations/{tasks[0]['task_id']}",
        json={
            "ratings": {
                "left": {"likert": 4, "radpeer": "1"},
                "right": {"likert": 2, "radpeer": "2a"},
            },
            "preference": "left",
        },
    )
    assert again.status_code == 409
    # A reader cannot open the evaluator's forms.
    assert readers[0][1].get(f"/api/evaluations/{tasks[0]['task_id']}").status_code == 403

    # Export in the tidy schema.
    reads_csv = admin.ok("get", f"/api/studies/{sid}/export/reads?format=csv")
    rows = list(csv.DictReader(io.StringIO(reads_csv.text)))
    assert list(rows[0]) == [
        "study",
        "case",
        "reader",
        "arm",
        "started_at",
        "signed_at",
        "active_seconds",
        "draft_text",
        "final_text",
    ]
    assert len(rows) == 6 and {r["arm"] for r in rows} == {"ai_assisted", "scp"}
    ai_rows = [r for r in rows if r["arm"] == "ai_assisted"]
    assert all(r["draft_text"].startswith("FINDINGS:") for r in ai_rows)
    assert all(r["draft_text"] == "" for r in rows if r["arm"] == "scp")
    evals = admin.ok("get", f"/api/studies/{sid}/export/evaluations")
    assert len(evals) == 6 and set(evals[0]) == {
        "study",
        "case",
        "evaluator",
        "report_id",
        "arm",
        "likert",
        "radpeer",
        "preference",
    }
    pref = Counter((e["likert"], e["preference"]) for e in evals)
    assert pref == {(4, 1.0): 3, (2, 0.0): 3}
    assert {e["arm"] for e in evals} == {"ai_assisted", "scp"}


def test_crossover_second_period_waits_for_the_washout(world):
    admin = world.admin
    case_id = world.upload(png_bytes(300))["case"]["id"]
    world.wait_draft(case_id)
    rid, rc = world.user("radiologist")
    sid = admin.ok(
        "post",
        "/api/studies",
        201,
        json={"name": "x-over", "design": "crossover", "washout_days": 28},
    )["id"]
    admin.ok("post", f"/api/studies/{sid}/cases", json={"case_ids": [case_id]})
    admin.ok("post", f"/api/studies/{sid}/members", json={"user_ids": [rid], "role": "reader"})
    assert admin.ok("post", f"/api/studies/{sid}/randomise", json={"seed": 7})["reads"] == 2
    items = rc.ok("get", "/api/worklist")
    assert [i["period"] for i in items] == [1]
    from sqlalchemy import select

    from cxrpilot.workstation._orm import Read

    with world.state.sessions() as db:
        later = db.scalar(select(Read).where(Read.study_id == sid, Read.period == 2))
    r = rc.get(f"/api/reads/{later.id}")
    assert r.status_code == 403 and "washout" in r.json()["detail"]
