"""Fixtures for the Janus tests (builders in janus_tiny.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .janus_tiny import (
    iu_report_texts,
    radiograph_from_file,
    train_tokenizer,
    write_original_checkpoint,
)


@pytest.fixture(scope="session")
def tiny_tokenizer_json(shared_data, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("janus-tokenizer")
    return train_tokenizer(iu_report_texts(shared_data), folder / "tokenizer.json")


@pytest.fixture(scope="session")
def original_checkpoint(tiny_tokenizer_json, tmp_path_factory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("janus-original") / "Janus-Pro-tiny"
    sd = write_original_checkpoint(folder, tiny_tokenizer_json)
    return folder, sd


@pytest.fixture(scope="session")
def tiny_janus_dir(original_checkpoint, tmp_path_factory) -> Path:
    """The tiny checkpoint converted to HF format by cxrpilot's importer."""
    from cxrpilot.models.janus import convert_checkpoint

    dst = tmp_path_factory.mktemp("janus-hf") / "janus-tiny"
    return convert_checkpoint(original_checkpoint[0], dst)


@pytest.fixture(scope="session")
def radiographs(shared_data) -> list:
    """Four real chest radiographs (two COVID, two normal; 224x224)."""
    root = shared_data / "covid-radiography"
    files = [root / "COVID" / "COVID-1.jpg", root / "COVID" / "COVID-10.jpg",
             root / "Normal" / "Normal-1.jpg", root / "Normal" / "Normal-10.jpg"]
    for f in files:
        if not f.is_file():
            pytest.skip(f"{f} not found")
    return [radiograph_from_file(f) for f in files]
