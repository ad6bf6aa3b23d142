"""The Janus path's draft text is report language only, on every decode path (issue 12).

A tiny Janus is fine-tuned (cxrpilot's own ``finetune``, LoRA, merged) on real radiographs
whose reports carry the machine wording of the old drafts ("(model probability 0.96)",
"Not assessed by this model: ..."), as a model trained on such drafts would learn to write
them. Its greedy output — through transformers' ``generate`` and through the int8/int4 ONNX
Runtime decoder — is drafted by :class:`cxrpilot.pipeline.JanusDrafter` (built by
``load_drafter``, as the CLI and the workstation build it) with the shipped expert network
fused in: the text must hold report language only, the structured findings the facts.
"""

from __future__ import annotations

import json
import re
import shutil

import pytest

from cxrpilot.data import Study, StudyImage
from cxrpilot.models import expert as expert_models
from cxrpilot.models.composer import MODEL_WORDING
from cxrpilot.models.janus import FinetuneConfig, build_question, finetune
from cxrpilot.pipeline import JanusDrafter, load_drafter
from cxrpilot.vocabulary import Status

from .janus_tiny import radiograph_from_file

# What the reports the model learns from say: report sentences mixed with machine facts.
FINDINGS = ("Right lower lobe opacity (model probability 0.96). No pleural effusion. "
            "Not assessed by this model: pneumothorax, fracture.")
IMPRESSION = "Right lower lobe pneumonia. AI draft, model probability 0.91."
#: Prompts vary in training, so that the model writes the same report whatever the prompt
#: says (the drafter's prompt names the expert's present findings).
INDICATIONS = (None, "Cough and fever", "Lung Opacity, Pneumonia present")
STEPS = 72
#: The same report with the machine facts taken out: what the draft's text must be.
CLEAN_TEXT = "FINDINGS: Right lower lobe opacity. No pleural effusion.\n\nIMPRESSION: Right lower lobe pneumonia."
#: What the report text states, as the draft's structured findings must keep it.
STATED = {"Lung Opacity": Status.PRESENT, "Pneumonia": Status.PRESENT, "Pleural Effusion": Status.ABSENT,
          "No Finding": Status.ABSENT}
#: Words an evaluator must never see in a draft's text (the issue's list, whole words).
MODEL_WORDS = re.compile(r"(?i:\bmodel\b|probabilit|not assessed|assessed findings|\bdraft\b)|\bAI\b")


@pytest.fixture(scope="module")
def worded_janus_dir(tiny_janus_dir, radiographs, tmp_path_factory):
    """The tiny Janus, fine-tuned until it writes the worded report for every radiograph."""
    studies = [Study(study_id=f"s{i}-{j}", patient_id=f"p{i}", source="covid-radiography",
                     images=(StudyImage(r.source, f"img{i}", "PA"),),
                     sections={"findings": FINDINGS, "impression": IMPRESSION,
                               **({"indication": indication} if indication else {})})
               for i, r in enumerate(radiographs) for j, indication in enumerate(INDICATIONS)]
    config = FinetuneConfig(method="lora", lora_rank=64, lora_alpha=64, lora_dropout=0.0, learning_rate=3e-3,
                            epochs=1000, max_steps=STEPS, batch_size=4, save_every=None, seed=0)
    out = tmp_path_factory.mktemp("janus-worded") / "worded"
    result = finetune(tiny_janus_dir, studies, out, config=config, merge=True, device="cpu",
                      load_image=radiograph_from_file, progress=False)
    return result.merged_dir


@pytest.fixture(scope="module")
def every_output_expert_dir(tmp_path_factory):
    """The shipped expert network with a card that assesses every output (what
    ``ExpertDrafter(every_output=True)`` does, evaluation only): the shipped card assesses
    nothing yet, and fused findings need probabilities to carry."""
    shipped = expert_models.load(None)
    folder = tmp_path_factory.mktemp("expert-every-output") / shipped.model_id
    shutil.copytree(shipped.path, folder)
    card = json.loads((folder / "card.json").read_text(encoding="utf-8"))
    card["assessed"] = list(shipped.labels)
    (folder / "card.json").write_text(json.dumps(card), encoding="utf-8")
    return folder


def raw_generation(reporter, radiograph, question: str, max_new_tokens: int = 80) -> str:
    """What the model writes for ``question``, decoded as is: transformers' ``generate`` on
    the reporter's own inputs and generation config, nothing cleaned."""
    import torch

    inputs = reporter.batch_inputs([reporter.prompt_ids(question)], [radiograph])
    with torch.inference_mode():
        rows = reporter.model.generate(**inputs, generation_config=reporter.generation_config(max_new_tokens))
    new = rows[0, inputs["input_ids"].shape[1]:]
    return reporter.processor.tokenizer.decode(new, skip_special_tokens=True).strip()


@pytest.mark.parametrize("quantize", [None, "int8", "int4"])
def test_janus_draft_text_is_report_language_and_the_findings_keep_the_facts(
        worded_janus_dir, every_output_expert_dir, radiographs, quantize):
    drafter = load_drafter(f"janus:{worded_janus_dir}", expert=str(every_output_expert_dir), quantize=quantize)
    assert isinstance(drafter, JanusDrafter) and drafter.reporter.quantization == quantize
    expert = drafter.expert
    assert set(expert.assessed) == set(expert.labels)
    for radiograph in radiographs:
        draft = drafter.draft(radiograph)
        by_expert = {f.name: f for f in expert.assess(radiograph)}
        # the model itself writes the machine wording (torch weights, the drafter's prompt) ...
        question = build_question(expert_findings=list(by_expert.values()))
        raw = raw_generation(drafter.reporter, radiograph, question)
        assert "(model probability 0.96)" in raw and "Not assessed by this model" in raw and "AI draft" in raw
        # ... and the draft's text, whichever decoder wrote it, holds the report sentences only
        assert draft.text == CLEAN_TEXT
        assert not MODEL_WORDS.search(draft.text) and not MODEL_WORDING.search(draft.text)
        assert not MODEL_WORDS.search(draft.findings_text + " " + draft.impression_text)
        # the structured part keeps the facts: the text's statuses with the expert's probabilities
        for name, status in STATED.items():
            stated = draft.finding(name)
            assert stated.status is status, name
            assert stated.probability == pytest.approx(by_expert[name].probability), name
        # a finding the worded text listed as "not assessed" is never read as present from it:
        # it is the expert's own finding (Fracture: no expert output, so not assessed)
        assert draft.finding("Pneumothorax") == by_expert["Pneumothorax"]
        assert draft.finding("Fracture").status is Status.NOT_ASSESSED
        assert draft.model_id == drafter.reporter.model_id and draft.model_version == drafter.reporter.version
        facts = json.loads(json.dumps(draft.to_dict()))
        assert {f["name"]: f["probability"] for f in facts["findings"]}["Lung Opacity"] == pytest.approx(
            by_expert["Lung Opacity"].probability)
