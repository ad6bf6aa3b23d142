"""Images/s of one process (what `cxrpilot report` does) vs `cxrpilot batch` on Ray, 1 and 2 workers.

Usage: python benchmarks/bench_batch.py [--n 2000] [--model SPEC] [--batch-size 32]

Drafts the first N shared JPEGs (NIH ChestX-ray14, then covid-radiography) three ways: the
one-process loop of `cxrpilot report` (imaging.load + drafter.draft, model loaded once), and
`run_batch` with 1 and 2 Ray model workers (embedded local Ray, 500 MB object store), each
into a fresh RESULTS folder. Reports wall images/s (Ray start-up included and excluded), the
peak RSS of each model worker, where the time goes (read+hash, decode, model, write), and
checks that the batch results equal the one-process drafts. Writes
benchmarks/results/batch.md (BENCHMARKS.md summarises it).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

from _machine import machine

REPO = Path(__file__).resolve().parents[1]


def shared_jpegs(n: int) -> list[Path]:
    data = Path(os.environ.get("CXRPILOT_DATA", REPO.parent / "shared" / "data"))
    files: list[Path] = []
    for sub in ("nih-chestxray14", "covid-radiography", "pediatric-pneumonia"):
        files += sorted(p for p in (data / sub).rglob("*") if p.suffix.lower() in (".jpg", ".jpeg"))
        if len(files) >= n:
            break
    if len(files) < n:
        sys.exit(f"only {len(files)} JPEGs under {data}; pass a smaller --n")
    return files[:n]


class WorkerMemory(threading.Thread):
    """Peak RSS (MiB) of each Ray model worker process, sampled every 0.25 s."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak: dict[int, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for pid_dir in Path("/proc").glob("[0-9]*"):
                try:
                    if b"DraftWorker" not in (pid_dir / "cmdline").read_bytes():
                        continue
                    status = (pid_dir / "status").read_text()
                except OSError:
                    continue
                m = re.search(r"VmRSS:\s+(\d+) kB", status)
                if m:
                    pid = int(pid_dir.name)
                    self.peak[pid] = max(self.peak.get(pid, 0.0), int(m.group(1)) / 1024)
            self.stop.wait(0.25)


def one_process(files: list[Path], spec: str | None) -> tuple[float, dict, dict]:
    from cxrpilot import imaging
    from cxrpilot.errors import CxrpilotError
    from cxrpilot.pipeline import load_drafter

    t0 = time.perf_counter()
    drafter = load_drafter(spec)
    load_model = time.perf_counter() - t0
    drafts, stages = {}, {"read": 0.0, "load": 0.0, "draft": 0.0}
    t0 = time.perf_counter()
    for f in files:
        a = time.perf_counter()
        f.read_bytes()  # the batch path reads each file once more to hash it; keep it comparable
        b = time.perf_counter()
        try:  # as `cxrpilot report`: a refused file is reported and the loop goes on
            rg = imaging.load(f)
            c = time.perf_counter()
            drafts[str(f)] = drafter.draft(rg)
        except CxrpilotError as exc:
            c = time.perf_counter()
            drafts[str(f)] = exc
        d = time.perf_counter()
        stages["read"] += b - a
        stages["load"] += c - b
        stages["draft"] += d - c
    wall = time.perf_counter() - t0
    return wall + load_model, {"wall": wall, "model_load": load_model, **stages}, drafts


def batch(files: list[Path], spec: str | None, workers: int, batch_size: int) -> tuple:
    import ray

    from cxrpilot.batch import read_results, run_batch

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for f in files:  # a folder of symlinks: the same bytes, one SOURCE folder
            (src / f"{f.parent.name}-{f.name}").symlink_to(f)
        memory = WorkerMemory()
        memory.start()
        t0 = time.perf_counter()
        ray.init(num_cpus=workers, include_dashboard=False, object_store_memory=500 * 1024**2,
                 log_to_driver=False, logging_level="WARNING")
        startup = time.perf_counter() - t0
        try:
            summary = run_batch(src, Path(tmp) / "out", model=spec, concurrency=workers,
                                batch_size=batch_size, progress=False)
        finally:
            ray.shutdown()
            memory.stop.set()
        table = read_results(Path(tmp) / "out").to_pylist()
        # map symlink names back to the real files
        back = {str(src / f"{f.parent.name}-{f.name}"): str(f) for f in files}
        for row in table:
            link, row["source"] = row["source"], back[row["source"]]
            if row["error"]:  # errors name the file they were given: the symlink
                row["error"] = row["error"].replace(link, row["source"])
        return summary, startup, table, memory.peak


