"""A small training pack of the real data, written once per session (slow tests only)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_pack(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """At most 3 images per source and class, all four sources (NIH: a few hundred)."""
    from cxrpilot.models.expert import write_training_pack

    path = tmp_path_factory.mktemp("pack") / "pack.npz"
    write_training_pack(shared_data, path, limit_per_class=3, progress=False)
    return path
