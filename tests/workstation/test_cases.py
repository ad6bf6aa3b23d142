"""Importing images into cases and drafting them in the background worker."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select

from .helpers import MODEL_ID, failing_drafter, png_bytes


def test_upload_queues_a_draft_that_the_worker_makes(world):
    r = world.upload(png_bytes(1), label="chest-1", indication="cough")
    assert r["created"] is True and r["case"]["label"] == "chest-1"
    case = world.wait_draft(r["case"]["id"])
    assert case["draft_status"] == "ready" and case["draft_error"] is None
    from cxrpilot.workstation._orm import AiDraft

    with world.state.sessions() as db:
        draft = db.scalar(select(AiDraft).where(AiDraft.case_id == r["case"]["id"]))
    assert draft.model_id == MODEL_ID and draft.model_version == "0.0.1"
    assert set(draft.timings) >= {"model", "store_load"}
    assert len(draft.findings) == 14
    assert sum(f["status"] == "not_assessed" for f in draft.findings) == 11


def test_case_shows_draft_pending_until_a_worker_runs(world_factory):
    w = world_factory(worker_threads=0)
    r = w.upload(png_bytes(2))
    assert r["draft_status"] == "pending"
    assert w.admin.ok("get", f"/api/cases/{r['case']['id']}")["draft_status"] == "pending"


def test_restart_resumes_pending_jobs(world_factory, settings_factory):
    w1 = world_factory(worker_threads=0)
    case_id = w1.upload(png_bytes(3))["case"]["id"]
    # A second process on the same database and image store, with a worker this time.
    w2 = world_factory(worker_threads=1, admin=False)
    assert w2.state.store.root == w1.state.store.root
    w2.admin.login("admin")
    assert w2.wait_draft(case_id)["draft_status"] == "ready"


def test_failure_is_recorded_with_its_message(world_factory):
    w = world_factory(producer=failing_drafter, job_max_attempts=2)
    case_id = w.upload(png_bytes(4))["case"]["id"]
    case = w.wait_draft(case_id)
    assert case["draft_status"] == "failed"
    assert "RuntimeError: model weights missing at /nonexistent" in case["draft_error"]
    r = w.admin.post(f"/api/cases/{case_id}/draft")
    assert r.status_code == 202 and r.json()["draft_status"] == "pending"


def test_duplicate_upload_returns_the_existing_case(world):
    first = world.upload(png_bytes(5))
    again = world.upload(png_bytes(5), label="other label")
    assert again["created"] is False and again["case"]["id"] == first["case"]["id"]


@pytest.mark.parametrize(
    "data, name, message",
    [
        (b"", "empty.png", "empty.png: the file is empty"),
        (b"this is not an image at all", "notes.txt", "notes.txt:"),
        (png_bytes(6)[:40], "cut.png", "cut.png:"),
    ],
)
def test_bad_upload_is_422_naming_the_file(world, data, name, message):
    r = world.admin.post("/api/cases", files={"file": (name, data, "application/octet-stream")})
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith(message)
    assert world.admin.ok("get", "/api/cases") == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_default_loader_checks_the_image(world_factory):
    w = world_factory(loader=None)  # the app's own: cxrpilot.imaging.load with its checks
    r = w.admin.post(
        "/api/cases", files={"file": ("tiny.png", png_bytes(10, size=64), "image/png")}
    )
    assert r.status_code == 422 and r.json()["detail"].startswith("tiny.png: ")
    w2 = world_factory(loader=None, import_checks=False, admin=False)
    w2.admin.login("admin")
    assert w2.upload(png_bytes(10, size=64))["created"] is True


def test_upload_limit(world_factory):
    w = world_factory(max_upload_mb=1)
    r = w.admin.post(
        "/api/cases", files={"file": ("big.png", b"\0" * (1024 * 1024 + 1), "image/png")}
    )
    assert r.status_code == 422 and "upload limit of 1 MB" in r.json()["detail"]


def test_images_are_stored_by_content_hash(world):
    import hashlib

    case_id = world.upload(png_bytes(7))["case"]["id"]
    r = world.admin.get(f"/api/cases/{case_id}/image")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    digest = hashlib.sha256(r.content).hexdigest()
    assert r.headers["etag"] == f'"{digest}"'
    assert (world.state.store.root / digest[:2] / digest[2:4] / f"{digest}.png").is_file()
    from PIL import Image

    assert Image.open(io.BytesIO(r.content)).mode.startswith("I")  # 16-bit greyscale
    assert (
        world.admin.get(
            f"/api/cases/{case_id}/image", headers={"If-None-Match": f'"{digest}"'}
        ).status_code
        == 304
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_folder_import_only_inside_import_roots(world_factory, tmp_path):
    root = tmp_path / "incoming"
    (root / "sub").mkdir(parents=True)
    (root / "a.png").write_bytes(png_bytes(8))
    (root / "sub" / "b.png").write_bytes(png_bytes(9))
    (root / "broken.png").write_bytes(b"nope")
    w = world_factory(import_roots=[root])
    r = w.admin.ok("post", "/api/cases/import-folder", json={"path": str(root)})
    assert (r["imported"], r["failed"]) == (2, 1)
    assert [x["file"] for x in r["results"]] == ["a.png", "broken.png", "sub/b.png"]
    assert "broken.png:" in r["results"][1]["error"]
    outside = w.admin.post("/api/cases/import-folder", json={"path": str(tmp_path)})
    assert outside.status_code == 403 and "outside the import roots" in outside.json()["detail"]
    sneaky = w.admin.post("/api/cases/import-folder", json={"path": str(root / "..")})
    assert sneaky.status_code == 403


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_folder_import_is_off_without_roots(world):
    r = world.admin.post("/api/cases/import-folder", json={"path": "/"})
    assert r.status_code == 403 and "CXRPILOT_IMPORT_ROOTS" in r.json()["detail"]


@pytest.mark.data
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_real_dicom_is_stored_de_identified(world, rg1_uncr):
    import pydicom

    data = rg1_uncr.read_bytes()
    original = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    case_id = world.upload(data, name="Doe^John.dcm")["case"]["id"]
    from cxrpilot.workstation._orm import Case, Image

    with world.state.sessions() as db:
        image = db.get(Image, db.get(Case, case_id).image_id)
    stored = list(world.state.store.root.rglob("*.*"))
    assert not any(p.read_bytes() == data for p in stored), (
        "the original DICOM bytes must never be stored"
    )
    assert image.meta["photometric"] == "MONOCHROME1" and image.format == "dicom"
    if image.dicom_path is None:
        pytest.skip(f"the loader's header was not kept: {image.meta['dicom']}")
    ds = pydicom.dcmread(world.state.store.path(image.dicom_path))
    assert ds.PatientIdentityRemoved == "YES"
    for keyword in ("PatientName", "PatientID", "PatientBirthDate"):
        assert not str(ds.get(keyword, "")) or str(ds.get(keyword)) != str(
            original.get(keyword, "")
        ), keyword
    assert ds.pixel_array.shape == (original.Rows, original.Columns)  # full-depth pixels kept
    assert "Doe" not in str(world.admin.ok("get", "/api/cases"))
    assert world.wait_draft(case_id)["draft_status"] == "ready"


# -- hostile uploads: the server decodes nothing itself (issue 15) ---------------------------
def _siim_with(shared_data, **changes) -> bytes:
    from tests.imaging.helpers import edited_bytes

    return edited_bytes(shared_data / "dicom" / SIIM, **changes)


SIIM = "1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819.dcm"


def _crashing_loader():
    """What the server did before: decode without the pixel-module check, but in the
    isolated worker (so the codec's SIGABRT ends the worker only)."""
    from cxrpilot.imaging import IsolatedLoader
    from tests.imaging.helpers import decode_unchecked

    isolated = IsolatedLoader(timeout_s=30, max_concurrent=1)
    return lambda data: isolated.run(decode_unchecked, (data,), source="<bytes>")


@pytest.mark.data
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("bits", [64, 32])
def test_the_codec_crashing_file_is_a_422_and_the_server_answers_the_next_request(
    world_factory, shared_data, bits
):
    data = _siim_with(shared_data, BitsAllocated=bits)
    w = world_factory(loader=None)  # the app's own loader: isolated, pixel module checked
    r = w.admin.post("/api/cases", files={"file": ("ba.dcm", data, "application/dicom")})
    assert r.status_code == 422, r.text
    assert re.match(
        rf"^ba\.dcm: inconsistent DICOM pixel module: <bytes> has \(0028,0100\) 'Bits Allocated' "
        rf"{bits} with transfer syntax JPEG Baseline \(Process 1\); expected 8",
        r.json()["detail"],
    )
    assert w.admin.get("/api/health").status_code == 200
    assert w.admin.get("/api/cases").status_code == 200
    # a real crash (the codec aborting) in the decode worker: still a 422, server alive
    w2 = world_factory(loader=_crashing_loader(), admin=False)
    w2.admin.login("admin")
    r = w2.admin.post("/api/cases", files={"file": ("ba.dcm", data, "application/dicom")})
    assert r.status_code == 422 and "the decoder crashed (SIGABRT)" in r.json()["detail"]
    assert w2.admin.get("/api/health").status_code == 200


@pytest.mark.data
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_folder_import_reports_every_hostile_file_and_keeps_the_good_ones(
    world_factory, shared_data, tmp_path
):
    from tests.imaging.fuzzing import big_png
    from tests.imaging.test_hardening import _corrupt_deflate, _deep

    root = tmp_path / "incoming"
    root.mkdir()
    files = {
        "a-good.dcm": (shared_data / "dicom" / SIIM).read_bytes(),
        "b-ba64.dcm": _siim_with(shared_data, BitsAllocated=64),
        "c-deflate.dcm": _corrupt_deflate(),
        "d-deep.dcm": _deep(),
        "e-bomb.png": big_png(9999, 9999),
        "f-good.png": (shared_data / "samples/nih/00000001_000.png").read_bytes(),
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    w = world_factory(loader=None, import_roots=[root])
    r = w.admin.ok("post", "/api/cases/import-folder", json={"path": str(root)})
    assert [x["file"] for x in r["results"]] == sorted(files)
    assert (r["imported"], r["failed"]) == (2, 4), r
    errors = {x["file"]: x.get("error", "") for x in r["results"]}
    assert "'Bits Allocated' 64" in errors["b-ba64.dcm"]
    assert errors["c-deflate.dcm"].startswith("c-deflate.dcm: ") and "DICOM" in errors["c-deflate.dcm"]
    assert re.search(r"nests sequences more than 12 deep|RecursionError", errors["d-deep.dcm"])
    assert "9999x9999 = 100 MP, above the limit of 40 MP" in errors["e-bomb.png"]
    assert len(w.admin.ok("get", "/api/cases")) == 2


@pytest.mark.data
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_planted_phi_is_not_in_the_stored_dicom_nor_the_log(world_factory, caplog, capfd):
    import logging

    from tests.imaging.test_deid import PLANTED, _planted_dicom

    data = _planted_dicom()
    w = world_factory(loader=None, import_checks=False)
    caplog.clear()
    capfd.readouterr()
    with caplog.at_level(logging.DEBUG):
        case_id = w.upload(data, name="x.dcm")["case"]["id"]
    from cxrpilot.workstation._orm import Case, Image

    with w.state.sessions() as db:
        image = db.get(Image, db.get(Case, case_id).image_id)
    assert image.meta["dicom"] == "kept"
    stored = b"".join(p.read_bytes() for p in w.state.store.root.rglob("*.*"))
    captured = capfd.readouterr()
    for value in PLANTED.values():
        assert value.encode() not in stored, value
        assert value not in caplog.text + captured.err + captured.out, value
