"""Outbound against the real Orthanc: a case signed through the API arrives in the PACS as
a DICOM SR (report, and AI findings) that references the source image; an amendment is a
second SR naming the first; the PACS killed mid-send gets every document exactly once; a
re-send after a lost acknowledgement creates no duplicate. The FHIR PUT goes to a small
HTTP receiver here (no FHIR server is installed) and is validated with fhir.resources."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid

from cxrpilot.interop import deliver, fhir, sr
from tests.interop.conftest import orthanc, orthanc_factory, orthanc_install  # noqa: F401

from .helpers import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def small_dx(shared_data) -> Path:
    path = shared_data / "dicom" / "highdicom_dx_image.dcm"
    if not path.exists():
        pytest.skip(f"{path} is not in the shared data")
    return path


def variant(path: Path, i: int) -> bytes:
    """A real radiograph as another exam: new study, series and SOP instance UIDs."""
    ds = pydicom.dcmread(path)
    ds.StudyInstanceUID = generate_uid(entropy_srcs=["study", str(path), str(i)])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=["series", str(path), str(i)])
    ds.SOPInstanceUID = generate_uid(entropy_srcs=["sop", str(path), str(i)])
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.AccessionNumber = f"ACC{i:04d}"
    ds.PatientID = "PAT-OUTBOUND-1"
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def pacs_world(world_factory, server, **overrides):
    values = dict(
        pacs_store_host="127.0.0.1",
        pacs_store_port=server.dicom_port,
        pacs_store_ae_title=server.aet,
        pacs_timeout_s=3.0,
        outbox_retry_base_s=0.2,
        outbox_retry_max_s=1.0,
    )
    values.update(overrides)
    return world_factory(**values)


def sign_case(world, reader, reader_id: int, data: bytes, *, impression="Cardiomegaly.") -> dict:
    case_id = world.upload(data, name="x.dcm")["case"]["id"]
    assert world.wait_draft(case_id, timeout=60)["draft_status"] == "ready"
    read = world.admin.ok(
        "post", "/api/reads", 201, json={"case_id": case_id, "reader_id": reader_id}
    )
    rep = reader.ok("post", f"/api/reads/{read['id']}/open")
    signed = reader.ok(
        "post",
        f"/api/reads/{read['id']}/sign",
        json={"rev": rep["rev"], "findings_text": "The heart is enlarged.",
              "impression_text": impression},
    )
    return {"case_id": case_id, "read_id": read["id"], "report": signed}


def outbox(world, **params) -> list[dict]:
    return world.admin.ok("get", "/api/outbox", params=params)


def wait_all_sent(world, n: int, timeout: float = 60.0) -> list[dict]:
    return wait_for(
        lambda: (items := outbox(world))
        and len(items) == n
        and all(i["status"] == "sent" for i in items)
        and items,
        timeout=timeout,
        interval=0.2,
    )


def find(server, sop_uid: str) -> list[str]:
    with server.client() as c:
        r = c.post("/tools/find", json={"Level": "Instance", "Query": {"SOPInstanceUID": sop_uid}})
    r.raise_for_status()
    return r.json()


def instance_count(server) -> int:
    return int(server.get("/statistics").json()["CountInstances"])


def fetch_sr(server, sop_uid: str) -> sr.SrSummary:
    ids = find(server, sop_uid)
    assert len(ids) == 1, f"{sop_uid}: {ids}"
    return sr.read_sr(server.get(f"/instances/{ids[0]}/file").content)


def test_signed_report_arrives_in_the_pacs_as_sr(world_factory, orthanc, rg1_uncr):
    world = pacs_world(world_factory, orthanc)
    reader_id, reader = world.user("radiologist", "jsmith")
    world.admin.ok("patch", f"/api/users/{reader_id}", json={"display_name": "Jane Smith"})
    data = rg1_uncr.read_bytes()
    source = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    orthanc.upload(data)  # the image came from this PACS
    signed = sign_case(world, reader, reader_id, data)
    items = {i["kind"]: i for i in wait_all_sent(world, 2)}
    assert set(items) == {"report_sr", "ai_sr"}
    assert all(i["ack"] == "C-STORE 0x0000" for i in items.values())

    report = fetch_sr(orthanc, items["report_sr"]["document_uid"])
    assert report.findings == ("The heart is enlarged.",)
    assert report.impressions == ("Cardiomegaly.",)
    assert report.verifying_observers == ("Smith^Jane",)
    assert (report.completion, report.verification, report.preliminary) == (
        "COMPLETE", "VERIFIED", "FINAL")
    assert report.study_instance_uid == source.StudyInstanceUID
    assert report.evidence_sop_instance_uids == (source.SOPInstanceUID,)
    assert report.patient_name == ""

    ai = fetch_sr(orthanc, items["ai_sr"]["document_uid"])
    assert ai.template == "1500" and ai.verification == "UNVERIFIED"
    assert ai.device_observers == ("test-drafter-mean-intensity",)
    # the test drafter states three findings; the eleven it does not assess are not written
    assert {e[0]: e[1] for e in ai.evaluations} | {"Cardiomegaly": "?"} == {
        "Cardiomegaly": "?", "Pleural Effusion": "Absent", "Pneumothorax": "Indeterminate"}
    assert ai.evidence_sop_instance_uids == (source.SOPInstanceUID,)

    # the SR series are in the image's study, over DICOMweb too
    series = orthanc.get(
        f"/dicom-web/studies/{source.StudyInstanceUID}/series",
        headers={"Accept": "application/dicom+json"},
    ).json()
    assert sorted(s["00080060"]["Value"][0] for s in series) == ["CR", "SR", "SR"]
    assert instance_count(orthanc) == 3
    actions = [e["action"] for e in world.admin.ok("get", "/api/audit")]
    assert "report.sign" in actions and signed["report"]["status"] == "final"


def test_amendment_is_a_second_sr_naming_the_first(world_factory, orthanc, small_dx):
    world = pacs_world(world_factory, orthanc)
    reader_id, reader = world.user("radiologist")
    signed = sign_case(world, reader, reader_id, variant(small_dx, 1))
    first = {i["kind"]: i for i in wait_all_sent(world, 2)}["report_sr"]
    read_id = signed["read_id"]
    v2 = reader.ok("post", f"/api/reads/{read_id}/amend", 201, json={"reason": "laterality"})
    reader.ok(
        "post", f"/api/reads/{read_id}/sign",
        json={"rev": v2["rev"], "impression_text": "Mild cardiomegaly."},
    )
    items = wait_all_sent(world, 3)  # no second AI SR: the draft is the same
    second = next(i for i in items if i["kind"] == "report_sr" and i["id"] != first["id"])
    back = fetch_sr(orthanc, second["document_uid"])
    assert back.predecessor_sop_instance_uids == (first["document_uid"],)
    assert back.amendment_reason == "laterality"
    assert back.impressions == ("Mild cardiomegaly.",)
    assert back.verification == "VERIFIED"
    old = fetch_sr(orthanc, first["document_uid"])
    assert old.impressions == ("Cardiomegaly.",)  # the first SR is kept as it was
    assert old.amendment_reason == ""
    assert instance_count(orthanc) == 3


def test_pacs_killed_mid_send_gets_each_document_exactly_once(
    world_factory, orthanc, small_dx
):
    world = pacs_world(world_factory, orthanc)
    reader_id, reader = world.user("radiologist")
    for i in range(3):
        sign_case(world, reader, reader_id, variant(small_dx, 10 + i))
    orthanc.kill()  # whatever was being sent now is cut off
    for i in range(3, 6):
        sign_case(world, reader, reader_id, variant(small_dx, 10 + i))
    wait_for(lambda: any(i["attempts"] >= 2 for i in outbox(world)), timeout=60)
    assert any(i["status"] == "pending" and i["last_error"] for i in outbox(world))
    orthanc.start()
    items = wait_all_sent(world, 12, timeout=120)
    assert any(i["attempts"] > 1 for i in items)  # some did fail and were retried
    uids = [i["document_uid"] for i in items]
    assert len(set(uids)) == 12
    for uid in uids:
        assert len(find(orthanc, uid)) == 1
    assert instance_count(orthanc) == 12  # 6 report SRs + 6 AI SRs, nothing twice


def test_resend_after_a_lost_ack_creates_no_duplicate(world_factory, orthanc, small_dx):
    from cxrpilot.workstation._outbox import OutboxSender

    world = pacs_world(world_factory, orthanc, outbox_sender=False)
    reader_id, reader = world.user("radiologist")
    sign_case(world, reader, reader_id, variant(small_dx, 20))
    items = outbox(world)
    assert [i["status"] for i in items] == ["pending", "pending"]
    from cxrpilot.workstation._interop_orm import OutboxItem

    with world.state.sessions() as db:
        report_item = db.get(OutboxItem, min(i["id"] for i in items))
        # the PACS stores it, but cxrpilot never hears back (the ack was lost)
        deliver.c_store(report_item.payload, host="127.0.0.1", port=orthanc.dicom_port,
                        called_ae=orthanc.aet)
    assert len(find(orthanc, report_item.document_uid)) == 1
    sender = OutboxSender(world.state.sessions, world.state.settings)
    while sender.run_once():
        pass
    assert {i["status"] for i in outbox(world)} == {"sent"}
    assert len(find(orthanc, report_item.document_uid)) == 1
    assert instance_count(orthanc) == 2


def test_png_case_sends_nothing_and_says_why(world_factory, orthanc):
    from .helpers import png_bytes

    world = pacs_world(world_factory, orthanc)
    reader_id, reader = world.user("radiologist")
    sign_case(world, reader, reader_id, png_bytes(5))
    time.sleep(0.5)
    assert outbox(world) == []
    skip = next(e for e in world.admin.ok("get", "/api/audit") if e["action"] == "outbox.skip")
    assert "no DICOM UIDs" in skip["detail"]["reason"]


def test_retry_of_a_failed_item(world_factory, orthanc, small_dx):
    world = pacs_world(world_factory, orthanc, outbox_max_attempts=1)
    reader_id, reader = world.user("radiologist")
    orthanc.kill()
    sign_case(world, reader, reader_id, variant(small_dx, 30))
    failed = wait_for(
        lambda: (items := outbox(world)) and all(i["status"] == "failed" for i in items) and items,
        timeout=60,
    )
    assert "association" in failed[0]["last_error"]
    orthanc.start()
    for item in failed:
        world.admin.ok("post", f"/api/outbox/{item['id']}/retry")
    wait_all_sent(world, 2)
    r = world.admin.post(f"/api/outbox/{failed[0]['id']}/retry")
    assert r.status_code == 409 and "only a failed item" in r.json()["detail"]


class _FhirReceiver(BaseHTTPRequestHandler):
    received: list = []

    def do_PUT(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, self.headers.get("Content-Type"), body))
        created = sum(p == self.path for p, _, _ in type(self).received) == 1
        self.send_response(201 if created else 200)
        self.send_header("Content-Type", "application/fhir+json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):
        pass


@pytest.fixture
def fhir_receiver():
    _FhirReceiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FhirReceiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/fhir", _FhirReceiver.received
    server.shutdown()


def test_fhir_report_is_put_to_the_fhir_server(world_factory, fhir_receiver, small_dx):
    url, received = fhir_receiver
    world = world_factory(fhir_url=url, outbox_retry_base_s=0.2)
    reader_id, reader = world.user("radiologist")
    signed = sign_case(world, reader, reader_id, variant(small_dx, 40))
    wait_all_sent(world, 1)
    read_id = signed["read_id"]
    v2 = reader.ok("post", f"/api/reads/{read_id}/amend", 201, json={"reason": "typo"})
    reader.ok("post", f"/api/reads/{read_id}/sign",
              json={"rev": v2["rev"], "confirm_unedited": True})
    items = wait_all_sent(world, 2)
    assert sorted(i["ack"] for i in items) == ["FHIR HTTP 200", "FHIR HTTP 201"]
    assert [p for p, _, _ in received] == [f"/fhir/DiagnosticReport/report-{read_id}"] * 2
    first, second = (fhir.parse_report(body) for _, _, body in received)
    assert received[0][1] == "application/fhir+json"
    assert (first.status, first.meta.versionId) == ("final", "1")
    assert (second.status, second.meta.versionId) == ("amended", "2")
    assert fhir.amendment_reason(second) == "typo" and fhir.amendment_reason(first) == ""
    assert json.loads(fhir.to_json(second))["imagingStudy"][0]["identifier"]["value"].startswith(
        "urn:oid:"
    )


# -- STOW-RS through the workstation's sender -----------------------------------------------

STOW_USER = ("cxrpilot", "stow-secret")
STOW_BASIC = "Basic " + base64.b64encode(":".join(STOW_USER).encode()).decode()
#: A PACS policy that refuses every SR after STOW-RS acknowledged it (see the test).
REFUSE_SR_LUA = """
function ReceivedInstanceFilter(dicom, origin, info)
  return dicom.Modality ~= "SR"
