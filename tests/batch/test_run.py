"""run_batch on a real local Ray with real shared images: exact, resumable, robust."""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path

import pytest

from cxrpilot import imaging
from cxrpilot.batch import _run as batch_run
from cxrpilot.batch import read_results, run_batch
from cxrpilot.pipeline import load_drafter
from tests.batch.conftest import copy_images, raw_rows

pytestmark = [pytest.mark.data, pytest.mark.slow]


def _finding_tuples(findings) -> list[tuple]:
    return [(f["name"], f["status"], f["probability"]) for f in findings]


def test_results_equal_the_single_process_path(tmp_path, ray_local, model_spec, nih_images):
    src = copy_images(nih_images, tmp_path / "src")
    summary = run_batch(src, tmp_path / "out", model=model_spec, batch_size=5, concurrency=2,
                        progress=False)
    assert (summary.total, summary.drafted, summary.failed, summary.missing) == (24, 24, 0, 0)
    assert summary.parts == 5  # ceil(24 / 5) blocks, one part file each
    table = read_results(tmp_path / "out")
    assert table.num_rows == 24

    drafter = load_drafter(model_spec)
    for row in table.to_pylist():
        radiograph = imaging.load(row["source"])
        draft = drafter.draft(radiograph)
        want = draft.to_dict()
        assert row["status"] == "ok" and row["error"] is None
        assert row["sha256"] == radiograph.sha256
        assert _finding_tuples(row["findings"]) == _finding_tuples(want["findings"])  # exact floats
        assert (row["findings_text"], row["impression_text"]) == (want["findings_text"],
                                                                  want["impression_text"])
        assert (row["model_id"], row["model_version"]) == (want["model_id"], want["model_version"])
        assert json.loads(row["maps_json"] or "[]") == want["maps"]
        assert row["load_s"] > 0 and row["draft_s"] > 0 and dict(row["timings"]).keys() == \
            draft.timings.keys()


def test_rerun_after_an_interrupted_run_does_only_what_is_missing(tmp_path, ray_local, model_spec,
                                                                  nih_images, monkeypatch):
    src = copy_images(nih_images[:16], tmp_path / "src")
    out = tmp_path / "out"

    # 1. the driver "crashes" after writing 2 part files (4 images each)
    real_write = batch_run.write_part
    calls = {"n": 0}

    def crash_after_two(*args, **kwargs):
        if calls["n"] == 2:
            raise KeyboardInterrupt("simulated crash")
        calls["n"] += 1
        return real_write(*args, **kwargs)

    monkeypatch.setattr(batch_run, "write_part", crash_after_two)
    with pytest.raises(KeyboardInterrupt):
        run_batch(src, out, model=model_spec, batch_size=4, concurrency=2, progress=False)
    monkeypatch.setattr(batch_run, "write_part", real_write)
    assert len(list(out.glob("part-*.parquet"))) == 2
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary file left
    assert read_results(out).num_rows == 8

    # 2. the re-run drafts exactly the 8 missing images
    second = run_batch(src, out, model=model_spec, batch_size=4, concurrency=2, progress=False)
    assert (second.skipped, second.drafted, second.failed, second.missing) == (8, 8, 0, 0)

    # 3. lose one part file (a disk mishap): only its 4 images are drafted again
    victim = min(out.glob("part-*.parquet"))
    lost = {r["source"] for r in read_results(victim).to_pylist()}
    victim.unlink()
    third = run_batch(src, out, model=model_spec, batch_size=4, concurrency=2, progress=False)
    assert (third.skipped, third.drafted) == (12, len(lost))

    # 4. nothing is missing or duplicated, even in the raw part files
    raw = raw_rows(out)
    assert sorted(r["source"] for r in raw) == sorted(str(p) for p in src.iterdir())
    assert max(Counter(r["sha256"] for r in raw).values()) == 1
    # 5. a fourth run finds nothing to do and does not start any work
    assert run_batch(src, out, model=model_spec, progress=False).skipped == 16


def test_a_renamed_file_is_recognised_by_its_content(tmp_path, ray_local, model_spec, nih_images):
    src = copy_images(nih_images[:4], tmp_path / "src")
    out = tmp_path / "out"
    run_batch(src, out, model=model_spec, batch_size=4, concurrency=1, progress=False)
    first = src / nih_images[0].name
    first.rename(src / f"renamed-{first.name}")
    again = run_batch(src, out, model=model_spec, batch_size=4, concurrency=1, progress=False)
    assert (again.skipped, again.drafted) == (4, 0)
    assert read_results(out).num_rows == 4


