"""``cxrpilot report PATH...``: draft reports for radiographs (files or folders)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace

from cxrpilot.data import RADIOGRAPH_SUFFIXES, find_files
from cxrpilot.errors import CxrpilotError
from cxrpilot.vocabulary import QUANTIZATIONS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report",
        help="Draft reports for chest radiographs (DICOM, PNG, JPEG).",
        description="Draft a report for each radiograph. Every output is a DRAFT that requires "
        "review by a radiologist. Bad inputs are reported per file and the run goes on; the exit "
        "status is 1 when any input failed.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders (searched recursively)")
    p.add_argument("--model", default=None, help="'expert' (default), 'expert:NAME_OR_PATH' or 'janus:PATH'")
    p.add_argument("--expert", nargs="?", const="default", default=None,
                   help="with a Janus model: also run the expert classifier and put its findings in the prompt")
    p.add_argument("--indication", default=None, help="clinical indication: the IMPRESSION answers it first")
    p.add_argument("--quantize", default=None, choices=QUANTIZATIONS,
                   help="Janus-Pro on the CPU: decode with 8- or 4-bit weights in ONNX Runtime "
                        "(int4 fastest; outputs differ slightly)")
    p.add_argument("--json", action="store_true", help="print one JSON object per image")
    p.add_argument("--heatmaps", default=None, metavar="DIR",
                   help="write an overlay PNG of where the model looked for each present or "
                        "uncertain finding into DIR")
    p.add_argument("--no-check", action="store_true",
                   help="skip the checks that the image is a frontal chest radiograph")
    p.set_defaults(handler=run)


def format_draft(draft) -> str:
    """The human-readable draft: banner, model, findings table, text."""
    from cxrpilot.vocabulary import CRITICAL_FINDINGS

    lines = [
        f"== {draft.source} ==",
        draft.banner,
        f"Model: {draft.model_id} {draft.model_version} (research and demonstration; not for clinical use)",
        "",
        f"  {'Finding':<28}{'Status':<15}{'Probability':>11}",
    ]
    for f in draft.findings:
        mark = "*" if f.name in CRITICAL_FINDINGS else " "
        prob = "-" if f.probability is None else f"{f.probability:.2f}"
        lines.append(f"{mark} {f.name:<28}{f.status.label:<15}{prob:>11}")
    lines += ["  (* critical finding)"]
    if not any(f.assessed for f in draft.findings):
        lines.append("  This model assesses none of the findings (none reached its quality bar; "
                     "see its model card): the report text is empty — read the image.")
    if draft.maps:
        lines.append(f"  Maps (where the model looked): {', '.join(m.name for m in draft.maps)}"
                     " — see --heatmaps DIR or --json")
    lines += ["", draft.text, ""]
    timing = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in draft.timings.items())
    lines.append(f"[{timing}]")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from cxrpilot import imaging
    from cxrpilot.pipeline import load_drafter

    inputs = find_files(args.paths, RADIOGRAPH_SUFFIXES)
    if not inputs:
        raise CxrpilotError(f"no image files found in {', '.join(args.paths)}")
    drafter = load_drafter(args.model, expert=args.expert, quantize=args.quantize)

    failed = 0
    progress = tqdm(inputs, unit="image", disable=len(inputs) < 2 or None, file=sys.stderr)
    for path in progress:
        try:
            t0 = time.perf_counter()
            radiograph = imaging.load(path, check=not args.no_check)
            load_s = time.perf_counter() - t0
            draft = drafter.draft(radiograph, indication=args.indication)
        except CxrpilotError as exc:
            failed += 1
            message = str(exc)
            if args.json:
                print(json.dumps({"source": str(path), "error": message}), flush=True)
            where = "" if str(path) in message else f"{path}: "
            progress.write(f"cxrpilot: {where}{message}", file=sys.stderr)
            continue
        draft = replace(draft, timings={"load": load_s, **draft.timings})
        if args.heatmaps:
            from cxrpilot.maps import write_overlays

            for written in write_overlays(draft, radiograph, args.heatmaps):
                progress.write(f"cxrpilot: wrote {written}", file=sys.stderr)
        if args.json:
            print(json.dumps(draft.to_dict()), flush=True)
        else:
            progress.write(format_draft(draft))
    if failed:
        print(f"cxrpilot: {failed} of {len(inputs)} input(s) failed", file=sys.stderr)
    return 1 if failed else 0
