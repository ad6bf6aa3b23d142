"""Janus inference: loading, prompts, greedy generation, batching, drafts, fusion, errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from cxrpilot.draft import Draft, Finding
from cxrpilot.errors import ModelLoadError
from cxrpilot.models.janus import REPORT_QUESTION, build_question, load
from cxrpilot.models.janus._prompt import CHAT_FORMATS, format_answer, get_chat_format
from cxrpilot.pipeline import JanusDrafter
from cxrpilot.vocabulary import OBSERVATIONS, Status

from .janus_tiny import torch


@pytest.fixture(scope="module")
def reporter(tiny_janus_dir):
    return load(tiny_janus_dir, device="cpu", dtype="float32")


def crop(radiograph, rows: slice, cols: slice):
    """A non-square radiograph (exercises the aspect-preserving padding)."""
    return replace(radiograph, pixels=np.ascontiguousarray(radiograph.pixels[rows, cols]))


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, REPORT_QUESTION),
        ({"indication": "Cough and fever"}, f"Indication: Cough and fever. {REPORT_QUESTION}"),
        ({"indication": "  INDICATION: dyspnea.  "}, f"INDICATION: dyspnea. {REPORT_QUESTION}"),
        ({"expert_findings": ["Pneumonia", "Lung Opacity"]},
         f"Expert analysis: Pneumonia, Lung Opacity present. {REPORT_QUESTION}"),
        ({"expert_findings": [Finding("Pneumonia", "present", 0.91), Finding("Edema", "absent", 0.1),
                              Finding("Lung Opacity", "present", 0.95), Finding("Fracture", "not_assessed")]},
         f"Expert analysis: Pneumonia, Lung Opacity present. {REPORT_QUESTION}"),
        ({"expert_findings": [Finding("No Finding", "present", 0.8)]}, REPORT_QUESTION),
        ({"indication": "Fever", "expert_findings": ["Pleural Effusion"]},
         f"Indication: Fever. Expert analysis: Pleural Effusion present. {REPORT_QUESTION}"),
    ],
)
def test_build_question(kwargs, expected):
    assert build_question(**kwargs) == expected


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: build_question(expert_findings=["Pneumonitis"]), "unknown observation 'Pneumonitis'"),
        (lambda: get_chat_format("llava"), "unknown chat format 'llava'; expected one of janus-pro-cxr, janus-pro"),
        (lambda: format_answer("", "  "), "needs FINDINGS or IMPRESSION text"),
    ],
)
def test_prompt_helpers_reject_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    ("fmt", "expected_start", "expected_end"),
    [
        ("janus-pro-cxr", "You are a helpful language and vision assistant.", "\n\nUser: <IMG>\nQ\n\nAssistant:"),
        ("janus-pro", "You are a helpful language and vision assistant.", "\n\n<|User|>: <IMG>\nQ\n\n<|Assistant|>:"),
    ],
)
def test_chat_formats_follow_the_deepseek_template(fmt, expected_start, expected_end):
    text = CHAT_FORMATS[fmt].prompt("Q", image_text="<IMG>")
    assert text.startswith(expected_start) and text.endswith(expected_end)


def test_prompt_ids_have_bos_and_all_image_tokens(reporter):
    ids = reporter.prompt_ids(REPORT_QUESTION)
    tok = reporter.processor.tokenizer
    assert ids[0] == tok.bos_token_id
    image_id = reporter.model.config.image_token_id
    assert ids.count(image_id) == reporter.num_image_tokens
    first = ids.index(image_id)
    assert ids[first - 1] == tok.convert_tokens_to_ids(tok.boi_token)
    assert ids[first + reporter.num_image_tokens] == tok.convert_tokens_to_ids(tok.eoi_token)
    assert tok.decode(ids[first + reporter.num_image_tokens + 1:]).endswith(f"{REPORT_QUESTION}\n\nAssistant:")


def test_pixel_values_keep_the_aspect_ratio(reporter, radiographs):
    wide = crop(radiographs[0], slice(60, 160), slice(0, 224))  # 100 x 224
    pv = reporter.pixel_values([wide])
    side = reporter.image_size
    assert tuple(pv.shape) == (1, 3, side, side)
    # rows above and below the image are the processor's grey background: (127/255 - .5)/.5
    background = (127 / 255 - 0.5) / 0.5
    assert torch.allclose(pv[0, :, 0, :], torch.full_like(pv[0, :, 0, :], background), atol=1e-6)
    assert torch.allclose(pv[0, :, -1, :], torch.full_like(pv[0, :, -1, :], background), atol=1e-6)
    assert pv[0, :, side // 2, :].std() > 0.05  # the middle rows are the radiograph


def test_generate_writes_text_and_accounts_for_tokens(reporter, radiographs):
    (out,) = reporter.generate(radiographs[:1], max_new_tokens=12)
    assert out.source == radiographs[0].source
    assert out.question == REPORT_QUESTION
    assert 1 <= out.new_tokens <= 12
    assert out.prompt_tokens == len(reporter.prompt_ids(REPORT_QUESTION))
    assert out.text and out.text == out.text.strip()
    assert [f.name for f in out.findings] == list(OBSERVATIONS)
    assert set(out.timings) == {"preprocess", "generate", "parse"}
    assert out.batch_size == 1


def test_batched_generation_equals_unbatched(reporter, radiographs):
    images = [radiographs[0], crop(radiographs[1], slice(0, 224), slice(40, 180)),
              crop(radiographs[2], slice(50, 200), slice(0, 224)), radiographs[3]]
    indications = [None, "Shortness of breath for two days", None, "Fever"]
    experts = [None, None, ["Pneumonia", "Lung Opacity"], None]
    single = [reporter.generate([im], indications=[ind], expert_findings=[ex], max_new_tokens=16)[0]
              for im, ind, ex in zip(images, indications, experts)]
    batched = reporter.generate(images, indications=indications, expert_findings=experts,
                                max_new_tokens=16, batch_size=3)
    assert [o.batch_size for o in batched] == [3, 3, 3, 1]
    assert len({o.prompt_tokens for o in batched}) > 1  # prompts of different lengths: left padding used
    assert [o.text for o in batched] == [o.text for o in single]
    assert [o.new_tokens for o in batched] == [o.new_tokens for o in single]


def test_prompts_are_left_padded_to_a_multiple_of_eight_tokens_with_the_same_report(reporter, radiographs):
    from cxrpilot.models.janus._reporter import PROMPT_MULTIPLE

    assert PROMPT_MULTIPLE == reporter.prompt_multiple == 8
    ids = reporter.prompt_ids(build_question(indication="Cough"))
    width = -(-len(ids) // 8) * 8
    assert width > len(ids)  # this prompt is not a multiple of 8 already: the padding is exercised
    inputs = reporter.batch_inputs([ids], radiographs[:1], 8)
    assert inputs["input_ids"].shape[1] == width
    assert inputs["attention_mask"][0].tolist() == [0] * (width - len(ids)) + [1] * len(ids)
    assert inputs["input_ids"][0, width - len(ids):].tolist() == ids
    assert reporter.batch_inputs([ids], radiographs[:1])["input_ids"].shape[1] == len(ids)  # default: unpadded
    # the report is the same as without the padding (the padded positions are masked out)
    padded = reporter.generate(radiographs[:2], indications=["Cough", None], max_new_tokens=16)
    unpadded = replace(reporter, prompt_multiple=1).generate(radiographs[:2], indications=["Cough", None],
                                                             max_new_tokens=16)
    assert [o.text for o in padded] == [o.text for o in unpadded]
    assert [o.new_tokens for o in padded] == [o.new_tokens for o in unpadded]
    assert [o.prompt_tokens for o in padded] == [o.prompt_tokens for o in unpadded]


def test_expert_findings_reach_the_prompt_tokens(reporter, radiographs):
    expert = [Finding("Pneumonia", "present", 0.93), Finding("Lung Opacity", "present", 0.97),
              Finding("Pleural Effusion", "absent", 0.04)]
    fused, plain = reporter.generate(radiographs[:2], expert_findings=[expert, None], max_new_tokens=4)
    assert fused.question.startswith("Expert analysis: Pneumonia, Lung Opacity present. ")
    assert "Pleural Effusion" not in fused.question
    decoded = reporter.processor.tokenizer.decode(reporter.prompt_ids(fused.question))
    assert "Expert analysis: Pneumonia, Lung Opacity present. Give a radiology report" in decoded
    assert plain.question == REPORT_QUESTION
    assert fused.prompt_tokens > plain.prompt_tokens


class FixedExpert:
    """An expert model that states the same findings for every image."""

    model_id = "expert-fixed"

    def __init__(self, findings):
        self.findings = tuple(findings)

    def assess(self, radiograph):
        return self.findings


def test_draft_is_a_draft_with_all_findings(reporter, radiographs):
    expert = FixedExpert([Finding("Cardiomegaly", "present", 0.88), Finding("Pneumothorax", "absent", 0.02)])
    drafter = JanusDrafter(reporter, expert=expert, max_new_tokens=8)
    draft = drafter.draft(radiographs[0], indication="Chest pain")
    assert isinstance(draft, Draft) and draft.status == "draft"
    assert draft.model_id == "janus:janus-tiny" and draft.model_version.startswith("sha256:")
    assert drafter.model_id == "janus:janus-tiny+expert-fixed"
    assert {"model", "parse", "expert"} <= set(draft.timings)
    # the draft's text is what the model wrote for the same prompt
    out = reporter.generate([radiographs[0]], indications=["Chest pain"], expert_findings=[expert.findings],
                            max_new_tokens=8)[0]
    assert (draft.findings_text, draft.impression_text) == (out.findings_text, out.impression_text)
    assert [f.name for f in draft.findings] == list(OBSERVATIONS)
    assert draft.findings_text or draft.impression_text
    # what the text leaves unsaid is filled from the expert, never a silent "absent"
    assert draft.finding("Cardiomegaly").probability == pytest.approx(0.88)
    assert draft.finding("Pneumothorax").probability == pytest.approx(0.02)
    json.dumps(draft.to_dict())


def test_findings_are_read_from_the_text():
    from cxrpilot.models.janus._parse import read_report

    findings_text, impression_text, findings = read_report(
        "FINDINGS: Moderate right pleural effusion. No pneumothorax.\n\nIMPRESSION: Right pleural effusion."
    )
    assert "pleural effusion" in findings_text.lower() and impression_text
    by_name = {f.name: f for f in findings}
    assert by_name["Pleural Effusion"].status is Status.PRESENT
    assert by_name["Pneumothorax"].status is Status.ABSENT
    assert by_name["Fracture"].status is Status.NOT_ASSESSED  # not mentioned -> not assessed
    assert all(f.probability is None for f in findings)


def _broken_model_dir(kind, good, tmp_path):
    if kind == "missing":
        return tmp_path / "nowhere"
    if kind == "file":
        path = tmp_path / "model.bin"
        path.write_bytes(b"\0")
        return path
    bad = tmp_path / "bad"
    shutil.copytree(good, bad)
    if kind == "no-config":
        (bad / "config.json").unlink()
    elif kind == "original-format":
        (bad / "config.json").write_text(json.dumps({"model_type": "multi_modality"}))
    elif kind == "wrong-model":
        (bad / "config.json").write_text(json.dumps({"model_type": "llama"}))
    elif kind == "bad-json":
        (bad / "config.json").write_text("{not json")
    elif kind == "no-weights":
        (bad / "model.safetensors").unlink()
    elif kind == "no-processor":
        (bad / "processor_config.json").unlink()
    elif kind == "corrupt-weights":
        (bad / "model.safetensors").write_bytes(b"garbage" * 10)
    return bad


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("missing", r"Janus model folder '.*nowhere' does not exist; expected a folder with config.json"),
        ("file", r"Janus model path '.*model.bin' is a file; expected a folder"),
        ("no-config", (r"no config.json in '.*bad'; expected an HF-format Janus checkpoint \(for the original "
                      r"DeepSeek format run `cxrpilot models import-janus SRC DST` first\)")),
        ("original-format", (r"original DeepSeek-format checkpoint \(model_type 'multi_modality'\); run "
                            r"`cxrpilot models import-janus SRC DST` first")),
        ("wrong-model", r"has model_type 'llama'; expected 'janus'"),
        ("bad-json", r"cannot read '.*config.json'"),
        ("no-weights", r"no model weights in '.*bad'; expected one of model.safetensors"),
        ("no-processor", r"no processor_config.json / tokenizer.json"),
        ("corrupt-weights", r"cannot load the Janus checkpoint in '.*bad'"),
    ],
)
def test_load_errors_name_the_path_and_the_fix(kind, message, tiny_janus_dir, tmp_path):
    with pytest.raises(ModelLoadError, match=message):
        load(_broken_model_dir(kind, tiny_janus_dir, tmp_path), device="cpu")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"indications": ["a", "b"]}, "indications has 2 entries for 1 radiographs"),
        ({"expert_findings": []}, "expert_findings has 0 entries for 1 radiographs"),
        ({"max_new_tokens": 0}, "max_new_tokens and batch_size must be >= 1"),
    ],
)
def test_generate_rejects_bad_arguments(reporter, radiographs, kwargs, message):
    with pytest.raises(ValueError, match=message):
        reporter.generate(radiographs[:1], **kwargs)


def test_load_honours_dtype_and_chat_format(tiny_janus_dir):
    reporter = load(tiny_janus_dir, device="cpu", dtype="bfloat16", chat_format="janus-pro")
    assert reporter.dtype == torch.bfloat16
    assert reporter.chat_format.user == "<|User|>"
    with pytest.raises(ValueError, match="unknown dtype 'float99'"):
        load(tiny_janus_dir, device="cpu", dtype="float99")


def test_import_is_light():
    code = "import sys, cxrpilot.models.janus; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
