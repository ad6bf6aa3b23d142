"""Decoding in a contained worker process: a native crash, a runaway or a memory bomb ends
the child, and the caller gets one clear error."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from cxrpilot import imaging
from cxrpilot.errors import (
    DecodeLimitError,
    DecoderBusyError,
    DecoderCrashError,
    InvalidImageError,
    InvalidInputError,
)

from .helpers import decode_unchecked, edited_bytes

RG1 = get_testdata_file("RG1_UNCR.dcm")


@pytest.fixture(scope="module")
def loader():
    return imaging.IsolatedLoader(timeout_s=30, max_concurrent=2)


def test_isolated_load_gives_what_load_gives(loader):
    inline, isolated = imaging.load(RG1), loader(RG1)
    assert np.array_equal(inline.pixels, isolated.pixels)
    assert (isolated.source, isolated.view_position, isolated.sha256) == (
        inline.source,
        inline.view_position,
        inline.sha256,
    )
    assert "PatientName" not in isolated.header and isolated.header.Rows == 1955


def test_load_isolated_function():
    assert imaging.load_isolated(open(RG1, "rb").read(), timeout_s=60).source == "<bytes>"


@pytest.mark.data
def test_a_codec_abort_is_contained(siim, loader):
    """JPEG baseline with Bits Allocated 64 makes GDCM abort the process (SIGABRT): decoded
    without the pixel-module check, in the child, it ends only the child."""
    data = edited_bytes(siim, BitsAllocated=64)
    with pytest.raises(DecoderCrashError, match=r"^the decoder crashed \(SIGABRT\) on crash\.dcm"):
        loader.run(decode_unchecked, (data,), source="crash.dcm")
    # the parent carries on, and the loader refuses the same file before decoding
    with pytest.raises(InvalidImageError, match=r"'Bits Allocated' 64 .* expected 8"):
        loader(data, check=False)
    assert loader(siim).shape == (1024, 1024)


@pytest.mark.parametrize(
    "fn, args, limits, error, message",
    [
        (os.abort, (), {}, DecoderCrashError, r"^the decoder crashed \(SIGABRT\) on x;"),
        (time.sleep, (30,), {"timeout_s": 1}, DecodeLimitError, (r"x took longer than the decode "
                                                                r"budget of 1 s")),
        (bytearray, (8 * 2**30,), {"memory_mb": 256}, DecodeLimitError, (r"x needs more than the "
                                                                        r"memory budget of 256 MB")),
        (int, ("not a number",), {}, DecoderCrashError, (r"^cannot read x: the decoder failed "
                                                        r"\(ValueError\)")),
        (os._exit, (3,), {}, DecoderCrashError, r"decoder stopped \(exit status 3\) on x"),
    ],
    ids=["abort", "timeout", "memory", "unexpected-exception", "exit"],
)
def test_failures_in_the_child_become_errors(fn, args, limits, error, message):
    isolated = imaging.IsolatedLoader(**{"timeout_s": 20, **limits})
    t0 = time.monotonic()
    with pytest.raises(error, match=message):
        isolated.run(fn, args, source="x")
    assert time.monotonic() - t0 < 15


def test_concurrent_decodes_are_bounded():
    isolated = imaging.IsolatedLoader(timeout_s=20, max_concurrent=1, wait_s=0.2)
    started = threading.Event()

    def hold():
        started.set()
        isolated.run(time.sleep, (1.5,), source="slow")

    thread = threading.Thread(target=hold)
    thread.start()
    started.wait()
    time.sleep(0.1)
    with pytest.raises(DecoderBusyError, match=r"all 1 decode slots stayed busy for 0 s"):
        isolated.run(time.sleep, (0,), source="next")
    thread.join()
    assert isolated.run(len, (b"abc",)) == 3  # the slot is free again


@pytest.mark.parametrize(
    "options, message",
    [
        ({"timeout_s": 0}, r"timeout_s=0: expected a positive number"),
        ({"timeout_s": float("nan")}, r"timeout_s=nan"),
        ({"memory_mb": -1}, r"memory_mb=-1: expected a positive integer or None"),
        ({"max_concurrent": 0}, r"max_concurrent=0: expected a positive integer"),
    ],
)
def test_bad_limits(options, message):
    with pytest.raises(InvalidInputError, match=message):
        imaging.IsolatedLoader(**options)


def test_load_for_storage_writes_the_deidentified_file(loader):
    import io

    import pydicom

    radiograph, stored, note = loader.load_for_storage(open(RG1, "rb").read(), check=False)
    assert note == "kept" and radiograph.format == "dicom"
    ds = pydicom.dcmread(io.BytesIO(stored))
    assert ds.PatientIdentityRemoved == "YES" and "PatientName" not in ds
    assert ds.pixel_array.shape == radiograph.shape
