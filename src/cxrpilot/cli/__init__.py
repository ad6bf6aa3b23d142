"""The ``cxrpilot`` command: one entry point, one sub-command module per job.

Each module in this package exposes ``register(subparsers)``; handlers import their heavy
dependencies lazily so that ``cxrpilot --help`` is instant. User errors
(:class:`~cxrpilot.errors.CxrpilotError`) are printed as one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from cxrpilot import __version__
from cxrpilot.errors import CxrpilotError

__all__ = ["main", "build_parser"]

# Sub-command modules, in the order they appear in --help.
_COMMAND_MODULES = (
    "report",
    "batch",
    "label",
    "data",
    "train",
    "models",
    "eval",
    "serve",
    "pacs",
    "tokens",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cxrpilot",
        description="Open chest X-ray reporting: AI drafts, reading workstation, measurement.",
    )
    parser.add_argument("--version", action="version", version=f"cxrpilot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(f"cxrpilot.cli._{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"cxrpilot.cli._{name}":
                continue  # sub-command not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit status."""
    # pydicom logs header values it finds odd; header values can be PHI, so keep them out of logs.
    logging.getLogger("pydicom").setLevel(logging.ERROR)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except CxrpilotError as exc:
        print(f"cxrpilot: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
