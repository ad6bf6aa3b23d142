"""Real inputs for the imaging tests: the shared DICOMs, a real PNG, a real lateral view."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SIIM = "1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819.dcm"
FRONTAL_PNG = "samples/nih/00000001_000.png"  # NIH ChestX-ray14, PA, Cardiomegaly
LATERAL_JPG = "covid-chestxray/images/covid-19-pneumonia-14-L.jpg"  # view 'L' in metadata.csv


@pytest.fixture(scope="session")
def siim(shared_data: Path) -> Path:
    """SIIM pneumothorax-challenge CR chest PA, JPEG baseline, MONOCHROME2."""
    return shared_data / "dicom" / SIIM


@pytest.fixture(scope="session")
def fake_mono1(shared_data: Path) -> Path:
    """The SIIM pixels with a header that says MONOCHROME1 (renders as a negative)."""
    return shared_data / "dicom" / "Fake_MONOHR1.dcm"


@pytest.fixture(scope="session")
def dog(shared_data: Path) -> Path:
    """highdicom's DX thorax of a dog."""
    return shared_data / "dicom" / "highdicom_dx_image.dcm"


@pytest.fixture(scope="session")
def frontal_grey(shared_data: Path) -> np.ndarray:
    """A real frontal chest radiograph as an 8-bit greyscale array (512 x 512)."""
    with Image.open(shared_data / FRONTAL_PNG) as image:
        return np.asarray(image.convert("L"))


@pytest.fixture(scope="session")
def lateral_jpg(shared_data: Path) -> Path:
    return shared_data / LATERAL_JPG
