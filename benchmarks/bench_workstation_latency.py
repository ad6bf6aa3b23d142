"""Worklist and case-page latency (p50/p95) with 1,000 cases and 20 concurrent readers.

Usage: python benchmarks/bench_workstation_latency.py [--database-url URL] [--seconds 20]
Prints one line per request kind. Real app on uvicorn, real HTTP (httpx) from a second process,
real database. The case page is the read (report, draft, findings); "viewer pixels" is what the
viewer then fetches (its metadata and the 16-bit pixels of a 1024 x 1024 image).
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine

#: Meets the workstation's password policy (12+ characters, not a common password).
PASSWORD = "bench reader pass phrase"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--readers", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=20)
    args = ap.parse_args()
    from cxrpilot.workstation import Settings, admin, create_app
    from cxrpilot.workstation.display import encode_png16
    from cxrpilot.workstation.orm import AiDraft, Case, Image, Read

    tmp = Path(tempfile.mkdtemp())
    settings = Settings(data_dir=tmp, database_url=args.database_url, secret_key="b" * 40, worker_threads=0,
                        environment="development", password_time_cost=1, password_memory_kib=1024)
    app = create_app(settings, loader=lambda b: None)
    st = app.state.ws
    px = np.random.default_rng(0).random((1024, 1024), dtype=np.float32)
    sha, rel = st.store.put(encode_png16(px), "png")
    readers = [admin.create_user(settings, f"r{i}", "radiologist", password=PASSWORD)["id"]
               for i in range(args.readers)]
    with st.sessions() as db:
        for i in range(args.cases):
            img = Image(source_sha256=f"{i:064d}", display_sha256=sha, display_path=rel, format="png",
                        width=1024, height=1024, meta={})
            db.add(img); db.flush()
            case = Case(label=f"CASE-{i:06d}", image_id=img.id, source="bench")
            db.add(case); db.flush()
            db.add(AiDraft(case_id=case.id, model_id="bench", model_version="0", findings=[
                {"name": "Cardiomegaly", "status": "present", "probability": 0.9}], findings_text="x",
                impression_text="y", timings={}))
            db.add(Read(case_id=case.id, reader_id=readers[i % args.readers], arm="ai_assisted" if i % 2 else "scp"))
        db.commit()
    import uvicorn

    port = 18765
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    # The readers run in another process, so the client's Python does not compete with the
    # server's for one interpreter lock (it still shares the machine's cores).
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        lat = pool.apply(load, (url, args.readers, args.seconds))
    server.should_exit = True
    db = settings.resolved_database_url.split(":", 1)[0]
    print(f"# {machine()}; load {os.getloadavg()[0]:.1f}; {db}; {args.cases} cases, "
          f"{args.readers} concurrent readers, {args.seconds:.0f} s")
    for name, v in lat.items():
        v.sort()
        print(f"{name:14s} n={len(v):5d}  p50={1000 * statistics.median(v):7.1f} ms  "
              f"p95={1000 * v[int(0.95 * (len(v) - 1))]:7.1f} ms")


def load(url: str, readers: int, seconds: float) -> dict[str, list[float]]:
    """``readers`` threads, each logged in as its reader, going round its worklist for
    ``seconds``: worklist, then the case page's calls (the read, then the viewer's metadata and
    its full-depth pixels). Returns the latencies in seconds per request kind."""
    lat: dict[str, list[float]] = {"worklist": [], "case page": [], "viewer pixels": []}
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def timed(kind: str, c: httpx.Client, path: str) -> httpx.Response:
        t = time.perf_counter()
        r = c.get(path)
        r.raise_for_status()
        with lock:
            lat[kind].append(time.perf_counter() - t)
        return r

    def reader(i: int) -> None:
        c = httpx.Client(base_url=url, timeout=60)
        c.post("/api/auth/login", json={"username": f"r{i}", "password": PASSWORD}).raise_for_status()
        k = 0
        while time.monotonic() < stop:
            items = timed("worklist", c, "/api/worklist").json()
            item = items[k % len(items)]
            k += 1
            timed("case page", c, f"/api/reads/{item['read_id']}")
            t = time.perf_counter()
            info = c.get(f"/api/cases/{item['case_id']}/viewer").json()
            c.get(info["pixels_url"]).raise_for_status()
            with lock:
                lat["viewer pixels"].append(time.perf_counter() - t)

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(readers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return lat


if __name__ == "__main__":
    main()
