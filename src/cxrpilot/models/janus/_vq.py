"""Janus's VQ image tokenizer with DeepSeek's nearest-code rule.

DeepSeek's ``VectorQuantizer`` (``janus/models/vq_model.py``, ``codebook_l2_norm=True`` in
every published VQ-16) L2-normalises the encoder latents and the codebook rows before the
nearest-code search and returns the normalised code vectors. transformers'
``JanusVQVAEVectorQuantizer.forward`` searches on the raw vectors (its ``decode`` does
normalise the codebook), so ``JanusVQVAE.encode`` picks other codes than the original for
many positions (121 of 576 on a radiograph, issue 18). Report writing never encodes images
with the VQ model (it reads images through the SigLIP tower); image-token encoding does, e.g.
for image-generation training.

:func:`use_original_quantizer` swaps in :class:`OriginalVectorQuantizer`, which shares the
codebook parameter (the state dict keys and saved weights are unchanged) and encodes as the
original. :func:`cxrpilot.models.janus.load` applies it to every model it loads.

This module imports transformers at the top; import it only where it is used.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from transformers.models.janus.modeling_janus import JanusVQVAEVectorQuantizer

__all__ = ["OriginalVectorQuantizer", "use_original_quantizer"]


class OriginalVectorQuantizer(JanusVQVAEVectorQuantizer):
    """``JanusVQVAEVectorQuantizer`` with the original's L2-normalised nearest-code search.

    ``forward(hidden_state)`` with ``hidden_state`` of shape (batch, embed_dim, h, w) returns
    ``(quantised, loss, indices)`` as transformers' quantizer does; the latents and the
    codebook are L2-normalised over ``embed_dim`` first, the quantised output is the
    normalised code vector (straight-through), and ``loss`` is the original's
    ``mean((z_q - sg(z))^2) + beta * mean((sg(z_q) - z)^2)`` on the normalised vectors.
    """

    def forward(self, hidden_state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        z = F.normalize(hidden_state.permute(0, 2, 3, 1).contiguous(), p=2, dim=-1)
        flat = z.view(-1, self.embedding_dim)
        codebook = F.normalize(self.embedding.weight, p=2, dim=-1)
        distances = (
            torch.sum(flat**2, dim=1, keepdim=True)
            + torch.sum(codebook**2, dim=1)
            - 2 * torch.einsum("bd,dn->bn", flat, codebook.transpose(0, 1))
        )
        indices = torch.argmin(distances, dim=1)
        z_q = codebook[indices].view(z.shape)
        loss = torch.mean((z_q - z.detach()) ** 2) + self.beta * torch.mean((z_q.detach() - z) ** 2)
        z_q = z + (z_q - z).detach()
        return z_q.permute(0, 3, 1, 2).contiguous(), loss, indices


def use_original_quantizer(model: Any) -> Any:
    """Give ``model`` (a ``JanusForConditionalGeneration``, ``JanusModel`` or ``JanusVQVAE``)
    the :class:`OriginalVectorQuantizer`, sharing its codebook; returns ``model``.

    Raises
    ------
    TypeError
        ``model`` has no Janus VQ model.
    """
    vq = model
    for name in ("model", "vqmodel"):
        if not hasattr(vq, "quantize") and hasattr(vq, name):
            vq = getattr(vq, name)
    old = getattr(vq, "quantize", None)
    if not isinstance(old, JanusVQVAEVectorQuantizer):
        raise TypeError(f"{type(model).__name__} has no Janus VQ quantizer (expected model.model.vqmodel.quantize)")
    if isinstance(old, OriginalVectorQuantizer):
        return model
    new = OriginalVectorQuantizer(vq.config)
    new.embedding = old.embedding
    new.quant_state_dims = list(old.quant_state_dims)
    new.beta = old.beta
    new.train(old.training)
    vq.quantize = new
    return model
