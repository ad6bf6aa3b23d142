"""The admin page of the interfaces (/interfaces): the outbox (kind, destination, state,
attempts, last error, next try, retry of a failed item) and the API tokens (create: the
token shown once; list: scopes, created, expires, last used, revoked; revoke).

API tests on SQLite and PostgreSQL: each outbox item names its destination under the
server's settings (never a credential); who may open the page. The page itself in a real
browser (Debian chromium, the app's CSP): ``test_browser_interop.py``.
"""

from __future__ import annotations

import io

import pydicom
import pytest
from pydicom.uid import generate_uid

from .helpers import wait_for


def dx_case(shared_data, n: int) -> bytes:
    """The highdicom DX of the shared data as a study of its own (UIDs for the SRs)."""
    path = shared_data / "dicom" / "highdicom_dx_image.dcm"
    if not path.exists():
        pytest.skip(f"{path} is not in the shared data")
    ds = pydicom.dcmread(path)
    ds.StudyInstanceUID = generate_uid(entropy_srcs=["admin-study", str(n)])
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(
        entropy_srcs=["admin-sop", str(n)]
    )
    ds.AccessionNumber = f"ADM{n}"
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def sign_case(world, data: bytes) -> int:
    reader_id, reader = world.user("radiologist")
    case_id = world.upload(data, name="x.dcm")["case"]["id"]
    world.wait_draft(case_id)
    read = world.admin.ok("post", "/api/reads", 201, json={"case_id": case_id, "reader_id": reader_id})
    rep = reader.ok("post", f"/api/reads/{read['id']}/open")
    reader.ok("post", f"/api/reads/{read['id']}/sign", json={"rev": rep["rev"], "confirm_unedited": True})
    return read["id"]


def closed_port() -> int:
    from .helpers import free_port

    return free_port()  # nothing listens there: every send fails at once


def test_outbox_items_name_their_destination_and_a_failed_one_is_retried(world_factory, shared_data):
    port = closed_port()
    world = world_factory(
        pacs_store_host="127.0.0.1", pacs_store_port=port, pacs_store_ae_title="PACS1",
        fhir_url="https://ris:s3cret@fhir.example.org/r4", outbox_max_attempts=1,
        outbox_retry_base_s=3600,
    )
    sign_case(world, dx_case(shared_data, 1))
    items = wait_for(
        lambda: (got := world.admin.ok("get", "/api/outbox"))
        and all(i["status"] == "failed" for i in got) and got,
        timeout=60,
    )
    by_kind = {i["kind"]: i for i in items}
    assert set(by_kind) == {"report_sr", "ai_sr", "fhir_report"}
    assert by_kind["report_sr"]["destination"] == f"C-STORE PACS1@127.0.0.1:{port}"
    assert by_kind["ai_sr"]["destination"] == by_kind["report_sr"]["destination"]
    assert by_kind["fhir_report"]["destination"] == "FHIR PUT https://fhir.example.org/r4"
    assert "s3cret" not in str(items)
    assert all(i["attempts"] == 1 and i["last_error"] for i in items)
    again = world.admin.ok("post", f"/api/outbox/{by_kind['report_sr']['id']}/retry")
    assert again["status"] == "pending" and again["attempts"] == 0
    assert again["destination"] == by_kind["report_sr"]["destination"]
    events = [e for e in world.admin.ok("get", "/api/audit") if e["action"] == "outbox.retry"]
    assert len(events) == 1


def test_stow_destination_and_none_configured(world_factory, shared_data):
    world = world_factory(
        pacs_stow_url="http://bridge:pw@pacs.example.org:8042/dicom-web/studies",
        outbox_sender=False,
    )
    sign_case(world, dx_case(shared_data, 2))
    items = world.admin.ok("get", "/api/outbox")
    assert {i["destination"] for i in items} == {
        "STOW-RS http://pacs.example.org:8042/dicom-web/studies"
    }
    assert "pw@" not in str(items) and {i["status"] for i in items} == {"pending"}


def test_the_page_is_for_admins(world):
    page = world.admin.get("/interfaces")
    assert page.status_code == 200 and "/static/interop.js" in page.text
    assert "Content-Security-Policy" in page.headers
    assert world.admin.get("/static/interop.js").status_code == 200
    _, coordinator = world.user("coordinator")
    denied = coordinator.get("/interfaces")
    assert denied.status_code == 403 and "interop.js" not in denied.text
    assert coordinator.get("/api/outbox").status_code == 403
    _, reader = world.user("radiologist")
    assert reader.get("/interfaces").status_code == 403
    anonymous = world.new_client().get("/interfaces", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login?next=/interfaces"
