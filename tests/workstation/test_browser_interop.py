"""The interfaces page (/interfaces) in a real browser (Debian chromium, the app's CSP):
an admin sees the outbox's failed items with their destination, attempts and last error and
retries one; creates an API token (shown once, usable at once, gone after a reload), sees
its last use, and revokes it (refused at once). A coordinator is refused the page.
"""

from __future__ import annotations

import pytest

from .helpers import PASSWORD, LiveServer, browser_login, image_loader, small_drafter, wait_for
from .test_interop_admin import closed_port, dx_case, sign_case

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


@pytest.fixture
def failed_site(settings_factory, shared_data):
    """Signed case whose three outbox items failed (the PACS and FHIR server refuse
    connections, one attempt each), then the app on uvicorn with its sender off (so the
    retried item stays pending while the page is looked at); yields ``(server, admin)``."""
    from fastapi.testclient import TestClient

    from cxrpilot.workstation import create_app

    from .conftest import World

    port = closed_port()
    sending = dict(
        pacs_store_host="127.0.0.1", pacs_store_port=port, pacs_store_ae_title="PACS1",
        fhir_url=f"http://127.0.0.1:{port}/fhir", outbox_max_attempts=1,
    )
    app = create_app(settings_factory(**sending), draft_producer=small_drafter,
                     loader=image_loader())
    with TestClient(app):
        world = World(app)
        world.bootstrap_admin()
        sign_case(world, dx_case(shared_data, 7))
        wait_for(lambda: (items := world.admin.ok("get", "/api/outbox"))
                 and all(i["status"] == "failed" for i in items), timeout=60)
    app = create_app(settings_factory(**sending, outbox_sender=False),
                     draft_producer=small_drafter, loader=image_loader())
    server = LiveServer(app)
    admin = server.client()
    admin.login("admin")
    yield server, admin
    server.stop()


def test_outbox_retry_and_token_life_cycle(browser, failed_site, shots):
    server, admin = failed_site
    page = browser(strict_csp=True, viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    browser_login(page, server.url, "admin")
    page.wait_for_url("**/admin")
    page.click("#nav a[href='/interfaces']")
    page.wait_for_url("**/interfaces")
    page.wait_for_selector("body[data-rendered]")

    rows = page.locator("[data-testid=outbox] tbody tr")
    assert rows.count() == 3
    text = page.inner_text("[data-testid=outbox]")
    assert "Report SR" in text and "AI findings SR" in text and "FHIR DiagnosticReport" in text
    for item in admin.ok("get", "/api/outbox"):
        assert item["destination"] in text  # C-STORE PACS1@127.0.0.1:port, FHIR PUT url
    assert page.locator("[data-testid=outbox] tr[data-status=failed]").count() == 3
    assert page.locator("[data-testid=outbox] .error").count() == 3  # each one's last error
    page.screenshot(path=str(shots / "admin-interop-outbox.png"), full_page=True)

    first = rows.first
    item_id = int(first.get_attribute("data-id"))
    first.locator("[data-testid=retry]").click()
    page.locator("[data-testid=interop-message]").filter(has_text=f"Item {item_id} is queued again").wait_for()
    retried = page.locator(f"[data-testid=outbox] tr[data-id='{item_id}']")
    assert retried.get_attribute("data-status") == "pending"
    assert retried.locator("[data-testid=retry]").count() == 0
    assert retried.locator("td").nth(4).inner_text() == "0"
    item = next(i for i in admin.ok("get", "/api/outbox") if i["id"] == item_id)
    assert (item["status"], item["attempts"]) == ("pending", 0)

    # an API token: refused without a scope, created, shown once
    assert page.locator("[data-testid=tokens-empty]").count() == 1
    page.fill("#token-name", "PACS bridge")
    page.click("[data-testid=create-token]")
    page.locator("[data-testid=token-state]").filter(has_text="Not created").wait_for()
    assert "scopes" in page.inner_text("[data-testid=token-state]")
    page.check("#scope-read\\:results")
    page.fill("#token-days", "30")
    page.click("[data-testid=create-token]")
    page.wait_for_selector("[data-testid=new-token-value]")
    token = page.inner_text("[data-testid=new-token-value]")
    assert token.startswith("cxrp_") and "not shown again" in page.inner_text("[data-testid=new-token]")
    row = page.locator("[data-testid=tokens] tbody tr")
    assert row.count() == 1
    cells = row.locator("td").all_inner_texts()
    assert cells[0] == "PACS bridge" and cells[2] == "read:results" and cells[3] == "admin"
    assert cells[5] != "never" and cells[6] == "never" and cells[8] == ""
    assert token not in page.inner_text("[data-testid=tokens]")  # the list has the prefix only
    page.screenshot(path=str(shots / "admin-interop-token.png"), full_page=True)

    machine = server.client()
    bearer = {"Authorization": f"Bearer {token}"}
    assert machine.get("/api/cases", headers=bearer).status_code == 200
    page.reload()
    page.wait_for_selector("[data-testid=tokens] tbody tr")
    assert page.locator("[data-testid=new-token]").count() == 0 and token not in page.content()
    cells = page.locator("[data-testid=tokens] tbody tr").first.locator("td").all_inner_texts()
    assert cells[6].endswith("from 127.0.0.1") and cells[7] == "1"

    page.once("dialog", lambda d: d.accept())
    page.click("[data-testid=revoke]")
    page.locator("[data-testid=interop-message]").filter(has_text='Token "PACS bridge" revoked').wait_for()
    revoked = page.locator("[data-testid=tokens] tbody tr").first
    assert revoked.get_attribute("data-revoked") == "yes"
    assert revoked.locator("td").nth(8).inner_text() != ""
    assert revoked.locator("[data-testid=revoke]").count() == 0
    assert machine.get("/api/cases", headers=bearer).status_code == 401
    # the one refused request is the token without a scope (422, said on the page)
    assert [e for e in errors if "status of 422" not in e] == []
    assert len(errors) == 1

    admin.ok("post", "/api/users", 201,
             json={"username": "coord", "password": PASSWORD, "role": "coordinator"})
    other = browser(strict_csp=True)
    browser_login(other, server.url, "coord")
    other.wait_for_url("**/studies")
    assert other.locator("#nav a[href='/interfaces']").count() == 0
    response = other.goto(f"{server.url}/interfaces")
    assert response.status == 403 and "Interfaces" in other.inner_text("[data-denied] .error")
