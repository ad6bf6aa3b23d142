"""The composer: report language only, absence only where assessed, nothing about what was not
assessed, hedges the labeler reads back, critical positives first, the indication answered."""

from __future__ import annotations

import random
import re

import pytest

from cxrpilot.draft import Finding
from cxrpilot.errors import NonFrontalViewError
from cxrpilot.models.composer import (
    METHODS,
    MODEL_WORDING,
    clean_report_text,
    clean_section,
    compose,
    indication_findings,
    likelihood_phrase,
)
from cxrpilot.models.composer._bank import BANK, NORMAL_IMPRESSION
from cxrpilot.models.composer._phrases import (
    ABSENT_NOUN,
    ABSENT_SENTENCE,
    NOUN,
    PRESENT,
    PRESENT_ITEM,
    PRESENT_LIKELY,
)
from cxrpilot.reports import label_report, label_text
from cxrpilot.vocabulary import CRITICAL_FINDINGS, OBSERVATIONS, Status

RULED = [n for n in OBSERVATIONS if n != "No Finding"]
# what the replacement expert model assesses (roughly): the composer must handle any subset
EXPERT_9 = ("Cardiomegaly", "Pleural Effusion", "Pneumothorax", "Atelectasis", "Edema", "Consolidation",
            "Lung Opacity", "Pneumonia", "Lung Lesion")
# words a report a radiologist signs never contains; "normal" study claims checked apart
FORBIDDEN = re.compile(r"(?i:\bmodel|probabilit|not assessed|assessed findings|\bassess|unassessed|"
                       r"\bexpert\b|\b0\.\d)|\bAI\b")
GLOBAL_NORMAL = re.compile(r"(?i)no acute (?:cardio\w*|intrathoracic|disease|process|abnormalit\w*|findings?)|"
                           r"\bnormal (?:study|exam|chest)|no abnormalit|(?:study|exam|chest) is (?:normal|unremarkable)")


def F(name, status, p=None):
    if p is None and status != "not_assessed":
        p = {"present": 0.95, "uncertain": 0.6, "absent": 0.02}[status]
    return Finding(name, status, p)


def mentioned(text: str) -> dict[str, int]:
    """The labeler's reading of the draft text: observation -> 1/0/-1 (mentioned ones only)."""
    labels = label_report(text)
    return {n: v for n, v in labels.items() if v is not None and n != "No Finding"}


def check_draft(findings: list[Finding], *, indication: str | None = None, method: str = "sentences") -> tuple[str, str]:
    """Compose, then check the two contracts of every draft: report language only, and the
    labeler reads back each assessed finding's status and nothing about the others."""
    findings_text, impression = compose(findings, indication=indication, method=method)
    text = f"FINDINGS: {findings_text}\n\nIMPRESSION: {impression}"
    assert not FORBIDDEN.search(text), text
    assert not MODEL_WORDING.search(text), text
    read = mentioned(text)
    by_name = {f.name: f for f in findings}
    for name in RULED:
        f = by_name.get(name)
        if f is None or f.status is Status.NOT_ASSESSED:
            assert name not in read, f"{name} is not assessed but the text mentions it: {text}"
        elif f.status is Status.PRESENT:
            assert read.get(name) == 1, f"{name} present, read {read.get(name)}: {text}"
        elif f.status is Status.UNCERTAIN:
            assert read.get(name) in (-1, 1), f"{name} uncertain, read {read.get(name)}: {text}"
        else:
            assert read.get(name) == 0, f"{name} absent, read {read.get(name)}: {text}"
    nf = by_name.get("No Finding")
    normal_allowed = (nf is not None and nf.status is Status.PRESENT
                      and all(n in by_name and by_name[n].assessed for n in CRITICAL_FINDINGS))
    if not normal_allowed:
        assert not GLOBAL_NORMAL.search(text), f"global normal without No Finding over all critical findings: {text}"
    return findings_text, impression


# --------------------------------------------------------------------------------------------
# wording, table-driven

