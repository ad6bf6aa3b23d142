"""/fhir/DiagnosticReport: read, history and search of the reports and AI drafts, as FHIR
R4 JSON that fhir.resources validates; OperationOutcomes for bad requests; who may read."""

from __future__ import annotations

import base64
import io

import pydicom
import pytest
from pydicom.uid import generate_uid

from cxrpilot.interop import fhir

from .helpers import png_bytes


@pytest.fixture
def small_dx(shared_data):
    path = shared_data / "dicom" / "highdicom_dx_image.dcm"
    if not path.exists():
        pytest.skip(f"{path} is not in the shared data")
    return path


def dicom_exam(path, i: int, *, patient="PAT-FHIR-1") -> bytes:
    ds = pydicom.dcmread(path)
    ds.StudyInstanceUID = generate_uid(entropy_srcs=["fhir-study", str(i)])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=["fhir-series", str(i)])
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(
        entropy_srcs=["fhir-sop", str(i)]
    )
    ds.AccessionNumber = f"FACC{i}"
    ds.PatientID = patient
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def signed(world, reader, reader_id, data, name="x.dcm") -> dict:
    case_id = world.upload(data, name=name)["case"]["id"]
    assert world.wait_draft(case_id)["draft_status"] == "ready"
    read = world.admin.ok(
        "post", "/api/reads", 201, json={"case_id": case_id, "reader_id": reader_id}
    )
    rep = reader.ok("post", f"/api/reads/{read['id']}/open")
    reader.ok(
        "post", f"/api/reads/{read['id']}/sign",
        json={"rev": rep["rev"], "confirm_unedited": True},
    )
    return {"case_id": case_id, "read_id": read["id"]}


def get_fhir(client, url, status=200, **kw):
    r = client.get(url, **kw)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/fhir+json")
    return r


def test_read_final_then_amended_and_history(world, small_dx):
    reader_id, reader = world.user("radiologist")
    world.admin.ok("patch", f"/api/users/{reader_id}", json={"display_name": "Ada Lovelace"})
    s = signed(world, reader, reader_id, dicom_exam(small_dx, 1))
    url = f"/fhir/DiagnosticReport/report-{s['read_id']}"
    dr = fhir.parse_report(get_fhir(world.admin, url).content)
    assert dr.status == "final" and dr.meta.versionId == "1"
    assert dr.resultsInterpreter[0].display == "Ada Lovelace"
    assert dr.imagingStudy[0].identifier.value.startswith("urn:oid:")
    accession = [i.value for i in dr.identifier if i.type is not None]
    assert accession == ["FACC1"]
    text = base64.b64decode(get_fhir(world.admin, url).json()["presentedForm"][0]["data"]).decode()
    assert "FINDINGS:" in text and "IMPRESSION:" in text
    v2 = reader.ok("post", f"/api/reads/{s['read_id']}/amend", 201, json={"reason": "typo"})
    # an amendment being written does not change what is served
    assert get_fhir(world.admin, url).json()["status"] == "final"
    reader.ok("post", f"/api/reads/{s['read_id']}/sign",
              json={"rev": v2["rev"], "impression_text": "Amended impression."})
    now = fhir.parse_report(get_fhir(world.admin, url).content)
    assert (now.status, now.meta.versionId, now.conclusion) == ("amended", "2",
                                                                 "Amended impression.")
    assert fhir.amendment_reason(now) == "typo"
    form = get_fhir(world.admin, url).json()["presentedForm"][0]
    assert base64.b64decode(form["data"]).decode().endswith("REASON FOR AMENDMENT: typo")
    old = fhir.parse_report(get_fhir(world.admin, f"{url}/_history/1").content)
    assert old.status == "final" and old.conclusion != "Amended impression."
    assert fhir.amendment_reason(old) == "" and old.extension is None
    get_fhir(world.admin, f"{url}/_history/3", 404)


