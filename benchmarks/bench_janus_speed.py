"""Speed of Janus-Pro report writing on the full-size Janus-Pro-1B architecture (random weights).

Speed does not depend on weight values, so the model is built from the published Janus-Pro-1B
layer sizes with seeded random weights (nothing is downloaded). Sizes, mapped to transformers'
``JanusConfig`` by cxrpilot's own importer (``janus_config_from_original``):

- language model (DeepSeek-LLM 1.3B, LLaMA architecture): hidden 2048, intermediate 5632,
  24 layers, 16 heads (16 KV heads), vocabulary 102400, 16384 positions — the
  ``language_config`` of deepseek-ai/Janus-Pro-1B's config.json, as also written out in
  transformers' ``models/deepseek_vl/convert_deepseek_vl_weights_to_hf.py`` for the same
  DeepSeek-LLM 1.3B and in third-party readers of that config.json;
- vision: ``siglip_large_patch16_384`` (hidden 1024, 24 layers, 16 heads, MLP 4096, patch 16,
  384 px -> 576 image tokens), DeepSeek's ``janus/models/siglip_vit.py`` (cxrpilot's
  ``_convert.SIGLIP_TOWERS``), equal to transformers' ``JanusVisionConfig`` defaults
  (documented as Janus-Pro-1B);
- aligner MLP-GELU depth 2, 1024 -> 2048; generation VQ-16 (codebook 16384, embed 8),
  generation aligner and head 2048 / 16384 (``JanusVQVAEConfig`` defaults).

The input is a real radiograph from ``../shared/data`` through the real processor path
(``JanusReporter.prompt_ids`` / ``batch_inputs``: JanusProcessor image preprocessing, the
DeepSeek chat template, 576 image tokens). The tokenizer is a byte-level BPE trained here on
IU-Xray report text (the DeepSeek tokenizer cannot be downloaded); its ids are below 102400,
and the prompt has a realistic length (~630 tokens, image tokens included).

First the machine's bounds, measured in the parent process of the same run
(:func:`machine_bounds`): matrix-product peak in fp32 and bf16 (bf16 only where the CPU computes
it natively, AVX512-BF16 or AMX: torch then runs it in oneDNN), and STREAM-like memory bandwidth
(read, copy, triad). The CPU is named by ``cxrpilot.machine`` (model, family/model numbers,
instruction sets). Then each configuration runs in its own process (peak RSS = that process's
VmHWM) and measures, greedy decoding forced to exactly ``--tokens`` new tokens
(``min_new_tokens``):

- time to first token, the vision encoder alone, the prefill alone (the language model over the
  prompt with the image features given, the text head on the last position; a dynamic cache in
  every configuration, so a static cache changes decoding only), decode tokens/s,
  the latency of one report, peak memory;
- the distance from the bounds (``x`` = measured / bound): vision encoder and prefill FLOPs at
  the bf16 peak (fp32's without native bf16); decode: bytes one step reads (weights in the
  decoder's format + the key/value cache at the mean context, prompt + tokens/2) at the read
  bandwidth;
- throughput at the ``--batches`` sizes (reports/s, tokens/s);
- greedy-token agreement with ``--reference`` (default fp32) on the same input and the relative
  error of the first-step logits. The weights are random, so this only shows whether a variant
  changes the argmax path, not report quality.

Configurations (``--configs``, default: all that apply to the device):
``fp32`` (fp32, SDPA attention, dynamic KV cache), ``fp32-eager`` (eager attention), ``bf16``
(the default on CPUs with native bf16), ``bf16-t1`` (one torch thread, interop 1),
``bf16-eager``, ``bf16-static`` (static KV cache), ``bf16-static-compile`` (``torch.compile`` of
the decoding step, through transformers' ``CompileConfig``; compile time reported apart),
``int8-ort`` and ``int4-ort`` (what ``cxrpilot.models.janus.load(..., quantize="int8" / "int4")``
runs: bf16 prefill in torch, then decoding in one ONNX Runtime graph with 8- / 4-bit block-wise
weights and an in-place KV cache, ``cxrpilot.models.janus.OrtDecoder``), ``int4-ort-t1`` (torch
and ONNX Runtime on one thread), ``int4-ort-nospin`` (ONNX Runtime's workers sleeping between
operators instead of spinning, ``session.intra_op.allow_spinning=0``), ``int4-ort-b64`` and
``int4-ort-b128`` (int4-ort with one quantisation scale per 64 / 128 weights instead of
``OrtDecoder``'s default 32: fewer scales to read, coarser rounding; the decode bound counts that
graph's packed weights and scales), ``int4-ort-unpadded`` (the prompt
not left-padded to ``JanusReporter``'s multiple of 8 tokens), ``int4-ort-compile`` and
``int4-ort-compile-freeze`` (int4-ort with the prefill's language model and vision tower through
``torch.compile``, inductor; -freeze with inductor's freezing; compile time reported apart), and ``int4-ortgenai``
(only with the ``bench`` extra: ONNX Runtime GenAI's model builder, ``python -m onnxruntime_genai.models.builder -p int4 -e cpu``,
on a ``LlamaForCausalLM`` with Janus-Pro-1B's language-model config and random weights, and its
generator, beside the project's decoder on the same checkpoint; at full size cut to 12 of 24
layers, because the builder's int4 path holds an fp32 copy of every weight; the built model is
cached under ``$CXRPILOT_CACHE_DIR/bench-ortgenai``). On CUDA the ONNX Runtime configurations
are skipped (CPU graph). At full size fp32 needs ~10 GiB; ``--reference bf16`` avoids it.

Prints, and writes ``benchmarks/results/janus_speed.md`` (``janus_speed_small.md`` for
``--scale small``, a reduced model with the same shape ratios for quick checks).

Usage: ``python benchmarks/bench_janus_speed.py [--scale full|small] [--configs fp32,bf16,...]
[--reference fp32] [--tokens 150] [--batches 1,4,8] [--repeats 3] [--device cpu|cuda]
[--data ../shared/data]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _machine import cpu_features, machine

REPO = Path(__file__).resolve().parents[1]

#: name -> (dtype, attention, KV cache, compile (the decoding step), prefill (eager, compile, compile-freeze:
#: the language model and vision tower through torch.compile, :func:`compile_prefill`), quantize; threads: torch intra-op = interop = ONNX Runtime
#: intra-op threads, None = torch's default; ort: ONNX Runtime session config entries; engine: "janus" =
#: the project's code path, "ortgenai" = ONNX Runtime GenAI's own model builder and generator; block: the
#: decoder's quantisation block, None = ``OrtDecoder``'s default)
_BASE: dict[str, Any] = {"dtype": "bfloat16", "attn": "sdpa", "cache": "dynamic", "compile": False, "quantize": None,
                         "threads": None, "ort": None, "engine": "janus", "prefill": "eager", "pad": None,
                         "block": None}
CONFIGS: dict[str, dict[str, Any]] = {name: {**_BASE, **spec} for name, spec in {
    "fp32": {"dtype": "float32"},
    "fp32-eager": {"dtype": "float32", "attn": "eager"},
    "bf16": {},
    "bf16-t1": {"threads": 1},
    "bf16-eager": {"attn": "eager"},
    "bf16-static": {"cache": "static"},
    "bf16-static-compile": {"cache": "static", "compile": True},
    # torch bf16 prefill, then the ONNX Runtime decoder with 8- / 4-bit weights (janus.load(quantize=...))
    "int8-ort": {"quantize": "int8"},
    "int4-ort": {"quantize": "int4"},
    "int4-ort-t1": {"quantize": "int4", "threads": 1},
    # ONNX Runtime's workers sleep between operators instead of spinning, as they do by default
    "int4-ort-nospin": {"quantize": "int4", "ort": {"session.intra_op.allow_spinning": "0"}},
    # one scale per 64 / 128 weights instead of the decoder's default 32
    "int4-ort-b64": {"quantize": "int4", "block": 64},
    "int4-ort-b128": {"quantize": "int4", "block": 128},
    # the prefill (language model and vision tower) through torch.compile (inductor, C++ kernels: the
    # norms, rotary embedding, SiLU x up fused; the matrix products stay oneDNN's); -freeze: inductor's
    # freezing (weights as constants, prepacked for oneDNN)
    # the prompt left-padded to the longest only, not to JanusReporter's multiple of 8 tokens
    "int4-ort-unpadded": {"quantize": "int4", "pad": 1},
    "int4-ort-compile": {"quantize": "int4", "prefill": "compile"},
    "int4-ort-compile-freeze": {"quantize": "int4", "prefill": "compile-freeze"},
    # ONNX Runtime GenAI (pip extra `bench`): its model builder's int4 CPU graph of the same LLaMA language
    # model (random weights of its own), its generator; text prompt of the same length (no image input)
    "int4-ortgenai": {"quantize": "int4", "engine": "ortgenai"},
}.items()}
BASELINE = "fp32"
TARGET_S = 15.0


def original_config(scale: str) -> dict[str, Any]:
    """Janus-Pro-1B's config.json (DeepSeek format); ``small``: the same ratios, smaller."""
    if scale == "full":
        lm = {"hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 24,
              "num_attention_heads": 16, "num_key_value_heads": 16, "vocab_size": 102400,
              "max_position_embeddings": 16384}
        vision = {"image_size": 384, "model_name": "siglip_large_patch16_384", "select_feature": "same",
                  "select_layer": -1}
        vq = {"image_token_size": 16384, "n_embed": 8}
    elif scale == "small":  # head sizes kept (128 text, 64 vision), 576 image tokens kept
        lm = {"hidden_size": 512, "intermediate_size": 1408, "num_hidden_layers": 6,
              "num_attention_heads": 4, "num_key_value_heads": 4, "vocab_size": 12800,
              "max_position_embeddings": 16384}
        vision = {"image_size": 384, "model_name": "siglip_small_test", "select_feature": "same",
                  "select_layer": -1, "width": 256, "layers": 6, "heads": 4, "patch_size": 16, "mlp_ratio": 4.0}
        vq = {"image_token_size": 16384, "n_embed": 8, "ch": 32, "ch_mult": [1, 1, 2, 2, 4], "z_channels": 64,
              "num_res_blocks": 1}
    else:
        raise ValueError(f"unknown scale {scale!r}; expected 'full' or 'small'")
    h = lm["hidden_size"]
    width = vision.get("width", 1024)
    return {
        "model_type": "multi_modality",
        "language_config": {**lm, "model_type": "llama", "torch_dtype": "bfloat16"},
        "vision_config": {"cls": "CLIPVisionTower", "model_type": "vision", "params": vision},
        "aligner_config": {"cls": "MlpProjector", "model_type": "aligner",
                           "params": {"depth": 2, "input_dim": width, "n_embed": h, "projector_type": "mlp_gelu"}},
        "gen_vision_config": {"cls": "VQ-16", "model_type": "gen_vision", "params": vq},
        "gen_aligner_config": {"cls": "MlpProjector", "model_type": "gen_aligner",
                               "params": {"depth": 2, "input_dim": 8, "n_embed": h, "projector_type": "mlp_gelu"}},
        "gen_head_config": {"cls": "vision_head", "model_type": "gen_head",
                            "params": {"image_token_embed": h, "image_token_size": 16384, "n_embed": h}},
    }


