"""Original DeepSeek-format Janus checkpoints (``model_type: multi_modality``) -> HF format.

Janus-Pro-1B/7B and the Janus-Pro-CXR models are published in DeepSeek's own format: a
``config.json`` with ``language_config`` / ``vision_config`` / ``aligner_config`` /
``gen_vision_config`` / ``gen_aligner_config`` / ``gen_head_config``, the weights of
``MultiModalityCausalLM`` (``pytorch_model.bin``, sharded or not, or safetensors) and the
tokenizer files. :func:`convert_checkpoint` writes the same weights as a
``JanusForConditionalGeneration`` plus a ``JanusProcessor``.

The key renaming is transformers' own: ``transformers/models/janus/convert_janus_weights_to_hf.py``
(``MAPPINGS``, ``convert_old_keys_to_new_keys``, ``split_tensor``, ``convert_state_dict_to_hf``).
That script is **not shipped in the transformers wheels** (5.x installs no ``convert_*`` model
scripts), so it is imported when present (a source checkout of transformers) and otherwise the
verbatim copy below is used (Apache-2.0, (c) 2025 DeepSeek AI and The HuggingFace Team). The
script's ``convert_model`` is not used: it downloads from the Hub, forces float16, reads only a
subset of the language config and ties the LM head to the input embeddings, whereas the
original ``LlamaForCausalLM`` keeps a separate ``lm_head`` (tying it would change the logits).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cxrpilot.errors import ModelLoadError

__all__ = ["build_processor", "convert_checkpoint", "convert_state_dict", "janus_config_from_original"]

# --- verbatim from transformers/models/janus/convert_janus_weights_to_hf.py -----------------
MAPPINGS = {
    # Vision model
    r"(?<!gen_)vision_model\.vision_tower\.blocks\.(\d+)\.attn": r"model.vision_model.encoder.layers.\1.self_attn",
    r"(?<!gen_)vision_model.vision_tower.blocks": "model.vision_model.encoder.layers",
    r"(?<!gen_)vision_model.vision_tower.pos_embed": "model.vision_model.embeddings.position_embedding.weight",
    r"(?<!gen_)vision_model.vision_tower.patch_embed.proj": "model.vision_model.embeddings.patch_embedding",
    r"(?<!gen_)vision_model.vision_tower.norm": "model.vision_model.post_layernorm",
    r"(?P<pre>\b(vision_model|model\.vision_model)\b.*\.)proj(?=\.|\s|$)": r"\g<pre>projection_layer",
    r"(?P<pre>\b(vision_model|model\.vision_model)\b.*\.)norm(?=\.|\s|$)": r"\g<pre>layer_norm",
    r"(?P<pre>\b(vision_model|model\.vision_model)\b.*\.)norm1(?=\.|\s|$)": r"\g<pre>layer_norm1",
    r"(?P<pre>\b(vision_model|model\.vision_model)\b.*\.)norm2(?=\.|\s|$)": r"\g<pre>layer_norm2",
    r"\bvision_model\.vision_tower\.attn_pool\.[^\s$]*": None,
    # VQ Model
    r"gen_vision_model": "model.vqmodel",
    r"(?P<pre>\b(gen_vision_model|model\.vqmodel)\b.*\.)decoder\.conv_blocks(?=\.|\s|$)": r"\g<pre>decoder.up",
    r"(?P<pre>\b(gen_vision_model|model\.vqmodel)\b.*\.)encoder\.conv_blocks(?=\.|\s|$)": r"\g<pre>encoder.down",
    r"(?P<pre>\b(gen_vision_model|model\.vqmodel)\b.*\.)res(?=\.|\s|$)": r"\g<pre>block",
    r"(?P<pre>\b(gen_vision_model|model\.vqmodel)\b.*\.)mid\.0(?=\.|\s|$)": r"\g<pre>mid.block_1",
    r"(?P<pre>\b(gen_vision_model|model\.vqmodel)\b.*\.)mid\.1(?=\.|\s|$)": r"\g<pre>mid.attn_1",
    r"(?P<pre>\b(gen_vision_model|model\.vqmodel)\b.*\.)mid\.2(?=\.|\s|$)": r"\g<pre>mid.block_2",
    # Aligner Modules
    r"(gen_aligner)\.layers\.0": r"model.generation_aligner.fc1",
    r"(gen_aligner)\.layers\.2": r"model.generation_aligner.hidden_layers.0",
    r"(?<!gen_)(aligner)\.layers\.0": r"model.aligner.fc1",
    r"(?<!gen_)(aligner)\.layers\.2": r"model.aligner.hidden_layers.0",
    "gen_head.output_mlp_projector": "model.generation_head.proj_out",
    r"(\s|^)gen_embed": r"\1model.generation_embeddings",
    r"(\s|^)gen_head": r"\1model.generation_head",
    r"\b(gen_vision_model|model\.vqmodel)\.quantize\.codebook_used": None,
    # Language model
    r"(\s|^)language_model\.model": r"\1model.language_model",
    r"\b(model\.language_model|(?<!model\.)language_model)\.lm_head\.weight": "lm_head.weight",
}


def convert_old_keys_to_new_keys(state_dict):
    keys_as_text = "\n".join(state_dict.keys())
    new_keys_as_text = keys_as_text
    for old, repl in MAPPINGS.items():
        if repl is None:
            new_keys_as_text = re.sub(old, "", new_keys_as_text)
        else:
            new_keys_as_text = re.sub(old, repl, new_keys_as_text)
    output_dict = dict(zip(keys_as_text.split("\n"), new_keys_as_text.split("\n")))
    return output_dict


def split_tensor(tensor, key):
    """Splits a merged tensor (qkv or kv) into separate tensors and creates keys for each part."""
    import torch

    if "qkv" in key:
        prefix_to_replace = "qkv"
        num_splits = 3
        new_keys = ["q_proj", "k_proj", "v_proj"]
    elif "kv" in key:
        prefix_to_replace = "kv"
        num_splits = 2
        new_keys = ["k_proj", "v_proj"]
    else:
        raise ModelLoadError(f"checkpoint tensor {key!r} is neither a fused qkv nor a kv projection; "
                             "expected a Janus-Pro (DeepSeek-format) checkpoint")

    split_size = tensor.shape[0] // num_splits
    tensors = torch.split(tensor, split_size, dim=0)
    return {key.replace(prefix_to_replace, new_keys[i]): tensors[i] for i in range(num_splits)}


def _vendored_convert_state_dict_to_hf(state_dict):
    """Convert state dict keys to HF format."""
    conversion_dict = convert_old_keys_to_new_keys(state_dict)
    converted_state_dict = {}

    for old_key, new_key in conversion_dict.items():
        if new_key:
            if "qkv" in new_key or "kv" in new_key:  # Detect merged attention keys and split them.
                qkv_split_dict = split_tensor(state_dict[old_key], new_key)
                converted_state_dict.update(qkv_split_dict)
            else:
                converted_state_dict[new_key] = state_dict[old_key]

    # Embeddings will not have initial dimension
    pos_embed_key = "model.vision_model.embeddings.position_embedding.weight"
    converted_state_dict[pos_embed_key] = converted_state_dict[pos_embed_key].squeeze(0)

    return converted_state_dict
# --- end of the copy ---------------------------------------------------------------------------


def _transformers_converter() -> tuple[Callable[[dict], dict], str]:
    """transformers' own ``convert_state_dict_to_hf`` when installed, else the copy above."""
    try:
        from transformers.models.janus import convert_janus_weights_to_hf as script
    except ImportError:
        return _vendored_convert_state_dict_to_hf, "cxrpilot copy of transformers' convert_janus_weights_to_hf"
    return script.convert_state_dict_to_hf, "transformers.models.janus.convert_janus_weights_to_hf"


