"""Janus preprocessing as DeepSeek's original code does it, on real radiographs of every
aspect ratio, and the rule kept through import, save and reload."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from cxrpilot.errors import ModelLoadError
from cxrpilot.models.janus import load

from .janus_tiny import radiograph_from_file, torch  # noqa: F401 - skips without torch

PIL = pytest.importorskip("PIL")
from PIL import Image

from cxrpilot.models.janus._preprocess import (
    DeepseekJanusImageProcessor,
    load_processor,
    resized_size,
)
from cxrpilot.models.janus._reporter import preprocess_images, to_pil


def original_preprocess(image: Image.Image, *, image_size: int, image_mean=(0.5, 0.5, 0.5),
                        image_std=(0.5, 0.5, 0.5), min_size: int = 14) -> tuple[np.ndarray, tuple[int, int]]:
    """DeepSeek's ``VLMImageProcessor`` (janus/models/image_processing_vlm.py) re-implemented:
    ``resize`` (the long side to ``image_size``, each side ``max(int(side / longest *
    image_size), min_size)``, PIL bicubic as torchvision's resize of a PIL image does),
    ``expand2square`` with the background ``int(m * 255)`` of the mean, image centred, then
    ``rescale`` (float64 * 1/255 -> float32) and ``normalize``. Returns (3, S, S) and the
    resized (height, width)."""
    width, height = image.size
    longest = max(width, height)
    size = (max(int(height / longest * image_size), min_size), max(int(width / longest * image_size), min_size))
    image = image.resize((size[1], size[0]), Image.BICUBIC)
    background = tuple(int(m * 255) for m in image_mean)
    w, h = image.size
    if w != h:
        side = max(w, h)
        square = Image.new(image.mode, (side, side), background)
        square.paste(image, (0, (w - h) // 2) if w > h else ((h - w) // 2, 0))
        image = square
    x = np.transpose(np.asarray(image), (2, 0, 1))
    x = (x.astype(np.float64) * (1 / 255)).astype(np.float32)
    mean = np.asarray(image_mean, np.float32)[:, None, None]
    std = np.asarray(image_std, np.float32)[:, None, None]
    return (x - mean) / std, size


# (height, width) -> the original's (height, width) and transformers' rounding, at 384 px
@pytest.mark.parametrize(
    ("height", "width", "deepseek", "transformers"),
    [
        (512, 512, (384, 384), (384, 384)),      # square
        (417, 512, (312, 384), (313, 384)),      # landscape: 312.75 truncated vs rounded
        (512, 418, (384, 313), (384, 314)),      # portrait: 313.5
        (512, 461, (384, 345), (384, 346)),      # 345.75
        (1955, 1841, (384, 361), (384, 362)),    # a CR chest PA (RG1_UNCR.dcm): 361.6
        (2000, 1500, (384, 288), (384, 288)),    # exact
        (10, 1000, (14, 384), (14, 384)),        # min_size floor
        (20, 20, (384, 384), (384, 384)),        # upscaled
    ],
)
def test_resized_size_follows_each_rule(height, width, deepseek, transformers):
    assert resized_size(height, width, image_size=384) == deepseek
    assert resized_size(height, width, image_size=384, rule="deepseek") == deepseek
    assert resized_size(height, width, image_size=384, rule="transformers") == transformers


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rule": "round"}, r"unknown resize_rule 'round'; expected one of 'deepseek', 'transformers'"),
        ({"height": 0}, r"image size must be positive, got height=0"),
    ],
)
def test_resized_size_rejects_bad_input(kwargs, message):
    args = {"height": 100, "width": 50, "image_size": 384, **kwargs}
    with pytest.raises(ValueError, match=message):
        resized_size(**args)


#: Frontal (PA) radiographs of ../shared/data/covid-chestxray: one square, two landscape, two
#: portrait; on all four non-square ones the two rules give different short sides.
RADIOGRAPHS = {
    "square": "lancet-case2a.jpg",                         # 512 x 512
    "landscape": "ARDSSevere.jpg",                         # 512 wide x 409
    "landscape-near-square": "nCoV-radiol.2020200269.fig1-day7.jpg",  # 512 x 461
    "portrait": "ryct.2020200028.fig1a.jpg",               # 418 wide x 512
    "portrait-2": "covid-19-pneumonia-15-PA.jpg",          # 426 x 512
}


@pytest.fixture(scope="module")
def chest_images(shared_data) -> dict:
    root = shared_data / "covid-chestxray" / "images"
    missing = [n for n in RADIOGRAPHS.values() if not (root / n).is_file()]
    if missing:
        pytest.skip(f"covid-chestxray images not found: {missing}")
    return {kind: radiograph_from_file(root / name) for kind, name in RADIOGRAPHS.items()}


def processor_384(**kwargs) -> DeepseekJanusImageProcessor:
    return DeepseekJanusImageProcessor(size={"height": 384, "width": 384}, image_mean=[0.5] * 3,
                                       image_std=[0.5] * 3, **kwargs)


@pytest.mark.parametrize("kind", list(RADIOGRAPHS))
def test_pixels_equal_the_original_preprocessing(kind, chest_images):
    radiograph = chest_images[kind]
    image = to_pil(radiograph)
    want, size = original_preprocess(image, image_size=384)
    h, w = radiograph.pixels.shape
    assert size == resized_size(h, w, image_size=384)
    got = processor_384()([image], return_tensors="np")["pixel_values"][0]
    assert got.shape == (3, 384, 384)
    assert np.array_equal(got, want)
    # the image sits centred on the background grey (int(0.5 * 255) = 127 -> -0.00392)
    background = (127 / 255 - 0.5) / 0.5
    if size[0] < 384:
        top = (384 - size[0]) // 2
        assert np.allclose(got[:, :top], background) and not np.allclose(got[:, top], background)
    if size[1] < 384:
        left = (384 - size[1]) // 2
        assert np.allclose(got[:, :, :left], background) and not np.allclose(got[:, :, left], background)
    # transformers' rule moves the pixels of every non-square one
    rounded = processor_384(resize_rule="transformers")([image], return_tensors="np")["pixel_values"][0]
    assert np.array_equal(rounded, want) == (kind == "square")


def _write_model_folder(src: Path, dst: Path, *, processor=None, drop_rule: bool = False) -> Path:
    """A copy of the HF folder ``src``, its processor replaced by ``processor`` (saved the way
    ``train janus`` saves it) or its saved resize_rule removed."""
    shutil.copytree(src, dst)
    if processor is not None:
        processor.save_pretrained(str(dst))
    if drop_rule:
        config = json.loads((dst / "processor_config.json").read_text())
        del config["image_processor"]["resize_rule"]
        (dst / "processor_config.json").write_text(json.dumps(config))
    return dst


def test_import_records_the_rule_and_load_applies_it(tiny_janus_dir, radiographs):
    saved = json.loads((tiny_janus_dir / "processor_config.json").read_text())["image_processor"]
    assert saved["resize_rule"] == "deepseek"
    assert saved["image_processor_type"] == "JanusImageProcessor"  # plain transformers still loads it
    reporter = load(tiny_janus_dir, device="cpu", dtype="float32")
    assert isinstance(reporter.processor.image_processor, DeepseekJanusImageProcessor)
    assert reporter.processor.image_processor.resize_rule == "deepseek"
    # the reporter's pixels are the original's, at the checkpoint's own size (32 px here)
    side = reporter.image_size
    for radiograph in radiographs[:2]:
        want, _ = original_preprocess(to_pil(radiograph), image_size=side)
        got = reporter.pixel_values([radiograph])[0].numpy()
        assert np.array_equal(got, want)


def test_rule_survives_save_and_reload(tiny_janus_dir, tmp_path, chest_images):
    reporter = load(tiny_janus_dir, device="cpu", dtype="float32")
    # deepseek: import -> load -> save (as train janus saves) -> load
    again = _write_model_folder(tiny_janus_dir, tmp_path / "resaved", processor=reporter.processor)
    assert json.loads((again / "processor_config.json").read_text())["image_processor"]["resize_rule"] == "deepseek"
    assert load(again, device="cpu", dtype="float32").processor.image_processor.resize_rule == "deepseek"
    # an explicit "transformers" rule is kept as well
    processor = reporter.processor
    processor.image_processor = DeepseekJanusImageProcessor(
        resize_rule="transformers", **{k: getattr(processor.image_processor, k)
                                       for k in ("image_mean", "image_std", "min_size")},
        size={"height": reporter.image_size, "width": reporter.image_size})
    rounded = _write_model_folder(tiny_janus_dir, tmp_path / "rounded", processor=processor)
    reloaded = load(rounded, device="cpu", dtype="float32").processor
    assert reloaded.image_processor.resize_rule == "transformers"
    image = to_pil(chest_images["landscape"])
    got = reloaded.image_processor([image], return_tensors="np")["pixel_values"][0]
    want, _ = original_preprocess(image, image_size=reporter.image_size)
    assert got.shape == want.shape and not np.array_equal(got, want)  # 409/512 * 32 = 25.6: 26, not 25
    # a folder without the key (transformers' own converter) gets DeepSeek's rule
    bare = _write_model_folder(tiny_janus_dir, tmp_path / "bare", drop_rule=True)
    assert load_processor(bare).image_processor.resize_rule == "deepseek"
    # plain transformers reads the folder, and keeps the key when it saves it again
    from transformers import JanusProcessor

    plain = JanusProcessor.from_pretrained(str(again), local_files_only=True)
    assert getattr(plain.image_processor, "resize_rule", None) == "deepseek"


def test_bad_saved_rule_is_a_load_error(tiny_janus_dir, tmp_path):
    bad = _write_model_folder(tiny_janus_dir, tmp_path / "bad")
    config = json.loads((bad / "processor_config.json").read_text())
    config["image_processor"]["resize_rule"] = "nearest"
    (bad / "processor_config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match=r"processor_config.json'?: image_processor.resize_rule is 'nearest'; "
                                             r"expected one of 'deepseek', 'transformers'"):
        load(bad, device="cpu", dtype="float32")


def test_preprocess_images_batches_mixed_aspect_ratios(chest_images):
    from types import SimpleNamespace

    batch = [chest_images[k] for k in ("square", "landscape", "portrait")]
    pixels = preprocess_images(SimpleNamespace(image_processor=processor_384()), batch)
    assert tuple(pixels.shape) == (3, 3, 384, 384)
    for row, radiograph in zip(pixels, batch):
        want, _ = original_preprocess(to_pil(radiograph), image_size=384)
        assert np.array_equal(row.numpy(), want)
