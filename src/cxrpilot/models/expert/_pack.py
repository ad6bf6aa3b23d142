"""A training pack: the expert model's training table and its images in one small file.

A machine that cannot see the shared data folder (a lent GPU machine gets the working tree
and at most 64 MiB with it) trains from a pack instead. The pack is written here from the
data folder by the same :func:`~._data.build_table` as every other run — the same
de-duplication, the same seeded patient-level split, the same targets — so a model
trained from it is measured on the same test patients as one trained from the folder.

Each image is stored once as the square network input that
:func:`cxrpilot.imaging.fit_square` makes of it (letterboxed, at a side chosen per source),
8-bit and WebP-compressed; its original shape and the NIH radiologists' boxes ride along,
so that box masks and map hit rates can be computed as from the files. Reading decodes
all images once, in parallel, into one uint8 array at the side a run asks for (resized
where that differs from the stored side), and keeps it in memory for the next run of the
same process.

File layout (``numpy.savez``, no pickles): ``blob`` (uint8, the WebP files one after the
other), ``offsets`` (int64, N + 1), ``sides`` (int32, N), ``table`` (uint8, UTF-8 JSON:
the per-image rows and the table's notes, counts and data hashes).
"""

from __future__ import annotations

import io
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cxrpilot.errors import InvalidDatasetError

__all__ = ["PACK_VERSION", "DEFAULT_PACK_SIDES", "PackData", "write_training_pack",
           "read_training_pack"]

PACK_VERSION = 1
#: Stored side per source: NIH (the multi-finding fine-tuning) large enough for a 320-px
#: network, the pneumonia/COVID collections (pretraining only) at 160 px, so that all
#: ~18k images fit in about 45 MB.
DEFAULT_PACK_SIDES: dict[str, int] = {"nih-chestxray14": 320, "covid-radiography": 160,
                                      "pediatric-pneumonia": 160, "covid-chestxray": 160}


@dataclass
class PackData:
    """What a pack holds, read back: the table, the images at one side, and the facts."""

    table: Any  # ExampleTable
    images: np.ndarray  # (N, S, S) uint8
    data_sha256: dict[str, str]
    summary: dict[str, Any]


def _encode(square: np.ndarray, quality: int) -> bytes:
    from PIL import Image

    pixels = np.clip(np.rint(square.astype(np.float32) * 255), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buf, "WEBP", quality=quality, method=4)
    return buf.getvalue()


def _decode_chunk(args: tuple[list[bytes], list[int], int]) -> np.ndarray:
    from PIL import Image

    blobs, sides, size = args
    out = np.zeros((len(blobs), size, size), dtype=np.uint8)
    for i, (blob, side) in enumerate(zip(blobs, sides, strict=True)):
        with Image.open(io.BytesIO(blob)) as im:
            im = im.convert("L")
            if side != size:
                im = im.resize((size, size), Image.BILINEAR)
            out[i] = np.asarray(im)
    return out


