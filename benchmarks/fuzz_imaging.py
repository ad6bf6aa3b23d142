"""Long fuzz run of the image loader (issue 15): N seeded mutations of real DICOM, PNG and
JPEG files, every one decoded through :class:`cxrpilot.imaging.IsolatedLoader` exactly as
the workstation decodes uploads (a worker process per file, 30 s and 2 GB budgets, checks
on).

Each case ends as one of: ``loaded``; ``refused`` (a CxrpilotError subclass, counted by
class: the workstation answers 422); ``unexpected`` (any other exception: would have been a
500); ``crash`` (the worker died on a signal: would have killed a server decoding in
process); ``hang`` (past the time budget). Mutations: ``tests/imaging/fuzzing.py`` (bit
flips, truncation, inserted/deleted/duplicated runs; DICOM VRs, lengths, pixel-module
attributes, transfer syntax swaps, corrupt deflate, sequences nested up to 600 deep, PHI in
malformed elements; PNG IHDR/IDAT; JPEG SOF/DQT/DHT). Seeds: the DICOMs of
``../shared/data/dicom``, crops of pydicom's RG1 chest CR re-encoded native / RLE / JPEG
2000 / JPEG-LS, JPEG-LL, two NIH PNGs and two COVID-chestxray JPEGs (384 px).

Memory peak: the largest resident set of a decode worker (``ru_maxrss``, which includes the
~fork server's preloaded modules) and of this process.

    nice -n 10 .venv/bin/python benchmarks/fuzz_imaging.py --cases 5000 --seed 15 [--path exam|load]
"""

from __future__ import annotations

import argparse
import itertools
import resource
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _machine import machine

from cxrpilot import imaging
from cxrpilot.errors import DecodeLimitError, DecoderCrashError
from tests.imaging.fuzzing import cases, child_case, child_exam_case, seed_files


def run_case(loader: imaging.IsolatedLoader, name: str, data: bytes, child=child_case,
             ) -> tuple[str, str, int]:
    try:
        return loader.run(child, (data,), source=name)
    except DecoderCrashError as exc:
        if exc.exception is not None:
            return "unexpected", exc.exception, 0
        return "crash", exc.signal or "exit", 0
    except DecodeLimitError as exc:
        return ("hang", "time", 0) if exc.limit == "time" else ("refused", "memory budget", 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--path", choices=("exam", "load"), default="exam",
                        help="exam: imaging.load_for_exam, the workstation's upload/PACS decode "
                             "(default); load: imaging.load alone")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/fuzz_imaging.md")
    args = parser.parse_args()

    seeds = seed_files(args.data)
    loader = imaging.IsolatedLoader(timeout_s=30, memory_mb=2048, max_concurrent=args.workers)
    kinds: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    by_format: Counter[tuple[str, str]] = Counter()
    failures: list[tuple[str, str, str]] = []
    peak_child_kib = 0
    t0 = time.perf_counter()

    def one(case: tuple[str, str, bytes]) -> tuple[str, str, tuple[str, str, int]]:
        name, fmt, data = case
        return name, fmt, run_case(loader, name, data,
                                   child_exam_case if args.path == "exam" else child_case)

    def results():  # in chunks: Executor.map would read every case into memory first
        stream = cases(seeds, args.cases, args.seed)
        with ThreadPoolExecutor(args.workers) as pool:
            while chunk := list(itertools.islice(stream, 4 * args.workers)):
                yield from pool.map(one, chunk)

    for name, fmt, (kind, detail, rss) in results():
        kinds[kind] += 1
        by_format[(fmt, kind)] += 1
        peak_child_kib = max(peak_child_kib, rss)
        if kind == "refused":
            refused[detail] += 1
        elif kind != "loaded":
            failures.append((name, kind, detail))
    elapsed = time.perf_counter() - t0
    parent_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tried = sum(kinds.values())

    lines = [
        "# Imaging fuzz run (`benchmarks/fuzz_imaging.py`)",
        "",
        (f"Machine: {machine()}. Decode path: `imaging."
         f"{'load_for_exam' if args.path == 'exam' else 'load'}`. "
         f"Seed {args.seed}, {len(seeds)} seed files, {args.workers} "
        f"decode workers (IsolatedLoader, 30 s / 2048 MB budgets, checks on), "
        f"{elapsed:.0f} s wall ({tried / elapsed:.1f} cases/s)."),
        "",
        ("| tried | loaded | refused (4xx) | unexpected (5xx) | crashes | hangs | "
        "worker peak RSS | parent peak RSS |"),
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        (f"| {tried} | {kinds['loaded']} | {kinds['refused']} | {kinds['unexpected']} | "
        f"{kinds['crash']} | {kinds['hang']} | {peak_child_kib / 1024:.0f} MB | "
        f"{parent_kib / 1024:.0f} MB |"),
        "",
        "Refusals by error class:",
        "",
        "| error | cases |",
        "|---|---:|",
        *(f"| {cls} | {n} |" for cls, n in refused.most_common()),
        "",
        "By seed format:",
        "",
        "| format | loaded | refused | unexpected | crash | hang |",
        "|---|---:|---:|---:|---:|---:|",
        *(
            f"| {fmt} | "
            + " | ".join(str(by_format[(fmt, k)]) for k in ("loaded", "refused", "unexpected",
                                                             "crash", "hang"))
            + " |"
            for fmt in ("dicom", "png", "jpeg")
        ),
        "",
    ]
    if failures:
        lines += ["Failures:", "", *(f"- `{n}`: {k} ({d})" for n, k, d in failures[:50]), ""]
    text = "\n".join(lines)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
