"""Command groups whose sub-commands live in separate modules (``_<group>_<name>.py``)."""

from __future__ import annotations

import argparse
import importlib


def register_group(
    subparsers: argparse._SubParsersAction, group: str, help_text: str, names: tuple[str, ...]
) -> None:
    """Add ``cxrpilot GROUP NAME ...`` for each module ``cxrpilot.cli._GROUP_NAME`` that exists.

    Each such module exposes ``register(subparsers)`` like a top-level command module.
    """
    parser = subparsers.add_parser(group, help=help_text, description=help_text)
    sub = parser.add_subparsers(dest=f"{group}_command", metavar="COMMAND")
    parser.set_defaults(handler=lambda args: (parser.print_help(), 2)[1])
    for name in names:
        module_name = f"cxrpilot.cli._{group}_{name}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # not built yet
            raise
        module.register(sub)
