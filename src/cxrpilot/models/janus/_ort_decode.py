"""Decode Janus-Pro's language model with ONNX Runtime, weights in 8 or 4 bits (CPU).

Writing a report is one prefill (image and prompt, 646 tokens for Janus-Pro) and then one
forward pass per new token. The prefill is matrix-bound and runs fastest in torch (bf16 on
AMX); each decode step reads every weight of the language model once, so it is bound by
memory traffic and by per-step overhead. This module moves the decode steps to one ONNX
Runtime graph built here from the loaded weights:

- each linear layer is a ``MatMulNBits`` node (block-wise symmetric weight-only quantisation,
  8 or 4 bits, one fp32 scale per block of ``block_size`` weights along the input dimension,
  32 by default, quantised by ONNX Runtime's own ``quantize_matmul_{8,4}bits``; int8 dot
  products on the activations, accuracy level 4);
  q/k/v and gate/up are fused into one matrix each;
- attention is ``GroupQueryAttention`` with rotary embedding and a key/value cache that is
  written in place (one preallocated buffer per layer, bound as both past and present);
- RMSNorm and residual adds are ``(Skip)SimplifiedLayerNormalization``.

The whole step is one ``run`` call, so the per-token Python overhead of the eager torch model
goes too. ``bits=None`` builds the same graph with fp32 ``MatMul`` weights; tests use it to
check the graph against transformers' own forward pass token for token.

The torch prefill's key/value cache is copied into the buffers (left padding removed, so each
row's cache starts at position 0, as ``GroupQueryAttention`` expects), and decoding goes on
greedily from the prefill's first token. Measured figures: ``BENCHMARKS.md`` (Janus-Pro speed).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cxrpilot.errors import InvalidInputError
from cxrpilot.models import cache_root

__all__ = ["BITS", "BLOCK_SIZE", "DecodeStream", "OrtDecoder", "build_decoder_graph", "cache_folder",
           "check_block_size"]

#: Weight widths the decoder graph can be built with (None: fp32, for checking the graph).
BITS = (8, 4)

#: Default quantisation block: weights along the input dimension that share one fp32 scale
#: (any power of two >= 16 can be given; larger blocks read fewer scales per token but round
#: coarser: ``BENCHMARKS.md``, Janus-Pro speed and quantisation).
BLOCK_SIZE = 32
_MS_DOMAIN = "com.microsoft"
_GRAPH_FILE = "decoder.onnx"
#: Bump when the graph built here changes, so cached graphs of older versions are not reused.
_GRAPH_VERSION = 1


@dataclass(frozen=True)
class _Shape:
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    eps: float


def check_block_size(block_size: Any) -> int:
    """``block_size`` as an int, or :class:`InvalidInputError`: ``MatMulNBits`` takes powers
    of two from 16 up."""
    if (isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer))
            or block_size < 16 or block_size & (block_size - 1)):
        raise InvalidInputError(f"block_size must be a power of two >= 16 (16, 32, 64, 128, ...), "
                                f"got {block_size!r}; the default is {BLOCK_SIZE}")
    return int(block_size)


def _shape_of(language_model: Any) -> _Shape:
    config = language_model.config
    heads = int(config.num_attention_heads)
    hidden = int(config.hidden_size)
    return _Shape(
        layers=int(config.num_hidden_layers),
        hidden=hidden,
        heads=heads,
        kv_heads=int(getattr(config, "num_key_value_heads", None) or heads),
        head_dim=int(getattr(config, "head_dim", None) or hidden // heads),
        eps=float(config.rms_norm_eps),
    )


class _GraphBuilder:
    """Collects nodes and initialisers of the decoder graph."""

    def __init__(self, bits: int | None, block_size: int = BLOCK_SIZE) -> None:
        self.bits = bits
        self.block_size = block_size
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []

    def constant(self, name: str, array: np.ndarray) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op: str, inputs: list[str], outputs: list[str], domain: str = "", **attrs: Any) -> None:
        from onnx import helper

        self.nodes.append(helper.make_node(op, inputs, outputs, name=outputs[0], domain=domain, **attrs))

    def linear(self, name: str, x: str, weight: Any, bias: np.ndarray | None = None) -> str:
        """``x @ weight.T (+ bias)`` for a torch weight (out_features, in_features)."""
        n, k = weight.shape
        out = f"{name}/out"
        if self.bits is None:
            inputs = [x, self.constant(f"{name}.weight", _transposed(weight))]
            if bias is None:
                self.node("MatMul", inputs, [out])
            else:
                self.node("MatMul", inputs, [f"{name}/matmul"])
                self.node("Add", [f"{name}/matmul", self.constant(f"{name}.bias", bias)], [out])
            return out
        packed, scales = _quantize(weight, self.bits, self.block_size)
        inputs = [x, self.constant(f"{name}.qweight", packed), self.constant(f"{name}.scales", scales)]
        if bias is not None:
            inputs += ["", "", self.constant(f"{name}.bias", bias.astype(np.float32))]
        self.node("MatMulNBits", inputs, [out], domain=_MS_DOMAIN, K=k, N=n, bits=self.bits,
                  block_size=self.block_size, accuracy_level=4)
        return out


def _transposed(weight: Any) -> np.ndarray:
    """A torch (N, K) weight as a contiguous fp32 (K, N) array (transposed by torch in its
    own dtype, then widened: 3x faster than numpy's strided copy for Janus-Pro's matrices)."""
    return weight.detach().t().contiguous().float().numpy()


def _quantize(weight: Any, bits: int, block_size: int = BLOCK_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Block-wise symmetric quantisation of a torch (N, K) weight in MatMulNBits's layout, by
    ONNX Runtime's own kernels: packed (N, B, block_size*bits/8) uint8 and scales (N, B) fp32,
    B = ceil(K / block_size) blocks (the last one zero-padded)."""
    from onnxruntime.capi._pybind_state import quantize_matmul_4bits, quantize_matmul_8bits

    n, k = weight.shape
    blocks = -(-k // block_size)
    per_byte = 8 // bits
    transposed = _transposed(weight)  # (K, N)
    if blocks * block_size != k:
        transposed = np.pad(transposed, ((0, blocks * block_size - k), (0, 0)))
    packed = np.zeros((n, blocks, block_size // per_byte), dtype=np.uint8)
    scales = np.zeros((n, blocks), dtype=np.float32)
    zero_points = np.zeros((n, -(-blocks // per_byte)), dtype=np.uint8)  # unused: symmetric
    kernel = quantize_matmul_8bits if bits == 8 else quantize_matmul_4bits
    kernel(packed, transposed, scales, zero_points, block_size, n, k, True)
    return packed, scales


def _numpy(tensor: Any) -> np.ndarray:
    return tensor.detach().float().cpu().numpy()


def build_decoder_graph(language_model: Any, lm_head: Any, *, bits: int | None, max_length: int,
                        block_size: int = BLOCK_SIZE) -> Any:
    """The one-step decoder as an ``onnx.ModelProto``.

    Parameters
    ----------
    language_model : transformers LlamaModel
        Janus's ``model.language_model`` (embeddings stay in torch: the graph takes
        ``inputs_embeds``).
    lm_head : torch.nn.Linear
        The text head.
    bits : {8, 4} or None
        Weight width of every linear layer and the head; None keeps fp32 ``MatMul`` weights.
    max_length : int
        Longest sequence (prompt + new tokens) the rotary tables cover.
    block_size : int
        Weights along the input dimension sharing one scale (a power of two >= 16; unused
        with ``bits=None``).

    Inputs: ``inputs_embeds`` (batch, seq, hidden) fp32; ``seqlens_k`` (batch,) int32 = each
    row's total length minus one; ``total_sequence_length`` () int32; per layer
    ``past_key_values.{i}.key/value`` (batch, kv_heads, max_length, head_dim) fp32. Outputs:
    ``logits`` (batch, seq, vocab) and ``present.{i}.key/value`` (bind them to the past
    buffers: the cache is then updated in place).
    """
    import torch
    from onnx import TensorProto, helper

    if bits is not None and bits not in BITS:
        raise InvalidInputError(f"bits must be one of {BITS} or None, got {bits!r}")
    block_size = check_block_size(block_size)
    shape = _shape_of(language_model)
    g = _GraphBuilder(bits, block_size)

    rotary = language_model.rotary_emb
    rope_type = getattr(rotary, "rope_type", "default")
    if rope_type not in ("default", "linear"):  # fixed tables cannot follow length-dependent RoPE
        raise InvalidInputError(f"the ONNX Runtime decoder supports default or linear RoPE, not {rope_type!r}")
    inv_freq = _numpy(rotary.inv_freq)
    scaling = float(getattr(rotary, "attention_scaling", 1.0))
    angles = np.outer(np.arange(max_length, dtype=np.float32), inv_freq)
    g.constant("cos_cache", (np.cos(angles) * scaling).astype(np.float32))
    g.constant("sin_cache", (np.sin(angles) * scaling).astype(np.float32))

    def bias_of(*linears: Any) -> np.ndarray | None:
        if all(lin.bias is None for lin in linears):
            return None
        return np.concatenate([
            _numpy(lin.bias) if lin.bias is not None else np.zeros(lin.out_features, np.float32)
            for lin in linears
        ])

    normed = "layers.0/input_norm"
    first = language_model.layers[0]
    g.node("SimplifiedLayerNormalization",
           ["inputs_embeds", g.constant("layers.0.input_layernorm.weight", _numpy(first.input_layernorm.weight))],
           [normed], epsilon=shape.eps, axis=-1, stash_type=1)
    residual = "inputs_embeds"
    for i, layer in enumerate(language_model.layers):
        prefix = f"layers.{i}"
        attn, mlp = layer.self_attn, layer.mlp
        qkv_weight = torch.cat([attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight])
        qkv = g.linear(f"{prefix}.self_attn.qkv_proj", normed, qkv_weight,
                       bias_of(attn.q_proj, attn.k_proj, attn.v_proj))
        g.node("GroupQueryAttention",
               [qkv, "", "", f"past_key_values.{i}.key", f"past_key_values.{i}.value",
                "seqlens_k", "total_sequence_length", "cos_cache", "sin_cache"],
               [f"{prefix}/attn", f"present.{i}.key", f"present.{i}.value"], domain=_MS_DOMAIN,
               num_heads=shape.heads, kv_num_heads=shape.kv_heads, do_rotary=1, rotary_interleaved=0,
               scale=float(shape.head_dim) ** -0.5)
        attn_out = g.linear(f"{prefix}.self_attn.o_proj", f"{prefix}/attn", attn.o_proj.weight,
                            bias_of(attn.o_proj))
        post = f"{prefix}.post_attention_layernorm.weight"
        g.node("SkipSimplifiedLayerNormalization",
               [attn_out, residual, g.constant(post, _numpy(layer.post_attention_layernorm.weight))],
               [f"{prefix}/post_norm", "", "", f"{prefix}/attn_residual"], domain=_MS_DOMAIN, epsilon=shape.eps)
        gate_up = g.linear(f"{prefix}.mlp.gate_up_proj", f"{prefix}/post_norm",
                           torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]),
                           bias_of(mlp.gate_proj, mlp.up_proj))
        g.node("Split", [gate_up], [f"{prefix}/gate", f"{prefix}/up"], axis=-1, num_outputs=2)
        g.node("Sigmoid", [f"{prefix}/gate"], [f"{prefix}/gate_sigmoid"])
        g.node("Mul", [f"{prefix}/gate", f"{prefix}/gate_sigmoid"], [f"{prefix}/gate_silu"])
        g.node("Mul", [f"{prefix}/gate_silu", f"{prefix}/up"], [f"{prefix}/gated"])
        mlp_out = g.linear(f"{prefix}.mlp.down_proj", f"{prefix}/gated", mlp.down_proj.weight,
                           bias_of(mlp.down_proj))
        # next: normalise (mlp_out + residual) for the next layer, or the final norm
        if i + 1 < shape.layers:
            norm_name = f"layers.{i + 1}.input_layernorm.weight"
            norm_weight = _numpy(language_model.layers[i + 1].input_layernorm.weight)
            normed = f"layers.{i + 1}/input_norm"
        else:
            norm_name, norm_weight, normed = "norm.weight", _numpy(language_model.norm.weight), "final_norm"
        residual_out = f"{prefix}/mlp_residual"
        g.node("SkipSimplifiedLayerNormalization",
               [mlp_out, f"{prefix}/attn_residual", g.constant(norm_name, norm_weight)],
               [normed, "", "", residual_out], domain=_MS_DOMAIN, epsilon=shape.eps)
        residual = residual_out
    logits = g.linear("lm_head", normed, lm_head.weight, bias_of(lm_head))
    g.node("Identity", [logits], ["logits"])

    cache = ["batch", shape.kv_heads, "max_length", shape.head_dim]
    inputs = [
        helper.make_tensor_value_info("inputs_embeds", TensorProto.FLOAT, ["batch", "seq", shape.hidden]),
        helper.make_tensor_value_info("seqlens_k", TensorProto.INT32, ["batch"]),
        helper.make_tensor_value_info("total_sequence_length", TensorProto.INT32, []),
    ]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "seq", "vocab"])]
    for i in range(shape.layers):
        for kind in ("key", "value"):
            inputs.append(helper.make_tensor_value_info(f"past_key_values.{i}.{kind}", TensorProto.FLOAT, cache))
            outputs.append(helper.make_tensor_value_info(f"present.{i}.{kind}", TensorProto.FLOAT, cache))
    graph = helper.make_graph(g.nodes, "janus_language_model_decode", inputs, outputs, g.initializers)
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid(_MS_DOMAIN, 1)],
        producer_name="cxrpilot",
    )


