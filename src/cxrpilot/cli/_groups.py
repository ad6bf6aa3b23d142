"""Command groups whose sub-commands live in separate modules (``_<group>_<name>.py``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from types import ModuleType


def register_group(
    subparsers: argparse._SubParsersAction, group: str, help_text: str, modules: Sequence[ModuleType]
) -> None:
    """Add ``cxrpilot GROUP NAME ...``: one sub-command per module of ``modules``.

    Each module exposes ``register(subparsers)`` like a top-level command module.
    """
    parser = subparsers.add_parser(group, help=help_text, description=help_text)
    sub = parser.add_subparsers(dest=f"{group}_command", metavar="COMMAND")
    parser.set_defaults(handler=lambda args: (parser.print_help(), 2)[1])
    for module in modules:
        module.register(sub)
