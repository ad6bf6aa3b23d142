"""What 8- and 4-bit decoding does to a *trained* report-writing language model.

The speed benchmark (``bench_janus_speed.py``) uses random weights, whose logits are nearly
flat, so it cannot say whether ``quantize="int8"`` / ``"int4"`` changes reports. No trained
Janus-Pro weights can be downloaded here, so this script trains a small LLaMA language model
(the architecture of Janus-Pro's language model, scaled down) on real report text and
measures, on reports it never saw, what the ONNX Runtime decoder
(``cxrpilot.models.janus.OrtDecoder``) changes when its weights are quantised:

- data: IU Open-i reports (``iu-xray/reports/*.xml``), "FINDINGS: ... IMPRESSION: ..."
  (``cxrpilot.reports.normalise``d); trained on the fixed ``dev`` half
  (:func:`cxrpilot.reports.iu_half`), evaluated on ``heldout`` reports (patient-disjoint);
- tokenizer: byte-level BPE trained on the dev half;
- model: ``LlamaForCausalLM`` (``--hidden``, ``--layers``, heads of 64, SiLU MLP 2.75x),
  AdamW with warm-up and cosine decay, ``--steps`` steps of ``--batch`` reports;
- per decoder (fp32 graph = the reference, then ``--decoders``: 8 or 4 bits and the
  quantisation block, ``int4-b128`` = 4 bits, one scale per 128 weights; the same graph the
  product runs):
  held-out perplexity (teacher forcing, one decode step per token after a torch prefill of
  the first token), the relative error of the next-token logits against fp32, top-1
  agreement of the next token with fp32, and greedy continuations (prompt: "FINDINGS:" plus
  the report's first three words, ``--new-tokens`` tokens): texts identical to fp32's,
  tokens before the first difference, and the 14 findings the report labeler reads from the
  text (:func:`cxrpilot.reports.label_reports`) identical to those of fp32's text;
- each block size against the default block (``OrtDecoder``'s ``BLOCK_SIZE``) at the same
  bits, paired on the same reports: the difference in greedy texts and findings equal to
  fp32's, with a 95 % interval (normal approximation of the per-report paired differences),
  and how many reports agree with fp32 under one and not the other.

A small model trained for minutes is not Janus-Pro: large pretrained models have outlier
features that quantisation can hit harder, and small ones average less noise. This shows the
size of the change on a real report distribution, not Janus-Pro-CXR's own figure.

Prints, and writes ``benchmarks/results/janus_quantization.md``.

Usage: ``python benchmarks/bench_janus_quantization.py [--steps 600] [--eval-reports 300]
[--decoders int8-b32,int8-b128,int4-b32,int4-b64,int4-b128] [--data ../shared/data]``
"""

from __future__ import annotations

import argparse
import math
import os
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
from _machine import machine

#: quantised decoders compared with the fp32 graph by default: "int{bits}-b{block}"
DECODERS = "int8-b32,int8-b128,int4-b32,int4-b64,int4-b128"

REPO = Path(__file__).resolve().parents[1]
BOS, EOS, PAD = "<s>", "</s>", "<pad>"


def report_texts(data: Path) -> dict[str, list[str]]:
    """Normalised "FINDINGS: ... IMPRESSION: ..." texts of the IU reports, by half."""
    from cxrpilot.reports import iu_half, normalise, read_iu_xml

    halves: dict[str, list[str]] = {"dev": [], "heldout": []}
    for path in sorted((data / "iu-xray" / "reports").glob("*.xml")):
        report = read_iu_xml(path)
        findings = normalise(report.sections.findings or "")
        impression = normalise(report.sections.impression or "")
        if not findings and not impression:
            continue
        text = " ".join(p for p in (f"FINDINGS: {findings}" if findings else "",
                                    f"IMPRESSION: {impression}" if impression else "") if p)
        halves[iu_half(report.report_id)].append(text)
    return halves


