"""The ONNX Runtime decoder: the fp32 graph writes exactly transformers' tokens (one by one
and batched with left padding), 8- and 4-bit weights stay close (blocks of 32, 64, 128), and
its limits."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from onnx import helper, numpy_helper

from cxrpilot.errors import InvalidInputError
from cxrpilot.models.janus import _ort_decode, load
from cxrpilot.models.janus._ort_decode import (
    BLOCK_SIZE,
    OrtDecoder,
    _quantize,
    build_decoder_graph,
    cache_folder,
)

from .janus_tiny import torch
from .test_janus_reporter import crop


@pytest.fixture(scope="module")
def fp32_reporter(tiny_janus_dir):
    return load(tiny_janus_dir, device="cpu", dtype="float32")


@pytest.fixture(scope="module")
def decoders(fp32_reporter):
    return {bits: OrtDecoder.build(fp32_reporter.model, bits=bits, max_length=1024) for bits in (None, 8, 4)}


@pytest.fixture(scope="module")
def block_decoders(fp32_reporter):
    """4-bit decoders with larger blocks (the tiny model's 64 / 128 inputs: one or two blocks per row)."""
    return {block: OrtDecoder.build(fp32_reporter.model, bits=4, max_length=1024, block_size=block)
            for block in (64, 128)}


def with_decoder(reporter, decoder):
    return dataclasses.replace(reporter, decoder=decoder)


def test_fp32_graph_writes_the_same_tokens_as_transformers(fp32_reporter, decoders, radiographs):
    reference = fp32_reporter.generate(radiographs[:2], max_new_tokens=24, batch_size=1)
    ort = with_decoder(fp32_reporter, decoders[None]).generate(radiographs[:2], max_new_tokens=24, batch_size=1)
    assert [o.text for o in ort] == [o.text for o in reference]
    assert [o.new_tokens for o in ort] == [o.new_tokens for o in reference]


def test_left_padded_batches_decode_like_transformers_one_by_one(fp32_reporter, decoders, radiographs):
    images = [radiographs[0], crop(radiographs[1], slice(0, 224), slice(40, 180)), radiographs[2]]
    indications = [None, "Shortness of breath for two days", "Fever"]
    experts = [["Pneumonia", "Lung Opacity"], None, None]
    reference = [fp32_reporter.generate([im], indications=[ind], expert_findings=[ex], max_new_tokens=20)[0]
                 for im, ind, ex in zip(images, indications, experts)]
    batched = with_decoder(fp32_reporter, decoders[None]).generate(
        images, indications=indications, expert_findings=experts, max_new_tokens=20, batch_size=3)
    assert len({o.prompt_tokens for o in batched}) > 1  # rows of different widths: left padding
    assert [o.text for o in batched] == [o.text for o in reference]


def step_logits(reporter, decoder, radiographs, steps=6):
    """Logits of ``steps`` decode steps after one prefill, feeding the fp32 model's tokens."""
    inputs = reporter.batch_inputs([reporter.prompt_ids("Give a radiology report.")], radiographs[:1])
    with torch.inference_mode():
        out = reporter.model(**inputs, use_cache=True)
        stream = decoder.open(out.past_key_values, [inputs["input_ids"].shape[1]], 1024)
        tokens = reporter.model.generate(**inputs, generation_config=reporter.generation_config(
            steps, min_new_tokens=steps))[0, inputs["input_ids"].shape[1]:]
        embed = reporter.model.get_input_embeddings()
        return np.stack([stream.step(embed(t.view(1, 1)).float().numpy())[0] for t in tokens])


@pytest.mark.parametrize(
    # relative error of the decode-step logits against the fp32 graph on the tiny model
    # (hidden size 64, so errors barely average out): measured 8-bit 0.025-0.035 (mostly the
    # int8 activations), 4-bit 0.26-0.38; the bounds leave ~2x / 1.5x room (a wrong weight
    # layout gives ~1.4); 4-bit with blocks of 64 / 128 (the 64-wide inputs: one block per row;
    # the 128-wide down projection: two / one) measured 0.26-0.42 / 0.27-0.40: the same bound
    ("bits", "block", "tolerance"), [(8, 32, 0.07), (4, 32, 0.6), (4, 64, 0.6), (4, 128, 0.6)],
)
def test_quantised_weights_stay_close_to_fp32(fp32_reporter, decoders, block_decoders, radiographs, bits, block,
                                              tolerance):
    reference = step_logits(fp32_reporter, decoders[None], radiographs)
    decoder = decoders[bits] if block == BLOCK_SIZE else block_decoders[block]
    assert decoder.block_size == block
    got = step_logits(fp32_reporter, decoder, radiographs)
    errors = np.linalg.norm(got - reference, axis=1) / np.linalg.norm(reference, axis=1)
    assert errors.max() < tolerance, errors


def test_fp32_graph_step_matches_the_transformers_forward(fp32_reporter, decoders, radiographs):
    reference = []
    inputs = fp32_reporter.batch_inputs([fp32_reporter.prompt_ids("Give a radiology report.")], radiographs[:1])
    with torch.inference_mode():
        out = fp32_reporter.model(**inputs, use_cache=True)
        cache, ids = out.past_key_values, inputs["input_ids"]
        for token in (5, 17, 42):
            ids = torch.cat([ids, torch.tensor([[token]])], dim=1)
            step = fp32_reporter.model(input_ids=ids[:, -1:], past_key_values=cache, use_cache=True)
            reference.append(step.logits[0, -1].numpy())
    with torch.inference_mode():
        out = fp32_reporter.model(**inputs, use_cache=True)
        stream = decoders[None].open(out.past_key_values, [inputs["input_ids"].shape[1]], 1024)
        embed = fp32_reporter.model.get_input_embeddings()
        got = [stream.step(embed(torch.tensor([[t]])).numpy())[0] for t in (5, 17, 42)]
    np.testing.assert_allclose(np.stack(got), np.stack(reference), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    # (bits, block, blocks per row of 96 inputs): 64 and 128 leave a zero-padded last block
    ("bits", "block", "blocks"), [(8, 32, 3), (4, 32, 3), (4, 16, 6), (4, 64, 2), (4, 128, 1), (8, 128, 1)],
)
def test_quantised_blocks_dequantise_to_the_weights(bits, block, blocks):
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((48, 96)).astype(np.float32)  # (out, in)
    packed, scales = _quantize(torch.from_numpy(weight), bits, block)
    assert packed.shape == (48, blocks, block * bits // 8) and scales.shape == (48, blocks)
    if bits == 8:
        q = packed.astype(np.int16) - 128
    else:  # two 4-bit values per byte, low nibble first; zero point 8
        q = np.stack([packed & 0x0F, packed >> 4], axis=-1).astype(np.int16) - 8
    restored = (q.reshape(48, blocks, block) * scales[..., None]).reshape(48, blocks * block)[:, :96]
    step = np.abs(np.repeat(scales, block, axis=1))[:, :96]  # scale = block max / 2^(bits-1), signed
    error = np.abs(restored - weight)
    assert np.all(error <= step + 1e-6)  # the block's extreme may clip by one step
    assert np.mean(error <= step / 2 + 1e-6) > 0.95  # the rest round to the nearest level


@pytest.mark.parametrize(("bits", "block"), [(4, 128), (8, 64), (4, 16)])
def test_block_size_reaches_every_matmulnbits_node(fp32_reporter, bits, block):
    proto = build_decoder_graph(fp32_reporter.model.model.language_model, fp32_reporter.model.lm_head,
                                bits=bits, max_length=64, block_size=block)
    nodes = [n for n in proto.graph.node if n.op_type == "MatMulNBits"]
    assert len(nodes) == 4 * 2 + 1  # qkv, o, gate_up, down per layer, and the head
    initializers = {t.name: t for t in proto.graph.initializer}
    for node in nodes:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        assert attrs["block_size"] == block and attrs["bits"] == bits
        scales = numpy_helper.to_array(initializers[node.input[2]])
        assert scales.shape == (attrs["N"], -(-attrs["K"] // block))


@pytest.mark.parametrize(
    ("block", "message"),
    [(48, "got 48"), (8, "got 8"), (0, "got 0"), (-32, "got -32"), (32.0, "got 32.0"), (True, "got True"),
     ("64", "got '64'")],
)
def test_bad_block_sizes_are_refused(fp32_reporter, tmp_path, block, message):
    pattern = rf"block_size must be a power of two >= 16 \(16, 32, 64, 128, \.\.\.\), {message}; the default is 32"
    with pytest.raises(InvalidInputError, match=pattern):
        build_decoder_graph(fp32_reporter.model.model.language_model, fp32_reporter.model.lm_head,
                            bits=4, max_length=64, block_size=block)
    with pytest.raises(InvalidInputError, match=pattern):
        OrtDecoder.build(fp32_reporter.model, bits=4, max_length=64, block_size=block)
    with pytest.raises(InvalidInputError, match=pattern):
        cache_folder(tmp_path, [], bits=4, max_length=64, block_size=block, root=tmp_path)


def test_cache_folder_is_keyed_to_the_block_size(tmp_path):
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"weights")

    def folder(bits, block=None):
        extra = {} if block is None else {"block_size": block}
        return cache_folder(tmp_path, [weights], bits=bits, max_length=64, root=tmp_path / "cache", **extra)

    assert folder(4) == folder(4, BLOCK_SIZE)  # the default
    assert len({folder(4, 32), folder(4, 64), folder(4, 128), folder(8, 128)}) == 4
    assert folder(4, 128).name.startswith(f"{tmp_path.name}-int4-b128-")
    assert folder(None, 32) == folder(None, 128)  # the fp32 graph has no blocks
    assert folder(None).name.startswith(f"{tmp_path.name}-fp32-")


def test_graph_refuses_unknown_bits(fp32_reporter):
    with pytest.raises(ValueError, match="bits must be one of"):
        build_decoder_graph(fp32_reporter.model.model.language_model, fp32_reporter.model.lm_head,
                            bits=3, max_length=64)


def test_graph_refuses_length_dependent_rope(fp32_reporter, monkeypatch):
    language_model = fp32_reporter.model.model.language_model
    monkeypatch.setattr(language_model.rotary_emb, "rope_type", "dynamic")
    with pytest.raises(ValueError, match="default or linear RoPE, not 'dynamic'"):
        build_decoder_graph(language_model, fp32_reporter.model.lm_head, bits=8, max_length=64)


def test_decoder_refuses_more_positions_than_it_was_built_for(fp32_reporter, radiographs):
    decoder = OrtDecoder.build(fp32_reporter.model, bits=None, max_length=200)
    reporter = with_decoder(fp32_reporter, decoder)
    width = len(reporter.prompt_ids("Give a radiology report based on the chest x-ray image, including "
                                    "FINDINGS and IMPRESSION."))
    with pytest.raises(ValueError, match="exceed the decoder's max_length 200"):
        reporter.generate(radiographs[:1], max_new_tokens=200 - width + 1)


@pytest.mark.parametrize("quantize", ["int8", "int4"])
def test_load_with_quantize_decodes_batched_like_one_by_one(tiny_janus_dir, radiographs, quantize):
    reporter = load(tiny_janus_dir, device="cpu", quantize=quantize)
    assert reporter.quantization == quantize and reporter.decoder.bits == int(quantize[-1])
    batched = reporter.generate(radiographs[:3], max_new_tokens=12, batch_size=3)
    single = [reporter.generate([r], max_new_tokens=12)[0] for r in radiographs[:3]]
    assert [o.text for o in batched] == [o.text for o in single]
    assert all(o.new_tokens >= 1 and o.text for o in batched)


def test_quantised_load_caches_the_graph_keyed_to_the_weights(tiny_janus_dir, radiographs, tmp_path, monkeypatch):
    import shutil

    model_dir = tmp_path / "janus-copy"
    shutil.copytree(tiny_janus_dir, model_dir)
    monkeypatch.setenv("CXRPILOT_CACHE_DIR", str(tmp_path / "cache"))
    first = load(model_dir, device="cpu", quantize="int4").generate(radiographs[:1], max_new_tokens=10)
    saved = sorted((tmp_path / "cache" / "janus-decoder").iterdir())
    assert len(saved) == 1 and saved[0].name.startswith("janus-copy-int4-")
    assert {p.name for p in saved[0].iterdir()} == {"decoder.onnx", "decoder.onnx.data"}

    def no_build(*args, **kwargs):
        raise AssertionError("the cached graph should have been used")

    monkeypatch.setattr(_ort_decode, "build_decoder_graph", no_build)
    again = load(model_dir, device="cpu", quantize="int4").generate(radiographs[:1], max_new_tokens=10)
    assert [o.text for o in again] == [o.text for o in first]
    monkeypatch.undo()
    monkeypatch.setenv("CXRPILOT_CACHE_DIR", str(tmp_path / "cache"))
    # new weights (here: a touched file) get their own graph
    weights = next(model_dir.glob("*.safetensors"))
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    load(model_dir, device="cpu", quantize="int4")
    assert len(list((tmp_path / "cache" / "janus-decoder").iterdir())) == 2


def test_unwritable_cache_falls_back_to_building_with_a_warning(fp32_reporter, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would go")
    with pytest.warns(UserWarning, match="cannot cache the Janus decoder graph"):
        decoder = OrtDecoder.build(fp32_reporter.model, bits=8, max_length=256, cache_dir=blocker / "graph")
    assert decoder.bits == 8


def test_thread_and_session_settings_leave_the_tokens_unchanged(fp32_reporter, radiographs):
    # the speed settings the benchmark compares (one thread, workers not spinning) change no token
    decoder = OrtDecoder.build(fp32_reporter.model, bits=None, max_length=256, threads=1,
                               session_config={"session.intra_op.allow_spinning": "0"})
    reference = fp32_reporter.generate(radiographs[:1], max_new_tokens=16)
    ort = with_decoder(fp32_reporter, decoder).generate(radiographs[:1], max_new_tokens=16)
    assert [o.text for o in ort] == [o.text for o in reference]
    assert decoder.session.get_session_options().intra_op_num_threads == 1
    assert decoder.session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_load_passes_session_config_to_the_decoder_and_keeps_the_tokens(tiny_janus_dir, radiographs):
    plain = load(tiny_janus_dir, device="cpu", quantize="int4")
    nospin = load(tiny_janus_dir, device="cpu", quantize="int4",
                  ort_session_config={"session.intra_op.allow_spinning": "0"})
    options = nospin.decoder.session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    first = plain.generate(radiographs[:2], max_new_tokens=12)
    again = nospin.generate(radiographs[:2], max_new_tokens=12)
    assert [o.text for o in again] == [o.text for o in first]
    with pytest.raises(InvalidInputError, match="give quantize"):
        load(tiny_janus_dir, device="cpu", ort_session_config={"session.intra_op.allow_spinning": "0"})