def write_training_pack(
    data_dir: str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    seed: int = 0,
    sides: dict[str, int] | None = None,
    quality: int = 80,
    limit_per_class: int | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> dict:
    """Write the training table of all sources (split with ``seed``) and its images as one
    file, for training where the data folder is not (a lent GPU machine).

    Images are stored as the letterboxed network-input squares, 8-bit WebP at ``quality``,
    at a side per source (default: NIH 320 px, the others 160 px). ``limit_per_class``
    keeps at most that many images per source and class (small packs for tests). Returns a
    summary (file size, images per source, sides).
    """
    from tqdm.auto import tqdm

    from cxrpilot.models.expert._cache import cached_images
    from cxrpilot.models.expert._data import SOURCES, build_table
    from cxrpilot.models.expert._train import _data_hashes as data_hashes

    sides = {**DEFAULT_PACK_SIDES, **(sides or {})}
    data_dir = Path(data_dir)
    cache_dir = Path(cache_dir) if cache_dir is not None else None
    table = build_table(data_dir, SOURCES, seed=seed, limit_per_class=limit_per_class,
                        cache_dir=cache_dir, progress=progress)
    n = len(table.paths)
    squares: list[bytes | None] = [None] * n
    ok = np.zeros(n, dtype=bool)
    for source in SOURCES:
        members = np.flatnonzero(table.sources == source)
        if not len(members):
            continue
        images, good = cached_images([table.paths[i] for i in members], sides[source],
                                     cache_dir=cache_dir, progress=progress)
        for k, i in enumerate(tqdm(members, desc=f"encoding {source}", disable=not progress,
                                   unit="img")):
            if good[k]:
                squares[i], ok[i] = _encode(images[k], quality), True
    keep = np.flatnonzero(ok)
    rows = []
    for i in keep:
        study = table.studies[i]
        with open(table.paths[i], "rb") as f:
            from PIL import Image

            with Image.open(f) as im:
                width, height = im.size
        rows.append({
            "path": os.path.relpath(table.paths[i], data_dir),
            "study_id": study.study_id, "image_id": study.images[0].image_id,
            "patient_id": str(table.patients[i]), "source": str(table.sources[i]),
            "split": str(table.splits[i]), "licence": table.licences[i],
            "view": study.images[0].view, "shape": [height, width],
            "targets": [None if np.isnan(v) else float(v) for v in table.targets[i]],
            "boxes": [list(b) for b in study.meta.get("boxes") or ()],
            "side": sides[str(table.sources[i])],
        })
    ok_table = _subset(table, keep)
    meta = {
        "version": PACK_VERSION, "seed": seed, "sources": list(SOURCES), "sides": sides,
        "limit_per_class": limit_per_class,
        "quality": quality, "format": "WebP, 8-bit grey, fit_square letterboxed squares",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "data_dir": str(data_dir), "unreadable_images": int((~ok).sum()),
        "notes": table.notes, "counts": table.counts,
        "data_sha256": data_hashes(ok_table, data_dir), "rows": rows,
    }
    blobs = [squares[i] for i in keep]
    offsets = np.concatenate([[0], np.cumsum([len(b) for b in blobs])]).astype(np.int64)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        np.savez(f, blob=np.frombuffer(b"".join(blobs), dtype=np.uint8), offsets=offsets,
                 sides=np.array([r["side"] for r in rows], dtype=np.int32),
                 table=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
    os.replace(tmp, path)
    return _summary(meta, path)


def _subset(table, keep: np.ndarray):
    from dataclasses import replace

    return replace(table, paths=[table.paths[i] for i in keep], sources=table.sources[keep],
                   patients=table.patients[keep], targets=table.targets[keep],
                   splits=table.splits[keep], licences=[table.licences[i] for i in keep],
                   studies=[table.studies[i] for i in keep])


def _summary(meta: dict[str, Any], path: Path) -> dict[str, Any]:
    rows = meta["rows"]
    by_source: dict[str, int] = {}
    for r in rows:
        by_source[r["source"]] = by_source.get(r["source"], 0) + 1
    return {"file": path.name, "bytes": path.stat().st_size, "version": meta["version"],
            "seed": meta["seed"], "sides": meta["sides"], "quality": meta["quality"],
            "limit_per_class": meta.get("limit_per_class"),
            "created": meta["created"], "images": len(rows), "by_source": by_source,
            "unreadable_images": meta["unreadable_images"]}


#: Decoded packs of this process, by (path, modification time, side).
_DECODED: dict[tuple[str, int, int], np.ndarray] = {}


def read_training_pack(path: str | os.PathLike[str], image_size: int, *,
                       workers: int | None = None) -> PackData:
    """The table and images (uint8 squares of ``image_size``) of a pack written by
    :func:`write_training_pack`, decoded with ``workers`` processes (default: the CPUs this
    process may use; once per process): a ``PackData`` (``table``, ``images``,
    ``data_sha256``, ``summary``)."""
    from concurrent.futures import ProcessPoolExecutor

    from cxrpilot.data import Study, StudyImage
    from cxrpilot.models.expert._data import ExampleTable

    path = Path(path)
    if not path.is_file():
        raise InvalidDatasetError(f"{str(path)!r}: training pack not found; write one with "
                                  "scripts/device/train_expert_gpu.py pack")
    with np.load(path, allow_pickle=False) as z:
        try:
            meta = json.loads(z["table"].tobytes())
            blob, offsets, sides = z["blob"], z["offsets"], z["sides"]
        except KeyError as e:
            raise InvalidDatasetError(f"{str(path)!r}: not a training pack (no {e})") from None
    if meta.get("version") != PACK_VERSION:
        raise InvalidDatasetError(f"{str(path)!r}: pack version {meta.get('version')!r}, "
                                  f"expected {PACK_VERSION}; write it again")
    rows = meta["rows"]
    key = (str(path.resolve()), path.stat().st_mtime_ns, image_size)
    images = _DECODED.get(key)
    if images is None:
        workers = workers or len(os.sched_getaffinity(0))
        chunk = max(1, -(-len(rows) // (workers * 4)))
        jobs = [([blob[offsets[i]:offsets[i + 1]].tobytes() for i in range(a, min(a + chunk, len(rows)))],
                 [int(s) for s in sides[a : a + chunk]], image_size)
                for a in range(0, len(rows), chunk)]
        if workers == 1 or len(jobs) == 1:
            parts = [_decode_chunk(j) for j in jobs]
        else:
            import multiprocessing

            # spawned, not forked: the caller may have started CUDA already
            with ProcessPoolExecutor(max_workers=workers,
                                     mp_context=multiprocessing.get_context("spawn")) as pool:
                parts = list(pool.map(_decode_chunk, jobs))
        images = np.concatenate(parts) if parts else np.zeros((0, image_size, image_size), np.uint8)
        images.setflags(write=False)
        _DECODED[key] = images
    studies = [Study(study_id=r["study_id"], patient_id=r["patient_id"], source=r["source"],
                     images=(StudyImage(path=r["path"], image_id=r["image_id"], view=r["view"]),),
                     split=r["split"],
                     meta={"boxes": [tuple(b) for b in r["boxes"]],
                           "image_shape": tuple(r["shape"])} if r["boxes"]
                     else {"image_shape": tuple(r["shape"])})
               for r in rows]
    table = ExampleTable(
        paths=[r["path"] for r in rows],
        sources=np.array([r["source"] for r in rows]),
        patients=np.array([r["patient_id"] for r in rows]),
        targets=np.array([[np.nan if v is None else v for v in r["targets"]] for r in rows],
                         dtype=np.float64).reshape(len(rows), -1),
        splits=np.array([r["split"] for r in rows]),
        licences=[r["licence"] for r in rows],
        notes=meta["notes"] + f" Read from the training pack {path.name} (WebP squares, "
        f"sides {meta['sides']}, quality {meta['quality']}, written {meta['created']}).",
        counts=meta["counts"],
        studies=studies,
    )
    return PackData(table=table, images=images, data_sha256=meta["data_sha256"],
                    summary=_summary(meta, path))