def train_tokenizer(texts: list[str], vocab_size: int) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=[PAD, BOS, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    return tok


def build_model(args: argparse.Namespace, vocab: int) -> Any:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(args.seed)
    intermediate = round(args.hidden * 2.75 / 32) * 32
    config = LlamaConfig(vocab_size=vocab, hidden_size=args.hidden, intermediate_size=intermediate,
                         num_hidden_layers=args.layers, num_attention_heads=args.hidden // 64,
                         num_key_value_heads=args.hidden // 64, max_position_embeddings=args.max_len + 64,
                         bos_token_id=1, eos_token_id=2, pad_token_id=0, tie_word_embeddings=False)
    return LlamaForCausalLM(config)


def encode(tok: Any, text: str, max_len: int) -> list[int]:
    return ([tok.token_to_id(BOS)] + tok.encode(text).ids)[: max_len - 1] + [tok.token_to_id(EOS)]


def train(model: Any, sequences: list[list[int]], args: argparse.Namespace) -> list[float]:
    """AdamW, linear warm-up then cosine decay; loss on every next token (padding masked)."""
    import torch

    rng = random.Random(args.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.1, betas=(0.9, 0.95))
    warmup = max(1, args.steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (
        1 + math.cos(math.pi * min(1.0, s / args.steps))))
    losses = []
    model.train()
    for step in range(args.steps):
        batch = rng.sample(sequences, args.batch)
        width = max(len(s) for s in batch)
        ids = torch.tensor([s + [0] * (width - len(s)) for s in batch])
        mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in batch])
        labels = ids.masked_fill(mask == 0, -100)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
        if (step + 1) % max(1, args.steps // 10) == 0:
            print(f"  step {step + 1}/{args.steps}: loss {np.mean(losses[-50:]):.3f}", flush=True)
    model.eval()
    return losses


def prefill(model: Any, ids: list[int]) -> tuple[Any, np.ndarray]:
    import torch

    with torch.inference_mode():
        out = model(input_ids=torch.tensor([ids]), use_cache=True)
    return out.past_key_values, out.logits[0, -1].float().numpy()


def teacher_forced(model: Any, decoder: Any, ids: list[int]) -> np.ndarray:
    """Next-token logits at every position after the first, (len(ids) - 1, vocab)."""
    import torch

    cache, first = prefill(model, ids[:1])
    stream = decoder.open(cache, [1], len(ids) + 1)
    embed = model.get_input_embeddings()
    rows = [first]
    with torch.inference_mode():
        for token in ids[1:-1]:
            rows.append(stream.step(embed(torch.tensor([[token]])).float().numpy())[0])
    return np.stack(rows)


def greedy(model: Any, decoder: Any, prompt: list[int], new_tokens: int, eos: int) -> list[int]:
    cache, first = prefill(model, prompt)
    return decoder.decode(cache, [len(prompt)], [int(first.argmax())], model.get_input_embeddings(),
                          max_new_tokens=new_tokens, eos_token_id=eos, pad_token_id=0)[0]


def parse_decoders(text: str) -> dict[str, tuple[int, int]]:
    """``"int4-b32,int8-b128"`` -> {name: (bits, block size)}; ``int4`` alone: the default block."""
    import re

    from cxrpilot.models.janus import QUANTIZATION_BITS, check_block_size
    from cxrpilot.models.janus import QUANTIZATION_BLOCK_SIZE as BLOCK_SIZE

    out: dict[str, tuple[int, int]] = {}
    for name in (n.strip() for n in text.split(",") if n.strip()):
        match = re.fullmatch(r"int(\d+)(?:-b(\d+))?", name)
        if not match or int(match[1]) not in QUANTIZATION_BITS.values():
            raise SystemExit(f"unknown decoder {name!r}; expected int8 / int4 with an optional block, e.g. int4-b128")
        bits, block = int(match[1]), check_block_size(int(match[2] or BLOCK_SIZE))
        out[f"int{bits}-b{block}"] = (bits, block)
    return out


def paired_difference(a: list[bool], b: list[bool]) -> tuple[float, float, int, int]:
    """Mean of a - b over paired reports, the 95 % half-width (normal approximation of the
    paired differences), and the discordant counts (a only, b only)."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    half = 1.96 * float(d.std(ddof=1)) / math.sqrt(len(d)) if len(d) > 1 else float("nan")
    return float(d.mean()), half, int((d > 0).sum()), int((d < 0).sum())


def log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("CXRPILOT_DATA", REPO.parent / "shared" / "data"))
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--hidden", type=int, default=384)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--vocab", type=int, default=2048)
    parser.add_argument("--max-len", type=int, default=160)
    parser.add_argument("--eval-reports", type=int, default=300)
    parser.add_argument("--new-tokens", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--decoders", default=DECODERS,
                        help=f"quantised decoders, int{{bits}}-b{{block}} (default {DECODERS})")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "janus_quantization.md"))
    args = parser.parse_args(argv)
    quantised = parse_decoders(args.decoders)

    import torch
    import transformers

    from cxrpilot.models.janus import QUANTIZATION_BLOCK_SIZE as BLOCK_SIZE
    from cxrpilot.models.janus import OrtDecoder
    from cxrpilot.reports import label_reports

    transformers.logging.set_verbosity_error()
    started = time.perf_counter()
    load_start = os.getloadavg()[0]
    halves = report_texts(Path(args.data))
    tok = train_tokenizer(halves["dev"], args.vocab)
    eos = tok.token_to_id(EOS)
    train_ids = [encode(tok, t, args.max_len) for t in halves["dev"]]
    rng = random.Random(args.seed)
    held = rng.sample(halves["heldout"], min(args.eval_reports, len(halves["heldout"])))
    held_ids = [encode(tok, t, args.max_len) for t in held]
    model = build_model(args, tok.get_vocab_size())
    params = sum(p.numel() for p in model.parameters())
    print(f"training: {len(train_ids)} dev reports, {params / 1e6:.1f} M parameters, {args.steps} steps", flush=True)
    t0 = time.perf_counter()
    losses = train(model, train_ids, args)
    train_s = time.perf_counter() - t0

    decoders = {name: OrtDecoder.from_parts(model.model, model.lm_head, bits=bits, block_size=block,
                                            max_length=args.max_len + 128)
                for name, (bits, block) in {"fp32": (None, BLOCK_SIZE), **quantised}.items()}
    # the fp32 graph is the reference; check it against the torch model once
    with torch.inference_mode():
        torch_logits = model(input_ids=torch.tensor([held_ids[0]])).logits[0, :-1].float().numpy()
    graph_error = float(np.abs(teacher_forced(model, decoders["fp32"], held_ids[0]) - torch_logits).max())

    results: dict[str, dict[str, Any]] = {}
    reference_logits = [teacher_forced(model, decoders["fp32"], ids) for ids in held_ids]
    prompts = []
    for text in held:
        words = text.split()
        prompts.append([tok.token_to_id(BOS)] + tok.encode(" ".join(words[:4])).ids)  # "FINDINGS:" + 3 words
    reference_texts = [tok.decode([t for t in greedy(model, decoders["fp32"], p, args.new_tokens, eos) if t != eos])
                       for p in prompts]
    reference_labels = label_reports(reference_texts)
    reference_tokens = [tok.encode(t).ids for t in reference_texts]
    t_eval = time.perf_counter()
    for name, decoder in decoders.items():
        nll, count, rel, top1 = 0.0, 0, [], []
        for ids, ref in zip(held_ids, reference_logits):
            logits = ref if name == "fp32" else teacher_forced(model, decoder, ids)
            targets = np.asarray(ids[1:])
            nll -= float(log_softmax(logits)[np.arange(len(targets)), targets].sum())
            count += len(targets)
            rel.append(float(np.linalg.norm(logits - ref) / np.linalg.norm(ref)))
            top1.append(float(np.mean(logits.argmax(-1) == ref.argmax(-1))))
        tokens = [greedy(model, decoder, p, args.new_tokens, eos) for p in prompts]
        texts = [tok.decode([t for t in row if t != eos]) for row in tokens]
        prefix = []
        for row, b in zip(texts, reference_tokens):
            a = tok.encode(row).ids
            prefix.append(next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b))))
        labels = label_reports(texts)
        same_text = [a == b for a, b in zip(texts, reference_texts)]
        same_labels = [a == b for a, b in zip(labels, reference_labels)]
        results[name] = {
            "ppl": math.exp(nll / count), "rel": float(np.mean(rel)), "top1": float(np.mean(top1)),
            "same_text": float(np.mean(same_text)), "same_text_rows": same_text,
            "prefix": float(np.mean(prefix)), "ref_len": float(np.mean([len(t) for t in reference_tokens])),
            "same_labels": float(np.mean(same_labels)), "same_labels_rows": same_labels,
            "example": texts[0], "bits": decoder.bits, "block": decoder.block_size if decoder.bits else None,
        }
        print(f"[{name}] perplexity {results[name]['ppl']:.3f}, logits rel. error {results[name]['rel']:.2e}, "
              f"top-1 = fp32 {results[name]['top1']:.4f}, greedy text = fp32 {results[name]['same_text']:.3f}, "
              f"findings = fp32 {results[name]['same_labels']:.3f}", flush=True)

    lines = [
        "## Quantised decoding on a trained report language model (`benchmarks/bench_janus_quantization.py`)",
        "",
        f"Machine: {machine()}; torch {torch.__version__}; whole run {(time.perf_counter() - started) / 60:.1f} min.",
        (f"Model: LlamaForCausalLM, {params / 1e6:.1f} M parameters (hidden {args.hidden}, {args.layers} layers, "
        f"heads of 64, vocabulary {tok.get_vocab_size()} byte-level BPE), trained {args.steps} steps x {args.batch} "
        f"reports on the {len(train_ids)} IU reports of the dev half ({train_s / 60:.1f} min; loss "
        f"{np.mean(losses[:20]):.2f} -> {np.mean(losses[-50:]):.2f}); evaluated on {len(held_ids)} held-out "
        f"reports ({sum(len(i) - 1 for i in held_ids)} tokens). fp32 graph vs the torch model: max abs logit "
        f"difference {graph_error:.1e}. Evaluation of the {len(decoders)} decoders "
        f"{(time.perf_counter() - t_eval) / 60:.1f} min; load average {load_start:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end."),
        "",
        ("| decoder | bits | block | held-out perplexity | vs fp32 | next-token logits rel. error | next token = fp32 | "
        f"greedy text = fp32 ({args.new_tokens} tokens) | tokens before first difference | "
        "14 findings = fp32's |"),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    base = results["fp32"]["ppl"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['bits'] or 32} | {r['block'] or '-'} | {r['ppl']:.3f} | "
                     f"{100 * (r['ppl'] / base - 1):+.2f} % | {r['rel']:.1e} | "
                     f"{100 * r['top1']:.2f} % | {100 * r['same_text']:.1f} % | {r['prefix']:.1f} of "
                     f"{r['ref_len']:.1f} | {100 * r['same_labels']:.1f} % |")
    paired = [(name, r, f"int{r['bits']}-b{BLOCK_SIZE}") for name, r in results.items()
              if r["bits"] and r["block"] != BLOCK_SIZE and f"int{r['bits']}-b{BLOCK_SIZE}" in results]
    if paired:
        lines += ["", (f"Each block size against blocks of {BLOCK_SIZE} at the same bits, paired on the same "
                       f"{len(prompts)} greedy reports (difference in percentage points, 95 % interval of the paired "
                       "differences; reports equal to fp32's under this block only / under the default only):"), "",
                  ("| decoder | vs | greedy text = fp32: difference | only / only | 14 findings = fp32's: difference "
                   "| only / only |"),
                  "|---|---|---:|---:|---:|---:|"]
        for name, r, ref in paired:
            cells = []
            for key in ("same_text_rows", "same_labels_rows"):
                diff, half, mine, theirs = paired_difference(r[key], results[ref][key])
                cells += [f"{100 * diff:+.1f} ({100 * (diff - half):+.1f} to {100 * (diff + half):+.1f})",
                          f"{mine} / {theirs}"]
            lines.append(f"| {name} | {ref} | " + " | ".join(cells) + " |")
    lines += ["", "First held-out prompt, greedy:", ""]
    lines += [f"- {name}: {r['example']!r}" for name, r in results.items()]
    lines += ["", ("A small model trained for minutes is not Janus-Pro: this sizes the change on a real report "
              "distribution; it is not Janus-Pro-CXR's own figure (check that on real weights, `docs/janus.md`)."), ""]
    text = "\n".join(lines)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
