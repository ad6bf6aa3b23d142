"""A cache of decoded, resized training images, so that epochs and runs do not re-decode JPEGs.

Images are decoded with :func:`cxrpilot.imaging.load` (``check=False``: views were
filtered from the sources' metadata already) and fitted with
:func:`cxrpilot.imaging.fit_square` — exactly the preprocessing of inference, before the
card's normalisation — and stored as float16 in one ``.npy`` per (file list, size).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cxrpilot.errors import CxrpilotError

__all__ = ["cached_images", "default_cache_dir"]


def default_cache_dir() -> Path:
    """``expert-images`` in :func:`cxrpilot.models.cache_root` (``$CXRPILOT_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/cxrpilot``, else ``~/.cache/cxrpilot``).

    ``$CXRPILOT_CACHE`` (the folder itself, as before) is still read, with a
    :class:`DeprecationWarning` naming ``CXRPILOT_CACHE_DIR``.
    """
    from cxrpilot.models import cache_dir_from_env, cache_root

    root = cache_dir_from_env()
    if root is not None:
        return root / "expert-images"
    legacy = os.environ.get("CXRPILOT_CACHE")
    if legacy:
        import warnings

        warnings.warn("CXRPILOT_CACHE is deprecated; set CXRPILOT_CACHE_DIR instead (the training-image "
                      "cache is then $CXRPILOT_CACHE_DIR/expert-images)", DeprecationWarning, stacklevel=2)
        return Path(legacy)
    return cache_root() / "expert-images"


def _fingerprint(paths: Sequence[str], size: int) -> str:
    from cxrpilot.imaging import fit_square

    h = hashlib.sha256(f"v1:{size}".encode())
    ramp = np.linspace(0, 1, 37 * 53, dtype=np.float32).reshape(37, 53)
    h.update(np.ascontiguousarray(fit_square(ramp, size), dtype=np.float32).tobytes())
    for p in paths:
        st = os.stat(p)
        h.update(f"{p}\0{st.st_size}\0{int(st.st_mtime)}\n".encode())
    return h.hexdigest()[:20]


def cached_images(
    paths: Sequence[str], size: int, *, cache_dir: Path | None = None, progress: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Decoded images fitted to ``size`` x ``size``, from the cache when present.

    Returns
    -------
    images : numpy.ndarray of shape (N, size, size), float16 in [0, 1]
    ok : numpy.ndarray of shape (N,), bool
        False where the file could not be read (its image is all zeros).
    """
    from tqdm.auto import tqdm

    from cxrpilot.imaging import fit_square, load

    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    key = _fingerprint(paths, size)
    data_file = cache_dir / f"expert-images-{size}-{key}.npy"
    ok_file = cache_dir / f"expert-images-{size}-{key}.ok.json"
    if data_file.is_file() and ok_file.is_file():
        images = np.load(data_file, mmap_mode="r")
        ok = np.asarray(json.loads(ok_file.read_text()), dtype=bool)
        if images.shape == (len(paths), size, size) and ok.shape == (len(paths),):
            return np.asarray(images), ok
    images = np.zeros((len(paths), size, size), dtype=np.float16)
    ok = np.zeros(len(paths), dtype=bool)
    for i, path in enumerate(tqdm(paths, desc=f"decoding images ({size} px)", disable=not progress,
                                  unit="img")):
        try:
            images[i] = fit_square(load(path, check=False).pixels, size)
            ok[i] = True
        except CxrpilotError:
            continue
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = data_file.with_suffix(f".tmp{os.getpid()}.npy")
    np.save(tmp, images)
    os.replace(tmp, data_file)
    ok_file.write_text(json.dumps(ok.tolist()))
    return images, ok
