"""Report metrics: agreement with pycocoevalcap on real IU reports, hand-computed values."""

from __future__ import annotations

import contextlib
import io
import math
import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from cxrpilot.errors import InvalidInputError, MissingDependencyError, ModelLoadError
from cxrpilot.evaluation import REPORT_METRICS, ptb_tokenize, report_metric_scores, report_metrics

needs_java = pytest.mark.skipif(shutil.which("java") is None, reason="java is not installed")
pytestmark = needs_java


def iu_sections(data: Path, limit: int) -> list[tuple[str, str]]:
    """(FINDINGS, IMPRESSION) of the first ``limit`` IU reports that have both."""
    pairs = []
    for f in sorted((data / "iu-xray" / "reports").glob("*.xml"), key=lambda p: int(p.stem)):
        s = {a.get("Label"): (a.text or "").strip() for a in ET.parse(f).getroot().iter("AbstractText")}
        if s.get("FINDINGS") and s.get("IMPRESSION"):
            pairs.append((s["FINDINGS"], s["IMPRESSION"]))
        if len(pairs) == limit:
            break
    return pairs


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Heart size is normal.", "heart size is normal"),
        ("No pneumothorax, no effusion; lungs clear!", "no pneumothorax no effusion lungs clear"),
        ("T-spine degenerative change, 1.5 cm nodule", "t-spine degenerative change 1.5 cm nodule"),
        # pycocoevalcap lower-cases first, so its "-LRB-" filter never matches: kept as is
        ("Catheter (left) in place", "catheter -lrb- left -rrb- in place"),
        ("XXXX   normal", "xxxx normal"),
        ("line\fbreak\u2028and\rmore", "line break and more"),
        ("", ""),
    ],
)
def test_ptb_tokenize_examples(text, tokens):
    assert ptb_tokenize([text, "stays aligned."]) == [tokens, "stays aligned"]


def test_ptb_tokenize_equals_pycocoevalcap_tokenizer(shared_data):
    from pycocoevalcap.tokenizer import ptbtokenizer

    if not os.access(Path(ptbtokenizer.__file__).parent, os.W_OK):
        pytest.skip("pycocoevalcap's PTBTokenizer needs to write into its install folder")
    texts = [t for pair in iu_sections(shared_data, 300) for t in pair]
    ref = ptbtokenizer.PTBTokenizer().tokenize({i: [{"caption": t}] for i, t in enumerate(texts)})
    assert ptb_tokenize(texts) == [ref[i][0] for i in range(len(texts))]


