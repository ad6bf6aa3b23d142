"""Radiographs ingested per second over DICOM C-STORE, end to end (received -> draft ready).

Usage: python benchmarks/bench_cstore_ingest.py [--images 24] [--associations 1 4]
       [--worker-threads 2] [--decode-concurrency 2] [--database-url URL]

The real workstation (``create_app``: its C-STORE SCP, the contained decode workers with
the chest checks and de-identification, exams, the SQLite or PostgreSQL database, the draft
worker with the default pipeline drafter, loaded once before timing) receives ``--images``
distinct CR chest radiographs (the SIIM 1024 x 1024 JPEG CR of ../shared/data, each with its
own study and SOP instance UIDs) from pynetdicom SCUs over loopback, split over N concurrent
associations. Timed from the first association request to the last draft stored; "received"
is when the last C-STORE response came back. A fresh database per run; one warm-up image
per run (fork server, model) is not timed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine

SIIM = "1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819.dcm"


def make_files(folder: Path, n: int, source: Path) -> list[Path]:
    import pydicom
    from pydicom.uid import generate_uid

    ds = pydicom.dcmread(source)
    files = []
    for i in range(n):
        ds.StudyInstanceUID = generate_uid()
        ds.SeriesInstanceUID = generate_uid()
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.PatientID = f"BENCH-{i % 7}"
        path = folder / f"{i:04d}.dcm"
        ds.save_as(path)
        files.append(path)
    return files


def send(port: int, files: list[Path], errors: list) -> None:
    import pydicom
    from pynetdicom import AE

    ae = AE(ae_title="BENCHSCU")
    meta = pydicom.dcmread(files[0], stop_before_pixels=True)
    ae.add_requested_context(meta.SOPClassUID, meta.file_meta.TransferSyntaxUID)
    assoc = ae.associate("127.0.0.1", port, ae_title="CXRPILOT")
    if not assoc.is_established:
        errors.append("association rejected")
        return
    try:
        for f in files:
            status = assoc.send_c_store(f)  # sent as the file holds it (not re-encoded)
            if getattr(status, "Status", None) != 0:
                errors.append(f"status {getattr(status, 'Status', None)}")
    finally:
        assoc.release()


def run(args, producer, files: list[Path], warmup: Path, associations: int) -> dict:
    from fastapi.testclient import TestClient
    from sqlalchemy import func, select

    from cxrpilot.workstation import Settings, create_app
    from cxrpilot.workstation.orm import AiDraft

    tmp = Path(tempfile.mkdtemp(prefix="bench-cstore-"))
    port = _free_port()
    settings = Settings(
        data_dir=tmp,
        database_url=args.database_url,
        secret_key="b" * 40,
        environment="development",
        worker_threads=args.worker_threads,
        decode_concurrency=args.decode_concurrency,
        dicom_port=port,
        dicom_max_associations=max(8, associations),
    )
    app = create_app(settings, draft_producer=producer)
    sessions = app.state.ws.sessions

    def drafts() -> int:
        with sessions() as db:
            return int(db.scalar(select(func.count()).select_from(AiDraft)))

    with TestClient(app):  # the lifespan: SCP and draft worker
        errors: list = []
        send(port, [warmup], errors)
        while drafts() < 1:
            time.sleep(0.05)
        chunks = [files[i::associations] for i in range(associations)]
        t0 = time.perf_counter()
        threads = [threading.Thread(target=send, args=(port, c, errors)) for c in chunks]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        t_received = time.perf_counter() - t0
        while drafts() < len(files) + 1:
            time.sleep(0.02)
        t_ready = time.perf_counter() - t0
    if errors:
        raise SystemExit(f"C-STORE failures: {errors[:5]}")
    return {"associations": associations, "received_s": t_received, "ready_s": t_ready}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=24)
    ap.add_argument("--associations", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--worker-threads", type=int, default=2)
    ap.add_argument("--decode-concurrency", type=int, default=2)
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--data", default=os.environ.get("CXRPILOT_DATA", "../shared/data"))
    args = ap.parse_args()

    from cxrpilot import imaging, pipeline

    source = Path(args.data) / "dicom" / SIIM
    folder = Path(tempfile.mkdtemp(prefix="bench-cstore-files-"))
    files = make_files(folder, args.images + len(args.associations), source)
    drafter = pipeline.load_drafter(None)

    def producer(radiograph):
        return pipeline.draft(radiograph, model=drafter)

    producer(imaging.load(source))  # load and warm the model once
    warmups, batch = files[: len(args.associations)], files[len(args.associations) :]
    results = [  # the same files each run, each run on a fresh database
        run(args, producer, batch, warmups[i], n) for i, n in enumerate(args.associations)
    ]
    db = (args.database_url or "sqlite").split(":", 1)[0]
    print(
        f"# {machine()}; load {os.getloadavg()[0]:.1f}; {db}; {args.images} CR 1024x1024 JPEG "
        f"per run; draft model {getattr(drafter, 'model_id', type(drafter).__name__)}; "
        f"{args.worker_threads} draft threads, {args.decode_concurrency} decode workers"
    )
    for r in results:
        print(
            f"{r['associations']} association(s): received {args.images / r['received_s']:5.2f}/s "
            f"({r['received_s']:.1f} s), draft ready {args.images / r['ready_s']:5.2f}/s "
            f"({r['ready_s']:.1f} s)"
        )


if __name__ == "__main__":
    main()