# -- tokenizer and processor (built once, offline) ---------------------------------------------------
BOS, EOS, PAD = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜▁pad▁｜>"
SPECIAL = [BOS, EOS, PAD, "<image_placeholder>", "<begin_of_image>", "<end_of_image>", "<patch_placeholder>",
           "<|User|>", "<|Assistant|>"]


def build_tokenizer_folder(folder: Path, data: Path, vocab_size: int) -> Path:
    """tokenizer.json (byte-level BPE on IU-Xray report text) + the DeepSeek special-token files."""
    import re

    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    from cxrpilot.models.janus import REPORT_QUESTION, SYSTEM_PROMPT

    texts: list[str] = []
    for path in sorted((data / "iu-xray" / "reports").glob("*.xml")):
        texts += re.findall(r'<AbstractText Label="[A-Z]+">(.*?)</AbstractText>', path.read_text(encoding="utf-8"))
    texts += [SYSTEM_PROMPT, REPORT_QUESTION]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False))
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(str(folder / "tokenizer.json"))
    (folder / "special_tokens_map.json").write_text(json.dumps(
        {"bos_token": BOS, "eos_token": EOS, "pad_token": PAD}))
    (folder / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 16384}))
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "background_color": [127, 127, 127], "do_normalize": True, "image_mean": [0.5, 0.5, 0.5],
        "image_size": 384, "image_std": [0.5, 0.5, 0.5], "min_size": 14, "rescale_factor": 1 / 255}))
    return folder


def radiograph_files(data: Path, n: int) -> list[Path]:
    """Real chest radiographs: the SIIM CR DICOM (1024x1024), then NIH PNGs."""
    files = sorted((data / "dicom").glob("1.2.*.dcm")) + sorted((data / "samples" / "nih").glob("*.png"))
    if len(files) < n:
        files += sorted((data / "covid-radiography" / "Normal").glob("*.jpg"))[: n - len(files)]
    if len(files) < n:
        raise SystemExit(f"need {n} radiographs under {data} (dicom/, samples/nih/); found {len(files)}")
    return files[:n]