def test_corrupt_files_become_failed_rows_and_the_run_goes_on(tmp_path, ray_local, model_spec,
                                                              nih_images, shared_data):
    src = copy_images(nih_images[:3], tmp_path / "src")
    dicom = shared_data / "dicom" / "Fake_MONOHR1.dcm"
    (src / "truncated.dcm").write_bytes(dicom.read_bytes()[:600])
    (src / "empty.png").write_bytes(b"")
    (src / "notes.jpg").write_text("not an image at all")
    summary = run_batch(src, tmp_path / "out", model=model_spec, batch_size=2, concurrency=2,
                        progress=False)
    assert (summary.total, summary.drafted, summary.failed, summary.missing) == (6, 3, 3, 0)
    rows = {Path(r["source"]).name: r for r in read_results(tmp_path / "out").to_pylist()}
    for name in ("truncated.dcm", "empty.png", "notes.jpg"):
        row = rows[name]
        assert row["status"] == "failed" and row["findings"] is None
        assert name in row["error"] and row["error_type"].endswith("Error")
        assert row["sha256"] is not None
    assert "0 bytes" in rows["empty.png"]["error"]
    # failed rows are done: a re-run does not try them again, unless asked to
    assert run_batch(src, tmp_path / "out", model=model_spec, progress=False).skipped == 6
    retry = run_batch(src, tmp_path / "out", model=model_spec, concurrency=1, progress=False,
                      retry_failed=True)
    assert (retry.skipped, retry.failed) == (3, 3)
    assert read_results(tmp_path / "out").num_rows == 6


class CrashOnce:
    """A drafter factory whose first worker process to draft an image dies (os._exit),
    once per marker file: the way a native codec crash or an OOM kill ends a worker."""

    def __init__(self, spec: str, marker: str) -> None:
        self.spec, self.marker = spec, marker

    def __call__(self):
        drafter = load_drafter(self.spec)
        marker = self.marker

        class Dying:
            model_id, version = drafter.model_id, drafter.version

            def draft(self, radiograph, **kwargs):
                try:
                    fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                except FileExistsError:
                    return drafter.draft(radiograph, **kwargs)
                os.write(fd, str(os.getpid()).encode())
                os.close(fd)
                os._exit(1)

        return Dying()


def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(tmp_path, ray_local, model_spec,
                                                              nih_images):
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    src = copy_images(nih_images[:12], tmp_path / "src")
    marker = tmp_path / "crashed.pid"
    summary = run_batch(src, tmp_path / "out", model=CrashOnce(model_spec, str(marker)),
                        batch_size=3, concurrency=2, progress=False)
    assert marker.is_file()  # a worker did die
    assert (summary.drafted, summary.failed, summary.missing) == (12, 0, 0)
    raw = raw_rows(tmp_path / "out")
    assert len(raw) == 12 and len({r["sha256"] for r in raw}) == 12
    assert marker.read_text() not in {r["worker"].rsplit(":", 1)[1] for r in raw}


class KillsOn:
    """A drafter factory whose worker process dies (os._exit) on every try of one image."""

    def __init__(self, spec: str, sha256: str) -> None:
        self.spec, self.sha256 = spec, sha256

    def __call__(self):
        drafter = load_drafter(self.spec)
        poison = self.sha256

        class Dying:
            model_id, version = drafter.model_id, drafter.version

            def draft(self, radiograph, **kwargs):
                if radiograph.sha256 == poison:
                    os._exit(1)
                return drafter.draft(radiograph, **kwargs)

        return Dying()


def test_an_image_that_kills_every_worker_is_the_only_one_left(tmp_path, ray_local, model_spec,
                                                              nih_images):
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    src = copy_images(nih_images[:6], tmp_path / "src")
    poison = src / nih_images[1].name
    summary = run_batch(src, tmp_path / "out", model=KillsOn(model_spec, imaging.load(poison).sha256),
                        batch_size=6, concurrency=1, progress=False)
    # its block of 6 is given up after BLOCK_RETRIES; the recovery pass drafts the other 5
    # one per block, and the poison image alone is left for a re-run
    assert (summary.drafted, summary.failed, summary.missing, summary.recovered) == (5, 0, 1, 5)
    raw = raw_rows(tmp_path / "out")
    assert sorted(r["source"] for r in raw) == sorted(str(p) for p in src.iterdir() if p != poison)
