"""BERTScore from a local transformers model (nothing is downloaded)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cxrpilot.errors import InvalidInputError, ModelLoadError, require


def bertscore(
    predictions: Sequence[str],
    references: Sequence[str] | Sequence[Sequence[str]],
    *,
    model_path: str | os.PathLike[str],
    layer: int | None = None,
    batch_size: int = 32,
    max_length: int = 512,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BERTScore precision, recall and F1 per prediction (no IDF weighting, no baseline
    rescaling), from the embeddings of a local Hugging Face encoder.

    Each token of the candidate is matched to its most similar reference token (cosine of
    contextual embeddings) and vice versa; the special tokens ([CLS], [SEP], <s>, </s>) are
    left out, as in the reference implementation. With several references, the reference with
    the highest F1 is used.

    Parameters
    ----------
    predictions : sequence of str
    references : sequence of str or of sequences of str
    model_path : path
        A folder with ``config.json``, weights and tokenizer files (``AutoModel`` and
        ``AutoTokenizer`` load it with ``local_files_only=True``).
    layer : int, optional
        Index into ``hidden_states`` (0 = embeddings); default the last layer.
    batch_size, max_length : int

    Returns
    -------
    (precision, recall, f1) : tuple of ndarray of shape (n,)

    Raises
    ------
    ModelLoadError
        ``model_path`` is not a folder with a loadable model.

    References
    ----------
    .. [1] Zhang T, Kishore V, Wu F, Weinberger KQ, Artzi Y. BERTScore: evaluating text
       generation with BERT. ICLR 2020.
    """
    from ._report_metrics import _check_pairs

    preds, refs = _check_pairs(predictions, references)
    path = Path(model_path)
    if not (path / "config.json").is_file():
        raise ModelLoadError(
            f"BERTScore model folder {str(path)!r} has no config.json; pass a local Hugging Face "
            "model folder with --bertscore-model (nothing is downloaded)"
        )
    torch: Any = require("torch", extra="train")
    transformers: Any = require("transformers", extra="train")
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        model = transformers.AutoModel.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"could not load a BERTScore model from {str(path)!r}: {exc}") from exc
    model.eval()
    n_layers = model.config.num_hidden_layers
    layer = n_layers if layer is None else int(layer)
    if not -n_layers - 1 <= layer <= n_layers:
        raise InvalidInputError(f"bertscore layer must be in [0, {n_layers}] for this model; got {layer}")
    special = set(tokenizer.all_special_ids)

    texts = preds + [r for group in refs for r in group]
    embeddings: list[np.ndarray] = []
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(texts[start:start + batch_size], padding=True, truncation=True,
                              max_length=max_length, return_tensors="pt")
            hidden = model(**batch, output_hidden_states=True).hidden_states[layer]
            hidden = torch.nn.functional.normalize(hidden, dim=-1).numpy()
            for row, ids, mask in zip(hidden, batch["input_ids"].tolist(),
                                      batch["attention_mask"].tolist(), strict=True):
                keep = [i for i, (t, m) in enumerate(zip(ids, mask, strict=True)) if m and t not in special]
                embeddings.append(row[keep])

    n = len(preds)
    p_out, r_out, f_out = np.zeros(n), np.zeros(n), np.zeros(n)
    k = n
    for i, group in enumerate(refs):
        cand = embeddings[i]
        best = (0.0, 0.0, -1.0)
        for ref in embeddings[k:k + len(group)]:
            if len(cand) == 0 or len(ref) == 0:
                prf = (0.0, 0.0, 0.0)
            else:
                sim = cand @ ref.T
                p, r = float(sim.max(axis=1).mean()), float(sim.max(axis=0).mean())
                prf = (p, r, 2 * p * r / (p + r) if p + r > 0 else 0.0)
            if prf[2] > best[2]:
                best = prf
        k += len(group)
        p_out[i], r_out[i], f_out[i] = best
    return p_out, r_out, f_out
