"""Images in from a real PACS (Orthanc): pushed to the workstation's C-STORE SCP and pulled
over DICOMweb, they become cases in their exam and are drafted; CT, the dog DX and a
malformed data set are refused with a DICOM failure status and a reason, nothing else
affected; a lateral-only study is kept and not drafted; a duplicate makes no second case.

Every image goes through the app's own loader (contained decode worker, chest checks on,
de-identification), as an upload does.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid
from sqlalchemy import func, select

from cxrpilot.workstation._orm import AuditEvent, Case, Exam, Image
from tests.interop.conftest import orthanc, orthanc_factory, orthanc_install  # noqa: F401

from .helpers import wait_for

SIIM = "1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819.dcm"
DOG = "highdicom_dx_image.dcm"

pytestmark = [pytest.mark.data, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


def read_testdata(name: str) -> bytes:
    return open(get_testdata_file(name), "rb").read()


def lateral_study(shared_data) -> bytes:
    """The SIIM CR chest as the lateral of a study of its own."""
    from tests.imaging.helpers import edited_bytes

    return edited_bytes(
        shared_data / "dicom" / SIIM,
        ViewPosition="LL",
        StudyInstanceUID=generate_uid(),
        SOPInstanceUID=generate_uid(),
    )


@pytest.fixture
def ws(world_factory, orthanc):
    """The workstation with its SCP where Orthanc's peer "cxrpilot" points."""
    return world_factory(loader=None, dicom_port=orthanc.scp_port, dicom_ae_title=orthanc.scp_aet)


def count(w, model) -> int:
    with w.state.sessions() as db:
        return int(db.scalar(select(func.count()).select_from(model)))


def scu_store(port: int, files: list[bytes | str], ae_title="CXRPILOT") -> list:
    """C-STORE each file (bytes: written to a temporary file and sent undecoded) in one
    association with pynetdicom's SCU; the response status data sets."""
    import tempfile

    from pynetdicom import AE

    ae = AE(ae_title="TESTSCU")
    paths = []
    for f in files:
        if isinstance(f, bytes):
            tmp = tempfile.NamedTemporaryFile(suffix=".dcm", delete=False)
            tmp.write(f)
            tmp.close()
            f = tmp.name
        paths.append(f)
    for p in paths:  # one context per SOP class and transfer syntax sent
        ds = pydicom.dcmread(p, stop_before_pixels=True)
        ae.add_requested_context(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID)
    assoc = ae.associate("127.0.0.1", port, ae_title=ae_title)
    assert assoc.is_established
    try:
        return [assoc.send_c_store(p) for p in paths]
    finally:
        assoc.release()


def test_orthanc_pushes_a_radiograph_it_becomes_a_drafted_case(ws, orthanc, rg1_uncr, caplog):
    caplog.set_level(logging.INFO)
    answer = orthanc.upload(rg1_uncr.read_bytes())
    r = orthanc.store_to("cxrpilot", [answer["ID"]])
    assert r.status_code == 200, r.text
    [case] = ws.admin.ok("get", "/api/cases")
    assert case["case"]["source"] == "dimse"
    done = ws.wait_draft(case["case"]["id"], timeout=60)
    assert done["draft_status"] == "ready"
    exam = done["exam"]
    original = pydicom.dcmread(rg1_uncr, stop_before_pixels=True)
    assert exam["study_instance_uid"] == original.StudyInstanceUID
    assert exam["accession_number"] == original.AccessionNumber and exam["source"] == "dimse"
    assert [(i["view"], i["role"]) for i in exam["images"]] == [("frontal", "drafted")]
    with ws.state.sessions() as db:
        image = db.scalar(select(Image))
        stored = pydicom.dcmread(ws.state.store.path(image.dicom_path))
        event = db.scalar(select(AuditEvent).where(AuditEvent.action == "case.import"))
    assert stored.PatientIdentityRemoved == "YES" and "PatientID" not in stored
    assert event.actor == "system" and event.detail["source"] == "dimse"
    # no patient attribute, nor the raw SOP UID, in the log
    for value in (str(original.PatientName), original.PatientID, original.SOPInstanceUID):
        assert value not in caplog.text
    assert f"case {case['case']['id']}" in caplog.text


