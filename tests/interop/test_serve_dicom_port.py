"""``cxrpilot serve --dicom-port``, as a real process: a DICOM port that is taken is one clear
error line and exit status 2 (as ``cxrpilot scp`` does), not uvicorn's traceback; a free one
starts the SCP beside the web app, and SIGTERM stops both and frees the ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from ._orthanc import free_port

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": f"{REPO / 'tests'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "CXRPILOT_DATA_DIR": str(tmp_path / "data"),
        "CXRPILOT_DATABASE_URL": f"sqlite:///{tmp_path / 'ws.sqlite'}",
        "CXRPILOT_SECRET_KEY": "k" * 40,
        "CXRPILOT_DRAFT_PRODUCER": "workstation.helpers:small_drafter",
        "CXRPILOT_ENVIRONMENT": "development",
    }


def serve(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "cxrpilot.cli", "serve", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def finish(proc: subprocess.Popen, timeout: float = 120) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate(timeout=30)
        pytest.fail(f"cxrpilot serve did not exit within {timeout:.0f} s; stderr:\n{err}")
    return proc.returncode, err


def can_bind(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_taken_dicom_port_is_one_error_line(env):
    http_port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        dicom_port = taken.getsockname()[1]
        code, err = finish(serve(env, "--port", str(http_port), "--dicom-port", str(dicom_port)))
    assert code == 2, err
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if "error" in line.lower()]
    assert errors == [
        f"cxrpilot: error: cannot listen for DICOM on 127.0.0.1:{dicom_port}: Address already "
        "in use; choose another port (--dicom-port)"
    ], err
    assert "cxrpilot workstation on" not in err  # it never said it was up
    assert can_bind(http_port)  # and never took the web port


def test_free_dicom_port_serves_and_sigterm_stops_both(env):
    from pynetdicom import AE
    from pynetdicom.sop_class import Verification

    http_port, dicom_port = free_port(), free_port()
    proc = serve(env, "--port", str(http_port), "--dicom-port", str(dicom_port))
    try:
        from tests.workstation.helpers import wait_for

        def up() -> bool:
            if proc.poll() is not None:
                return True
            try:
                return httpx.get(f"http://127.0.0.1:{http_port}/api/health", timeout=1).is_success
            except httpx.HTTPError:
                return False

        wait_for(up, timeout=120, interval=0.3)
        assert proc.poll() is None, finish(proc)[1]
        ae = AE(ae_title="TESTSCU")
        ae.add_requested_context(Verification)
        assoc = ae.associate("127.0.0.1", dicom_port, ae_title="CXRPILOT")
        assert assoc.is_established
        assert assoc.send_c_echo().Status == 0x0000
        assoc.release()
        proc.send_signal(signal.SIGTERM)
        code, err = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
    assert code == 0, err
    assert "Traceback" not in err, err
    assert f"DICOM SCP CXRPILOT on 127.0.0.1:{dicom_port}" in err
    assert can_bind(http_port) and can_bind(dicom_port)