end
"""


def stow_world(world_factory, server, **overrides):
    values = dict(
        pacs_stow_url=server.dicomweb_url,
        pacs_stow_authorization=STOW_BASIC,
        pacs_timeout_s=3.0,
        outbox_retry_base_s=0.2,
        outbox_retry_max_s=1.0,
    )
    values.update(overrides)
    return world_factory(**values)


def test_signed_report_arrives_by_stow_rs(world_factory, orthanc_factory, rg1_uncr):
    """Sign through the API: both SRs go by STOW-RS (with the configured credentials) and
    read back through Orthanc's WADO-RS with the signed text and the source UIDs."""
    from cxrpilot.interop import DicomWebClient

    server = orthanc_factory(users=dict([STOW_USER]))
    world = stow_world(world_factory, server)
    reader_id, reader = world.user("radiologist")
    data = rg1_uncr.read_bytes()
    source = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    server.upload(data)
    sign_case(world, reader, reader_id, data)
    items = {i["kind"]: i for i in wait_all_sent(world, 2)}
    assert {i["ack"] for i in items.values()} == {"STOW-RS HTTP 200"}
    with DicomWebClient(server.dicomweb_url, auth=STOW_USER) as client:
        found = {sop: series for series, sop in client.search_instances(source.StudyInstanceUID)}
        assert set(found) >= {i["document_uid"] for i in items.values()}
        report_uid = items["report_sr"]["document_uid"]
        back = sr.read_sr(
            client.retrieve_instance(source.StudyInstanceUID, found[report_uid], report_uid)
        )
    assert (back.findings, back.impressions) == (("The heart is enlarged.",), ("Cardiomegaly.",))
    assert back.verification == "VERIFIED"
    assert back.evidence_sop_instance_uids == (source.SOPInstanceUID,)
    assert fetch_sr(server, items["ai_sr"]["document_uid"]).template == "1500"
    assert instance_count(server) == 3


