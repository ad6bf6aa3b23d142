"""The training loop of the expert network on a cached image array. Imports torch."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from cxrpilot.models.expert.network import LogitsAndMaps, build_network

__all__ = ["FitResult", "LoopOptions", "TrainingLoop", "fit_network", "network_logits",
           "augment", "augment_with_masks", "box_masks", "box_loss", "Box", "resolve_device",
           "device_images", "to_unit"]


@dataclass
class FitResult:
    """The trained network and what happened while training it."""

    network: torch.nn.Module
    best_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)


def augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Random geometry and intensity changes of a batch (B, 1, S, S) of [0, 1] images.

    Small rotation, zoom (+-20 %) and shift; a random squeeze of one axis (so that the black
    padding bars that non-square sources get also appear on square sources, and cannot
    be a shortcut); gamma, contrast and brightness; for half the images, black bands of
    up to 20 % over the borders (where text markers and other source cues sit).
    """
    return augment_with_masks(x, None, g)[0]


def augment_with_masks(x: torch.Tensor, masks: torch.Tensor | None, g: torch.Generator,
                       ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """:func:`augment`, also moving ``masks`` (B, K, R, R), e.g. radiologists' boxes drawn
    over the same square, by the same geometry (intensity changes leave them alone). Draws
    the same random numbers as :func:`augment`, with or without masks."""
    b, dev = x.shape[0], x.device
    # the random numbers come from ``g`` (a CPU generator) whatever the device, so that a
    # seed draws the same augmentation on the CPU and on a GPU
    u = lambda *shape: torch.rand(*shape, generator=g).to(dev)
    angle = (u(b) * 2 - 1) * math.radians(8)
    scale = 1 + (u(b) * 2 - 1) * 0.2
    ones = torch.ones(b, device=dev)
    squeeze = torch.where(u(b) < 0.4, 1 - u(b) * 0.25, ones)
    on_x = u(b) < 0.5
    sx = scale * torch.where(on_x, squeeze, ones)
    sy = scale * torch.where(on_x, ones, squeeze)
    shift = (u(b, 2) * 2 - 1) * 0.06
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([
        torch.stack([cos / sx, -sin / sx, shift[:, 0]], 1),
        torch.stack([sin / sy, cos / sy, shift[:, 1]], 1),
    ], 1)
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
    # black bands (top, bottom, left, right rows/columns) over the borders, all images at once
    at = torch.arange(size, device=dev)[None]
    top, bottom, left, right = (band[:, k, None] for k in range(4))
    rows = (at < top) | (at >= size - bottom)
    cols = (at < left) | (at >= size - right)
    hidden = (rows[:, :, None] | cols[:, None, :]) & masked[:, None, None]
    x = x.masked_fill(hidden[:, None], 0.0)
    return x, masks


#: One radiologist's box over the square network input: (label index, x0, y0, x1, y1), the
#: corners as fractions of the square's side.
Box = tuple[int, float, float, float, float]

#: Side of the box masks drawn for the box loss (pooled to the feature grid afterwards).
_MASK_SIDE = 56


def box_masks(boxes: Sequence[Sequence[Box]], num_labels: int, side: int = _MASK_SIDE,
              ) -> torch.Tensor:
    """(B, L, side, side) masks, 1 inside each image's boxes of each label, else 0."""
    masks = torch.zeros(len(boxes), num_labels, side, side)
    for i, image_boxes in enumerate(boxes):
        for j, x0, y0, x1, y1 in image_boxes:
            c0, r0 = int(x0 * side), int(y0 * side)
            c1, r1 = max(c0 + 1, math.ceil(x1 * side)), max(r0 + 1, math.ceil(y1 * side))
            masks[i, j, r0:r1, c0:c1] = 1.0
    return masks


def box_loss(maps: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Mean over (image, label) pairs with a box of ``-log`` (share of the label's softmax
    map mass that lies inside its boxes): it pulls the class activation map's evidence into
    the radiologists' boxes (attention guidance, cf. Li et al. 2018, "Tell me where to look",
    CVPR). ``maps`` (B, L, h, w) are class activation logits, ``masks`` (B, L, R, R) boxes."""
    inside = F.adaptive_avg_pool2d(masks, maps.shape[-2:]).flatten(2)  # share of each cell
    has_box = inside.sum(-1) > 0
    if not has_box.any():
        return maps.sum() * 0.0
    attention = torch.softmax(maps.flatten(2), dim=-1)
    mass = (attention * inside).sum(-1)[has_box]
    return -torch.log(mass.clamp_min(1e-6)).mean()


def _masked_bce(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    known = ~torch.isnan(targets)
    loss = F.binary_cross_entropy_with_logits(
        logits, torch.nan_to_num(targets), reduction="none"
    )
    w = weights[:, None] * known
    return (loss * w).sum() / w.sum().clamp_min(1e-8)


def to_unit(batch: np.ndarray) -> np.ndarray:
    """float32 [0, 1] pixels of cached images: float arrays as they are, uint8 over 255."""
    if batch.dtype == np.uint8:
        return batch.astype(np.float32) / np.float32(255)
    return batch.astype(np.float32)


def _unit_tensor(batch: torch.Tensor) -> torch.Tensor:
    """:func:`to_unit` for a tensor (on any device)."""
    if batch.dtype == torch.uint8:
        return batch.float() / 255.0
    return batch.float()


def resolve_device(device: str) -> torch.device:
    """``"cpu"`` or ``"cuda"`` (``"cuda:N"``) as a :class:`torch.device`; a CUDA device that
    this machine does not have is refused."""
    from cxrpilot.errors import InvalidInputError

    if not isinstance(device, str) or device.split(":")[0] not in ("cpu", "cuda"):
        raise InvalidInputError(f"device must be 'cpu' or 'cuda', got {device!r}")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError(
            f"device {device!r} asked for, but torch {torch.__version__} sees no CUDA GPU on "
            "this machine; use --device cpu")
    return dev


def start_run(seed: int, device: str) -> tuple[torch.device, torch.Generator, np.random.Generator]:
    """The start of a seeded training run on ``device``: torch's global seed, the CPU
    generator that draws the augmentations and the numpy generator that draws the batches
    (both from ``seed``), and cuDNN's autotuner on a GPU; returns ``(device, g, rng)``."""
    dev = resolve_device(device)
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    return dev, g, rng


def device_images(images: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor | np.ndarray:
    """The cached images where the network trains: on a GPU the whole array is copied there
    once (uint8 stays uint8), on the CPU it stays the numpy array it was."""
    if device.type == "cpu":
        return images
    if isinstance(images, torch.Tensor):
        return images.to(device)
    # a read-only array (a decoded pack) is copied once: torch wants writable memory
    return torch.from_numpy(np.require(images, requirements=["C", "W"])).to(device)


@dataclass(frozen=True)
class LoopOptions:
    """How a training loop runs: what :func:`fit_network` and
    :func:`._ssl.pretrain_simsiam` share.

    Each of ``epochs`` epochs draws ``samples_per_epoch`` training images (default: as many
    as there are) and takes them in steps of ``batch_size``. ``seed`` seeds the batch order,
    the augmentation and the initialisation; ``device`` is ``"cpu"`` or ``"cuda"``;
    ``max_seconds`` stops the loop at the first step past that wall-clock time; ``progress``
    shows progress bars.
    """

    epochs: int
    seed: int
    samples_per_epoch: int | None = None
    batch_size: int = 64
    device: str = "cpu"
    max_seconds: float | None = None
    progress: bool = True


class TrainingLoop:
    """The epochs and steps of one run of :class:`LoopOptions`: the batches of each epoch,
    a progress bar per epoch, and the wall-clock budget (counted from this object's
    creation). ``for epoch in loop.epochs()`` ends after the epoch the budget ran out in;
    ``for step, idx in loop.steps(epoch, order)`` after the step it ran out at."""

    def __init__(self, options: LoopOptions, n_train: int, *, name: str = "epoch") -> None:
        from tqdm.auto import tqdm

        self._tqdm = tqdm
        self.options = options
        self.name = name
        self.per_epoch = options.samples_per_epoch or n_train
        self.steps_per_epoch = max(1, math.ceil(self.per_epoch / options.batch_size))
        self.out_of_time = False
        self._t_start = time.perf_counter()
        self._bar = None

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.options.epochs

    @property
    def stopped(self) -> str:
        """The history's note of a loop that ran out of time."""
        return f"wall-clock budget of {self.options.max_seconds:.0f} s reached"

    def seconds(self) -> float:
        """Seconds since the start, rounded to 0.1."""
        return round(time.perf_counter() - self._t_start, 1)

    def draw(self, rng: np.random.Generator, train_idx: np.ndarray,
             p: np.ndarray | None = None) -> np.ndarray:
        """An epoch's images: ``per_epoch`` of ``train_idx``, with replacement (weights ``p``)."""
        return rng.choice(train_idx, size=self.per_epoch, replace=True, p=p)

    def epochs(self) -> Iterator[int]:
        for epoch in range(1, self.options.epochs + 1):
            yield epoch
            if self.out_of_time:
                return

    def steps(self, epoch: int, order: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        """``(step, sorted image indices)`` of each batch of ``order``, behind a progress bar."""
        opts = self.options
        self._bar = self._tqdm(range(self.steps_per_epoch),
                               desc=f"{self.name} {epoch}/{opts.epochs}",
                               disable=not opts.progress, leave=False, unit="batch")
        try:
            for step in self._bar:
                yield step, np.sort(order[step * opts.batch_size : (step + 1) * opts.batch_size])
                if opts.max_seconds is not None and \
                        time.perf_counter() - self._t_start > opts.max_seconds:
                    self.out_of_time = True
                    return
        finally:
            self._bar.close()
            self._bar = None

    def show(self, **postfix: str) -> None:
        """Values shown after the running epoch's progress bar (none between epochs)."""
        if self._bar is not None:
            self._bar.set_postfix(**postfix)

    def write(self, line: str) -> None:
        """A line under the progress bars (when they are shown)."""
        if self.options.progress:
            self._tqdm.write(line)


def _batch(images: np.ndarray | torch.Tensor, idx: np.ndarray) -> torch.Tensor:
    """(B, 1, S, S) float32 [0, 1] pixels of ``images[idx]``, on the images' device."""
    if isinstance(images, torch.Tensor):
        return _unit_tensor(images[torch.from_numpy(idx).to(images.device)])[:, None]
    return torch.from_numpy(to_unit(images[idx]))[:, None]


def network_logits(network: torch.nn.Module, images: np.ndarray | torch.Tensor,
                   index: np.ndarray, mean: float, std: float, *,
                   batch_size: int = 256) -> np.ndarray:
    """Logits of the network for ``images[index]`` (cached [0, 1] float or uint8 arrays, or
    such a tensor on the network's device), in float32."""
    network.eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(index), batch_size):
            x = _batch(images, np.asarray(index[i : i + batch_size]))
            x = ((x - mean) / std).contiguous(memory_format=torch.channels_last)
            out.append(network(pixel_values=x).logits.float().cpu().numpy())
    return np.concatenate(out).astype(np.float64) if out else np.zeros((0, 0))


def fit_network(
    images: np.ndarray,
    targets: np.ndarray,
    weights: np.ndarray,
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    *,
    arch: str,
    mean: float,
    std: float,
    loop: LoopOptions,
    lr: float = 3e-3,
    init_state: dict[str, torch.Tensor] | None = None,
    boxes: Sequence[Sequence[Box]] | None = None,
    box_weight: float = 0.0,
) -> FitResult:
    """Train with AdamW and a one-cycle schedule (from scratch, or from ``init_state`` when
    fine-tuning); keep the epoch with the lowest validation loss.

    ``images`` is (N, S, S) in [0, 1] (float16 is fine) or uint8 (0-255), ``targets``
    (N, L) with NaN for unknown labels. Each epoch draws ``loop.samples_per_epoch`` training
    images (default: as many as there are) with replacement, with probability proportional
    to ``weights`` (N,) — e.g. weights that balance classes within each source.

    With ``boxes`` (one sequence of :data:`Box` per image, empty where none) and
    ``box_weight`` > 0, the loss adds ``box_weight`` times :func:`box_loss` for the images
    of each batch that have boxes, moved by the same augmentation as their pixels.

    ``loop.device="cuda"`` trains on the GPU: the images are copied there once, augmented
    there, and the forward pass runs under bfloat16 autocast with channels-last memory (the
    random draws stay those of the seed). On the CPU nothing of that changes the numbers.
    ``loop.max_seconds`` stops training at the first step past that wall-clock time (the
    epoch it cuts short is validated and can be kept); ``history`` then says so.
    """
    training = TrainingLoop(loop, len(train_idx))
    dev, g, rng = start_run(loop.seed, loop.device)
    cuda = dev.type == "cuda"
    # channels-last convolutions train ~1.7x faster on the CPU
    network = build_network(arch, targets.shape[1])
    if init_state is not None:  # fine-tuning: start from a trained network of the same shape
        network.load_state_dict(init_state)
    network = network.to(dev).to(memory_format=torch.channels_last)
    with_maps = LogitsAndMaps(network)
    pixels = device_images(images, dev)
    guided = boxes is not None and box_weight > 0
    p_train = weights[train_idx] / weights[train_idx].sum()
    opt = torch.optim.AdamW(network.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=training.total_steps,
                                                pct_start=0.2)
    y_all = torch.from_numpy(targets.astype(np.float32)).to(dev)
    ones = torch.ones(len(targets), device=dev)
    val_weights = torch.from_numpy(weights[val_idx].astype(np.float32)).to(dev)
    best_loss, best_state, best_epoch = math.inf, None, 0
    history: list[dict[str, float]] = []
    for epoch in training.epochs():
        network.train()
        order = training.draw(rng, train_idx, p=p_train)
        running = 0.0
        running_dev = torch.zeros((), device=dev)
        done = 0
        for step, idx in training.steps(epoch, order):
            x = _batch(pixels, idx)
            boxed = guided and any(boxes[i] for i in idx)
            masks = box_masks([boxes[i] for i in idx], targets.shape[1]).to(dev) \
                if boxed else None
            x, masks = augment_with_masks(x, masks, g)
            x = ((x - mean) / std).contiguous(memory_format=torch.channels_last)
            t_idx = torch.from_numpy(idx).to(dev)
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=cuda):
                if masks is None:
                    loss = _masked_bce(network(pixel_values=x).logits.float(), y_all[t_idx],
                                       ones[t_idx])
                else:  # the same logits, with the maps they are the mean of
                    logits, maps = with_maps(x)
                    loss = _masked_bce(logits.float(), y_all[t_idx], ones[t_idx]) \
                        + box_weight * box_loss(maps.float(), masks)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            done = step + 1
            if cuda:  # no host sync per step: the loss is read every 25 steps
                running_dev += loss.detach()
                if step % 25 == 0:
                    training.show(loss=f"{float(running_dev) / (step + 1):.3f}")
            else:
                running += float(loss.detach())
                training.show(loss=f"{running / (step + 1):.3f}")
        if cuda:
            running = float(running_dev)
        entry = {"epoch": epoch, "train_loss": running / done}
        if training.out_of_time:
            entry["steps_done"] = done
            entry["stopped"] = training.stopped
        if len(val_idx):
            logits = torch.from_numpy(network_logits(network, pixels, val_idx, mean, std))
            val_loss = float(_masked_bce(logits.float().to(dev), y_all[torch.from_numpy(val_idx).to(dev)],
                                         val_weights))
            entry["val_loss"] = val_loss
        else:
            val_loss = entry["train_loss"]
        history.append(entry)
        training.write("epoch {epoch}: train loss {train_loss:.4f}".format(**entry)
                       + (f", validation loss {val_loss:.4f}" if len(val_idx) else ""))
        if val_loss < best_loss:
            best_loss, best_epoch = val_loss, epoch
            best_state = copy.deepcopy(network.state_dict())
    if best_state is not None:
        network.load_state_dict(best_state)
    network = network.to("cpu").to(memory_format=torch.contiguous_format).eval()
    return FitResult(network=network, best_epoch=best_epoch, history=history)
