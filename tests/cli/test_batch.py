"""`cxrpilot batch`: argument errors are one clear line and exit status 2 (no Ray started)."""

from __future__ import annotations

from cxrpilot.cli import main


def test_a_missing_source_is_named(tmp_path, capsys) -> None:
    assert main(["batch", str(tmp_path / "nope"), "--out", str(tmp_path / "out")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_an_unset_token_variable_is_named_and_never_guessed(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("CXRPILOT_TEST_TOKEN", raising=False)
    status = main(["batch", "http://127.0.0.1:9/dicom-web", "--out", str(tmp_path / "out"),
                   "--token-env", "CXRPILOT_TEST_TOKEN"])
    assert status == 2
    assert "CXRPILOT_TEST_TOKEN" in capsys.readouterr().err
