"""Import and load on configurations the published checkpoints have.

- The tokenizer's added tokens keep their ids and flags (special, normalized, lstrip, rstrip,
  single_word) through import and load, and the project's prompts tokenise as DeepSeek's
  code tokenises them (fast, tiny model).
- The Janus-Pro-1B config.json as published — ``siglip_large_patch16_384`` by name, VQ-16 by
  class name, the 2048-wide aligners and generation head — with only the language model
  shrunk, random weights in bfloat16 saved in DeepSeek's format, imported and loaded (slow).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cxrpilot.errors import ModelLoadError
from cxrpilot.models.janus import CHAT_FORMATS, build_question, convert_checkpoint, load
from cxrpilot.models.janus._convert import convert_state_dict
from cxrpilot.models.janus._reporter import encode_prompt

from .janus_tiny import (
    PUBLISHED_LM,
    PUBLISHED_VIT,
    PUBLISHED_VQ,
    set_added_token_flags,
    torch,
    write_original_checkpoint,
)
from .test_janus_convert import reference_image_embeddings

_FLAGS = ("special", "normalized", "lstrip", "rstrip", "single_word")

QUESTIONS = [
    build_question(),
    build_question(indication="Cough and fever for 3 days", expert_findings=["Pneumonia", "Lung Opacity"]),
]


def file_added_tokens(tokenizer_json: Path) -> dict[str, tuple]:
    """content -> (id, flags...) as the tokenizer.json file gives them."""
    data = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    return {t["content"]: (t["id"], *(bool(t.get(f, False)) for f in _FLAGS)) for t in data["added_tokens"]}


def loaded_added_tokens(tokenizer) -> dict[str, tuple]:
    """content -> (id, flags...) of a loaded transformers tokenizer (its Rust tokenizer)."""
    return {t.content: (i, *(getattr(t, f) for f in _FLAGS))
            for i, t in tokenizer.backend_tokenizer.get_added_tokens_decoder().items()}


def original_prompt_ids(src: Path, chat_format, question: str, num_image_tokens: int) -> list[int]:
    """Prompt ids as DeepSeek's ``VLChatProcessor.process_one`` makes them: the source
    tokenizer.json as the Rust tokenizer reads it (what its ``LlamaTokenizerFast`` loads),
    BOS first (``add_bos_token``), each ``<image_placeholder>`` id replaced by BOI, the image
    tokens and EOI (``add_image_token``)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(src / "tokenizer.json"))
    bos = tok.token_to_id("<｜begin▁of▁sentence｜>")
    image, boi, eoi = (tok.token_to_id(t) for t in ("<image_placeholder>", "<begin_of_image>", "<end_of_image>"))
    text = chat_format.prompt(question, image_text="<image_placeholder>").strip()
    ids: list[int] = [bos]
    for i in tok.encode(text, add_special_tokens=False).ids:
        ids += [boi, *[image] * num_image_tokens, eoi] if i == image else [i]
    return ids


def check_tokenizer_and_prompts(src: Path, reporter) -> None:
    want = file_added_tokens(src / "tokenizer.json")
    got = loaded_added_tokens(reporter.processor.tokenizer)
    assert {k: got.get(k) for k in want} == want
    assert set(got) == set(want)  # nothing added
    tok = reporter.processor.tokenizer
    assert (tok.image_token, tok.boi_token, tok.eoi_token) == ("<image_placeholder>", "<begin_of_image>",
                                                              "<end_of_image>")
    assert tok.pad_token == "<｜▁pad▁｜>" and tok.pad_token_id == want["<｜▁pad▁｜>"][0]
    assert reporter.model.config.image_token_id == want["<image_placeholder>"][0]
    for chat_format in CHAT_FORMATS.values():
        for question in QUESTIONS:
            ids = encode_prompt(reporter.processor, chat_format, question)
            assert ids == original_prompt_ids(src, chat_format, question, reporter.num_image_tokens), \
                (chat_format.name, question)
    assert reporter.prompt_ids(QUESTIONS[0]) == encode_prompt(reporter.processor, reporter.chat_format, QUESTIONS[0])


