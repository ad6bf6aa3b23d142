"""Exams: DICOM images grouped by study into one case, laterals kept and shown, duplicates
stored once (also when two stores race), priors by pseudonymous patient key.

Real files through the app's own loader (decoded in its contained worker, chest checks on):
the SIIM CR chest from ../shared/data and pydicom-data's RG1 CR chest, with header edits
for the other views, studies and patients of one exam history.
"""

from __future__ import annotations

import threading

import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid
from sqlalchemy import func, select, text

from cxrpilot.workstation._orm import Case, Exam, Image, Job

from .exam_dicom import exam_files

SIIM = "1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819.dcm"
PATIENT = "MRN-0047-PLANTED"  # a Patient ID that must never be stored

pytestmark = pytest.mark.data
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def siim(shared_data):
    return shared_data / "dicom" / SIIM


def variant(src, **changes) -> bytes:
    """``src`` with header changes (a new SOP instance unless given)."""
    from tests.imaging.helpers import edited_bytes

    changes.setdefault("SOPInstanceUID", generate_uid())
    return edited_bytes(src, **changes)


def study(src, *, patient=PATIENT, date="20240301", accession="ACC1", uid=None):
    """A function making instances of one study of ``patient`` from ``src``."""
    uid = uid or generate_uid()
    return lambda **more: variant(
        src,
        StudyInstanceUID=uid,
        PatientID=patient,
        StudyDate=date,
        AccessionNumber=accession,
        **more,
    )


@pytest.fixture
def ws(world_factory):
    return world_factory(loader=None)  # the app's loader: isolated, checks on, laterals kept


def get_case(w, case_id):
    return w.admin.ok("get", f"/api/cases/{case_id}")


@sqlite_only
def test_frontal_and_lateral_are_one_exam_the_frontal_drafted(ws, siim):
    one = study(siim)
    frontal = ws.upload(one(ViewPosition="PA"), name="f.dcm")
    lateral = ws.upload(one(ViewPosition="LL"), name="l.dcm")
    assert lateral["case"]["id"] == frontal["case"]["id"]
    case = ws.wait_draft(frontal["case"]["id"])
    assert case["draft_status"] == "ready"
    exam = case["exam"]
    assert exam["accession_number"] == "ACC1" and exam["study_date"] == "2024-03-01"
    assert exam["modality"] == "CR" and exam["priors"] == []
    views = [(i["view"], i["role"]) for i in exam["images"]]
    assert views == [("frontal", "drafted"), ("lateral", "shown")]
    assert exam["images"][1]["not_drafted_reason"].startswith("lateral view: the model reads")
    png = ws.admin.get(exam["images"][1]["url"])
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    with ws.state.sessions() as db:
        assert db.scalar(select(func.count()).select_from(Job)) == 1  # the lateral: no job


@sqlite_only
def test_lateral_only_exam_is_kept_not_drafted_then_its_frontal_is(ws, siim):
    one = study(siim)
    case_id = ws.upload(one(ViewPosition="LL"), name="l.dcm")["case"]["id"]
    case = get_case(ws, case_id)
    assert case["draft_status"] == "none"
    assert case["draft_error"].startswith("lateral view: the model reads frontal views")
    assert [i["role"] for i in case["exam"]["images"]] == ["shown"]
    r = ws.admin.post(f"/api/cases/{case_id}/draft")
    assert r.status_code == 409 and "is not drafted: lateral view" in r.json()["detail"]
    # the exam's frontal arrives: it becomes the case's image and is drafted
    assert ws.upload(one(ViewPosition="AP"), name="f.dcm")["case"]["id"] == case_id
    case = ws.wait_draft(case_id)
    assert case["draft_status"] == "ready" and case["draft_error"] is None
    assert [(i["view"], i["role"]) for i in case["exam"]["images"]] == [
        ("lateral", "shown"),
        ("frontal", "drafted"),
    ]


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_a_lateral_only_case_is_read_and_signed_in_the_ai_arm_without_a_draft(ws, siim):
    """No draft by design (a lateral): an ai_assisted read opens from the template (it is
    not refused as a failed draft would be) and signs; the read says why there is none."""
    case_id = ws.upload(study(siim)(ViewPosition="LL"), name="l.dcm")["case"]["id"]
    reader_id, reader = ws.user("radiologist")
    read_id = ws.admin.ok(
        "post", "/api/reads", 201, json={"case_id": case_id, "reader_id": reader_id, "arm": "ai_assisted"}
    )["id"]
    detail = reader.ok("get", f"/api/reads/{read_id}")
    assert detail["draft"] is None and detail["draft_status"] == "none"
    assert detail["draft_error"].startswith("lateral view: the model reads frontal views")
    rep = reader.ok("post", f"/api/reads/{read_id}/open")
    assert rep["findings_text"] == rep["impression_text"] == ""
    body = {"rev": rep["rev"], "findings_text": "Lateral only.", "impression_text": "No effusion."}
    signed = reader.ok("post", f"/api/reads/{read_id}/sign", json=body)
    assert signed["status"] == "final" and signed["impression_text"] == "No effusion."
    with ws.state.sessions() as db:
        from cxrpilot.workstation._orm import Report

        report = db.scalar(select(Report).where(Report.read_id == read_id))
        assert report.origin == "template" and report.draft_id is None


