"""``cxrpilot data inspect PATH...``: what a dataset holds (counts, views, labels, duplicates)."""

from __future__ import annotations

import argparse
import json
import sys

from cxrpilot.data import FORMATS

_FORMAT_CHOICES = ("auto", *FORMATS)


def register(subparsers: argparse._SubParsersAction) -> None:
    from ._groups import add_group

    sub = add_group(
        subparsers,
        "data",
        "Inspect datasets (counts, views, labels, duplicates).",
        "Work with chest X-ray datasets read into cxrpilot's Study records.",
        metavar="SUBCOMMAND",
    )
    inspect = sub.add_parser(
        "inspect",
        help="Count studies, patients, images, views and label prevalence; optionally find duplicates.",
        description="Read one or more datasets and print what they hold. With several paths and "
        "--duplicates, images shared between the datasets are found too. The exit status is 1 when "
        "a path could not be read (the others are still inspected).",
    )
    inspect.add_argument(
        "paths", nargs="+", metavar="PATH", help="dataset folder or its CSV/JSONL file"
    )
    inspect.add_argument(
        "--format",
        choices=_FORMAT_CHOICES,
        default="auto",
        help="dataset format (default: detected from the path)",
    )
    inspect.add_argument("--source", default=None, help="source name for folder/manifest datasets")
    inspect.add_argument("--json", action="store_true", help="print one JSON object")
    inspect.add_argument(
        "--duplicates",
        action="store_true",
        help="find duplicate images by perceptual hash (reads every image)",
    )
    inspect.add_argument("--cache-dir", default=None, help="folder to cache image hashes in")
    inspect.add_argument(
        "--jobs", type=int, default=1, help="processes for hashing images (default 1)"
    )
    inspect.set_defaults(handler=run_inspect)


def _format_text(summary: dict) -> str:
    lines = []
    for item in summary["datasets"]:
        lines.append(f"{item['path']}  [{item['format']}]")
    lines += [
        f"studies   {summary['studies']:>8}",
        f"patients  {summary['patients']:>8}",
        f"images    {summary['images']:>8}   ({summary['images_with_file']} with a file)",
        "sources   " + ", ".join(f"{k} {v}" for k, v in summary["sources"].items()),
        "splits    " + ", ".join(f"{k} {v}" for k, v in summary["splits"].items()),
        "views     " + ", ".join(f"{k} {v}" for k, v in summary["views"].items()),
        "sections  "
        + (", ".join(f"{k} {v}" for k, v in summary["sections"].items() if v) or "none"),
        "",
        f"  {'observation':<28}{'pos':>7}{'neg':>7}{'unc':>7}{'blank':>7}{'n/s':>7}{'prev':>8}",
    ]
    for name, c in summary["labels"].items():
        prevalence = "-" if c["prevalence"] is None else f"{c['prevalence']:.3f}"
        lines.append(
            f"  {name:<28}{c['positive']:>7}{c['negative']:>7}{c['uncertain']:>7}"
            f"{c['not_mentioned']:>7}{c['not_stated']:>7}{prevalence:>8}"
        )
    lines.append("  (blank: labelled but not mentioned; n/s: not stated by the dataset)")
    dup = summary.get("duplicates")
    if dup is not None:
        lines += [
            "",
            (f"duplicates: {dup['groups']} groups holding {dup['studies_in_groups']} studies "
            f"({dup['cross_source_groups']} groups across sources); de-duplication drops {dup['dropped']}"),
        ]
        for pair, n in dup["by_sources"].items():
            lines.append(f"  {pair}: {n} groups")
    return "\n".join(lines)


def run_inspect(args: argparse.Namespace) -> int:
    from collections import Counter

    from cxrpilot.data import describe, detect_format, find_duplicates, read_dataset
    from cxrpilot.errors import CxrpilotError

    studies = []
    datasets = []
    failed = 0
    for path in args.paths:
        try:
            fmt = detect_format(path) if args.format == "auto" else args.format
            found = read_dataset(path, format=fmt, source=args.source)
        except CxrpilotError as exc:
            if len(args.paths) == 1:
                raise
            print(f"cxrpilot: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        datasets.append({"path": path, "format": fmt, "studies": len(found)})
        studies.extend(found)
    if not datasets:
        return 1
    summary = {"datasets": datasets, **describe(studies)}
    if args.duplicates:
        groups = find_duplicates(
            studies,
            cache_dir=args.cache_dir,
            n_jobs=max(1, args.jobs),
            progress=not args.json and sys.stderr.isatty(),
        )
        summary["duplicates"] = {
            "groups": len(groups),
            "studies_in_groups": sum(len(g.members) for g in groups),
            "cross_source_groups": sum(g.cross_source for g in groups),
            "dropped": sum(len(g.members) - 1 for g in groups),
            "by_sources": dict(Counter(" + ".join(g.sources) for g in groups).most_common()),
        }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(_format_text(summary))
    return 1 if failed else 0
