"""The image store: files addressed by the sha256 of their bytes, written atomically."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

__all__ = ["BlobStore"]


class BlobStore:
    """Content-addressed files under ``root``: ``ab/cd/abcd...<sha256>.<suffix>``.

    Writing is idempotent (the same bytes land at the same path) and atomic (a temporary
    file in the target folder, fsync, rename, fsync of the folder), so a crash never leaves a
    partial file under a final name.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def put(self, data: bytes, suffix: str) -> tuple[str, str]:
        """Store ``data``; returns ``(sha256, relative path)``."""
        digest = hashlib.sha256(data).hexdigest()
        rel = f"{digest[:2]}/{digest[2:4]}/{digest}.{suffix.lstrip('.')}"
        target = self.root / rel
        if target.exists():
            return digest, rel
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return digest, rel

    def path(self, rel: str) -> Path:
        """Absolute path of a stored file; refuses paths that leave the store."""
        full = (self.root / rel).resolve()
        if not full.is_relative_to(self.root.resolve()):
            raise ValueError(f"stored path {rel!r} is outside the image store {self.root}")
        return full

    def read(self, rel: str) -> bytes:
        """The bytes of a stored file, checked against the digest in its name."""
        data = self.path(rel).read_bytes()
        expected = Path(rel).name.split(".", 1)[0]
        if hashlib.sha256(data).hexdigest() != expected:
            raise OSError(
                f"image store file {rel!r} is corrupt: its sha256 does not match its name"
            )
        return data
