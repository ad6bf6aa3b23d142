"""Janus-Pro as a report writer: load local HF-format weights, build prompts, generate.

It returns model outputs (:class:`JanusOutput`: text, sections, findings read from the text,
token counts, timings); :mod:`cxrpilot.pipeline` composes them into a draft.

A thin, stateless adapter over ``transformers.JanusForConditionalGeneration`` and
``JanusProcessor``: sizes (image size, image-token count, vocabulary) come from the saved
config and processor; torch and transformers are imported inside the functions.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cxrpilot.draft import Finding
from cxrpilot.errors import InvalidInputError, ModelLoadError
from cxrpilot.models.composer import clean_report_text
from cxrpilot.models.janus._convert import read_checkpoint_config, read_json_object
from cxrpilot.models.janus._parse import read_report
from cxrpilot.models.janus._prompt import ChatFormat, build_question, get_chat_format

#: Prompts are left-padded to a multiple of this many tokens (:attr:`JanusReporter.prompt_multiple`).
PROMPT_MULTIPLE = 8

if TYPE_CHECKING:  # pragma: no cover
    from cxrpilot.imaging import Radiograph

__all__ = ["JanusOutput", "JanusReporter", "load", "META_FILE", "check_model_dir", "encode_prompt",
           "preprocess_images"]

#: Written beside the weights by ``import-janus`` and ``train janus``: chat format, ids.
META_FILE = "cxrpilot_janus.json"

_WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
_IMPORT_HINT = "run `cxrpilot models import-janus SRC DST` first"


@dataclass(frozen=True)
class JanusOutput:
    """What Janus wrote for one radiograph.

    Attributes
    ----------
    source : str
        The radiograph's source.
    question : str
        The user-turn text (indication, expert analysis, instruction).
    text : str
        The generated report, special tokens removed.
    findings_text, impression_text : str
        Its FINDINGS and IMPRESSION sections.
    findings : tuple of Finding
        All 14 observations read from the text (not mentioned -> not assessed).
    prompt_tokens, new_tokens : int
        Tokens in the prompt (image tokens included) and tokens generated (EOS included).
    timings : dict of str to float
        Seconds for the batch this radiograph was in: ``"preprocess"``, ``"generate"``;
        ``"parse"`` for this output alone.
    batch_size : int
        How many radiographs shared the batch (and its timings).
    """

    source: str
    question: str
    text: str
    findings_text: str
    impression_text: str
    findings: tuple[Finding, ...]
    prompt_tokens: int
    new_tokens: int
    timings: dict[str, float] = field(default_factory=dict)
    batch_size: int = 1


def check_model_dir(path: str | Path) -> Path:
    """Check that ``path`` holds an HF-format Janus checkpoint; raise ModelLoadError if not.

    The message names the path, what was found and what to do.
    """
    folder = Path(path).expanduser()
    if not folder.exists():
        raise ModelLoadError(
            f"Janus model folder {str(folder)!r} does not exist; expected a folder with "
            "config.json, model weights and the processor/tokenizer files"
        )
    if not folder.is_dir():
        raise ModelLoadError(
            f"Janus model path {str(folder)!r} is a file; expected a folder with config.json, "
            "model weights and the processor/tokenizer files"
        )
    read_checkpoint_config(
        folder, "janus",
        missing=f"an HF-format Janus checkpoint (for the original DeepSeek format {_IMPORT_HINT})",
        other_format=f"{str(folder)!r} holds an original DeepSeek-format checkpoint "
        f"(model_type 'multi_modality'); {_IMPORT_HINT} to convert it to HF format",
    )
    if not any((folder / name).is_file() for name in _WEIGHT_FILES):
        raise ModelLoadError(
            f"no model weights in {str(folder)!r}; expected one of {', '.join(_WEIGHT_FILES)}"
        )
    if not (folder / "processor_config.json").is_file() or not (folder / "tokenizer.json").is_file():
        raise ModelLoadError(
            f"{str(folder)!r} has weights but no processor_config.json / tokenizer.json; "
            "save the JanusProcessor beside the model (processor.save_pretrained)"
        )
    return folder


def resolve_device(device: str | None) -> Any:
    """``device`` as a torch.device; None -> CUDA when present, else CPU."""
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: Any, device: Any) -> Any:
    """None -> bfloat16 where the hardware computes it natively (a CUDA device with bf16
    support; a CPU with AVX512-BF16 or AMX), float32 otherwise; strings accepted."""
    import torch

    if dtype is None:
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        if device.type == "cpu":
            from cxrpilot.models.janus._speed import cpu_has_native_bf16

            if cpu_has_native_bf16():
                return torch.bfloat16
        return torch.float32
    if isinstance(dtype, str):
        value = getattr(torch, dtype.removeprefix("torch."), None)
        if not isinstance(value, torch.dtype):
            raise InvalidInputError(f"unknown dtype {dtype!r}; expected e.g. 'float32' or 'bfloat16'")
        return value
    return dtype


def read_meta(folder: Path) -> dict[str, Any]:
    """The cxrpilot metadata beside the weights ({} when absent)."""
    return read_json_object(folder / META_FILE)


def to_pil(radiograph: Any) -> Any:
    """A Radiograph (float32 [0, 1] pixels) as an 8-bit RGB PIL image."""
    import numpy as np
    from PIL import Image

    pixels = np.asarray(radiograph.pixels, dtype=np.float32)
    grey = np.round(np.clip(pixels, 0.0, 1.0) * 255.0).astype(np.uint8)
    return Image.fromarray(grey, mode="L").convert("RGB")


def encode_prompt(processor: Any, chat_format: ChatFormat, question: str) -> list[int]:
    """Token ids of the generation prompt: BOS, then the chat-formatted text with the image
    placeholder expanded to BOI + ``processor.num_image_tokens`` image tokens + EOI."""
    tok = processor.tokenizer
    image_text = f"{tok.boi_token}{tok.image_token * int(processor.num_image_tokens)}{tok.eoi_token}"
    ids = tok(chat_format.prompt(question, image_text=image_text), add_special_tokens=False)["input_ids"]
    return ([tok.bos_token_id] if tok.bos_token_id is not None else []) + list(ids)


def preprocess_images(processor: Any, radiographs: Sequence[Any]) -> Any:
    """Pixel values, shape (n, 3, S, S): the longest side resized to S (PIL bicubic), the
    short side by the processor's resize rule (DeepSeek's truncation for processors from
    :func:`load`, see :mod:`cxrpilot.models.janus._preprocess`), padded to a square with the
    processor's background grey (image centred), normalised — Janus's own preprocessing, S
    from the saved processor (384 for Janus-Pro)."""
    images = [to_pil(r) for r in radiographs]
    return processor.image_processor(images, return_tensors="pt")["pixel_values"]


@dataclass
class JanusReporter:
    """Janus-Pro loaded for report writing. Build it with :func:`load`.

    Attributes
    ----------
    model : transformers.JanusForConditionalGeneration
    processor : transformers.JanusProcessor
    model_dir : Path
    chat_format : ChatFormat
    model_id, version : str
        Shown on every draft (``model_id`` defaults to ``"janus:<folder name>"``).
    quantization : str or None
        ``"int8"`` or ``"int4"`` when decoding runs in ONNX Runtime with quantised weights
        (see :func:`load`).
    decoder : OrtDecoder or None
        That decoder (:mod:`cxrpilot.models.janus._ort_decode`); None: transformers'
        ``generate``.
    prompt_multiple : int
        :meth:`generate` left-pads each batch's prompts to a multiple of this many tokens
        (:data:`PROMPT_MULTIPLE`; 1: to the longest only): oneDNN's bf16 matrix products run
        the prefill's 646 rows far slower than 648 (``BENCHMARKS.md``, *Janus-Pro speed*).
    """

    model: Any
    processor: Any
    model_dir: Path
    chat_format: ChatFormat
    model_id: str
    version: str
    quantization: str | None = None
    decoder: Any = None
    prompt_multiple: int = PROMPT_MULTIPLE

    # -- sizes, all read from the checkpoint ------------------------------------------
    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> Any:
        return next(self.model.parameters()).dtype

    @property
    def image_size(self) -> int:
        """Input side in pixels (384 for Janus-Pro), from the vision config."""
        return int(self.model.config.vision_config.image_size)

    @property
    def num_image_tokens(self) -> int:
        """Image tokens per radiograph (576 for Janus-Pro), from the processor."""
        return int(self.processor.num_image_tokens)

    # -- inputs -------------------------------------------------------------------------
    def prompt_ids(self, question: str) -> list[int]:
        """Token ids of the generation prompt for ``question`` (BOS first)."""
        return encode_prompt(self.processor, self.chat_format, question)

    def pixel_values(self, radiographs: Sequence[Any]) -> Any:
        """Preprocessed images, shape (n, 3, S, S) (see :func:`preprocess_images`)."""
        return preprocess_images(self.processor, radiographs)

    def batch_inputs(
        self, question_ids: Sequence[list[int]], radiographs: Sequence[Any], multiple: int = 1
    ) -> dict:
        """Left-padded ``input_ids`` / ``attention_mask`` and ``pixel_values`` on the device;
        the width is the longest prompt rounded up to a multiple of ``multiple`` tokens."""
        import torch

        tok = self.processor.tokenizer
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        width = max(len(ids) for ids in question_ids)
        width = -(-width // max(1, multiple)) * max(1, multiple)
        input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids in question_ids])
        mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in question_ids])
        return {
            "input_ids": input_ids.to(self.device),
            "attention_mask": mask.to(self.device),
            "pixel_values": self.pixel_values(radiographs).to(self.device, self.dtype),
        }

    # -- generation -----------------------------------------------------------------------
    def generation_config(self, max_new_tokens: int = 512, **overrides: Any) -> Any:
        """The ``transformers.GenerationConfig`` of :meth:`generate`: greedy, one beam, stop
        at EOS, pad with the tokenizer's pad token; ``overrides`` are set on top (the speed
        benchmark forces a length with ``min_new_tokens``)."""
        from transformers import GenerationConfig

        tok = self.processor.tokenizer
        eos = tok.eos_token_id
        return GenerationConfig(
            **{
                "max_new_tokens": max_new_tokens,
                "do_sample": False,
                "num_beams": 1,
                "eos_token_id": eos,
                "pad_token_id": tok.pad_token_id if tok.pad_token_id is not None else eos,
                "bos_token_id": tok.bos_token_id,
                **overrides,
            }
        )

    def generate(
        self,
        radiographs: Sequence[Radiograph],
        *,
        indications: Sequence[str | None] | None = None,
        expert_findings: Sequence[Iterable[Finding | str] | None] | None = None,
        max_new_tokens: int = 512,
        batch_size: int = 8,
    ) -> list[JanusOutput]:
        """Write a report for each radiograph (greedy decoding, batched with left padding).

        Parameters
        ----------
        radiographs : sequence of Radiograph
        indications : sequence of (str or None), optional
            One per radiograph.
        expert_findings : sequence of (iterable of Finding or str, or None), optional
            One per radiograph: the expert classifier's findings; present ones are named in
            the prompt ("Expert analysis: ... present.").
        max_new_tokens : int
            Upper bound on generated tokens (512 as in the paper).
        batch_size : int
            Radiographs per forward pass. Results do not depend on it.

        Returns
        -------
        list of JanusOutput
            In input order.
        """

        n = len(radiographs)
        for name, seq in (("indications", indications), ("expert_findings", expert_findings)):
            if seq is not None and len(seq) != n:
                raise InvalidInputError(f"{name} has {len(seq)} entries for {n} radiographs; give one per radiograph")
        if max_new_tokens < 1 or batch_size < 1:
            raise InvalidInputError(
                f"max_new_tokens and batch_size must be >= 1, got {max_new_tokens} and {batch_size}"
            )
        tok = self.processor.tokenizer
        eos = tok.eos_token_id
        config = self.generation_config(max_new_tokens)
        questions = [
            build_question(
                indication=indications[i] if indications is not None else None,
                expert_findings=expert_findings[i] if expert_findings is not None else None,
            )
            for i in range(n)
        ]
        outputs: list[JanusOutput] = []
        for start in range(0, n, batch_size):
            chunk = list(range(start, min(n, start + batch_size)))
            t0 = time.perf_counter()
            ids = [self.prompt_ids(questions[i]) for i in chunk]
            inputs = self.batch_inputs(ids, [radiographs[i] for i in chunk], self.prompt_multiple)
            t1 = time.perf_counter()
            new_rows = self._new_tokens(inputs, config)
            t2 = time.perf_counter()
            for row, i in enumerate(chunk):
                new = new_rows[row]
                if eos in new:
                    new = new[: new.index(eos) + 1]
                t3 = time.perf_counter()
                text = clean_report_text(tok.decode(new, skip_special_tokens=True).strip())
                findings_text, impression_text, findings = read_report(text)
                outputs.append(
                    JanusOutput(
                        source=str(getattr(radiographs[i], "source", "<array>")),
                        question=questions[i],
                        text=text,
                        findings_text=findings_text,
                        impression_text=impression_text,
                        findings=findings,
                        prompt_tokens=len(ids[row]),
                        new_tokens=len(new),
                        timings={
                            "preprocess": t1 - t0,
                            "generate": t2 - t1,
                            "parse": time.perf_counter() - t3,
                        },
                        batch_size=len(chunk),
                    )
                )
        return outputs

    def _new_tokens(self, inputs: dict, config: Any) -> list[list[int]]:
        """Greedy new tokens of each row (transformers' ``generate``, or a torch prefill
        followed by the ONNX Runtime decoder when one is attached)."""
        import torch

        with torch.inference_mode():
            if self.decoder is None:
                sequences = self.model.generate(**inputs, generation_config=config)
                if self.device.type == "cuda":
                    torch.cuda.synchronize(self.device)
                width = inputs["input_ids"].shape[1]
                return [row[width:].tolist() for row in sequences]
            mask = inputs["attention_mask"]
            # positions as generate() numbers them: left padding does not count
            position_ids = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)
            prefill = self.model(**inputs, position_ids=position_ids, use_cache=True, logits_to_keep=1)
            first = prefill.logits[:, -1].argmax(-1).tolist()
        return self.decoder.decode(
            prefill.past_key_values,
            mask.sum(-1).tolist(),
            first,
            self.model.get_input_embeddings(),
            max_new_tokens=config.max_new_tokens,
            eos_token_id=config.eos_token_id,
            pad_token_id=config.pad_token_id,
        )


def load(
    path: str | Path,
    *,
    device: str | None = None,
    dtype: Any = None,
    chat_format: str | None = None,
    quantize: str | None = None,
    ort_session_config: dict[str, str] | None = None,
) -> JanusReporter:
    """Load an HF-format Janus-Pro checkpoint from a local folder.

    Parameters
    ----------
    path : str or Path
        Folder written by ``save_pretrained`` of the model and the processor (as
        ``cxrpilot models import-janus`` and ``cxrpilot train janus --merge`` write).
    device : str or None
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``...; None: CUDA when present, else CPU.
    dtype : torch.dtype, str or None
        None: bfloat16 where the hardware computes it natively (CUDA with bf16 support, a CPU
        with AVX512-BF16 or AMX), float32 otherwise.
    chat_format : str or None
        ``"janus-pro-cxr"`` or ``"janus-pro"``; None: what the folder's
        ``cxrpilot_janus.json`` says, else ``"janus-pro-cxr"``.
    quantize : {None, "int8", "int4"}
        CPU only (with ``device=None`` the CPU is used). The prompt is read by torch as usual;
        the report is then decoded by ONNX Runtime with the language model's linear layers
        and text head quantised to 8 or 4 bits (blocks of 32 weights, one scale each; int8
        activations), see :mod:`cxrpilot.models.janus._ort_decode`. ``"int4"`` is the fastest
        CPU setting measured in ``BENCHMARKS.md``. Outputs differ from unquantised ones: on a
        report model trained for the benchmark, int8 changed the findings of 1.7 % of
        reports and int4 of 9 % — check on your images first (``docs/janus.md``). The decoder graph is built on the first load (20-40 s at
        full size) and cached under ``$CXRPILOT_CACHE_DIR`` (default ``~/.cache/cxrpilot``;
        about 1 GB for int4, 1.6 GB for int8), keyed to the weight files.
    ort_session_config : dict of str to str, optional
        With ``quantize`` only: ONNX Runtime session config entries for the decoder, e.g.
        ``{"session.intra_op.allow_spinning": "0"}`` (its worker threads sleep instead of
        spinning while they wait: faster only where other work holds the cores; with the
        cores to itself, spinning decoded faster, ``BENCHMARKS.md``). Speed only: the tokens
        are the same.

    Returns
    -------
    JanusReporter
        Its processor resizes images by DeepSeek's rule (or the ``resize_rule`` saved with it,
        :mod:`~cxrpilot.models.janus._preprocess`) and its VQ model encodes with the
        original's L2-normalised code search (:mod:`~cxrpilot.models.janus._vq`): the
        published Janus-Pro as its authors' code runs it.

    Raises
    ------
    ModelLoadError
        The folder is missing, holds the original DeepSeek format (convert it first), or
        lacks config, weights or processor files; or transformers cannot load them.

    Examples
    --------
    >>> from cxrpilot import imaging                                   # doctest: +SKIP
    >>> reporter = load("models/janus-pro-cxr-final")                  # doctest: +SKIP
    >>> print(reporter.generate([imaging.load("chest.dcm")])[0].text)  # doctest: +SKIP

    A :class:`~cxrpilot.draft.Draft` (findings fused with an expert model's, the draft
    banner) is composed by :class:`cxrpilot.pipeline.JanusDrafter`.
    """
    from cxrpilot.models.janus._speed import QUANTIZATION_BITS
    from cxrpilot.vocabulary import check_quantize

    check_quantize(quantize)
    if ort_session_config is not None and quantize is None:
        raise InvalidInputError("ort_session_config applies to the ONNX Runtime decoder: give quantize='int8' or 'int4'")
    folder = check_model_dir(path)
    meta = read_meta(folder)
    fmt = get_chat_format(chat_format or meta.get("chat_format") or "janus-pro-cxr")
    torch_device = resolve_device("cpu" if device is None and quantize is not None else device)
    if quantize is not None and torch_device.type != "cpu":
        raise InvalidInputError(f"quantize={quantize!r} runs on the CPU only; got device {str(torch_device)!r}")
    torch_dtype = resolve_dtype(dtype, torch_device)
    import pickle

    from safetensors import SafetensorError
    from transformers import JanusForConditionalGeneration

    from cxrpilot.models.janus._preprocess import load_processor
    from cxrpilot.models.janus._vq import use_original_quantizer

    try:
        processor = load_processor(folder)
        model = JanusForConditionalGeneration.from_pretrained(
            str(folder), dtype=torch_dtype, local_files_only=True
        )
    except ModelLoadError:
        raise
    except (OSError, ValueError, KeyError, RuntimeError, SafetensorError, pickle.UnpicklingError) as exc:
        raise ModelLoadError(f"cannot load the Janus checkpoint in {str(folder)!r}: {exc}") from exc
    model = use_original_quantizer(model.to(torch_device).eval())
    expected = (model.config.vision_config.image_size // model.config.vision_config.patch_size) ** 2
    if int(processor.num_image_tokens) != expected:
        raise ModelLoadError(
            f"{str(folder)!r}: processor num_image_tokens={processor.num_image_tokens} but the "
            f"vision config gives {expected} ((image_size/patch_size)^2); re-save the processor"
        )
    size = processor.image_processor.size
    side = getattr(size, "height", None) or (size.get("height") if isinstance(size, dict) else None)
    if side is not None and int(side) != model.config.vision_config.image_size:
        raise ModelLoadError(
            f"{str(folder)!r}: image processor size {side} differs from the vision config's "
            f"image_size {model.config.vision_config.image_size}"
        )
    decoder = None
    if quantize is not None:
        from cxrpilot.models.janus._ort_decode import OrtDecoder, cache_folder

        bits = QUANTIZATION_BITS[quantize]
        max_length = int(model.config.text_config.max_position_embeddings)
        weights = [p for p in folder.iterdir() if p.suffix in (".safetensors", ".bin") and p.is_file()]
        decoder = OrtDecoder.build(model, bits=bits, max_length=max_length,
                                   cache_dir=cache_folder(folder, weights, bits=bits, max_length=max_length,
                                                          dtype=str(torch_dtype)),
                                   session_config=ort_session_config)
    return JanusReporter(
        model=model,
        processor=processor,
        model_dir=folder,
        chat_format=fmt,
        model_id=str(meta.get("model_id") or f"janus:{folder.name}"),
        version=str(meta.get("model_version") or "unversioned"),
        quantization=quantize,
        decoder=decoder,
    )
