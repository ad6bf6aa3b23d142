"""Fixtures for the dataset adapters: the real folder datasets, read once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxrpilot.data import Study, read_covid_chestxray, read_image_folders


@pytest.fixture(scope="session")
def covid_radiography(shared_data: Path) -> list[Study]:
    return read_image_folders(shared_data / "covid-radiography", source="covid-radiography")


@pytest.fixture(scope="session")
def pediatric(shared_data: Path) -> list[Study]:
    return read_image_folders(
        shared_data / "pediatric-pneumonia", source="pediatric-pneumonia", view="AP"
    )


@pytest.fixture(scope="session")
def covid_chestxray(shared_data: Path) -> list[Study]:
    return read_covid_chestxray(shared_data / "covid-chestxray")
