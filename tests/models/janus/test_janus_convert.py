"""Import of original DeepSeek-format checkpoints: round trip with a logits check."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from cxrpilot.errors import ModelLoadError
from cxrpilot.models.janus import convert_checkpoint, load
from cxrpilot.models.janus._convert import convert_state_dict

from .janus_tiny import LM, VIT, torch, write_original_checkpoint


def reference_image_embeddings(sd: dict, pixel_values: torch.Tensor, *, vit: dict = VIT,
                               layers: int | None = None) -> torch.Tensor:
    """Original Janus vision path written out by hand from DeepSeek's modules (timm ViT with
    fused qkv + MlpProjector), on the original tensors — independent of transformers' Janus.
    ``layers``: stop after that many blocks and return their output (no norm, no aligner)."""
    F = torch.nn.functional
    t = "vision_model.vision_tower."
    D, heads = vit["width"], vit["heads"]
    x = F.conv2d(pixel_values, sd[t + "patch_embed.proj.weight"], sd[t + "patch_embed.proj.bias"],
                 stride=vit["patch_size"])
    x = x.flatten(2).transpose(1, 2) + sd[t + "pos_embed"]
    B, N, _ = x.shape
    for i in range(vit["layers"] if layers is None else layers):
        b = f"{t}blocks.{i}."
        h = F.layer_norm(x, (D,), sd[b + "norm1.weight"], sd[b + "norm1.bias"], eps=1e-6)
        qkv = F.linear(h, sd[b + "attn.qkv.weight"], sd[b + "attn.qkv.bias"])
        q, k, v = qkv.reshape(B, N, 3, heads, D // heads).permute(2, 0, 3, 1, 4)
        att = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(D // heads), dim=-1)
        h = (att @ v).transpose(1, 2).reshape(B, N, D)
        x = x + F.linear(h, sd[b + "attn.proj.weight"], sd[b + "attn.proj.bias"])
        h = F.layer_norm(x, (D,), sd[b + "norm2.weight"], sd[b + "norm2.bias"], eps=1e-6)
        h = F.linear(F.gelu(F.linear(h, sd[b + "mlp.fc1.weight"], sd[b + "mlp.fc1.bias"])),
                     sd[b + "mlp.fc2.weight"], sd[b + "mlp.fc2.bias"])
        x = x + h
    if layers is not None:
        return x
    x = F.layer_norm(x, (D,), sd[t + "norm.weight"], sd[t + "norm.bias"], eps=1e-6)
    x = F.linear(x, sd["aligner.layers.0.weight"], sd["aligner.layers.0.bias"])
    return F.linear(F.gelu(x), sd["aligner.layers.2.weight"], sd["aligner.layers.2.bias"])


def reference_logits(sd: dict, config: dict, input_ids, attention_mask, pixel_values, image_token_id):
    """Language model = the raw ``language_model.*`` weights in transformers' LlamaForCausalLM,
    image positions filled with :func:`reference_image_embeddings` (as prepare_inputs_embeds does)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    lang = {k: v for k, v in config["language_config"].items() if k not in ("model_type", "torch_dtype")}
    llama = LlamaForCausalLM(LlamaConfig(**lang, tie_word_embeddings=False)).eval()
    llama.load_state_dict({k.removeprefix("language_model."): v for k, v in sd.items()
                           if k.startswith("language_model.")}, strict=True)
    embeds = llama.get_input_embeddings()(input_ids)
    image = reference_image_embeddings(sd, pixel_values)
    mask = input_ids == image_token_id
    embeds = embeds.clone()
    embeds[mask] = image.reshape(-1, image.shape[-1])
    return llama(inputs_embeds=embeds, attention_mask=attention_mask).logits


def test_converted_model_matches_reference_logits(original_checkpoint, tiny_janus_dir, radiographs):
    src, sd = original_checkpoint
    reporter = load(tiny_janus_dir, device="cpu", dtype="float32")
    config = json.loads((src / "config.json").read_text())
    ids = [reporter.prompt_ids("Give a radiology report."), reporter.prompt_ids("Indication: cough. Report.")]
    inputs = reporter.batch_inputs(ids, radiographs[:2])
    with torch.no_grad():
        got = reporter.model(**inputs).logits
        want = reference_logits(sd, config, inputs["input_ids"], inputs["attention_mask"],
                                inputs["pixel_values"], reporter.model.config.image_token_id)
    valid = inputs["attention_mask"].bool()
    assert got.shape == want.shape
    torch.testing.assert_close(got[valid], want[valid], rtol=1e-4, atol=1e-4)
    # the separate LM head survived (not tied to the input embeddings)
    assert torch.equal(reporter.model.lm_head.weight, sd["language_model.lm_head.weight"])
    assert not torch.equal(reporter.model.lm_head.weight,
                           reporter.model.model.language_model.embed_tokens.weight)


