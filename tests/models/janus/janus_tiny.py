"""Helpers for the Janus tests. Tiny Janus checkpoints built offline: a byte-level BPE tokenizer trained on real IU report
text, an original DeepSeek-format checkpoint (the key names and config structure of the
published Janus-Pro release, written from the structure of DeepSeek's own modules), and its
HF-format conversion. Real radiographs come from ../shared/data/covid-radiography.

DeepSeek's code cannot build a tiny vision tower: ``create_siglip_vit`` asserts that
``model_name`` is one of its three SigLIP configs and ignores size keys. So the tiny checkpoints
name their tower ``cxrpilot_tiny_vit`` (no SigLIP name) and give its sizes explicitly, which
cxrpilot's importer accepts as its own extension; :func:`published_config` is the Janus-Pro-1B
config.json as released (``siglip_large_patch16_384``, VQ-16, 2048-wide aligners and heads)
with only the language model shrunk, for the slow published-config test.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

BOS, EOS, PAD = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜▁pad▁｜>"
SPECIAL_TOKENS = [BOS, EOS, PAD, "<image_placeholder>", "<begin_of_image>", "<end_of_image>",
                  "<patch_placeholder>", "<|User|>", "<|Assistant|>"]

# Tiny sizes; the structure is Janus-Pro's (SigLIP ViT + 2-layer GELU aligner + LLaMA + VQ-16).
LM = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
      "num_key_value_heads": 4, "max_position_embeddings": 1024}
VIT = {"width": 32, "layers": 2, "heads": 2, "patch_size": 8, "mlp_ratio": 4.0, "image_size": 32}
VQ = {"ch": 32, "ch_mult": [1, 1], "z_channels": 32, "num_res_blocks": 1, "n_embed": 8, "image_token_size": 64}
#: The tiny tower's name: not a SigLIP name, so nothing mistakes it for one DeepSeek's code builds.
TINY_TOWER = "cxrpilot_tiny_vit"

# Janus-Pro-1B as published (deepseek-ai/Janus-Pro-1B config.json): SigLIP-L/16 at 384 px
# (janus/models/siglip_vit.py), VQ-16 (janus/models/vq_model.py ModelArgs defaults; the
# original builds it with no arguments), LM width 2048. PUBLISHED_LM shrinks only depth and
# vocabulary (the test tokenizer's), keeping the width the aligners and heads need.
PUBLISHED_LM = {"hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 2, "num_attention_heads": 16,
                "num_key_value_heads": 16, "max_position_embeddings": 16384}
PUBLISHED_VIT = {"width": 1024, "layers": 24, "heads": 16, "patch_size": 16, "mlp_ratio": 4.0, "image_size": 384}
PUBLISHED_VQ = {"ch": 128, "ch_mult": [1, 1, 2, 2, 4], "z_channels": 256, "num_res_blocks": 2, "n_embed": 8,
                "image_token_size": 16384}


def iu_report_texts(data: Path, limit: int = 400) -> list[str]:
    texts: list[str] = []
    for path in sorted((data / "iu-xray" / "reports").glob("*.xml"))[:limit]:
        raw = path.read_text(encoding="utf-8")
        texts += re.findall(r'<AbstractText Label="(?:FINDINGS|IMPRESSION|INDICATION)">(.*?)</AbstractText>', raw)
    return texts


def train_tokenizer(texts: list[str], path: Path, vocab_size: int = 1000) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    from cxrpilot.models.janus._prompt import REPORT_QUESTION, SYSTEM_PROMPT

    extra = ["FINDINGS: ", "IMPRESSION: ", "User: ", "Assistant:", REPORT_QUESTION, SYSTEM_PROMPT,
             "Expert analysis: present.", "Indication:"]
    tok.train_from_iterator(
        texts + extra * 300,
        trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False),
    )
    tok.save(str(path))
    return path


def _gen(shape, g, scale=0.2):
    return torch.randn(*shape, generator=g) * scale


def _scaled_gen(fan_in: bool, dtype: torch.dtype | None = None):
    """``_gen``, with the std capped at 1/sqrt(fan-in) of matrices and kernels when ``fan_in``,
    each tensor cast to ``dtype`` as it is made (no full-precision copy of the whole model)."""
    if not fan_in and dtype is None:
        return _gen

    def gen(shape, g, scale=0.2):
        fan = math.prod(shape[1:]) if len(shape) > 1 and fan_in else 0
        value = _gen(shape, g, min(scale, fan ** -0.5) if fan else scale)
        return value if dtype is None else value.to(dtype)

    return gen


def original_state_dict(vocab: int, seed: int = 0, *, lm: dict = LM, vit: dict = VIT, vq: dict = VQ,
                        dtype: torch.dtype | None = None, fan_in: bool = False) -> dict[str, torch.Tensor]:
    """Weights of DeepSeek's ``MultiModalityCausalLM`` with the release's key names (sizes
    from ``lm``/``vit``/``vq``; ``dtype`` casts them, e.g. bfloat16 as released; ``fan_in``
    caps each weight's std at 1/sqrt(fan-in), so that activations stay finite at full depth)."""
    g = torch.Generator().manual_seed(seed)
    gen = _scaled_gen(fan_in, dtype)
    sd: dict[str, torch.Tensor] = {}
    LM, VIT, VQ = lm, vit, vq
    H, I = LM["hidden_size"], LM["intermediate_size"]
    # language_model = LlamaForCausalLM
    sd["language_model.model.embed_tokens.weight"] = gen((vocab, H), g, 1.0)
    for i in range(LM["num_hidden_layers"]):
        p = f"language_model.model.layers.{i}."
        for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
            sd[p + f"self_attn.{name}.weight"] = gen((H, H), g)
        sd[p + "mlp.gate_proj.weight"] = gen((I, H), g)
        sd[p + "mlp.up_proj.weight"] = gen((I, H), g)
        sd[p + "mlp.down_proj.weight"] = gen((H, I), g)
        sd[p + "input_layernorm.weight"] = 1 + gen((H,), g, 0.05)
        sd[p + "post_attention_layernorm.weight"] = 1 + gen((H,), g, 0.05)
    sd["language_model.model.norm.weight"] = 1 + gen((H,), g, 0.05)
    sd["language_model.lm_head.weight"] = gen((vocab, H), g, 0.5)
    # vision_model = CLIPVisionTower wrapping timm's VisionTransformer (siglip_vit.py)
    D, P, n = VIT["width"], VIT["patch_size"], (VIT["image_size"] // VIT["patch_size"]) ** 2
    M = int(D * VIT["mlp_ratio"])
    t = "vision_model.vision_tower."
    sd[t + "pos_embed"] = gen((1, n, D), g)
    sd[t + "patch_embed.proj.weight"] = gen((D, 3, P, P), g, 0.1)
    sd[t + "patch_embed.proj.bias"] = gen((D,), g)
    for i in range(VIT["layers"]):
        b = f"{t}blocks.{i}."
        for norm in ("norm1", "norm2"):
            sd[b + f"{norm}.weight"], sd[b + f"{norm}.bias"] = 1 + gen((D,), g, 0.05), gen((D,), g, 0.05)
        sd[b + "attn.qkv.weight"], sd[b + "attn.qkv.bias"] = gen((3 * D, D), g), gen((3 * D,), g)
        sd[b + "attn.proj.weight"], sd[b + "attn.proj.bias"] = gen((D, D), g), gen((D,), g)
        sd[b + "mlp.fc1.weight"], sd[b + "mlp.fc1.bias"] = gen((M, D), g), gen((M,), g)
        sd[b + "mlp.fc2.weight"], sd[b + "mlp.fc2.bias"] = gen((D, M), g), gen((D,), g)
    sd[t + "norm.weight"], sd[t + "norm.bias"] = 1 + gen((D,), g, 0.05), gen((D,), g, 0.05)
    # timm AttentionPoolLatent ("map" global pool): in the release, unused by Janus
    a = t + "attn_pool."
    sd[a + "latent"] = gen((1, 1, D), g)
    sd[a + "q.weight"], sd[a + "q.bias"] = gen((D, D), g), gen((D,), g)
    sd[a + "kv.weight"], sd[a + "kv.bias"] = gen((2 * D, D), g), gen((2 * D,), g)
    sd[a + "proj.weight"], sd[a + "proj.bias"] = gen((D, D), g), gen((D,), g)
    sd[a + "norm.weight"], sd[a + "norm.bias"] = 1 + gen((D,), g, 0.05), gen((D,), g)
    sd[a + "mlp.fc1.weight"], sd[a + "mlp.fc1.bias"] = gen((M, D), g), gen((M,), g)
    sd[a + "mlp.fc2.weight"], sd[a + "mlp.fc2.bias"] = gen((D, M), g), gen((D,), g)
    # aligner = MlpProjector(mlp_gelu, depth 2): layers = [Linear, GELU, Linear]
    sd["aligner.layers.0.weight"], sd["aligner.layers.0.bias"] = gen((H, D), g), gen((H,), g)
    sd["aligner.layers.2.weight"], sd["aligner.layers.2.bias"] = gen((H, H), g), gen((H,), g)
    # gen_vision_model = VQModel (vq_model.py)
    sd.update(_vq_state_dict(g, VQ, fan_in, dtype))
    E, K = VQ["n_embed"], VQ["image_token_size"]
    sd["gen_aligner.layers.0.weight"], sd["gen_aligner.layers.0.bias"] = gen((H, E), g), gen((H,), g)
    sd["gen_aligner.layers.2.weight"], sd["gen_aligner.layers.2.bias"] = gen((H, H), g), gen((H,), g)
    sd["gen_head.output_mlp_projector.weight"] = gen((H, H), g)
    sd["gen_head.output_mlp_projector.bias"] = gen((H,), g)
    sd["gen_head.vision_head.weight"], sd["gen_head.vision_head.bias"] = gen((K, H), g), gen((K,), g)
    sd["gen_embed.weight"] = gen((K, E), g)
    if dtype is not None:  # the few made directly (ones + noise, zeros)
        sd = {k: v.to(dtype) for k, v in sd.items()}
    return sd


def _vq_state_dict(g, VQ: dict = VQ, fan_in: bool = False,
                   dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
    """VQModel keys, following the loops of DeepSeek's vq_model.Encoder/Decoder."""
    gen = _scaled_gen(fan_in, dtype)
    sd: dict[str, torch.Tensor] = {}

    def conv(name, cin, cout, k):
        sd[name + ".weight"], sd[name + ".bias"] = gen((cout, cin, k, k), g, 0.05), gen((cout,), g, 0.05)

    def norm(name, c):
        sd[name + ".weight"], sd[name + ".bias"] = 1 + gen((c,), g, 0.05), gen((c,), g, 0.05)

    def res(name, cin, cout):
        norm(name + ".norm1", cin), conv(name + ".conv1", cin, cout, 3)
        norm(name + ".norm2", cout), conv(name + ".conv2", cout, cout, 3)
        if cin != cout:
            conv(name + ".nin_shortcut", cin, cout, 1)

    def attn(name, c):
        norm(name + ".norm", c)
        for x in ("q", "k", "v", "proj_out"):
            conv(f"{name}.{x}", c, c, 1)

    ch, mult, z, nrb = VQ["ch"], VQ["ch_mult"], VQ["z_channels"], VQ["num_res_blocks"]
    levels = len(mult)
    e = "gen_vision_model.encoder."
    conv(e + "conv_in", 3, ch, 3)
    in_mult = (1, *mult)
    for lvl in range(levels):
        block_in, block_out = ch * in_mult[lvl], ch * mult[lvl]
        for j in range(nrb):
            res(f"{e}conv_blocks.{lvl}.res.{j}", block_in, block_out)
            block_in = block_out
            if lvl == levels - 1:
                attn(f"{e}conv_blocks.{lvl}.attn.{j}", block_in)
        if lvl != levels - 1:
            conv(f"{e}conv_blocks.{lvl}.downsample.conv", block_in, block_in, 3)
    res(e + "mid.0", block_in, block_in), attn(e + "mid.1", block_in), res(e + "mid.2", block_in, block_in)
    norm(e + "norm_out", block_in), conv(e + "conv_out", block_in, z, 3)
    d = "gen_vision_model.decoder."
    block_in = ch * mult[-1]
    conv(d + "conv_in", z, block_in, 3)
    res(d + "mid.0", block_in, block_in), attn(d + "mid.1", block_in), res(d + "mid.2", block_in, block_in)
    for k, lvl in enumerate(reversed(range(levels))):
        block_out = ch * mult[lvl]
        for j in range(nrb + 1):
            res(f"{d}conv_blocks.{k}.res.{j}", block_in, block_out)
            block_in = block_out
            if lvl == levels - 1:
                attn(f"{d}conv_blocks.{k}.attn.{j}", block_in)
        if lvl != 0:
            conv(f"{d}conv_blocks.{k}.upsample.conv", block_in, block_in, 3)
    norm(d + "norm_out", block_in), conv(d + "conv_out", block_in, 3, 3)
    q = "gen_vision_model."
    sd[q + "quantize.embedding.weight"] = gen((VQ["image_token_size"], VQ["n_embed"]), g)
    sd[q + "quantize.codebook_used"] = torch.zeros(65536)
    conv(q + "quant_conv", z, VQ["n_embed"], 1)
    conv(q + "post_quant_conv", VQ["n_embed"], z, 1)
    return sd


def original_config(vocab: int) -> dict:
    """config.json of the release (model_type multi_modality), with tiny sizes. The vision
    and VQ sizes are given as explicit params, which the release (fixed named modules) omits."""
    H = LM["hidden_size"]
    return {
        "model_type": "multi_modality",
        "architectures": ["MultiModalityCausalLM"],
        "torch_dtype": "float32",
        "transformers_version": "4.33.1",
        "language_config": {**LM, "model_type": "llama", "vocab_size": vocab, "torch_dtype": "float32"},
        "vision_config": {"cls": "CLIPVisionTower", "model_type": "vision", "params": {
            "image_size": VIT["image_size"], "model_name": TINY_TOWER, "select_feature": "same",
            "select_layer": -1, **{k: VIT[k] for k in ("width", "layers", "heads", "patch_size", "mlp_ratio")}}},
        "aligner_config": {"cls": "MlpProjector", "model_type": "aligner", "params": {
            "depth": 2, "input_dim": VIT["width"], "n_embed": H, "projector_type": "mlp_gelu"}},
        "gen_vision_config": {"cls": "VQ-16", "model_type": "gen_vision", "params": dict(VQ)},
        "gen_aligner_config": {"cls": "MlpProjector", "model_type": "gen_aligner", "params": {
            "depth": 2, "input_dim": VQ["n_embed"], "n_embed": H, "projector_type": "mlp_gelu"}},
        "gen_head_config": {"cls": "vision_head", "model_type": "gen_head", "params": {
            "image_token_embed": H, "image_token_size": VQ["image_token_size"], "n_embed": H}},
    }


def published_config(vocab: int) -> dict:
    """deepseek-ai/Janus-Pro-1B's config.json, the language model shrunk to
    :data:`PUBLISHED_LM` (and ``vocab``). Everything else as released: the vision tower by
    name only, VQ-16 by class name with codebook 16384 x 8, the 2048-wide aligners and head."""
    return {
        "aligner_config": {"cls": "MlpProjector", "model_type": "aligner", "params": {
            "depth": 2, "input_dim": 1024, "n_embed": 2048, "projector_type": "mlp_gelu"}},
        "architectures": ["MultiModalityCausalLM"],
        "gen_aligner_config": {"cls": "MlpProjector", "model_type": "gen_aligner", "params": {
            "depth": 2, "input_dim": 8, "n_embed": 2048, "projector_type": "mlp_gelu"}},
        "gen_head_config": {"cls": "vision_head", "model_type": "gen_head", "params": {
            "image_token_embed": 2048, "image_token_size": 16384, "n_embed": 2048}},
        "gen_vision_config": {"cls": "VQ-16", "model_type": "gen_vision", "params": {
            "image_token_size": 16384, "n_embed": 8}},
        "language_config": {**PUBLISHED_LM, "model_type": "llama", "torch_dtype": "bfloat16", "vocab_size": vocab},
        "model_type": "multi_modality",
        "torch_dtype": "bfloat16",
        "transformers_version": "4.33.1",
        "vision_config": {"cls": "CLIPVisionTower", "model_type": "vision", "params": {
            "image_size": 384, "model_name": "siglip_large_patch16_384", "select_feature": "same",
            "select_layer": -1}},
    }


#: Added-token flags put on the test tokenizers: varied on purpose (normalized, special,
#: rstrip), so that a converter or loader that re-registers a token with its own defaults
#: changes something a test sees. (The published files' own flags could not be read here.)
ADDED_TOKEN_FLAGS = {
    BOS: {"normalized": True}, EOS: {"normalized": True}, PAD: {"normalized": True},
    "<image_placeholder>": {"normalized": True}, "<begin_of_image>": {"special": False},
    "<end_of_image>": {"special": False, "normalized": True}, "<|Assistant|>": {"rstrip": True},
}


def set_added_token_flags(tokenizer_json: Path, flags: dict[str, dict] = ADDED_TOKEN_FLAGS) -> Path:
    """Rewrite the flags of ``tokenizer_json``'s added tokens in place; returns the path."""
    data = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    for token in data["added_tokens"]:
        token.update(flags.get(token["content"], {}))
    tokenizer_json.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return tokenizer_json


def write_original_checkpoint(folder: Path, tokenizer_json: Path, *, seed: int = 0,
                              safetensors: bool = False, published: bool = False) -> dict[str, torch.Tensor]:
    """Write an original-format checkpoint folder; returns its state dict. ``published``:
    :func:`published_config` with bfloat16 weights of those sizes (as released), else tiny."""
    from tokenizers import Tokenizer

    folder.mkdir(parents=True, exist_ok=True)
    vocab = Tokenizer.from_file(str(tokenizer_json)).get_vocab_size()
    vit = PUBLISHED_VIT if published else VIT
    (folder / "tokenizer.json").write_bytes(tokenizer_json.read_bytes())
    config = published_config(vocab) if published else original_config(vocab)
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "add_bos_token": True, "add_eos_token": False, "bos_token": BOS, "eos_token": EOS,
        "clean_up_tokenization_spaces": False, "legacy": True, "model_max_length": 16384,
        "pad_token": None, "tokenizer_class": "LlamaTokenizerFast", "unk_token": None,
        "use_default_system_prompt": False}))
    (folder / "special_tokens_map.json").write_text(json.dumps({
        "additional_special_tokens": ["<image_placeholder>", "<patch_placeholder>", "<|User|>", "<|Assistant|>"],
        "bos_token": BOS, "eos_token": EOS, "pad_token": PAD}, ensure_ascii=False))
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "background_color": [127, 127, 127], "do_normalize": True, "image_mean": [0.5, 0.5, 0.5],
        "image_processor_type": "VLMImageProcessor", "image_size": vit["image_size"],
        "image_std": [0.5, 0.5, 0.5], "min_size": 14, "processor_class": "VLChatProcessor",
        "rescale_factor": 0.00392156862745098}))
    (folder / "processor_config.json").write_text(json.dumps({
        "add_special_token": False, "ignore_id": -100, "image_tag": "<image_placeholder>",
        "mask_prompt": True, "num_image_tokens": (vit["image_size"] // vit["patch_size"]) ** 2,
        "processor_class": "VLChatProcessor", "sft_format": "deepseek"}))
    if published:
        sd = original_state_dict(vocab, seed, lm=PUBLISHED_LM, vit=PUBLISHED_VIT, vq=PUBLISHED_VQ,
                                 dtype=torch.bfloat16, fan_in=True)
    else:
        sd = original_state_dict(vocab, seed)
    if safetensors:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in sd.items()}, str(folder / "model.safetensors"))
    else:
        torch.save(sd, folder / "pytorch_model.bin")
    return sd


def radiograph_from_file(path: Path | str):
    """A Radiograph from a real image file (through cxrpilot.imaging when it is there)."""
    path = Path(path)
    try:
        from cxrpilot import imaging

        return imaging.load(path)
    except (ImportError, AttributeError):
        from PIL import Image

        from cxrpilot.imaging._radiograph import Radiograph

        raw = path.read_bytes()
        pixels = np.asarray(Image.open(path).convert("L"), dtype=np.float32) / 255.0
        return Radiograph(pixels=pixels, source=str(path), format="jpeg",
                          sha256=hashlib.sha256(raw).hexdigest())