@sqlite_only
def test_a_refused_image_is_refused_as_before(ws, shared_data):
    r = ws.admin.post(
        "/api/cases",
        files={"file": ("dog.dcm", (shared_data / "dicom/highdicom_dx_image.dcm").read_bytes())},
    )
    assert r.status_code == 422
    assert r.json()["detail"].startswith("dog.dcm: not a human chest radiograph")
    ct = open(get_testdata_file("CT_small.dcm"), "rb").read()
    r = ws.admin.post("/api/cases", files={"file": ("ct.dcm", ct)})
    assert r.status_code == 422 and "CT slice, not a chest radiograph" in r.json()["detail"]
    with ws.state.sessions() as db:
        assert db.scalar(select(func.count()).select_from(Exam)) == 0


@sqlite_only
def test_the_same_sop_instance_in_another_encoding_is_stored_once(ws):
    unci = open(get_testdata_file("RG1_UNCI.dcm"), "rb").read()  # explicit VR little endian
    j2ki = open(get_testdata_file("RG1_J2KI.dcm"), "rb").read()  # JPEG 2000, same SOP UID
    first = ws.upload(unci, name="a.dcm")
    again = ws.upload(j2ki, name="b.dcm")
    same = ws.upload(unci, name="c.dcm")
    assert first["created"] and not again["created"] and not same["created"]
    assert first["case"]["id"] == again["case"]["id"] == same["case"]["id"]
    with ws.state.sessions() as db:
        assert db.scalar(select(func.count()).select_from(Image)) == 1
        assert db.scalar(select(func.count()).select_from(Case)) == 1


@sqlite_only
def test_priors_are_the_patients_earlier_exams_newest_first(ws, siim):
    old = ws.upload(study(siim, date="20200105", accession="A-2020")(), name="1.dcm")
    mid = ws.upload(study(siim, date="20220610", accession="A-2022")(), name="2.dcm")
    other = ws.upload(study(siim, patient="SOMEONE-ELSE", date="20210101")(), name="x.dcm")
    now = ws.upload(study(siim, date="20240301", accession="A-2024")(), name="3.dcm")
    exam = get_case(ws, now["case"]["id"])["exam"]
    assert [p["accession_number"] for p in exam["priors"]] == ["A-2022", "A-2020"]
    assert [p["case_id"] for p in exam["priors"]] == [mid["case"]["id"], old["case"]["id"]]
    assert get_case(ws, old["case"]["id"])["exam"]["priors"] == []  # nothing before it
    assert get_case(ws, other["case"]["id"])["exam"]["priors"] == []
    # the Patient ID is nowhere in the database: only its keyed hash
    with ws.state.engine.connect() as conn:
        keys = set(conn.execute(text("SELECT patient_key FROM exams")).scalars())
        dump = "\n".join(
            str(row)
            for table in ("exams", "images", "cases", "audit_log")
            for row in conn.execute(text(f"SELECT * FROM {table}"))
        )
    assert PATIENT not in dump and "SOMEONE-ELSE" not in dump
    assert len(keys) == 2 and all(len(k) == 64 for k in keys)


@sqlite_only
def test_patient_key_is_keyed_by_the_server_secret(world_factory, siim, tmp_path):
    data = study(siim)()
    keys = []
    for n, secret in enumerate(["a" * 32, "b" * 32]):
        w = world_factory(
            loader=None, patient_key_secret=secret, data_dir=tmp_path / f"d{n}",
            database_url=f"sqlite:///{tmp_path / f'k{n}.sqlite'}",
        )
        w.upload(data, name="x.dcm")
        with w.state.sessions() as db:
            keys.append(db.scalar(select(Exam.patient_key)))
    assert keys[0] != keys[1]


@sqlite_only
def test_a_png_upload_has_no_exam(ws, shared_data):
    case_id = ws.upload((shared_data / "samples/nih/00000001_000.png").read_bytes())["case"]["id"]
    assert get_case(ws, case_id)["exam"] is None
    r = ws.admin.get(f"/api/cases/{case_id}/exam")
    assert r.status_code == 404 and "has no exam" in r.json()["detail"]


