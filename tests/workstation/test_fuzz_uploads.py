"""Mutated real radiographs sent to the running workstation: every upload is answered with
a 2xx or a 4xx naming the file, never a 5xx; a folder of them is reported file by file and
keeps the good ones; the server answers afterwards (issue 15 items 1 and 8, through HTTP
on both databases).

The mutations are ``tests/imaging/fuzzing.py``'s (as in ``tests/imaging/test_fuzz.py`` and
``benchmarks/fuzz_imaging.py``); uploads are decoded by the app's own loader (a contained
worker process, pixel module checked, chest checks on).
"""

from __future__ import annotations

import pytest

from tests.imaging.fuzzing import cases, seed_files

N_UPLOADS = 40
N_FOLDER = 16
#: What an upload may be answered: stored (200), or refused naming why (413, 422, 429).
ANSWERS = {200, 413, 422, 429}


@pytest.fixture(scope="module")
def seeds(shared_data):
    return seed_files(shared_data)


@pytest.mark.slow
@pytest.mark.data
def test_mutated_uploads_are_answered_never_5xx(world_factory, seeds):
    w = world_factory(loader=None)
    answered: dict[int, int] = {}
    created = set()
    bad = []
    for i, (name, _fmt, data) in enumerate(cases(seeds, N_UPLOADS, seed=1515)):
        r = w.admin.post("/api/cases", files={"file": (f"f{i}.bin", data, "application/octet-stream")})
        answered[r.status_code] = answered.get(r.status_code, 0) + 1
        if r.status_code not in ANSWERS:
            bad.append((name, r.status_code, r.text[:200]))
        elif r.status_code == 200:
            created.add(r.json()["case"]["id"])
        elif not r.json()["detail"].startswith(f"f{i}.bin: "):
            bad.append((name, r.status_code, r.json()["detail"][:200]))
    assert bad == [], bad
    assert answered.get(422, 0) > 0, answered
    assert w.admin.get("/api/health").status_code == 200
    assert len(w.admin.ok("get", "/api/cases?limit=1000")) == len(created)


@pytest.mark.slow
@pytest.mark.data
def test_a_folder_of_mutated_files_is_reported_file_by_file(world_factory, seeds, tmp_path):
    root = tmp_path / "incoming"
    root.mkdir()
    names = []
    for i, (_name, _fmt, data) in enumerate(cases(seeds, N_FOLDER, seed=1516)):
        names.append(f"m{i:02d}.bin")
        (root / names[-1]).write_bytes(data)
    _, good = next(v for k, v in sorted(seeds.items()) if v[0] == "png")
    (root / "zz-good.png").write_bytes(good)
    names.append("zz-good.png")
    w = world_factory(loader=None, import_roots=[root])
    out = w.admin.ok("post", "/api/cases/import-folder", json={"path": str(root)})
    assert [x["file"] for x in out["results"]] == sorted(names)
    assert out["imported"] >= 1 and out["failed"] >= 1, out  # a duplicate is neither
    assert out["results"][-1].get("error") is None, out["results"][-1]
    for x in out["results"]:
        if x.get("error"):
            assert x["error"].startswith(x["file"] + ": "), x
    stored = w.admin.ok("get", "/api/cases?limit=1000")
    assert len(stored) == out["imported"]
    assert w.admin.get("/api/health").status_code == 200


@pytest.mark.data
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_the_crashing_file_and_planted_phi_on_postgresql(world_factory, shared_data, caplog, capfd):
    """test_cases runs these on SQLite; here the same uploads against PostgreSQL: the
    codec-crashing file is a 422 and the server answers, a real codec abort in the worker is
    a 422, and PHI planted at every level is in neither the stored files nor the log."""
    import logging

    from tests.imaging.test_deid import PLANTED, _planted_dicom

    from .test_cases import _crashing_loader, _siim_with

    crashing = _siim_with(shared_data, BitsAllocated=64)
    w = world_factory(loader=None, import_checks=False)
    r = w.admin.post("/api/cases", files={"file": ("ba.dcm", crashing, "application/dicom")})
    assert r.status_code == 422 and "'Bits Allocated' 64" in r.json()["detail"], r.text
    assert w.admin.get("/api/health").status_code == 200
    w2 = world_factory(loader=_crashing_loader(), admin=False)
    w2.admin.login("admin")
    r = w2.admin.post("/api/cases", files={"file": ("ba.dcm", crashing, "application/dicom")})
    assert r.status_code == 422 and "the decoder crashed (SIGABRT)" in r.json()["detail"]
    assert w2.admin.get("/api/health").status_code == 200
    caplog.clear()
    capfd.readouterr()
    with caplog.at_level(logging.DEBUG):
        w.upload(_planted_dicom(), name="x.dcm")
    stored = b"".join(p.read_bytes() for p in w.state.store.root.rglob("*.*"))
    captured = capfd.readouterr()
    for value in PLANTED.values():
        assert value.encode() not in stored, value
        assert value not in caplog.text + captured.err + captured.out, value
