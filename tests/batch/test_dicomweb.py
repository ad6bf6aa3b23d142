"""run_batch with a real PACS as SOURCE: Orthanc's DICOMweb (QIDO-RS query, WADO-RS retrieve)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from cxrpilot import imaging
from cxrpilot.batch import read_results, run_batch
from cxrpilot.batch._sources import list_items
from cxrpilot.errors import InvalidDatasetError
from cxrpilot.interop.dicomweb import DicomWebError
from cxrpilot.pipeline import load_drafter

pytestmark = [pytest.mark.slow]

CR_FILES = ("RG1_UNCR.dcm", "RG1_J2KR.dcm")  # one study: the same CR stored twice, two SOP UIDs


@pytest.fixture
def pacs(orthanc):
    for name in (*CR_FILES, "CT_small.dcm"):
        orthanc.upload(Path(get_testdata_file(name)).read_bytes())
    return orthanc


def test_a_dicomweb_source_lists_the_cr_instances_only(pacs) -> None:
    items = list_items(pacs.dicomweb_url)
    assert len(items) == 2  # the CT study is not queried
    assert {i["image_id"] for i in items} == {
        "1.3.6.1.4.1.5962.1.1.9.1.1.20040826185059.5457",
        "1.3.6.1.4.1.5962.1.1.9.1.2.20040826185059.5457"}
    assert all(i["source"].startswith(pacs.dicomweb_url + "/studies/") for i in items)
    assert list_items(pacs.dicomweb_url, since="2004-08-26") and \
        pytest.raises(InvalidDatasetError, list_items, pacs.dicomweb_url, since="2030-01-01")


def test_batch_over_a_pacs_equals_the_single_process_path_and_resumes(
        tmp_path, pacs, model_spec, ray_local) -> None:
    out = tmp_path / "out"
    summary = run_batch(pacs.dicomweb_url, out, model=model_spec, batch_size=1, concurrency=1,
                        progress=False)
    assert (summary.total, summary.drafted, summary.failed, summary.missing) == (2, 2, 0, 0)
    drafter = load_drafter(model_spec)
    for row in read_results(out).to_pylist():
        name = "RG1_UNCR.dcm" if row["source"].endswith(".1.1.20040826185059.5457") else "RG1_J2KR.dcm"
        want = drafter.draft(imaging.load(get_testdata_file(name))).to_dict()
        assert row["status"] == "ok"
        assert [(f["name"], f["status"], f["probability"]) for f in row["findings"]] == \
            [(f["name"], f["status"], f["probability"]) for f in want["findings"]]
        assert row["findings_text"] == want["findings_text"]

    # a re-run knows both instances by their URL (a SOP Instance UID names one immutable
    # object): they are skipped before any worker starts, so nothing is retrieved again
    again = run_batch(pacs.dicomweb_url, out, model=model_spec, concurrency=1, progress=False)
    assert (again.total, again.skipped, again.drafted, again.failed) == (2, 2, 0, 0)
    assert read_results(out).num_rows == 2


def test_a_pacs_that_does_not_answer_is_a_clear_error(tmp_path, orthanc) -> None:
    url = orthanc.dicomweb_url
    orthanc.kill()
    with pytest.raises(DicomWebError, match="cannot be reached"):
        run_batch(url, tmp_path / "out", progress=False)
