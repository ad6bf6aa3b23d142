"""``cxrpilot models list|import-janus``."""

from cxrpilot.cli import _models_import_janus, _models_list
from cxrpilot.cli._groups import register_group


def register(subparsers) -> None:
    register_group(subparsers, "models", "List, inspect and import models.",
                   (_models_list, _models_import_janus))
