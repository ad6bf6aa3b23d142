"""Write FINDINGS and IMPRESSION in report language from a model's findings."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from cxrpilot.draft import Finding, complete_findings
from cxrpilot.errors import InvalidInputError
from cxrpilot.models.composer._bank import BANK, NORMAL_IMPRESSION
from cxrpilot.models.composer._phrases import (
    ABSENT_NOUN,
    ABSENT_SENTENCE,
    EXPLAINS,
    HEART_AND_MEDIASTINUM_NORMAL,
    NOUN,
    ORDER,
    PRESENT,
    PRESENT_ITEM,
    PRESENT_LIKELY,
    REGION_OF,
    REGIONS,
    indication_findings,
)
from cxrpilot.vocabulary import CRITICAL_FINDINGS, LABEL_STATUS, Status

#: The ways :func:`compose` can word a draft: ``"sentences"`` (the default: report sentences
#: retrieved per finding from the phrase bank, templates where it has none) and
#: ``"templates"`` (the hand-written templates only).
METHODS: tuple[str, ...] = ("sentences", "templates")

_LABEL = {status: value for value, status in LABEL_STATUS.items() if value is not None}
_RANK = {1: 0, -1: 1, 0: 2}  # present, then uncertain, then absent, within a region
_NO_FINDING = "No Finding"
_SUPPORT = "Support Devices"


def likelihood_phrase(probability: float | None, status: Status) -> str:
    """Graded wording for a present or uncertain finding.

    The bands follow common radiology hedging practice (consistent with > likely >
    possible > cannot be excluded). With no probability (e.g. a finding read from text),
    the wording follows the status alone.

    Raises
    ------
    InvalidInputError
        For a status other than present or uncertain.

    >>> likelihood_phrase(0.95, "present"), likelihood_phrase(0.3, "uncertain")
    ('consistent with', 'cannot be excluded')
    """
    status = Status(status)
    if status is Status.UNCERTAIN:
        return "possible" if probability is None or probability >= 0.5 else "cannot be excluded"
    if status is not Status.PRESENT:
        raise InvalidInputError(f"likelihood wording is for present or uncertain findings, not {status}")
    if probability is None or probability >= 0.9:
        return "consistent with"
    return "likely"


@lru_cache(maxsize=2)
def _bank(section: str) -> tuple[tuple[frozenset[tuple[str, int]], str], ...]:
    """The bank's sentences of one section, largest key first, then most frequent."""
    rows = [(frozenset(key), sentence, n) for s, key, sentence, n in BANK if s == section]
    rows.sort(key=lambda r: (-len(r[0]), -r[2], r[1]))
    return tuple((key, sentence) for key, sentence, _ in rows)


def _cover(pairs: dict[str, int], section: str) -> tuple[list[tuple[dict[str, int], str]], dict[str, int]]:
    """Greedy cover of (observation, label) pairs by bank sentences that state exactly a
    subset of them; returns the sentences (with what each states) and what is left."""
    left = set(pairs.items())
    chosen: list[tuple[dict[str, int], str]] = []
    for key, sentence in _bank(section):
        if key <= left:
            chosen.append((dict(key), sentence))
            left -= key
            if not left:
                break
    return chosen, dict(left)


def _join(nouns: list[str]) -> str:
    if len(nouns) <= 2:
        return " or ".join(nouns)
    return ", ".join(nouns[:-1]) + f", or {nouns[-1]}"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _absent_sentences(names: Iterable[str]) -> list[tuple[dict[str, int], str]]:
    """Template sentences stating the absence of ``names``: one "No A, B, or C." list per
    region, the heart and mediastinum together, the rest one sentence each."""
    names = sorted(names, key=ORDER.__getitem__)
    out: list[tuple[dict[str, int], str]] = []
    for _, region in REGIONS:
        here = [n for n in names if n in region]
        listed = [n for n in here if n in ABSENT_NOUN]
        signs = [n for n in EXPLAINS["Pneumonia"][::-1] if n in listed]
        if "Pneumonia" in listed and signs:
            # "No focal airspace opacity or consolidation to suggest pneumonia."
            text = f"No {_join([ABSENT_NOUN[n] for n in signs])} to suggest pneumonia."
            out.append((dict.fromkeys([*signs, "Pneumonia"], 0), text))
            listed = [n for n in listed if n not in signs and n != "Pneumonia"]
        if listed:
            out.append((dict.fromkeys(listed, 0), f"No {_join([ABSENT_NOUN[n] for n in listed])}."))
        rest = [n for n in here if n not in ABSENT_NOUN]
        if "Cardiomegaly" in rest and "Enlarged Cardiomediastinum" in rest:
            out.append(({"Cardiomegaly": 0, "Enlarged Cardiomediastinum": 0}, HEART_AND_MEDIASTINUM_NORMAL))
            rest = [n for n in rest if n not in ("Cardiomegaly", "Enlarged Cardiomediastinum")]
        out.extend(({n: 0}, ABSENT_SENTENCE[n]) for n in rest)
    return out