@sqlite_only
def test_exam_access_follows_the_case(ws, siim):
    one = study(siim)
    case_id = ws.upload(one(), name="f.dcm")["case"]["id"]
    prior_id = ws.upload(study(siim, date="20190101")(), name="p.dcm")["case"]["id"]
    exam_id = get_case(ws, case_id)["exam"]["id"]
    prior_exam = get_case(ws, prior_id)["exam"]["id"]
    reader_id, reader = ws.user("radiologist")
    _, stranger = ws.user("radiologist")
    ws.admin.ok("post", "/api/reads", 201, json={"case_id": case_id, "reader_id": reader_id})
    exam = reader.ok("get", f"/api/cases/{case_id}/exam")
    assert exam["id"] == exam_id and [p["id"] for p in exam["priors"]] == [prior_exam]
    assert reader.get(f"/api/exams/{prior_exam}").status_code == 200  # a prior of a read case
    assert reader.get(exam["images"][0]["url"]).status_code == 200
    for url in (f"/api/exams/{exam_id}", f"/api/cases/{case_id}/exam", exam["images"][0]["url"]):
        assert stranger.get(url).status_code == 403, url
    assert ws.admin.get(f"/api/exams/{exam_id}/images/999999").status_code == 404


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_racing_stores_make_one_exam_one_case_one_image_each(world_factory, siim):
    """Eight threads store the same instance, its duplicate bytes, and the exam's lateral
    at once (through the service, as the SCP's association threads do)."""
    from cxrpilot.workstation._orm import User
    from cxrpilot.workstation._services._common import Actor
    from cxrpilot.workstation._services.cases import import_bytes

    w = world_factory(loader=None, decode_concurrency=4)
    one = study(siim)
    frontal, lateral = one(ViewPosition="PA"), one(ViewPosition="LL")
    with w.state.sessions() as db:
        admin = db.scalar(select(User))
    barrier = threading.Barrier(8)
    results, errors = [], []

    def store(data):
        barrier.wait()
        try:
            with w.state.sessions() as db:
                case, created = import_bytes(
                    db, w.state.store, w.state.loader, Actor(admin), data, name="x.dcm",
                    patient_secret=w.state.patient_secret,
                )
                results.append((case.id, created))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=store, args=(d,)) for d in [frontal] * 5 + [lateral] * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert len({case_id for case_id, _ in results}) == 1
    assert sum(created for _, created in results) == 2  # the frontal once, the lateral once
    with w.state.sessions() as db:
        counts = [db.scalar(select(func.count()).select_from(t)) for t in (Exam, Case, Image, Job)]
    assert counts == [1, 1, 2, 1]
    case = w.wait_draft(results[0][0])
    assert case["draft_status"] == "ready"
    assert sorted(i["view"] for i in case["exam"]["images"]) == ["frontal", "lateral"]


# -- the read page's view of an exam: images, priors and the prior reports a reader sees --
def _sign(client, read_id, findings, impression):
    rep = client.ok("post", f"/api/reads/{read_id}/open")
    body = {"rev": rep["rev"], "findings_text": findings, "impression_text": impression}
    return client.ok("post", f"/api/reads/{read_id}/sign", json=body)