@pytest.mark.parametrize(
    ("findings", "findings_re", "impression_re"),
    [
        ([F("Lung Opacity", "present", 0.96), F("Pneumonia", "present", 0.94), F("No Finding", "absent", 0.03)],
         r"^There is an airspace opacity, consistent with pneumonia\.$",
         r"^Airspace opacity, consistent with pneumonia\.$"),
        ([F("Lung Opacity", "present", 0.8), F("Pneumonia", "uncertain", 0.45)],
         r"airspace opacity; pneumonia cannot be excluded\.",
         r"^Airspace opacity; pneumonia cannot be excluded\.$"),
        ([F("Lung Opacity", "present", 0.95), F("Pneumonia", "uncertain", 0.6)],
         r"airspace opacity, which may represent pneumonia\.",
         r"^Airspace opacity, which may represent pneumonia\.$"),
        ([F("Lung Opacity", "uncertain", 0.6)], r"^Possible airspace opacity\.$", r"^Possible airspace opacity\.$"),
        ([F("Pleural Effusion", "uncertain", 0.3)], r"^Pleural effusion cannot be excluded\.$",
         r"cannot be excluded"),
        ([F("Pneumothorax", "absent"), F("Pleural Effusion", "absent")],
         r"^No pleural effusion or pneumothorax\.$", r"^No pleural effusion or pneumothorax\.$"),
        ([F("Cardiomegaly", "present", 0.7)], r"^Cardiomegaly\.$", r"^Likely cardiomegaly\.$"),
        # graded alike in both sections: "likely" below 0.9, not "consistent with"
        ([F("Pneumonia", "present", 0.65)], r"^The appearance likely represents pneumonia\.$", r"^Likely pneumonia\.$"),
        ([F("Pneumonia", "present", 0.95)], r"^The appearance is consistent with pneumonia\.$", r"^Pneumonia\.$"),
        ([F("Cardiomegaly", "present"), F("Pleural Effusion", "present"), F("Pneumothorax", "present")],
         r"pleural effusion\. There is a pneumothorax\. Cardiomegaly\.$",
         r"^1\. Pleural effusion\.\n2\. Pneumothorax\.\n3\. Cardiomegaly\.$"),
        ([F("Fracture", "present"), F("Support Devices", "present"), F("Edema", "present")],
         r"^Support devices are present\. There is pulmonary edema\. There is a fracture\.$",
         r"^1\. Support devices in place\.\n2\. Pulmonary edema\.\n3\. Fracture\.$"),  # critical first
        ([], r"^$", r"^$"),
        ([F("No Finding", "present", 0.9)], r"^$", r"^$"),
    ],
)
def test_compose_wording(findings, findings_re, impression_re):
    findings_text, impression = check_draft(findings)
    assert re.search(findings_re, findings_text), findings_text
    assert re.search(impression_re, impression), impression


@pytest.mark.parametrize("method", METHODS)
def test_usual_report_order(method):
    findings = [F(n, "present") for n in ("Fracture", "Cardiomegaly", "Pneumothorax", "Atelectasis", "Support Devices")]
    findings_text, _ = check_draft(findings, method=method)
    order = [findings_text.lower().index(w) for w in ("support devices", "atelectasis", "pneumothorax",
                                                       "cardiomegaly" if method == "sentences" else "heart", "fracture")]
    assert order == sorted(order), findings_text


@pytest.mark.parametrize(
    ("findings", "normal"),
    [
        ([F(n, "absent") for n in RULED] + [F("No Finding", "present")], True),
        ([F(n, "absent") for n in CRITICAL_FINDINGS] + [F("No Finding", "present")], True),
        # a critical finding not assessed: no global normal, whatever No Finding says
        ([F(n, "absent") for n in EXPERT_9] + [F("No Finding", "present")], False),
        ([F(n, "absent") for n in CRITICAL_FINDINGS if n != "Pneumothorax"] + [F("No Finding", "present")], False),
        ([F(n, "absent") for n in RULED] + [F("No Finding", "absent")], False),
        ([F(n, "absent") for n in RULED] + [F("No Finding", "uncertain")], False),
        # No Finding given as present beside a critical finding that is not absent (an inconsistent
        # producer): the critical finding wins
        ([F(n, "absent") for n in CRITICAL_FINDINGS if n != "Pneumothorax"]
         + [F("Pneumothorax", "uncertain", 0.4), F("No Finding", "present")], False),
        ([F(n, "absent") for n in CRITICAL_FINDINGS if n != "Cardiomegaly"]
         + [F("Cardiomegaly", "present"), F("No Finding", "present")], False),
    ],
)
@pytest.mark.parametrize("method", METHODS)
def test_global_normal_only_when_every_critical_finding_is_assessed_absent(findings, normal, method):
    _, impression = check_draft(findings, method=method)
    assert (NORMAL_IMPRESSION[0] in impression) is normal, impression
    assert impression  # pertinent negatives otherwise