def equal(rows: list[dict], drafts: dict) -> int:
    """Rows whose findings, probabilities and text differ from the one-process draft."""
    bad = 0
    for row in rows:
        want = drafts[row["source"]]
        if isinstance(want, Exception):
            bad += row["status"] != "failed" or row["error"] != str(want)
            continue
        want = want.to_dict()
        got = [(f["name"], f["status"], f["probability"]) for f in row["findings"] or []]
        exp = [(f["name"], f["status"], f["probability"]) for f in want["findings"]]
        bad += (got != exp or row["findings_text"] != want["findings_text"]
                or row["impression_text"] != want["impression_text"])
    return bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--model", default=None, help="model spec (default: the shipped expert)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--note", default="", help="what else ran on the machine (printed beside the load)")
    args = parser.parse_args()
    import hashlib

    files = shared_jpegs(args.n)
    n = len(files)
    unique = len({hashlib.sha256(f.read_bytes()).hexdigest() for f in files})  # RESULTS rows
    load_avg = os.getloadavg()[0]

    total, stages, drafts = one_process(files, args.model)
    model_id = next(d for d in drafts.values() if not isinstance(d, Exception)).model_id
    refused = sum(isinstance(d, Exception) for d in drafts.values())
    lines = [
        (f"machine: {machine()}; load average {load_avg:.2f} at start"
         + (f" ({args.note})" if args.note else "") + "; CPU only"),
        (f"model: {model_id} ({args.model or 'shipped default'}); {n} shared JPEGs "
        f"(NIH ChestX-ray14 first, then covid-radiography), {refused} refused by the checks "
        f"(recorded as failed rows), {n - unique} byte-identical duplicates (one RESULTS row "
        f"per content: {unique} rows); batch size {args.batch_size}"),
        "",
        "| run | wall s | images/s | images/s excl. start-up | peak RSS per worker (MiB) |",
        "|---|---:|---:|---:|---:|",
        (f"| one process (`report` loop) | {total:.1f} | {n / total:.1f} | "
        f"{n / stages['wall']:.1f} (model load {stages['model_load']:.1f} s) | - |"),
    ]
    where = [
        "",
        "Where the time goes (seconds summed over all images; per image in brackets):",
        "",
        "| run | read+hash | decode+checks (`imaging.load`) | model+compose | write Parquet (driver) |",
        "|---|---:|---:|---:|---:|",
        (f"| one process | {stages['read']:.1f} ({stages['read'] / n * 1e3:.1f} ms) | "
        f"{stages['load']:.1f} ({stages['load'] / n * 1e3:.1f} ms) | "
        f"{stages['draft']:.1f} ({stages['draft'] / n * 1e3:.1f} ms) | - |"),
    ]
    for workers in (1, 2):
        summary, startup, rows, peak = batch(files, args.model, workers, args.batch_size)
        mismatched = equal(rows, drafts)
        if summary.drafted + summary.failed != n or len(rows) != unique:
            sys.exit(f"batch with {workers} worker(s) wrote {len(rows)} rows for {n} images: {summary}")
        wall = summary.seconds + startup
        sums = {k: sum(r[k] or 0 for r in rows) for k in ("read_s", "load_s", "draft_s")}
        rss = ", ".join(f"{v:.0f}" for v in sorted(peak.values())) or "?"
        lines.append(
            f"| `batch`, {workers} Ray worker{'s' if workers > 1 else ''} | {wall:.1f} | "
            f"{n / wall:.1f} | {n / summary.seconds:.1f} (Ray start {startup:.1f} s) | {rss} |")
        where.append(
            f"| `batch`, {workers} worker{'s' if workers > 1 else ''} | "
            + " | ".join(f"{sums[k]:.1f} ({sums[k] / n * 1e3:.1f} ms)" for k in sums)
            + f" | {summary.write_s:.2f} ({summary.parts} part files) |")
        lines_note = f"batch, {workers} worker(s): {mismatched} of {n} rows differ from one process"
        print(lines_note, file=sys.stderr)
        if mismatched:
            sys.exit(lines_note)
    lines += where
    lines += ["", (f"Results of `batch` equal the one-process drafts on all {n} images "
              "(findings, statuses, probabilities to the bit, FINDINGS and IMPRESSION text; "
              "the same error text for the refused ones).")]
    text = "\n".join(lines)
    print(text)
    if args.no_write:
        return
    out = REPO / "benchmarks" / "results" / "batch.md"
    out.write_text("# Batch inference on Ray (`benchmarks/bench_batch.py`)\n\n" + text + "\n",
                   encoding="utf-8")
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
