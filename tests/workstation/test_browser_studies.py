"""A coordinator sets up and runs a reader study entirely in the browser (Debian chromium,
Playwright, the app's real CSP): create it with an eligibility checklist, pick cases and
readers, record each case's checklist, randomise with a seed, follow the dashboard, start
the evaluation phase, export. The reads created must be exactly the seed's plan. Other
roles get 403. Screenshots go to $CXRPILOT_SCREENSHOTS (or the test's temporary folder)."""

from __future__ import annotations

import csv
import io

import pytest

from cxrpilot.workstation._services.studies import assignment_plan

from .helpers import PASSWORD, browser_login, sample_images, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

SEED = 20261123
FRONTAL, POOR = "frontal_pa_ap_view", "non_diagnostic_image_quality"


def _people_and_cases(admin, n_cases=4):
    cases = [
        admin.ok(
            "post",
            "/api/cases",
            files={"file": (f"{i}.png", data, "image/png")},
            data={"indication": ["Cough and fever.", "Dyspnoea.", "Trauma.", "Pre-op."][i % 4]},
        )["case"]
        for i, data in enumerate(sample_images(n_cases))
    ]
    users = {}
    for name, role in [
        ("coord", "coordinator"),
        ("dr.adams", "radiologist"),
        ("dr.baker", "radiologist"),
        ("senior", "evaluator"),
    ]:
        users[name] = admin.ok(
            "post", "/api/users", 201, json={"username": name, "password": PASSWORD, "role": role}
        )["id"]
    return cases, users


def _watch_console(page) -> list[str]:
    """Script errors and CSP violations on the page (HTTP statuses are checked by the test;
    the console's "Failed to load resource" lines repeat them)."""
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(m.text)
        if m.type == "error" and not m.text.startswith("Failed to load resource")
        else None,
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


