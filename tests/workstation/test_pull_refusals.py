"""A DICOMweb pull's refusals are kept in the database (``pull_refusals``, revision 0008):
an instance refused once is not retrieved again by a later pull of another app on the same
database (as after a restart, or ``cxrpilot pacs pull`` beside ``serve``), until a pull asks
to retry refused instances. Against a real Orthanc, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib

import pydicom
import pytest
from sqlalchemy import select, text

from cxrpilot.workstation._interop_orm import PullRefusal
from tests.interop.conftest import orthanc, orthanc_factory, orthanc_install  # noqa: F401

from .test_inbound import DOG

pytestmark = pytest.mark.data


def test_a_refused_instance_is_not_pulled_again_after_a_restart(
    world_factory, orthanc, rg1_uncr, shared_data, database_url, tmp_path, capsys
):
    dog = (shared_data / "dicom" / DOG).read_bytes()
    dog_sop = pydicom.dcmread(shared_data / "dicom" / DOG, stop_before_pixels=True).SOPInstanceUID
    orthanc.upload(rg1_uncr.read_bytes())
    orthanc.upload(dog)
    first = world_factory(loader=None, pacs_url=orthanc.dicomweb_url)
    r1 = first.admin.ok("post", "/api/pacs/pull", json={})
    assert (r1["stored"], len(r1["refused"]), r1["skipped"]) == (1, 1, 0)
    assert "veterinary" in r1["refused"][0]["reason"]

    # another app on the same database: what the first was refused is not retrieved again
    second = world_factory(loader=None, admin=False, pacs_url=orthanc.dicomweb_url)
    assert second.admin.login("admin").status_code == 200
    r2 = second.admin.ok("post", "/api/pacs/pull", json={})
    assert (r2["stored"], r2["known"], r2["refused"], r2["skipped"]) == (0, 1, [], 1)

    with second.state.sessions() as db:
        [row] = db.scalars(select(PullRefusal)).all()
    assert row.sop_sha256 == hashlib.sha256(dog_sop.encode()).hexdigest()
    assert row.sop_sha256.startswith(r1["refused"][0]["sop"]) and "veterinary" in row.reason
    with second.state.engine.connect() as conn:
        dump = repr(conn.execute(text("SELECT * FROM pull_refusals")).all())
    assert dog_sop not in dump  # the UID of an image not taken is not stored

    # asked to, a pull forgets the refusals, retrieves the instance and refuses it again
    r3 = second.admin.ok("post", "/api/pacs/pull", json={"retry_refused": True})
    assert (r3["forgotten"], len(r3["refused"]), r3["skipped"]) == (1, 1, 0)
    r4 = first.admin.ok("post", "/api/pacs/pull", json={})
    assert (r4["refused"], r4["skipped"]) == ([], 1)
    for bad in ("yes", 1, None):
        r = first.admin.post("/api/pacs/pull", json={"retry_refused": bad})
        assert r.status_code == 422 and "retry_refused" in r.text

    # the command line, a third process's view of the same database
    from cxrpilot.cli import main

    argv = ["pacs", "pull", "--url", orthanc.dicomweb_url, "--data-dir", str(tmp_path / "data"),
            "--database-url", database_url, "--dev"]
    assert main(argv) == 0
    assert "1 refused before, not retrieved again" in capsys.readouterr().out
    assert main([*argv, "--retry-refused"]) == 0
    out = capsys.readouterr().out
    assert "1 refused;" in out and "1 earlier refusals forgotten" in out
