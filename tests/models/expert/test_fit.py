"""The training loop's box guidance: masks, the box loss, and masks that move with the image."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cxrpilot.data import Study, StudyImage
from cxrpilot.models.expert._data import LABELS
from cxrpilot.models.expert._fit import (
    LoopOptions,
    TrainingLoop,
    augment,
    augment_with_masks,
    box_loss,
    box_masks,
    fit_network,
)
from cxrpilot.models.expert._train import input_boxes


def test_box_masks_cover_the_box_only() -> None:
    masks = box_masks([[(1, 0.25, 0.5, 0.5, 1.0)], []], num_labels=3, side=8)
    assert masks.shape == (2, 3, 8, 8)
    assert masks[0, 1, 4:8, 2:4].eq(1).all()
    assert masks.sum() == 8  # 4 rows x 2 columns, nothing for the other label or image


def test_box_loss_is_low_when_the_map_is_inside_the_box() -> None:
    masks = box_masks([[(0, 0.0, 0.0, 0.5, 0.5)]], num_labels=1, side=8)
    inside = torch.full((1, 1, 4, 4), -5.0)
    inside[0, 0, :2, :2] = 5.0
    outside = torch.full((1, 1, 4, 4), -5.0)
    outside[0, 0, 2:, 2:] = 5.0
    assert float(box_loss(inside, masks)) < 0.01
    assert float(box_loss(outside, masks)) > 5.0


def test_box_loss_ignores_labels_without_boxes() -> None:
    maps = torch.randn(2, 3, 4, 4, requires_grad=True)
    masks = box_masks([[(2, 0.0, 0.0, 1.0, 1.0)], []], num_labels=3, side=8)
    loss = box_loss(maps, masks)
    loss.backward()
    assert float(loss.detach()) == pytest.approx(0.0, abs=1e-6)  # the box covers it all
    grad = maps.grad.abs().sum(dim=(2, 3))
    assert grad[0, :2].eq(0).all() and grad[1].eq(0).all()
    empty = box_masks([[], []], num_labels=3, side=8)
    assert float(box_loss(maps.detach(), empty)) == 0.0


def test_masks_move_with_the_image() -> None:
    # a bright square and its mask: after the same random geometry they still coincide
    x = torch.zeros(6, 1, 64, 64)
    x[:, :, 20:36, 30:46] = 1.0
    masks = box_masks([[(0, 30 / 64, 20 / 64, 46 / 64, 36 / 64)]] * 6, num_labels=1, side=64)
    moved_x, moved_masks = augment_with_masks(x, masks, torch.Generator().manual_seed(3))
    for i in range(6):
        bright = moved_x[i, 0] > 0.6
        inside = moved_masks[i, 0] > 0.5
        overlap = (bright & inside).sum() / max(1, int((bright | inside).sum()))
        assert overlap > 0.7, i


def test_masks_do_not_change_the_random_draws() -> None:
    x = torch.rand(4, 1, 32, 32)
    masks = torch.zeros(4, 2, 16, 16)
    plain = augment(x.clone(), torch.Generator().manual_seed(7))
    with_masks, _ = augment_with_masks(x.clone(), masks, torch.Generator().manual_seed(7))
    assert torch.equal(plain, with_masks)


class _Table:
    def __init__(self, studies: list[Study]) -> None:
        self.studies = studies


def test_input_boxes_follow_the_padding(tmp_path) -> None:
    from PIL import Image as PILImage

    path = tmp_path / "wide.png"
    PILImage.new("L", (200, 100)).save(path)  # W=200, H=100: padded top and bottom
    image = (StudyImage(path=str(path), image_id="wide"),)
    study = Study(study_id="s", patient_id="p", source="nih-chestxray14", images=image,
                  meta={"boxes": (("Effusion", 100.0, 50.0, 50.0, 25.0),
                                  ("Fibrosis", 0.0, 0.0, 10.0, 10.0))})
    bare = Study(study_id="t", patient_id="q", source="nih-chestxray14", images=image)
    (box,), none = input_boxes(_Table([study, bare]), 64)
    j, x0, y0, x1, y1 = box
    assert LABELS[j] == "Pleural Effusion"  # NIH Effusion; Fibrosis has no output
    assert (x0, x1) == pytest.approx((0.5, 0.75))
    assert (y0, y1) == pytest.approx((0.25 + 0.25, 0.25 + 0.375))
    assert none == ()


@pytest.mark.slow
def test_guided_fit_pulls_the_map_into_the_box() -> None:
    # every positive image has its finding in the top-left quarter, boxed; the guided
    # network's map for it ends up with more mass there than the unguided one's
    rng = np.random.default_rng(0)
    n, size = 48, 64  # a 2 x 2 feature grid: the box is one of its four cells
    images = rng.random((n, size, size)).astype(np.float32) * 0.2
    targets = np.zeros((n, 1), dtype=np.float32)
    boxes: list[tuple] = []
    for i in range(n):
        if i % 2:
            images[i, 8:24, 8:24] += 0.8
            targets[i] = 1
            boxes.append(((0, 0.0, 0.0, 0.5, 0.5),))
        else:
            boxes.append(())
    idx = np.arange(n)
    common = dict(arch="resnet10t", mean=0.3, std=0.3, lr=3e-3,
                  loop=LoopOptions(epochs=3, seed=0, batch_size=16, progress=False))
    masks = box_masks([boxes[i] for i in idx[1::2]], 1, side=size)
    losses = {}
    for weight in (0.0, 1.0):
        fit = fit_network(images, targets, np.ones(n), idx, idx[:8], boxes=boxes,
                          box_weight=weight, **common)
        from cxrpilot.models.expert.network import LogitsAndMaps

        x = (torch.from_numpy(images[1::2])[:, None] - 0.3) / 0.3
        with torch.inference_mode():
            _, maps = LogitsAndMaps(fit.network)(x)
        losses[weight] = float(box_loss(maps, masks))
    assert losses[1.0] < losses[0.0]


def test_training_loop_batches_an_epoch_and_shows_only_while_one_runs() -> None:
    loop = TrainingLoop(LoopOptions(seed=0, epochs=2, batch_size=4, progress=False), n_train=10)
    loop.show(loss="1.0")  # before any epoch: nothing to show on, no error
    order = np.arange(10)[::-1]
    batches = [idx.tolist() for _, idx in loop.steps(1, order)]
    assert batches == [[6, 7, 8, 9], [2, 3, 4, 5], [0, 1]]
    loop.show(loss="0.5")  # between epochs
    assert list(loop.epochs()) == [1, 2] and loop.total_steps == 6
