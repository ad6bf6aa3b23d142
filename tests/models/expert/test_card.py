"""ModelCard: validation, JSON round trip, errors naming the file, the Markdown page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cxrpilot.errors import ModelLoadError
from cxrpilot.models.expert import ModelCard, Thresholds
from cxrpilot.models.expert._card import read_card, render_markdown, write_card

GOOD = {
    "model_id": "expert-test-res32-cxr1",
    "version": "0.0.1",
    "labels": ["No Finding", "Pneumonia"],
    "image_size": 32,
    "mean": 0.5,
    "std": 0.25,
    "temperatures": [1.0, 1.5],
    "thresholds": {"No Finding": {"low": 0.2, "high": 0.8}, "Pneumonia": {"low": 0.1, "high": 0.9}},
    "sha256": "0" * 64,
}


def test_round_trip(tmp_path: Path) -> None:
    card = ModelCard.from_dict(GOOD)
    assert card.labels == ("No Finding", "Pneumonia")
    assert card.thresholds["Pneumonia"] == Thresholds(0.1, 0.9)
    assert write_card(card, tmp_path) == tmp_path / "card.json"
    assert read_card(tmp_path / "card.json") == card
    assert (tmp_path / "model_card.md").read_text(encoding="utf-8") == render_markdown(card)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"labels": ["No Finding", "Pneumonitis"]}, r"unknown labels \['Pneumonitis'\]"),
        ({"labels": []}, r"at least one label"),
        ({"temperatures": [1.0]}, r"one positive temperature per label"),
        ({"temperatures": [1.0, 0.0]}, r"one positive temperature per label"),
        ({"thresholds": {"No Finding": {"low": 0.2, "high": 0.8}}}, r"cover exactly the labels"),
        ({"thresholds": {"No Finding": {"low": 0.9, "high": 0.1},
                         "Pneumonia": {"low": 0.1, "high": 0.9}}}, r"0 <= low <= high <= 1"),
        ({"image_size": 4}, r"image_size must be >= 8"),
        ({"std": 0}, r"std must be > 0"),
        ({"sha256": "abc"}, r"sha256 must be 64 hex digits"),
        ({"schema": 99}, r"card schema 99 is not supported"),
        ({"colour": "blue"}, r"unexpected card fields \['colour'\]"),
    ],
)
def test_bad_card_content(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ModelCard.from_dict({**GOOD, **change})


def test_missing_field() -> None:
    data = dict(GOOD)
    del data["sha256"]
    with pytest.raises(ValueError, match=r"missing card fields \['sha256'\]"):
        ModelCard.from_dict(data)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, r"model card '.*card\.json' not found"),
        ("{not json", r"'.*card\.json' is not a valid expert model card"),
        ("[1, 2]", r"expected a JSON object, got list"),
        (json.dumps({**GOOD, "labels": ["Cardiomegaly"], "temperatures": [1.0]}),
         r"thresholds must cover exactly"),
    ],
)
def test_read_card_errors_name_the_file(tmp_path: Path, content: str | None, message: str) -> None:
    if content is not None:
        (tmp_path / "card.json").write_text(content)
    with pytest.raises(ModelLoadError, match=message):
        read_card(tmp_path / "card.json")


def test_markdown_names_labels_and_use() -> None:
    text = render_markdown(ModelCard.from_dict(GOOD))
    assert "Not for clinical use" in text
    assert "| Pneumonia | yes | 1.500 | 0.100 | 0.900 |" in text
    assert "**not assessed**" in text


def test_assessed_subset_and_old_schema() -> None:
    card = ModelCard.from_dict({**GOOD, "assessed": ["Pneumonia"]})
    assert card.assessed == ("Pneumonia",)
    assert "| No Finding | no |" in render_markdown(card)
    old = {**GOOD, "schema": 1}
    old.pop("assessed", None)
    assert ModelCard.from_dict(old).assessed == card.labels  # schema 1: every output assessed
    with pytest.raises(ValueError, match=r"assessed findings \['Edema'\] are not among the outputs"):
        ModelCard.from_dict({**GOOD, "assessed": ["Edema"]})


def test_markdown_of_a_card_that_assesses_nothing_says_so() -> None:
    text = render_markdown(ModelCard.from_dict({**GOOD, "assessed": []}))
    assert "Assesses **no finding**: every one of the 14 CheXpert observations is **not assessed**" in text
    assert "Assesses: ." not in text