def _assign(w, case_id, reader_id, arm):
    body = {"case_id": case_id, "reader_id": reader_id, "arm": arm}
    return w.admin.ok("post", "/api/reads", 201, json=body)["id"]


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_read_exam_shows_the_lateral_and_only_the_readers_own_allowed_prior_reports(
    world, shared_data
):
    """Three real exams of one patient (frontal + lateral each): a reader who signed the
    day-4 exam in scp and the day-7 exam in ai_assisted reads day 10 in scp (sees only the
    day-4 report; day 7's is hidden as AI content) and in ai_assisted (sees both); another
    reader sees neither; no AI draft of a prior is ever in the answer."""
    from .exam_dicom import PATIENT, exam_files

    case = {}
    for day in (4, 7, 10):
        frontal, lateral = exam_files(shared_data, day)
        case[day] = world.upload(frontal, name=f"d{day}f.dcm")["case"]["id"]
        assert world.upload(lateral, name=f"d{day}l.dcm")["case"]["id"] == case[day]
        world.wait_draft(case[day])
    me_id, me = world.user("radiologist")
    other_id, other = world.user("radiologist")
    _sign(me, _assign(world, case[4], me_id, "scp"), "Clear lungs day 4.", "No acute disease.")
    _sign(me, _assign(world, case[7], me_id, "ai_assisted"), "Opacity day 7.", "Pneumonia.")
    _sign(other, _assign(world, case[4], other_id, "scp"), "Other reader.", "Other impression.")
    ai_id, ai = world.user("radiologist")  # signs day 4 in scp, day 7 with the AI draft
    _sign(ai, _assign(world, case[4], ai_id, "scp"), "Day 4 clear.", "Normal day 4.")
    _sign(ai, _assign(world, case[7], ai_id, "ai_assisted"), "Day 7 opacity.", "Infection day 7.")
    scp_read = _assign(world, case[10], me_id, "scp")
    ai_read = _assign(world, case[10], ai_id, "ai_assisted")
    other_read = _assign(world, case[10], other_id, "scp")

    got = me.ok("get", f"/api/reads/{scp_read}/exam")
    assert got["exam"]["accession_number"] == "ACC-D10" and got["exam"]["study_date"] == "2020-01-26"
    assert [(i["view"], i["role"]) for i in got["exam"]["images"]] == [
        ("frontal", "drafted"), ("lateral", "shown")]
    assert got["exam"]["case_image_id"] == got["exam"]["images"][0]["id"]
    d7, d4 = got["priors"]
    assert (d7["accession_number"], d4["accession_number"]) == ("ACC-D07", "ACC-D04")
    assert d7["views"] == d4["views"] == ["frontal", "lateral"]
    assert d4["status"] == "signed" and d4["report"]["impression_text"] == "No acute disease."
    assert d4["report"]["findings_text"] == "Clear lungs day 4." and d4["report"]["signed_at"]
    assert d7["report"] is None and "AI draft" in d7["report_note"] and d7["status"] == "signed"
    dump = str(got)
    for ai_text in ("Opacity day 7.", "Pneumonia.", "Other reader.", "Cardiomegaly"):
        assert ai_text not in dump, ai_text  # no AI-assisted report, no other reader, no draft

    got = ai.ok("get", f"/api/reads/{ai_read}/exam")  # an ai_assisted read: both of theirs
    assert [p["report"]["impression_text"] for p in got["priors"]] == [
        "Infection day 7.", "Normal day 4."]

    got = other.ok("get", f"/api/reads/{other_read}/exam")
    d7, d4 = got["priors"]
    assert d4["report"]["impression_text"] == "Other impression."
    assert d7["report"] is None and d7["status"] == "not read" and "no signed report" in d7["report_note"]
    assert me.get(f"/api/reads/{other_read}/exam").status_code == 403  # not my read

    # The prior's images open in the viewer for the reader of the later exam, nobody else.
    image = d7["images"][1]
    info = other.ok("get", image["viewer_url"])
    assert (info["width"], info["height"]) == (395, 512)
    assert info["png_urls"]["low"].startswith(image["pixels_base"])
    png = other.get(info["png_urls"]["full"])
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    header = other.ok("get", info["header_url"])
    keywords = {e["keyword"]: e["value"] for e in header["elements"]}
    assert keywords["ViewPosition"] == "LL" and PATIENT not in str(header)
    _, stranger = world.user("radiologist")
    for url in (image["viewer_url"], info["png_urls"]["full"], info["header_url"]):
        assert stranger.get(url).status_code == 403, url
    bad = other.get(f"{image['pixels_base']}/pixels.png?resolution=huge")
    assert bad.status_code == 422 and "expected one of full, low" in bad.json()["detail"]
    assert other.get(f"/api/exams/{d7['id']}/images/999999/viewer").status_code == 404


@sqlite_only
def test_read_exam_of_an_image_without_a_study_is_empty(world, shared_data):
    case_id = world.upload((shared_data / "samples/nih/00000001_000.png").read_bytes())["case"]["id"]
    reader_id, reader = world.user("radiologist")
    read_id = _assign(world, case_id, reader_id, "scp")
    assert reader.ok("get", f"/api/reads/{read_id}/exam") == {"exam": None, "priors": []}


# -- reader studies: a prior that is a study case the reader has still to read is hidden --
def _study(w, name, design, case_ids, reader_ids, **more):
    body = {"name": name, "design": design, **more}
    sid = w.admin.ok("post", "/api/studies", 201, json=body)["id"]
    w.admin.ok("post", f"/api/studies/{sid}/cases", json={"case_ids": case_ids})
    w.admin.ok("post", f"/api/studies/{sid}/members", json={"user_ids": reader_ids, "role": "reader"})
    w.admin.ok("post", f"/api/studies/{sid}/randomise", json={"seed": 11})
    return sid


