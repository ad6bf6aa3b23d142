"""``cxrpilot train view``: the data it reads through the adapters, a small real training run
written and read back, and the command's refusals."""

from __future__ import annotations

import json
import re

import pytest

from cxrpilot import imaging
from cxrpilot.cli import main
from cxrpilot.models.view import train_view
from cxrpilot.models.view._train import EXTERNAL, _covid_chestxray, _folder_images


def test_adapters_select_the_images_the_shipped_model_was_trained_on(shared_data):
    """The adapters give the counts the shipped card records (it was trained from a hand-read
    metadata.csv and folder globs): the same images, so retraining rebuilds the same model."""
    trained_on = imaging.load_view_model().card["training_data"]
    paths, lateral, groups = _covid_chestxray(shared_data)
    assert int(lateral.sum()) == trained_on["covid-chestxray lateral (L)"]
    assert int((~lateral).sum()) == trained_on["covid-chestxray frontal (PA/AP/AP Supine)"]
    assert len(set(groups)) == trained_on["patients (covid-chestxray groups)"]
    assert all(p.is_file() for p in paths)
    for source, cls, split in EXTERNAL.values():
        folder = shared_data / source / (f"{split}/{cls}" if split else cls)
        assert _folder_images(shared_data, source, cls, split) == sorted(folder.glob("*.jpg"))


@pytest.mark.slow
def test_small_training_writes_a_model_the_loader_reads(shared_data, tmp_path):
    out = tmp_path / "view"
    card = train_view(shared_data, out, frontals_per_source=20, held_out_per_source=10, repeats=1,
                      scan_folders=False, progress=False)
    assert {p.name for p in out.iterdir()} == {"model.npz", "card.json", "model_card.md"}
    assert json.loads((out / "card.json").read_text()) == card
    assert card["kind"] == "view" and card["training_data"]["covid-radiography/Normal frontal"] == 20
    assert card["cv"]["roc_auc_mean"] > 0.9
    assert card["sha256"] in (out / "model_card.md").read_text()
    model = imaging.load_view_model(out)
    lateral = imaging.load(shared_data / "covid-chestxray/images/covid-19-pneumonia-14-L.jpg", check=False)
    assert model.probability(lateral.pixels) >= model.threshold


def test_damaged_weights_are_refused(tmp_path):
    from importlib import resources

    from cxrpilot.errors import ModelLoadError

    shipped = resources.files("cxrpilot") / "weights" / "view-hog-logreg-covidcxr"
    for name in ("card.json", "model.npz"):
        (tmp_path / name).write_bytes((shipped / name).read_bytes())
    imaging.load_view_model(tmp_path)
    (tmp_path / "model.npz").write_bytes((tmp_path / "model.npz").read_bytes() + b"\0")
    with pytest.raises(ModelLoadError, match=r"model.npz has sha256 .*, but card.json states 799edca6"):
        imaging.load_view_model(tmp_path)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--data", "{data}"], r"no --out folder given; expected --out DIR \(or --dry-run\)"),
        (["--data", "{data}", "--dry-run", "--repeats", "0"], r"--repeats 0: expected at least 1"),
        (["--data", "{data}", "--dry-run", "--max-fpr", "1.5"], r"--max-fpr 1.5: expected a rate in \[0, 1\)"),
    ],
)
def test_command_refusals(tmp_path, capsys, argv, message):
    assert main(["train", "view", *[a.format(data=tmp_path) for a in argv]]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cxrpilot: error: ") and len(err.strip().splitlines()) == 1
    assert re.search(message, err)


def test_command_on_a_folder_without_the_data(tmp_path, capsys):
    assert main(["train", "view", "--data", str(tmp_path), "--dry-run"]) == 2
    assert "covid-chestxray" in capsys.readouterr().err
