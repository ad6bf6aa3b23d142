"""``cxrpilot train expert``: train the expert classifier and write weights + model card."""

from __future__ import annotations

import argparse
import json
from typing import Any

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


def _number(ok, must: str, *, noun: str = "a number"):
    """An argparse type: a float for which ``ok`` holds (never for nan), else ``must``."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {noun}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{must}, got {text}")
        return value
    return parse


_box_weight = _number(lambda v: 0.0 <= v <= 100.0, "must be between 0 and 100")
_fraction = _number(lambda v: 0.0 < v <= 1.0, "must be in (0, 1]")
_seconds = _number(lambda v: 0.0 < v < float("inf"), "must be a positive number of seconds",
                   noun="a number of seconds")


#: The --arch choices (the names of ``cxrpilot.models.expert.network.ARCHITECTURES``, listed
#: here so that ``cxrpilot --help`` does not import torch).
ARCH_CHOICES = ("resnet10", "resnet18", "resnet10t", "resnet14w", "resnet18w64", "resnet34w64",
                "resnet50w64")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "expert",
        help="Train the expert finding classifier on the open data (CPU or GPU).",
        description="Train the expert classifier (a transformers ResNet) on NIH ChestX-ray14, "
        "covid-radiography, pediatric-pneumonia and covid-chestxray with partial labels: "
        "de-duplicate, split by patient (seeded), train, calibrate on the validation split, "
        "measure on the test split (AUC per finding and source, map hit rate against the NIH "
        "boxes), export to ONNX with class activation maps, and write model.onnx, card.json and "
        "model_card.md into --out. The defaults rebuild the shipped model. With --pretrain ssl, "
        "run the self-supervised stage instead (SimSiam on the training images of all sources, "
        "labels unused) and write a folder that a later run takes as --init-from. Needs the "
        "'train' extra.",
    )
    add_data_option(p)
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write the model into")
    p.add_argument("--seed", type=int, default=0, help="seed of split, initialisation and augmentation")
    p.add_argument("--epochs", type=_at_least(1), default=8)
    p.add_argument("--image-size", type=_at_least(16), default=224, metavar="N",
                   help="network input side in pixels (default 224)")
    p.add_argument("--arch", default="resnet10", choices=ARCH_CHOICES,
                   help="network size (default resnet10; the *w64 ones have the standard "
                        "ResNet widths, for a GPU)")
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
    p.add_argument("--lr", type=float, default=None,
                   help="peak learning rate (default 3e-3; with --pretrain ssl, "
                        "0.05 x batch size / 256)")
    p.add_argument("--box-weight", type=_box_weight, default=0.0, metavar="W",
                   help="weight of the box loss that pulls each boxed finding's map into the "
                        "radiologists' boxes (NIH; default 0: none)")
    p.add_argument("--train-fraction", type=_fraction, default=1.0, metavar="F",
                   help="train on a seeded share F of the training patients (whole patients; "
                        "validation and test unchanged), for learning curves (default 1)")
    p.add_argument("--threads", type=_at_least(1), default=2, help="torch CPU threads (default 2)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                   help="where to train (default cpu; cuda: images on the GPU, bf16 autocast)")
    p.add_argument("--batch-size", type=_at_least(2), default=64, metavar="N",
                   help="images per step (default 64)")
    p.add_argument("--max-seconds", type=_seconds, default=None, metavar="S",
                   help="wall-clock budget of the training loop: stop at the first step past it")
    p.add_argument("--pack", default=None, metavar="FILE",
                   help="read the table and images from this training pack instead of --data "
                        "(see scripts/device/train_expert_gpu.py pack)")
    p.add_argument("--pretrain", default=None, choices=("ssl",),
                   help="ssl: run the self-supervised pretraining stage only (its output is an "
                        "--init-from folder, not a model)")
    p.add_argument("--cache-dir", default=None, metavar="DIR", help="cache of decoded images")
    p.add_argument("--json", action="store_true", help="print the model card as JSON")
    p.set_defaults(handler=run)


def _check_device(device: str) -> None:
    """Refuse ``--device cuda`` in one line where torch sees no GPU (before any data is read)."""
    if device == "cuda":
        from cxrpilot.errors import InvalidInputError

        try:
            import torch
        except ImportError:
            raise InvalidInputError("--device cuda needs torch (the 'train' extra)") from None
        if not torch.cuda.is_available():
            raise InvalidInputError(f"--device cuda: torch {torch.__version__} sees no CUDA GPU "
                                    "on this machine; use --device cpu")


def _run_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments that :func:`train_expert` and :func:`pretrain_expert` share, from
    the command line."""
    return {"seed": args.seed, "epochs": args.epochs, "image_size": args.image_size,
            "arch": args.arch, "sources": args.sources, "cache_dir": args.cache_dir,
            "progress": not args.json, "samples_per_epoch": args.samples_per_epoch,
            "threads": args.threads, "batch_size": args.batch_size, "device": args.device,
            "max_seconds": args.max_seconds, "pack": args.pack}


def _data_dir(args: argparse.Namespace) -> str | None:
    """The data folder (None when a training pack is given)."""
    return None if args.pack else data_folder(args)


def _pretrain(args: argparse.Namespace) -> int:
    from cxrpilot.errors import InvalidInputError
    from cxrpilot.models.expert import pretrain_expert

    if args.init_from or args.box_weight or args.train_sources or args.holdout_source \
            or args.limit_per_class or args.train_fraction != 1.0:
        raise InvalidInputError("--pretrain ssl takes no --init-from, --box-weight, "
                                "--train-sources, --holdout-source, --limit-per-class or "
                                "--train-fraction")
    card = pretrain_expert(_data_dir(args), args.out, lr=args.lr, **_run_options(args))
    if args.json:
        print(json.dumps(card, indent=2))
        return 0
    history = card["training"]["history"]
    print(f"wrote {card['model_id']} (self-supervised, {card['training']['steps']} steps) to "
          f"{args.out}; use it with --init-from {args.out}")
    for h in history:
        print(f"  epoch {h['epoch']}: SimSiam loss {h['loss']:.4f} (first step "
              f"{h['first_loss']:.4f}, last {h['last_loss']:.4f}), feature_std {h['feature_std']:.3f}")
    return 0


def run(args: argparse.Namespace) -> int:
    from cxrpilot.models.expert import train_expert

    _check_device(args.device)
    if args.pretrain == "ssl":
        return _pretrain(args)
    card = train_expert(
        _data_dir(args), args.out, holdout_source=args.holdout_source,
        limit_per_class=args.limit_per_class, train_sources=args.train_sources,
        init_from=args.init_from, lr=3e-3 if args.lr is None else args.lr,
        box_weight=args.box_weight, train_fraction=args.train_fraction, **_run_options(args),
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
