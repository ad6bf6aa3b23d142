"""Device support of the training loop: the CPU numbers stay what they were, uint8 images,
the wall-clock stop, the larger architectures, and the refusals."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from cxrpilot.cli import main
from cxrpilot.errors import InvalidInputError
from cxrpilot.models.expert._fit import (
    LoopOptions,
    augment_with_masks,
    fit_network,
    resolve_device,
)
from cxrpilot.models.expert.network import ARCHITECTURES, LogitsAndMaps, build_network

no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")


def _augment_before_device_support(x, masks, g):
    """augment_with_masks as it was before the device support (the per-image band loop)."""
    b = x.shape[0]
    u = lambda *shape: torch.rand(*shape, generator=g)
    angle = (u(b) * 2 - 1) * math.radians(8)
    scale = 1 + (u(b) * 2 - 1) * 0.2
    squeeze = torch.where(u(b) < 0.4, 1 - u(b) * 0.25, torch.ones(b))
    on_x = u(b) < 0.5
    sx = scale * torch.where(on_x, squeeze, torch.ones(b))
    sy = scale * torch.where(on_x, torch.ones(b), squeeze)
    shift = (u(b, 2) * 2 - 1) * 0.06
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([torch.stack([cos / sx, -sin / sx, shift[:, 0]], 1),
                         torch.stack([sin / sy, cos / sy, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if masks is not None:
        mask_grid = F.affine_grid(theta, list(masks.shape), align_corners=False)
        masks = F.grid_sample(masks, mask_grid, mode="bilinear", padding_mode="zeros",
                              align_corners=False)
    gamma = torch.exp((u(b) * 2 - 1) * 0.25).view(b, 1, 1, 1)
    x = x.clamp(0, 1) ** gamma
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    contrast = (1 + (u(b) * 2 - 1) * 0.2).view(b, 1, 1, 1)
    bright = ((u(b) * 2 - 1) * 0.08).view(b, 1, 1, 1)
    x = ((x - mean) * contrast + mean + bright).clamp(0, 1)
    size = x.shape[-1]
    band = (u(b, 4) * 0.2 * size).long()
    masked = u(b) < 0.5
    for i in torch.nonzero(masked).flatten().tolist():
        top, bottom, left, right = band[i].tolist()
        x[i, :, :top] = 0
        x[i, :, size - bottom:] = 0
        x[i, :, :, :left] = 0
        x[i, :, :, size - right:] = 0
    return x, masks


@pytest.mark.parametrize("seed", [0, 1, 7, 12])
def test_cpu_augmentation_is_bit_for_bit_the_old_one(seed: int) -> None:
    x = torch.rand(16, 1, 40, 40, generator=torch.Generator().manual_seed(100 + seed))
    masks = torch.rand(16, 3, 20, 20, generator=torch.Generator().manual_seed(200 + seed))
    got = augment_with_masks(x.clone(), masks.clone(), torch.Generator().manual_seed(seed))
    want = _augment_before_device_support(x.clone(), masks.clone(),
                                          torch.Generator().manual_seed(seed))
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])


def _problem(n: int = 24, size: int = 32):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
    targets = rng.integers(0, 2, (n, 3)).astype(float)
    targets[::4, 1] = np.nan
    return pixels, targets


def test_uint8_images_train_as_their_float_values() -> None:
    pixels, targets = _problem()
    common = dict(arch="resnet10t", mean=0.5, std=0.3,
                  loop=LoopOptions(epochs=1, seed=4, batch_size=8, progress=False))
    idx = np.arange(len(pixels))
    a = fit_network(pixels, targets, np.ones(len(pixels)), idx[:16], idx[16:], **common)
    b = fit_network(pixels.astype(np.float32) / np.float32(255), targets, np.ones(len(pixels)),
                    idx[:16], idx[16:], **common)
    for (k, va), vb in zip(a.network.state_dict().items(), b.network.state_dict().values(),
                           strict=True):
        assert torch.equal(va, vb), k
    assert a.history == b.history


def test_max_seconds_stops_inside_the_first_epoch() -> None:
    pixels, targets = _problem(n=64)
    idx = np.arange(64)
    loop = LoopOptions(epochs=50, seed=0, batch_size=4, max_seconds=1e-3, progress=False)
    fit = fit_network(pixels, targets, np.ones(64), idx[:56], idx[56:], arch="resnet10t",
                      mean=0.5, std=0.3, loop=loop)
    (entry,) = fit.history
    assert entry["steps_done"] == 1 and "wall-clock budget" in entry["stopped"]
    assert fit.best_epoch == 1 and "val_loss" in entry


@pytest.mark.parametrize(("device", "message"), [
    ("tpu", r"device must be 'cpu' or 'cuda', got 'tpu'"),
    pytest.param("cuda", r"sees no CUDA GPU on this machine; use --device cpu", marks=no_gpu),
])
def test_bad_devices_are_refused(device: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        resolve_device(device)


def test_cpu_is_a_device() -> None:
    assert resolve_device("cpu").type == "cpu"


@no_gpu
def test_cli_refuses_cuda_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "expert", "--data", str(tmp_path), "--out", str(tmp_path / "o"),
                 "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(r"--device cuda: torch .* sees no CUDA GPU", err[0])


@pytest.mark.parametrize(("argv", "message"), [
    (["--max-seconds", "0"], r"--max-seconds: must be a positive number of seconds, got 0"),
    (["--max-seconds", "nan"], r"--max-seconds: must be a positive number of seconds, got nan"),
    (["--batch-size", "1"], r"--batch-size: must be >= 2, got 1"),
    (["--device", "tpu"], r"--device: invalid choice: 'tpu'"),
])
def test_cli_bad_device_options(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                argv: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["train", "expert", "--data", str(tmp_path), "--out", str(tmp_path), *argv])
    assert exc.value.code == 2
    assert re.search(message, capsys.readouterr().err)


def test_cli_pretrain_takes_no_fine_tuning_options(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "expert", "--data", str(tmp_path), "--out", str(tmp_path / "o"),
                 "--pretrain", "ssl", "--box-weight", "0.1"]) == 2
    assert "--pretrain ssl takes no --init-from, --box-weight" in capsys.readouterr().err


def test_cli_arch_choices_are_the_architectures() -> None:
    from cxrpilot.cli._train_expert import ARCH_CHOICES

    assert set(ARCH_CHOICES) == set(ARCHITECTURES)


@pytest.mark.parametrize(("arch", "params"), [
    ("resnet18w64", (11.0e6, 11.4e6)),   # He et al. ResNet-18 widths (11.2 M with 3 channels)
    ("resnet34w64", (21.0e6, 21.5e6)),
    ("resnet50w64", (23.3e6, 23.8e6)),   # bottleneck blocks, 2048 features
])
def test_standard_width_networks(arch: str, params: tuple[float, float]) -> None:
    network = build_network(arch, 11)
    n = sum(p.numel() for p in network.parameters())
    assert params[0] <= n <= params[1]
    x = torch.randn(2, 1, 64, 64)
    with torch.inference_mode():
        logits, maps = LogitsAndMaps(network.eval())(x)
        direct = network(pixel_values=x).logits
    assert maps.shape == (2, 11, 2, 2)
    assert torch.allclose(logits, direct, atol=1e-4)
    assert torch.allclose(maps.mean(dim=(2, 3)), direct, atol=1e-4)


@pytest.mark.slow
def test_a_standard_width_network_exports_with_its_maps(tmp_path: Path) -> None:
    import onnx

    from cxrpilot.models.expert.network import export_onnx

    network = build_network("resnet18w64", 11).eval()
    diff = export_onnx(network, tmp_path / "model.onnx", 256, opset=20)
    assert diff < 1e-3
    graph = onnx.load(str(tmp_path / "model.onnx")).graph
    assert [o.name for o in graph.output] == ["logits", "maps"]