def _save_graph(language_model: Any, lm_head: Any, bits: int | None, max_length: int, block_size: int,
                folder: Path) -> None:
    """Build the graph and write it to ``folder`` (``decoder.onnx`` + ``decoder.onnx.data``;
    weights go to the data file: protobuf messages stop at 2 GB). The folder appears whole
    or not at all (written beside it, then renamed)."""
    import onnx

    proto = build_decoder_graph(language_model, lm_head, bits=bits, max_length=max_length, block_size=block_size)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        onnx.save_model(proto, str(staging / _GRAPH_FILE), save_as_external_data=True,
                        all_tensors_to_one_file=True, location=f"{_GRAPH_FILE}.data", size_threshold=1024)
        del proto
        try:
            staging.rename(folder)
        except OSError:
            if not (folder / _GRAPH_FILE).is_file():  # not a concurrent writer that got there first
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def cache_folder(model_dir: Path, weight_files: list[Path], *, bits: int | None, max_length: int,
                 dtype: str = "", root: Path | None = None, block_size: int = BLOCK_SIZE) -> Path:
    """Where the decoder graph of the checkpoint in ``model_dir`` is cached: a folder named by
    a hash of the folder's real path, each weight file's name, size and modification time,
    the bits, the block size (quantised graphs), the length, the dtype the weights were
    loaded in and the graph version — new or changed weights get a new folder."""
    block_size = check_block_size(block_size)
    identity = [str(model_dir.resolve()), f"bits={bits}", f"max_length={max_length}", f"dtype={dtype}",
                f"v{_GRAPH_VERSION}"]
    if bits is not None:
        identity.append(f"block_size={block_size}")
    for path in sorted(weight_files):
        stat = path.stat()
        identity.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
    digest = hashlib.sha256("\n".join(identity).encode("utf-8")).hexdigest()[:24]
    kind = "fp32" if bits is None else f"int{bits}-b{block_size}"
    return (root or cache_root()) / "janus-decoder" / f"{model_dir.name}-{kind}-{digest}"


