"""Perceptual-hash de-duplication of images within and across datasets.

Public chest X-ray collections copy each other: Kermany pediatric ``train/NORMAL`` images are
also in COVID-19 Radiography ``Normal``, and hundreds of ieee8023 covid-chestxray images are in
COVID-19 Radiography ``COVID`` — resized, re-encoded, sometimes re-cropped.

Two images are one radiograph when (1) their 64-bit DCT perceptual hashes
(``imagehash.phash``) differ in at most ``max_distance`` bits and (2) the Pearson correlation
of their 32x32 grey thumbnails is at least ``min_correlation``. The hash alone is not enough on
these small (224x224) images: unrelated radiographs of one source come within 2-4 bits of each
other, so hash matches are candidates and the thumbnail correlation decides. Linked studies are
joined into groups (single linkage).

How the defaults were chosen (``../shared/data``, 18,242 images): every pair with hash distance
<= 8 was scored. Re-encoded copies (e.g. pediatric ``NORMAL`` in COVID-19 Radiography
``Normal``) have thumbnail correlation >= 0.995 (full-resolution correlation 0.99-1.0) and
hash distance <= 4; the best match of an image that has no copy (pediatric ``PNEUMONIA``
against ``Normal``, 3,875 images) never exceeds 0.97. Pairs between 0.98 and 0.995 are
near-duplicates (the same figure cropped differently, or one patient's images a day apart) and
are grouped too, because they must not be split between train and test.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from cxrpilot.data._study import Study
from cxrpilot.data._union_find import UnionFind
from cxrpilot.errors import InvalidDatasetError, InvalidInputError, require

__all__ = [
    "DuplicateGroup",
    "DEFAULT_MAX_DISTANCE",
    "DEFAULT_MIN_CORRELATION",
    "image_fingerprints",
    "find_duplicates",
    "deduplicate",
    "study_key",
]

#: Hamming distance (bits of 64) at or below which two phashes are a candidate pair.
DEFAULT_MAX_DISTANCE = 8
#: Thumbnail correlation at or above which a candidate pair is one radiograph.
DEFAULT_MIN_CORRELATION = 0.98

_CACHE_VERSION = 1


def study_key(study: Study) -> tuple[str, str]:
    """``(source, study_id)``: the key that names a study across datasets."""
    return (study.source, study.study_id)


@dataclass(frozen=True)
class DuplicateGroup:
    """Studies that share at least one image (by perceptual hash).

    Attributes
    ----------
    members : tuple of (source, study_id)
        The studies, in input order; the first is the one :func:`deduplicate` keeps.
    paths : tuple of str
        The matching image files, one per member (the first matching image of the study).
    max_distance : int
        The largest hash distance (bits) of a linked pair in the group (0 = identical hashes).
    """

    members: tuple[tuple[str, str], ...]
    paths: tuple[str, ...]
    max_distance: int

    @property
    def sources(self) -> tuple[str, ...]:
        """The distinct sources of the members, sorted."""
        return tuple(sorted({source for source, _ in self.members}))

    @property
    def cross_source(self) -> bool:
        """True when the group spans more than one dataset."""
        return len(self.sources) > 1


_THUMB = 32  # side of the grey thumbnail kept to verify hash matches


def _fingerprint_one(path: str) -> tuple[str, int | str, bytes]:
    import imagehash
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            grey = image.convert("L")
            value = int(str(imagehash.phash(grey, hash_size=8)), 16)
            thumb = grey.resize((_THUMB, _THUMB), Image.Resampling.BOX).tobytes()
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        return path, f"{type(exc).__name__}: {exc}", b""
    return path, value, thumb


def _cache_file(cache_dir: Path) -> Path:
    return cache_dir / f"image-fingerprints-v{_CACHE_VERSION}.npz"


def _load_cache(file: Path) -> dict[str, tuple[int, int, int, np.ndarray]]:
    try:
        with np.load(file, allow_pickle=False) as data:
            return {
                str(p): (int(size), int(mtime), int(h), thumb)
                for p, size, mtime, h, thumb in zip(
                    data["paths"],
                    data["sizes"],
                    data["mtimes"],
                    data["hashes"],
                    data["thumbs"],
                    strict=True,
                )
            }
    except (OSError, ValueError, KeyError):
        return {}  # no cache yet, or an unreadable one: recompute


def _save_cache(file: Path, cache: dict[str, tuple[int, int, int, np.ndarray]]) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(f".{file.stem}.{os.getpid()}.tmp.npz")
    items = sorted(cache.items())
    np.savez(
        tmp,
        paths=np.array([p for p, _ in items], dtype=str),
        sizes=np.array([v[0] for _, v in items], dtype=np.int64),
        mtimes=np.array([v[1] for _, v in items], dtype=np.int64),
        hashes=np.array([v[2] for _, v in items], dtype=np.uint64),
        thumbs=np.stack([v[3] for _, v in items])
        if items
        else np.zeros((0, _THUMB * _THUMB), np.uint8),
    )
    os.replace(tmp, file)


def image_fingerprints(
    paths: Sequence[str | Path],
    *,
    cache_dir: str | Path | None = None,
    n_jobs: int = 1,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Perceptual hash and grey thumbnail of each image file.

    Parameters
    ----------
    paths : sequence of path
        Image files readable by Pillow.
    cache_dir : path, optional
        Folder for a cache file (``image-fingerprints-v1.npz``) keyed by absolute path, size
        and modification time; unchanged files are not read again.
    n_jobs : int
        Processes to read images with (1: in this process).
    progress : bool
        Show a tqdm progress bar on stderr.

    Returns
    -------
    hashes : numpy.ndarray of uint64, shape (n,)
        64-bit DCT perceptual hashes (``imagehash.phash``, hash_size 8).
    thumbs : numpy.ndarray of uint8, shape (n, 1024)
        32x32 grey thumbnails (box-filtered, aspect ratio not kept), row-major.

    Raises
    ------
    InvalidDatasetError
        An image that is missing or unreadable (the path and the reason named).
    """
    require("imagehash", extra="train")
    keys: list[tuple[str, int, int]] = []
    for raw in paths:
        path = os.path.abspath(raw)
        try:
            st = os.stat(path)
        except OSError:
            raise InvalidDatasetError(
                f"{raw}: image not found (needed for de-duplication)"
            ) from None
        keys.append((path, st.st_size, st.st_mtime_ns))
    cache_file = _cache_file(Path(cache_dir)) if cache_dir is not None else None
    cache = _load_cache(cache_file) if cache_file else {}
    todo = list(
        dict.fromkeys(
            path
            for path, size, mtime in keys
            if (hit := cache.get(path)) is None or hit[:2] != (size, mtime)
        )
    )
    if todo:
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(todo), desc="hashing images", unit="img")
        outcomes = []
        if n_jobs > 1 and len(todo) > 1:
            from concurrent.futures import ProcessPoolExecutor

            chunk = max(1, min(256, len(todo) // (4 * n_jobs)))
            with ProcessPoolExecutor(max_workers=n_jobs) as pool:
                for item in pool.map(_fingerprint_one, todo, chunksize=chunk):
                    outcomes.append(item)
                    if bar is not None:
                        bar.update()
        else:
            for path in todo:
                outcomes.append(_fingerprint_one(path))
                if bar is not None:
                    bar.update()
        if bar is not None:
            bar.close()
        stamps = {path: (size, mtime) for path, size, mtime in keys}
        failed = None
        for path, value, thumb in outcomes:
            if isinstance(value, str):
                failed = failed or (path, value)
                continue
            cache[path] = (*stamps[path], value, np.frombuffer(thumb, dtype=np.uint8))
        if cache_file:
            _save_cache(cache_file, cache)  # keep what was computed, even when one file failed
        if failed:
            raise InvalidDatasetError(
                f"{failed[0]}: cannot read image for de-duplication ({failed[1]})"
            )
    hashes = np.array([cache[path][2] for path, _, _ in keys], dtype=np.uint64)
    thumbs = (
        np.stack([cache[path][3] for path, _, _ in keys])
        if keys
        else np.zeros((0, _THUMB**2), np.uint8)
    )
    return hashes, thumbs


def _close_pairs(hashes: np.ndarray, max_distance: int, block: int = 1024):
    """Arrays (i, j, distance) of all pairs i < j with popcount(h_i ^ h_j) <= max_distance."""
    n = len(hashes)
    firsts, seconds, dists = [], [], []
    for start in range(0, n, block):
        dist = np.bitwise_count(hashes[start : start + block, None] ^ hashes[None, :])
        rows, cols = np.nonzero(dist <= max_distance)
        keep = cols > rows + start
        rows, cols = rows[keep], cols[keep]
        firsts.append(rows + start)
        seconds.append(cols)
        dists.append(dist[rows, cols])
    if not firsts:
        return np.zeros(0, np.intp), np.zeros(0, np.intp), np.zeros(0, np.uint8)
    return np.concatenate(firsts), np.concatenate(seconds), np.concatenate(dists)


def _standardise(thumbs: np.ndarray) -> np.ndarray:
    x = thumbs.astype(np.float32)
    x -= x.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norm, 1e-6)


def find_duplicates(
    studies: Sequence[Study],
    *,
    max_distance: int = DEFAULT_MAX_DISTANCE,
    min_correlation: float = DEFAULT_MIN_CORRELATION,
    cache_dir: str | Path | None = None,
    n_jobs: int = 1,
    progress: bool = False,
) -> list[DuplicateGroup]:
    """Groups of studies that share an image (perceptual hash + thumbnail correlation).

    Every image with a ``path`` is read once (:func:`image_fingerprints`). Two studies are
    linked when an image of one and an image of the other have phashes within
    ``max_distance`` bits and 32x32 thumbnails correlated at ``min_correlation`` or more;
    linked studies form a group (connected components). Studies without image files take no
    part. See the module docstring for how the defaults were measured.

    Parameters
    ----------
    studies : sequence of Study
        From any number of sources; ``(source, study_id)`` must be unique.
    max_distance : int
        Hash distance (0-63 bits) of candidate pairs; larger finds more re-cropped copies and
        costs more time.
    min_correlation : float
        Thumbnail Pearson correlation for a candidate pair to count (-1 disables the check;
        0.995 keeps only re-encoded copies).
    cache_dir, n_jobs, progress
        Passed to :func:`image_fingerprints`.

    Returns
    -------
    list of DuplicateGroup
        Groups of two or more studies, ordered by the input position of their first member.

    Raises
    ------
    InvalidDatasetError
        A study key that appears twice, or an image that cannot be read.

    Examples
    --------
    >>> groups = find_duplicates(covid_radiography + pediatric, cache_dir=".cache")  # doctest: +SKIP
    >>> sum(g.cross_source for g in groups)  # doctest: +SKIP
    """
    if not 0 <= max_distance < 64:
        raise InvalidInputError(f"max_distance={max_distance}; expected 0 to 63 bits")
    if not -1.0 <= min_correlation <= 1.0:
        raise InvalidInputError(f"min_correlation={min_correlation}; expected -1 to 1")
    seen: set[tuple[str, str]] = set()
    for study in studies:
        key = study_key(study)
        if key in seen:
            raise InvalidDatasetError(
                f"study {key[1]!r} of source {key[0]!r} appears twice; study ids must be unique per source"
            )
        seen.add(key)
    owners: list[int] = []
    paths: list[str] = []
    for i, study in enumerate(studies):
        for image in study.images:
            if image.path:
                owners.append(i)
                paths.append(image.path)
    if not paths:
        return []
    hashes, thumbs = image_fingerprints(
        paths, cache_dir=cache_dir, n_jobs=n_jobs, progress=progress
    )
    first, second, dist = _close_pairs(hashes, max_distance)
    if len(first) and min_correlation > -1.0:
        unit = _standardise(thumbs)
        corr = np.einsum("ij,ij->i", unit[first], unit[second])
        keep = corr >= min_correlation
        first, second, dist = first[keep], second[keep], dist[keep]
    owner = np.asarray(owners)

    sets = UnionFind(len(studies))
    linked_path: dict[int, str] = {}
    edges = []
    for a, b, d in zip(first.tolist(), second.tolist(), dist.tolist(), strict=True):
        sa, sb = int(owner[a]), int(owner[b])
        if sa == sb:
            continue
        linked_path.setdefault(sa, paths[a])
        linked_path.setdefault(sb, paths[b])
        edges.append((sa, d))
        sets.union(sa, sb)
    worst: dict[int, int] = {}
    for sa, d in edges:
        root = sets.find(sa)
        worst[root] = max(worst.get(root, 0), d)
    members: dict[int, list[int]] = {}
    for s in sorted(linked_path):
        members.setdefault(sets.find(s), []).append(s)
    return [
        DuplicateGroup(
            members=tuple(study_key(studies[s]) for s in group),
            paths=tuple(linked_path[s] for s in group),
            max_distance=worst[root],
        )
        for root, group in sorted(members.items(), key=lambda item: item[1][0])
    ]


def deduplicate(
    studies: Sequence[Study],
    *,
    groups: Sequence[DuplicateGroup] | None = None,
    prefer: Sequence[str] = (),
    **find_options,
) -> list[Study]:
    """Drop all but one study of each duplicate group.

    Parameters
    ----------
    studies : sequence of Study
    groups : sequence of DuplicateGroup, optional
        From :func:`find_duplicates`; computed (with ``find_options``) when not given.
    prefer : sequence of str
        Sources in order of preference for the study that is kept (e.g. the one with patient
        ids or richer metadata first); otherwise the first in input order is kept.

    Returns
    -------
    list of Study
        The input order, less the dropped studies. A kept study lists the dropped ones in
        ``meta["duplicates"]`` as ``"source:study_id"`` strings.
    """
    if groups is None:
        groups = find_duplicates(studies, **find_options)
    rank = {source: i for i, source in enumerate(prefer)}
    drop: set[tuple[str, str]] = set()
    dropped_by: dict[tuple[str, str], list[str]] = {}
    for group in groups:
        ordered = sorted(
            range(len(group.members)),
            key=lambda i: (rank.get(group.members[i][0], len(rank)), i),
        )
        keep = group.members[ordered[0]]
        others = [group.members[i] for i in ordered[1:]]
        drop.update(others)
        dropped_by.setdefault(keep, []).extend(f"{s}:{sid}" for s, sid in others)
    out = []
    for study in studies:
        key = study_key(study)
        if key in drop:
            continue
        if key in dropped_by:
            study = replace(study, meta={**study.meta, "duplicates": dropped_by[key]})
        out.append(study)
    return out