# -- the model ------------------------------------------------------------------------------------------
def build_model(scale: str, tokenizer: Any, dtype: Any, attn: str, seed: int = 0) -> tuple[Any, float]:
    """JanusForConditionalGeneration with seeded random weights, built directly in ``dtype``.

    Parameters are allocated without initialisation, cast, then filled one by one from a
    float32 generator (so every dtype gets the same values, rounded), N(0, 0.02) for matrices
    and embeddings, 1 for norm weights, 0 for biases.
    """
    import torch
    from transformers import JanusForConditionalGeneration
    from transformers.initialization import no_init_weights

    from cxrpilot.models.janus import janus_config_from_original

    t0 = time.perf_counter()
    config = janus_config_from_original(original_config(scale), tokenizer=tokenizer)
    config._attn_implementation = attn
    for sub in (config.text_config, config.vision_config, config.vq_config):
        sub._attn_implementation = attn
    with no_init_weights():
        model = JanusForConditionalGeneration(config)
    model = model.to(dtype)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim >= 2:
                chunk = max(1, (1 << 24) // max(1, p[0].numel()))  # fill <= 64 MB of fp32 at a time
                for i in range(0, p.shape[0], chunk):
                    p[i:i + chunk].copy_(torch.randn(p[i:i + chunk].shape, generator=g) * 0.02)
            elif name.endswith("bias") or "bias" in name.rsplit(".", 1)[-1]:
                p.zero_()
            else:
                p.fill_(1.0)
    model.eval()
    return model, time.perf_counter() - t0


def weight_bytes_per_token(model: Any, bits: int | None = None, block_size: int = 32) -> int:
    """Bytes of weights one decoding step reads: the language model's matrices and the text
    head (with ``bits``: as the decoder graph stores them, each row of K inputs in
    ceil(K / ``block_size``) blocks of ``block_size * bits / 8`` packed bytes plus one fp32 scale)."""
    from torch import nn

    total = 0
    for module in [*model.model.language_model.modules(), model.lm_head]:
        if isinstance(module, nn.Linear):
            rows, k = module.weight.shape
            if bits is None:
                total += rows * k * module.weight.element_size()
            else:
                total += rows * -(-k // block_size) * (block_size * bits // 8 + 4)
    return total


def matmul_params(model: Any) -> tuple[int, int]:
    """(language-model matrix parameters incl. text head, vision-tower + aligner matrix parameters)."""
    lm = sum(p.numel() for n, p in model.model.language_model.named_parameters()
             if p.ndim == 2 and "embed" not in n)
    lm += model.config.text_config.vocab_size * model.config.text_config.hidden_size
    vis = sum(p.numel() for m in (model.model.vision_model, model.model.aligner) for n, p in m.named_parameters()
              if p.ndim == 2 and "position" not in n)
    return lm, vis


class Timer:
    """A stopping criterion that never stops: it notes when each step's token is chosen."""

    def __init__(self, cuda: bool) -> None:
        self.cuda = cuda
        self.times: list[float] = []
        self.start = 0.0

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        if self.cuda:
            torch.cuda.synchronize()
        self.times.append(time.perf_counter())
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)


def peak_rss_bytes() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# -- one configuration (a worker process) -----------------------------------------------------------------
def run_worker(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    import transformers
    from transformers import CompileConfig, StoppingCriteriaList

    from cxrpilot import imaging
    from cxrpilot.models.janus import (
        JanusReporter,
        build_processor,
        build_question,
        get_chat_format,
    )

    transformers.logging.set_verbosity_error()
    spec = CONFIGS[args.worker]
    apply_threads(spec)
    device = torch.device(args.device)
    dtype = getattr(torch, spec["dtype"])
    result: dict[str, Any] = {"config": args.worker, **spec, "device": str(device), "threads": torch.get_num_threads(),
                              "interop_threads": torch.get_num_interop_threads(), "load_start": os.getloadavg()[0]}
    processor = build_processor(Path(args.tokenizer_dir), 576, 384)
    model, result["build_s"] = build_model(args.scale, processor.tokenizer, dtype, spec["attn"])
    decoder = None
    bits = None
    if spec["quantize"]:
        from cxrpilot.models.janus import QUANTIZATION_BITS, OrtDecoder

        bits = QUANTIZATION_BITS[spec["quantize"]]
        t0 = time.perf_counter()
        block = {"block_size": spec["block"]} if spec["block"] else {}
        decoder = OrtDecoder.build(model, bits=bits, max_length=int(model.config.text_config.max_position_embeddings),
                                   threads=spec["threads"], session_config=spec["ort"], **block)
        result["block_size"] = decoder.block_size
        result["quantize_s"] = time.perf_counter() - t0
    model = model.to(device)
    if spec["prefill"] != "eager":
        compile_prefill(model, freezing=spec["prefill"] == "compile-freeze")
    result["weight_bytes_per_token"] = weight_bytes_per_token(model, bits, decoder.block_size if decoder else 32)
    result["kv_bytes_per_position"] = kv_bytes_per_position(model.config.text_config, 4 if decoder else
                                                            torch.tensor([], dtype=dtype).element_size())
    result["lm_matmul_params"], result["vision_matmul_params"] = matmul_params(model)
    result["params"] = sum(p.numel() for p in model.parameters())
    reporter = JanusReporter(model=model, processor=processor, model_dir=Path(args.tokenizer_dir),
                             chat_format=get_chat_format("janus-pro-cxr"), model_id="janus:random-janus-pro-1b",
                             version="random", quantization=spec["quantize"], decoder=decoder)
    if spec["pad"]:
        reporter.prompt_multiple = spec["pad"]
    result["prompt_multiple"] = reporter.prompt_multiple
    batches = sorted(set(args.batches))
    files = radiograph_files(Path(args.data), max(batches))
    t0 = time.perf_counter()
    radiographs = [imaging.load(f) for f in files]
    result["image_load_s"] = (time.perf_counter() - t0) / len(files)
    question = build_question()
    ids = reporter.prompt_ids(question)
    result["prompt_tokens"] = len(ids)
    result["text_tokens"] = len(ids) - reporter.num_image_tokens
    result["prefill_flops"], result["vision_flops"] = step_flops(
        model.config.text_config, model.config.vision_config, result["lm_matmul_params"],
        result["vision_matmul_params"], len(ids))
    result["radiograph"] = files[0].name
    cuda = device.type == "cuda"
    n = args.tokens
    extra: dict[str, Any] = {"min_new_tokens": n}
    if spec["cache"] == "static":
        extra["cache_implementation"] = "static"
    if spec["compile"]:
        compile_config = CompileConfig(fullgraph=False, dynamic=False, mode="default")
        compile_config._compile_all_devices = True
        extra["compile_config"] = compile_config
    else:
        extra["disable_compile"] = True

    def generate(batch: int, tokens: int, keep_logits: bool = False) -> tuple[Timer, Any, Any, float, float]:
        t0 = time.perf_counter()
        inputs = reporter.batch_inputs([ids] * batch, radiographs[:batch], reporter.prompt_multiple)
        t1 = time.perf_counter()
        timer = Timer(cuda)
        timer.start = t1
        if decoder is not None:
            return generate_ort(inputs, tokens, timer, t1 - t0)
        config = reporter.generation_config(tokens, **{**extra, "min_new_tokens": tokens},
                                            return_dict_in_generate=True, output_logits=keep_logits)
        with torch.inference_mode():
            out = model.generate(**inputs, generation_config=config,
                                 stopping_criteria=StoppingCriteriaList([timer]))
        if cuda:
            torch.cuda.synchronize()
        t2 = time.perf_counter()
        first = out.logits[0][0].float().cpu() if keep_logits else None
        return timer, out.sequences[:, inputs["input_ids"].shape[1]:], first, t1 - t0, t2 - t1

    def generate_ort(inputs: dict, tokens: int, timer: Timer, t_pre: float) -> tuple[Timer, Any, Any, float, float]:
        """What ``JanusReporter`` does with a decoder attached, with the benchmark's timing."""
        t1 = timer.start
        config = reporter.generation_config(tokens)
        with torch.inference_mode():
            mask = inputs["attention_mask"]
            position_ids = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)
            prefill = model(**inputs, position_ids=position_ids, use_cache=True, logits_to_keep=1)
            first_logits = prefill.logits[0, -1].float().cpu()
            first = prefill.logits[:, -1].argmax(-1).tolist()
        rows = decoder.decode(prefill.past_key_values, mask.sum(-1).tolist(), first, model.get_input_embeddings(),
                              max_new_tokens=tokens, min_new_tokens=tokens, eos_token_id=config.eos_token_id,
                              pad_token_id=config.pad_token_id, on_token=lambda: timer.times.append(time.perf_counter()))
        t2 = time.perf_counter()
        return timer, torch.tensor(rows), first_logits, t_pre, t2 - t1

    # vision encoder alone (batch 1)
    with torch.inference_mode():
        pixels = reporter.pixel_values(radiographs[:1]).to(device, reporter.dtype)
        if spec["prefill"] != "eager":  # compiles the vision tower and the language model (timed apart)
            t0 = time.perf_counter()
            inputs = reporter.batch_inputs([ids], radiographs[:1], reporter.prompt_multiple)
            mask = inputs["attention_mask"]
            model(**inputs, position_ids=(mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0), use_cache=True,
                  logits_to_keep=1)
            result["prefill_compile_s"] = time.perf_counter() - t0
        times = []
        for _ in range(3):  # the first call includes one-off kernel set-up
            t0 = time.perf_counter()
            model.model.get_image_features(pixels)
            if cuda:
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
    result["vision_s"] = min(times[1:])

    # the prefill alone: the language model over the prompt (image features given) and the text head
    # on the last position, as generate() and the decoder path run it; always with a dynamic cache, so
    # it is the same computation in every configuration of a dtype (a static cache changes decoding only);
    # with a compiled prefill, the eager one is timed in turn with it in the same process (same load)
    language_model = model.model.language_model
    compiled_call = language_model._compiled_call_impl  # None unless compile_prefill() compiled it
    times: dict[str, list[float]] = {"eager": [], "compiled": []}
    with torch.inference_mode():
        inputs = reporter.batch_inputs([ids], radiographs[:1], reporter.prompt_multiple)
        image = model.model.get_image_features(inputs.pop("pixel_values"), return_dict=True)
        for _ in range(2 if compiled_call is None else 3):
            for mode in ("eager",) if compiled_call is None else ("compiled", "eager"):
                language_model._compiled_call_impl = compiled_call if mode == "compiled" else None
                t0 = time.perf_counter()
                out = model.model(**inputs, mm_encoder_outputs={"image": image}, use_cache=True)
                model.lm_head(out.last_hidden_state[:, -1:])
                if cuda:
                    torch.cuda.synchronize()
                times[mode].append(time.perf_counter() - t0)
                del out
        language_model._compiled_call_impl = compiled_call
    result["prefill_s"] = min(times["compiled"] or times["eager"])
    if compiled_call is not None:
        result["prefill_eager_s"] = min(times["eager"])

    # warm-up; for torch.compile the first run of each batch size compiles (timed apart)
    t0 = time.perf_counter()
    generate(1, n if spec["compile"] or spec["cache"] == "static" else 2)
    result["warmup_s"] = time.perf_counter() - t0
    runs = []
    tokens_row0: list[int] = []
    first_logits = None
    for r in range(args.repeats):
        timer, new, logits, t_pre, t_gen = generate(1, n, keep_logits=(r == 0))
        if r == 0:
            tokens_row0, first_logits = new[0].tolist(), logits
        ttft = timer.times[0] - timer.start
        decode = (len(timer.times) - 1) / (timer.times[-1] - timer.times[0]) if len(timer.times) > 1 else float("nan")
        runs.append({"preprocess_s": t_pre, "ttft_s": ttft, "decode_tok_s": decode, "latency_s": t_gen,
                     "new_tokens": int(new.shape[1])})
    result["runs_b1"] = runs
    for key in ("preprocess_s", "ttft_s", "decode_tok_s", "latency_s"):
        result[key] = statistics.median(run[key] for run in runs)
    result["new_tokens"] = runs[0]["new_tokens"]
    result["throughput"] = {}
    for b in batches:
        if b == 1:
            lat = result["latency_s"]
        else:
            if spec["compile"]:
                generate(b, n)  # compiles for this batch shape
            lat = generate(b, n)[4]
        result["throughput"][str(b)] = {"latency_s": lat, "reports_s": b / lat, "tokens_s": b * n / lat}
    out_dir = Path(args.result).parent
    if first_logits is not None:
        torch.save({"tokens": tokens_row0, "logits": first_logits}, out_dir / f"{args.worker}.pt")
    result["peak_rss_bytes"] = peak_rss_bytes()
    result["load_end"] = os.getloadavg()[0]
    if cuda:
        result["cuda_peak_bytes"] = torch.cuda.max_memory_allocated()
    return result


# -- ONNX Runtime GenAI (config int4-ortgenai) -------------------------------------------------------------
ORTGENAI_VERSION = 1  # bump when what is built changes
#: Layers of the language model given to ONNX Runtime GenAI's builder at full size: its int4 path
#: holds an fp32 copy of every weight (MatMulNBitsQuantizer on the whole graph), > 8 GB for all 24
#: layers; the first 12 keep it under ~5 GB. Both decoders are timed on the same cut model.
ORTGENAI_LAYERS = {"full": 12, "small": 6}


def llama_config(scale: str, tokenizer: Any, layers: int | None = None) -> Any:
    """Janus-Pro-1B's language model as a ``LlamaConfig`` (the ``text_config`` of the Janus
    model the other configurations build; ``layers`` keeps only the first layers)."""
    from transformers import LlamaConfig

    from cxrpilot.models.janus import janus_config_from_original

    text = janus_config_from_original(original_config(scale), tokenizer=tokenizer).text_config.to_dict()
    config = LlamaConfig(**{k: v for k, v in text.items() if k not in ("architectures", "model_type")})
    config.architectures = ["LlamaForCausalLM"]
    config.tie_word_embeddings = False
    if layers:
        config.num_hidden_layers = int(layers)
    return config


def save_llama_folder(scale: str, tokenizer_dir: Path, folder: Path, layers: int) -> None:
    """A ``LlamaForCausalLM`` with the Janus-Pro-1B language-model config (first ``layers``
    layers) and seeded random bf16 weights, saved with the benchmark's tokenizer: the input of
    ONNX Runtime GenAI's builder and of the project's decoder in the comparison."""
    import shutil

    import torch
    from transformers import LlamaForCausalLM
    from transformers.initialization import no_init_weights

    from cxrpilot.models.janus import build_processor

    config = llama_config(scale, build_processor(tokenizer_dir, 576, 384).tokenizer, layers)
    with no_init_weights():
        model = LlamaForCausalLM(config)
    model = model.to(torch.bfloat16)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim >= 2:
                for i in range(0, p.shape[0], 4096):
                    p[i:i + 4096].copy_(torch.randn(p[i:i + 4096].shape, generator=g) * 0.02)
            else:
                p.fill_(1.0)
    model.save_pretrained(str(folder))
    for f in tokenizer_dir.iterdir():
        if f.name != "preprocessor_config.json":
            shutil.copy(f, folder / f.name)


def ortgenai_model(scale: str, tokenizer_dir: Path, layers: int) -> tuple[Path, float, int]:
    """(cache folder holding ``hf/`` (the LLaMA checkpoint) and ``onnx/`` (ONNX Runtime GenAI's
    int4 CPU model built from it), seconds spent building here (0 when cached), the builder's
    peak RSS in bytes (0 when cached)). Built with ``python -m onnxruntime_genai.models.builder
    -p int4 -e cpu`` from :func:`save_llama_folder` (each step its own process) and cached
    under ``$CXRPILOT_CACHE_DIR`` / ``~/.cache/cxrpilot``."""
    import resource
    import shutil

    from cxrpilot.models import cache_dir_from_env

    root = cache_dir_from_env() or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cxrpilot"
    folder = (root / "bench-ortgenai" /
              f"janus-pro-1b-lm-{scale}-{layers}layers-int4-cpu-v{ORTGENAI_VERSION}")
    if (folder / "onnx" / "genai_config.json").is_file():
        return folder, 0.0, 0
    folder.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import bench_janus_speed as b; "
                f"from pathlib import Path; b.save_llama_folder({scale!r}, Path({str(tokenizer_dir)!r}), "
                f"Path({str(staging / 'hf')!r}), {int(layers)})")
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
        if proc.returncode == 0:
            proc = subprocess.run([sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(staging / "hf"),
                                   "-o", str(staging / "onnx"), "-p", "int4", "-e", "cpu", "-c",
                                   str(staging / "cache")], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError("building the ONNX Runtime GenAI model failed: "
                               + (proc.stderr or proc.stdout).strip()[-300:])
        shutil.rmtree(staging / "cache", ignore_errors=True)
        staging.rename(folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return folder, time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024


def linear_numel(text_config: Any) -> int:
    """Weights in the language model's linear layers and its text head (from the config)."""
    h, inter, layers = int(text_config.hidden_size), int(text_config.intermediate_size), int(text_config.num_hidden_layers)
    heads = int(text_config.num_attention_heads)
    kv = int(getattr(text_config, "num_key_value_heads", None) or heads)
    head_dim = int(getattr(text_config, "head_dim", None) or h // heads)
    per_layer = h * heads * head_dim * 2 + h * kv * head_dim * 2 + 3 * h * inter
    return layers * per_layer + int(text_config.vocab_size) * h


def run_worker_ortgenai(args: argparse.Namespace) -> dict[str, Any]:
    """ONNX Runtime GenAI's generator on its builder's int4 graph, and the project's decoder
    (``OrtDecoder``, int4) after a torch bf16 prefill, on the same LLaMA checkpoint (Janus-Pro-1B's
    language model cut to ``ORTGENAI_LAYERS`` layers) and the same prompt ids (the real prompt's
    ids; the image positions keep their placeholder ids: speed only); exactly ``--tokens`` new
    tokens, greedy, batch 1. The table's figures are ONNX Runtime GenAI's; ``ours`` holds the
    project decoder's."""
    import onnxruntime_genai as og
    import torch
    from transformers import LlamaForCausalLM

    from cxrpilot.models.janus import (
        JanusReporter,
        OrtDecoder,
        build_processor,
        build_question,
        get_chat_format,
    )

    spec = CONFIGS[args.worker]
    apply_threads(spec)
    threads = torch.get_num_threads()
    result: dict[str, Any] = {"config": args.worker, **spec, "device": "cpu", "threads": threads,
                              "interop_threads": torch.get_num_interop_threads(), "load_start": os.getloadavg()[0],
                              "build_s": 0.0, "ortgenai_version": og.__version__}
    processor = build_processor(Path(args.tokenizer_dir), 576, 384)
    # the prompt ids as the Janus configurations build them (no model needed for the ids)
    ids = JanusReporter(model=None, processor=processor, model_dir=Path(args.tokenizer_dir),
                        chat_format=get_chat_format("janus-pro-cxr"), model_id="janus:random-janus-pro-1b",
                        version="random").prompt_ids(build_question())
    layers = ORTGENAI_LAYERS[args.scale]
    folder, result["quantize_s"], result["builder_peak_rss_bytes"] = ortgenai_model(
        args.scale, Path(args.tokenizer_dir), layers)
    text_config = llama_config(args.scale, processor.tokenizer, layers)
    result["layers"] = layers
    n_lin = linear_numel(text_config)
    result["weight_bytes_per_token"] = n_lin // 2 + n_lin // 32 * 4  # 4-bit weights + one fp32 scale per 32
    result["kv_bytes_per_position"] = kv_bytes_per_position(text_config, 4)
    result["lm_matmul_params"], result["vision_matmul_params"] = n_lin, 0
    result["params"] = n_lin + int(text_config.vocab_size) * int(text_config.hidden_size)
    result["prompt_tokens"], result["text_tokens"], result["radiograph"] = len(ids), len(ids) - 576, "(none: text ids)"
    result["prefill_flops"], result["vision_flops"] = step_flops(text_config, None, n_lin, 0, len(ids))
    config = og.Config(str(folder / "onnx"))
    config.clear_providers()  # CPU
    config.overlay(json.dumps({"model": {"decoder": {"session_options": {
        "intra_op_num_threads": threads, "inter_op_num_threads": 1}}}}))
    model = og.Model(config)
    n = args.tokens

    def generate() -> dict[str, Any]:
        params = og.GeneratorParams(model)
        params.set_search_options(max_length=len(ids) + n, min_length=len(ids) + n, do_sample=False)
        generator = og.Generator(model, params)
        t0 = time.perf_counter()
        generator.append_tokens(ids)  # the prefill
        t1 = time.perf_counter()
        times = []
        while not generator.is_done():
            generator.generate_next_token()  # the first only picks the prefill's token
            times.append(time.perf_counter())
        new = [int(t) for t in list(generator.get_sequence(0))[len(ids):]]
        return {"prefill_s": t1 - t0, "ttft_s": times[0] - t0, "latency_s": times[-1] - t0, "new_tokens": len(new),
                "decode_tok_s": (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else float("nan"),
                "tokens": new}

    def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
        return {key: statistics.median(run[key] for run in runs)
                for key in ("prefill_s", "ttft_s", "decode_tok_s", "latency_s")}

    t0 = time.perf_counter()
    generate()
    result["warmup_s"] = time.perf_counter() - t0
    runs = [generate() for _ in range(args.repeats)]
    genai_tokens = runs[0].pop("tokens")
    for run in runs[1:]:
        run.pop("tokens")
    result["runs_b1"] = runs
    result.update(summarise(runs))
    result["new_tokens"] = runs[0]["new_tokens"]
    result["vision_s"] = float("nan")
    result["throughput"] = {"1": {"latency_s": result["latency_s"], "reports_s": 1 / result["latency_s"],
                                  "tokens_s": n / result["latency_s"]}}

    # the project's decoder on the same checkpoint: torch bf16 prefill, then OrtDecoder int4
    llama = LlamaForCausalLM.from_pretrained(str(folder / "hf"), dtype=torch.bfloat16).eval()
    decoder = OrtDecoder.from_parts(llama.model, llama.lm_head, bits=4, max_length=len(ids) + n + 8, threads=threads)
    input_ids = torch.tensor([ids])

    def ours() -> dict[str, Any]:
        t0 = time.perf_counter()
        with torch.inference_mode():
            prefill = llama(input_ids=input_ids, use_cache=True, logits_to_keep=1)
            first = prefill.logits[:, -1].argmax(-1).tolist()
        t1 = time.perf_counter()
        times: list[float] = []
        rows = decoder.decode(prefill.past_key_values, [len(ids)], first, llama.get_input_embeddings(),
                              max_new_tokens=n, min_new_tokens=n, eos_token_id=processor.tokenizer.eos_token_id,
                              pad_token_id=processor.tokenizer.pad_token_id,
                              on_token=lambda: times.append(time.perf_counter()))
        return {"prefill_s": t1 - t0, "ttft_s": times[0] - t0, "latency_s": times[-1] - t0, "tokens": rows[0],
                "decode_tok_s": (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else float("nan")}

    ours()
    our_runs = [ours() for _ in range(args.repeats)]
    our_tokens = our_runs[0]["tokens"]
    result["ours"] = summarise(our_runs)
    result["ours_tokens_equal"] = sum(a == b for a, b in zip(our_tokens, genai_tokens))
    result["ours_first_diff"] = next((i for i, (a, b) in enumerate(zip(our_tokens, genai_tokens)) if a != b),
                                     min(len(our_tokens), len(genai_tokens)))
    result["peak_rss_bytes"] = peak_rss_bytes()
    result["load_end"] = os.getloadavg()[0]
    return result


def step_flops(text_config: Any, vision_config: Any | None, lm_matmul_params: int, vision_matmul_params: int,
               prompt_tokens: int) -> tuple[float, float]:
    """(prefill FLOPs, vision-encoder FLOPs): 2 x matrix parameters x tokens, plus attention
    (causal over the prompt: 2 T^2 d per layer for scores and values; the vision tower's is
    not causal: 4 T^2 d); the prefill computes the text head for the last position only."""
    vocab_head = int(text_config.vocab_size) * int(text_config.hidden_size)
    t = prompt_tokens
    d = int(text_config.num_attention_heads) * int(getattr(text_config, "head_dim", None)
                                                    or text_config.hidden_size // text_config.num_attention_heads)
    prefill = 2 * (lm_matmul_params - vocab_head) * t + 2 * vocab_head + 2 * t * t * d * int(text_config.num_hidden_layers)
    vision = 0.0
    if vision_config is not None and vision_matmul_params:
        side = int(vision_config.image_size) // int(vision_config.patch_size)
        tokens = side * side
        vision = 2 * vision_matmul_params * tokens + 4 * tokens * tokens * int(vision_config.hidden_size) * int(
            vision_config.num_hidden_layers)
    return float(prefill), float(vision)


def compile_prefill(model: Any, freezing: bool = False) -> None:
    """``torch.compile`` (inductor, static shapes) of the language model and the vision tower in
    place: what the prefill runs (the ONNX Runtime decoder does the decoding); compiled on first
    call. ``freezing``: inductor's freezing (weights folded in as constants, prepacked for oneDNN)."""
    import torch._inductor.config as inductor

    inductor.freezing = freezing
    model.model.language_model.compile(dynamic=False)
    model.model.vision_model.compile(dynamic=False)


def apply_threads(spec: dict[str, Any]) -> None:
    """A configuration's thread setting: torch intra-op and interop threads (the ONNX Runtime
    decoder takes the same intra-op count); None keeps torch's defaults."""
    import torch

    if spec["threads"]:
        torch.set_num_threads(int(spec["threads"]))
        torch.set_num_interop_threads(int(spec["threads"]))


def kv_bytes_per_position(text_config: Any, element_size: int) -> int:
    """Bytes of keys and values one cached position holds, over all layers."""
    heads = int(getattr(text_config, "num_key_value_heads", None) or text_config.num_attention_heads)
    head_dim = int(getattr(text_config, "head_dim", None) or text_config.hidden_size // text_config.num_attention_heads)
    return 2 * int(text_config.num_hidden_layers) * heads * head_dim * element_size


# -- the machine's bounds ---------------------------------------------------------------------------------
def machine_bounds(device: str, scale: str = "full") -> dict[str, float]:
    """Measured bounds of ``device``, in the process that then runs the configurations' workers:

    - matrix-product peak, fp32 and bf16 (bf16 only where it is computed natively: a CUDA
      device, or a CPU with AVX512-BF16 / AMX, on which torch runs bf16 products in oneDNN;
      elsewhere bf16 is emulated and its "peak" is meaningless, NaN), the best of square
      products of two sizes; and the rate at one of the prefill's own shapes (646 x 2048 x 5632);
    - memory bandwidth as STREAM measures it (:func:`memory_bandwidth`): read (a sum), copy,
      triad (``a = b + s c``) over arrays far beyond the caches, each counted in bytes moved,
      the best of :data:`STREAM_REPEATS` runs with the median and the worst beside it. The
      read bandwidth is the decode bound: a decode step reads each weight once.
    """
    import torch

    def best(fn, repeats: int = 5) -> float:
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            if device == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
        return min(times)

    from cxrpilot.models.janus import cpu_has_native_bf16

    out: dict[str, float] = {"native_bf16": float(device == "cuda" or cpu_has_native_bf16())}
    sizes = (4096, 8192) if device == "cuda" else ((1024, 2048) if scale == "small" else (2048, 4096))
    dtypes = (torch.float32, torch.bfloat16) if out["native_bf16"] else (torch.float32,)
    out["matmul_bfloat16_flops"] = out["matmul_bfloat16_prefill_shape_flops"] = float("nan")
    for dtype in dtypes:
        name = str(dtype).removeprefix("torch.")
        rates = []
        for n in sizes:
            a = torch.randn(n, n, device=device, dtype=dtype)
            b = torch.randn(n, n, device=device, dtype=dtype)
            rates.append(2 * n**3 / best(lambda a=a, b=b: a @ b))
            del a, b
        out[f"matmul_{name}_flops"] = max(rates)
        x = torch.randn(646, 2048, device=device, dtype=dtype)
        w = torch.randn(5632, 2048, device=device, dtype=dtype)
        out[f"matmul_{name}_prefill_shape_flops"] = 2 * 646 * 2048 * 5632 / best(
            lambda x=x, w=w: torch.nn.functional.linear(x, w))
        if dtype == torch.bfloat16 and device == "cpu":  # what oneDNN is worth: the same product without it
            with torch.backends.mkldnn.flags(enabled=False):
                out["matmul_bfloat16_prefill_shape_no_onednn_flops"] = 2 * 646 * 2048 * 5632 / best(
                    lambda x=x, w=w: torch.nn.functional.linear(x, w), 2)
        del x, w
    n = (1 << 30) if device == "cuda" else (1 << 26 if scale == "small" else 1 << 28)  # 4 GiB / 1 GiB fp32
    out.update(memory_bandwidth(device, n))
    return out


#: Timed runs of each STREAM kernel (STREAM's NTIMES is 10; more here: the machine is shared, and the
#: best run is the one least disturbed by other work).
STREAM_REPEATS = 20


def memory_bandwidth(device: str, elements: int, repeats: int = STREAM_REPEATS) -> dict[str, float]:
    """STREAM's method on fp32 arrays of ``elements`` (far beyond the caches: 1 GiB each at full
    size, 32x this Zen 5's L3): each iteration runs read (``a.sum()``), copy and triad in turn,
    ``repeats`` timed iterations after an untimed one (STREAM drops its first), and each kernel's
    rate is its best run (STREAM's "best rate"), with the median and the worst beside it
    (``<kernel>_bytes_s``, ``_median_bytes_s``, ``_worst_bytes_s``; ``stream_repeats``)."""
    import torch

    a = torch.rand(elements, device=device)
    b = torch.rand(elements, device=device)
    c = torch.empty(elements, device=device)
    size = elements * a.element_size()
    kernels = {"read": (size, lambda: a.sum()), "copy": (2 * size, lambda: c.copy_(a)),
               "triad": (3 * size, lambda: torch.add(a, b, alpha=3.0, out=c))}
    times: dict[str, list[float]] = {k: [] for k in kernels}
    for i in range(repeats + 1):
        for name, (_, fn) in kernels.items():
            t0 = time.perf_counter()
            fn()
            if device == "cuda":
                torch.cuda.synchronize()
            if i:
                times[name].append(time.perf_counter() - t0)
    out: dict[str, float] = {"stream_repeats": float(repeats)}
    for name, (moved, _) in kernels.items():
        out.update({f"{name}_{key}": v for key, v in stream_rates(moved, times[name]).items()})
    return out


def stream_rates(moved: int, times: list[float]) -> dict[str, float]:
    """Bytes/s of one kernel's runs: ``bytes_s`` the best (the bound), ``median_bytes_s``,
    ``worst_bytes_s``."""
    return {"bytes_s": moved / min(times), "median_bytes_s": moved / statistics.median(times),
            "worst_bytes_s": moved / max(times)}


def run_bounds(before: dict[str, float], after: dict[str, float] | None) -> dict[str, float]:
    """The bounds the ratios divide by: each rate the best measured in the run, before or after
    the workers (what the machine showed it can do; a shared machine's measurements move)."""
    if not after:
        return dict(before)
    return {k: max(v, after.get(k, v)) if k.endswith(("_flops", "bytes_s")) and not k.endswith(
        ("median_bytes_s", "worst_bytes_s")) else v for k, v in before.items()}


# -- the parent: run the configurations, write the table ---------------------------------------------------
def fmt(x: float | None, digits: int = 2) -> str:
    return "—" if x is None or x != x else f"{x:.{digits}f}"  # noqa: PLR0124


def compare(base: dict | None, other: dict | None) -> tuple[str, str]:
    """(greedy tokens equal to the baseline's, first-step logits relative error)."""
    if not base or not other:
        return "—", "—"
    import torch

    a, b = base["tokens"], other["tokens"]
    same = sum(x == y for x, y in zip(a, b))
    prefix = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    la, lb = base["logits"], other["logits"]
    mask = torch.isfinite(la) & torch.isfinite(lb)
    rel = float((la[mask] - lb[mask]).norm() / la[mask].norm())
    return f"{same}/{len(a)} (first {prefix} identical)", f"{rel:.1e}"


def bound_rows(args: argparse.Namespace, r: dict[str, Any], bounds: dict[str, float]) -> dict[str, float]:
    """One configuration's distance from the machine's bounds (batch 1).

    - vision encoder and prefill: FLOPs at the measured bf16 matmul peak (fp32's where bf16 is
      not native), whatever the configuration's own dtype: the machine's bound, not the dtype's;
    - decode: bytes one step reads (the weights in the decoder's format, plus the key/value
      cache at the mean context of the report, prompt + tokens/2) at the measured read bandwidth.
    """
    peak = bounds.get("matmul_bfloat16_flops", float("nan"))
    if peak != peak:  # noqa: PLR0124  (NaN: no native bf16)
        peak = bounds["matmul_float32_flops"]
    context = r["prompt_tokens"] + args.tokens / 2
    step_bytes = r["weight_bytes_per_token"] + r["kv_bytes_per_position"] * context
    out = {
        "vision_bound_s": r["vision_flops"] / peak if r["vision_flops"] else float("nan"),
        "prefill_bound_s": r["prefill_flops"] / peak,
        "decode_ms": 1e3 / r["decode_tok_s"],
        "step_bytes": step_bytes,
        "decode_bound_ms": 1e3 * step_bytes / bounds["read_bytes_s"],
    }
    out["vision_x"] = r["vision_s"] / out["vision_bound_s"]
    out["prefill_x"] = r["prefill_s"] / out["prefill_bound_s"]
    out["decode_x"] = out["decode_ms"] / out["decode_bound_ms"]
    return out


def stream_text(bounds: dict[str, float], kernels: tuple[str, ...] = ("read", "copy", "triad")) -> str:
    """``read 70.1 (65.2, 40.3), copy ...``: each kernel's best, median and worst GB/s."""
    return ", ".join(f"{k} {bounds.get(f'{k}_bytes_s', 0) / 1e9:.1f} ({bounds.get(f'{k}_median_bytes_s', 0) / 1e9:.1f}"
                     f", {bounds.get(f'{k}_worst_bytes_s', 0) / 1e9:.1f})" for k in kernels)


def report(args: argparse.Namespace, results: dict[str, dict], errors: dict[str, str], bounds: dict[str, float],
           out_dir: Path, started: float, load: tuple[float, float],
           bounds_after: tuple[dict[str, float], float] | None = None) -> str:
    """The markdown tables; ``bounds_after``: (the bounds measured again after the workers, the
    load average then), shown beside the first; the ratios use each bound's best (:func:`run_bounds`)."""
    import torch

    ok = dict(results)
    any_r = next((v for v in ok.values() if v.get("engine") == "janus"), next(iter(ok.values()), {}))
    ref = args.reference
    base = ok.get(ref)
    saved = {k: torch.load(out_dir / f"{k}.pt") for k in ok if (out_dir / f"{k}.pt").is_file()}
    cuda = args.device == "cuda"
    batches = sorted(set(args.batches))
    title = "full-size Janus-Pro-1B architecture" if args.scale == "full" else "reduced model (--scale small)"
    native = bool(bounds.get("native_bf16"))
    used = run_bounds(bounds, bounds_after[0] if bounds_after else None)
    gb = 1e9
    lines = [
        f"## Janus-Pro speed: {title}, random weights (`benchmarks/bench_janus_speed.py`)",
        "",
        f"Machine: {machine()}; CPU {cpu_features()}; device {args.device}"
        + (f" ({torch.cuda.get_device_name()})" if cuda else "")
        + f"; torch {torch.__version__}, default {any_r.get('threads', '?')} threads; load average at start "
        f"{load[0]:.1f}, at end {os.getloadavg()[0]:.1f}; whole run {(time.perf_counter() - started) / 60:.1f} min.",
        (f"Model: {any_r.get('params', 0) / 1e9:.2f} B parameters (language model + text head "
        f"{any_r.get('lm_matmul_params', 0) / 1e9:.2f} B in matrices, vision tower + aligner "
        f"{any_r.get('vision_matmul_params', 0) / 1e9:.2f} B); prompt {any_r.get('prompt_tokens', '?')} tokens "
        f"({any_r.get('text_tokens', '?')} text + 576 image) for the real radiograph {any_r.get('radiograph', '?')}; "
        f"exactly {args.tokens} new tokens, greedy; batch-1 figures are medians of {args.repeats} runs."),
        (f"Measured bounds (this run, before the workers): matmul fp32 "
        f"{bounds.get('matmul_float32_flops', 0) / 1e9:.0f} GFLOP/s (prefill shape "
        f"{bounds.get('matmul_float32_prefill_shape_flops', 0) / 1e9:.0f}), bf16 "
        + (f"{bounds.get('matmul_bfloat16_flops', 0) / 1e9:.0f} GFLOP/s (prefill shape "
           f"{bounds.get('matmul_bfloat16_prefill_shape_flops', 0) / 1e9:.0f}, "
           f"{bounds.get('matmul_bfloat16_prefill_shape_no_onednn_flops', float('nan')) / 1e9:.0f} with oneDNN "
           "switched off; native bf16 (AVX512-BF16): torch runs bf16 products in oneDNN)"
           if native else "not measured (no native bf16 on this CPU: emulated)")
        + f"; memory (STREAM-like, GB/s, best (median, worst) of {bounds.get('stream_repeats', 0):.0f} runs): "
        + stream_text(bounds) + f" (load average {load[0]:.1f})."
        + (f" Measured again after the workers (load average {bounds_after[1]:.1f}): matmul bf16 "
           f"{bounds_after[0].get('matmul_bfloat16_flops', float('nan')) / 1e9:.0f}, fp32 "
           f"{bounds_after[0].get('matmul_float32_flops', 0) / 1e9:.0f} GFLOP/s; "
           + stream_text(bounds_after[0], ("read",)) + " GB/s." if bounds_after else "")
        + (" The ratios below use each bound's best measurement in the run (before or after the workers): "
           f"matmul bf16 {used.get('matmul_bfloat16_flops', float('nan')) / 1e9:.0f}, fp32 "
           f"{used.get('matmul_float32_flops', 0) / 1e9:.0f} GFLOP/s, read {used.get('read_bytes_s', 0) / gb:.1f} "
           "GB/s.")),
        "",
        (f"| config | time to first token (s) | vision encoder (s) | prefill (s) | decode (tokens/s) | "
        f"{args.tokens}-token report (s) | vs {ref} | peak RSS (GiB) | greedy tokens = {ref} | "
        f"first-step logits rel. error | build / quantize / warm-up (s) | threads | load avg |"),
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---|---|",
    ]
    for name in args.configs:
        if name in errors:
            lines.append(f"| {name} | failed: {errors[name]} |" + " |" * 11)
            continue
        r = ok[name]
        label = f"{name} ({r['layers']} of 24 layers)" if r.get("engine") == "ortgenai" else name
        speedup = base["latency_s"] / r["latency_s"] if base else None
        tokens, rel = compare(saved.get(ref), saved.get(name)) if name != ref else ("(reference)", "0")
        lines.append(
            f"| {label} | {fmt(r['ttft_s'])} | {fmt(r['vision_s'])} | {fmt(r['prefill_s'])} | "
            f"{fmt(r['decode_tok_s'], 1)} | {fmt(r['latency_s'], 1)} | {fmt(speedup)}x | "
            f"{r['peak_rss_bytes'] / 2**30:.1f}"
            + (f" (GPU {r['cuda_peak_bytes'] / 2**30:.1f})" if "cuda_peak_bytes" in r else "")
            + f" | {tokens} | {rel} | {r['build_s']:.0f} / {r.get('quantize_s', 0):.0f} / {r['warmup_s']:.0f} | "
            f"{r['threads']} (interop {r.get('interop_threads', '?')}) | {r['load_start']:.1f} -> {r['load_end']:.1f} |")
    lines += [
        "",
        "Distance from this machine's bounds (batch 1; x = measured / bound, target <= 1.5x for prefill and decode):",
        "",
        ("| config | vision encoder: s / bound s / x | prefill: s / bound s / x | decode: ms per token / GB read "
         "per token (weights + KV) / bound ms / x |"),
        "|---|---|---|---|",
    ]
    rows = {}
    for name in args.configs:
        if name in ok:
            b = rows[name] = bound_rows(args, ok[name], used)
            r = ok[name]
            label = f"{name} ({r['layers']} of 24 layers)" if r.get("engine") == "ortgenai" else name
            lines.append(
                f"| {label} | {fmt(r['vision_s'])} / {fmt(b['vision_bound_s'])} / {fmt(b['vision_x'], 1)}x | "
                f"{fmt(r['prefill_s'])} / {fmt(b['prefill_bound_s'])} / **{fmt(b['prefill_x'], 1)}x** | "
                f"{fmt(b['decode_ms'], 1)} / {b['step_bytes'] / gb:.2f} ({r['weight_bytes_per_token'] / gb:.2f} + "
                f"{(b['step_bytes'] - r['weight_bytes_per_token']) / gb:.2f}) / {fmt(b['decode_bound_ms'], 1)} / "
                f"**{fmt(b['decode_x'], 1)}x** |")
    genai = [k for k in args.configs if k in ok and ok[k].get("engine") == "ortgenai"]
    for name in genai:
        r = ok[name]
        ours = {**r, **r["ours"]}
        b_genai, b_ours = rows[name], bound_rows(args, ours, used)
        lines += [
            "",
            (f"ONNX Runtime GenAI {r.get('ortgenai_version', '?')} against the project's decoder on the same "
             f"checkpoint: Janus-Pro-1B's language model cut to its first {r['layers']} layers (the builder's int4 "
             "path holds an fp32 copy of every weight: > 8 GB for all 24), random bf16 weights, the same "
             f"{r['prompt_tokens']} prompt ids, int4 blocks of 32 in both, {r['threads']} threads; the tokens of "
             f"both: {r['ours_tokens_equal']}/{r['new_tokens']} equal (first {r['ours_first_diff']} identical):"),
            "",
            "| decoder | prefill (s) | decode ms per token | decode bound ms | x | report (s) |",
            "|---|---:|---:|---:|---:|---:|",
            (f"| ONNX Runtime GenAI (its builder's graph and generator; prefill in the int4 graph) | "
             f"{fmt(r['prefill_s'])} | {fmt(b_genai['decode_ms'], 1)} | {fmt(b_genai['decode_bound_ms'], 1)} | "
             f"{fmt(b_genai['decode_x'], 2)}x | {fmt(r['latency_s'], 1)} |"),
            (f"| cxrpilot `OrtDecoder` (torch bf16 prefill, then the int4 graph) | {fmt(ours['prefill_s'])} | "
             f"{fmt(b_ours['decode_ms'], 1)} | {fmt(b_ours['decode_bound_ms'], 1)} | {fmt(b_ours['decode_x'], 2)}x | "
             f"{fmt(ours['latency_s'], 1)} |"),
        ]
    if len(batches) > 1:
        lines += ["", "Throughput (one run per batch size; batch 1 = the median above):", "",
                  "| config | " + " | ".join(f"batch {b}: s / reports/s / tokens/s" for b in batches) + " |",
                  "|---|" + "---:|" * len(batches)]
        for name in args.configs:
            if name in ok:
                tp = ok[name]["throughput"]
                lines.append(f"| {name} | " + " | ".join(
                    f"{tp[str(b)]['latency_s']:.1f} / {tp[str(b)]['reports_s']:.3f} / {tp[str(b)]['tokens_s']:.1f}"
                    if str(b) in tp else "—" for b in batches) + " |")
    if ok:
        full = [k for k in ok if ok[k].get("engine") == "janus"] or list(ok)
        best = min(full, key=lambda k: ok[k]["latency_s"])
        r = ok[best]
        best_prefill = min(full, key=lambda k: rows[k]["prefill_x"])
        best_decode = min(full, key=lambda k: rows[k]["decode_x"])
        lines += [
            "",
            (f"Fastest report: **{best}**, {r['latency_s']:.1f} s for {args.tokens} tokens "
            f"(target <= {TARGET_S:.0f} s on the 2-core CPU: {'met' if r['latency_s'] <= TARGET_S else 'MISSED'}"
            f"{'' if args.scale == 'full' else ', but this is the reduced model'}). "
            f"Closest to the bounds: prefill {best_prefill} {rows[best_prefill]['prefill_x']:.2f}x "
            f"({'met' if rows[best_prefill]['prefill_x'] <= 1.5 else 'MISSED'}), decode {best_decode} "
            f"{rows[best_decode]['decode_x']:.2f}x ({'met' if rows[best_decode]['decode_x'] <= 1.5 else 'MISSED'})."),
        ]
        if cuda:
            lines.append(f"Reports/s on {args.device}: batch 1 {ok[best]['throughput']['1']['reports_s']:.3f} ({best}).")
    compile_r = ok.get("bf16-static-compile")
    if compile_r:
        lines.append(f"torch.compile: the first static-cache run with compilation took {compile_r['warmup_s']:.0f} s "
                     f"(a one-off cost per process and batch size) against {compile_r['latency_s']:.1f} s afterwards.")
    for name in args.configs:
        if "prefill_compile_s" in ok.get(name, {}):
            r = ok[name]
            lines.append(f"{name}: compiling the prefill (vision tower and language model, on the first call) took "
                         f"{r['prefill_compile_s']:.0f} s, once per process and prompt shape; the prefill in the same "
                         f"process, compiled and eager in turn (best of 3 each): {r['prefill_s']:.2f} s compiled, "
                         f"{r.get('prefill_eager_s', float('nan')):.2f} s eager.")
    lines += [
        "",
        (f"Greedy-token agreement compares each configuration's batch-1 tokens with {ref} on the same input: "
        "with random weights the logits are nearly flat, so this shows whether a variant changes the argmax "
        "path, not whether reports stay good"
        + (" (int4-ortgenai: a checkpoint of its own, cut to fewer layers, random weights, the same prompt ids "
           "without the image features: speed only)" if genai else "")
        + ". Prefill: the language model over the prompt with the image features given, and the text head on "
        "the last position, with a dynamic cache in every configuration (the static-cache configurations differ "
        "from the dynamic ones in decoding only). Load avg: the machine's 1-minute load average when the "
        "configuration started and ended; above the core count the timings are inflated by other work. Peak RSS "
        "is the worker process's high-water mark (the -ort configurations keep the bf16 model for the prefill "
        "beside the quantised decoder graph, as `janus.load(..., quantize=...)` does). For the -ort "
        "configurations the first token comes from the bf16 prefill, so their first-step logits error is "
        "bf16's; their decoding differs from it from the second token on."),
        "",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=("full", "small"), default="full")
    parser.add_argument("--configs", default=None, help=f"comma-separated, from {', '.join(CONFIGS)} (default: all)")
    parser.add_argument("--tokens", type=int, default=150)
    parser.add_argument("--batches", default="1,4,8")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    parser.add_argument("--reference", default=BASELINE,
                        help=f"configuration the others' greedy tokens are compared with (default {BASELINE}; added "
                             "when not in --configs; at full size fp32 needs ~10 GiB, bf16 ~5)")
    parser.add_argument("--data", default=os.environ.get("CXRPILOT_DATA", REPO.parent / "shared" / "data"))
    parser.add_argument("--out", default=None, help="markdown file (default benchmarks/results/janus_speed[_small].md)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--tokenizer-dir", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--result", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.batches = [int(b) for b in str(args.batches).split(",") if b.strip()] if isinstance(args.batches, str) \
        else args.batches
    if 1 not in args.batches:
        args.batches = [1, *args.batches]
    if args.tokens < 2 or args.repeats < 1 or min(args.batches) < 1:
        parser.error("--tokens must be >= 2, --repeats and batch sizes >= 1")
    if args.device is None:
        import torch

        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.reference not in CONFIGS or CONFIGS[args.reference]["engine"] != "janus":
        parser.error(f"--reference must be one of the project's configurations, got {args.reference!r}")
    if args.configs is None:
        import importlib.util

        genai = importlib.util.find_spec("onnxruntime_genai") is not None
        args.configs = [k for k, v in CONFIGS.items() if not (args.device == "cuda" and v["quantize"])
                        and (v["engine"] != "ortgenai" or genai)]
    else:
        args.configs = [c.strip() for c in args.configs.split(",") if c.strip()] if isinstance(args.configs, str) \
            else args.configs
        unknown = [c for c in args.configs if c not in CONFIGS]
        if unknown:
            parser.error(f"unknown configs {unknown}; expected some of {', '.join(CONFIGS)}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker:
        result = (run_worker_ortgenai if CONFIGS[args.worker]["engine"] == "ortgenai" else run_worker)(args)
        Path(args.result).write_text(json.dumps(result))
        return
    started = time.perf_counter()
    load_start = os.getloadavg()[0]
    data = Path(args.data)
    out = Path(args.out or REPO / "benchmarks" / "results" /
               ("janus_speed.md" if args.scale == "full" else "janus_speed_small.md"))
    vocab = 8000
    configs = list(args.configs)
    if args.reference not in configs:  # the agreement column needs the reference
        print(f"note: {args.reference} added as the reference for the agreement column", flush=True)
        configs.insert(0, args.reference)
        args.configs = configs
    with tempfile.TemporaryDirectory(prefix="janus-speed-") as tmp:
        tmp_dir = Path(tmp)
        build_tokenizer_folder(tmp_dir / "tokenizer", data, vocab)
        print(f"measuring device bounds ({args.device}) ...", flush=True)
        bounds = machine_bounds(args.device, args.scale)
        print(f"bounds: {json.dumps({k: round(v / 1e9, 1) for k, v in bounds.items() if k != 'native_bf16'})} "
              "(GFLOP/s, GB/s)", flush=True)
        results: dict[str, dict] = {}
        errors: dict[str, str] = {}
        for name in configs:
            print(f"[{name}] building and measuring ...", flush=True)
            t0 = time.perf_counter()
            result_file = tmp_dir / f"{name}.json"
            cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--scale", args.scale,
                   "--tokens", str(args.tokens), "--batches", ",".join(map(str, args.batches)),
                   "--repeats", str(args.repeats), "--device", args.device, "--data", str(data),
                   "--tokenizer-dir", str(tmp_dir / "tokenizer"), "--result", str(result_file)]
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=str(REPO / "benchmarks"),
                                  check=False)
            if proc.returncode != 0 or not result_file.is_file():
                tail = (proc.stderr or proc.stdout).strip().splitlines()
                errors[name] = (tail[-1] if tail else f"exit status {proc.returncode}")[:200].replace("|", "/")
                print(f"[{name}] FAILED: {errors[name]}", flush=True)
                continue
            results[name] = json.loads(result_file.read_text())
            r = results[name]
            b = bound_rows(args, r, bounds)
            print(f"[{name}] {time.perf_counter() - t0:.0f} s: TTFT {r['ttft_s']:.2f} s, prefill {r['prefill_s']:.2f} s "
                  f"({b['prefill_x']:.2f}x bound), decode {b['decode_ms']:.1f} ms/token ({b['decode_x']:.2f}x bound), "
                  f"report {r['latency_s']:.1f} s, peak RSS {r['peak_rss_bytes'] / 2**30:.1f} GiB, load "
                  f"{r['load_start']:.1f} -> {r['load_end']:.1f}", flush=True)
        print("measuring the bounds again after the workers ...", flush=True)
        load_after = os.getloadavg()[0]
        after = (machine_bounds(args.device, args.scale), load_after)
        text = report(args, results, errors, bounds, tmp_dir, started, (load_start, 0.0), after)
    print(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    if errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
