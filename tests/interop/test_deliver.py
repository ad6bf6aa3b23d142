"""interop.deliver against the real Orthanc: C-STORE and STOW-RS acknowledge a stored SR,
a re-send keeps one instance, a PACS that is down is a retryable DeliveryError."""

from __future__ import annotations

from datetime import UTC, datetime

import pydicom
import pytest

from cxrpilot.interop import deliver, sr

from ._orthanc import free_port


@pytest.fixture
def sr_bytes(rg1_uncr) -> tuple[str, bytes]:
    ds = pydicom.dcmread(rg1_uncr, stop_before_pixels=True)
    exam = sr.ExamRef(str(ds.StudyInstanceUID), (sr.SourceImage.from_dataset(ds),))
    rep = sr.ReportContent("Clear lungs.", "Normal.", signer="Jane Smith",
                           signed_at=datetime(2026, 12, 1, tzinfo=UTC))
    uid = pydicom.uid.generate_uid()
    return uid, sr.to_bytes(sr.report_sr(rep, exam, sop_instance_uid=uid))


def _count(orthanc, uid: str) -> int:
    with orthanc.client() as c:
        r = c.post("/tools/find", json={"Level": "Instance", "Query": {"SOPInstanceUID": uid}})
    return len(r.json())


def test_c_store_twice_is_one_instance(orthanc, sr_bytes):
    uid, data = sr_bytes
    for _ in range(2):
        ack = deliver.c_store(data, host="127.0.0.1", port=orthanc.dicom_port,
                              called_ae=orthanc.aet)
        assert ack.detail == "C-STORE 0x0000"
    assert _count(orthanc, uid) == 1
    assert orthanc.get("/statistics").json()["CountInstances"] == 1


def test_stow_rs_twice_is_one_instance(orthanc, sr_bytes):
    uid, data = sr_bytes
    for _ in range(2):
        ack = deliver.stow_rs(data, url=orthanc.dicomweb_url, sop_instance_uid=uid)
        assert ack.detail.startswith("STOW-RS HTTP 200")
    assert _count(orthanc, uid) == 1
    back = sr.read_sr(orthanc.get(f"/instances/{orthanc.instances()[0]}/file").content)
    assert back.impressions == ("Normal.",)


def test_pacs_down_is_a_retryable_error(sr_bytes):
    _, data = sr_bytes
    port = free_port()  # nothing listens there
    with pytest.raises(deliver.DeliveryError, match="association") as info:
        deliver.c_store(data, host="127.0.0.1", port=port, called_ae="NOBODY", timeout_s=2)
    assert info.value.retry
    with pytest.raises(deliver.DeliveryError, match="STOW-RS") as info:
        deliver.stow_rs(data, url=f"http://127.0.0.1:{port}/dicom-web",
                        sop_instance_uid="1.2.3", timeout_s=2)
    assert info.value.retry


def test_stow_rs_refusal_is_not_retried(orthanc):
    """Orthanc refuses a body that is not DICOM: a client error, not worth retrying."""
    with pytest.raises(deliver.DeliveryError) as info:
        deliver.stow_rs(b"not dicom", url=orthanc.dicomweb_url, sop_instance_uid="1.2.3")
    assert not info.value.retry


@pytest.mark.parametrize(
    "code, retry",
    [(0xA700, True), (0xA7FF, True), (0xC000, True), (0x0110, True), (0xA900, False),
     (0x0122, False), (0x0124, False), (0xC100, False)],
)
def test_store_status_retry(code, retry):
    """One rule for a C-STORE status and a STOW-RS Failure Reason."""
    assert deliver.store_status_retry(code) is retry


@pytest.mark.parametrize(
    "code, retry",
    [(500, True), (503, True), (408, True), (429, True), (400, False), (401, False),
     (404, False), (409, False), (415, False)],
)
def test_http_status_retry(code, retry):
    assert deliver.http_status_retry(code) is retry


def test_stow_rs_verify_catches_an_instance_acknowledged_but_dropped(orthanc_factory, sr_bytes):
    """Orthanc 1.10 + DICOMweb 1.7 answers STOW-RS as stored for an instance its Lua filter
    refused; ``verify=True`` searches for it and does not count it delivered."""
    uid, data = sr_bytes
    server = orthanc_factory(
        lua=('function ReceivedInstanceFilter(dicom, origin, info)\n'
             '  return dicom.Modality ~= "SR"\nend\n',)
    )
    ack = deliver.stow_rs(data, url=server.dicomweb_url, sop_instance_uid=uid)
    assert ack.detail == "STOW-RS HTTP 200"  # the PACS's word ...
    assert _count(server, uid) == 0  # ... and what it holds
    with pytest.raises(deliver.DeliveryError, match="QIDO-RS search does not find") as info:
        deliver.stow_rs(data, url=server.dicomweb_url, sop_instance_uid=uid, verify=True)
    assert info.value.retry


def test_stow_rs_verify_finds_a_stored_instance(orthanc, sr_bytes):
    uid, data = sr_bytes
    ack = deliver.stow_rs(data, url=orthanc.dicomweb_url, sop_instance_uid=uid, verify=True)
    assert ack.detail == "STOW-RS HTTP 200, found by QIDO-RS"


def test_stow_rs_needs_its_credentials(orthanc_factory, sr_bytes):
    import base64

    uid, data = sr_bytes
    server = orthanc_factory(users={"u": "p"})
    with pytest.raises(deliver.DeliveryError, match="HTTP 401") as info:
        deliver.stow_rs(data, url=server.dicomweb_url, sop_instance_uid=uid)
    assert not info.value.retry
    basic = {"Authorization": "Basic " + base64.b64encode(b"u:p").decode()}
    ack = deliver.stow_rs(data, url=server.dicomweb_url, sop_instance_uid=uid, headers=basic,
                          verify=True)
    assert ack.detail.endswith("found by QIDO-RS") and _count(server, uid) == 1