def convert_state_dict(state_dict: dict[str, Any]) -> dict[str, Any]:
    """Rename an original ``MultiModalityCausalLM`` state dict to ``JanusForConditionalGeneration``
    keys (fused ``qkv`` split, attention-pool head and codebook usage counter dropped)."""
    converter, _ = _transformers_converter()
    return converter(dict(state_dict))


#: Vision towers of the original code (janus/models/siglip_vit.py ``SigLIP_MODEL_CONFIG``); the
#: published Janus-Pro checkpoints use ``siglip_large_patch16_384``.
SIGLIP_TOWERS: dict[str, dict[str, Any]] = {
    "siglip_large_patch16_384": {"width": 1024, "layers": 24, "heads": 16, "patch_size": 16, "mlp_ratio": 4.0},
    "siglip_so400m_patch14_384": {"width": 1152, "layers": 27, "heads": 16, "patch_size": 14, "mlp_ratio": 3.7362},
    "siglip_so400m_patch14_224": {"width": 1152, "layers": 27, "heads": 16, "patch_size": 14, "mlp_ratio": 3.7362},
}
_TOWER_KEYS = ("width", "layers", "heads", "patch_size", "mlp_ratio")
_LM_SKIP = {"model_type", "architectures", "torch_dtype", "dtype", "transformers_version", "_name_or_path",
            "_attn_implementation", "attn_implementation"}  # the loader picks the attention kernel


