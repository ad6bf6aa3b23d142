"""Speed of the expert model on this CPU: latency, throughput, achieved FLOP/s vs peak.

Prints, and writes ``benchmarks/results/expert_speed.md``:

- model latency per image, batch 1, ONNX Runtime (p50, p95), alone and with the maps
  (``assess_with_maps``: preprocessing, network, calibration, statuses and a map per present
  or uncertain finding) — target <= 50 ms;
- end-to-end throughput in images/s (JPEG decode with ``cxrpilot.imaging.load`` +
  preprocessing + model, batches of 32) on the 224-px JPEGs of ``../shared/data`` —
  target >= 100 images/s;
- the model's FLOPs (counted from the ONNX graph: Conv and Gemm/MatMul multiply-adds x 2)
  and the achieved FLOP/s at batch 1 and batch 32, against this machine's measured
  matrix-multiply peak (float32 numpy/BLAS and ONNX Runtime MatMul, 2048 x 2048).

Usage: ``python benchmarks/bench_expert_speed.py [--data ../shared/data] [--model NAME_OR_PATH]``
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from _machine import machine

REPO = Path(__file__).resolve().parents[1]


def count_flops(onnx_path: Path, image_size: int) -> int:
    """FLOPs (2 x multiply-adds) of one image through Conv, Gemm and MatMul nodes."""
    import onnx
    from onnx import shape_inference

    model = onnx.load(str(onnx_path))
    # fix the batch to 1 so that shape inference gives concrete shapes
    dim = model.graph.input[0].type.tensor_type.shape.dim[0]
    dim.Clear()
    dim.dim_value = 1
    model = shape_inference.infer_shapes(model)
    shapes: dict[str, list[int]] = {}
    for vi in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output):
        shapes[vi.name] = [d.dim_value for d in vi.type.tensor_type.shape.dim]
    inits = {t.name: list(t.dims) for t in model.graph.initializer}
    flops = 0
    for node in model.graph.node:
        if node.op_type == "Conv":
            w = inits[node.input[1]]  # (out, in/groups, kh, kw)
            out = shapes[node.output[0]]  # (1, out, h, w)
            flops += 2 * int(np.prod(w)) * out[2] * out[3]
        elif node.op_type in ("Gemm", "MatMul"):
            w = inits.get(node.input[1]) or shapes.get(node.input[1])
            flops += 2 * int(np.prod(w))
    return flops


def matmul_peak(n: int = 2048, repeats: int = 5) -> tuple[float, float]:
    """Measured float32 FLOP/s of an n x n matrix product: numpy (BLAS), ONNX Runtime."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    a @ b
    best_np = min(_timed(lambda: a @ b) for _ in range(repeats))
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["A", "B"], ["C"])], "mm",
        [helper.make_tensor_value_info("A", TensorProto.FLOAT, [n, n]),
         helper.make_tensor_value_info("B", TensorProto.FLOAT, [n, n])],
        [helper.make_tensor_value_info("C", TensorProto.FLOAT, [n, n])],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    sess.run(None, {"A": a, "B": b})
    best_ort = min(_timed(lambda: sess.run(None, {"A": a, "B": b})) for _ in range(repeats))
    flops = 2.0 * n**3
    return flops / best_np, flops / best_ort


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("CXRPILOT_DATA", REPO.parent / "shared" / "data"))
    parser.add_argument("--model", default=None, help="expert model name or folder (default: shipped)")
    parser.add_argument("--no-check", action="store_true",
                        help="load images with check=False (skip the frontal-chest checks)")
    parser.add_argument("--n-latency", type=int, default=300)
    parser.add_argument("--n-throughput", type=int, default=640)
    parser.add_argument("--out", default=REPO / "benchmarks" / "results" / "expert_speed.md")
    args = parser.parse_args()

    load_start = os.getloadavg()[0]
    t0 = time.perf_counter()
    from cxrpilot import imaging
    from cxrpilot.errors import CxrpilotError
    from cxrpilot.models import expert

    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = expert.load(args.model)
    t_load = time.perf_counter() - t0
    check = not args.no_check
    data = Path(args.data)
    files = sorted((data / "covid-radiography").rglob("*.jpg"))[:: 7] + sorted(
        (data / "pediatric-pneumonia").rglob("*.jpg"))[:: 7]
    rng = np.random.default_rng(0)
    files = [files[i] for i in rng.permutation(len(files))]

    # model latency, batch 1 (preprocessed input; model only)
    sample = [imaging.load(f, check=False) for f in files[: args.n_latency]]
    inputs = model.preprocess(sample)
    for i in range(20):
        model.predict_logits(inputs[i : i + 1])
    lat = np.array([_timed(lambda i=i: model.predict_logits(inputs[i : i + 1]))
                    for i in range(len(inputs))]) * 1000
    lat_maps = np.array([_timed(lambda rg=rg: model.assess_with_maps(rg)) for rg in sample]) * 1000
    n_maps = sum(len(model.assess_with_maps(rg)[1]) for rg in sample[:50]) / min(50, len(sample))
    # maps of every finding output, whatever its status: the cost when many findings show
    every = [n for n in model.labels if n != "No Finding"]
    lat_all = np.array([_timed(lambda rg=rg: model.locate(rg, every)) for rg in sample[:100]]) * 1000
    # batch-32 model throughput
    batch = inputs[:32]
    model.predict_logits(batch)
    t_b32 = min(_timed(lambda: model.predict_logits(batch)) for _ in range(10))
    # end to end: decode + preprocess + model, batches of 32
    e2e_files = files[: args.n_throughput]
    t0 = time.perf_counter()
    rejected: list[str] = []
    for i in range(0, len(e2e_files), 32):
        batch_rg = []
        for f in e2e_files[i : i + 32]:
            try:
                batch_rg.append(imaging.load(f, check=check))
            except CxrpilotError:  # reported per file, like `cxrpilot report`
                rejected.append(f.name)
        model.predict_proba(batch_rg)
    t_e2e = time.perf_counter() - t0
    # decode only
    t0 = time.perf_counter()
    for f in e2e_files[:200]:
        try:
            imaging.load(f, check=check)
        except CxrpilotError:
            pass
    t_decode = (time.perf_counter() - t0) / min(200, len(e2e_files))

    flops = count_flops(model.path / model.card.weights_file, model.card.image_size)
    peak_np, peak_ort = matmul_peak()
    peak = max(peak_np, peak_ort)
    p50 = np.percentile(lat, 50)
    p95 = max(np.percentile(lat, 95), np.percentile(lat_maps, 95), np.percentile(lat_all, 95))
    achieved_b1 = flops / (p50 / 1000)
    achieved_b32 = flops * 32 / t_b32
    ips = len(e2e_files) / t_e2e
    size = model.path.joinpath(model.card.weights_file).stat().st_size
    lines = [
        "## Expert model speed (`benchmarks/bench_expert_speed.py`)",
        "",
        (f"Machine: {machine()}; onnxruntime threads: default; load average at start "
        f"{load_start:.1f}, at end {os.getloadavg()[0]:.1f} (the CPU is shared)."),
        (f"Model: {model.model_id} {model.version}, input {model.card.image_size}x{model.card.image_size}, "
        f"ONNX {size / 1e6:.1f} MB; import cxrpilot.imaging + expert {t_import * 1000:.0f} ms, "
        f"load {t_load * 1000:.0f} ms."),
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| model latency, batch 1, p50 | {p50:.2f} ms | <= 50 ms |",
        f"| model latency, batch 1, p95 | {np.percentile(lat, 95):.2f} ms | <= 50 ms |",
        (f"| with maps (`assess_with_maps`, {n_maps:.1f} maps/image), p50 | "
        f"{np.percentile(lat_maps, 50):.2f} ms | <= 50 ms |"),
        f"| with maps, p95 | {np.percentile(lat_maps, 95):.2f} ms | <= 50 ms |",
        (f"| maps of all {len(every)} finding outputs (`locate`), p50 / p95 | "
        f"{np.percentile(lat_all, 50):.2f} / {np.percentile(lat_all, 95):.2f} ms | <= 50 ms |"),
        f"| model throughput, batch 32 | {32 / t_b32:.0f} images/s | |",
        f"| JPEG decode (`imaging.load`, 224 px, check={check}) | {t_decode * 1000:.2f} ms/image | |",
        (f"| end to end (decode, check={check}, + preprocess + model, batches of 32, "
        f"{len(e2e_files)} JPEGs) | "
        f"{ips:.0f} images/s | >= 100 images/s |"),
        f"| model FLOPs per image (Conv+Gemm from the ONNX graph, 2 x MAC) | {flops / 1e6:.0f} MFLOP | |",
        f"| achieved, batch 1 (p50) | {achieved_b1 / 1e9:.1f} GFLOP/s ({100 * achieved_b1 / peak:.0f} % of peak) | |",
        f"| achieved, batch 32 | {achieved_b32 / 1e9:.1f} GFLOP/s ({100 * achieved_b32 / peak:.0f} % of peak) | |",
        f"| matmul peak, float32 2048^2, numpy BLAS | {peak_np / 1e9:.1f} GFLOP/s | |",
        f"| matmul peak, float32 2048^2, ONNX Runtime | {peak_ort / 1e9:.1f} GFLOP/s | |",
        "",
        (f"Latency targets: {'met' if p95 <= 50 else 'MISSED'} (worst p95 {p95:.2f} ms); throughput target: "
        f"{'met' if ips >= 100 else 'MISSED'} ({ips:.0f} images/s). The CPU was shared with other "
        "work while this ran; figures are single runs."),
        f"Images refused by `imaging.load` checks in the end-to-end run: {len(rejected)} of "
        f"{len(e2e_files)}" + (f" (e.g. {', '.join(rejected[:3])})" if rejected else "") + ".",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
