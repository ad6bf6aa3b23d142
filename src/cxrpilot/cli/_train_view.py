"""``cxrpilot train view``: train the frontal-vs-lateral view model and write weights + card."""

from __future__ import annotations

import argparse
import json

from cxrpilot.cli._inputs import add_data_option, data_folder


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "view",
        help="Train the frontal-vs-lateral view model of the input check (CPU, minutes).",
        description="Train the view model that cxrpilot.imaging.load uses to refuse lateral views "
        "of files whose header states no view: laterals and frontals of covid-chestxray plus "
        "frontals of covid-radiography and pediatric-pneumonia, logistic regression on HOG "
        "features, cross-validated by patient. Writes model.npz, card.json and model_card.md "
        "into --out. The defaults rebuild the shipped model.",
    )
    add_data_option(p)
    p.add_argument("--out", metavar="DIR", help="folder to write the model into (required unless --dry-run)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--C", type=float, default=1.0, dest="c", help="inverse regularisation (default 1)")
    p.add_argument("--frontals-per-source", type=int, default=1000, metavar="N")
    p.add_argument("--held-out-per-source", type=int, default=500, metavar="N")
    p.add_argument("--repeats", type=int, default=3, help="repeats of the 5-fold cross-validation")
    p.add_argument("--max-fpr", type=float, default=0.005,
                   help="largest out-of-fold false-lateral rate the threshold may allow")
    p.add_argument("--no-scan", action="store_true",
                   help="skip counting the whole frontal folders' images called lateral")
    p.add_argument("--dry-run", action="store_true", help="measure, write nothing")
    p.add_argument("--json", action="store_true", help="print the model card as JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from cxrpilot.errors import InvalidInputError
    from cxrpilot.models.view import train_view

    data_folder(args)
    if not args.out and not args.dry_run:
        raise InvalidInputError("no --out folder given; expected --out DIR (or --dry-run)")
    for name in ("frontals_per_source", "held_out_per_source", "repeats"):
        if getattr(args, name) < 1:
            raise InvalidInputError(f"--{name.replace('_', '-')} {getattr(args, name)}: expected at least 1")
    if not 0.0 <= args.max_fpr < 1.0:
        raise InvalidInputError(f"--max-fpr {args.max_fpr}: expected a rate in [0, 1)")
    card = train_view(
        args.data, None if args.dry_run else args.out, seed=args.seed, c=args.c,
        frontals_per_source=args.frontals_per_source, held_out_per_source=args.held_out_per_source,
        repeats=args.repeats, max_fpr=args.max_fpr, scan_folders=not args.no_scan,
        progress=not args.json,
    )
    if args.json:
        print(json.dumps(card, indent=2))
        return 0
    cv = card["cv"]
    print(f"{card['model_id']}: cross-validated ROC AUC {cv['roc_auc_mean']:.4f}, threshold "
          f"{card['threshold']:.3f}, sensitivity {cv['sensitivity_at_threshold']:.3f}, specificity "
          f"{cv['specificity_at_threshold']:.4f}")
    print("dry run: nothing written" if args.dry_run else f"wrote {args.out}")
    return 0