def _params(config: dict, section: str, source: Path) -> dict[str, Any]:
    block = config.get(section)
    if not isinstance(block, dict) or not isinstance(block.get("params", {}), dict):
        raise ModelLoadError(f"{str(source)!r}: config.json has no {section!r} section with 'params'")
    return dict(block.get("params", {}))


def janus_config_from_original(
    config: dict[str, Any], *, tokenizer: Any, source: Path | str = "config.json"
) -> Any:
    """A ``transformers.JanusConfig`` equivalent to an original ``multi_modality`` config.

    The language config is passed whole to ``LlamaConfig`` (as the original code does).
    The vision tower is looked up by ``vision_config.params.model_name`` in
    :data:`SIGLIP_TOWERS`, as the original ``create_siglip_vit`` does (it builds the named
    sizes and ignores any other size keys, so explicit ``width``/``layers``/``heads``/
    ``patch_size``/``mlp_ratio`` that contradict a known name are an error here). A name the
    original does not know is accepted with all five sizes given explicitly — a cxrpilot
    extension for custom and test checkpoints, which DeepSeek's code cannot build.
    ``select_layer=-k`` keeps the first ``layers-k+1`` blocks, as ``create_siglip_vit`` does. ``gen_vision_config.params`` may likewise give the VQ
    ``ch``/``ch_mult``/``z_channels``/``num_res_blocks`` (published VQ-16 defaults otherwise).
    """
    from transformers import JanusConfig, JanusVisionConfig, JanusVQVAEConfig, LlamaConfig

    source = Path(source)
    lang = config.get("language_config")
    if not isinstance(lang, dict):
        raise ModelLoadError(f"{str(source)!r}: config.json has no 'language_config' section")
    text_config = LlamaConfig(
        **{k: v for k, v in lang.items() if k not in _LM_SKIP},
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )

    vision = _params(config, "vision_config", source)
    name = vision.get("model_name")
    tower = dict(SIGLIP_TOWERS.get(name, {}))
    conflicts = [f"{k}={vision[k]!r} (the tower has {tower[k]!r})" for k in _TOWER_KEYS
                 if k in vision and k in tower and float(vision[k]) != float(tower[k])]
    if conflicts:
        raise ModelLoadError(
            f"{str(source)!r}: vision_config.params names the tower {name!r} but also gives "
            f"{', '.join(conflicts)}; DeepSeek's code builds {name!r} with its own sizes and ignores "
            "these keys. Remove them, or give the tower a name of its own"
        )
    tower.update({k: vision[k] for k in _TOWER_KEYS if k in vision})
    missing = [k for k in _TOWER_KEYS if k not in tower]
    if missing:
        raise ModelLoadError(
            f"{str(source)!r}: unknown vision tower {name!r}; expected one of "
            f"{', '.join(SIGLIP_TOWERS)} or explicit params {', '.join(_TOWER_KEYS)}"
        )
    select_layer = int(vision.get("select_layer", -1))
    layers = int(tower["layers"])
    if select_layer <= 0:
        layers = min(layers, layers + select_layer + 1)
    else:
        layers = min(layers, select_layer)
    aligner = _params(config, "aligner_config", source)
    image_size = int(vision.get("image_size", 384))
    vision_config = JanusVisionConfig(
        hidden_size=int(tower["width"]),
        num_hidden_layers=layers,
        num_attention_heads=int(tower["heads"]),
        patch_size=int(tower["patch_size"]),
        mlp_ratio=float(tower["mlp_ratio"]),
        image_size=image_size,
        projection_dim=int(aligner.get("n_embed", text_config.hidden_size)),
        depth=int(aligner.get("depth", 2)),
        num_image_tokens=(image_size // int(tower["patch_size"])) ** 2,
    )

    gen_vision = _params(config, "gen_vision_config", source)
    gen_aligner = _params(config, "gen_aligner_config", source)
    gen_head = _params(config, "gen_head_config", source)
    widths = {
        "language_config.hidden_size": text_config.hidden_size,
        "aligner_config.params.n_embed": vision_config.projection_dim,
        "gen_aligner_config.params.n_embed": gen_aligner.get("n_embed", text_config.hidden_size),
        "gen_head_config.params.n_embed": gen_head.get("n_embed", text_config.hidden_size),
        "gen_head_config.params.image_token_embed": gen_head.get("image_token_embed", text_config.hidden_size),
    }
    if len(set(widths.values())) != 1:
        raise ModelLoadError(
            f"{str(source)!r}: these widths must all be equal for transformers' Janus, got "
            + ", ".join(f"{k}={v}" for k, v in widths.items())
        )
    vq_config = JanusVQVAEConfig(
        embed_dim=int(gen_vision.get("n_embed", 8)),
        num_embeddings=int(gen_vision.get("image_token_size", 16384)),
        base_channels=int(gen_vision.get("ch", 128)),
        channel_multiplier=list(gen_vision.get("ch_mult", [1, 1, 2, 2, 4])),
        latent_channels=int(gen_vision.get("z_channels", 256)),
        num_res_blocks=int(gen_vision.get("num_res_blocks", 2)),
        projection_dim=text_config.hidden_size,
        image_token_embed_dim=text_config.hidden_size,
        num_hidden_layers=int(gen_aligner.get("depth", 2)),
    )
    image_token_id = tokenizer.convert_tokens_to_ids(tokenizer.image_token)
    return JanusConfig(
        text_config=text_config,
        vision_config=vision_config,
        vq_config=vq_config,
        image_token_id=image_token_id,
        tie_word_embeddings=False,
    )


def _load_original_state_dict(src: Path) -> tuple[dict[str, Any], list[Path]]:
    """All tensors of the original checkpoint (single file or sharded; .bin or safetensors)."""
    import torch

    def read(path: Path) -> dict[str, Any]:
        try:
            if path.suffix == ".safetensors":
                from safetensors.torch import load_file

                return load_file(str(path))
            return torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as exc:  # torch and safetensors raise many kinds on a bad file
            raise ModelLoadError(f"cannot read weights {str(path)!r}: {exc}") from exc

    for index_name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        index = src / index_name
        if index.is_file():
            try:
                shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            except (OSError, ValueError, KeyError) as exc:
                raise ModelLoadError(f"cannot read shard index {str(index)!r}: {exc}") from exc
            files = [src / s for s in shards]
            missing = [str(f) for f in files if not f.is_file()]
            if missing:
                raise ModelLoadError(f"shards listed in {str(index)!r} are missing: {', '.join(missing)}")
            state: dict[str, Any] = {}
            for f in files:
                state.update(read(f))
            return state, files
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (src / name).is_file():
            return read(src / name), [src / name]
    raise ModelLoadError(
        f"no weights in {str(src)!r}; expected pytorch_model.bin, model.safetensors or a "
        "sharded index (pytorch_model.bin.index.json / model.safetensors.index.json)"
    )


def read_json_object(path: Path) -> dict[str, Any]:
    """The JSON object in ``path`` of a model folder: ``{}`` when the file is absent or holds
    no object; ``ModelLoadError`` naming the file when it cannot be read or parsed."""
    if not path.is_file():
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot read {str(path)!r}: {exc}") from exc
    return value if isinstance(value, dict) else {}


#: The two formats of a Janus checkpoint folder, by the ``model_type`` of its config.json.
CHECKPOINT_FORMATS = {"janus": "a Janus-Pro checkpoint in HF format",
                      "multi_modality": "an original DeepSeek-format Janus checkpoint"}


def read_checkpoint_config(folder: Path, model_type: str, *, missing: str,
                           other_format: str) -> dict[str, Any]:
    """The config.json of the checkpoint folder ``folder``, whose ``model_type`` must be
    ``model_type`` (a key of :data:`CHECKPOINT_FORMATS`); else ``ModelLoadError``: without a
    config.json, "no config.json in FOLDER; expected ``missing``"; for the other format,
    ``other_format`` (what to do with it); for any other model, the value found and the one
    expected."""
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise ModelLoadError(f"no config.json in {str(folder)!r}; expected {missing}")
    config = read_json_object(config_file)
    found = config.get("model_type")
    if found != model_type and found in CHECKPOINT_FORMATS:
        raise ModelLoadError(other_format)
    if found != model_type:
        raise ModelLoadError(
            f"{str(config_file)!r} has model_type {found!r}; expected {model_type!r} "
            f"({CHECKPOINT_FORMATS[model_type]})"
        )
    return config


def build_processor(src: Path, num_image_tokens: int, image_size: int) -> Any:
    """The ``transformers.JanusProcessor`` of a checkpoint folder's tokenizer files
    (``tokenizer.json``, special tokens), for ``num_image_tokens`` image tokens of an
    ``image_size`` px square."""
    from transformers import JanusProcessor, PreTrainedTokenizerFast

    from cxrpilot.models.janus._preprocess import DeepseekJanusImageProcessor

    tokenizer_file = src / "tokenizer.json"
    if not tokenizer_file.is_file():
        raise ModelLoadError(
            f"no tokenizer.json in {str(src)!r}; the original Janus checkpoints ship it beside config.json"
        )

    def token(value: Any) -> str | None:
        return value.get("content") if isinstance(value, dict) else value

    special = {**read_json_object(src / "tokenizer_config.json"),
               **read_json_object(src / "special_tokens_map.json")}
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_file=str(tokenizer_file),
        bos_token=token(special.get("bos_token")),
        eos_token=token(special.get("eos_token")),
        extra_special_tokens={
            "image_token": "<image_placeholder>",
            "boi_token": "<begin_of_image>",
            "eoi_token": "<end_of_image>",
        },
        model_max_length=int(special.get("model_max_length", 16384)),
    )
    vocab = tokenizer.get_vocab()
    needed = [tokenizer.bos_token, tokenizer.eos_token, "<image_placeholder>", "<begin_of_image>", "<end_of_image>"]
    absent = [t for t in needed if t is None or t not in vocab]
    if absent:
        raise ModelLoadError(
            f"{str(tokenizer_file)!r} lacks the tokens Janus needs: {', '.join(map(str, absent))}"
        )
    # The original processor pads with "<｜▁pad▁｜>" (VLChatProcessor.pad_tag).
    pad = token(special.get("pad_token")) or "<｜▁pad▁｜>"
    tokenizer.pad_token = pad if pad in vocab else tokenizer.eos_token

    pre = read_json_object(src / "preprocessor_config.json")
    side = int(pre.get("image_size", image_size))
    if side != image_size:
        raise ModelLoadError(
            f"{str(src / 'preprocessor_config.json')!r}: image_size {side} differs from "
            f"vision_config.params.image_size {image_size}"
        )
    # DeepSeek's resize rule (truncated short side), recorded in the saved processor config
    image_processor = DeepseekJanusImageProcessor(
        resize_rule="deepseek",
        size={"height": side, "width": side},
        image_mean=list(pre.get("image_mean", [0.5, 0.5, 0.5])),
        image_std=list(pre.get("image_std", [0.5, 0.5, 0.5])),
        min_size=int(pre.get("min_size", 14)),
        rescale_factor=float(pre.get("rescale_factor", 1 / 255)),
        do_normalize=bool(pre.get("do_normalize", True)),
    )
    return JanusProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        use_default_system_prompt=False,
        num_image_tokens=num_image_tokens,
    )