def test_ai_draft_is_preliminary_with_observations(world, small_dx):
    reader_id, reader = world.user("radiologist")
    s = signed(world, reader, reader_id, dicom_exam(small_dx, 2))
    bundle = get_fhir(world.admin, "/fhir/DiagnosticReport", params={"status": "preliminary"})
    body = bundle.json()
    assert body["resourceType"] == "Bundle" and body["type"] == "searchset"
    [entry] = [e for e in body["entry"]]
    path = "/fhir" + entry["fullUrl"].split("/fhir", 1)[1]
    dr = fhir.parse_report(get_fhir(world.admin, path).content)
    assert dr.status == "preliminary" and dr.id.startswith("ai-draft-")
    observations = {o.code.text: o for o in dr.contained if o.__resource_type__ == "Observation"}
    assert len(observations) == 14
    assert observations["Pneumothorax"].valueCodeableConcept.text == "uncertain"
    assert observations["Edema"].valueCodeableConcept is None
    assert observations["Edema"].dataAbsentReason.text == "not assessed"
    assert s["case_id"]


def test_search_by_patient_accession_status(world, small_dx):
    from cxrpilot.workstation._orm import Exam

    reader_id, reader = world.user("radiologist")
    a = signed(world, reader, reader_id, dicom_exam(small_dx, 3, patient="PAT-A"))
    signed(world, reader, reader_id, dicom_exam(small_dx, 4, patient="PAT-B"))
    signed(world, reader, reader_id, png_bytes(7), name="x.png")
    with world.state.sessions() as db:
        keys = {e.accession_number: e.patient_key for e in db.query(Exam)}
    everything = get_fhir(world.admin, "/fhir/DiagnosticReport").json()
    assert everything["total"] == 6  # three final reports, three AI drafts
    finals = get_fhir(world.admin, "/fhir/DiagnosticReport", params={"status": "final"}).json()
    assert finals["total"] == 3
    by_acc = get_fhir(
        world.admin, "/fhir/DiagnosticReport", params={"accession": "FACC3", "status": "final"}
    ).json()
    assert [e["resource"]["id"] for e in by_acc["entry"]] == [f"report-{a['read_id']}"]
    assert keys["FACC3"] and keys["FACC3"] != keys["FACC4"]  # keyed hash of the Patient ID
    mine = get_fhir(
        world.admin, "/fhir/DiagnosticReport", params={"patient": keys["FACC3"]}
    ).json()
    assert mine["total"] == 2  # the report and the AI draft of PAT-A's exam
    assert {e["resource"]["subject"]["identifier"]["value"] for e in mine["entry"]} == {
        keys["FACC3"]
    }
    assert "PAT-A" not in str(mine)
    counted = get_fhir(world.admin, "/fhir/DiagnosticReport", params={"_count": "1"}).json()
    assert counted["total"] == 6 and len(counted["entry"]) == 1
    from fhir.resources.R4B.bundle import Bundle

    Bundle.model_validate(everything)


@pytest.mark.parametrize(
    "url, status, message",
    [
        ("/fhir/DiagnosticReport?name=Smith", 400, "search parameter name is not supported"),
        ("/fhir/DiagnosticReport?status=draft", 400, "status draft is not one served"),
        ("/fhir/DiagnosticReport?_count=x", 400, "_count must be a whole number"),
        ("/fhir/DiagnosticReport?_count=5000", 400, "_count must be 0-200"),
        ("/fhir/DiagnosticReport/report-999", 404, "does not exist"),
        ("/fhir/DiagnosticReport/Patient-1", 404, "ids are report-N or ai-draft-N"),
        ("/fhir/DiagnosticReport/ai-draft-12345", 404, "does not exist"),
    ],
)
def test_bad_requests_are_operation_outcomes(world, url, status, message):
    r = get_fhir(world.admin, url, status)
    body = r.json()
    assert body["resourceType"] == "OperationOutcome"
    assert message in body["issue"][0]["diagnostics"]


@pytest.mark.parametrize(
    "path", ["/fhir/DiagnosticReport/report-1/_history/abc",
             "/fhir/DiagnosticReport/report-1/_history/0", "/fhir/DiagnosticReport/" + "x" * 65],
)
def test_malformed_paths_are_operation_outcomes(world, path):
    body = get_fhir(world.admin, path, 400).json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["diagnostics"].startswith("invalid request: path.")


