"""Rebuild the composer's phrase bank from the IU Open-i reports (DEV half only).

Every sentence of the FINDINGS and IMPRESSION sections of the reports in the ``dev`` half
(:func:`cxrpilot.reports.iu_half`) is labelled on its own by the project's labeler
(:func:`cxrpilot.reports.label_text`). A sentence is kept when it is generic report
language that a draft can state without inventing anything:

- it mentions at least one of the 13 observations, and nothing else the labeler knows as an
  abnormality (no "granuloma", "hernia", "degenerative" ...);
- no de-identification marks, no comparison with a prior ("stable", "again", "interval"),
  no location, side or size ("right", "basilar", "small", "2 cm"), no severity, no
  anaphora ("this", "these findings") and no whole-region claims ("the lungs are clear"),
  which would state things about findings not assessed;
- a negation is not weakened ("no large effusion", "no definite ...").

Per section and per *key* (the set of (observation, label) pairs the labeler reads in the
sentence) the most typical kept sentence (the medoid: highest frequency-weighted uni- and
bigram F1 with the other sentences of the key; ``--pick frequent`` takes the most frequent
one instead) is written, with its count, to
``src/cxrpilot/models/composer/_bank.py``. The held-out half is never read.

Source: Indiana University chest X-ray collection (Open-i, Demner-Fushman et al. 2016),
licensed CC BY-NC-ND 4.0; the table holds short generic sentences only (one per key).

Usage: ``python scripts/build_phrase_bank.py [--data ../shared/data] [--min-count 2]``
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "src" / "cxrpilot" / "models" / "composer" / "_bank.py"

# words that would make a draft state something the findings do not say
_SPECIFIC = re.compile(
    r"\b(?:right|left|bilateral\w*|bibasilar|basilar|basal|bases?|apical|apex|apices|upper|lower|middle|mid\w*|"
    r"lobes?|lobar|lingula\w*|perihilar|hil\w*|retrocardiac|lateral|posterior|anterior|segment\w*|subsegmental|"
    r"small|large|tiny|trace|mild\w*|moderate\w*|severe\w*|minimal\w*|marked\w*|extensive|innumerable|multiple|"
    r"diffuse\w*|scattered|patchy|streaky|linear|focal(?=\s+(?:opacity|atelectasis))|chronic\w*|old|healed|healing|"
    r"calcif\w*|granulom\w*|stable|unchanged|again|interval|prior|previous\w*|compar\w*|since|new|newly|persist\w*|"
    r"continued|increas\w*|decreas\w*|improv\w*|worse\w*|redemonstrat\w*|remain\w*|resolv\w*|removed|removal|"
    r"cm|mm|this|these|that|it|its|also|otherwise|specifically|however|which|there has|measur\w*|lines? and tubes? as|"
    r"above|below|recommend\w*|ct|followup|follow-up|correlat\w*|clear|inflat\w*|expan\w*|aerat\w*|"
    r"volumes?|patient|view|film|technique|limit\w* (?:study|exam)|"
    r"chf|typical|definite\w*|significant\w*|overt|gross\w*|obvious|suspicious|large|active|appreciable|"
    r"scapul\w*|clavic\w*|humer\w*|vertebr\w*|spine|spinal|sternum|sternal|shoulder|"
    r"leads?|pacemaker|pacer|catheter|tube|picc|wire|port|valve|sutures?)\b"
    r"|\d|___|xxxx|\.\.|[/()\[\]:;]",
    re.IGNORECASE,
)


# words that name an observation: a sentence must name none outside its key (the labeler
# misses some statements, e.g. "heart size ... within limits of normal")
_NAMES: dict[str, str] = {
    "Enlarged Cardiomediastinum": r"mediastin\w*",
    "Cardiomegaly": r"heart|cardi\w*",
    "Lung Opacity": r"opaci\w*|air\s*space|infiltrat\w*|densit\w*|scar\w*",
    "Lung Lesion": r"nodul\w*|mass(?:es)?|lesions?",
    "Edema": r"edema|vascul\w*|congest\w*|failure|chf",
    "Consolidation": r"consolidat\w*",
    "Pneumonia": r"pneumon\w*|infect\w*",
    "Atelectasis": r"atelecta\w*|collapse\w*",
    "Pneumothorax": r"pneumothora\w*",
    "Pleural Effusion": r"effusions?|fluid",
    "Pleural Other": r"pleura\w*(?!\s+effusion)|fissur\w*",
    "Fracture": r"fractur\w*|bon\w*|osseous|ribs?",
    "Support Devices": r"devices?|lines?|tubes?",
}
_NAME_RES = {k: re.compile(rf"\b(?:{v})\b", re.IGNORECASE) for k, v in _NAMES.items()}


_NORMAL = re.compile(r"^No acute cardiopulmonary \w+\.$")


def sentence_key(sentence: str) -> tuple[tuple[str, int], ...] | None:
    """The (observation, label) pairs the labeler reads in one sentence, or None when the
    sentence mentions another abnormality or nothing at all."""
    from cxrpilot.reports import label_text, mentions

    labels = label_text(sentence)
    key = tuple(sorted((k, v) for k, v in labels.items() if v is not None and k != "No Finding"))
    if not key:
        return None
    if mentions(sentence).other:
        return None
    named = {name for name, _ in key}
    if any(regex.search(sentence) for name, regex in _NAME_RES.items() if name not in named):
        return None
    if "Support Devices" in named:
        return None  # which device, where: nothing generic to reuse
    return key


def _grams(sentence: str) -> Counter:
    words = re.findall(r"[a-z]+", sentence.lower())
    return Counter(words) + Counter(itertools.pairwise(words))


def medoid(sentences: Counter) -> tuple[str, int]:
    """The sentence most like the others of its key (uni- and bigram F1, weighted by how
    often each was written); ties: the more frequent, the shorter, alphabetical."""
    grams = {s: _grams(s) for s in sentences}

    def similarity(a: str, b: str) -> float:
        common = sum((grams[a] & grams[b]).values())
        total = sum(grams[a].values()) + sum(grams[b].values())
        return 2 * common / total if total else 0.0

    def score(s: str) -> float:
        return sum(n * similarity(s, other) for other, n in sentences.items())

    best = min(sentences, key=lambda s: (-score(s), -sentences[s], len(s), s))
    return best, sentences[best]


def keep(sentence: str) -> bool:
    return (
        3 <= len(sentence.split()) <= 14 or sentence.count(" ") <= 3
    ) and sentence[:1].isupper() and sentence.endswith(".") and not _SPECIFIC.search(sentence)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=os.environ.get("CXRPILOT_DATA", str(REPO.parent / "shared" / "data")))
    parser.add_argument("--min-count", type=int, default=2, help="keep sentences seen at least this often")
    parser.add_argument("--pick", choices=("medoid", "frequent"), default="medoid",
                        help="per key: the most typical sentence (medoid) or the most frequent one")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()

    from cxrpilot.reports import iu_half, read_iu_xml, split_sentences

    files = sorted((Path(args.data) / "iu-xray" / "reports").glob("*.xml"), key=lambda p: (len(p.stem), p.stem))
    if not files:
        raise SystemExit(f"no IU reports under {args.data}/iu-xray/reports")
    counts: Counter = Counter()
    n_dev = 0
    for f in files:
        report = read_iu_xml(f)
        if iu_half(report.report_id) != "dev":
            continue
        n_dev += 1
        for section in ("findings", "impression"):
            for s in split_sentences(getattr(report.sections, section)):
                counts[section, " ".join(s.split())] += 1
    best: dict[tuple, tuple[int, str]] = {}
    by_key: dict[tuple, Counter] = defaultdict(Counter)
    for (section, sentence), n in counts.items():
        if n < args.min_count or not keep(sentence):
            continue
        key = sentence_key(sentence)
        if key is None:
            continue
        by_key[section, key][sentence] += n
    for (section, key), c in by_key.items():
        if args.pick == "frequent":
            # most frequent, then shortest, then alphabetical: deterministic
            sentence, n = min(c.items(), key=lambda kv: (-kv[1], len(kv[0]), kv[0]))
        else:
            sentence, n = medoid(c)
        best[section, key] = (n, sentence)

    normal = [(n, s) for (section, s), n in counts.items() if section == "impression" and _NORMAL.match(s)]
    normal_sentence = min(normal, key=lambda kv: (-kv[0], len(kv[1]), kv[1])) if normal else (0, "")
    lines = [
        '"""The composer\'s phrase bank: report sentences keyed by what the labeler reads in them.',
        "",
        "Generated by ``scripts/build_phrase_bank.py`` from the FINDINGS and IMPRESSION sentences of",
        f"the {n_dev} IU Open-i reports in the dev half (``cxrpilot.reports.iu_half``); do not edit by hand.",
        "Source: Indiana University chest X-ray collection (Open-i; Demner-Fushman et al., JAMIA",
        "2016), CC BY-NC-ND 4.0. One short generic sentence per key; counts are dev-half frequencies.",
        '"""',
        "",
        "# (section, ((observation, label), ...), sentence, count); label 1 present, 0 absent, -1 uncertain",
        "BANK: tuple[tuple[str, tuple[tuple[str, int], ...], str, int], ...] = (",
    ]
    for (section, key), (n, sentence) in sorted(best.items(), key=lambda kv: (kv[0][0], -kv[1][0], kv[0][1])):
        lines.append(f"    ({section!r}, {key!r}, {sentence!r}, {n}),")
    lines.append(")")
    lines += [
        "",
        "# the most frequent global-normal impression (used only when every critical finding is assessed absent)",
        f"NORMAL_IMPRESSION: tuple[str, int] = ({normal_sentence[1]!r}, {normal_sentence[0]})",
    ]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"{len(best)} sentences from {n_dev} dev reports -> {args.out}")


if __name__ == "__main__":
    main()