class OrtDecoder:
    """Greedy decoding of Janus's language model in ONNX Runtime, after a torch prefill.

    Build it with :meth:`build`; call :meth:`decode` once per batch.
    """

    def __init__(self, session: Any, shape: _Shape, max_length: int, bits: int | None,
                 block_size: int = BLOCK_SIZE) -> None:
        self.session = session
        self.shape = shape
        self.max_length = max_length
        self.bits = bits
        self.block_size = block_size

    @classmethod
    def build(cls, model: Any, *, bits: int | None, max_length: int = 2048, threads: int | None = None,
              cache_dir: str | Path | None = None, session_config: dict[str, str] | None = None,
              block_size: int = BLOCK_SIZE) -> OrtDecoder:
        """Build the decoder graph from a loaded ``JanusForConditionalGeneration`` and open it.

        ``max_length`` bounds prompt + new tokens of one sequence; ``threads`` defaults to
        torch's intra-op thread count. With ``cache_dir`` the graph is saved there, and a graph
        already saved there is opened instead of being built again (the caller keys the
        folder to the weights: see :func:`cache_folder`). ``session_config``: ONNX Runtime
        session config entries, e.g. ``{"session.intra_op.allow_spinning": "0"}`` (worker
        threads sleep between operators instead of spinning as ONNX Runtime's default has them:
        faster only where other work holds the cores, ``BENCHMARKS.md``); they change speed only,
        never the tokens. ``block_size``: weights per quantisation scale (:data:`BLOCK_SIZE` by
        default, a power of two >= 16; give :func:`cache_folder` the same).
        """
        return cls.from_parts(model.model.language_model, model.lm_head, bits=bits, max_length=max_length,
                              threads=threads, cache_dir=cache_dir, session_config=session_config,
                              block_size=block_size)

    @classmethod
    def from_parts(cls, language_model: Any, lm_head: Any, *, bits: int | None, max_length: int = 2048,
                   threads: int | None = None, cache_dir: str | Path | None = None,
                   session_config: dict[str, str] | None = None, block_size: int = BLOCK_SIZE) -> OrtDecoder:
        """:meth:`build` from a LLaMA ``language_model`` and its ``lm_head`` (e.g. the
        ``model`` and ``lm_head`` of a ``LlamaForCausalLM``)."""
        import onnxruntime as ort
        import torch

        block_size = check_block_size(block_size)

        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads or torch.get_num_threads())
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        for key, value in (session_config or {}).items():
            options.add_session_config_entry(str(key), str(value))

        def open_session(path: Path) -> OrtDecoder:
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            return cls(session, _shape_of(language_model), max_length, bits, block_size)

        if cache_dir is not None:
            cached = Path(cache_dir) / _GRAPH_FILE
            if cached.is_file():
                return open_session(cached)
            try:
                _save_graph(language_model, lm_head, bits, max_length, block_size, Path(cache_dir))
                return open_session(cached)
            except OSError as exc:  # an unwritable cache: build in a temporary folder instead
                warnings.warn(f"cannot cache the Janus decoder graph in {str(cache_dir)!r} ({exc}); "
                              "building it without a cache", stacklevel=2)
        # ONNX Runtime copies the weights into its own (pre-packed) buffers, so the temporary
        # files can go once the session is open.
        with tempfile.TemporaryDirectory(prefix="cxrpilot-janus-ort-") as folder:
            _save_graph(language_model, lm_head, bits, max_length, block_size, Path(folder) / "graph")
            return open_session(Path(folder) / "graph" / _GRAPH_FILE)

    def open(self, past_key_values: Any, lengths: list[int], capacity: int) -> DecodeStream:
        """A :class:`DecodeStream` that goes on from a torch prefill.

        Parameters
        ----------
        past_key_values : transformers Cache
            The prefill's cache, left-padded rows of width W (``keys``: (batch, heads, W, dim)).
        lengths : list of int
            Real (unpadded) prompt length of each row.
        capacity : int
            Cache positions to allocate per row (prompt + new tokens).
        """
        if capacity > self.max_length:
            raise InvalidInputError(f"{capacity} positions (prompt + new tokens) exceed the decoder's "
                             f"max_length {self.max_length}")
        return DecodeStream(self, past_key_values, lengths, capacity)

    def decode(
        self,
        past_key_values: Any,
        lengths: list[int],
        first_tokens: list[int],
        embed: Any,
        *,
        max_new_tokens: int,
        eos_token_id: int | None,
        pad_token_id: int,
        min_new_tokens: int = 0,
        on_token: Any = None,
    ) -> list[list[int]]:
        """Greedy decoding after a torch prefill; each row's new tokens (the prefill's
        ``first_tokens`` included, up to and including EOS).

        ``past_key_values`` and ``lengths`` as in :meth:`open`; ``embed`` maps token ids
        (batch, 1) as a LongTensor to embeddings (batch, 1, hidden); EOS is not chosen before
        ``min_new_tokens`` tokens (the speed benchmark forces a length); ``on_token`` is
        called with no arguments each time the rows' next tokens are known (timing).
        """
        import torch

        stream = self.open(past_key_values, lengths, max(lengths) + max_new_tokens)
        batch = len(lengths)
        done = [False] * batch
        new_tokens: list[list[int]] = [[] for _ in range(batch)]
        current = list(first_tokens)
        for step in range(max_new_tokens):
            if on_token is not None:
                on_token()
            for row in range(batch):
                if not done[row]:
                    new_tokens[row].append(current[row])
                    done[row] = current[row] == eos_token_id
            if all(done) or step == max_new_tokens - 1:
                break
            ids = torch.tensor([[pad_token_id if done[r] else current[r]] for r in range(batch)])
            with torch.inference_mode():
                logits = stream.step(embed(ids).float().numpy())
            if eos_token_id is not None and step + 1 < min_new_tokens:
                logits[:, eos_token_id] = -np.inf
            current = [int(t) for t in logits.argmax(axis=-1)]
        return new_tokens


