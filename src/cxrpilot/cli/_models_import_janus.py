"""``cxrpilot models import-janus SRC DST``: original DeepSeek-format Janus -> HF format."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "import-janus",
        help="Convert an original DeepSeek-format Janus checkpoint (Janus-Pro, Janus-Pro-CXR) to HF format.",
        description="Convert a local checkpoint folder in DeepSeek's original format (config.json with "
        "model_type 'multi_modality', pytorch_model.bin or safetensors, tokenizer.json) into a "
        "transformers JanusForConditionalGeneration + JanusProcessor folder that "
        "`cxrpilot report --model janus:DST` and `cxrpilot train janus --model DST` read. "
        "Nothing is downloaded.",
    )
    p.add_argument("src", metavar="SRC", help="folder of the original checkpoint")
    p.add_argument("dst", metavar="DST", help="new folder for the HF-format model (must not exist or be empty)")
    p.add_argument("--chat-format", default="janus-pro-cxr", choices=("janus-pro-cxr", "janus-pro"),
                   help="role names used in prompts: 'User'/'Assistant' as the Janus-Pro-CXR inference "
                   "script (default) or '<|User|>'/'<|Assistant|>' as DeepSeek's Janus-Pro examples")
    p.add_argument("--model-id", default=None, help="name shown on drafts (default janus:<DST folder name>)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from cxrpilot.models.janus import convert_checkpoint

    dst = convert_checkpoint(args.src, args.dst, chat_format=args.chat_format, model_id=args.model_id)
    meta = json.loads((dst / "cxrpilot_janus.json").read_text(encoding="utf-8"))
    if args.json:
        print(json.dumps({"dst": str(dst), **meta}))
    else:
        print(f"converted {args.src} -> {dst}")
        print(f"  model id: {meta['model_id']}   version: {meta['model_version']}   chat format: {meta['chat_format']}")
        print(f"  use it:   cxrpilot report --model janus:{dst} IMAGE")
    return 0
