"""Fine-tuning Janus-Pro on report data: LoRA (peft) or full, with checkpoints and resume.

Each training example is one :class:`~cxrpilot.data.Study`: its first image with a path (a
frontal view preferred), its FINDINGS / IMPRESSION text as the answer, its indication in the
prompt. The sequence is exactly what inference sees — BOS, chat-formatted prompt with the
expanded image tokens — followed by ``" " + answer + EOS``; the loss is on the answer tokens
and EOS only.

Output folder layout::

    OUT/train_log.jsonl          one JSON object per event (start, step, validation, checkpoint, end)
    OUT/checkpoint-<step>/       weights (LoRA adapter or full model) + trainer_state.pt
    OUT/final/                   the last weights, same form
    OUT/merged/                  with merge=True: a full HF-format model + processor, for serving

Resuming (``resume=True``) continues from the newest ``checkpoint-<step>``: weights,
optimizer, scheduler, RNG states and the position in the (seeded) data order are restored,
so a resumed run takes the same steps an uninterrupted one would.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cxrpilot.errors import InvalidDatasetError, InvalidInputError, ModelLoadError

__all__ = ["FinetuneConfig", "FinetuneResult", "TrainExample", "examples_from_studies", "finetune"]

LM_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
_FRONTAL = ("PA", "AP", "FRONTAL")


@dataclass(frozen=True)
class FinetuneConfig:
    """Options of :func:`finetune` (all have the defaults of ``cxrpilot train janus``).

    Attributes
    ----------
    method : {"lora", "full"}
        LoRA adapters on the language model (the paper's setting) or full fine-tuning of the
        language model and aligner (the vision tower stays frozen unless ``train_vision``).
    lora_rank, lora_alpha, lora_dropout, lora_targets
        LoRA rank (64 as in the Janus-Pro-CXR paper), scaling, dropout and the language-model
        projections it adapts (module names, matched inside the language model only).
    train_aligner : bool
        Also train the vision-to-language aligner (with LoRA: a full trainable copy).
    train_vision : bool
        Full fine-tuning only: train the SigLIP vision tower too.
    learning_rate, weight_decay, warmup_steps, max_grad_norm
        AdamW with linear warm-up then linear decay to zero.
    epochs, max_steps : int, int or None
        Passes over the data; ``max_steps`` (optimizer steps) stops earlier when given.
    batch_size, grad_accum : int
        Examples per forward pass; forward passes per optimizer step.
    precision : {"auto", "bf16", "fp32"}
        ``auto``: bf16 autocast on CUDA devices that support it, fp32 otherwise.
    save_every, eval_every : int or None
        Optimizer steps between checkpoints / validations (None: at the end only).
    eval_generate, eval_max_new_tokens : int
        Validation studies to write reports for (report metrics) and their length bound.
    keep_checkpoints : int
        Newest checkpoints kept on disk.
    max_answer_tokens : int
        Answers are truncated to this many tokens (EOS added after).
    chat_format : str or None
        None: the base model's (see :mod:`cxrpilot.models.janus._prompt`).
    seed : int
        Data order, LoRA initialisation and dropout.
    """

    method: str = "lora"
    lora_rank: int = 64
    lora_alpha: int = 128
    lora_dropout: float = 0.05
    lora_targets: tuple[str, ...] = LM_TARGETS
    train_aligner: bool = True
    train_vision: bool = False
    learning_rate: float = 2e-4
    weight_decay: float = 0.0
    warmup_steps: int = 0
    max_grad_norm: float = 1.0
    epochs: int = 3
    max_steps: int | None = None
    batch_size: int = 4
    grad_accum: int = 1
    precision: str = "auto"
    save_every: int | None = 500
    eval_every: int | None = None
    eval_generate: int = 16
    eval_max_new_tokens: int = 256
    keep_checkpoints: int = 2
    max_answer_tokens: int = 512
    chat_format: str | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in ("lora", "full"):
            raise InvalidInputError(f"method must be 'lora' or 'full', got {self.method!r}")
        if self.precision not in ("auto", "bf16", "fp32"):
            raise InvalidInputError(f"precision must be 'auto', 'bf16' or 'fp32', got {self.precision!r}")
        for name in ("lora_rank", "batch_size", "grad_accum", "epochs", "keep_checkpoints", "max_answer_tokens"):
            if getattr(self, name) < 1:
                raise InvalidInputError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if not 0.0 <= self.lora_dropout < 1.0:
            raise InvalidInputError(f"lora_dropout must be in [0, 1), got {self.lora_dropout!r}")
        if self.learning_rate <= 0:
            raise InvalidInputError(f"learning_rate must be > 0, got {self.learning_rate!r}")


@dataclass(frozen=True)
class TrainExample:
    """One (image, report) pair as training sees it."""

    study_id: str
    image_path: str
    answer: str
    indication: str | None = None


@dataclass(frozen=True)
class FinetuneResult:
    """What :func:`finetune` did.

    Attributes
    ----------
    output_dir, final_dir : Path
    merged_dir : Path or None
        The full model for serving (with ``merge=True``); load it with
        :func:`cxrpilot.models.janus.load`.
    steps : int
        Optimizer steps done in all (resumed ones included).
    losses : list of float
        Training loss per optimizer step of this call.
    validations : list of dict
        Validation records of this call (``val_loss`` and report metrics when computed).
    log_path : Path
    skipped : dict of str to int
        Studies left out and why (``"no image"``, ``"no report text"``).
    """

    output_dir: Path
    final_dir: Path
    merged_dir: Path | None
    steps: int
    losses: list[float]
    validations: list[dict[str, Any]] = field(default_factory=list)
    log_path: Path | None = None
    skipped: dict[str, int] = field(default_factory=dict)


def examples_from_studies(studies: Sequence[Any]) -> tuple[list[TrainExample], dict[str, int]]:
    """Training examples from Study records, and counts of studies left out (with reasons)."""
    from cxrpilot.models.janus._prompt import format_answer

    examples: list[TrainExample] = []
    skipped: dict[str, int] = {}
    for study in studies:
        images = [im for im in study.images if im.path]
        if not images:
            skipped["no image"] = skipped.get("no image", 0) + 1
            continue
        frontal = [im for im in images if (im.view or "").upper() in _FRONTAL]
        image = (frontal or images)[0]
        try:
            answer = format_answer(study.sections.get("findings"), study.sections.get("impression"))
        except ValueError:
            skipped["no report text"] = skipped.get("no report text", 0) + 1
            continue
        indication = (study.sections.get("indication") or "").strip() or None
        examples.append(TrainExample(study.study_id, str(image.path), answer, indication))
    return examples, skipped


class _Log:
    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, event: str, **fields: Any) -> dict[str, Any]:
        record = {"event": event, "time": time.time(), **fields}
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, default=str) + "\n")
        return record


def _default_image_loader(path: str) -> Any:
    from cxrpilot import imaging

    return imaging.load(path)


def _encode(example: TrainExample, processor: Any, chat_format: Any, max_answer: int) -> tuple[list[int], list[int]]:
    from cxrpilot.models.janus._prompt import build_question
    from cxrpilot.models.janus._reporter import encode_prompt

    tok = processor.tokenizer
    prompt = encode_prompt(processor, chat_format, build_question(indication=example.indication))
    answer = tok(" " + example.answer, add_special_tokens=False)["input_ids"][:max_answer]
    answer = list(answer) + [tok.eos_token_id]
    return prompt + answer, [-100] * len(prompt) + answer


def _collate(batch: list[TrainExample], processor: Any, chat_format: Any, max_answer: int,
             images: dict[str, Any], load_image: Callable[[str], Any]) -> dict[str, Any]:
    """Right-padded ids, labels (-100 outside answers) and pixel values."""
    import torch

    from cxrpilot.models.janus._reporter import preprocess_images

    tok = processor.tokenizer
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    encoded = [_encode(ex, processor, chat_format, max_answer) for ex in batch]
    width = max(len(ids) for ids, _ in encoded)
    input_ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids, _ in encoded])
    labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in encoded])
    mask = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in encoded])
    radiographs = []
    for ex in batch:
        if ex.image_path not in images:
            images[ex.image_path] = load_image(ex.image_path)
        radiographs.append(images[ex.image_path])
    return {"input_ids": input_ids, "attention_mask": mask, "labels": labels,
            "pixel_values": preprocess_images(processor, radiographs)}


def _order(n: int, seed: int, epoch: int) -> list[int]:
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(n))
    rng.shuffle(order)
    return order


def _prepare_model(base: Any, config: FinetuneConfig) -> Any:
    """Freeze/unfreeze and wrap with LoRA as configured."""
    model = base
    for p in model.parameters():
        p.requires_grad_(False)
    if config.method == "lora":
        from peft import LoraConfig, get_peft_model

        targets = "|".join(sorted(set(config.lora_targets)))
        lora = LoraConfig(
            r=config.lora_rank,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            target_modules=rf".*language_model\..*\.({targets})$",
            modules_to_save=["model.aligner"] if config.train_aligner else None,
            bias="none",
        )
        return get_peft_model(model, lora)
    for p in model.model.language_model.parameters():
        p.requires_grad_(True)
    for p in model.lm_head.parameters():
        p.requires_grad_(True)
    if config.train_aligner:
        for p in model.model.aligner.parameters():
            p.requires_grad_(True)
    if config.train_vision:
        for p in model.model.vision_model.parameters():
            p.requires_grad_(True)
    return model


def _save_weights(model: Any, processor: Any, folder: Path, config: FinetuneConfig) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(folder))
    if config.method == "full":
        processor.save_pretrained(str(folder))


def _load_weights(model: Any, folder: Path, config: FinetuneConfig) -> None:
    if config.method == "lora":
        from peft import load_peft_weights, set_peft_model_state_dict

        set_peft_model_state_dict(model, load_peft_weights(str(folder), device="cpu"))
        return
    from safetensors.torch import load_file

    index = folder / "model.safetensors.index.json"
    files = (sorted({folder / f for f in json.loads(index.read_text())["weight_map"].values()})
             if index.is_file() else [folder / "model.safetensors"])
    state: dict[str, Any] = {}
    for f in files:
        state.update(load_file(str(f)))
    model.load_state_dict(state, strict=False)


def _latest_checkpoint(out: Path) -> Path | None:
    found = [(int(p.name.split("-")[1]), p) for p in out.glob("checkpoint-*")
             if p.name.split("-")[1].isdigit() and (p / "trainer_state.pt").is_file()]
    return max(found)[1] if found else None


def _report_metrics(references: list[str], hypotheses: list[str]) -> dict[str, float]:
    """Report metrics (BLEU, METEOR, ROUGE-L, CIDEr-D) from :mod:`cxrpilot.evaluation`."""
    from cxrpilot.evaluation import report_metrics

    return {k: float(v) for k, v in report_metrics(hypotheses, references).items()}


def finetune(
    model_path: str | Path,
    train_studies: Sequence[Any],
    output_dir: str | Path,
    *,
    val_studies: Sequence[Any] = (),
    config: FinetuneConfig | None = None,
    resume: bool = False,
    merge: bool = False,
    device: str | None = None,
    load_image: Callable[[str], Any] | None = None,
    progress: bool = True,
) -> FinetuneResult:
    """Fine-tune an HF-format Janus checkpoint on report data.

    Parameters
    ----------
    model_path : str or Path
        The base model (HF format; convert DeepSeek-format weights with
        ``cxrpilot models import-janus`` first).
    train_studies, val_studies : sequence of Study
        Studies with an image path and FINDINGS and/or IMPRESSION text (others are skipped
        and counted in :attr:`FinetuneResult.skipped`).
    output_dir : str or Path
        Where checkpoints, the run log and the final weights go. Must be empty unless
        ``resume`` is set.
    config : FinetuneConfig or None
    resume : bool
        Continue from the newest checkpoint in ``output_dir``.
    merge : bool
        Merge LoRA into the base and save a full model to ``output_dir/merged``.
    device : str or None
        None: CUDA when present, else CPU.
    load_image : callable or None
        ``path -> Radiograph``; default :func:`cxrpilot.imaging.load`.
    progress : bool
        Show a tqdm bar.

    Returns
    -------
    FinetuneResult

    Raises
    ------
    InvalidDatasetError
        No usable training study.
    ModelLoadError
        Bad base model path, a non-empty output folder without ``resume``, or ``resume``
        with no checkpoint to resume from.
    """
    import torch
    from tqdm import tqdm
    from transformers import get_linear_schedule_with_warmup

    from cxrpilot.models.janus._prompt import get_chat_format
    from cxrpilot.models.janus._reporter import load, read_meta

    config = config or FinetuneConfig()
    out = Path(output_dir).expanduser()
    if out.exists() and any(out.iterdir()) and not resume:
        raise ModelLoadError(
            f"output folder {str(out)!r} is not empty; pass resume=True (--resume) to continue "
            "the run in it, or choose a new folder"
        )
    checkpoint = _latest_checkpoint(out) if resume and out.exists() else None
    if resume and checkpoint is None:
        raise ModelLoadError(f"nothing to resume in {str(out)!r}: no checkpoint-<step> folder with trainer_state.pt")
    train, skipped = examples_from_studies(train_studies)
    val, _ = examples_from_studies(val_studies)
    if not train:
        raise InvalidDatasetError(
            f"none of the {len(train_studies)} training studies has both an image path and "
            f"FINDINGS/IMPRESSION text (left out: {skipped})"
        )
    load_image = load_image or _default_image_loader

    torch.manual_seed(config.seed)
    base = load(model_path, device=device, dtype=torch.float32, chat_format=config.chat_format)
    processor, chat_format = base.processor, get_chat_format(config.chat_format or base.chat_format.name)
    dev = base.device
    use_bf16 = config.precision == "bf16" or (
        config.precision == "auto" and dev.type == "cuda" and torch.cuda.is_bf16_supported()
    )
    model = _prepare_model(base.model, config)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    per_epoch = math.ceil(len(train) / config.batch_size)
    total = config.epochs * math.ceil(per_epoch / config.grad_accum)
    if config.max_steps is not None:
        total = min(total, config.max_steps)
    scheduler = get_linear_schedule_with_warmup(optimizer, config.warmup_steps, total)

    out.mkdir(parents=True, exist_ok=True)
    log = _Log(out / "train_log.jsonl")
    step, epoch, batch_in_epoch = 0, 0, 0
    if checkpoint is not None:
        state = torch.load(checkpoint / "trainer_state.pt", map_location="cpu", weights_only=False)
        _load_weights(model, checkpoint, config)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, epoch, batch_in_epoch = state["step"], state["epoch"], state["batch_in_epoch"]
        torch.set_rng_state(state["torch_rng"])
        random.setstate(state["python_rng"])
        log.write("resume", checkpoint=str(checkpoint), step=step)
    else:
        log.write("start", model_path=str(model_path), config=asdict(config), n_train=len(train),
                  n_val=len(val), skipped=skipped, device=str(dev), bf16=use_bf16,
                  trainable_parameters=sum(p.numel() for p in params), total_steps=total)

    images: dict[str, Any] = {}

    def forward(batch: dict[str, Any]) -> Any:
        batch = {k: v.to(dev) for k, v in batch.items()}
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=use_bf16):
            return model(**batch).loss

    def save(folder: Path) -> None:
        _save_weights(model, processor, folder, config)
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "step": step, "epoch": epoch, "batch_in_epoch": batch_in_epoch,
                    "torch_rng": torch.get_rng_state(), "python_rng": random.getstate(),
                    "config": asdict(config)}, folder / "trainer_state.pt")
        log.write("checkpoint", step=step, path=str(folder))
        kept = sorted((int(p.name.split("-")[1]), p) for p in out.glob("checkpoint-*")
                      if p.name.split("-")[1].isdigit())
        for _, old in kept[: max(0, len(kept) - config.keep_checkpoints)]:
            shutil.rmtree(old, ignore_errors=True)

    def validate() -> dict[str, Any]:
        model.eval()
        losses = []
        with torch.no_grad():
            for i in range(0, len(val), config.batch_size):
                chunk = val[i:i + config.batch_size]
                losses.append(float(forward(_collate(chunk, processor, chat_format,
                                                     config.max_answer_tokens, images, load_image))))
        record: dict[str, Any] = {"step": step, "val_loss": sum(losses) / len(losses)}
        subset = val[: config.eval_generate]
        if subset:
            reporter = type(base)(model=model, processor=processor, model_dir=base.model_dir,
                                  chat_format=chat_format, model_id=base.model_id, version=base.version)
            written = reporter.generate([load_image(ex.image_path) for ex in subset],
                                        indications=[ex.indication for ex in subset],
                                        max_new_tokens=config.eval_max_new_tokens,
                                        batch_size=config.batch_size)
            record.update(_report_metrics([ex.answer for ex in subset], [w.text for w in written]))
        model.train()
        return log.write("validation", **record)

    losses: list[float] = []
    validations: list[dict[str, Any]] = []
    bar = tqdm(total=total, initial=step, unit="step", disable=not progress, desc="janus fine-tune")
    started = time.perf_counter()
    while step < total and epoch < config.epochs:
        order = _order(len(train), config.seed, epoch)
        batches = [order[i:i + config.batch_size] for i in range(0, len(order), config.batch_size)]
        while batch_in_epoch < len(batches) and step < total:
            group = batches[batch_in_epoch: batch_in_epoch + config.grad_accum]
            optimizer.zero_grad(set_to_none=True)
            loss_sum = 0.0
            for idx in group:
                batch = _collate([train[i] for i in idx], processor, chat_format,
                                 config.max_answer_tokens, images, load_image)
                loss = forward(batch)
                (loss / len(group)).backward()
                loss_sum += float(loss.detach()) / len(group)
            if config.max_grad_norm:
                torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            step += 1
            batch_in_epoch += len(group)
            losses.append(loss_sum)
            log.write("step", step=step, epoch=epoch, loss=loss_sum, lr=scheduler.get_last_lr()[0],
                      elapsed_s=time.perf_counter() - started)
            bar.update(1)
            bar.set_postfix(loss=f"{loss_sum:.4f}")
            if val and config.eval_every and step % config.eval_every == 0:
                validations.append(validate())
            if config.save_every and step % config.save_every == 0 and step < total:
                save(out / f"checkpoint-{step}")
        if batch_in_epoch >= len(batches):
            epoch, batch_in_epoch = epoch + 1, 0
    bar.close()
    if val and not (config.eval_every and step % config.eval_every == 0 and validations):
        validations.append(validate())
    final = out / "final"
    save(final)
    merged_dir = None
    if merge:
        merged_dir = out / "merged"
        if merged_dir.exists():
            shutil.rmtree(merged_dir)
        full = model.merge_and_unload() if config.method == "lora" else model
        full.eval()
        full.save_pretrained(str(merged_dir))
        processor.save_pretrained(str(merged_dir))
        meta = read_meta(base.model_dir)
        meta.update({"model_id": f"janus:{out.name}", "model_version": f"finetuned-step{step}",
                     "chat_format": chat_format.name, "finetuned_from": str(model_path)})
        (merged_dir / "cxrpilot_janus.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    log.write("end", step=step, final=str(final), merged=str(merged_dir) if merged_dir else None)
    return FinetuneResult(output_dir=out, final_dir=final, merged_dir=merged_dir, steps=step,
                          losses=losses, validations=validations, log_path=log.path, skipped=skipped)