def test_the_global_normal_guard_catches_the_composers_normal():
    """``check_draft``'s guard (no global normal unless No Finding covers every critical
    finding) would see the one normal sentence the composer writes."""
    assert GLOBAL_NORMAL.search(NORMAL_IMPRESSION[0])
    assert GLOBAL_NORMAL.search("No abnormality among the assessed findings.")


def test_pertinent_negatives_when_nothing_is_present():
    _, impression = check_draft([F("Pleural Effusion", "absent"), F("Pneumothorax", "absent"),
                                 F("No Finding", "present")])
    assert impression == "No pleural effusion or pneumothorax."


@pytest.mark.parametrize(
    ("indication", "findings", "first_re"),
    [
        ("fever, cough", [F("Cardiomegaly", "present"), F("Pneumonia", "absent"), F("Consolidation", "absent"),
                          F("Lung Opacity", "absent")], r"^1\. .*pneumonia.*\n2\. Cardiomegaly\.$"),
        ("fever, cough", [F("Pleural Effusion", "present"), F("Pneumonia", "uncertain", 0.6)],
         r"^1\. Possible pneumonia\.\n2\. Pleural effusion\.$"),
        ("line placement", [F("Pleural Effusion", "present"), F("Support Devices", "present"),
                            F("Pneumothorax", "absent")],
         r"^1\. Support devices in place\.\n2\. No pneumothorax\.\n3\. Pleural effusion\.$"),
        ("line placement", [F("Pleural Effusion", "present"), F("Pneumothorax", "absent")],
         r"^1\. No pneumothorax\.\n2\. Pleural effusion\.$"),
        ("fever, cough", [F(n, "absent") for n in EXPERT_9] + [F("No Finding", "present")],
         r"^No focal airspace opacity or consolidation to suggest pneumonia\. "),
        ("shortness of breath", [F("Cardiomegaly", "present"), F("Edema", "present")],
         r"^1\. Pulmonary edema\.\n2\. Cardiomegaly\.$"),
        (None, [F("Cardiomegaly", "present"), F("Edema", "present")], r"^1\. Cardiomegaly\.\n2\. Pulmonary edema\.$"),
    ],
)
def test_indication_answered_first(indication, findings, first_re):
    _, impression = check_draft(findings, indication=indication)
    assert re.search(first_re, impression), impression


@pytest.mark.parametrize(
    ("indication", "expected"),
    [("fever, cough", ("Pneumonia", "Consolidation", "Lung Opacity")),
     ("Line placement", ("Support Devices", "Pneumothorax")),
     ("PICC position", ("Support Devices", "Pneumothorax")),
     ("fall, rib pain", ("Fracture", "Pneumothorax")),
     ("routine preoperative", ()), ("", ()), (None, ())],
)
def test_indication_findings(indication, expected):
    assert indication_findings(indication) == expected


def test_unknown_method():
    with pytest.raises(ValueError, match=r"unknown composer method 'gpt'; expected one of sentences, templates"):
        compose([], method="gpt")


@pytest.mark.parametrize(
    ("probability", "status", "phrase"),
    [(0.95, Status.PRESENT, "consistent with"), (0.7, Status.PRESENT, "likely"),
     (None, Status.PRESENT, "consistent with"), (0.55, Status.UNCERTAIN, "possible"),
     (0.3, Status.UNCERTAIN, "cannot be excluded"), (None, Status.UNCERTAIN, "possible")],
)
def test_likelihood_phrase(probability, status, phrase):
    assert likelihood_phrase(probability, status) == phrase


