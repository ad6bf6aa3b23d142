"""Fine-tuning: a tiny Janus overfits real radiographs, checkpoints, resumes, merges, generates."""

from __future__ import annotations

import json
import shutil

import pytest

from cxrpilot.data._study import Study, StudyImage
from cxrpilot.errors import InvalidDatasetError, ModelLoadError
from cxrpilot.models.janus import load
from cxrpilot.models.janus._finetune import FinetuneConfig, examples_from_studies, finetune

from .janus_tiny import radiograph_from_file, torch

REPORTS = [
    ("Patchy opacities in both lower lungs.", "Viral pneumonia.", None),
    ("Right lower lobe consolidation.", "Pneumonia.", "Cough and fever"),
    ("The heart is normal in size. The lungs are clear.", "No acute disease.", None),
    ("No pleural effusion or pneumothorax.", "Normal chest.", "Chest pain"),
]


@pytest.fixture(scope="module")
def studies(radiographs):
    return [
        Study(study_id=f"s{i}", patient_id=f"p{i}", source="covid-radiography",
              images=(StudyImage(r.source, f"img{i}", "PA"),),
              sections={"findings": f, "impression": imp, **({"indication": ind} if ind else {})})
        for i, (r, (f, imp, ind)) in enumerate(zip(radiographs, REPORTS))
    ]


def _config(**overrides) -> FinetuneConfig:
    base = {"method": "lora", "lora_rank": 64, "lora_alpha": 64, "lora_dropout": 0.0, "learning_rate": 3e-3,
                "epochs": 1000, "max_steps": 36, "batch_size": 4, "save_every": 18, "keep_checkpoints": 5, "seed": 0}
    return FinetuneConfig(**{**base, **overrides})


@pytest.fixture(scope="module")
def lora_run(tiny_janus_dir, studies, tmp_path_factory):
    out = tmp_path_factory.mktemp("ft") / "run"
    result = finetune(tiny_janus_dir, studies, out, val_studies=studies[:2], config=_config(),
                      merge=True, device="cpu", load_image=radiograph_from_file, progress=False)
    return out, result


@pytest.mark.slow
def test_lora_overfits_real_radiographs(lora_run):
    _, result = lora_run
    first, last = result.losses[0], sum(result.losses[-3:]) / 3
    assert result.steps == 36 and len(result.losses) == 36
    assert last < 0.2 * first, f"loss fell only from {first:.3f} to {last:.3f}"


@pytest.mark.slow
def test_merged_model_generates_the_learned_reports(lora_run, radiographs):
    _, result = lora_run
    reporter = load(result.merged_dir, device="cpu", dtype="float32")
    assert reporter.model_id == "janus:run" and reporter.version == "finetuned-step36"
    outputs = reporter.generate(radiographs, indications=[ind for *_, ind in REPORTS], max_new_tokens=40)
    assert [o.text for o in outputs] == [f"FINDINGS: {f}\n\nIMPRESSION: {i}" for f, i, _ in REPORTS]
    assert [o.findings_text for o in outputs] == [f for f, _, _ in REPORTS]
    assert [o.impression_text for o in outputs] == [i for _, i, _ in REPORTS]


@pytest.mark.slow
def test_run_log_and_checkpoints(lora_run):
    out, result = lora_run
    events = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "end"
    assert kinds.count("step") == 36
    assert events[0]["config"]["lora_rank"] == 64 and events[0]["n_train"] == 4
    assert [e["val_loss"] for e in events if e["event"] == "validation"] == [v["val_loss"] for v in result.validations]
    assert result.validations and result.validations[-1]["val_loss"] < 0.1
    assert (out / "checkpoint-18" / "adapter_model.safetensors").is_file()
    assert (out / "checkpoint-18" / "trainer_state.pt").is_file()
    assert (out / "final" / "adapter_config.json").is_file()


