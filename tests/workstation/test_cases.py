"""Importing images into cases and drafting them in the background worker."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from .helpers import MODEL_ID, failing_drafter, png_bytes


def test_upload_queues_a_draft_that_the_worker_makes(world):
    r = world.upload(png_bytes(1), label="chest-1", indication="cough")
    assert r["created"] is True and r["case"]["label"] == "chest-1"
    case = world.wait_draft(r["case"]["id"])
    assert case["draft_status"] == "ready" and case["draft_error"] is None
    from cxrpilot.workstation._models import AiDraft

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
    from cxrpilot.workstation._models import Case, Image

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
