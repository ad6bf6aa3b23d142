"""A tiny real training run (few real images, 1 epoch, 32 px) through the CLI, then loading it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from cxrpilot.cli import main
from cxrpilot.models import expert
from cxrpilot.models.expert._model import sha256_file


@pytest.fixture(scope="module")
def tiny_model(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiny-expert")
    cache = tmp_path_factory.mktemp("cache")
    status = main(["train", "expert", "--data", str(shared_data), "--out", str(out), "--epochs", "1",
                   "--image-size", "32", "--arch", "resnet10t", "--limit-per-class", "5",
                   "--cache-dir", str(cache), "--seed", "3", "--samples-per-epoch", "64",
                   "--json"])
    assert status == 0
    return out


@pytest.mark.slow
@pytest.mark.data
def test_tiny_training_writes_a_loadable_model(tiny_model: Path, shared_data: Path) -> None:
    from cxrpilot import imaging

    assert {p.name for p in tiny_model.iterdir()} >= {
        "model.onnx", "card.json", "model_card.md", "model.safetensors", "config.json"}
    model = expert.load(tiny_model)
    card = model.card
    assert card.model_id == "expert-resnet10t-res32-cxr4"
    assert card.image_size == 32 and card.training["seed"] == 3 and card.training["epochs"] == 1
    assert card.sha256 == sha256_file(tiny_model / "model.onnx")
    assert card.version.endswith("+" + card.sha256[:8])  # the version names these weights
    assert card.architecture["onnx_max_abs_diff_vs_torch"] < 1e-3
    splits = card.training["splits"]
    assert sum(s["images"] for s in splits.values()) == sum(s["images"] for s in card.training["sources"])
    image = imaging.load(min((shared_data / "covid-radiography/COVID").glob("*.jpg")), check=False)
    proba = model.predict_proba([image, image])
    assert proba.shape == (2, len(card.labels)) and np.isfinite(proba).all()
    assert len(model.assess(image)) == 14


@pytest.mark.data
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--sources", "nih"], r"unknown sources \['nih'\]"),
        (["--sources", "covid-radiography", "--holdout-source", "covid-chestxray"],
         r"holdout source 'covid-chestxray' is not among the sources"),
    ],
)
def test_train_bad_options(shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                           argv: list[str], message: str) -> None:
    assert main(["train", "expert", "--data", str(shared_data), "--out", str(tmp_path), *argv]) == 2
    assert re.search(message, capsys.readouterr().err)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--epochs", "0"], r"--epochs: must be >= 1, got 0"),
        (["--image-size", "8"], r"--image-size: must be >= 16, got 8"),
        (["--epochs", "many"], r"--epochs: expected an integer, got 'many'"),
        (["--box-weight", "-1"], r"--box-weight: must be between 0 and 100, got -1"),
        (["--box-weight", "nan"], r"--box-weight: must be between 0 and 100, got nan"),
        (["--box-weight", "x"], r"--box-weight: expected a number, got 'x'"),
        (["--train-fraction", "0"], r"--train-fraction: must be in \(0, 1\], got 0"),
        (["--train-fraction", "1.5"], r"--train-fraction: must be in \(0, 1\], got 1.5"),
        (["--train-fraction", "nan"], r"--train-fraction: must be in \(0, 1\], got nan"),
    ],
)
def test_train_bad_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                           message: str) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["train", "expert", "--data", str(tmp_path), "--out", str(tmp_path), *argv])
    assert exc.value.code == 2
    assert re.search(message, capsys.readouterr().err)


def test_train_missing_data_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["train", "expert", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "o"),
                   "--sources", "covid-radiography"])
    assert status == 2
    assert "source folder not found" in capsys.readouterr().err


def test_models_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    default = [r for r in rows if r["default"]]
    assert [r["name"] for r in default] == [expert.DEFAULT_MODEL]
    assert default[0]["assessed"] == list(expert.load().assessed)
    assert "Cardiomegaly" in default[0]["outputs"]
    assert main(["models", "list"]) == 0
    assert "(default)" in capsys.readouterr().out


def _table(sources: list[str], patients: list[str]):
    from cxrpilot.models.expert._data import ExampleTable

    n = len(sources)
    return ExampleTable(paths=[f"{i}.png" for i in range(n)], sources=np.asarray(sources),
                        patients=np.asarray(patients), targets=np.zeros((n, 1)),
                        splits=np.asarray(["train"] * n), licences=[""] * n, notes="",
                        counts={}, studies=[])


def test_patient_fraction_keeps_whole_patients_per_source_and_nests() -> None:
    from cxrpilot.models.expert._train import keep_patient_fraction

    # 40 NIH patients with 1-3 images each, 20 patients of another source with 1 image each
    sources, patients = [], []
    for p in range(40):
        for _ in range(1 + p % 3):
            sources.append("nih-chestxray14")
            patients.append(f"p{p}")
    for p in range(20):
        sources.append("covid-radiography")
        patients.append(f"p{p}")  # the same keys as NIH's: patients are per source
    table = _table(sources, patients)
    idx = np.arange(len(sources))
    half = keep_patient_fraction(table, idx, 0.5, seed=0)
    quarter = keep_patient_fraction(table, idx, 0.25, seed=0)
    key = [f"{table.sources[i]}/{table.patients[i]}" for i in idx]
    for kept in (half, quarter):  # a patient is kept with all its images or not at all
        kept_keys = {key[i] for i in kept}
        assert set(kept) == {i for i in idx if key[i] in kept_keys}

    def by_source(kept: np.ndarray, src: str) -> int:
        return len({key[i] for i in kept if table.sources[i] == src})

    assert by_source(half, "nih-chestxray14") == 20 and by_source(half, "covid-radiography") == 10
    assert by_source(quarter, "nih-chestxray14") == 10 and by_source(quarter, "covid-radiography") == 5
    assert set(quarter) <= set(half)  # the points of a learning curve nest
    assert np.array_equal(half, keep_patient_fraction(table, idx, 0.5, seed=0))  # seeded
    assert not np.array_equal(half, keep_patient_fraction(table, idx, 0.5, seed=1))
    assert np.array_equal(keep_patient_fraction(table, idx, 1.0, seed=0), idx)
