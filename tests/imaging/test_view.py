"""The frontal-vs-lateral view model: shipped weights, card, behaviour on real images."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from importlib import resources

import pytest
from pydicom.data import get_testdata_file

from cxrpilot import imaging
from cxrpilot.imaging import load_view_model
from cxrpilot.imaging._view import VIEW_MODEL


def test_weights_are_tiny_and_the_card_matches_them():
    folder = resources.files("cxrpilot") / "weights" / VIEW_MODEL  # the one weights home
    data = (folder / "model.npz").read_bytes()
    assert len(data) < 10_000
    card = json.loads((folder / "card.json").read_text())
    assert card["sha256"] == hashlib.sha256(data).hexdigest() in (folder / "model_card.md").read_text()
    model = load_view_model()
    assert model.card == card and model.card["kind"] == "view"
    assert model.coef.shape == (148,) and 0.5 <= model.threshold < 1.0
    assert model.card["cv"]["roc_auc_mean"] >= 0.95
    assert "not for clinical use" in model.card["intended_use"]


@pytest.mark.parametrize(
    "relative",
    [
        "covid-chestxray/images/covid-19-pneumonia-14-L.jpg",
        "covid-chestxray/images/covid-19-pneumonia-15-L.jpg",
    ],
)
def test_lateral_images_rate_lateral(shared_data, relative):
    xr = imaging.load(shared_data / relative, check=False)
    assert imaging.lateral_probability(xr) > 0.9


@pytest.mark.parametrize(
    "relative",
    [
        "samples/nih/00000001_000.png",
        "samples/misc/tb0005.png",
        "covid-radiography/Normal/Normal-1.jpg",
        "pediatric-pneumonia/train/NORMAL/IM-0115-0001.jpg",
    ],
)
def test_frontal_images_rate_frontal(shared_data, relative):
    assert (
        imaging.lateral_probability(imaging.load(shared_data / relative, check=False).pixels) < 0.1
    )


def test_header_view_decides_over_the_image(siim):
    xr = imaging.load(siim)  # View Position PA: the image model is not consulted
    assert xr.view_position == "PA"
    assert imaging.lateral_probability(xr) < 0.1
    assert imaging.lateral_probability(imaging.load(get_testdata_file("RG1_UNCR.dcm"))) < 0.1


def test_import_is_light():
    code = (
        "import sys, cxrpilot.imaging; "
        "print(sorted(m for m in ('torch', 'sklearn', 'pydicom', 'scipy', 'transformers') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_training_command_help():
    out = subprocess.run(
        [sys.executable, "-m", "cxrpilot.cli", "train", "view", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert re.search(r"--data", out.stdout)
