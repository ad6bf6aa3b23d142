"""The default data directory is the per-user one, never inside a source checkout."""

from __future__ import annotations

from pathlib import Path

from cxrpilot.workstation import Settings

REPO = Path(__file__).resolve().parents[2]


def test_default_data_dir_is_per_user_and_not_created(monkeypatch, tmp_path):
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("CXRPILOT_DATA_DIR", raising=False)
    s = Settings(secret_key="s" * 40)
    assert s.data_dir == tmp_path / "xdg" / "cxrpilot"
    assert not s.data_dir.exists()
    monkeypatch.delenv("XDG_DATA_HOME")
    assert Settings(secret_key="s" * 40).data_dir == Path.home() / ".local" / "share" / "cxrpilot"
    assert not Settings(secret_key="s" * 40).data_dir.resolve().is_relative_to(REPO)


def test_an_old_in_checkout_data_dir_is_ignored_by_git():
    lines = (REPO / ".gitignore").read_text().splitlines()
    assert "/cxrpilot-data/" in lines