def _sha256(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()


def convert_checkpoint(
    src: str | Path,
    dst: str | Path,
    *,
    chat_format: str = "janus-pro-cxr",
    model_id: str | None = None,
) -> Path:
    """Convert an original DeepSeek-format Janus checkpoint folder into an HF-format folder.

    Parameters
    ----------
    src : str or Path
        Folder with the original ``config.json`` (``model_type: multi_modality``), weights
        and ``tokenizer.json`` (+ ``tokenizer_config.json``, ``special_tokens_map.json``,
        ``preprocessor_config.json`` when present).
    dst : str or Path
        New folder (must not exist, or be empty); receives ``config.json``,
        ``model.safetensors``, the processor files and ``cxrpilot_janus.json``.
    chat_format : str
        Recorded for :func:`cxrpilot.models.janus.load` (``"janus-pro-cxr"`` or ``"janus-pro"``).
    model_id : str or None
        Name shown on drafts; default ``"janus:<dst folder name>"``.

    Returns
    -------
    Path
        ``dst``. Load it with :func:`cxrpilot.models.janus.load` to run the model as DeepSeek's
        code does. Plain transformers loads the folder too, but differs from the original in
        two places: its image processor rounds the short side where the original truncates
        (the folder records ``resize_rule: "deepseek"``, which only cxrpilot reads), and its
        ``JanusVQVAE.encode`` skips the original's L2 normalisation, so VQ image tokens (image
        generation) differ. The tokenizer keeps the source's added tokens with their flags.

    Raises
    ------
    ModelLoadError
        ``src`` is not an original-format checkpoint (missing files, wrong ``model_type``,
        unknown keys), or ``dst`` is not empty.
    """
    from cxrpilot.models.janus._prompt import get_chat_format

    src, dst = Path(src).expanduser(), Path(dst).expanduser()
    get_chat_format(chat_format)
    if not src.is_dir():
        raise ModelLoadError(
            f"checkpoint folder {str(src)!r} does not exist; expected the original DeepSeek-format "
            "Janus folder (config.json with model_type 'multi_modality', weights, tokenizer.json)"
        )
    config_file = src / "config.json"
    config = read_checkpoint_config(
        src, "multi_modality", missing=CHECKPOINT_FORMATS["multi_modality"],
        other_format=f"{str(src)!r} is already in HF format (model_type 'janus'); load it "
        f"directly with --model janus:{src}",
    )
    if dst.exists() and (not dst.is_dir() or any(dst.iterdir())):
        raise ModelLoadError(f"output folder {str(dst)!r} exists and is not empty; choose a new folder")

    import torch
    from accelerate import init_empty_weights
    from transformers import JanusForConditionalGeneration

    vision = _params(config, "vision_config", config_file)
    image_size = int(vision.get("image_size", 384))
    patch = int({**SIGLIP_TOWERS.get(vision.get("model_name"), {}), **vision}.get("patch_size", 16))
    processor = build_processor(src, (image_size // patch) ** 2, image_size)
    janus_config = janus_config_from_original(config, tokenizer=processor.tokenizer, source=config_file)

    state, files = _load_original_state_dict(src)
    converted = convert_state_dict(state)
    del state
    dtypes = {t.dtype for t in converted.values() if torch.is_floating_point(t)}
    dtype = dtypes.pop() if len(dtypes) == 1 else torch.float32
    janus_config.dtype = dtype
    with init_empty_weights():
        model = JanusForConditionalGeneration(janus_config)
    result = model.load_state_dict(converted, strict=False, assign=True)
    if result.missing_keys or result.unexpected_keys:
        raise ModelLoadError(
            f"the weights in {str(src)!r} do not match the architecture in its config.json: "
            f"missing {sorted(result.missing_keys)[:8]} ({len(result.missing_keys)} in all), "
            f"unexpected {sorted(result.unexpected_keys)[:8]} ({len(result.unexpected_keys)} in all)"
        )
    gen = model.generation_config
    gen.bos_token_id = processor.tokenizer.bos_token_id
    gen.eos_token_id = processor.tokenizer.eos_token_id
    gen.pad_token_id = processor.tokenizer.pad_token_id

    dst.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(dst))
    processor.save_pretrained(str(dst))
    _, converter_name = _transformers_converter()
    digest = _sha256(files)
    meta = {
        "model_id": model_id or f"janus:{dst.name}",
        "model_version": f"sha256:{digest[:16]}",
        "chat_format": chat_format,
        "converted_from": str(src),
        "source_weights_sha256": digest,
        "key_mapping": converter_name,
    }
    (dst / "cxrpilot_janus.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return dst
