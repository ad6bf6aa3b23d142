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