def test_likelihood_phrase_rejects_absent():
    with pytest.raises(ValueError, match="present or uncertain"):
        likelihood_phrase(0.1, Status.ABSENT)


# --------------------------------------------------------------------------------------------
# every phrase, and many drafts

@pytest.mark.parametrize("name", RULED)
def test_every_template_reads_back_as_written(name):
    def read(t):
        return {k: v for k, v in label_text(t).items() if v is not None and k != "No Finding"}

    assert read(PRESENT[name]) == {name: 1}, PRESENT[name]
    if name in PRESENT_LIKELY:
        assert read(PRESENT_LIKELY[name]) == {name: 1}, PRESENT_LIKELY[name]
    assert read(PRESENT_ITEM.get(name, NOUN[name].capitalize() + ".")) == {name: 1}
    for hedge in (f"Possible {NOUN[name]}.", f"{NOUN[name].capitalize()} cannot be excluded."):
        assert read(hedge) == {name: -1}, hedge
    absent = f"No {ABSENT_NOUN[name]}." if name in ABSENT_NOUN else ABSENT_SENTENCE[name]
    assert read(absent) == {name: 0}, absent


def test_phrase_bank_is_small_and_reads_back():
    assert 10 <= len(BANK) <= 300
    for section, key, sentence, count in BANK:
        assert section in ("findings", "impression") and count >= 1
        read = {k: v for k, v in label_text(sentence).items() if v is not None and k != "No Finding"}
        assert read == dict(key), sentence
        assert not FORBIDDEN.search(sentence) and "XXXX" not in sentence


def _random_findings(rng: random.Random) -> list[Finding]:
    names = rng.sample(RULED, rng.randint(0, len(RULED)))
    out = []
    for name in names:
        status = rng.choice(["present", "uncertain", "absent", "not_assessed"])
        p = None if status == "not_assessed" else rng.choice([None, round(rng.random(), 2)])
        out.append(Finding(name, status, p))
    if rng.random() < 0.6:
        nothing = all(f.status in (Status.ABSENT, Status.NOT_ASSESSED) for f in out)
        out.append(Finding("No Finding", "present" if nothing and rng.random() < 0.8 else "absent", 0.5))
    return out


@pytest.mark.parametrize("method", METHODS)
def test_many_synthetic_drafts(method):
    """3,000 random combinations of findings and statuses (and every single finding in every
    status): report language only, and the labeler agrees with every assessed status."""
    rng = random.Random(12)
    cases = [[F(n, s)] for n in RULED for s in ("present", "uncertain", "absent")]
    cases += [[F(n, s) for n in EXPERT_9] for s in ("present", "uncertain", "absent")]
    cases += [_random_findings(rng) for _ in range(3000)]
    indications = [None, "fever, cough", "line placement", "shortness of breath", "trauma"]
    for k, findings in enumerate(cases):
        check_draft(findings, indication=indications[k % len(indications)], method=method)


def _check_real_drafts(images: list, every_output: bool) -> int:
    """Draft every image through the product path and check the two contracts of each draft
    (report language only; the labeler on the text agrees with every assessed status and
    mentions nothing else); returns how many (image, assessed finding) pairs were checked."""
    from cxrpilot import imaging, pipeline

    model = pipeline.load_drafter().model
    drafter = pipeline.ExpertDrafter(model, every_output=every_output)
    stated = drafted = 0
    for path in images:
        try:
            radiograph = imaging.load(path)
        except NonFrontalViewError:
            continue  # refused by the product path (its view check rates it lateral): no draft
        draft = pipeline.draft(radiograph, model=drafter)
        drafted += 1
        assert not FORBIDDEN.search(draft.text), (path.name, draft.text)
        assert not MODEL_WORDING.search(draft.text), (path.name, draft.text)
        read = mentioned(draft.text)
        for f in draft.findings:
            if f.name == "No Finding":
                continue
            if not f.assessed:
                assert f.name not in read, (path.name, f.name, draft.text)
            else:
                expected = {Status.PRESENT: (1,), Status.UNCERTAIN: (-1, 1), Status.ABSENT: (0,)}[f.status]
                assert read.get(f.name) in expected, (path.name, f, draft.text)
                stated += 1
    per_image = len(model.labels) - 1 if every_output else len(model.assessed)
    assert drafted >= 0.95 * len(images) and stated == drafted * per_image, (drafted, stated)
    return stated


