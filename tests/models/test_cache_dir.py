"""One cache variable, CXRPILOT_CACHE_DIR; the former CXRPILOT_CACHE still read, with a warning."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from cxrpilot.models import CACHE_DIR_VARIABLE, cache_dir_from_env, cache_root
from cxrpilot.models.expert._cache import default_cache_dir


@pytest.mark.parametrize(
    ("env", "expert", "janus"),
    [
        ({"CXRPILOT_CACHE_DIR": "/c"}, "/c/expert-images", "/c"),
        ({"CXRPILOT_CACHE_DIR": "/c", "CXRPILOT_CACHE": "/old"}, "/c/expert-images", "/c"),  # new one wins
        ({}, "/xdg/cxrpilot/expert-images", "/xdg/cxrpilot"),  # one root for both
        ({"CXRPILOT_CACHE_DIR": ""}, "/xdg/cxrpilot/expert-images", "/xdg/cxrpilot"),
    ],
)
def test_cache_folders(monkeypatch, env, expert, janus):
    for name in ("CXRPILOT_CACHE_DIR", "CXRPILOT_CACHE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "/xdg")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert default_cache_dir() == Path(expert)
        assert cache_root() == Path(janus)  # the Janus decoder graphs' root


def test_former_variable_warns_and_names_the_replacement(monkeypatch):
    monkeypatch.delenv("CXRPILOT_CACHE_DIR", raising=False)
    monkeypatch.setenv("CXRPILOT_CACHE", "/old")
    with pytest.warns(DeprecationWarning, match=r"CXRPILOT_CACHE is deprecated; set CXRPILOT_CACHE_DIR instead"):
        assert default_cache_dir() == Path("/old")  # the folder itself, as before: no cache miss


def test_the_variable(monkeypatch):
    assert CACHE_DIR_VARIABLE == "CXRPILOT_CACHE_DIR"
    monkeypatch.setenv("CXRPILOT_CACHE_DIR", "~/x")
    assert cache_dir_from_env() == Path.home() / "x"
