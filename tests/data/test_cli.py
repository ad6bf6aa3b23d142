"""``cxrpilot data inspect`` (the CLI module lives in cxrpilot/cli/_data.py)."""

from __future__ import annotations

import json

import pytest

from cxrpilot.cli import main
from cxrpilot.data._detect import detect_format


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        ("iu-xray", "iu"),
        ("covid-chestxray", "covid-chestxray"),
        ("covid-chestxray/metadata.csv", "covid-chestxray"),
        ("covid-radiography", "folders"),
        ("pediatric-pneumonia", "folders"),
        ("samples/nih", "nih"),
        ("samples/nih/labels.csv", "nih"),
    ],
)
def test_detect_real(shared_data, rel, expected):
    assert detect_format(shared_data / rel) == expected


def test_inspect_json(shared_data, capsys):
    assert main(["data", "inspect", str(shared_data / "samples" / "nih"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["studies"], out["patients"], out["images"]) == (24, 8, 24)
    assert out["views"] == {"PA": 21, "AP": 3}
    assert out["labels"]["Cardiomegaly"]["positive"] == 4
    # NIH labels every image for every mapped observation (Lung Opacity derived from them)
    assert out["labels"]["Lung Opacity"]["not_stated"] == 0
    assert out["labels"]["Enlarged Cardiomediastinum"]["not_stated"] == 24
    assert out["datasets"] == [
        {"path": str(shared_data / "samples" / "nih"), "format": "nih", "studies": 24}
    ]


def test_inspect_text_iu(shared_data, capsys):
    assert main(["data", "inspect", str(shared_data / "iu-xray")]) == 0
    out = capsys.readouterr().out
    assert "studies       3191" in out and "[iu]" in out and "LATERAL 705" in out


def test_inspect_duplicates(tmp_path, capsys):
    from PIL import Image

    for cls in ("Normal", "COVID"):
        (tmp_path / "ds" / cls).mkdir(parents=True)
    import numpy as np

    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 255, (16, 16), dtype=np.uint8)).resize((128, 128))
    image.save(tmp_path / "ds" / "Normal" / "a.png")
    image.save(tmp_path / "ds" / "COVID" / "a_copy.jpg", quality=80)
    other = Image.fromarray(rng.integers(0, 255, (16, 16), dtype=np.uint8)).resize((128, 128))
    other.save(tmp_path / "ds" / "Normal" / "b.png")
    code = main(
        [
            "data",
            "inspect",
            str(tmp_path / "ds"),
            "--duplicates",
            "--json",
            "--cache-dir",
            str(tmp_path / "cache"),
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["duplicates"] == {
        "groups": 1,
        "studies_in_groups": 2,
        "cross_source_groups": 0,
        "dropped": 1,
        "by_sources": {"ds": 1},
    }


def test_inspect_errors(tmp_path, shared_data, capsys):
    assert main(["data", "inspect", str(tmp_path / "missing")]) == 2
    assert "missing: no such file or folder" in capsys.readouterr().err
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    assert main(["data", "inspect", str(tmp_path / "x.csv")]) == 2
    assert "cannot tell the dataset format" in capsys.readouterr().err
    # several paths: the readable ones are inspected, the status says one failed
    assert (
        main(
            [
                "data",
                "inspect",
                str(tmp_path / "x.csv"),
                str(shared_data / "samples" / "nih"),
                "--json",
            ]
        )
        == 1
    )
    captured = capsys.readouterr()
    assert json.loads(captured.out)["studies"] == 24 and "x.csv" in captured.err