def _images(folder) -> list:
    return sorted(p for p in folder.glob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".dcm"))


@pytest.mark.data
@pytest.mark.parametrize("every_output", [False, True], ids=["shipped", "every-output-evaluation-only"])
def test_drafts_of_every_shared_sample_image(shared_data, every_output):
    """Every image of the shared sample folders (NIH and other sources), drafted by the default
    model. The shipped model assesses no finding yet, so its drafts are empty and its half of
    the test checks little; the evaluation-only setting (every output of the network treated as
    assessed, :class:`cxrpilot.pipeline.ExpertDrafter`) gives drafts that state findings, so
    the contracts are checked on real model outputs."""
    images = _images(shared_data / "samples" / "nih") + _images(shared_data / "samples" / "misc")
    if not images:
        pytest.skip("no images in samples/nih or samples/misc")
    _check_real_drafts(images, every_output)


@pytest.mark.data
@pytest.mark.slow
def test_drafts_of_every_nih_image_every_output(shared_data):
    """The same contracts on every image of the shared NIH ChestX-ray14 folder (1,554 images,
    every output of the network treated as assessed: about 15,000 stated findings)."""
    images = _images(shared_data / "nih-chestxray14" / "images")
    if not images:
        pytest.skip("no images in nih-chestxray14/images")
    assert _check_real_drafts(images, True) > 0


# --------------------------------------------------------------------------------------------
# cleaning language-model text

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("FINDINGS: No pneumothorax.\nIMPRESSION: No acute disease.",
         "FINDINGS: No pneumothorax.\nIMPRESSION: No acute disease."),
        ("findings:   Lung opacity is present (model probability 0.96).   No effusion.",
         "FINDINGS: Lung opacity is present. No effusion."),
        (("FINDINGS: No abnormality among the assessed findings (model probability 0.95). Not assessed by "
         "this model: cardiomegaly, pneumothorax.\n\n\n\nIMPRESSION: Clear lungs."),
         "FINDINGS:\n\nIMPRESSION: Clear lungs."),
        ("IMPRESSION: 1. Cardiomegaly. 2. Expert analysis: edema present. 3. No pneumothorax.",
         "IMPRESSION: 1. Cardiomegaly. 3. No pneumothorax."),
        ("No pneumothorax. No pneumothorax. No pneumothorax. Heart size normal.",
         "No pneumothorax. Heart size normal."),
        ("This AI draft shows cardiomegaly. Mild aortic tortuosity.", "Mild aortic tortuosity."),
        ("Pain (aids) noted.", "Pain (aids) noted."),
        ("", ""),
    ],
)
def test_clean_report_text(text, expected):
    assert clean_report_text(text) == expected


def test_clean_report_text_rejects_non_text():
    with pytest.raises(TypeError, match="report text must be a str, got bytes"):
        clean_report_text(b"FINDINGS: none")


@pytest.mark.parametrize(
    ("text", "heading", "expected"),
    [
        ("Findings: The heart is enlarged (model probability 0.91). No effusion.", "FINDINGS",
         "The heart is enlarged. No effusion."),
        ("IMPRESSION:\n1. Cardiomegaly [p = 0.9]. 2. Not assessed by this model: edema.", "impression",
         "1. Cardiomegaly."),
        ("No abnormality among the assessed findings (model probability 0.95).", "FINDINGS", ""),
        ("Impression: kept, it is not this section's heading.", "FINDINGS",
         "IMPRESSION: kept, it is not this section's heading."),
        ("Lungs are clear.", "FINDINGS", "Lungs are clear."),
    ],
)
def test_clean_section(text, heading, expected):
    assert clean_section(text, heading) == expected
    assert clean_section(expected, heading) == expected  # idempotent