def _hedged(f: Finding) -> str:
    """A FINDINGS sentence for an uncertain finding."""
    if likelihood_phrase(f.probability, f.status) == "possible":
        return f"Possible {NOUN[f.name]}."
    return f"{_cap(NOUN[f.name])} cannot be excluded."


def _explained_by(sign: str, f: Finding) -> str:
    """``sign`` (a present finding's wording, without its full stop) with the
    interpretation ``f`` it explains, worded by ``f``'s likelihood ("Consolidation,
    consistent with pneumonia.")."""
    phrase = likelihood_phrase(f.probability, f.status)
    if f.status is Status.PRESENT:
        return f"{sign}, {phrase} {NOUN[f.name]}."
    if phrase == "possible":
        return f"{sign}, which may represent {NOUN[f.name]}."
    return f"{sign}; {NOUN[f.name]} cannot be excluded."


def _sort_key(item: tuple[dict[str, int], str]) -> tuple[int, int, int]:
    states = item[0]
    return (min(REGION_OF[n] for n in states), min(_RANK[v] for v in states.values()),
            min(ORDER[n] for n in states))


def _findings_text(assessed: list[Finding], method: str) -> str:
    by_name = {f.name: f for f in assessed}
    items: list[tuple[dict[str, int], str]] = []
    pairs = {f.name: _LABEL[f.status] for f in assessed}

    # pneumonia is said with the sign it explains: "There is consolidation, consistent with pneumonia."
    pneumonia = by_name.get("Pneumonia")
    if pneumonia is not None and pneumonia.status in (Status.PRESENT, Status.UNCERTAIN):
        sign = next((n for n in EXPLAINS["Pneumonia"] if n in by_name and by_name[n].status is Status.PRESENT), None)
        if sign is not None:
            text = _explained_by(PRESENT[sign][:-1], pneumonia)
            items.append(({sign: 1, "Pneumonia": pairs["Pneumonia"]}, text))
            del pairs[sign], pairs["Pneumonia"]

    if method == "sentences":
        chosen, pairs = _cover(pairs, "findings")
        items.extend(chosen)
    absent = [n for n, v in pairs.items() if v == 0]
    for name, value in pairs.items():
        if value == 1:
            likely = likelihood_phrase(by_name[name].probability, Status.PRESENT) == "likely"
            items.append(({name: 1}, PRESENT_LIKELY[name] if likely and name in PRESENT_LIKELY else PRESENT[name]))
        elif value == -1:
            items.append(({name: -1}, _hedged(by_name[name])))
    items.extend(_absent_sentences(absent))
    items.sort(key=_sort_key)
    return " ".join(text for _, text in items)


def _impression_priority(f: Finding, asked: tuple[str, ...]) -> tuple[int, int]:
    if f.name in asked:
        return (0, asked.index(f.name))
    critical = f.name in CRITICAL_FINDINGS
    tier = (1 if critical else 2) if f.status is Status.PRESENT else (3 if critical else 4)
    return (tier, CRITICAL_FINDINGS.index(f.name) if critical else ORDER[f.name])


def _positive_items(positives: list[Finding], asked: tuple[str, ...]) -> list[tuple[tuple[int, int], str]]:
    """Numbered-impression items for present and uncertain findings, each with its priority;
    an interpretation is stated with the present sign it explains."""
    by_name = {f.name: f for f in positives}
    used: set[str] = set()
    items: list[tuple[tuple[int, int], str]] = []
    for interp, signs in EXPLAINS.items():
        f = by_name.get(interp)
        if f is None:
            continue
        sign = next((by_name[s] for s in signs if s in by_name and s not in used
                     and by_name[s].status is Status.PRESENT), None)
        if sign is None:
            continue
        text = _explained_by(_cap(NOUN[sign.name]), f)
        used.update((interp, sign.name))
        items.append((min(_impression_priority(f, asked), _impression_priority(sign, asked)), text))
    for f in positives:
        if f.name in used:
            continue
        if f.status is Status.PRESENT:
            if f.name in PRESENT_ITEM:
                text = PRESENT_ITEM[f.name]
            elif likelihood_phrase(f.probability, f.status) == "likely":
                text = f"Likely {NOUN[f.name]}."
            else:
                text = f"{_cap(NOUN[f.name])}."
        else:
            text = _hedged(f)
        items.append((_impression_priority(f, asked), text))
    items.sort(key=lambda item: item[0])
    return items


