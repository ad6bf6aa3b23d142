"""Autosave latency while a login flood runs (issue 15: on SQLite a flood used to stall
autosaves, p50 11 ms -> 1.9 s, because each login held the write lock while its password
hash was checked).

Usage: python benchmarks/bench_login_flood.py [--database-url URL] [--seconds 15] [--flood 8]

The real app on uvicorn with the production argon2id cost (t=3, 64 MiB), one reader
autosaving in a closed loop from a second process, first alone, then with ``--flood``
clients sending wrong passwords as fast as they can (the throttles are raised so that every
attempt is checked). Prints p50 / p95 / max autosave latency of both phases.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine

PASSWORD = "bench reader pass phrase"


def load(url: str, read_id: int, seconds: float, flood: int) -> dict[str, list[float]]:
    """In a second process: autosave alone, then under a login flood; latencies in s."""
    reader = httpx.Client(base_url=url, timeout=120)
    r = reader.post("/api/auth/login", json={"username": "rad1", "password": PASSWORD})
    r.raise_for_status()
    headers = {"X-CSRF-Token": r.json()["csrf_token"]}
    rev = reader.post(f"/api/reads/{read_id}/open", headers=headers).json()["rev"]
    out: dict[str, list[float]] = {}
    for phase, n_flood in (("alone", 0), (f"{flood} login clients", flood)):
        stop = threading.Event()
        tried = [0]

        def guess(i: int, stop: threading.Event = stop, tried: list[int] = tried) -> None:
            c = httpx.Client(base_url=url, timeout=120)
            k = 0
            while not stop.is_set():
                k += 1
                c.post("/api/auth/login", json={"username": f"nobody{i}-{k}", "password": "x" * 20})
                tried[0] += 1

        threads = [threading.Thread(target=guess, args=(i,)) for i in range(n_flood)]
        for t in threads:
            t.start()
        lat: list[float] = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            t0 = time.perf_counter()
            r = reader.put(
                f"/api/reads/{read_id}/report",
                json={"rev": rev, "findings_text": f"edit {len(lat)}", "impression_text": "ok"},
                headers=headers,
            )
            lat.append(time.perf_counter() - t0)
            r.raise_for_status()
            rev = r.json()["rev"]
            time.sleep(0.05)  # a typist's pace, not a closed loop
        stop.set()
        for t in threads:
            t.join()
        out[phase] = lat
        out[phase + " logins"] = [float(tried[0])]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--flood", type=int, default=8)
    args = ap.parse_args()
    from cxrpilot.workstation import Settings, admin, create_app
    from cxrpilot.workstation.orm import Case, Image, Read

    tmp = Path(tempfile.mkdtemp())
    limits = {  # every attempt is checked (older versions lack the last two throttles)
        k: 10**6
        for k in ("login_max_failures", "login_user_max_failures", "login_ip_max_failures")
        if k in Settings.model_fields
    }
    settings = Settings(
        data_dir=tmp, database_url=args.database_url, secret_key="bench-" + "k" * 34,
        worker_threads=0, **limits,
    )
    app = create_app(settings, loader=lambda b: None)
    st = app.state.ws
    uid = admin.create_user(settings, "rad1", "radiologist", password=PASSWORD)["id"]
    with st.sessions() as db:
        img = Image(source_sha256="0" * 64, display_sha256="0" * 64, display_path="x.png",
                    format="png", width=1, height=1, meta={})
        db.add(img)
        db.flush()
        case = Case(label="CASE-1", image_id=img.id, source="bench")
        db.add(case)
        db.flush()
        read = Read(case_id=case.id, reader_id=uid, arm="scp")
        db.add(read)
        db.commit()
        read_id = read.id
    import uvicorn

    port = 18766
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        lat = pool.apply(load, (f"http://127.0.0.1:{port}", read_id, args.seconds, args.flood))
    server.should_exit = True
    db = settings.resolved_database_url.split(":", 1)[0]
    print(f"# {machine()}; load {os.getloadavg()[0]:.1f}; {db}; argon2id t=3 m=64 MiB; "
          f"{args.seconds:.0f} s per phase")
    for name, v in lat.items():
        if name.endswith(" logins"):
            continue
        v = sorted(v)
        logins = int(lat[name + " logins"][0])
        print(f"autosave, {name:18s} n={len(v):4d}  p50={1000 * statistics.median(v):7.1f} ms  "
              f"p95={1000 * v[int(0.95 * (len(v) - 1))]:7.1f} ms  max={1000 * v[-1]:7.1f} ms  "
              f"(logins checked: {logins})")


if __name__ == "__main__":
    main()
