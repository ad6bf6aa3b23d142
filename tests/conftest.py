"""Shared fixtures: where the real data lives, and skipping cleanly when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def system_component_missing(reason: str) -> None:
    """Skip the test because a system component (Chromium, PostgreSQL, Orthanc) is missing —
    or fail it when ``CXRPILOT_REQUIRE_SYSTEM=1`` (as ``make test`` sets), so that a fresh
    machine never passes by silently skipping the browser, database or PACS tests."""
    if os.environ.get("CXRPILOT_REQUIRE_SYSTEM", "").strip().lower() in ("1", "true", "yes"):
        pytest.fail(f"CXRPILOT_REQUIRE_SYSTEM=1 but {reason}", pytrace=False)
    pytest.skip(reason)


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
