"""``cxrpilot models list|import-janus|...``."""

from cxrpilot.cli._groups import register_group


def register(subparsers) -> None:
    register_group(subparsers, "models", "List, inspect and import models.", ("list", "import_janus"))
