from __future__ import annotations

from collections import Counter

import pytest

from cxrpilot.data import read_iu_xray
from cxrpilot.data._iu import iu_metadata_key
from cxrpilot.errors import InvalidDatasetError


@pytest.fixture(scope="module")
def iu(shared_data):
    return read_iu_xray(shared_data / "iu-xray")


def test_real_collection(iu):
    assert len(iu) == 3191
    first = iu[0]
    assert first.study_id == "CXR1" and first.patient_id == "CXR1" and first.source == "iu-xray"
    assert first.sections["indication"] == "Positive TB test"
    assert first.sections["impression"] == "Normal chest x-XXXX."
    assert first.meta["mesh_major"] == ["normal"]
    assert [i.image_id for i in first.images] == ["CXR1_1_IM-0001-3001", "CXR1_1_IM-0001-4001"]
    assert all(i.path is None for s in iu for i in s.images)  # reports only here
    assert sum(len(s.images) for s in iu) == 6032
    views = Counter(i.view for s in iu for i in s.images)
    assert views == {"PA": 2884, None: 2108, "LATERAL": 705, "AP": 335}
    assert sum("findings" in s.sections for s in iu) > 2500


@pytest.mark.parametrize(
    ("xml_id", "key"),
    [
        ("CXR1_1_IM-0001-3001", "CXR1_IM-0001-3001"),
        ("CXR3191_2_IM-1506-1001", "CXR3191_IM-1506-1001"),
        ("odd", "odd"),
    ],
)
def test_metadata_key(xml_id, key):
    assert iu_metadata_key(xml_id) == key


def _write(folder, name, text):
    (folder / "reports").mkdir(exist_ok=True)
    (folder / "reports" / name).write_text(text)


GOOD = """<?xml version="1.0" encoding="utf-8"?><eCitation><uId id="CXR7"/>
<MedlineCitation><Article><Abstract><AbstractText Label="FINDINGS">No effusion.</AbstractText>
</Abstract></Article></MedlineCitation><MeSH><major>normal</major></MeSH>
<parentImage id="CXR7_1_IM-0001-1001"><caption>PA</caption></parentImage>
<parentImage id="CXR7_1_IM-0001-2001"><caption>Lat</caption></parentImage></eCitation>"""


def test_small_tree_with_views_and_images(tmp_path):
    _write(tmp_path, "7.xml", GOOD)
    (tmp_path / "image_dicom_metadata.csv").write_text(
        "imageid,View Position\nCXR7_IM-0001-1001,PA\nCXR7_IM-0001-2001,LL\n"
    )
    (tmp_path / "png").mkdir()
    (tmp_path / "png" / "CXR7_1_IM-0001-1001.png").write_bytes(b"x")
    (study,) = read_iu_xray(tmp_path, metadata="image_dicom_metadata.csv", images=tmp_path / "png")
    assert [(i.view, i.path is not None) for i in study.images] == [
        ("PA", True),
        ("LATERAL", False),
    ]
    assert study.sections == {"findings": "No effusion."}


@pytest.mark.parametrize(
    ("files", "match"),
    [
        (
            {"1.xml": GOOD, "2.xml": "<eCitation><uId id='CXR2'/><MeSH>"},
            r"2\.xml: broken XML at line 1",
        ),
        ({"1.xml": "<html/>"}, r"1\.xml: root element is <html>"),
        ({}, r"no \.xml report files"),
    ],
)
def test_bad_xml(tmp_path, files, match):
    (tmp_path / "reports").mkdir()
    for name, text in files.items():
        _write(tmp_path, name, text)
    with pytest.raises(InvalidDatasetError, match=match):
        read_iu_xray(tmp_path)


def test_metadata_missing_column(tmp_path):
    _write(tmp_path, "7.xml", GOOD)
    (tmp_path / "image_dicom_metadata.csv.gz").write_bytes(
        __import__("gzip").compress(b"imageid,View\nx,PA\n")
    )
    with pytest.raises(
        InvalidDatasetError,
        match=r"image_dicom_metadata\.csv\.gz: missing column\(s\) 'View Position'",
    ):
        read_iu_xray(tmp_path)
