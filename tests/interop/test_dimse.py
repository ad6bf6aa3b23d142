"""The C-STORE SCP against a real peer: Orthanc pushes to it, pynetdicom's SCU talks to it."""

from __future__ import annotations

import io
import threading

import pydicom
import pytest
from pydicom.data import get_testdata_file

from cxrpilot.errors import (
    DecoderBusyError,
    InvalidImageError,
    InvalidInputError,
    UnsupportedImageError,
)
from cxrpilot.interop import dimse
from cxrpilot.interop.dimse import StoreResult, StoreSCP


class Inbox:
    """A callback that keeps what it receives (thread-safe)."""

    def __init__(self, answer=None):
        self.received: list[dimse.ReceivedInstance] = []
        self.answer = answer
        self.lock = threading.Lock()

    def __call__(self, instance):
        with self.lock:
            self.received.append(instance)
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


def _scu_store(port: int, paths, *, called="CXRPILOT", contexts=None):
    """C-STORE files with pynetdicom's SCU in one association; the status datasets."""
    from pynetdicom import AE

    ae = AE(ae_title="TESTSCU")
    datasets = [pydicom.dcmread(p) for p in paths]
    for uid in contexts or {ds.SOPClassUID for ds in datasets}:
        ae.add_requested_context(uid)
    assoc = ae.associate("127.0.0.1", port, ae_title=called)
    assert assoc.is_established, "association was rejected"
    try:
        return [assoc.send_c_store(ds) for ds in datasets]
    finally:
        assoc.release()


def test_orthanc_pushes_a_radiograph(orthanc, rg1_uncr):
    inbox = Inbox()
    with StoreSCP(inbox, ae_title=orthanc.scp_aet, port=orthanc.scp_port):
        assert orthanc.echo("cxrpilot")
        answer = orthanc.upload(rg1_uncr.read_bytes())
        response = orthanc.store_to("cxrpilot", [answer["ID"]])
        assert response.status_code == 200, response.text
    [got] = inbox.received
    original = pydicom.dcmread(rg1_uncr)
    assert got.sop_instance_uid == original.SOPInstanceUID
    assert got.sop_class_uid == original.SOPClassUID
    assert got.calling_aet == orthanc.aet and got.called_aet == orthanc.scp_aet
    assert got.data[128:132] == b"DICM"
    ds = pydicom.dcmread(io.BytesIO(got.data))
    assert ds.pixel_array.shape == (1955, 1841)
    assert ds.file_meta.TransferSyntaxUID == got.transfer_syntax


def test_ct_is_refused_with_a_status_and_the_association_goes_on(rg1_uncr):
    inbox = Inbox()
    with StoreSCP(inbox, port=0) as scp:
        ct, cr = _scu_store(scp.port, [get_testdata_file("CT_small.dcm"), rg1_uncr])
    assert ct.Status == dimse.REFUSED_SOP_CLASS == 0x0122
    assert ct.ErrorComment.startswith("CT is not accepted")
    assert len(ct.ErrorComment) <= 64
    assert cr.Status == 0x0000
    assert [i.sop_class_uid for i in inbox.received] == ["1.2.840.10008.5.1.4.1.1.1"]


def test_without_refuse_others_a_ct_context_is_not_negotiated():
    from pynetdicom import AE

    with StoreSCP(Inbox(), port=0, refuse_others=False) as scp:
        ae = AE(ae_title="TESTSCU")
        ae.add_requested_context("1.2.840.10008.5.1.4.1.1.2")  # CT Image Storage
        assoc = ae.associate("127.0.0.1", scp.port, ae_title="CXRPILOT")
        try:
            assert not assoc.accepted_contexts
        finally:
            assoc.release()


@pytest.mark.parametrize(
    ("error", "status", "comment"),
    [
        (InvalidImageError("truncated DICOM: <bytes> ends early"), 0xC000, "truncated DICOM"),
        (
            UnsupportedImageError("body part 'LEG', not a chest radiograph: <bytes> has ..."),
            0xC001,
            "body part 'LEG', not a chest radiograph",
        ),
        (DecoderBusyError("all 2 decode slots stayed busy"), 0xA700, "busy, retry later"),
        (RuntimeError("database password is hunter2"), 0x0110, "processing failure (RuntimeError)"),
    ],
)
def test_callback_errors_become_failure_statuses(rg1_uncr, error, status, comment):
    with StoreSCP(Inbox(error), port=0) as scp:
        [answer] = _scu_store(scp.port, [rg1_uncr])
    assert answer.Status == status
    assert answer.ErrorComment.startswith(comment)
    assert "hunter2" not in answer.ErrorComment


def test_callback_result_is_the_answer(rg1_uncr):
    result = StoreResult(dimse.DOES_NOT_MATCH_SOP_CLASS, "data set is DX, the request says CR")
    with StoreSCP(Inbox(result), port=0) as scp:
        [answer] = _scu_store(scp.port, [rg1_uncr])
    assert (answer.Status, answer.ErrorComment) == (0xA900, "data set is DX, the request says CR")


def test_echo_and_called_ae_title():
    from pynetdicom import AE

    with StoreSCP(Inbox(), port=0, ae_title="READER1") as scp:
        ae = AE(ae_title="TESTSCU")
        ae.add_requested_context(dimse.VERIFICATION)
        wrong = ae.associate("127.0.0.1", scp.port, ae_title="SOMEONE")
        assert wrong.is_rejected
        assoc = ae.associate("127.0.0.1", scp.port, ae_title="READER1")
        try:
            assert assoc.send_c_echo().Status == 0
        finally:
            assoc.release()


def test_allowed_calling_aets(rg1_uncr):
    from pynetdicom import AE

    with StoreSCP(Inbox(), port=0, allowed_calling_aets=["ORTHANC"]) as scp:
        ae = AE(ae_title="STRANGER")
        ae.add_requested_context(dimse.VERIFICATION)
        assert ae.associate("127.0.0.1", scp.port, ae_title="CXRPILOT").is_rejected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ae_title": ""}, "AE title '' is not valid"),
        ({"ae_title": "A" * 17}, "expected 1-16 printable ASCII"),
        ({"ae_title": "BAD\\AE"}, "is not valid"),
        ({"port": 70000}, "DICOM port 70000 is not valid"),
        ({"sop_classes": ["CR"]}, "SOP class UID 'CR' is not valid"),
        ({"max_associations": 0}, "max_associations=0"),
    ],
)
def test_bad_configuration(kwargs, message):
    with pytest.raises(InvalidInputError, match=message.replace("\\", "\\\\").replace("(", r"\(")):
        StoreSCP(Inbox(), **kwargs)


def test_port_in_use_is_a_clear_error():
    with StoreSCP(Inbox(), port=0) as first:
        message = rf"cannot listen for DICOM on 127.0.0.1:{first.port}"
        with pytest.raises(InvalidInputError, match=message):
            StoreSCP(Inbox(), port=first.port).start()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("short", "short"),
        ("line\nbreak\\back", "line break back"),
        ("word " * 20, ("word " * 12).strip() + "..."),
    ],
)
def test_error_comment(text, expected):
    assert dimse.error_comment(text) == expected
    assert len(dimse.error_comment(text)) <= 64
