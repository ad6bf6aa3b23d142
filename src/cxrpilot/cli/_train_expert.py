"""``cxrpilot train expert``: train the expert classifier and write weights + model card."""

from __future__ import annotations

import argparse
import json

from cxrpilot.cli._inputs import add_data_option, data_folder


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


def _box_weight(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 <= value <= 100.0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be between 0 and 100, got {text}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "expert",
        help="Train the expert finding classifier on the open data (CPU).",
        description="Train the expert classifier (a transformers ResNet) on NIH ChestX-ray14, "
        "covid-radiography, pediatric-pneumonia and covid-chestxray with partial labels: "
        "de-duplicate, split by patient (seeded), train, calibrate on the validation split, "
        "measure on the test split (AUC per finding and source, map hit rate against the NIH "
        "boxes), export to ONNX with class activation maps, and write model.onnx, card.json and "
        "model_card.md into --out. The defaults rebuild the shipped model. Needs the 'train' extra.",
    )
    add_data_option(p)
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write the model into")
    p.add_argument("--seed", type=int, default=0, help="seed of split, initialisation and augmentation")
    p.add_argument("--epochs", type=_at_least(1), default=8)
    p.add_argument("--image-size", type=_at_least(16), default=224, metavar="N",
                   help="network input side in pixels (default 224)")
    p.add_argument("--arch", default="resnet10",
                   choices=("resnet10", "resnet18", "resnet10t", "resnet14w"),
                   help="network size (default resnet10)")
    p.add_argument("--sources", nargs="+", default=None, metavar="NAME",
                   help="data sources to read and split (default: all four)")
    p.add_argument("--train-sources", nargs="+", default=None, metavar="NAME",
                   help="train only on these of the sources (same split and test sets)")
    p.add_argument("--holdout-source", default=None, metavar="NAME",
                   help="train without this source and test on all of it (cross-source check)")
    p.add_argument("--limit-per-class", type=_at_least(1), default=None, metavar="N",
                   help="at most N images per source and class (quick runs)")
    p.add_argument("--samples-per-epoch", type=_at_least(1), default=3000, metavar="N",
                   help="training images drawn per epoch (default 3000)")
    p.add_argument("--init-from", default=None, metavar="DIR",
                   help="fine-tune: start from the network of this model folder (same --arch)")
    p.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (default 3e-3)")
    p.add_argument("--box-weight", type=_box_weight, default=0.0, metavar="W",
                   help="weight of the box loss that pulls each boxed finding's map into the "
                        "radiologists' boxes (NIH; default 0: none)")
    p.add_argument("--threads", type=_at_least(1), default=2, help="torch CPU threads (default 2)")
    p.add_argument("--cache-dir", default=None, metavar="DIR", help="cache of decoded images")
    p.add_argument("--json", action="store_true", help="print the model card as JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from cxrpilot.models.expert import train_expert

    card = train_expert(
        data_folder(args), args.out, seed=args.seed, epochs=args.epochs, image_size=args.image_size,
        arch=args.arch, sources=args.sources, holdout_source=args.holdout_source,
        limit_per_class=args.limit_per_class, cache_dir=args.cache_dir, progress=not args.json,
        samples_per_epoch=args.samples_per_epoch, threads=args.threads,
        train_sources=args.train_sources, init_from=args.init_from, lr=args.lr,
        box_weight=args.box_weight,
    )
    if args.json:
        print(json.dumps(card.to_dict(), indent=2))
        return 0
    print(f"wrote {card.model_id} {card.version} to {args.out}")
    test = card.metrics.get("test", {})
    group = test.get("nih-chestxray14") or test.get("all", {})
    for name in card.labels:
        t = card.thresholds[name]
        m = group.get(name)
        auc = (f"test AUC {m['auc']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]"
               if m else "no test AUC")
        state = "assessed" if name in card.assessed else "not assessed"
        print(f"  {name:<17} {auc}; {state}; thresholds low {t.low:.3f} high {t.high:.3f}")
    return 0
