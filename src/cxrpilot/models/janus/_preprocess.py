"""The Janus processor as cxrpilot loads it: DeepSeek's resize rule, kept through save and reload.

DeepSeek's own ``VLMImageProcessor.resize`` (``janus/models/image_processing_vlm.py``) scales
the longest side to ``image_size`` (384) and computes each side as
``max(int(side / longest * image_size), min_size)`` — the short side is **truncated**. It
then resizes with PIL bicubic and pads to a square with the background colour
``tuple(int(m * 255) for m in image_mean)``, the image centred (offset ``(long - short) // 2``).
transformers' ``JanusImageProcessor`` computes ``round(side * image_size / longest)``: on
about four in ten non-square radiographs (200 of the 467 non-square ones in
``covid-chestxray``) the short side comes out one pixel longer, the pixels shift, and the
model sees another image than the one its weights were trained on.

:class:`DeepseekJanusImageProcessor` is transformers' PIL Janus image processor (padding,
rescaling and normalisation unchanged) with the resize rule made explicit:
``resize_rule="deepseek"`` (the default: the original's truncation) or ``"transformers"``
(rounding). The rule is written into the saved processor config as ``"resize_rule"``; the
saved ``image_processor_type`` stays ``"JanusImageProcessor"``, so plain transformers still
loads the folder (and keeps the key when it re-saves), it just resizes by its own rule.
:func:`load_processor` — the one way cxrpilot reads a saved processor
(:func:`cxrpilot.models.janus.load`, hence ``train janus``) — rebuilds this class with the
saved rule; a folder without the key (converted by transformers' own script, or before the
key existed) gets ``"deepseek"``, because every Janus-Pro checkpoint's weights were trained
with DeepSeek's preprocessing. It also puts back the added-token flags of the folder's
``tokenizer.json`` that transformers changes on load (:func:`restore_added_tokens`).

This module imports transformers at the top; import it only where it is used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from transformers.image_transforms import resize as np_resize
from transformers.image_utils import ChannelDimension, SizeDict
from transformers.models.janus.image_processing_pil_janus import JanusImageProcessorPil

from cxrpilot.errors import InvalidInputError, ModelLoadError

__all__ = ["RESIZE_RULES", "DEFAULT_RESIZE_RULE", "resized_size", "DeepseekJanusImageProcessor",
           "image_processor_like", "load_processor", "restore_added_tokens"]

#: The resize rules: DeepSeek's original (truncate) and transformers' (round).
RESIZE_RULES = ("deepseek", "transformers")
#: The rule Janus-Pro's weights were trained with.
DEFAULT_RESIZE_RULE = "deepseek"


def check_resize_rule(rule: Any) -> str:
    """``rule`` if it is one of :data:`RESIZE_RULES`, else InvalidInputError naming the valid ones."""
    if rule not in RESIZE_RULES:
        raise InvalidInputError(f"unknown resize_rule {rule!r}; expected one of {', '.join(map(repr, RESIZE_RULES))}")
    return rule


def resized_size(
    height: int, width: int, *, image_size: int, min_size: int = 14, rule: str = DEFAULT_RESIZE_RULE
) -> tuple[int, int]:
    """(height, width) an image is resized to before it is padded to ``image_size`` square.

    Parameters
    ----------
    height, width : int
        Input size in pixels (both > 0).
    image_size : int
        Side of the model input (384 for Janus-Pro).
    min_size : int
        Floor of either side (14 in the Janus processors).
    rule : {"deepseek", "transformers"}
        ``"deepseek"``: ``max(int(side / longest * image_size), min_size)``, the expression of
        DeepSeek's ``VLMImageProcessor.resize`` (truncation). ``"transformers"``:
        ``max(round(side * (image_size / longest)), min_size)``, transformers'
        ``JanusImageProcessor.resize``.

    Examples
    --------
    >>> resized_size(417, 512, image_size=384)
    (312, 384)
    >>> resized_size(417, 512, image_size=384, rule="transformers")
    (313, 384)
    """
    check_resize_rule(rule)
    if height <= 0 or width <= 0:
        raise InvalidInputError(f"image size must be positive, got height={height}, width={width}")
    longest = max(height, width)
    if rule == "deepseek":
        return (max(int(height / longest * image_size), min_size), max(int(width / longest * image_size), min_size))
    delta = image_size / longest
    return (max(round(height * delta), min_size), max(round(width * delta), min_size))


class DeepseekJanusImageProcessor(JanusImageProcessorPil):
    """transformers' PIL Janus image processor with an explicit resize rule (module docstring).

    Parameters
    ----------
    resize_rule : {"deepseek", "transformers"}
        See :func:`resized_size`; default ``"deepseek"`` (DeepSeek's original code).
    **kwargs
        As ``JanusImageProcessorPil`` (``size``, ``image_mean``, ``image_std``, ``min_size``...).
    """

    def __init__(self, resize_rule: str = DEFAULT_RESIZE_RULE, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.resize_rule = check_resize_rule(resize_rule)

    def resize(self, image: np.ndarray, size: SizeDict, min_size: int, resample: Any = None,
               **kwargs: Any) -> np.ndarray:
        """Resize a channels-first image so its longest side is ``size`` by :attr:`resize_rule`."""
        if size.height is None or size.width is None or size.height != size.width:
            raise InvalidInputError(f"output height and width must be equal, got height={size.height}, width={size.width}")
        height, width = image.shape[-2:]
        new_size = resized_size(height, width, image_size=size.height, min_size=min_size, rule=self.resize_rule)
        return np_resize(image, size=new_size, resample=resample or self.resample,
                         data_format=ChannelDimension.FIRST, input_data_format=ChannelDimension.FIRST)

    def to_dict(self) -> dict[str, Any]:
        """As saved: transformers' ``image_processor_type`` (so plain transformers loads it),
        plus ``resize_rule``."""
        data = super().to_dict()
        data["image_processor_type"] = "JanusImageProcessor"
        data["resize_rule"] = self.resize_rule
        return data


_SETTINGS = ("size", "image_mean", "image_std", "min_size", "rescale_factor", "do_resize", "do_rescale",
             "do_normalize", "do_pad", "resample")


def image_processor_like(image_processor: Any, *, resize_rule: str | None = None) -> DeepseekJanusImageProcessor:
    """A :class:`DeepseekJanusImageProcessor` with the settings of ``image_processor`` (any
    Janus image processor) and ``resize_rule`` (default: the one it carries, else
    ``"deepseek"``)."""
    rule = resize_rule or getattr(image_processor, "resize_rule", None) or DEFAULT_RESIZE_RULE
    settings = {k: getattr(image_processor, k) for k in _SETTINGS if getattr(image_processor, k, None) is not None}
    size = settings.get("size")
    if size is not None and not isinstance(size, dict):
        settings["size"] = {"height": size.height, "width": size.width}
    for key in ("image_mean", "image_std"):
        if key in settings and not isinstance(settings[key], (int, float)):
            settings[key] = list(settings[key])
    return DeepseekJanusImageProcessor(resize_rule=rule, **settings)


def load_processor(folder: str | Path) -> Any:
    """The ``JanusProcessor`` saved in ``folder``, its image processor a
    :class:`DeepseekJanusImageProcessor` with the saved ``resize_rule`` (``"deepseek"`` when
    none is saved).

    Raises
    ------
    ModelLoadError
        The saved ``resize_rule`` is not one of :data:`RESIZE_RULES`.
    """
    from transformers import JanusProcessor

    processor = JanusProcessor.from_pretrained(str(folder), local_files_only=True)
    saved = getattr(processor.image_processor, "resize_rule", None)
    if saved is not None and saved not in RESIZE_RULES:
        raise ModelLoadError(
            f"{str(Path(folder) / 'processor_config.json')!r}: image_processor.resize_rule is {saved!r}; "
            f"expected one of {', '.join(map(repr, RESIZE_RULES))}"
        )
    processor.image_processor = image_processor_like(processor.image_processor)
    restore_added_tokens(processor.tokenizer, Path(folder) / "tokenizer.json")
    return processor


_FLAGS = ("special", "normalized", "lstrip", "rstrip", "single_word")


def restore_added_tokens(tokenizer: Any, tokenizer_json: str | Path) -> None:
    """Put back the flags (special, normalized, lstrip, rstrip, single_word) that
    ``tokenizer_json`` gives its added tokens, where the loaded ``tokenizer`` differs.

    transformers marks the tokens it knows by name (``image_token``, ``boi_token``,
    ``eoi_token``) special when it loads a tokenizer, whatever the file says; this makes the
    tokenizer in memory the one in the file (the one DeepSeek's code reads).
    """
    import json

    from tokenizers import AddedToken

    try:
        entries = json.loads(Path(tokenizer_json).read_text(encoding="utf-8")).get("added_tokens") or []
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot read {str(tokenizer_json)!r}: {exc}") from exc
    backend = tokenizer.backend_tokenizer
    loaded = {t.content: t for t in backend.get_added_tokens_decoder().values()}
    changed = [
        AddedToken(e["content"], **{f: bool(e.get(f, False)) for f in _FLAGS})
        for e in entries
        if isinstance(e, dict) and e.get("content") in loaded
        and any(getattr(loaded[e["content"]], f) != bool(e.get(f, False)) for f in _FLAGS)
    ]
    if changed:
        backend.add_tokens(changed)