def test_unsigned_report_is_not_served(world, small_dx):
    reader_id, reader = world.user("radiologist")
    case_id = world.upload(dicom_exam(small_dx, 5), name="x.dcm")["case"]["id"]
    world.wait_draft(case_id)
    read = world.admin.ok("post", "/api/reads", 201,
                          json={"case_id": case_id, "reader_id": reader_id})
    reader.ok("post", f"/api/reads/{read['id']}/open")
    r = get_fhir(world.admin, f"/fhir/DiagnosticReport/report-{read['id']}", 404)
    assert "not signed" in r.json()["issue"][0]["diagnostics"]


def test_who_may_read(world, small_dx):
    reader_id, reader = world.user("radiologist")
    s = signed(world, reader, reader_id, dicom_exam(small_dx, 6))
    url = f"/fhir/DiagnosticReport/report-{s['read_id']}"
    # readers use the workstation, not the FHIR API; refusals are OperationOutcomes too
    for client, status in ((reader, 403), (world.new_client(), 401)):
        body = get_fhir(client, url, status).json()
        assert body["resourceType"] == "OperationOutcome"
        assert body["issue"][0]["code"] == ("forbidden" if status == 403 else "login")
    _, coordinator = world.user("coordinator")
    assert coordinator.get(url).status_code == 200
    token = world.admin.ok(
        "post", "/api/tokens", 201, json={"name": "RIS", "scopes": ["read:results"]}
    )["token"]
    machine = world._TestClient(world.app)
    r = machine.get(url, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["status"] == "final"


def test_metadata_declares_exactly_what_works(world, small_dx):
    """Parse /fhir/metadata and exercise every interaction, search parameter and format it
    declares; what it does not declare is refused."""
    from fhir.resources.R4B.capabilitystatement import CapabilityStatement

    reader_id, reader = world.user("radiologist")
    a = signed(world, reader, reader_id, dicom_exam(small_dx, 20, patient="PAT-META-A"))
    signed(world, reader, reader_id, dicom_exam(small_dx, 21, patient="PAT-META-B"))
    # open to anyone, as FHIR clients expect (it names no patient)
    raw = get_fhir(world.new_client(), "/fhir/metadata")
    cs = CapabilityStatement.model_validate_json(raw.content)
    assert (cs.status, cs.kind, cs.fhirVersion) == ("active", "instance", "4.0.1")
    assert cs.implementation.url.endswith("/fhir") and cs.software.name == "cxrpilot"
    assert "json" in cs.format and "application/fhir+json" in cs.format
    [rest] = cs.rest
    assert rest.mode == "server" and "read:results" in rest.security.description
    [res] = rest.resource
    assert res.type == "DiagnosticReport" and res.versioning == "versioned"
    declared = {i.code for i in res.interaction}
    assert declared == {"read", "vread", "search-type"}

    admin = world.admin
    rid = f"report-{a['read_id']}"
    exercised = {
        "read": lambda: fhir.parse_report(
            get_fhir(admin, f"/fhir/DiagnosticReport/{rid}").content).id == rid,
        "vread": lambda: fhir.parse_report(
            get_fhir(admin, f"/fhir/DiagnosticReport/{rid}/_history/1").content
        ).meta.versionId == "1",
        "search-type": lambda: get_fhir(admin, "/fhir/DiagnosticReport").json()["total"] == 4,
    }
    for code in declared:
        assert exercised[code](), code

    with world.state.sessions() as db:
        from cxrpilot.workstation._orm import Exam

        key = db.query(Exam).filter_by(accession_number="FACC20").one().patient_key
    values = {"patient": f"Patient/{key}", "accession": "FACC20", "status": "final",
              "_count": "1"}
    params = {p.name: p for p in res.searchParam}
    assert set(params) == set(values)
    assert params["patient"].type == "reference" and params["_count"].type == "number"
    for name, value in values.items():
        body = get_fhir(admin, "/fhir/DiagnosticReport", params={name: value}).json()
        ids = [e["resource"]["id"] for e in body.get("entry", [])]
        if name == "_count":
            assert len(ids) == 1 and body["total"] == 4
        elif name == "status":
            assert body["total"] == 2 and all(i.startswith("report-") for i in ids)
        else:  # this exam's report and its AI draft
            assert body["total"] == 2 and rid in ids, name
    for fmt in cs.format:
        r = get_fhir(admin, f"/fhir/DiagnosticReport/{rid}", params={"_format": fmt})
        assert r.json()["id"] == rid
    # not declared, not served
    r = get_fhir(admin, f"/fhir/DiagnosticReport/{rid}", 406, params={"_format": "xml"})
    assert "JSON only" in r.json()["issue"][0]["diagnostics"]
    r = get_fhir(admin, "/fhir/DiagnosticReport", 400, params={"identifier": "FACC20"})
    for method in ("post", "put", "delete", "patch"):
        path = "/fhir/DiagnosticReport" + ("" if method == "post" else f"/{rid}")
        assert getattr(admin, method)(path).status_code == 405, method
    assert admin.get(f"/fhir/DiagnosticReport/{rid}/_history").status_code in (404, 405)
    assert admin.get("/fhir/Patient/x").status_code == 404


@pytest.mark.parametrize(
    "accept",
    ["application/fhir+xml", "application/xml", "text/html",
     "application/fhir+xml, application/fhir+json;q=0", "application/fhir+json;q=0.0"],
)
def test_an_accept_without_json_is_a_406_operation_outcome_in_json(world, small_dx, accept):
    """An Accept header that allows no JSON FHIR type is refused, on every /fhir route, with
    an OperationOutcome in JSON (the one format served); ``_format`` overrides Accept."""
    reader_id, reader = world.user("radiologist")
    s = signed(world, reader, reader_id, dicom_exam(small_dx, 30))
    url = f"/fhir/DiagnosticReport/report-{s['read_id']}"
    for path in (url, url + "/_history/1", "/fhir/DiagnosticReport", "/fhir/metadata"):
        r = get_fhir(world.admin, path, 406, headers={"Accept": accept})
        body = r.json()
        assert body["resourceType"] == "OperationOutcome", path
        assert body["issue"][0]["code"] == "not-supported"
        assert "Accept" in body["issue"][0]["diagnostics"] and accept not in r.text
    # _format=json overrides an XML Accept (FHIR's rule)
    r = get_fhir(world.admin, url, headers={"Accept": accept}, params={"_format": "json"})
    assert r.json()["id"] == f"report-{s['read_id']}"


@pytest.mark.parametrize(
    "accept",
    ["*/*", "application/json", "application/fhir+json", "application/fhir+json; fhirVersion=4.0",
     "application/fhir+xml;q=0.9, application/json;q=0.5", "application/*", "",
     "text/html, */*;q=0.1"],
)
def test_an_accept_that_allows_json_is_answered(world, small_dx, accept):
    reader_id, reader = world.user("radiologist")
    s = signed(world, reader, reader_id, dicom_exam(small_dx, 31))
    url = f"/fhir/DiagnosticReport/report-{s['read_id']}"
    dr = fhir.parse_report(get_fhir(world.admin, url, headers={"Accept": accept}).content)
    assert dr.id == f"report-{s['read_id']}"
    assert get_fhir(world.admin, "/fhir/metadata", headers={"Accept": accept}).json()[
        "resourceType"] == "CapabilityStatement"


def test_report_search_parse_owns_the_search_values():
    """The service parses the search (the route only refuses unknown names): the
    ``Patient/`` prefix goes, empty values filter nothing, statuses are a set."""
    from cxrpilot.workstation._errors import InvalidInput
    from cxrpilot.workstation._services.fhir_reports import ReportSearch

    parse = ReportSearch.parse
    assert parse({}) == ReportSearch(None, None, frozenset(fhir.STATUSES), 50)
    assert parse({"patient": "Patient/k1"}).patient == parse({"patient": "k1"}).patient == "k1"
    assert parse({"patient": "", "accession": "", "status": ""}) == parse({})
    assert parse({"status": "final , amended", "_count": "0"}) == ReportSearch(
        None, None, frozenset({"final", "amended"}), 0
    )
    for params, message in [
        ({"patient": "k" * 65}, "patient: longer than 64 characters"),
        ({"accession": "a\x00"}, "accession: contains a NUL"),
        ({"status": "final;drop"}, "status: give status codes"),
        ({"status": "final,draft"}, "status draft is not one served here"),
        ({"_count": "-1"}, "_count must be a whole number 0-200"),
        ({"_count": "201"}, "_count must be 0-200, got 201"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            parse(params)
