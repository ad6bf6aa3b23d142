"""The Orthanc fixture itself: a real PACS answers, stores and gives back a DICOM, and
survives a kill and a restart with its storage."""

from __future__ import annotations

import io

import pydicom
import pytest


@pytest.fixture
def rg1_bytes(rg1_uncr) -> bytes:
    return rg1_uncr.read_bytes()


def test_store_and_read_back_over_rest(orthanc, rg1_bytes):
    answer = orthanc.upload(rg1_bytes)
    assert answer["Status"] == "Success"
    stored = orthanc.get(f"/instances/{answer['ID']}/file").content
    ds = pydicom.dcmread(io.BytesIO(stored))
    original = pydicom.dcmread(io.BytesIO(rg1_bytes))
    assert ds.SOPInstanceUID == original.SOPInstanceUID
    assert ds.Modality == "CR"
    assert orthanc.upload(rg1_bytes)["Status"] == "AlreadyStored"
    assert orthanc.instances() == [answer["ID"]]


def test_dicomweb_plugin_answers(orthanc, rg1_bytes):
    orthanc.upload(rg1_bytes)
    studies = orthanc.get(
        "/dicom-web/studies", headers={"Accept": "application/dicom+json"}
    ).json()
    study_uid = pydicom.dcmread(io.BytesIO(rg1_bytes)).StudyInstanceUID
    assert [s["0020000D"]["Value"][0] for s in studies] == [study_uid]


def test_kill_and_restart_keeps_storage(orthanc, rg1_bytes):
    answer = orthanc.upload(rg1_bytes)
    port = orthanc.http_port
    orthanc.kill()
    assert not orthanc.running
    with pytest.raises(Exception):
        orthanc.get("/system")
    orthanc.start()
    assert orthanc.http_port == port
    assert orthanc.instances() == [answer["ID"]]