def reference_scores(preds: list[str], refs: list[list[str]]) -> tuple[dict, dict]:
    """pycocoevalcap's own pipeline, as COCOEvalCap.evaluate runs it."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.rouge.rouge import Rouge

    gts = {i: ptb_tokenize(r) for i, r in enumerate(refs)}
    res = {i: ptb_tokenize([p]) for i, p in enumerate(preds)}
    corpus, per = {}, {}
    with contextlib.redirect_stdout(io.StringIO()):
        b, bs = Bleu(4).compute_score(gts, res)
    for n in range(4):
        corpus[f"BLEU-{n + 1}"], per[f"BLEU-{n + 1}"] = b[n], bs[n]
    m = Meteor()
    corpus["METEOR"], per["METEOR"] = m.compute_score(gts, res)
    corpus["ROUGE-L"], per["ROUGE-L"] = Rouge().compute_score(gts, res)
    corpus["CIDEr-D"], per["CIDEr-D"] = Cider().compute_score(gts, res)
    return corpus, per


@pytest.mark.slow
@pytest.mark.data
def test_agreement_with_pycocoevalcap_on_iu_reports(shared_data):
    """FINDINGS scored against IMPRESSION of 120 real IU reports, one and two references."""
    pairs = iu_sections(shared_data, 121)
    preds = [f for f, _ in pairs[:120]]
    refs = [[imp] if k % 3 else [imp, pairs[k + 1][1]] for k, (_, imp) in enumerate(pairs[:120])]
    want, want_per = reference_scores(preds, refs)
    got = report_metrics(preds, refs)
    got_per = report_metric_scores(preds, refs, metrics=["BLEU-4", "ROUGE-L", "CIDEr-D"])
    assert list(got) == list(REPORT_METRICS)
    for name in REPORT_METRICS:
        assert got[name] == pytest.approx(want[name], abs=1e-12), name
    for name, values in got_per.items():
        np.testing.assert_allclose(values, want_per[name], atol=1e-12, err_msg=name)
    assert 0.0 < got["BLEU-1"] < 1.0 and 0.0 < got["METEOR"] < 1.0


def test_hand_computed_bleu1_and_rouge_l():
    """'the heart is normal' vs 'the heart size is normal': unigram precision 4/4, brevity
    penalty exp(1 - 5/4); LCS 4, P = 1, R = 0.8, F(beta=1.2) = 2.44 * 0.8 / (0.8 + 1.44)."""
    m = report_metrics(["The heart is normal."], ["The heart size is normal."],
                       metrics=["BLEU-1", "ROUGE-L"])
    assert m["BLEU-1"] == pytest.approx(math.exp(1 - 5 / 4), abs=1e-8)
    assert m["ROUGE-L"] == pytest.approx(2.44 * 0.8 / (0.8 + 1.44), abs=1e-12)


def test_empty_prediction_scores_zero_instead_of_crashing():
    per = report_metric_scores(["", "No effusion."], ["Heart is normal.", "No effusion."],
                               metrics=["ROUGE-L", "CIDEr-D", "BLEU-1"])
    assert per["ROUGE-L"].tolist() == [0.0, 1.0]
    assert per["CIDEr-D"][0] == 0.0 and per["BLEU-1"][0] == 0.0


@pytest.mark.parametrize(
    ("preds", "refs", "kwargs", "error", "match"),
    [
        (["a"], ["a", "b"], {}, InvalidInputError, "predictions has 1 texts but references has 2"),
        ("a report", ["a"], {}, InvalidInputError, "not one string"),
        ([1], ["a"], {}, InvalidInputError, r"predictions\[0\] must be a string; got int"),
        (["a"], [[]], {}, InvalidInputError, r"references\[0\] is an empty list"),
        ([], [], {}, InvalidInputError, "predictions is empty"),
        (["a"], ["a"], {"metrics": ["BLEU-5"]}, InvalidInputError, r"unknown report metric\(s\) \['BLEU-5'\]"),
        (["a"], ["a"], {"bertscore_model": "/nonexistent/roberta"}, ModelLoadError, "has no config.json"),
    ],
)
def test_bad_input(preds, refs, kwargs, error, match):
    with pytest.raises(error, match=match):
        report_metrics(preds, refs, **{"metrics": ["BLEU-1"], **kwargs})


def test_missing_java_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(MissingDependencyError, match="need a Java runtime, but 'java' is not on PATH"):
        ptb_tokenize(["heart normal"])


# ------------------------------------------------------------------------- BERTScore


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> Path:
    """A tiny randomly initialised BERT with a word-level vocabulary, saved locally."""
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    path = tmp_path_factory.mktemp("tiny-bert")
    words = ["heart", "size", "is", "normal", "no", "effusion", "lungs", "are", "clear", "the", "pneumothorax", "small"]
    (path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n")
    tok = transformers.BertTokenizer(str(path / "vocab.txt"))
    tok.save_pretrained(str(path))
    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=len(words) + 5, hidden_size=32, num_hidden_layers=2,
                                  num_attention_heads=2, intermediate_size=64)
    transformers.BertModel(cfg).save_pretrained(str(path))
    return path


def test_bertscore_identity_and_brute_force(tiny_bert):
    import torch
    import transformers

    from cxrpilot.evaluation._bertscore import bertscore

    preds = ["the heart is normal", "no effusion", "lungs are clear"]
    refs = ["the heart is normal", "no pneumothorax", ["heart size normal", "lungs are clear"]]
    p, r, f = bertscore(preds, refs, model_path=tiny_bert, layer=1)
    assert f[0] == pytest.approx(1.0, abs=1e-6) and f[2] == pytest.approx(1.0, abs=1e-6)
    tok = transformers.AutoTokenizer.from_pretrained(str(tiny_bert))
    model = transformers.AutoModel.from_pretrained(str(tiny_bert)).eval()

    def emb(text: str) -> np.ndarray:
        with torch.no_grad():
            h = model(**tok(text, return_tensors="pt"), output_hidden_states=True).hidden_states[1][0]
        h = h[1:-1]  # drop [CLS] and [SEP]
        return (h / h.norm(dim=-1, keepdim=True)).numpy()

    sim = emb("no effusion") @ emb("no pneumothorax").T
    pp, rr = sim.max(1).mean(), sim.max(0).mean()
    assert (p[1], r[1], f[1]) == pytest.approx((pp, rr, 2 * pp * rr / (pp + rr)), abs=1e-6)
    m = report_metrics(preds, refs, metrics=["BLEU-1"], bertscore_model=tiny_bert)
    assert m["BERTScore-F1"] == pytest.approx(float(np.mean(bertscore(preds, refs, model_path=tiny_bert)[2])))


def test_fast_lcs_equals_pycocoevalcap_my_lcs(shared_data):
    from pycocoevalcap.rouge.rouge import Rouge, my_lcs

    from cxrpilot.evaluation._report_metrics import _rouge, lcs_length

    rng = np.random.default_rng(0)
    words = ["a", "b", "c", "d", "e"]
    for _ in range(300):
        x = list(rng.choice(words, rng.integers(0, 15)))
        y = list(rng.choice(words, rng.integers(0, 15)))
        assert lcs_length(x, y) == my_lcs(x, y) == lcs_length(y, x)
    pairs = iu_sections(shared_data, 200)
    tokens = ptb_tokenize([t for pair in pairs for t in pair] + [""])
    gts = {i: [tokens[2 * i + 1]] for i in range(len(pairs))} | {len(pairs): [""]}
    res = {i: [tokens[2 * i]] for i in range(len(pairs))} | {len(pairs): ["heart normal"]}
    want_score, want = Rouge().compute_score(gts, res)
    got_score, got = _rouge(gts, res)
    assert got == want.tolist() and got_score == want_score