@pytest.fixture(scope="module")
def flagged_tokenizer(tiny_tokenizer_json, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("janus-flags") / "tokenizer.json"
    shutil.copyfile(tiny_tokenizer_json, path)
    return set_added_token_flags(path)


def test_added_tokens_and_prompts_survive_import_and_load(flagged_tokenizer, tmp_path):
    src = tmp_path / "orig"
    write_original_checkpoint(src, flagged_tokenizer)
    out = convert_checkpoint(src, tmp_path / "hf")
    check_tokenizer_and_prompts(src, load(out, device="cpu", dtype="float32"))
    # and again after a save by the loaded processor (what `train janus` writes)
    reporter = load(out, device="cpu", dtype="float32")
    again = tmp_path / "again"
    shutil.copytree(out, again)
    reporter.processor.save_pretrained(str(again))
    check_tokenizer_and_prompts(src, load(again, device="cpu", dtype="float32"))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"width": 32, "layers": 2}, (r"names the tower 'siglip_large_patch16_384' but also gives width=32 \(the tower "
                                     r"has 1024\), layers=2 \(the tower has 24\); DeepSeek's code builds "
                                     r"'siglip_large_patch16_384' with its own sizes and ignores these keys")),
        ({"heads": 8}, r"heads=8 \(the tower has 16\)"),
    ],
)
def test_named_tower_with_other_sizes_is_refused(params, message, original_checkpoint, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(original_checkpoint[0], bad)
    config = json.loads((bad / "config.json").read_text())
    vision = config["vision_config"]["params"]
    for key in ("width", "layers", "heads", "patch_size", "mlp_ratio"):
        del vision[key]
    vision.update({"model_name": "siglip_large_patch16_384", **params})
    (bad / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match=message):
        convert_checkpoint(bad, tmp_path / "out")


def test_unknown_tower_without_sizes_is_refused(original_checkpoint, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(original_checkpoint[0], bad)
    config = json.loads((bad / "config.json").read_text())
    params = config["vision_config"]["params"]
    for key in ("width", "layers", "heads", "patch_size", "mlp_ratio"):
        del params[key]
    (bad / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match=r"unknown vision tower 'cxrpilot_tiny_vit'; expected one of "
                                             r"siglip_large_patch16_384, siglip_so400m_patch14_384"):
        convert_checkpoint(bad, tmp_path / "out")


@pytest.fixture(scope="module")
def published_checkpoint(flagged_tokenizer, tmp_path_factory) -> tuple[Path, Path]:
    """Janus-Pro-1B's config with a 2-layer language model, bfloat16 random weights in
    DeepSeek's format (pytorch_model.bin, ~0.9 GB), and its import by cxrpilot."""
    root = tmp_path_factory.mktemp("janus-pro-1b-shape")
    src = root / "Janus-Pro-1B-shallow"
    write_original_checkpoint(src, flagged_tokenizer, published=True)  # not kept in memory
    return src, convert_checkpoint(src, root / "hf")


@pytest.mark.slow
def test_published_config_imports_and_loads(published_checkpoint, radiographs):
    src, out = published_checkpoint
    sd = torch.load(src / "pytorch_model.bin", map_location="cpu", weights_only=True, mmap=True)
    config = json.loads((src / "config.json").read_text())
    assert config["vision_config"]["params"] == {"image_size": 384, "model_name": "siglip_large_patch16_384",
                                                 "select_feature": "same", "select_layer": -1}
    assert config["gen_vision_config"] == {"cls": "VQ-16", "model_type": "gen_vision",
                                           "params": {"image_token_size": 16384, "n_embed": 8}}
    # every original tensor is in the converted weights, unchanged (bfloat16 kept)
    from safetensors.torch import load_file

    saved = load_file(str(out / "model.safetensors"))
    converted = convert_state_dict(sd)
    assert set(saved) == set(converted)
    assert all(torch.equal(saved[k], v) for k, v in converted.items())
    assert {v.dtype for v in saved.values()} == {torch.bfloat16}
    del saved, converted

    reporter = load(out, device="cpu", dtype="float32")
    c = reporter.model.config
    v = c.vision_config
    assert (v.hidden_size, v.num_hidden_layers, v.num_attention_heads, v.patch_size, v.image_size) == (
        PUBLISHED_VIT["width"], PUBLISHED_VIT["layers"], PUBLISHED_VIT["heads"], PUBLISHED_VIT["patch_size"], 384)
    assert int(v.hidden_size * v.mlp_ratio) == 4096 and (v.projection_dim, v.depth) == (2048, 2)
    q = c.vq_config
    assert (q.embed_dim, q.num_embeddings, q.base_channels, list(q.channel_multiplier), q.latent_channels,
            q.num_res_blocks, q.projection_dim, q.image_token_embed_dim) == (
        8, 16384, PUBLISHED_VQ["ch"], PUBLISHED_VQ["ch_mult"], PUBLISHED_VQ["z_channels"],
        PUBLISHED_VQ["num_res_blocks"], 2048, 2048)
    t = c.text_config
    assert (t.hidden_size, t.num_hidden_layers, t.num_attention_heads, t.num_key_value_heads) == (
        2048, PUBLISHED_LM["num_hidden_layers"], 16, 16)
    assert reporter.num_image_tokens == 576 and reporter.image_size == 384
    assert reporter.processor.image_processor.resize_rule == "deepseek"
    assert not torch.equal(reporter.model.lm_head.weight, reporter.model.model.language_model.embed_tokens.weight)

    check_tokenizer_and_prompts(src, reporter)

    # SigLIP-L block 0 (16 heads, eps 1e-6, fused qkv split) against DeepSeek's block by hand
    pixels = reporter.pixel_values(radiographs[:1])
    tower = "vision_model.vision_tower."
    f32 = {k: v.float() for k, v in sd.items()
           if k.startswith((tower + "patch_embed.", tower + "pos_embed", tower + "blocks.0."))}
    vision = reporter.model.model.vision_model
    with torch.no_grad():
        x = vision.embeddings(pixels)
        got = vision.encoder.layers[0](x, attention_mask=None)
        got = got[0] if isinstance(got, tuple) else got
        want = reference_image_embeddings(f32, pixels, vit=PUBLISHED_VIT, layers=1)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)

    # one full forward through the project's path: 576 image tokens in the prompt, finite logits
    ids = reporter.prompt_ids(QUESTIONS[1])
    inputs = reporter.batch_inputs([ids], radiographs[:1])
    assert int((inputs["input_ids"] == c.image_token_id).sum()) == 576
    with torch.no_grad():
        logits = reporter.model(**inputs, logits_to_keep=1).logits
    assert logits.shape == (1, 1, t.vocab_size) and torch.isfinite(logits).all()

    # the full VQ-16 tokenises as the original (a 64-px crop keeps the convolutions cheap)
    from .test_janus_vq import original_codes

    vq = reporter.model.model.vqmodel
    crop = pixels[:, :, 160:224, 160:224]
    with torch.no_grad():
        codes = vq.encode(crop).image_tokens
        latents = vq.quant_conv(vq.encoder(crop))
    assert codes.numel() == (64 // 16) ** 2
    assert torch.equal(codes, original_codes(latents, vq.quantize.embedding.weight)[0])