class DecodeStream:
    """One batch being decoded: the key/value buffers, bound once, updated in place."""

    def __init__(self, decoder: OrtDecoder, past_key_values: Any, lengths: list[int], capacity: int) -> None:
        import onnxruntime as ort
        import torch

        s = decoder.shape
        self.session = decoder.session
        self.binding = self.session.io_binding()
        self.binding.bind_output("logits")  # first: get_outputs()[0]
        self.buffers: list[np.ndarray] = []  # ONNX Runtime writes into these arrays
        batch = len(lengths)
        for i, layer in enumerate(past_key_values.layers):
            for kind, tensor in (("key", layer.keys), ("value", layer.values)):
                buffer = np.zeros((batch, s.kv_heads, capacity, s.head_dim), dtype=np.float32)
                view, padded = torch.from_numpy(buffer), tensor.shape[2]
                for row, n in enumerate(lengths):  # drop the left padding: row starts at 0
                    view[row, :, :n].copy_(tensor[row, :, padded - n:])  # casts to fp32 in place
                value = ort.OrtValue.ortvalue_from_numpy(buffer)
                self.buffers.append(buffer)
                self.binding.bind_ortvalue_input(f"past_key_values.{i}.{kind}", value)
                self.binding.bind_ortvalue_output(f"present.{i}.{kind}", value)
        self.lengths = np.asarray(lengths, dtype=np.int32)
        self.capacity = capacity

    def step(self, embeds: np.ndarray) -> np.ndarray:
        """Feed one token per row (embeddings (batch, 1, hidden)); the next-token logits
        (batch, vocab)."""
        if int(self.lengths.max()) >= self.capacity:
            raise RuntimeError(f"the key/value cache is full ({self.capacity} positions)")  # a bug, not input
        self.binding.bind_cpu_input("inputs_embeds", np.ascontiguousarray(embeds, dtype=np.float32))
        self.binding.bind_cpu_input("seqlens_k", self.lengths)  # total length (with this token) - 1
        self.binding.bind_cpu_input("total_sequence_length",
                                    np.asarray(int(self.lengths.max()) + 1, dtype=np.int32))
        self.session.run_with_iobinding(self.binding)
        self.lengths = self.lengths + 1
        return self.binding.get_outputs()[0].numpy()[:, -1].copy()  # the output buffer is reused
