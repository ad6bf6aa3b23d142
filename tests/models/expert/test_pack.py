"""Training packs: the same table as the data folder, the same pixels (to WebP's error),
the same boxes; training, pretraining and fine-tuning from one."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from cxrpilot.errors import InvalidDatasetError, InvalidInputError
from cxrpilot.models import expert
from cxrpilot.models.expert._cache import cached_images
from cxrpilot.models.expert._data import SOURCES, build_table
from cxrpilot.models.expert._train import input_boxes

pytestmark = [pytest.mark.slow, pytest.mark.data]


def test_pack_holds_the_table_of_the_data_folder(tiny_pack: Path, shared_data: Path) -> None:
    table = build_table(shared_data, SOURCES, seed=0, limit_per_class=3)
    pack = expert.read_training_pack(tiny_pack, 64, workers=2)
    assert pack.table.paths == [os.path.relpath(p, shared_data) for p in table.paths]
    assert pack.table.splits.tolist() == table.splits.tolist()
    assert pack.table.sources.tolist() == table.sources.tolist()
    np.testing.assert_array_equal(pack.table.targets, table.targets)  # NaN where masked
    assert [s.images[0].view for s in pack.table.studies] == [s.images[0].view for s in table.studies]
    assert pack.images.shape == (len(table.paths), 64, 64) and pack.images.dtype == np.uint8
    assert pack.summary["limit_per_class"] == 3 and set(pack.data_sha256) == set(SOURCES)


def test_pack_pixels_and_boxes_match_the_files(tiny_pack: Path, shared_data: Path) -> None:
    table = build_table(shared_data, SOURCES, seed=0, limit_per_class=3)
    nih = np.flatnonzero(table.sources == "nih-chestxray14")
    want, ok = cached_images([table.paths[i] for i in nih], 320)
    pack = expert.read_training_pack(tiny_pack, 320, workers=2)
    got = pack.images[nih].astype(np.float32) / 255
    assert ok.all()
    assert float(np.abs(got - want.astype(np.float32)).mean()) < 0.02  # 8 bits + WebP q80
    from_pack, from_files = input_boxes(pack.table, 320), input_boxes(table, 320)
    assert [len(b) for b in from_pack] == [len(b) for b in from_files]
    flat = lambda boxes: np.array([v for image in boxes for box in image for v in box])
    np.testing.assert_allclose(flat(from_pack), flat(from_files), atol=1e-9)
    assert sum(1 for b in from_pack if b) > 10


def test_pretrain_then_fine_tune_from_the_pack(tiny_pack: Path, tmp_path: Path) -> None:
    ssl = expert.pretrain_expert(None, tmp_path / "ssl", pack=tiny_pack, epochs=2,
                                 image_size=32, arch="resnet10t", samples_per_epoch=64,
                                 batch_size=16, lr=0.1, progress=False)
    assert ssl["kind"] == "expert-ssl-pretraining" and len(ssl["training"]["history"]) == 2
    assert ssl["training"]["train_sources"] == sorted(SOURCES)
    card = expert.train_expert(None, tmp_path / "model", pack=tiny_pack, epochs=2,
                               image_size=48, arch="resnet10t", samples_per_epoch=64,
                               init_from=tmp_path / "ssl", box_weight=0.1, progress=False)
    assert card.training["fine_tuned_from"]["recipe"].startswith("SimSiam")
    assert card.training["data_pack"]["file"] == "pack.npz"
    assert card.training["device"] == {"type": "cpu", "precision": "float32"}
    assert card.training["data_sha256"] == ssl["training"]["data_sha256"]
    assert "Pleural Effusion" in card.metrics["maps"] or card.metrics["maps"]
    assert "nih-chestxray14 PA" in card.metrics["test"]
    saved = json.loads((tmp_path / "model" / "card.json").read_text())
    assert saved["model_id"] == "expert-resnet10t-res48-cxr4"
    model = expert.load(tmp_path / "model")
    assert model.labels == card.labels


@pytest.mark.parametrize(("options", "error", "message"), [
    ({"holdout_source": "covid-chestxray"}, InvalidInputError, r"a training pack holds the default table"),
    ({"arch": "resnet10"}, InvalidInputError, r"is a resnet10t network; pass --arch resnet10t"),
])
def test_pack_refusals(tiny_pack: Path, tmp_path: Path, options: dict, error: type,
                       message: str) -> None:
    ssl = tmp_path / "ssl"
    expert.pretrain_expert(None, ssl, pack=tiny_pack, epochs=1, image_size=32, arch="resnet10t",
                           samples_per_epoch=32, batch_size=16, progress=False)
    kwargs = {"arch": "resnet10t", **options}
    with pytest.raises(error, match=message):
        expert.train_expert(None, tmp_path / "m", pack=tiny_pack, epochs=1, image_size=32,
                            init_from=ssl, progress=False, **kwargs)


def test_cli_pretrains_and_fine_tunes_from_a_pack(tiny_pack: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from cxrpilot.cli import main

    common = ["--pack", str(tiny_pack), "--arch", "resnet10t", "--image-size", "32",
              "--samples-per-epoch", "64", "--batch-size", "16", "--device", "cpu"]
    assert main(["train", "expert", "--pretrain", "ssl", "--out", str(tmp_path / "ssl"),
                 "--epochs", "2", "--lr", "0.1", *common]) == 0
    out = capsys.readouterr().out
    assert f"use it with --init-from {tmp_path / 'ssl'}" in out and "SimSiam loss" in out
    assert main(["train", "expert", "--out", str(tmp_path / "m"), "--epochs", "2",
                 "--init-from", str(tmp_path / "ssl"), "--max-seconds", "60", *common]) == 0
    assert "wrote expert-resnet10t-res32-cxr4" in capsys.readouterr().out


def test_a_missing_pack_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidDatasetError, match=r"nope.npz'?: training pack not found"):
        expert.read_training_pack(tmp_path / "nope.npz", 32)
