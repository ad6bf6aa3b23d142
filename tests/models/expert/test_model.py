"""The shipped expert model: loading, card consistency, predictions on real images, errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from cxrpilot.draft import Finding
from cxrpilot.errors import ModelLoadError, UnknownModelError
from cxrpilot.models import expert
from cxrpilot.models.expert._model import WEIGHTS_DIR, sha256_file
from cxrpilot.vocabulary import OBSERVATIONS, Status

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


@pytest.fixture(scope="module")
def model() -> expert.ExpertModel:
    return expert.load()


@pytest.fixture(scope="module")
def real_images(shared_data: Path) -> dict[str, list]:
    """Six pneumonia and six normal radiographs of each square source (fixed picks)."""
    from cxrpilot import imaging

    picks = {
        "pneumonia": sorted((shared_data / "pediatric-pneumonia/train/PNEUMONIA").glob("*.jpg"))[:6]
        + sorted((shared_data / "covid-radiography/COVID").glob("*.jpg"))[:6],
        "normal": sorted((shared_data / "pediatric-pneumonia/train/NORMAL").glob("*.jpg"))[:6]
        + sorted((shared_data / "covid-radiography/Normal").glob("*.jpg"))[-6:],
    }
    return {k: [imaging.load(p, check=False) for p in v] for k, v in picks.items()}


def test_default_is_shipped(model: expert.ExpertModel) -> None:
    assert expert.DEFAULT_MODEL in expert.available_models()
    assert expert.available_models() == [expert.DEFAULT_MODEL]  # the old model was replaced
    assert model.model_id == expert.DEFAULT_MODEL
    assert set(model.assessed) <= set(model.labels) and "No Finding" not in model.assessed
    assert model.has_maps
    assert expert.load("default").model_id == model.model_id


def test_card_matches_weights(model: expert.ExpertModel) -> None:
    card = model.card
    weights = WEIGHTS_DIR / card.model_id / card.weights_file
    assert sha256_file(weights) == card.sha256
    assert f"res{card.image_size}" in card.model_id and card.image_size >= 224
    assert card.labels == tuple(n for n in OBSERVATIONS if n in card.labels)  # vocabulary order
    assert "not for clinical use" in card.intended_use.lower()
    nih = card.metrics["test"]["nih-chestxray14"]
    for name in card.labels:
        t = card.thresholds[name]
        assert 0 <= t.low <= t.high <= 1
        m = nih[name]
        assert m["ci_low"] <= m["auc"] <= m["ci_high"]
    # the assessment rule, applied to the card's own held-out numbers
    from cxrpilot.models.expert._train import choose_assessed

    assert card.assessed == choose_assessed(card.metrics["test"], card.metrics["validation"])
    names = {s["name"] for s in card.training["sources"]}
    assert names == {"nih-chestxray14", "covid-radiography", "pediatric-pneumonia", "covid-chestxray"}
    assert set(card.metrics["maps"]) >= {"Cardiomegaly", "Pleural Effusion", "Pneumothorax"}
    assert (WEIGHTS_DIR / card.model_id / "model_card.md").is_file()


#: NIH test-split images (held-out patients), the first six by name of each kind.
NIH_NORMALS = ("00001281_000", "00001303_001", "00001304_001", "00001323_001", "00001323_002",
               "00001445_000")
NIH_ABNORMALS = ("00000072_000", "00000830_000", "00000845_000", "00000865_006", "00001039_005",
                 "00001437_012")  # a labelled finding other than pneumonia


@pytest.mark.data
def test_no_finding_output_ranks_normals_above_abnormals(model, shared_data) -> None:
    """The network's No Finding output (an input to the No Finding rule, never asserted by
    itself) is higher for NIH normals than for NIH images with a labelled finding."""
    from cxrpilot import imaging

    def proba(names):
        images = [imaging.load(shared_data / "nih-chestxray14" / "images" / f"{n}.jpg")
                  for n in names]
        return model.predict_proba(images)[:, model.labels.index("No Finding")]

    assert proba(NIH_NORMALS).mean() > proba(NIH_ABNORMALS).mean() + 0.2


@pytest.mark.data
def test_batch_equals_single(model, real_images) -> None:
    batch = real_images["pneumonia"][:4] + real_images["normal"][:4]
    together = model.predict_proba(batch)
    one_by_one = np.concatenate([model.predict_proba([rg]) for rg in batch])
    assert together.shape == (8, len(model.labels))
    np.testing.assert_allclose(together, one_by_one, rtol=1e-4, atol=1e-5)
    assert ((together >= 0) & (together <= 1)).all()
    # the same probabilities from the inputs and raw outputs (what the quality benchmark runs)
    np.testing.assert_allclose(model.calibrate(model.predict_logits(model.preprocess(batch))),
                               together)


@pytest.mark.data
def test_assess_gives_all_14_and_marks_the_rest_not_assessed(model, real_images) -> None:
    findings = model.assess(real_images["pneumonia"][0])
    assert [f.name for f in findings] == list(OBSERVATIONS)
    for f in findings:
        assert isinstance(f, Finding)
        if f.name in model.assessed:
            assert f.status is not Status.NOT_ASSESSED and f.probability is not None
        elif f.name != "No Finding":
            assert f.status is Status.NOT_ASSESSED and f.probability is None
    # Support Devices is never assessed, so No Finding is never asserted
    assert findings[0].status is not Status.PRESENT


#: NIH test-split images (held-out patients) with the label named, fixed picks: the first
#: such images by name that carry no other critical label.
NIH_PICKS = {
    "Cardiomegaly": "00000845_000",
    "Pleural Effusion": "00001437_012",
}


@pytest.mark.data
@pytest.mark.parametrize("finding", sorted(NIH_PICKS))
def test_labelled_nih_images_come_out_with_their_finding(model, shared_data, finding) -> None:
    from cxrpilot import imaging

    if finding not in model.assessed:  # the capability is missing: say so in every test run
        auc = model.card.metrics["test"]["nih-chestxray14"][finding]["auc"]
        pytest.xfail(f"{finding} is not assessed by {model.model_id} (NIH test AUC {auc:.3f} "
                     "< 0.80): issue 11 is not done")
    rg = imaging.load(shared_data / "nih-chestxray14" / "images" / f"{NIH_PICKS[finding]}.jpg")
    findings, maps = model.assess_with_maps(rg)
    by_name = {f.name: f for f in findings}
    assert by_name[finding].status is Status.PRESENT
    assert by_name["No Finding"].status is Status.ABSENT
    assert finding in {m.name for m in maps}


@pytest.mark.data
@pytest.mark.xfail(strict=True, reason=(
    "measured: the shipped model's Edema map does not follow a mirrored image (correlation with "
    "the mirrored map 0.17, with the unmirrored 0.32): its maps are mostly a position prior. "
    "Issue 11 is open; a model whose maps pass makes this XPASS, and the marker goes."))
def test_maps_line_up_with_the_image(model, shared_data) -> None:
    """A mirrored image gives a mirrored map (the map follows the anatomy, not a fixed place)."""
    from dataclasses import replace

    from cxrpilot import imaging

    rg = imaging.load(shared_data / "nih-chestxray14" / "images" / f"{NIH_PICKS['Pleural Effusion']}.jpg")
    flipped = replace(rg, pixels=np.ascontiguousarray(rg.pixels[:, ::-1]))
    names = list(model.assessed)  # maps are only ever shown for assessed findings
    if not names:
        pytest.xfail(f"{model.model_id} assesses no finding, so it shows no map")
    for m, m_f in zip(model.locate(rg, names), model.locate(flipped, names), strict=True):
        a, b = np.asarray(m.grid), np.asarray(m_f.grid)
        assert a.shape == b.shape
        mirrored = np.corrcoef(a[:, ::-1].ravel(), b.ravel())[0, 1]
        unmirrored = np.corrcoef(a.ravel(), b.ravel())[0, 1]
        assert mirrored > 0.8 and mirrored > unmirrored, (m.name, mirrored, unmirrored)


def test_locate_refuses_names_that_are_not_outputs(model, rg1_uncr) -> None:
    from cxrpilot import imaging

    with pytest.raises(ValueError, match=r"cannot map \['Fracture'\].*not among its outputs"):
        model.locate(imaging.load(rg1_uncr), ["Fracture"])


@pytest.mark.parametrize(
    ("probability", "expected"),
    [(0.0, Status.ABSENT), (0.999, Status.PRESENT)],
)
def test_status_from_thresholds(model, probability: float, expected: Status) -> None:
    assert model.status_of("Pneumonia", probability) is expected
    t = model.card.thresholds["Pneumonia"]
    assert model.status_of("Pneumonia", (t.low + t.high) / 2) is Status.UNCERTAIN


def test_predict_rejects_non_radiographs(model) -> None:
    with pytest.raises(TypeError, match=r"item 0 is not a Radiograph"):
        model.predict_proba([np.zeros((8, 8))])


@pytest.fixture()
def model_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "m"
    shutil.copytree(WEIGHTS_DIR / expert.DEFAULT_MODEL, folder,
                    ignore=shutil.ignore_patterns("*.safetensors"))
    return folder


def _corrupt_weights(folder: Path, *, fix_sha: bool) -> None:
    onnx = folder / "model.onnx"
    data = bytearray(onnx.read_bytes())
    onnx.write_bytes(bytes(data[: len(data) // 3]))  # truncated
    if fix_sha:
        card = json.loads((folder / "card.json").read_text())
        card["sha256"] = sha256_file(onnx)
        (folder / "card.json").write_text(json.dumps(card))


@pytest.mark.parametrize(
    ("damage", "error", "message"),
    [
        ("none", None, None),
        ("truncate", ModelLoadError, r"model\.onnx' have sha256 .* but the card states"),
        ("truncate+fix-sha", ModelLoadError, r"model\.onnx' are not a valid ONNX model"),
        ("delete-weights", ModelLoadError, r"model\.onnx' not found"),
        ("delete-card", ModelLoadError, r"card\.json' not found"),
        ("bad-card", ModelLoadError, r"card\.json' is not a valid expert model card"),
    ],
)
def test_load_folder_errors(model_copy: Path, damage: str, error, message) -> None:
    if damage.startswith("truncate"):
        _corrupt_weights(model_copy, fix_sha=damage.endswith("fix-sha"))
    elif damage == "delete-weights":
        (model_copy / "model.onnx").unlink()
    elif damage == "delete-card":
        (model_copy / "card.json").unlink()
    elif damage == "bad-card":
        (model_copy / "card.json").write_text('{"model_id": 1}')
    if error is None:
        assert expert.load(model_copy).model_id == expert.DEFAULT_MODEL
        assert expert.load(str(model_copy / "card.json")).model_id == expert.DEFAULT_MODEL
    else:
        with pytest.raises(error, match=message):
            expert.load(model_copy)


@pytest.mark.data
@pytest.mark.parametrize("card_edit", ["schema-1", "every-output"])
def test_a_card_that_assesses_every_output_assesses_real_images(model_copy: Path, real_images, card_edit) -> None:
    """A schema-1 card (every output assessed, No Finding among them) assesses as the rule
    says: every output with its status and probability, No Finding by the No Finding rule."""
    card = json.loads((model_copy / "card.json").read_text())
    if card_edit == "schema-1":
        card["schema"] = 1
        card.pop("assessed")
    else:
        card["assessed"] = card["labels"]
    (model_copy / "card.json").write_text(json.dumps(card))
    every = expert.load(model_copy)
    assert "No Finding" in every.assessed
    for image in real_images["pneumonia"][:2] + real_images["normal"][:2]:
        findings = {f.name: f for f in every.assess(image)}
        proba = dict(zip(every.labels, every.predict_proba([image])[0], strict=True))
        for name in every.labels:
            if name != "No Finding":
                assert findings[name].status is every.status_of(name, proba[name])
                assert findings[name].probability == pytest.approx(proba[name])
        # Support Devices and Fracture are no outputs: never a normal image, never "present"
        assert findings["No Finding"].status is not Status.PRESENT
        assert findings["Fracture"].status is Status.NOT_ASSESSED


@pytest.mark.parametrize(
    ("name", "error", "message"),
    [
        ("resnet-imaginary", UnknownModelError,
         rf"unknown expert model 'resnet-imaginary'; available: .*{expert.DEFAULT_MODEL}"),
        ("/nonexistent/model", ModelLoadError, r"'/nonexistent/model' does not exist"),
        ("./missing-folder", ModelLoadError, r"'./missing-folder' does not exist"),
        (Path("/nonexistent"), ModelLoadError, r"'/nonexistent' does not exist"),
    ],
)
def test_load_bad_names(name, error, message) -> None:
    with pytest.raises(error, match=message):
        expert.load(name)


def test_load_a_file_that_is_not_a_model(tmp_path: Path) -> None:
    f = tmp_path / "x.txt"
    f.write_text("hi")
    with pytest.raises(ModelLoadError, match=r"is not a model folder"):
        expert.load(f)
