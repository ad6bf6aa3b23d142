"""The DICOMweb client against Orthanc's DICOMweb plugin, and the multipart parser."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file

from cxrpilot.errors import InvalidInputError
from cxrpilot.interop.dicomweb import (
    DicomWebClient,
    DicomWebError,
    parse_multipart_related,
    parse_since,
)

SIIM = "1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819.dcm"


@pytest.fixture
def pacs(orthanc, shared_data):
    """Orthanc holding a CR (RG1, 2004), the SIIM CR (1901), the dog DX (2020) and a CT."""
    files = [
        Path(get_testdata_file("RG1_UNCR.dcm")),
        shared_data / "dicom" / SIIM,
        shared_data / "dicom" / "highdicom_dx_image.dcm",
        Path(get_testdata_file("CT_small.dcm")),
    ]
    for f in files:
        orthanc.upload(f.read_bytes())
    return orthanc, {f.name: pydicom.dcmread(f, stop_before_pixels=True) for f in files}


def test_search_cr_dx_studies(pacs):
    orthanc, ds = pacs
    with DicomWebClient(orthanc.dicomweb_url) as client:
        studies = client.search_studies()
    assert [s.study_uid for s in studies] == [
        ds[SIIM].StudyInstanceUID,  # 1901
        ds["RG1_UNCR.dcm"].StudyInstanceUID,  # 2004
        ds["highdicom_dx_image.dcm"].StudyInstanceUID,  # 2020
    ]
    assert studies[1].study_date == "20040826"
    assert studies[1].modalities == ("CR",)
    assert studies[2].accession_number == ds["highdicom_dx_image.dcm"].AccessionNumber
    assert studies[1].instances == 1


def test_search_since_a_date_and_paging(pacs):
    orthanc, ds = pacs
    with DicomWebClient(orthanc.dicomweb_url, page_size=1) as client:
        since = client.search_studies(since="2004-01-01")
        assert [s.study_date for s in since] == ["20040826", "20200125"]
        assert [s.study_date for s in client.search_studies(since=date(2010, 1, 1))] == [
            "20200125"
        ]
        assert [s.modalities for s in client.search_studies(modalities=["ct"])] == [("CT",)]


def test_retrieve_study_gives_part10_files(pacs):
    orthanc, ds = pacs
    study = ds["RG1_UNCR.dcm"].StudyInstanceUID
    with DicomWebClient(orthanc.dicomweb_url) as client:
        [data] = list(client.retrieve_study(study))
        [(series, sop)] = client.search_instances(study)
        single = client.retrieve_instance(study, series, sop)
    got = pydicom.dcmread(io.BytesIO(data))
    assert got.SOPInstanceUID == sop == ds["RG1_UNCR.dcm"].SOPInstanceUID
    assert got.pixel_array.shape == (1955, 1841)
    assert single == data


def test_unknown_study_and_unreachable_server(orthanc):
    with DicomWebClient(orthanc.dicomweb_url) as client:
        with pytest.raises(DicomWebError, match="answered 404"):
            list(client.retrieve_study("1.2.3.4"))
        with pytest.raises(InvalidInputError, match="is not a DICOM UID"):
            client.retrieve_study("../../system")
    orthanc.kill()
    with DicomWebClient(orthanc.dicomweb_url, timeout_s=5) as client:
        with pytest.raises(DicomWebError, match=rf"{orthanc.dicomweb_url} cannot be reached"):
            client.search_studies()


@pytest.mark.parametrize(
    ("url", "message"),
    [("pacs:8042", "is not valid"), ("", "is not valid"), ("ftp://pacs", "is not valid")],
)
def test_bad_url(url, message):
    with pytest.raises(InvalidInputError, match=message):
        DicomWebClient(url)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2024-01-31", date(2024, 1, 31)), ("20240131", date(2024, 1, 31)), (None, None)],
)
def test_parse_since(value, expected):
    assert parse_since(value) == expected


def test_parse_since_refuses_other_text():
    with pytest.raises(InvalidInputError, match=r"since='yesterday' is not a date"):
        parse_since("yesterday")


MULTI = "multipart/related; type=\"application/dicom\"; boundary=\"b-1\""


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        # preamble, two parts, epilogue; a body that contains CRLF and a near-boundary
        (
            b"preamble\r\n--b-1\r\nContent-Type: application/dicom\r\n\r\nA\r\n--b-\r\nB"
            b"\r\n--b-1\r\nContent-Type: application/dicom\r\nContent-Length: 1\r\n\r\nC"
            b"\r\n--b-1--\r\nepilogue",
            MULTI,
            [b"A\r\n--b-\r\nB", b"C"],
        ),
        # an unquoted boundary, transport padding after it, a part without headers
        (b"--xyz  \r\n\r\nbody\r\n--xyz--", "multipart/related; boundary=xyz", [b"body"]),
        (b"--xyz\r\n\r\n\r\n--xyz--\r\n", "multipart/related; boundary=xyz", [b""]),
    ],
)
def test_parse_multipart(body, content_type, expected):
    assert [p.body for p in parse_multipart_related(body, content_type)] == expected


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"{}", "application/json", "expected a multipart answer"),
        (b"--x\r\n\r\nA\r\n--x--", "multipart/related", "without a boundary"),
        (b"no delimiter", "multipart/related; boundary=x", "without its opening boundary"),
        (b"--x\r\nContent-Type: a/b\r\n\r\nA\r\n--x\r\n\r\nB", "multipart/related; boundary=x",
         r"truncated multipart answer: no closing boundary after 1 part\(s\)"),
        (b"--x\r\nContent-Type: a/b", "multipart/related; boundary=x", "has no end of headers"),
    ],
)
def test_parse_multipart_refuses(body, content_type, message):
    with pytest.raises(DicomWebError, match=message):
        parse_multipart_related(body, content_type)


def test_parse_multipart_headers():
    body = (
        b"--x\r\nContent-Type: application/dicom;\r\n transfer-syntax=1.2\r\nX-A: b\r\n\r\n"
        b"D\r\n--x--"
    )
    [part] = parse_multipart_related(body, "multipart/related; boundary=x")
    assert part.content_type == "application/dicom"
    assert part.headers["content-type"] == "application/dicom; transfer-syntax=1.2"
    assert part.headers["x-a"] == "b"