def test_coordinator_sets_up_and_runs_a_study_in_the_browser(browser, site, shots):
    server, admin = site
    cases, users = _people_and_cases(admin)
    page = browser(strict_csp=True, viewport={"width": 1500, "height": 1000})
    problems = _watch_console(page)
    browser_login(page, server.url, "coord")
    page.wait_for_url("**/studies")
    page.wait_for_selector("body[data-ready]")

    # Create: name, design, eligibility criteria.
    page.fill("#study-name", "Pilot 2026")
    page.fill("#study-description", "AI-assisted vs standard reporting of frontal radiographs.")
    page.select_option("#study-design", "crossover")
    assert page.is_visible("#study-washout") and page.input_value("#study-washout") == "28"
    page.select_option("#study-design", "per_case")
    assert not page.is_visible("#study-washout")
    rows = page.locator("[data-testid=criteria] .criteria-row")
    rows.nth(0).locator("input").fill("Frontal (PA/AP) view?")
    page.click("text=Add a criterion")
    rows.nth(1).locator("input").fill("Non-diagnostic image quality?")
    rows.nth(1).locator("select").select_option("exclusion")
    page.screenshot(path=str(shots / "7-study-create.png"), full_page=True)
    page.click("[data-testid=create-study] button[type=submit]")
    page.wait_for_url("**/studies/*")
    sid = int(page.url.rstrip("/").rsplit("/", 1)[1])
    study = admin.ok("get", f"/api/studies/{sid}")["study"]
    assert (study["design"], study["status"]) == ("per_case", "setup")
    assert [(c["key"], c["kind"]) for c in study["criteria"]] == [
        (FRONTAL, "inclusion"),
        (POOR, "exclusion"),
    ]

    # Pick cases: the search narrows the list; then add all four.
    page.wait_for_selector("[data-testid=case-picker] input[type=checkbox]")
    page.fill("[data-testid=case-search]", "trauma")
    wait_for(lambda: page.locator("[data-testid=case-picker] input").count() == 1)
    assert page.get_attribute("[data-testid=case-picker] input", "data-label") == cases[2]["label"]
    page.fill("[data-testid=case-search]", "")
    wait_for(lambda: page.locator("[data-testid=case-picker] input").count() == 4)
    page.click("text=Select all shown")
    page.click("[data-testid=add-cases]")
    page.wait_for_selector("[data-testid=study-cases] tbody tr >> nth=3")
    assert page.locator("[data-testid=eligibility]:text-is('pending')").count() == 4

    # Readers and the evaluator.
    page.check("[data-testid=reader-picker] label:has-text('dr.adams') input")
    page.check("[data-testid=reader-picker] label:has-text('dr.baker') input")
    page.click("[data-testid=add-readers]")
    page.wait_for_selector("text=Readers: dr.adams, dr.baker")
    page.check("[data-testid=evaluator-picker] label:has-text('senior') input")
    page.click("[data-testid=add-evaluators]")
    page.wait_for_selector("text=Evaluators: senior")

    # Randomising with cases still unchecked is refused, with the API's reason.
    page.click("[data-testid=randomise]")
    page.wait_for_selector("text=have no eligibility checklist yet")

    # The checklist of each case: all frontal, the last one non-diagnostic.
    for i, case in enumerate(cases):
        row = page.locator(f"[data-testid=study-cases] tr[data-case-id='{case['id']}']")
        row.locator(f"input[name={FRONTAL}]").check()
        if i == 3:
            row.locator(f"input[name={POOR}]").check()
            row.locator("input[aria-label=Note]").fill("motion blur")
        row.locator("[data-testid=save-eligibility]").click()
        expected = "excluded" if i == 3 else "eligible"
        page.wait_for_selector(
            f"tr[data-case-id='{case['id']}'] [data-testid=eligibility]:text-is('{expected}')"
        )
    page.screenshot(path=str(shots / "8-study-setup.png"), full_page=True)

    # Randomise with a seed: shown and recorded.
    page.fill("[data-testid=randomise-seed]", str(SEED))
    page.click("[data-testid=randomise]")
    page.wait_for_selector("[data-testid=dashboard]")
    assert page.inner_text("[data-testid=seed]") == str(SEED)
    assert page.inner_text("[data-testid=phase]") == "reading"
    assert "0 of 6 reads signed" in page.inner_text("[data-testid=dashboard]")
    by_reader = page.inner_text("[data-testid=by-reader]")
    assert "dr.adams" in by_reader and "dr.baker" in by_reader

    # Each reader's worklist is exactly the seed's plan: cases, arms and reading order.
    progress = admin.ok("get", f"/api/studies/{sid}")
    assert progress["study"]["seed"] == SEED
    eligible = [c["id"] for c in cases[:3]]
    readers = [users["dr.adams"], users["dr.baker"]]
    plan = assignment_plan("per_case", eligible, readers, SEED)
    name = {users["dr.adams"]: "dr.adams", users["dr.baker"]: "dr.baker"}
    clients = {}
    for reader_id in readers:
        rc = server.client()
        rc.login(name[reader_id])
        clients[reader_id] = rc
        worklist = [(i["case_id"], i["arm"]) for i in rc.ok("get", "/api/worklist")]
        assert worklist == [(c, a) for r, c, a, _ in plan if r == reader_id]

    # Readers sign; the dashboard follows; then the evaluation phase starts from the page.
    for c in eligible:
        wait_for(lambda c=c: admin.ok("get", f"/api/cases/{c}")["draft_status"] == "ready", 30)
    for rc in clients.values():
        for item in rc.ok("get", "/api/worklist"):
            rep = rc.ok("post", f"/api/reads/{item['read_id']}/open")
            rc.ok(
                "post",
                f"/api/reads/{item['read_id']}/sign",
                json={"rev": rep["rev"], "impression_text": "Normal.", "confirm_unedited": True},
            )
    page.reload()
    page.wait_for_selector("text=6 of 6 reads signed")
    page.screenshot(path=str(shots / "9-study-dashboard.png"), full_page=True)
    page.fill("[data-testid=start-evaluation-seed]", "77")
    page.click("[data-testid=start-evaluation]")
    page.wait_for_selector("[data-testid=phase]:text-is('evaluation')")
    assert admin.ok("get", f"/api/studies/{sid}")["study"]["evaluation_seed"] == 77
    # per case: every case has one arm, so each signed report is rated alone (6 forms)
    assert "evaluation forms: 0 of 6 submitted" in page.inner_text("[data-testid=dashboard]")

    # Export buttons download the tidy tables.
    with page.expect_download() as dl:
        page.click("[data-testid=export-reads-csv]")
    rows = list(csv.DictReader(io.StringIO(open(dl.value.path(), encoding="utf-8").read())))
    assert len(rows) == 6 and list(rows[0])[:4] == ["study", "case", "reader", "arm"]
    assert dl.value.suggested_filename == "reads.csv"  # the name `cxrpilot eval study DIR` reads
    with page.expect_download() as dl:
        page.click("[data-testid=export-evaluations-json]")
    assert open(dl.value.path(), encoding="utf-8").read().strip() == "[]"  # none rated yet
    with page.expect_download() as dl:
        page.click("[data-testid=export-json]")
    assert dl.value.suggested_filename == f"study-{sid}.json"
    from cxrpilot.evaluation import load_study  # what `cxrpilot eval study FILE.json` reads

    data = load_study(dl.value.path().rename(dl.value.path().with_suffix(".json")))
    assert len(data.reads) == 6

    # The list shows the study with its progress.
    page.click("header nav a:text-is('Studies')")
    page.wait_for_selector("[data-testid=studies] tbody tr")
    row = page.inner_text(f"[data-testid=studies] tr[data-study-id='{sid}']")
    assert "Pilot 2026" in row and "6 / 6 signed" in row and str(SEED) in row
    page.screenshot(path=str(shots / "10-studies.png"), full_page=True)
    assert problems == [], problems  # no CSP violation, no script error


@pytest.mark.parametrize("role", ["radiologist", "evaluator"])
def test_other_roles_get_403_on_the_study_pages(browser, site, role):
    server, admin = site
    admin.ok("post", "/api/users", 201, json={"username": "u1", "password": PASSWORD, "role": role})
    sid = admin.ok("post", "/api/studies", 201, json={"name": "s", "design": "per_case"})["id"]
    page = browser(strict_csp=True)
    browser_login(page, server.url, "u1")
    page.wait_for_url("**/worklist" if role == "radiologist" else "**/evaluations")
    for path in ("/studies", f"/studies/{sid}"):
        response = page.goto(f"{server.url}{path}")
        assert response.status == 403
        assert "Not allowed" in page.inner_text("main")
        assert page.request.get(f"{server.url}/api/studies/{sid}").status == 403
