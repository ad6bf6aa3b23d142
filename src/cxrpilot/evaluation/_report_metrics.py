"""Natural-language report metrics as the field computes them: BLEU-1..4, METEOR, ROUGE-L and
CIDEr-D from pycocoevalcap (the coco-caption code the published report-generation baselines
used), after its Stanford PTB tokenisation; optional BERTScore from a local model.

pycocoevalcap's scorers are used as they are, with two defects of its wrappers worked around
and one hot spot replaced (each keeps the scores identical; the tests compare):

- its ``PTBTokenizer`` writes a temporary file into its own install folder (fails on a
  read-only install) and silently misaligns texts when one contains a character Java treats
  as a line break (``\\r``, form feed, U+2028...). :func:`ptb_tokenize` runs the same jar with
  the same options and the same punctuation removal from a private temporary folder, maps
  every line-breaking character to a space (the wrapper already does this for ``\\n``) and
  checks the line count;
- its ``Bleu`` prints to stdout: silenced;
- ROUGE-L's longest common subsequence, a pure-Python dynamic programme, is computed with a
  bit-parallel algorithm (:func:`lcs_length`, the same integer) inside the same formula.

METEOR (meteor-1.5.jar) and the tokenizer need a Java runtime (``java`` on ``PATH``); METEOR
runs in its own JVM in parallel with the Python scorers.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from cxrpilot.errors import CxrpilotError, InvalidInputError, MissingDependencyError, require

#: The metric names :func:`report_metrics` returns, in order.
REPORT_METRICS: tuple[str, ...] = (
    "BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "METEOR", "ROUGE-L", "CIDEr-D",
)

#: Java's line terminators (and other separators PTBTokenizer splits lines on).
_LINE_BREAKS = str.maketrans({c: " " for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"})


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise MissingDependencyError(
            "METEOR and the PTB tokenizer of pycocoevalcap need a Java runtime, but 'java' is not "
            "on PATH; install one (e.g. apt-get install default-jre-headless) or leave METEOR out "
            "with metrics=[...]"
        )
    return java


def ptb_tokenize(texts: Sequence[str]) -> list[str]:
    """Tokenise texts as pycocoevalcap's ``PTBTokenizer`` does: Stanford CoreNLP 3.4.1
    ``PTBTokenizer -preserveLines -lowerCase``, then punctuation tokens removed.

    Parameters
    ----------
    texts : sequence of str

    Returns
    -------
    list of str
        One space-joined token string per text.

    Raises
    ------
    MissingDependencyError
        No ``java`` on ``PATH`` or pycocoevalcap not installed.

    Examples
    --------
    >>> ptb_tokenize(["Heart size is normal.", "No pneumothorax, no effusion."])
    ['heart size is normal', 'no pneumothorax no effusion']
    """
    require("pycocoevalcap.tokenizer.ptbtokenizer", extra="eval")
    from pycocoevalcap.tokenizer import ptbtokenizer as ptb

    texts = _check_texts(texts, "texts")
    if not texts:
        return []
    jar = Path(ptb.__file__).resolve().parent / ptb.STANFORD_CORENLP_3_4_1_JAR
    with tempfile.TemporaryDirectory(prefix="cxrpilot-ptb-") as tmp:
        path = Path(tmp) / "sentences.txt"
        path.write_bytes("\n".join(t.translate(_LINE_BREAKS) for t in texts).encode())
        proc = subprocess.run(
            [_java(), "-cp", str(jar), "edu.stanford.nlp.process.PTBTokenizer",
             "-preserveLines", "-lowerCase", str(path)],
            capture_output=True, check=False,
        )
    if proc.returncode != 0:
        raise CxrpilotError(f"the PTB tokenizer (java) failed with status {proc.returncode}: "
                            f"{proc.stderr.decode(errors='replace')[-500:]}")
    lines = proc.stdout.decode().split("\n")
    if len(lines) == len(texts) + 1 and lines[-1] == "":
        lines = lines[:-1]
    if len(lines) != len(texts):
        raise CxrpilotError(f"the PTB tokenizer returned {len(lines)} lines for {len(texts)} texts")
    punct = set(ptb.PUNCTUATIONS)
    return [" ".join(w for w in line.rstrip().split(" ") if w not in punct) for line in lines]


def _check_texts(texts: Any, name: str) -> list[str]:
    if isinstance(texts, str):
        raise InvalidInputError(f"{name} must be a sequence of texts, not one string; wrap it in a list")
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise InvalidInputError(f"{name}[{i}] must be a string; got {type(t).__name__} {t!r:.60}")
    return out


def _check_pairs(predictions: Any, references: Any) -> tuple[list[str], list[list[str]]]:
    preds = _check_texts(predictions, "predictions")
    if isinstance(references, str):
        raise InvalidInputError("references must be a sequence of texts (or of lists of texts), "
                                "not one string")
    refs: list[list[str]] = []
    for i, r in enumerate(references):
        group = [r] if isinstance(r, str) else _check_texts(r, f"references[{i}]")
        if not group:
            raise InvalidInputError(f"references[{i}] is an empty list; give at least one reference")
        refs.append(group)
    if len(preds) != len(refs):
        raise InvalidInputError(f"predictions has {len(preds)} texts but references has {len(refs)}; "
                                "give one reference (or list of references) per prediction")
    if not preds:
        raise InvalidInputError("predictions is empty; give at least one report pair")
    return preds, refs


def _check_metrics(metrics: Sequence[str] | None) -> list[str]:
    if metrics is None:
        return list(REPORT_METRICS)
    chosen = list(metrics)
    bad = [m for m in chosen if m not in REPORT_METRICS]
    if bad:
        raise InvalidInputError(f"unknown report metric(s) {bad}; expected some of {', '.join(REPORT_METRICS)}")
    return [m for m in REPORT_METRICS if m in chosen]


class _MeteorProcess:
    """METEOR 1.5 exactly as pycocoevalcap's ``Meteor`` wrapper runs it (same jar, options and
    ``SCORE`` / ``EVAL`` protocol), but pipelined: a writer thread streams the ``SCORE`` lines
    while the replies are read in bulk. pycocoevalcap waits for each reply before sending the
    next line, which costs a thread switch per report when Python work runs alongside."""

    def __init__(self) -> None:
        java = _java()
        from pycocoevalcap.meteor import meteor as pm

        self._proc = subprocess.Popen(
            [java, "-jar", "-Xmx2G", pm.METEOR_JAR, "-", "-", "-stdio", "-l", "en", "-norm"],
            cwd=Path(pm.__file__).resolve().parent,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )

    def _fail(self, exc: BaseException | None = None) -> CxrpilotError:
        self._proc.kill()
        err = self._proc.stderr.read().decode(errors="replace")[-500:] if self._proc.stderr else ""
        return CxrpilotError(f"METEOR (java -jar meteor-1.5.jar) failed: {err.strip() or exc or 'no output'}")

    def _readline(self) -> bytes:
        line = self._proc.stdout.readline()  # type: ignore[union-attr]
        if not line:
            raise self._fail()
        return line

    def score(self, gts: dict[int, list[str]], res: dict[int, list[str]]) -> tuple[float, list[float]]:
        ids = list(gts)
        stdin = self._proc.stdin
        assert stdin is not None

        def write_scores() -> None:
            with contextlib.suppress(OSError):  # a dead JVM is reported by the reader
                for i in ids:
                    hyp = res[i][0].replace("|||", "").replace("  ", " ")
                    stdin.write(("SCORE ||| " + " ||| ".join(gts[i]) + " ||| " + hyp + "\n").encode())
                stdin.flush()

        writer = threading.Thread(target=write_scores, daemon=True)
        writer.start()
        stats = [self._readline().decode().strip() for _ in ids]
        writer.join()
        try:
            stdin.write(("EVAL ||| " + " ||| ".join(stats) + "\n").encode())
            stdin.flush()
        except OSError as exc:
            raise self._fail(exc) from exc
        scores = [float(self._readline().strip()) for _ in ids]
        return float(self._readline().strip()), scores

    def close(self) -> None:
        p = self._proc
        for stream in (p.stdin, p.stdout, p.stderr):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()
        p.kill()
        p.wait()


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token sequences, by the bit-parallel
    algorithm of Allison & Dix (1986) / Hyyrö (2004) on Python integers: the same integer
    as pycocoevalcap's ``my_lcs`` dynamic programme, about 20 times faster."""
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return 0
    masks: dict[str, int] = {}
    for j, token in enumerate(b):
        masks[token] = masks.get(token, 0) | (1 << j)
    full = (1 << len(b)) - 1
    row = full
    for token in a:
        u = row & masks.get(token, 0)
        row = ((row + u) | (row - u)) & full
    return len(b) - (row).bit_count()