def _negative_sentences(names: list[str], method: str) -> list[str]:
    """IMPRESSION sentences stating the absence of ``names``, in the given order of importance
    (``method="templates"`` groups them as few sentences as the templates allow)."""
    pairs = dict.fromkeys(names, 0)
    chosen: list[tuple[dict[str, int], str]] = []
    if method == "sentences":
        chosen, pairs = _cover(pairs, "impression")
    chosen.extend(_absent_sentences(pairs))
    rank = {n: i for i, n in enumerate(names)}
    chosen.sort(key=lambda item: min(rank[n] for n in item[0]))
    return [text for _, text in chosen]


def _impression_text(all_findings: tuple[Finding, ...], assessed: list[Finding],
                     indication: str | None, method: str) -> str:
    by_name = {f.name: f for f in all_findings}
    asked = tuple(n for n in indication_findings(indication) if by_name[n].assessed)
    positives = [f for f in assessed if f.status in (Status.PRESENT, Status.UNCERTAIN)]
    absent = [f.name for f in assessed if f.status is Status.ABSENT]
    # a global normal only when the model says so and assessed every critical finding
    normal = (by_name[_NO_FINDING].status is Status.PRESENT
              and all(by_name[n].assessed for n in CRITICAL_FINDINGS)
              and all(f.name == _SUPPORT for f in positives))
    asked_absent = [n for n in asked if n in absent]

    if positives:
        items = _positive_items(positives, asked)
        texts = [text for _, text in items]
        if asked_absent:
            # the answer to the indication comes first, absences included
            texts = [t for p, t in items if p[0] == 0] + _negative_sentences(asked_absent, "templates") + \
                    [t for p, t in items if p[0] != 0]
        if normal:
            texts.append(NORMAL_IMPRESSION[0])
        if len(texts) == 1:
            return texts[0]
        return "\n".join(f"{i}. {t}" for i, t in enumerate(texts, start=1))

    sentences = _negative_sentences(asked_absent, "templates") if asked_absent else []
    if normal:
        sentences.append(NORMAL_IMPRESSION[0])
    else:
        rest = [n for n in absent if n not in asked_absent]
        critical = [n for n in CRITICAL_FINDINGS if n in rest]
        pertinent = critical or sorted(rest, key=ORDER.__getitem__)
        sentences += _negative_sentences(pertinent, method)
    return " ".join(sentences)


def compose(findings: Iterable[Finding], *, indication: str | None = None,
            method: str = "sentences") -> tuple[str, str]:
    """Write FINDINGS and IMPRESSION text, in report language, from a model's findings.

    The text states only what the findings say: present findings plainly, uncertain ones
    hedged ("possible", "may represent", "cannot be excluded"), absence only for findings
    assessed as absent, in the usual report order (lines and tubes, lungs, pleura, heart and
    mediastinum, bones). Findings that were not assessed are never mentioned, and no model
    wording (probabilities, "not assessed") enters the text: those machine facts belong in
    the draft's structured part. The IMPRESSION numbers present and uncertain findings,
    critical ones first; with an indication, the findings it asks about come first (their
    absence too). With nothing present, it states the pertinent negatives; a global normal
    ("No acute cardiopulmonary abnormality.") only when No Finding is present and every
    critical finding (:data:`~cxrpilot.vocabulary.CRITICAL_FINDINGS`) was assessed.

    Parameters
    ----------
    findings : iterable of Finding
        The model's findings; observations missing from it count as not assessed.
    indication : str or None
        Why the exam was done ("line placement", "fever, cough"): the IMPRESSION answers it
        first.
    method : {"sentences", "templates"}
        ``"sentences"`` (the default, best in ``benchmarks/bench_composer.py``): report
        sentences retrieved per finding from a phrase bank built from IU reports
        (``scripts/build_phrase_bank.py``), templates where the bank has none;
        ``"templates"``: the hand-written templates only.

    Returns
    -------
    findings_text, impression_text : str
        Both empty when no finding was assessed.

    Raises
    ------
    InvalidInputError
        For an unknown ``method`` or a finding given twice.

    Examples
    --------
    >>> from cxrpilot.draft import Finding
    >>> findings_text, impression = compose([
    ...     Finding("Lung Opacity", "present", 0.95), Finding("Pneumonia", "present", 0.93),
    ...     Finding("Pneumothorax", "absent", 0.01)])
    >>> print(findings_text)
    There is an airspace opacity, consistent with pneumonia. No pneumothorax.
    >>> print(impression)
    Airspace opacity, consistent with pneumonia.
    """
    if method not in METHODS:
        raise InvalidInputError(f"unknown composer method {method!r}; expected one of {', '.join(METHODS)}")
    all_findings = complete_findings(list(findings))
    assessed = [f for f in all_findings if f.assessed and f.name != _NO_FINDING]
    findings_text = _findings_text(assessed, method) if assessed else ""
    impression_text = _impression_text(all_findings, assessed, indication, method)
    return findings_text, impression_text
