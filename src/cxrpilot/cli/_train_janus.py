"""``cxrpilot train janus``: fine-tune Janus-Pro on image + report data (LoRA or full)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cxrpilot.errors import InvalidDatasetError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "janus",
        help="Fine-tune Janus-Pro on radiographs with FINDINGS/IMPRESSION text.",
        description="Fine-tune an HF-format Janus-Pro checkpoint (LoRA by default, rank 64 as in the "
        "Janus-Pro-CXR paper). Data: a JSONL or CSV manifest (cxrpilot.data.read_manifest) with "
        "columns path (image, relative to the manifest), findings, impression, and optionally "
        "indication, study_id, patient_id, split. Rows with split 'validate'/'val' are used for "
        "validation, 'test' rows are ignored. "
        "Writes checkpoints, OUT/train_log.jsonl, OUT/final and (with --merge) OUT/merged.",
    )
    p.add_argument("--model", required=True, help="base model folder (HF format; see `cxrpilot models import-janus`)")
    p.add_argument("--train", required=True, metavar="MANIFEST", help="training manifest (.jsonl or .csv)")
    p.add_argument("--val", default=None, metavar="MANIFEST", help="validation manifest (default: split column)")
    p.add_argument("--output", required=True, metavar="DIR", help="output folder (empty, or use --resume)")
    p.add_argument("--method", default="lora", choices=("lora", "full"))
    p.add_argument("--lora-rank", type=int, default=64)
    p.add_argument("--lora-alpha", type=int, default=128)
    p.add_argument("--lora-dropout", type=float, default=0.05)
    p.add_argument("--lora-targets", default="q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj",
                   help="comma-separated language-model projections to adapt")
    p.add_argument("--no-train-aligner", action="store_true", help="keep the vision-language aligner frozen")
    p.add_argument("--train-vision", action="store_true", help="--method full: train the vision tower too")
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--warmup-steps", type=int, default=0)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--grad-accum", type=int, default=1, help="forward passes per optimizer step")
    p.add_argument("--precision", default="auto", choices=("auto", "bf16", "fp32"))
    p.add_argument("--save-every", type=int, default=500, help="optimizer steps between checkpoints")
    p.add_argument("--eval-every", type=int, default=None, help="optimizer steps between validations")
    p.add_argument("--eval-generate", type=int, default=16, help="validation studies to write reports for")
    p.add_argument("--max-answer-tokens", type=int, default=512)
    p.add_argument("--chat-format", default=None, choices=("janus-pro-cxr", "janus-pro"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: CUDA when present)")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --output")
    p.add_argument("--merge", action="store_true", help="merge LoRA into the base and save OUT/merged for serving")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=run)


def read_manifest(path: str | Path) -> list:
    """Study records from a manifest, read by :func:`cxrpilot.data.read_manifest` (the
    project's one manifest format); every study must name an image (``path``)."""
    from cxrpilot.data import read_manifest as read_data_manifest

    manifest = Path(path).expanduser()
    if not manifest.is_file():
        raise InvalidDatasetError(f"manifest {str(manifest)!r} does not exist; expected a .jsonl or .csv file")
    studies = read_data_manifest(manifest, source=manifest.name)
    for study in studies:
        if not study.images:
            hint = " ('image' is not a column name here: use 'path')" if "image" in study.meta else ""
            raise InvalidDatasetError(
                f"{str(manifest)!r}: study {study.study_id!r} has no image; every row needs a 'path' "
                f"(image file, relative to the manifest){hint}"
            )
    return studies


def run(args: argparse.Namespace) -> int:
    from cxrpilot.models.janus import FinetuneConfig, finetune

    train = read_manifest(args.train)
    if args.val:
        val = read_manifest(args.val)
    else:
        val = [s for s in train if s.split == "validate"]
    train = [s for s in train if s.split in (None, "train")]
    try:
        config = FinetuneConfig(
            method=args.method, lora_rank=args.lora_rank, lora_alpha=args.lora_alpha,
            lora_dropout=args.lora_dropout,
            lora_targets=tuple(t.strip() for t in args.lora_targets.split(",") if t.strip()),
            train_aligner=not args.no_train_aligner, train_vision=args.train_vision,
            learning_rate=args.lr, weight_decay=args.weight_decay, warmup_steps=args.warmup_steps,
            epochs=args.epochs, max_steps=args.max_steps, batch_size=args.batch_size,
            grad_accum=args.grad_accum, precision=args.precision, save_every=args.save_every,
            eval_every=args.eval_every, eval_generate=args.eval_generate,
            max_answer_tokens=args.max_answer_tokens, chat_format=args.chat_format, seed=args.seed,
        )
    except ValueError as exc:
        raise InvalidDatasetError(f"invalid training option: {exc}") from exc
    result = finetune(args.model, train, args.output, val_studies=val, config=config, resume=args.resume,
                      merge=args.merge, device=args.device, progress=not args.no_progress)
    summary = {
        "output": str(result.output_dir), "final": str(result.final_dir),
        "merged": str(result.merged_dir) if result.merged_dir else None, "steps": result.steps,
        "first_loss": result.losses[0] if result.losses else None,
        "last_loss": result.losses[-1] if result.losses else None,
        "validations": result.validations, "skipped": result.skipped, "log": str(result.log_path),
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"trained {result.steps} steps; loss {summary['first_loss']} -> {summary['last_loss']}")
        if result.skipped:
            print(f"  studies left out: {result.skipped}")
        print(f"  weights: {result.final_dir}   log: {result.log_path}")
        if result.merged_dir:
            print(f"  merged model: {result.merged_dir}  (cxrpilot report --model janus:{result.merged_dir} IMAGE)")
    return 0
