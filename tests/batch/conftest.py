"""Shared by the batch tests: one small real local Ray per module, the model, real images."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cxrpilot.models.expert._model import DEFAULT_MODEL, WEIGHTS_DIR

# the real Orthanc of the interop tests, for the DICOMweb source
from tests.interop.conftest import orthanc, orthanc_factory, orthanc_install  # noqa: F401

#: A trained model folder to use while the shipped default is being replaced.
FALLBACK_MODEL = Path("/tmp/cxrpilot-recipes/nih-only")


@pytest.fixture(scope="session")
def model_spec() -> str:
    """The shipped default expert when its folder exists, else a trained fallback folder."""
    if (WEIGHTS_DIR / DEFAULT_MODEL / "card.json").is_file():
        return "expert"
    if (FALLBACK_MODEL / "card.json").is_file():
        return f"expert:{FALLBACK_MODEL}"
    pytest.skip(f"no expert model: neither {WEIGHTS_DIR / DEFAULT_MODEL} nor {FALLBACK_MODEL}")


@pytest.fixture(scope="module")
def ray_local():
    """A real local Ray (2 CPUs, 500 MB object store), started once per module."""
    ray = pytest.importorskip("ray", reason="Ray is the 'batch' extra: pip install 'cxrpilot[batch]'")
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=500 * 1024**2,
             log_to_driver=False, logging_level="WARNING")
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def nih_images(request) -> list[Path]:
    """24 real NIH ChestX-ray14 JPEGs (sorted names) from the shared data."""
    from tests.conftest import shared_data_dir

    root = shared_data_dir()
    folder = root / "nih-chestxray14" / "images" if root else None
    if folder is None or not folder.is_dir():
        pytest.skip("real data not found: set CXRPILOT_DATA or put it at ../shared/data")
    return sorted(folder.glob("*.jpg"))[:24]


def copy_images(images: list[Path], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for image in images:
        shutil.copy(image, folder / image.name)
    return folder


def raw_rows(out: Path) -> list[dict]:
    """Every row of every part file under ``out``, as written (duplicates kept)."""
    import pyarrow.parquet as pq

    return [r for f in sorted(out.glob("part-*.parquet")) for r in pq.read_table(f).to_pylist()]
