"""``cxrpilot train expert|janus|view``."""

from cxrpilot.cli import _train_expert, _train_janus, _train_view
from cxrpilot.cli._groups import register_group


def register(subparsers) -> None:
    register_group(subparsers, "train", "Train or fine-tune a model.", (_train_expert, _train_janus, _train_view))
