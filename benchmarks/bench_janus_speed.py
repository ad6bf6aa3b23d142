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

Each configuration runs in its own process (peak RSS = that process's VmHWM) and measures,
greedy decoding forced to exactly ``--tokens`` new tokens (``min_new_tokens``):

- time to first token (vision encoder + prefill), the vision encoder alone, decode tokens/s,
  the latency of one report, peak memory;
- throughput at batch 1/4/8 (reports/s, tokens/s);
- greedy-token agreement with the fp32 baseline on the same input and the relative error of
  the first-step logits. The weights are random, so this only shows whether a variant changes
  the argmax path, not report quality.

Configurations (``--configs``, default: all that apply to the device):
``fp32`` (what ``JanusReporter`` did on CPU before: fp32, SDPA attention, dynamic KV cache),
``fp32-eager`` (eager attention), ``bf16``, ``bf16-eager``, ``bf16-static`` (static KV
cache), ``bf16-static-compile`` (``torch.compile`` of the decoding step, through transformers'
``CompileConfig``; compile time reported apart), ``int8-ort`` and ``int4-ort`` (what
``cxrpilot.models.janus.load(..., quantize="int8" / "int4")`` runs: bf16 prefill in torch,
then decoding in one ONNX Runtime graph with 8- / 4-bit block-wise weights and an in-place
KV cache, ``cxrpilot.models.janus._ort_decode``). On CUDA the ONNX Runtime configurations
are skipped (CPU graph) and the table adds reports/s and the distance from the compute bound.

Prints, and writes ``benchmarks/results/janus_speed.md`` (``janus_speed_small.md`` for
``--scale small``, a reduced model with the same shape ratios for quick checks).

Usage: ``python benchmarks/bench_janus_speed.py [--scale full|small] [--configs fp32,bf16,...]
[--tokens 150] [--batches 1,4,8] [--repeats 3] [--device cpu|cuda] [--data ../shared/data]``
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

from _machine import machine

REPO = Path(__file__).resolve().parents[1]

#: name -> (dtype, attention, KV cache, compile, quantize)
CONFIGS: dict[str, dict[str, Any]] = {
    "fp32": {"dtype": "float32", "attn": "sdpa", "cache": "dynamic", "compile": False, "quantize": None},
    "fp32-eager": {"dtype": "float32", "attn": "eager", "cache": "dynamic", "compile": False, "quantize": None},
    "bf16": {"dtype": "bfloat16", "attn": "sdpa", "cache": "dynamic", "compile": False, "quantize": None},
    "bf16-eager": {"dtype": "bfloat16", "attn": "eager", "cache": "dynamic", "compile": False, "quantize": None},
    "bf16-static": {"dtype": "bfloat16", "attn": "sdpa", "cache": "static", "compile": False, "quantize": None},
    "bf16-static-compile": {"dtype": "bfloat16", "attn": "sdpa", "cache": "static", "compile": True,
                            "quantize": None},
    # torch bf16 prefill, then the ONNX Runtime decoder with 8- / 4-bit weights (janus.load(quantize=...))
    "int8-ort": {"dtype": "bfloat16", "attn": "sdpa", "cache": "dynamic", "compile": False, "quantize": "int8"},
    "int4-ort": {"dtype": "bfloat16", "attn": "sdpa", "cache": "dynamic", "compile": False, "quantize": "int4"},
}
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

    from cxrpilot.models.janus._prompt import REPORT_QUESTION, SYSTEM_PROMPT

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

    from cxrpilot.models.janus._convert import janus_config_from_original

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


def weight_bytes_per_token(model: Any, bits: int | None = None) -> int:
    """Bytes of weights one decoding step reads: the language model's matrices and the text
    head (with ``bits``: packed weights plus one fp32 scale per block of 32)."""
    from torch import nn

    total = 0
    for module in [*model.model.language_model.modules(), model.lm_head]:
        if isinstance(module, nn.Linear):
            n = module.weight.numel()
            total += n * module.weight.element_size() if bits is None else n * bits // 8 + n // 32 * 4
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
    from cxrpilot.models.janus._convert import _build_processor
    from cxrpilot.models.janus._prompt import build_question, get_chat_format
    from cxrpilot.models.janus._reporter import JanusReporter

    transformers.logging.set_verbosity_error()
    spec = CONFIGS[args.worker]
    device = torch.device(args.device)
    dtype = getattr(torch, spec["dtype"])
    result: dict[str, Any] = {"config": args.worker, **spec, "device": str(device), "threads": torch.get_num_threads(),
                              "load_start": os.getloadavg()[0]}
    processor = _build_processor(Path(args.tokenizer_dir), 576, 384)
    model, result["build_s"] = build_model(args.scale, processor.tokenizer, dtype, spec["attn"])
    decoder = None
    bits = None
    if spec["quantize"]:
        from cxrpilot.models.janus._ort_decode import OrtDecoder
        from cxrpilot.models.janus._speed import QUANTIZATIONS

        bits = QUANTIZATIONS[spec["quantize"]]
        t0 = time.perf_counter()
        decoder = OrtDecoder.build(model, bits=bits, max_length=int(model.config.text_config.max_position_embeddings))
        result["quantize_s"] = time.perf_counter() - t0
    model = model.to(device)
    result["weight_bytes_per_token"] = weight_bytes_per_token(model, bits)
    result["lm_matmul_params"], result["vision_matmul_params"] = matmul_params(model)
    result["params"] = sum(p.numel() for p in model.parameters())
    reporter = JanusReporter(model=model, processor=processor, model_dir=Path(args.tokenizer_dir),
                             chat_format=get_chat_format("janus-pro-cxr"), model_id="janus:random-janus-pro-1b",
                             version="random", quantization=spec["quantize"], decoder=decoder)
    batches = sorted(set(args.batches))
    files = radiograph_files(Path(args.data), max(batches))
    t0 = time.perf_counter()
    radiographs = [imaging.load(f) for f in files]
    result["image_load_s"] = (time.perf_counter() - t0) / len(files)
    question = build_question()
    ids = reporter.prompt_ids(question)
    result["prompt_tokens"] = len(ids)
    result["text_tokens"] = len(ids) - reporter.num_image_tokens
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
        inputs = reporter.batch_inputs([ids] * batch, radiographs[:batch])
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
        times = []
        for _ in range(3):  # the first call includes one-off kernel set-up
            t0 = time.perf_counter()
            model.model.get_image_features(pixels)
            if cuda:
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
    result["vision_s"] = min(times[1:])

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


# -- the machine's bounds ---------------------------------------------------------------------------------
def machine_bounds(device: str) -> dict[str, float]:
    """Measured matrix-product peak (fp32, bf16) and memory read bandwidth of ``device``."""
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

    from cxrpilot.models.janus._speed import cpu_has_native_bf16

    out: dict[str, float] = {}
    n = 8192 if device == "cuda" else 2048
    # bf16 without hardware support (e.g. an AMD EPYC without AVX512-BF16) is emulated and takes
    # minutes at this size; its bound is meaningless there, so it is left out (NaN)
    dtypes = (torch.float32, torch.bfloat16) if device == "cuda" or cpu_has_native_bf16() \
        else (torch.float32,)
    out["matmul_bfloat16_flops"] = float("nan")
    for dtype in dtypes:
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        out[f"matmul_{str(dtype).removeprefix('torch.')}_flops"] = 2 * n**3 / best(
            lambda a=a, b=b: a @ b)
    big = torch.randn((1 << 30 if device == "cuda" else 1 << 27), device=device)  # 4 GiB / 512 MiB
    out["read_bytes_s"] = big.numel() * 4 / best(lambda: big.sum())
    return out


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


def report(args: argparse.Namespace, results: dict[str, dict], errors: dict[str, str], bounds: dict[str, float],
           out_dir: Path, started: float, load: tuple[float, float]) -> str:
    import torch

    ok = {k: v for k, v in results.items()}
    any_r = next(iter(ok.values()), {})
    base = ok.get(BASELINE)
    saved = {k: torch.load(out_dir / f"{k}.pt") for k in ok if (out_dir / f"{k}.pt").is_file()}
    cuda = args.device == "cuda"
    title = "full-size Janus-Pro-1B architecture" if args.scale == "full" else "reduced model (--scale small)"
    lines = [
        f"## Janus-Pro speed: {title}, random weights (`benchmarks/bench_janus_speed.py`)",
        "",
        f"Machine: {machine()}; device {args.device}"
        + (f" ({torch.cuda.get_device_name()})" if cuda else "")
        + f"; torch {torch.__version__}, {any_r.get('threads', '?')} threads; load average at start "
        f"{load[0]:.1f}, at end {os.getloadavg()[0]:.1f}; whole run {(time.perf_counter() - started) / 60:.1f} min.",
        (f"Model: {any_r.get('params', 0) / 1e9:.2f} B parameters (language model + text head "
        f"{any_r.get('lm_matmul_params', 0) / 1e9:.2f} B in matrices, vision tower + aligner "
        f"{any_r.get('vision_matmul_params', 0) / 1e9:.2f} B); prompt {any_r.get('prompt_tokens', '?')} tokens "
        f"({any_r.get('text_tokens', '?')} text + 576 image) for the real radiograph {any_r.get('radiograph', '?')}; "
        f"exactly {args.tokens} new tokens, greedy; batch-1 figures are medians of {args.repeats} runs."),
        (f"Measured bounds of this device: matmul fp32 {bounds.get('matmul_float32_flops', 0) / 1e9:.0f} GFLOP/s, "
        f"bf16 {bounds.get('matmul_bfloat16_flops', 0) / 1e9:.0f} GFLOP/s, memory read "
        f"{bounds.get('read_bytes_s', 0) / 1e9:.1f} GB/s."),
        "",
        (f"| config | time to first token (s) | of which vision encoder (s) | decode (tokens/s) | "
        f"{args.tokens}-token report (s) | vs {BASELINE} | peak RSS (GiB) | decode GB/s (weights) | "
        "greedy tokens = fp32 | first-step logits rel. error | build / quantize / warm-up (s) | load avg |"),
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---|",
    ]
    for name in args.configs:
        if name in errors:
            lines.append(f"| {name} | failed: {errors[name]} |" + " |" * 10)
            continue
        r = ok[name]
        speedup = base["latency_s"] / r["latency_s"] if base else None
        gbs = r["weight_bytes_per_token"] * r["decode_tok_s"] / 1e9
        tokens, rel = compare(saved.get(BASELINE), saved.get(name)) if name != BASELINE else ("(reference)", "0")
        lines.append(
            f"| {name} | {fmt(r['ttft_s'])} | {fmt(r['vision_s'])} | {fmt(r['decode_tok_s'], 1)} | "
            f"{fmt(r['latency_s'], 1)} | {fmt(speedup)}x | {r['peak_rss_bytes'] / 2**30:.1f}"
            + (f" (GPU {r['cuda_peak_bytes'] / 2**30:.1f})" if "cuda_peak_bytes" in r else "") + f" | {gbs:.1f} | "
            f"{tokens} | {rel} | {r['build_s']:.0f} / {r.get('quantize_s', 0):.0f} / {r['warmup_s']:.0f} | "
            f"{r['load_start']:.1f} -> {r['load_end']:.1f} |")
    lines += ["", "Throughput (one run per batch size; batch 1 = the median above):", "",
              "| config | " + " | ".join(f"batch {b}: s / reports/s / tokens/s" for b in sorted(set(args.batches))) + " |",
              "|---|" + "---:|" * len(set(args.batches))]
    for name in args.configs:
        if name in ok:
            tp = ok[name]["throughput"]
            lines.append(f"| {name} | " + " | ".join(
                f"{tp[str(b)]['latency_s']:.1f} / {tp[str(b)]['reports_s']:.3f} / {tp[str(b)]['tokens_s']:.1f}"
                for b in sorted(set(args.batches))) + " |")
    if ok:
        best = min(ok, key=lambda k: ok[k]["latency_s"])
        r = ok[best]
        lm, vis = r["lm_matmul_params"], r["vision_matmul_params"]
        flops_report = 2 * lm * (r["prompt_tokens"] + args.tokens) + 2 * vis * 576
        # the prefill, nearly all of a report's FLOPs, runs in the configuration's torch dtype
        bf16 = CONFIGS[best]["dtype"] == "bfloat16"
        peak = bounds.get("matmul_bfloat16_flops" if bf16 or cuda else "matmul_float32_flops", 0)
        best_tp = max(ok, key=lambda k: max(t["reports_s"] for t in ok[k]["throughput"].values()))
        tp = max(ok[best_tp]["throughput"].items(), key=lambda kv: kv[1]["reports_s"])
        lines += [
            "",
            (f"Fastest report: **{best}**, {r['latency_s']:.1f} s for {args.tokens} tokens "
            f"(target <= {TARGET_S:.0f} s on the 2-core CPU: {'met' if r['latency_s'] <= TARGET_S else 'MISSED'}"
            f"{'' if args.scale == 'full' else ', but this is the reduced model'}). "
            f"Best throughput: {best_tp} at batch {tp[0]}, {tp[1]['reports_s']:.3f} reports/s "
            f"({tp[1]['tokens_s']:.0f} tokens/s)."),
            (f"Distance from the bounds ({best}, batch 1): one report is ~{flops_report / 1e12:.2f} TFLOP "
            f"(2 x matrix parameters x tokens); at the measured matmul peak that is {flops_report / peak:.2f} s "
            f"(compute bound) against {r['latency_s']:.1f} s measured; decoding reads "
            f"{r['weight_bytes_per_token'] / 1e9:.2f} GB of weights per token, "
            f"{r['weight_bytes_per_token'] / bounds['read_bytes_s'] * 1e3:.0f} ms at the measured bandwidth "
            f"(memory bound) against {1e3 / r['decode_tok_s']:.0f} ms measured."),
        ] if peak else []
        if cuda:
            lines.append(f"Reports/s on {args.device}: batch 1 {ok[best]['throughput']['1']['reports_s']:.3f} "
                         f"({best}); best batch {tp[1]['reports_s']:.3f} ({best_tp}, batch {tp[0]}).")
    compile_r = ok.get("bf16-static-compile")
    if compile_r:
        lines.append(f"torch.compile: the first static-cache run with compilation took {compile_r['warmup_s']:.0f} s "
                     f"(a one-off cost per process and batch size) against {compile_r['latency_s']:.1f} s afterwards.")
    lines += [
        "",
        ("Greedy-token agreement compares each configuration's batch-1 tokens with fp32 on the same input: "
        "with random weights the logits are nearly flat, so this shows whether a variant changes the argmax "
        "path, not whether reports stay good. Load avg: the machine's 1-minute load average when the "
        "configuration started and ended; above the core count the timings are inflated by other work "
        "(on 2 cores, OpenMP threads waiting for a busy core can slow a step down many times). Peak RSS is the worker process's high-water mark "
        "(model build, inputs and generation included; the -ort configurations keep the bf16 model for the "
        "prefill beside the quantised decoder graph, as `janus.load(..., quantize=...)` does). For the -ort "
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
    if args.configs is None:
        args.configs = [k for k, v in CONFIGS.items() if not (args.device == "cuda" and v["quantize"])]
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
        result = run_worker(args)
        Path(args.result).write_text(json.dumps(result))
        return
    started = time.perf_counter()
    load_start = os.getloadavg()[0]
    data = Path(args.data)
    out = Path(args.out or REPO / "benchmarks" / "results" /
               ("janus_speed.md" if args.scale == "full" else "janus_speed_small.md"))
    vocab = 8000
    configs = list(args.configs)
    if BASELINE not in configs:  # the agreement column needs the fp32 reference
        print(f"note: {BASELINE} added as the reference for the agreement column", flush=True)
        configs.insert(0, BASELINE)
        args.configs = configs
    with tempfile.TemporaryDirectory(prefix="janus-speed-") as tmp:
        tmp_dir = Path(tmp)
        build_tokenizer_folder(tmp_dir / "tokenizer", data, vocab)
        print(f"measuring device bounds ({args.device}) ...", flush=True)
        bounds = machine_bounds(args.device)
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
            print(f"[{name}] {time.perf_counter() - t0:.0f} s: TTFT {r['ttft_s']:.2f} s, decode "
                  f"{r['decode_tok_s']:.1f} tok/s, report {r['latency_s']:.1f} s, peak RSS "
                  f"{r['peak_rss_bytes'] / 2**30:.1f} GiB", flush=True)
        text = report(args, results, errors, bounds, tmp_dir, started, (load_start, 0.0))
    print(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    if errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