def _reads(client, study):
    """The reader's available reads of the study named ``study``: case id -> read id."""
    items = client.ok("get", "/api/worklist")
    return {i["case_id"]: i["read_id"] for i in items if i["study"] == study}


def _exam_cases(w, shared_data, days):
    case = {}
    for day in days:
        frontal, lateral = exam_files(shared_data, day)
        case[day] = w.upload(frontal, name=f"d{day}f.dcm")["case"]["id"]
        w.upload(lateral, name=f"d{day}l.dcm")
        w.wait_draft(case[day])
    return case


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_a_study_case_not_yet_read_is_not_shown_as_a_prior(world, shared_data):
    """One patient's days 4, 7 and 10 in one study: reading day 10 first, the reader sees no
    prior (both are cases of the study still to read, in the read page's exam and the exam
    APIs); each appears once signed. A reader of day 10 outside the study sees both."""
    case = _exam_cases(world, shared_data, (4, 7, 10))
    me_id, me = world.user("radiologist")
    _study(world, "priors", "per_case", list(case.values()), [me_id])
    mine = _reads(me, "priors")
    assert set(mine) == set(case.values())
    outside_id, outside = world.user("radiologist")
    outside_read = _assign(world, case[10], outside_id, "scp")

    def priors_of_day_10(client, read_id):
        via_read = [p["accession_number"] for p in client.ok("get", f"/api/reads/{read_id}/exam")["priors"]]
        via_exam = [p["accession_number"] for p in client.ok("get", f"/api/cases/{case[10]}/exam")["priors"]]
        assert via_read == via_exam
        return via_read

    assert priors_of_day_10(me, mine[case[10]]) == []
    assert "ACC-D07" not in str(me.ok("get", f"/api/reads/{mine[case[10]]}/exam"))
    assert priors_of_day_10(outside, outside_read) == ["ACC-D07", "ACC-D04"]  # no study: as before
    day7 = outside.ok("get", f"/api/reads/{outside_read}/exam")["priors"][0]
    assert outside.get(day7["images"][0]["viewer_url"]).status_code == 200
    # Day 7 is the reader's own case to read: its images open for that read (as any case).
    assert me.get(day7["images"][0]["viewer_url"]).status_code == 200

    _sign(me, mine[case[7]], "Opacity day 7.", "Pneumonia day 7.")
    assert priors_of_day_10(me, mine[case[10]]) == ["ACC-D07"]
    _sign(me, mine[case[4]], "Clear day 4.", "Normal day 4.")
    assert priors_of_day_10(me, mine[case[10]]) == ["ACC-D07", "ACC-D04"]
    got = me.ok("get", f"/api/reads/{mine[case[10]]}/exam")["priors"]
    assert all(p["status"] == "signed" for p in got)


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_a_crossover_prior_stays_hidden_until_its_second_period_is_signed(world, shared_data):
    """Crossover (washout 28 days): day 7 signed in period 1 is still a case the reader will
    read again (period 2), so it stays hidden beside day 10. Where the reader has no read of
    day 7 open now, its exam, images and header are refused through the later exam too."""
    from sqlalchemy import update

    from cxrpilot.workstation._orm import Read, utcnow

    case = _exam_cases(world, shared_data, (7, 10))
    me_id, me = world.user("radiologist")
    _study(world, "x-priors", "crossover", list(case.values()), [me_id], washout_days=28)
    mine = _reads(me, "x-priors")
    _sign(me, mine[case[7]], "Opacity day 7.", "Pneumonia day 7.")
    assert me.ok("get", f"/api/reads/{mine[case[10]]}/exam")["priors"] == []
    assert me.ok("get", f"/api/cases/{case[10]}/exam")["priors"] == []

    admin_exam = world.admin.ok("get", f"/api/cases/{case[7]}/exam")
    image = admin_exam["images"][0]["url"]
    urls = (f"/api/exams/{admin_exam['id']}", image, f"{image}/viewer", f"{image}/header",
            f"{image}/pixels.png?resolution=low")
    for url in urls:
        assert me.get(url).status_code == 200, url  # day 7's own (signed) read is open
    # No read of day 7 open now (a state the designs do not make: every first period opens
    # at once; set directly): only the later exam would let the reader see it, and it does not.
    with world.state.sessions() as db:
        db.execute(update(Read).where(Read.case_id == case[7]).values(
            available_from=utcnow().replace(year=utcnow().year + 1)))
        db.commit()
        assert db.scalar(select(Read.id).where(Read.case_id == case[10], Read.period == 1))
    for url in urls:
        r = me.get(url)
        assert r.status_code == 403 and "not assigned to you" in r.json()["detail"], url
    assert world.admin.get(f"{image}/viewer").status_code == 200