@pytest.mark.slow
def test_resume_continues_exactly(lora_run, tiny_janus_dir, studies, tmp_path):
    out, result = lora_run
    resumed_dir = tmp_path / "resumed"
    resumed_dir.mkdir()
    shutil.copytree(out / "checkpoint-18", resumed_dir / "checkpoint-18")
    resumed = finetune(tiny_janus_dir, studies, resumed_dir, val_studies=studies[:2], config=_config(),
                       resume=True, device="cpu", load_image=radiograph_from_file, progress=False)
    assert resumed.steps == 36 and len(resumed.losses) == 18
    assert resumed.losses == pytest.approx(result.losses[18:], rel=1e-4, abs=1e-6)
    from safetensors.torch import load_file

    a = load_file(str(out / "final" / "adapter_model.safetensors"))
    b = load_file(str(resumed_dir / "final" / "adapter_model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-6)
    assert json.loads((resumed_dir / "train_log.jsonl").read_text().splitlines()[0])["event"] == "resume"


def test_full_finetune_with_grad_accum_saves_a_loadable_model(tiny_janus_dir, studies, tmp_path):
    result = finetune(tiny_janus_dir, studies, tmp_path / "full",
                      config=FinetuneConfig(method="full", max_steps=2, batch_size=1, grad_accum=2,
                                            learning_rate=1e-3, save_every=None),
                      device="cpu", load_image=radiograph_from_file, progress=False)
    assert result.steps == 2 and result.merged_dir is None
    reporter = load(result.final_dir, device="cpu", dtype="float32")
    base = load(tiny_janus_dir, device="cpu", dtype="float32")
    changed = not torch.equal(reporter.model.lm_head.weight, base.model.lm_head.weight)
    frozen = torch.equal(reporter.model.model.vision_model.embeddings.patch_embedding.weight,
                         base.model.model.vision_model.embeddings.patch_embedding.weight)
    assert changed and frozen


@pytest.mark.parametrize(
    ("images", "sections", "expected"),
    [
        ((StudyImage("/a/lat.png", "l", "LATERAL"), StudyImage("/a/pa.png", "p", "PA")),
         {"findings": "Clear lungs.", "impression": "Normal."}, "/a/pa.png"),
        ((StudyImage("/a/x.png", "x", None),), {"impression": "Normal."}, "/a/x.png"),
        ((StudyImage(None, "x", "PA"),), {"findings": "Clear."}, "no image"),
        ((StudyImage("/a/x.png", "x", "PA"),), {"indication": "Cough"}, "no report text"),
    ],
)
def test_examples_from_studies(images, sections, expected):
    study = Study(study_id="s", patient_id="p", source="t", images=images, sections=sections)
    examples, skipped = examples_from_studies([study])
    if expected.startswith("/"):
        assert examples[0].image_path == expected and not skipped
        assert examples[0].answer.startswith(("FINDINGS: ", "IMPRESSION: "))
    else:
        assert not examples and skipped == {expected: 1}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "qlora"}, "method must be 'lora' or 'full', got 'qlora'"),
        ({"precision": "fp8"}, "precision must be 'auto', 'bf16' or 'fp32'"),
        ({"lora_rank": 0}, "lora_rank must be >= 1, got 0"),
        ({"lora_dropout": 1.0}, r"lora_dropout must be in \[0, 1\)"),
        ({"learning_rate": 0}, "learning_rate must be > 0"),
    ],
)
def test_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FinetuneConfig(**kwargs)


def test_finetune_refuses_to_clobber_or_resume_nothing(tiny_janus_dir, studies, tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("keep")
    with pytest.raises(ModelLoadError, match=r"output folder '.*busy' is not empty; pass resume=True"):
        finetune(tiny_janus_dir, studies, busy, progress=False)
    with pytest.raises(ModelLoadError, match=r"nothing to resume in '.*busy'"):
        finetune(tiny_janus_dir, studies, busy, resume=True, progress=False)
    assert (busy / "notes.txt").read_text() == "keep"
    no_text = [Study(study_id="s", patient_id="p", source="t", images=(StudyImage("/x.png", "x"),))]
    with pytest.raises(InvalidDatasetError, match=r"none of the 1 training studies .*'no report text': 1"):
        finetune(tiny_janus_dir, no_text, tmp_path / "new", progress=False)
    with pytest.raises(ModelLoadError, match=r"Janus model folder '.*missing' does not exist"):
        finetune(tmp_path / "missing", studies, tmp_path / "new2", progress=False)