def test_refusals_have_a_status_and_a_reason_and_nothing_else_changes(ws, orthanc, shared_data):
    from tests.imaging.helpers import edited_bytes

    siim = (shared_data / "dicom" / SIIM).read_bytes()
    # a data set whose pixel module contradicts its pixel data (it crashed a codec once)
    broken = edited_bytes(shared_data / "dicom" / SIIM, BitsAllocated=64)
    ct, dog, broken, good = scu_store(
        orthanc.scp_port,
        [read_testdata("CT_small.dcm"), (shared_data / "dicom" / DOG).read_bytes(), broken, siim],
    )
    assert (ct.Status, ct.ErrorComment) == (
        0x0122, "CT is not accepted: cxrpilot takes CR/DX chest radiographs",
    )
    assert (dog.Status, dog.ErrorComment) == (0xC001, "not a human chest radiograph")
    assert (broken.Status, broken.ErrorComment) == (0xC000, "inconsistent DICOM pixel module")
    assert good.Status == 0x0000  # the same association goes on
    assert count(ws, Case) == 1 and count(ws, Image) == 1 and count(ws, Exam) == 1
    # through Orthanc: its store of the CT fails, and the workstation is unchanged
    ct_id = orthanc.upload(read_testdata("CT_small.dcm"))["ID"]
    assert orthanc.store_to("cxrpilot", [ct_id]).status_code != 200
    assert count(ws, Case) == 1 and count(ws, Exam) == 1
    assert ws.admin.get("/api/health").status_code == 200


def test_a_lateral_only_study_is_kept_not_drafted(ws, orthanc, shared_data):
    orthanc_id = orthanc.upload(lateral_study(shared_data))["ID"]
    assert orthanc.store_to("cxrpilot", [orthanc_id]).status_code == 200
    [case] = ws.admin.ok("get", "/api/cases")
    assert case["draft_status"] == "none"
    assert case["draft_error"].startswith("lateral view: the model reads frontal views")
    detail = ws.admin.ok("get", f"/api/cases/{case['case']['id']}")
    assert [(i["view"], i["role"]) for i in detail["exam"]["images"]] == [("lateral", "shown")]


def test_a_duplicate_store_makes_no_second_case(ws, orthanc, rg1_uncr):
    orthanc_id = orthanc.upload(rg1_uncr.read_bytes())["ID"]
    for _ in range(2):
        assert orthanc.store_to("cxrpilot", [orthanc_id]).status_code == 200
    # the same SOP instance in two encodings, from another sender
    unci, j2ki = scu_store(
        orthanc.scp_port, [read_testdata("RG1_UNCI.dcm"), read_testdata("RG1_J2KI.dcm")]
    )
    assert unci.Status == j2ki.Status == 0x0000
    # RG1_UNCR and RG1_UNCI are two instances of one study: one exam, one case, two images
    assert (count(ws, Exam), count(ws, Case), count(ws, Image)) == (1, 1, 2)


def test_dicomweb_pull_on_demand(world_factory, orthanc, rg1_uncr, shared_data):
    for data in (
        rg1_uncr.read_bytes(),
        read_testdata("RG1_J2KR.dcm"),  # a second instance of the same study (JPEG 2000)
        (shared_data / "dicom" / SIIM).read_bytes(),
        (shared_data / "dicom" / DOG).read_bytes(),
        read_testdata("CT_small.dcm"),  # a CT study: not even asked for
    ):
        orthanc.upload(data)
    ws = world_factory(loader=None, pacs_url=orthanc.dicomweb_url)
    first = ws.admin.ok("post", "/api/pacs/pull", json={})
    assert (first["studies"], first["stored"], first["known"]) == (3, 3, 0)
    assert [r["reason"].split(";")[0] for r in first["refused"]] == [
        "not a human chest radiograph: describes a veterinary study ('CANINE' in Acquisition "
        "Device Processing Description)"
    ]
    assert len(first["refused"][0]["sop"]) == 12  # a digest, not the UID
    assert (count(ws, Exam), count(ws, Case), count(ws, Image)) == (2, 2, 3)
    for case_id in first["cases"]:
        assert ws.wait_draft(case_id, timeout=60)["draft_status"] == "ready"
    again = ws.admin.ok("post", "/api/pacs/pull", json={"since": "2004-01-01"})
    assert (again["studies"], again["stored"], again["known"], again["refused"]) == (2, 0, 2, [])
    assert count(ws, Image) == 3
    pulls = [e for e in ws.admin.ok("get", "/api/audit") if e["action"] == "pacs.pull"]
    assert [(e["detail"]["stored"], e["detail"]["refused"]) for e in pulls] == [(0, 0), (3, 1)]
    _, reader = ws.user("radiologist")
    assert reader.post("/api/pacs/pull", json={}).status_code == 403


