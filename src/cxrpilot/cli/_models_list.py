"""``cxrpilot models list``: the shipped models and what they assess."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("list", help="List the shipped models.",
                              description="List the shipped expert models: id, version, input "
                              "size and the findings each assesses (the default is marked).")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from cxrpilot.models.expert import DEFAULT_MODEL, available_models, read_model_card

    rows = []
    for name in available_models():
        card = read_model_card(name)
        rows.append({
            "name": name, "kind": "expert", "default": name == DEFAULT_MODEL,
            "model_id": card.model_id, "version": card.version, "image_size": card.image_size,
            "assessed": list(card.assessed), "outputs": list(card.labels),
            "intended_use": card.intended_use,
        })
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no models shipped")
        return 0
    for r in rows:
        mark = " (default)" if r["default"] else ""
        print(f"{r['name']}{mark}  kind={r['kind']} version={r['version']} "
              f"input={r['image_size']}px\n  assesses: {', '.join(r['assessed']) or 'nothing'}\n"
              f"  {r['intended_use']}")
    print("Janus-Pro models are not shipped: bring weights with 'cxrpilot report --model janus:PATH'.")
    return 0
