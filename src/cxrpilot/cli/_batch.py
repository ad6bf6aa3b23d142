"""``cxrpilot batch SOURCE --out RESULTS``: draft a whole archive on Ray, resumably."""

from __future__ import annotations

import argparse
import sys

from cxrpilot.pipeline import MODEL_SPEC_HELP


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "batch",
        help="Draft every image of a folder, manifest or DICOMweb PACS on Ray; Parquet results, resumable.",
        description="Draft a report for every image of SOURCE (a folder, searched recursively, a "
        "CSV/JSONL manifest, or a DICOMweb root such as http://pacs:8042/dicom-web: its CR/DX "
        "studies, each instance retrieved by the worker that drafts it) with model workers on Ray Data, and write one Parquet row per image to "
        "the RESULTS folder: source, content sha256, status or error, findings with statuses and "
        "probabilities, draft text, model, timings. A re-run skips the images RESULTS already holds; "
        "files that cannot be drafted are recorded as failed rows and the run goes on. Runs an "
        "embedded local Ray unless --address or RAY_ADDRESS names a cluster. Needs the 'batch' "
        "extra: pip install 'cxrpilot[batch]'. Every output is a DRAFT that requires review by a "
        "radiologist.",
    )
    p.add_argument("source", metavar="SOURCE",
                   help="a folder of images, a CSV/JSONL manifest, or a DICOMweb root URL")
    p.add_argument("--out", required=True, metavar="RESULTS", help="results folder (Parquet part files)")
    p.add_argument("--model", default=None, help=MODEL_SPEC_HELP + " (default: the shipped expert)")
    p.add_argument("--address", default=None,
                   help="Ray cluster address, e.g. HEAD:6379 or auto (default: $RAY_ADDRESS, "
                   "else an embedded local Ray); SOURCE must be at the same path on every node "
                   "(docs/batch.md)")
    p.add_argument("--batch-size", type=int, default=32, metavar="N",
                   help="images per block and part file (default 32)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="model workers, each holding one model (default: one per CPU the Ray "
                   "cluster offers; the embedded local Ray offers one per two cores here)")
    p.add_argument("--indication", default=None, help="clinical indication given to every draft")
    p.add_argument("--retry-failed", action="store_true", help="draft again the images recorded as failed")
    p.add_argument("--no-check", action="store_true",
                   help="skip the checks that the image is a frontal chest radiograph")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--since", default=None, metavar="DATE",
                   help="DICOMweb: only studies dated on or after DATE (YYYY-MM-DD)")
    p.add_argument("--token-env", default=None, metavar="VAR",
                   help="DICOMweb: send 'Authorization: Bearer $VAR' (the token is read from "
                   "the environment variable VAR, never from the command line)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import os

    from cxrpilot.batch import run_batch
    from cxrpilot.errors import InvalidInputError

    headers = None
    if args.token_env:
        token = os.environ.get(args.token_env)
        if not token:
            raise InvalidInputError(f"--token-env {args.token_env}: that environment variable is not set")
        headers = {"Authorization": f"Bearer {token}"}

    summary = run_batch(
        args.source, args.out, model=args.model, address=args.address,
        batch_size=args.batch_size, concurrency=args.workers, progress=not args.no_progress,
        check=not args.no_check, indication=args.indication, retry_failed=args.retry_failed,
        since=args.since, headers=headers,
    )
    done = summary.drafted + summary.failed
    print(f"cxrpilot: {summary.total} image(s): {summary.drafted} drafted, {summary.failed} failed, "
          f"{summary.skipped} already in {summary.out}"
          + (f" ({summary.recovered} after their worker or node was lost)"
             if summary.recovered else "")
          + (f", {summary.missing} left for a re-run" if summary.missing else "")
          + (f"; {summary.images_per_s:.1f} images/s" if done else ""), file=sys.stderr)
    return 1 if summary.failed or summary.missing else 0