def test_stow_refused_is_failed_never_sent(world_factory, orthanc_factory, small_dx):
    """The PACS answers 401 (no credentials configured): a refusal, not retried, marked
    failed with the PACS's answer; nothing is stored."""
    server = orthanc_factory(users=dict([STOW_USER]))
    world = stow_world(world_factory, server, pacs_stow_authorization=None)
    reader_id, reader = world.user("radiologist")
    sign_case(world, reader, reader_id, variant(small_dx, 50))
    failed = wait_for(
        lambda: (items := outbox(world)) and all(i["status"] == "failed" for i in items) and items,
        timeout=60,
    )
    assert len(failed) == 2
    assert all(i["attempts"] == 1 and "HTTP 401" in i["last_error"] for i in failed)
    assert all(i["sent_at"] is None and i["ack"] is None for i in failed)
    assert instance_count(server) == 0


def test_stow_pacs_down_is_retried_and_delivered_once(world_factory, orthanc_factory, small_dx):
    server = orthanc_factory(users=dict([STOW_USER]))
    world = stow_world(world_factory, server)
    reader_id, reader = world.user("radiologist")
    server.kill()
    for i in range(2):
        sign_case(world, reader, reader_id, variant(small_dx, 60 + i))
    wait_for(
        lambda: (items := outbox(world)) and len(items) == 4
        and all(i["attempts"] >= 2 for i in items) and items,
        timeout=60,
    )
    pending = outbox(world)
    assert {i["status"] for i in pending} <= {"pending", "sending"}
    assert all(i["ack"] is None for i in pending)
    assert any("ConnectError" in (i["last_error"] or "") for i in pending)
    server.start()
    items = wait_all_sent(world, 4, timeout=120)
    for item in items:
        assert len(find(server, item["document_uid"])) == 1
    assert instance_count(server) == 4


def test_stow_acknowledged_but_dropped_is_not_sent_with_verify(
    world_factory, orthanc_factory, small_dx
):
    """Orthanc (1.10, DICOMweb 1.7) lists an SR its filter refused as stored. With
    ``pacs_stow_verify`` the sender searches for it, does not find it, and keeps it
    unsent (retried, then failed) with the reason."""
    server = orthanc_factory(users=dict([STOW_USER]), lua=(REFUSE_SR_LUA,))
    world = stow_world(world_factory, server, pacs_stow_verify=True, outbox_max_attempts=2)
    reader_id, reader = world.user("radiologist")
    sign_case(world, reader, reader_id, variant(small_dx, 70))
    failed = wait_for(
        lambda: (items := outbox(world)) and all(i["status"] == "failed" for i in items) and items,
        timeout=60,
    )
    assert all(i["attempts"] == 2 and "QIDO-RS search does not find" in i["last_error"]
               for i in failed)
    assert instance_count(server) == 0