def test_pull_from_a_pacs_that_is_down_is_a_502(world_factory, orthanc):
    ws = world_factory(loader=None, pacs_url=orthanc.dicomweb_url)
    orthanc.kill()
    r = ws.admin.post("/api/pacs/pull", json={})
    assert r.status_code == 502 and "cannot be reached" in r.json()["detail"]
    unset = world_factory(loader=None, admin=False)  # the same database, no PACS configured
    assert unset.admin.login("admin").status_code == 200
    r = unset.admin.post("/api/pacs/pull", json={})
    assert r.status_code == 422 and "CXRPILOT_PACS_URL" in r.json()["detail"]


def test_dicomweb_poll(world_factory, orthanc, rg1_uncr):
    orthanc.upload(rg1_uncr.read_bytes())
    ws = world_factory(
        loader=None, pacs_url=orthanc.dicomweb_url, pacs_poll_s=0.5, pacs_poll_days=36500
    )
    case = wait_for(lambda: ws.admin.ok("get", "/api/cases"), timeout=60)[0]
    assert case["case"]["source"] == "dicomweb"
    assert ws.wait_draft(case["case"]["id"], timeout=60)["draft_status"] == "ready"


def test_cli_pacs_pull(orthanc, rg1_uncr, tmp_path, capsys, database_url):
    import json

    from cxrpilot.cli import main

    orthanc.upload(rg1_uncr.read_bytes())
    argv = ["pacs", "pull", "--url", orthanc.dicomweb_url, "--data-dir", str(tmp_path / "d"),
            "--database-url", database_url, "--dev", "--json"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["studies"], report["stored"], len(report["cases"])) == (1, 1, 1)
    assert main(argv[:-1]) == 0
    assert "1 CR/DX studies, 0 images stored, 1 already there, 0 refused" in capsys.readouterr().out
    assert main(["pacs", "pull", "--since", "last week", *argv[2:]]) == 2
    assert "since='last week' is not a date" in capsys.readouterr().err


@pytest.mark.slow
def test_cxrpilot_scp_runs_on_its_own(tmp_path, rg1_uncr, database_url):
    """``cxrpilot scp`` as a process: it answers C-ECHO, stores and drafts a C-STORE, and
    stops cleanly on SIGTERM."""
    import os
    import signal
    import subprocess
    import sys

    from pynetdicom import AE

    from tests.interop._orthanc import free_port

    port = free_port()
    env = {
        **os.environ,
        "CXRPILOT_DATA_DIR": str(tmp_path / "data"),
        "CXRPILOT_DATABASE_URL": database_url,
        "CXRPILOT_ENVIRONMENT": "development",
        "CXRPILOT_DRAFT_PRODUCER": "tests.workstation.helpers:small_drafter",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    log = tmp_path / "scp.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cxrpilot.cli", "scp", "--dicom-port", str(port),
         "--ae-title", "READER1"],
        env=env, stderr=log.open("w"), cwd=str(tmp_path),
    )
    try:
        wait_for(lambda: f"DICOM SCP READER1 on 127.0.0.1:{port}" in log.read_text(), timeout=120)
        ae = AE(ae_title="MODALITY")
        ae.add_requested_context("1.2.840.10008.1.1")
        ae.add_requested_context("1.2.840.10008.5.1.4.1.1.1", "1.2.840.10008.1.2.1")
        assoc = ae.associate("127.0.0.1", port, ae_title="READER1")
        assert assoc.is_established
        try:
            assert assoc.send_c_echo().Status == 0
            assert assoc.send_c_store(pydicom.dcmread(rg1_uncr)).Status == 0
        finally:
            assoc.release()
        from cxrpilot.workstation import _db
        from cxrpilot.workstation._orm import AiDraft

        engine = _db.make_engine(database_url)
        try:
            with _db.make_sessionmaker(engine)() as db:
                wait_for(lambda: db.scalar(select(func.count()).select_from(AiDraft)), timeout=60)
                assert db.scalar(select(Case.source)) == "dimse"
        finally:
            engine.dispose()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, log.read_text()[-3000:]
