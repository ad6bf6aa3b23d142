"""``cxrpilot train expert``: train the expert classifier and write weights + model card."""

from __future__ import annotations

import argparse
import json
import os


def _at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value
    return parse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "expert",
        help="Train the expert finding classifier on the open data (CPU).",
        description="Train the expert classifier (a transformers ResNet) on covid-radiography, "
        "pediatric-pneumonia and covid-chestxray: de-duplicate, split by patient (seeded), train, "
        "calibrate on the validation split, measure on the test split, export to ONNX, and write "
        "model.onnx, card.json and model_card.md into --out. Needs the 'train' extra.",
    )
    p.add_argument("--data", default=os.environ.get("CXRPILOT_DATA"), metavar="DIR",
                   help="the shared data folder (default: $CXRPILOT_DATA)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write the model into")
    p.add_argument("--seed", type=int, default=0, help="seed of split, initialisation and augmentation")
    p.add_argument("--epochs", type=_at_least(1), default=8)
    p.add_argument("--image-size", type=_at_least(16), default=128, metavar="N", help="network input side in pixels")
    p.add_argument("--arch", default="resnet10", choices=("resnet10", "resnet18", "resnet10t"),
                   help="network size (default resnet10)")
    p.add_argument("--sources", nargs="+", default=None, metavar="NAME",
                   help="data sources to use (default: all three)")
    p.add_argument("--holdout-source", default=None, metavar="NAME",
                   help="train without this source and test on all of it (cross-source check)")
    p.add_argument("--limit-per-class", type=_at_least(1), default=None, metavar="N",
                   help="at most N images per source and class (quick runs)")
    p.add_argument("--samples-per-epoch", type=_at_least(1), default=None, metavar="N",
                   help="training images drawn per epoch (default: the train split's size)")
    p.add_argument("--threads", type=_at_least(1), default=2, help="torch CPU threads (default 2)")
    p.add_argument("--cache-dir", default=None, metavar="DIR", help="cache of decoded images")
    p.add_argument("--json", action="store_true", help="print the model card as JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from cxrpilot.errors import CxrpilotError
    from cxrpilot.models.expert import train_expert

    if not args.data:
        raise CxrpilotError("no data folder given: pass --data DIR or set CXRPILOT_DATA")
    card = train_expert(
        args.data, args.out, seed=args.seed, epochs=args.epochs, image_size=args.image_size,
        arch=args.arch, sources=args.sources, holdout_source=args.holdout_source,
        limit_per_class=args.limit_per_class, cache_dir=args.cache_dir, progress=not args.json,
        samples_per_epoch=args.samples_per_epoch, threads=args.threads,
    )
    if args.json:
        print(json.dumps(card.to_dict(), indent=2))
        return 0
    print(f"wrote {card.model_id} {card.version} to {args.out}")
    for name in card.labels:
        t = card.thresholds[name]
        overall = card.metrics.get("test", {}).get("all", {}).get(name)
        auc = (f"test AUC {overall['auc']:.3f} [{overall['ci_low']:.3f}, {overall['ci_high']:.3f}]"
               if overall else "no test AUC")
        print(f"  {name:<14} {auc}; thresholds low {t.low:.3f} high {t.high:.3f}")
    return 0
