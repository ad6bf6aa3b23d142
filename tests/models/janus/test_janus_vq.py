"""VQ image tokens as DeepSeek's VectorQuantizer picks them (L2-normalised latents and codebook)."""

from __future__ import annotations

import pytest

from cxrpilot.models.janus import load

from .janus_tiny import VQ, torch


def original_codes(latents: torch.Tensor, codebook: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """DeepSeek's ``VectorQuantizer.forward`` with ``l2_norm=True`` (janus/models/vq_model.py),
    re-implemented: normalise latents (b, c, h, w) over c and the codebook rows, take the
    argmin of ``|z|^2 + |e|^2 - 2 z.e``; returns (codes, quantised (b, c, h, w))."""
    F = torch.nn.functional
    z = F.normalize(latents.permute(0, 2, 3, 1), p=2, dim=-1)
    flat = z.reshape(-1, z.shape[-1])
    e = F.normalize(codebook, p=2, dim=-1)
    d = (flat**2).sum(1, keepdim=True) + (e**2).sum(1) - 2 * flat @ e.T
    codes = d.argmin(1)
    return codes, e[codes].view(z.shape).permute(0, 3, 1, 2)


def raw_codes(latents: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """transformers' JanusVQVAEVectorQuantizer rule: nearest code on the raw vectors."""
    flat = latents.permute(0, 2, 3, 1).reshape(-1, latents.shape[1])
    return torch.cdist(flat, codebook).argmin(1)


@pytest.fixture(scope="module")
def reporter(tiny_janus_dir):
    return load(tiny_janus_dir, device="cpu", dtype="float32")


def test_loaded_vq_encodes_as_the_original(reporter, radiographs):
    from cxrpilot.models.janus._vq import OriginalVectorQuantizer

    vq = reporter.model.model.vqmodel
    assert isinstance(vq.quantize, OriginalVectorQuantizer)
    pixels = reporter.pixel_values(radiographs)
    with torch.no_grad():
        out = vq.encode(pixels)
        latents = vq.quant_conv(vq.encoder(pixels))
    want, quantised = original_codes(latents, vq.quantize.embedding.weight)
    assert torch.equal(out.image_tokens, want)
    torch.testing.assert_close(out.quantized_last_hidden_state, quantised)
    # the test has teeth: transformers' own rule picks other codes on these radiographs
    assert not torch.equal(raw_codes(latents, vq.quantize.embedding.weight), want)
    assert out.image_tokens.max() < VQ["image_token_size"]


def test_codebook_is_shared_and_saved_unchanged(reporter, tmp_path):
    from safetensors.torch import load_file

    vq = reporter.model.model.vqmodel
    saved = load_file(str(reporter.model_dir / "model.safetensors"))
    assert torch.equal(saved["model.vqmodel.quantize.embedding.weight"], vq.quantize.embedding.weight)
    reporter.model.save_pretrained(str(tmp_path))
    again = load_file(str(tmp_path / "model.safetensors"))
    assert set(again) == set(saved)
    # decoding is transformers' own (it already normalises the codebook, as the original does)
    codes = torch.zeros((1, vq.quantize.quant_state_dims[0] ** 2), dtype=torch.long)
    with torch.no_grad():
        assert vq.decode(codes).shape[1] == 3


def test_use_original_quantizer_rejects_other_models():
    from cxrpilot.models.janus._vq import use_original_quantizer

    with pytest.raises(TypeError, match=r"Linear has no Janus VQ quantizer"):
        use_original_quantizer(torch.nn.Linear(2, 2))