def _rouge(gts: dict[int, list[str]], res: dict[int, list[str]]) -> tuple[float, list[float]]:
    """pycocoevalcap ``Rouge().compute_score``: the same formula (ROUGE-L F with beta 1.2,
    best precision and recall over references, tokens split on single spaces) with a fast
    LCS."""
    from pycocoevalcap.rouge.rouge import Rouge

    beta2 = Rouge().beta ** 2
    scores = []
    for i, references in gts.items():
        token_c = res[i][0].split(" ")
        prec, rec = [], []
        for reference in references:
            token_r = reference.split(" ")
            lcs = lcs_length(token_r, token_c)
            prec.append(lcs / float(len(token_c)))
            rec.append(lcs / float(len(token_r)))
        p, r = max(prec), max(rec)
        scores.append(((1 + beta2) * p * r) / float(r + beta2 * p) if p != 0 and r != 0 else 0.0)
    return float(np.mean(np.array(scores))), scores


def _compute(
    predictions: Any, references: Any, metrics: Sequence[str] | None
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    preds, refs = _check_pairs(predictions, references)
    chosen = _check_metrics(metrics)
    # METEOR's JVM spends seconds loading its paraphrase table: start it first, so that this
    # overlaps the tokenisation and the Python scorers.
    meteor_proc = _MeteorProcess() if "METEOR" in chosen else None
    try:
        tokens = ptb_tokenize(preds + [r for group in refs for r in group])
        res = {i: [tokens[i]] for i in range(len(preds))}
        gts: dict[int, list[str]] = {}
        k = len(preds)
        for i, group in enumerate(refs):
            gts[i] = tokens[k:k + len(group)]
            k += len(group)
        corpus: dict[str, float] = {}
        per: dict[str, np.ndarray] = {}
        with ThreadPoolExecutor(max_workers=1) as pool:
            meteor = pool.submit(meteor_proc.score, gts, res) if meteor_proc is not None else None
            if any(m.startswith("BLEU") for m in chosen):
                from pycocoevalcap.bleu.bleu import Bleu

                with contextlib.redirect_stdout(io.StringIO()):
                    bleu, bleu_per = Bleu(4).compute_score(gts, res, verbose=0)
                for n in range(4):
                    corpus[f"BLEU-{n + 1}"] = float(bleu[n])
                    per[f"BLEU-{n + 1}"] = np.asarray(bleu_per[n], dtype=float)
            if "ROUGE-L" in chosen:
                score, scores = _rouge(gts, res)
                corpus["ROUGE-L"], per["ROUGE-L"] = score, np.asarray(scores)
            if "CIDEr-D" in chosen:
                from pycocoevalcap.cider.cider import Cider

                score, scores = Cider().compute_score(gts, res)
                corpus["CIDEr-D"], per["CIDEr-D"] = float(score), np.asarray(scores, dtype=float)
            if meteor is not None:
                score, scores = meteor.result()
                corpus["METEOR"], per["METEOR"] = score, np.asarray(scores)
    finally:
        if meteor_proc is not None:
            meteor_proc.close()
    return ({m: corpus[m] for m in chosen}, {m: per[m] for m in chosen})


def report_metrics(
    predictions: Sequence[str],
    references: Sequence[str] | Sequence[Sequence[str]],
    *,
    metrics: Sequence[str] | None = None,
    bertscore_model: str | os.PathLike[str] | None = None,
    bertscore_layer: int | None = None,
) -> dict[str, float]:
    """Corpus-level natural-language metrics of generated reports against references.

    Parameters
    ----------
    predictions : sequence of str, length n
        Generated reports.
    references : sequence of str or of sequences of str, length n
        One reference report per prediction, or a list of references.
    metrics : sequence of str, optional
        A subset of :data:`REPORT_METRICS` (default: all).
    bertscore_model : path, optional
        A local Hugging Face model folder (e.g. a RoBERTa or a clinical BERT); adds
        ``"BERTScore-P"``, ``"BERTScore-R"``, ``"BERTScore-F1"``. Nothing is downloaded.
    bertscore_layer : int, optional
        Hidden layer whose embeddings BERTScore matches (default: the last).

    Returns
    -------
    dict of str to float
        ``BLEU-1..4`` (corpus BLEU, closest reference length), ``METEOR`` (METEOR 1.5, the
        mean of per-report scores as coco-caption reports it), ``ROUGE-L`` (mean of
        per-report F, beta 1.2), ``CIDEr-D`` (sigma 6, clipped, x10, document frequencies from
        these references — so it depends on the evaluated corpus).

    Raises
    ------
    InvalidInputError
        Lengths differ, a text is not a string, no pairs, unknown metric.
    MissingDependencyError
        pycocoevalcap or Java missing.

    References
    ----------
    .. [1] Papineni K et al. BLEU: a method for automatic evaluation of machine translation.
       ACL 2002.
    .. [2] Denkowski M, Lavie A. Meteor Universal: language specific translation evaluation
       for any target language. WMT 2014.
    .. [3] Lin C-Y. ROUGE: a package for automatic evaluation of summaries. ACL workshop 2004.
    .. [4] Vedantam R, Zitnick CL, Parikh D. CIDEr: consensus-based image description
       evaluation. CVPR 2015.
    .. [5] Chen X et al. Microsoft COCO captions: data collection and evaluation server.
       arXiv:1504.00325 (the pycocoevalcap code).
    .. [6] Zhang T et al. BERTScore: evaluating text generation with BERT. ICLR 2020.

    Examples
    --------
    >>> m = report_metrics(["No acute cardiopulmonary abnormality."],
    ...                    ["No acute cardiopulmonary abnormality."], metrics=["BLEU-1", "ROUGE-L"])
    >>> {k: round(v, 6) for k, v in m.items()}
    {'BLEU-1': 1.0, 'ROUGE-L': 1.0}
    """
    corpus, _ = _compute(predictions, references, metrics)
    if bertscore_model is not None:
        from ._bertscore import bertscore

        p, r, f = bertscore(predictions, references, model_path=bertscore_model, layer=bertscore_layer)
        corpus |= {"BERTScore-P": float(p.mean()), "BERTScore-R": float(r.mean()),
                   "BERTScore-F1": float(f.mean())}
    return corpus


def report_metric_scores(
    predictions: Sequence[str],
    references: Sequence[str] | Sequence[Sequence[str]],
    *,
    metrics: Sequence[str] | None = None,
) -> dict[str, np.ndarray]:
    """Per-report scores of :func:`report_metrics` (sentence BLEU as pycocoevalcap computes
    it, METEOR, ROUGE-L and CIDEr-D per report), each an array of length n.

    CIDEr-D, METEOR and ROUGE-L corpus values are the means of these; corpus BLEU is not the
    mean of sentence BLEU.
    """
    return _compute(predictions, references, metrics)[1]

