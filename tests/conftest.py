"""Shared fixtures: where the real data lives, and skipping cleanly when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    """``$CXRPILOT_DATA`` or ``../shared/data`` beside the repository, if it exists."""
    candidate = Path(os.environ.get("CXRPILOT_DATA", REPO.parent / "shared" / "data"))
    return candidate if candidate.is_dir() else None


@pytest.fixture(scope="session", autouse=True)
def private_cache_dir(tmp_path_factory) -> Path:
    """Caches written by the code under test (``$CXRPILOT_CACHE_DIR``) go to a temporary
    folder, never to the user's ~/.cache."""
    folder = tmp_path_factory.mktemp("cxrpilot-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CXRPILOT_CACHE_DIR", str(folder))
        yield folder


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real chest X-ray data (../shared/data); skips the test when it is absent."""
    path = shared_data_dir()
    if path is None:
        pytest.skip("real data not found: set CXRPILOT_DATA or put it at ../shared/data")
    return path


@pytest.fixture(scope="session")
def rg1_uncr() -> Path:
    """A real CR chest PA radiograph (MONOCHROME1, 15-bit) shipped by pydicom-data."""
    from pydicom.data import get_testdata_file

    return Path(get_testdata_file("RG1_UNCR.dcm"))
