"""Command groups (``cxrpilot GROUP COMMAND``): :func:`add_group` makes one; :func:`register_group`
one whose sub-commands live in separate modules (``_<group>_<name>.py``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from types import ModuleType


def add_group(
    subparsers: argparse._SubParsersAction,
    name: str,
    help_text: str,
    description: str | None = None,
    *,
    metavar: str = "COMMAND",
) -> argparse._SubParsersAction:
    """Add the command ``cxrpilot NAME`` with sub-commands and return their subparsers; the
    group alone (no sub-command) prints its help and exits 2."""
    parser = subparsers.add_parser(name, help=help_text, description=description or help_text)
    sub = parser.add_subparsers(dest=f"{name}_command", metavar=metavar)
    parser.set_defaults(handler=lambda args: (parser.print_help(), 2)[1])
    return sub


def register_group(
    subparsers: argparse._SubParsersAction, group: str, help_text: str, modules: Sequence[ModuleType]
) -> None:
    """Add ``cxrpilot GROUP NAME ...``: one sub-command per module of ``modules``.

    Each module exposes ``register(subparsers)`` like a top-level command module.
    """
    sub = add_group(subparsers, group, help_text)
    for module in modules:
        module.register(sub)
