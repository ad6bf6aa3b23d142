"""The pseudonymous patient key names the Issuer of Patient ID (0010,0021) too: two
hospitals' Patient ID "123" are two patients (no shared priors), one hospital's exams still
link, and exams without an issuer keep the key they had before issuers were keyed (the
HMAC of the Patient ID alone), so priors stored then still link to new exams.

Real files through the app's own loader (the SIIM CR chest from ../shared/data with header
edits), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import hmac

import pytest
from sqlalchemy import text

from cxrpilot import imaging

from .test_exams import SIIM, get_case, study

pytestmark = pytest.mark.data
ID = "123"


@pytest.fixture
def siim(shared_data):
    path = shared_data / "dicom" / SIIM
    if not path.exists():
        pytest.skip(f"{path} is not in the shared data")
    return path


@pytest.fixture
def ws(world_factory):
    return world_factory(loader=None)  # the app's loader: isolated, checks on


def upload(ws, siim, *, issuer, date, accession):
    data = study(siim, patient=ID, date=date, accession=accession)(IssuerOfPatientID=issuer)
    return ws.upload(data, name=f"{accession}.dcm")["case"]["id"]


def test_the_same_patient_id_from_two_issuers_is_two_patients(ws, siim):
    a_old = upload(ws, siim, issuer="HOSP-A", date="20200101", accession="A1")
    b_old = upload(ws, siim, issuer="HOSP-B", date="20210101", accession="B1")
    a_new = upload(ws, siim, issuer="HOSP-A", date="20240101", accession="A2")
    b_new = upload(ws, siim, issuer="HOSP-B", date="20240202", accession="B2")
    priors = {
        case: [p["accession_number"] for p in get_case(ws, case)["exam"]["priors"]]
        for case in (a_old, b_old, a_new, b_new)
    }
    assert priors == {a_old: [], b_old: [], a_new: ["A1"], b_new: ["B1"]}
    with ws.state.engine.connect() as conn:
        keys = dict(conn.execute(text("SELECT accession_number, patient_key FROM exams")).all())
        dump = repr(conn.execute(text("SELECT * FROM exams")).all())
    assert keys["A1"] == keys["A2"] != keys["B1"] == keys["B2"]
    secret = ws.state.patient_secret
    assert keys["A1"] == imaging.patient_key(ID, secret, "HOSP-A")
    assert "HOSP-A" not in dump and "HOSP-B" not in dump  # the issuer is not stored either


def test_exams_without_an_issuer_keep_the_key_of_the_id_alone(ws, siim):
    """The key of an exam without an issuer is the HMAC of the Patient ID, as it was before
    the issuer was keyed (an exam stored then links to an exam received now); an empty
    issuer counts as none; an exam with an issuer is another patient's."""
    plain = ws.upload(study(siim, patient=ID, date="20190101", accession="P1")(), name="p.dcm")
    blank = upload(ws, siim, issuer="  ", date="20220101", accession="P2")
    issued = upload(ws, siim, issuer="HOSP-A", date="20230101", accession="A1")
    later = ws.upload(study(siim, patient=ID, date="20240101", accession="P3")(), name="q.dcm")
    with ws.state.engine.connect() as conn:
        keys = dict(conn.execute(text("SELECT accession_number, patient_key FROM exams")).all())
    before = hmac.new(ws.state.patient_secret, ID.encode(), hashlib.sha256).hexdigest()
    assert keys["P1"] == keys["P2"] == keys["P3"] == before != keys["A1"]
    assert [p["accession_number"] for p in get_case(ws, later["case"]["id"])["exam"]["priors"]] \
        == ["P2", "P1"]
    assert get_case(ws, issued)["exam"]["priors"] == []
    assert plain["case"]["id"] and blank
