"""DICOM SR delivery latency after signing, to a real Orthanc (p50 / p95).

Usage: python benchmarks/bench_sr_delivery.py [--signatures 30] [--database-url URL]

The real workstation (``create_app`` with its outbox sender, SQLite or PostgreSQL) and a
real Orthanc (Debian's, on loopback, throwaway storage, as the tests start it). Each of
``--signatures`` distinct DX chest radiographs (../shared/data's highdicom DX with its own
study and SOP UIDs) is imported, drafted (a small deterministic drafter: drafting is not
what is timed) and assigned; then, one at a time, the report is signed through the API and
the script waits until the outbox has both SRs (report, AI findings) acknowledged by
Orthanc's C-STORE response. Latency = the server's ``sent_at`` - ``signed_at`` (the
signature's commit queues the SRs and wakes the sender). Sequential on purpose: this is the
latency of one signature, not throughput.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))
from _machine import machine

DX = "highdicom_dx_image.dcm"


def variants(source: Path, n: int) -> list[bytes]:
    import pydicom
    from pydicom.uid import generate_uid

    out = []
    for i in range(n):
        ds = pydicom.dcmread(source)
        ds.StudyInstanceUID = generate_uid()
        ds.SeriesInstanceUID = generate_uid()
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.AccessionNumber = f"B{i:05d}"
        buf = io.BytesIO()
        ds.save_as(buf, enforce_file_format=True)
        out.append(buf.getvalue())
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--signatures", type=int, default=30)
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--data", default=os.environ.get("CXRPILOT_DATA", str(ROOT.parent / "shared" / "data")))
    args = ap.parse_args()

    from fastapi.testclient import TestClient
    from sqlalchemy import select

    from cxrpilot.workstation import Settings, create_app
    from cxrpilot.workstation import admin as ws_admin
    from cxrpilot.workstation.orm import OutboxItem, Report
    from tests.interop._orthanc import Orthanc, find_orthanc
    from tests.workstation.helpers import PASSWORD, Client, image_loader, small_drafter

    binary, plugin, problem = find_orthanc()
    if problem:
        raise SystemExit(problem)
    tmp = Path(tempfile.mkdtemp(prefix="bench-sr-"))
    pacs = Orthanc(folder=tmp / "orthanc", binary=binary, plugin=plugin).start()
    try:
        settings = Settings(
            data_dir=tmp / "ws",
            database_url=args.database_url,
            secret_key="b" * 40,
            environment="development",
            password_time_cost=1,
            password_memory_kib=1024,
            worker_threads=1,
            pacs_store_host="127.0.0.1",
            pacs_store_port=pacs.dicom_port,
            pacs_store_ae_title=pacs.aet,
        )
        app = create_app(settings, draft_producer=small_drafter, loader=image_loader())
        state = app.state.ws
        with TestClient(app) as http, TestClient(app) as http2:
            ws_admin.create_user(settings, "admin", "admin", password=PASSWORD)
            admin, reader = Client(http), Client(http2)
            admin.login("admin")
            rid = admin.ok("post", "/api/users", 201, json={
                "username": "reader", "password": PASSWORD, "role": "radiologist"})["id"]
            reader.login("reader")
            reads = []
            for data in variants(Path(args.data) / "dicom" / DX, args.signatures):
                case = admin.ok("post", "/api/cases",
                                files={"file": ("x.dcm", data, "application/dicom")})["case"]
                reads.append(admin.ok("post", "/api/reads", 201,
                                      json={"case_id": case["id"], "reader_id": rid})["id"])
            while any(admin.ok("get", f"/api/cases/{c}")["draft_status"] != "ready"
                      for c in range(1, len(reads) + 1)):
                time.sleep(0.1)
            latencies, wall = [], []
            for read_id in reads:
                rep = reader.ok("post", f"/api/reads/{read_id}/open")
                t0 = time.perf_counter()
                reader.ok("post", f"/api/reads/{read_id}/sign", json={
                    "rev": rep["rev"], "impression_text": "Benchmark impression."})
                while True:
                    with state.sessions() as db:
                        items = list(db.scalars(select(OutboxItem).where(
                            OutboxItem.report_id == rep["id"])))
                        if len(items) == 2 and all(i.status == "sent" for i in items):
                            signed_at = db.get(Report, rep["id"]).signed_at
                            latencies.append(
                                max((i.sent_at - signed_at).total_seconds() for i in items))
                            break
                    time.sleep(0.005)
                wall.append(time.perf_counter() - t0)
        stored = int(pacs.get("/statistics").json()["CountInstances"])
    finally:
        pacs.kill()
    if stored != 2 * args.signatures:
        raise SystemExit(f"Orthanc holds {stored} instances, expected {2 * args.signatures}")
    db_kind = (args.database_url or "sqlite").split(":", 1)[0]
    print(f"# {machine()}; load {os.getloadavg()[0]:.1f}; {db_kind}; Orthanc C-STORE on loopback; "
          f"{args.signatures} signatures, one at a time; 2 SRs each (report + AI findings)")
    print(f"signed -> both SRs acknowledged (server clock): p50 {percentile(latencies, .5) * 1000:.0f} ms, "
          f"p95 {percentile(latencies, .95) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")
    print(f"sign request sent -> seen sent (client clock, incl. the sign request): "
          f"p50 {percentile(wall, .5) * 1000:.0f} ms, p95 {percentile(wall, .95) * 1000:.0f} ms; "
          f"mean {statistics.fmean(wall) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