def test_every_original_tensor_is_carried_over(original_checkpoint, tiny_janus_dir):
    _, sd = original_checkpoint
    converted = convert_state_dict(sd)
    dropped = {k for k in sd if "attn_pool" in k or k.endswith("codebook_used")}
    # qkv splits into three tensors; everything else maps one to one
    n_qkv = sum(1 for k in sd if k.endswith(("attn.qkv.weight", "attn.qkv.bias")) and "attn_pool" not in k)
    assert len(converted) == len(sd) - len(dropped) + 2 * n_qkv
    from safetensors.torch import load_file

    saved = load_file(str(tiny_janus_dir / "model.safetensors"))
    assert set(saved) == set(converted)
    for key, value in converted.items():
        assert torch.equal(saved[key], value), key


def test_import_writes_processor_and_metadata(tiny_janus_dir):
    meta = json.loads((tiny_janus_dir / "cxrpilot_janus.json").read_text())
    assert meta["chat_format"] == "janus-pro-cxr"
    assert meta["model_version"].startswith("sha256:")
    reporter = load(tiny_janus_dir, device="cpu", dtype="float32")
    assert reporter.num_image_tokens == (VIT["image_size"] // VIT["patch_size"]) ** 2
    assert reporter.image_size == VIT["image_size"]
    assert reporter.model.config.text_config.hidden_size == LM["hidden_size"]
    assert reporter.model_id == "janus:janus-tiny"


def test_import_reads_safetensors_weights(tiny_tokenizer_json, tmp_path, original_checkpoint):
    src = tmp_path / "orig-st"
    sd = write_original_checkpoint(src, tiny_tokenizer_json, safetensors=True)
    out = convert_checkpoint(src, tmp_path / "hf")
    reporter = load(out, device="cpu", dtype="float32")
    torch.testing.assert_close(
        reporter.model.model.language_model.embed_tokens.weight,
        sd["language_model.model.embed_tokens.weight"],
    )


def _break(kind: str, src: Path, folder: Path) -> tuple[Path, Path]:
    bad = folder / "bad"
    if kind == "missing":
        return folder / "nope", folder / "out"
    shutil.copytree(src, bad)
    if kind == "no-config":
        (bad / "config.json").unlink()
    elif kind == "hf-format":
        (bad / "config.json").write_text(json.dumps({"model_type": "janus"}))
    elif kind == "other-model":
        (bad / "config.json").write_text(json.dumps({"model_type": "llama"}))
    elif kind == "no-weights":
        (bad / "pytorch_model.bin").unlink()
    elif kind == "no-tokenizer":
        (bad / "tokenizer.json").unlink()
    elif kind == "wrong-shapes":
        config = json.loads((bad / "config.json").read_text())
        config["language_config"]["num_hidden_layers"] = 3
        (bad / "config.json").write_text(json.dumps(config))
    elif kind == "dst-not-empty":
        (folder / "out").mkdir()
        (folder / "out" / "keep.txt").write_text("precious")
    return bad, folder / "out"


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("missing", r"checkpoint folder '.*nope' does not exist; expected the original DeepSeek-format"),
        ("no-config", r"no config.json in '.*bad'"),
        ("hf-format", r"already in HF format \(model_type 'janus'\); load it directly"),
        ("other-model", r"has model_type 'llama'; expected 'multi_modality'"),
        ("no-weights", r"no weights in '.*bad'; expected pytorch_model.bin, model.safetensors"),
        ("no-tokenizer", r"no tokenizer.json in '.*bad'"),
        ("wrong-shapes", r"do not match the architecture in its config.json: missing \[.*layers\.2"),
        ("dst-not-empty", r"output folder '.*out' exists and is not empty"),
    ],
)
def test_import_errors_name_the_path_and_the_fix(kind, message, original_checkpoint, tmp_path):
    src, out = _break(kind, original_checkpoint[0], tmp_path)
    with pytest.raises(ModelLoadError, match=message):
        convert_checkpoint(src, out)
    if kind == "dst-not-empty":
        assert (out / "keep.txt").read_text() == "precious"
