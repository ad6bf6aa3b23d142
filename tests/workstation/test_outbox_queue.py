"""Signing queues the outbound documents in its own transaction (no PACS needed here: the
sender is off): the report SR and the AI-findings SR with fixed UIDs, the FHIR resource;
an amendment's SR names its predecessor; no SR for a PNG case;
back-off grows and is capped."""

from __future__ import annotations

import io

import pydicom
import pytest
from pydicom.uid import generate_uid

from cxrpilot.interop import fhir, sr

from .helpers import png_bytes

QUEUE_ONLY = dict(
    pacs_store_host="127.0.0.1", pacs_store_port=9, outbox_sender=False,
    fhir_url="http://127.0.0.1:9/fhir",
)


@pytest.fixture
def dx_bytes(shared_data) -> bytes:
    path = shared_data / "dicom" / "highdicom_dx_image.dcm"
    if not path.exists():
        pytest.skip(f"{path} is not in the shared data")
    ds = pydicom.dcmread(path)
    ds.StudyInstanceUID = generate_uid(entropy_srcs=["queue-study"])
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(
        entropy_srcs=["queue-sop"]
    )
    ds.AccessionNumber = "Q1"
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def _items(world):
    from sqlalchemy import select

    from cxrpilot.workstation._interop_orm import OutboxItem

    with world.state.sessions() as db:
        return list(db.scalars(select(OutboxItem).order_by(OutboxItem.id)))


def _sign(world, reader, reader_id, data, name="x.dcm", **sign):
    case_id = world.upload(data, name=name)["case"]["id"]
    world.wait_draft(case_id)
    read = world.admin.ok("post", "/api/reads", 201,
                          json={"case_id": case_id, "reader_id": reader_id})
    rep = reader.ok("post", f"/api/reads/{read['id']}/open")
    reader.ok("post", f"/api/reads/{read['id']}/sign",
              json={"rev": rep["rev"], "impression_text": "Moderate cardiomegaly.", **sign})
    return read["id"], case_id


def test_signing_queues_the_sr_pair_and_the_fhir_report(world_factory, dx_bytes):
    world = world_factory(**QUEUE_ONLY)
    reader_id, reader = world.user("radiologist")
    read_id, _ = _sign(world, reader, reader_id, dx_bytes)
    items = {i.kind: i for i in _items(world)}
    assert set(items) == {"report_sr", "ai_sr", "fhir_report"}
    assert {i.status for i in items.values()} == {"pending"}
    report = sr.read_sr(items["report_sr"].payload)
    assert report.sop_instance_uid == items["report_sr"].document_uid
    assert report.impressions == ("Moderate cardiomegaly.",) and report.accession_number == "Q1"
    ai = sr.read_sr(items["ai_sr"].payload)
    assert ai.sop_instance_uid == items["ai_sr"].document_uid and ai.template == "1500"
    dr = fhir.parse_report(items["fhir_report"].payload)
    assert dr.id == items["fhir_report"].document_uid == f"report-{read_id}"
    assert dr.status == "final"

    v2 = reader.ok("post", f"/api/reads/{read_id}/amend", 201, json={"reason": "typo"})
    reader.ok("post", f"/api/reads/{read_id}/sign",
              json={"rev": v2["rev"], "impression_text": "Mild cardiomegaly."})
    after = _items(world)
    assert [i.kind for i in after].count("ai_sr") == 1  # one per draft
    new_sr = [i for i in after if i.kind == "report_sr"][-1]
    assert sr.read_sr(new_sr.payload).predecessor_sop_instance_uids == (
        items["report_sr"].document_uid,
    )
    fhir_items = [i for i in after if i.kind == "fhir_report"]
    # the undelivered version 1 would overwrite version 2 if it arrived later
    assert [i.status for i in fhir_items] == ["superseded", "pending"]
    assert fhir.parse_report(fhir_items[-1].payload).status == "amended"


def test_png_case_queues_fhir_only(world_factory):
    world = world_factory(**QUEUE_ONLY)
    reader_id, reader = world.user("radiologist")
    _sign(world, reader, reader_id, png_bytes(11), name="x.png")
    assert [i.kind for i in _items(world)] == ["fhir_report"]


def test_nothing_configured_nothing_queued(world_factory, dx_bytes):
    world = world_factory()
    reader_id, reader = world.user("radiologist")
    _sign(world, reader, reader_id, dx_bytes)
    assert _items(world) == []
    assert "outbox" not in world.state.extra


@pytest.mark.parametrize(
    "attempts, expected", [(1, 5.0), (2, 10.0), (3, 20.0), (7, 320.0), (8, 600.0), (30, 600.0)]
)
def test_backoff_doubles_and_is_capped(attempts, expected):
    import random

    from cxrpilot.workstation._outbox import backoff_s

    assert backoff_s(attempts, base_s=5, max_s=600) == expected
    jittered = backoff_s(attempts, base_s=5, max_s=600, rng=random.Random(0))
    assert expected <= jittered <= expected * 1.1
