"""The ``cxrpilot`` command: one entry point, one sub-command module per job.

Each module in this package exposes ``register(subparsers)``; handlers import their heavy
dependencies lazily so that ``cxrpilot --help`` is instant. User errors
(:class:`~cxrpilot.errors.CxrpilotError`) are printed as one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from cxrpilot import __version__
from cxrpilot.cli import (
    _batch,
    _data,
    _eval,
    _label,
    _models,
    _pacs,
    _report,
    _serve,
    _tokens,
    _train,
)
from cxrpilot.errors import CxrpilotError

__all__ = ["main", "build_parser"]

# Sub-command modules, in the order they appear in --help.
_COMMAND_MODULES = (_report, _batch, _label, _data, _train, _models, _eval, _serve, _pacs, _tokens)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cxrpilot",
        description="Open chest X-ray reporting: AI drafts, reading workstation, measurement.",
    )
    parser.add_argument("--version", action="version", version=f"cxrpilot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _COMMAND_MODULES:
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
