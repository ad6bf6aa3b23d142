"""Password hashing (argon2id): a login flood cannot take every core (issue 15)."""

from __future__ import annotations

import threading
import time

import pytest
from argon2 import PasswordHasher

from cxrpilot.errors import InvalidInputError
from cxrpilot.workstation._security import (
    HASH_CONCURRENCY,
    hash_password,
    load_or_create_secret,
    verify_password,
)


class _CountingHasher(PasswordHasher):
    """A real argon2id hasher that records how many verifications run at the same time."""

    def __init__(self) -> None:
        super().__init__(time_cost=2, memory_cost=8192)
        self.lock = threading.Lock()
        self.running = self.peak = 0

    def verify(self, hash, password):  # argon2's own parameter names
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            time.sleep(0.02)  # long enough for the other threads to arrive
            return super().verify(hash, password)
        finally:
            with self.lock:
                self.running -= 1


def test_at_most_hash_concurrency_verifications_run_at_once() -> None:
    hasher = _CountingHasher()
    stored = hash_password("correct horse battery", hasher)
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(
        verify_password(stored, "wrong guess", hasher))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [False] * 8
    assert 1 <= hasher.peak <= HASH_CONCURRENCY
    assert verify_password(stored, "correct horse battery", hasher)


def test_hash_concurrency_is_half_the_cores_this_process_may_use() -> None:
    """Per process, from the CPU affinity (a container's cpuset), not the host's count."""
    import os

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert HASH_CONCURRENCY == max(1, usable // 2)


def test_short_secret_key_file_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "secret_key"
    path.write_text("too-short\n")
    with pytest.raises(InvalidInputError, match=r"secret_key holds fewer than 32 characters; delete"):
        load_or_create_secret(path)
    created = load_or_create_secret(tmp_path / "new" / "secret_key")
    assert len(created) >= 32 and load_or_create_secret(tmp_path / "new" / "secret_key") == created
