"""The rule-based 14-observation labeler (CheXpert-style) and the labeler registry.

How one report is labelled (:func:`label_report`):

1. The FINDINGS and IMPRESSION sections are taken (the whole text when it has no known
   heading), normalised and lower-cased.
2. Statements of what was not assessed or evaluated are blanked out, before the section
   split joins lines: they state no finding. Lists after a heading ("Not assessed by this
   model: cardiomegaly; pneumothorax", bulleted or numbered lines below it), lists before
   one ("pneumothorax, effusion: not assessed") and clauses ("pneumothorax was not
   evaluated", "the model does not assess fracture"); hedged forms ("not well evaluated")
   stay uncertain.
   The text is cut into clauses: sentence ends, ``;``, ``but``, ``however``, ``although``,
   ``except`` ... end the scope of every cue.
3. Each observation's phrases (:data:`~cxrpilot.reports._rules.MENTIONS`) are found. A
   mention takes the nearest cue of its clause: a negation or uncertainty cue before it
   ("no", "without", "free of", "possible", "cannot exclude"), inside it ("heart size may be
   enlarged") or after it ("is not seen", "has resolved", "cannot be excluded"); the nearer
   of the two wins, the one before on a tie. A positive mention joined to another finding
   by "or", "versus", "and/or" or "/" becomes uncertain.
4. Mentions are aggregated per observation with CheXpert's precedence: positive > uncertain
   > negative. No mention gives ``None``.
5. No Finding is 1 when no observation other than Support Devices, and none of the other
   abnormalities (:data:`~cxrpilot.reports._rules.OTHER_FINDINGS`), is positive or
   uncertain; otherwise 0 (CheXpert leaves it blank). An empty text gives all ``None``.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple, Protocol, runtime_checkable

from cxrpilot.draft import Finding
from cxrpilot.errors import InvalidInputError, ModelLoadError, UnknownModelError
from cxrpilot.reports._rules import (
    CLAUSE_BREAKS,
    KEYS,
    MENTIONS,
    OR_CONNECTORS,
    OTHER_FINDINGS,
    TRIGGERS,
)
from cxrpilot.reports._sections import check_text, normalise, split_sections
from cxrpilot.vocabulary import LABEL_STATUS, OBSERVATIONS

Labels = dict[str, "int | None"]

_NO_FINDING = "No Finding"
_SUPPORT = "Support Devices"
_OTHER = "_other"
_OBS_RULED = [name for name in OBSERVATIONS if name != _NO_FINDING]

_PRE_KINDS = {"NEG_PRE": 0, "NEG_BOTH": 0, "UNC_PRE": -1, "UNC_BOTH": -1, "HYPO": None}
_POST_KINDS = {"NEG_POST": 0, "NEG_BOTH": 0, "UNC_POST": -1, "UNC_BOTH": -1}
_POST_REACH = 60  # characters: a cue after a mention must be this close
# every pattern is tried at word starts only (three times faster than at every character)
_WORD_START = r"(?<![a-z0-9_])(?=[a-z_])"


def _compile_mentions() -> dict[str, tuple[re.Pattern[str], list[int | None], tuple[str, ...]]]:
    compiled = {}
    tables = {**MENTIONS, _OTHER: [(p, 1) for p in OTHER_FINDINGS]}
    for name, entries in tables.items():
        alternatives = "|".join(f"(?P<m{i}>{pattern})" for i, (pattern, _) in enumerate(entries))
        compiled[name] = (
            re.compile(f"{_WORD_START}(?:{alternatives})"),
            [inherent for _, inherent in entries],
            KEYS.get(name, ()),
        )
    return compiled


def _compile_triggers() -> tuple[re.Pattern[str], dict[str, str]]:
    order = ("PSEUDO", "HYPO", "UNC_BOTH", "NEG_PRE", "NEG_POST", "NEG_BOTH", "UNC_POST", "UNC_PRE")
    # longest phrases should win at a position: put multi-word patterns first within the
    # alternation by listing kinds in this order and single words (NEG_PRE's last line) last
    parts: list[str] = []
    kinds: dict[str, str] = {}
    singles: list[str] = []
    for kind in order:
        for i, pattern in enumerate(TRIGGERS[kind]):
            group = f"{kind}_{i}"
            kinds[group] = kind
            text = f"(?P<{group}>{pattern})"
            if kind == "NEG_PRE" and i == len(TRIGGERS[kind]) - 1:
                singles.append(text)  # "no", "not", "without": after every longer phrase
            else:
                parts.append(text)
    return re.compile(f"(?:{_WORD_START}|(?=\\?))(?:{'|'.join(parts + singles)})"), kinds


_MENTION_RES = _compile_mentions()
_TRIGGER_RE, _TRIGGER_KINDS = _compile_triggers()
_CLAUSE_RE = re.compile(CLAUSE_BREAKS)
_OR_RE = re.compile(OR_CONNECTORS)


def _clauses(text: str) -> list[int]:
    """Sorted start offsets of the clauses of ``text`` (the first is 0)."""
    return [0, *(m.end() for m in _CLAUSE_RE.finditer(text))]


def _label_mention(
    text: str, start: int, end: int, inherent: int, triggers: list[tuple[int, int, str]],
    starts: list[int], clause_start: int, clause_end: int,
) -> int | None:
    """The label of one mention from the nearest cue of its clause (None: hypothetical)."""
    pre: tuple[int, int | None] | None = None  # (distance, label)
    post: tuple[int, int | None] | None = None
    i = bisect.bisect_left(starts, clause_start)
    while i < len(triggers) and triggers[i][0] < clause_end:
        t_start, t_end, kind = triggers[i]
        i += 1
        if t_end <= end:  # before the mention, or inside its span ("heart size may be enlarged")
            if kind not in _PRE_KINDS:
                continue
            value = _PRE_KINDS[kind]
            if value is None:
                return None  # "if there is concern for fracture": hypothetical, whatever else is said
            distance = max(0, start - t_end)
            if pre is None or distance <= pre[0]:
                pre = (distance, value)
        elif t_start >= end:
            value = _POST_KINDS.get(kind)
            if value is None:
                continue
            distance = t_start - end
            if distance > _POST_REACH or "," in text[end:t_start]:
                continue  # "cardiomegaly, lungs are normal": the cue is about something else
            if post is None or distance < post[0]:
                post = (distance, value)
    cue = pre if post is None else post if pre is None else (pre if pre[0] <= post[0] else post)
    if cue is None:
        return inherent
    return cue[1]  # 0 negated, -1 uncertain


# What a text says was not looked at is not a finding. Three forms are blanked out before
# labelling (on the raw text, so that line breaks still end a list):
# - a list after a heading: "Not assessed by this model: cardiomegaly, pneumothorax", "The
#   following were not evaluated: fracture; effusion", a bulleted or numbered list below it;
# - a list before it: "Pneumothorax, effusion and fracture: not assessed";
# - a clause: "pneumothorax was not assessed", "the model does not assess fracture",
#   "fracture cannot be evaluated on this view", "unable to assess the lung bases".
# Hedged forms ("not well evaluated", "incompletely evaluated", "difficult to assess") are not
# among them: they stay uncertain (UNC_BOTH).
_NOT_LOOKED = (
    r"(?:not|never|cannot\s+be|can\s*not\s+be|could\s+not\s+be|unable\s+to\s+be)\s+(?:been\s+)?(?:assessed|evaluated)"
    r"|un(?:assessed|evaluated)|not\s+(?:assessable|evaluable)"
    r"|(?:(?:does|do|did|could|can|will|would)\s+not|cannot|can't|unable\s+to)\s+(?:assess|evaluate)"
)
_MARKER = r"(?:[-*\u2022\u00b7]|\d{1,2}[.)])[ \t]+"
_NOT_LOOKED_RE = re.compile(rf"\b(?:{_NOT_LOOKED})\b", re.IGNORECASE)
_UNASSESSED_HEADING_RE = re.compile(rf"\b(?:{_NOT_LOOKED})\b[^:.;\n]{{0,60}}:", re.IGNORECASE)
_LIST_ITEM_RE = re.compile(rf"\s*{_MARKER}[^.\n]*\.?")
_LIST_START_RE = re.compile(rf"\s*{_MARKER}")
_SAME_LINE_RE = re.compile(r"[^.:\n]*")
# where a not-assessed clause ends, either side
_SEGMENT_BREAK_RE = re.compile(r"[.;:\n]|\b(?:but|however|although|whereas)\b", re.IGNORECASE)


def _blank_unassessed(text: str) -> str:
    """``text`` with every not-assessed statement replaced by spaces (offsets kept)."""
    low = text.lower()
    if ("assess" not in low and "evaluat" not in low) or _NOT_LOOKED_RE.search(text) is None:
        return text
    chars = list(text)
    for m in _UNASSESSED_HEADING_RE.finditer(text):
        pos = m.end()
        if _LIST_START_RE.match(text, pos):  # "- cardiomegaly\n- pneumothorax", "1. ... 2. ..."
            while (item := _LIST_ITEM_RE.match(text, pos)) is not None:
                pos = item.end()
        else:  # "cardiomegaly, pneumothorax; fracture" up to the sentence or line end
            pos = _SAME_LINE_RE.match(text, pos).end()
        chars[m.start():pos] = " " * (pos - m.start())
    breaks = [(b.start(), b.end()) for b in _SEGMENT_BREAK_RE.finditer(text)]
    starts = [b[0] for b in breaks]
    for m in _NOT_LOOKED_RE.finditer(text):
        if chars[m.start()] == " ":
            continue  # blanked with its list
        i = bisect.bisect_left(starts, m.start())  # breaks before the cue: breaks[:i]
        lo = breaks[i - 1][1] if i else 0
        if text[lo - 1 : lo] == ":" and not text[lo:m.start()].strip():
            # "pneumothorax, effusion and fracture: not assessed": the list before the colon
            lo = breaks[i - 2][1] if i >= 2 else 0
        j = bisect.bisect_left(starts, m.end())
        hi = breaks[j][0] if j < len(breaks) else len(text)
        chars[lo:hi] = " " * (hi - lo)
    return "".join(chars)


class Mentions(NamedTuple):
    """What :func:`mentions` found in a text."""

    #: The observations with a positive or uncertain phrase in the text.
    observations: frozenset[str]
    #: True when an abnormality outside the 14 observations is mentioned.
    other: bool


def mentions(text: str) -> Mentions:
    """The phrases of the labeler's tables found in ``text`` (normalised and lower-cased
    here), every negation and uncertainty cue ignored.

    An observation counts when one of its phrases that states it (positive or uncertain)
    occurs; ``other`` when a phrase of :data:`~cxrpilot.reports._rules.OTHER_FINDINGS` does.
    The keyword baseline the labeler is measured against, and the phrase bank's filter.

    >>> mentions("No pneumothorax. Small effusion.").observations >= {"Pneumothorax", "Pleural Effusion"}
    True
    """
    body = normalise(text).lower()
    found = {name for name, (pattern, inherents, _keys) in _MENTION_RES.items()
             if any(inherents[int(m.lastgroup[1:])] in (1, -1) for m in pattern.finditer(body))}
    return Mentions(frozenset(found - {_OTHER}), _OTHER in found)


def label_text(text: str) -> Labels:
    """Label text as it is (no section split): the 14 observations, 1/0/-1/None.

    See :func:`label_report`, which picks FINDINGS and IMPRESSION first.
    """
    check_text(text)
    labels: Labels = dict.fromkeys(OBSERVATIONS)
    text = normalise(_blank_unassessed(text)).lower()
    if not text.strip(" .;:,"):
        return labels
    clause_starts = _clauses(text)
    triggers = [(m.start(), m.end(), _TRIGGER_KINDS[m.lastgroup]) for m in _TRIGGER_RE.finditer(text)]
    trigger_starts = [t[0] for t in triggers]

    # all mentions first (the "or" rule needs the neighbours of every mention)
    mentions: list[tuple[int, int, str, int | None]] = []
    for name, (pattern, inherents, keys) in _MENTION_RES.items():
        if keys and not any(k in text for k in keys):
            continue  # cannot be mentioned: skip its patterns
        for m in pattern.finditer(text):
            inherent = inherents[int(m.lastgroup[1:])]
            if inherent is not None:
                mentions.append((m.start(), m.end(), name, inherent))
    mentions.sort()

    found: dict[str, list[int]] = {}
    for k, (start, end, name, inherent) in enumerate(mentions):
        c = bisect.bisect_right(clause_starts, start) - 1
        clause_start = clause_starts[c]
        clause_end = clause_starts[c + 1] if c + 1 < len(clause_starts) else len(text)
        if inherent == 0:
            value = 0
        else:
            value = _label_mention(text, start, end, inherent, triggers, trigger_starts, clause_start, clause_end)
            if value is None:
                continue  # "if there is concern for fracture ...": hypothetical
        if value == 1 and _joined_by_or(text, mentions, k, clause_start, clause_end):
            value = -1
        found.setdefault(name, []).append(value)

    for name, values in found.items():
        if name != _OTHER:
            labels[name] = 1 if 1 in values else -1 if -1 in values else 0
    abnormal = any(labels[n] in (1, -1) for n in _OBS_RULED if n != _SUPPORT) or any(
        v in (1, -1) for v in found.get(_OTHER, ())
    )
    labels[_NO_FINDING] = 0 if abnormal else 1
    return labels


def _joined_by_or(text: str, mentions: list[tuple[int, int, str, int | None]], k: int, lo: int, hi: int) -> bool:
    start, end, name, _ = mentions[k]
    for j in (k - 1, k + 1):
        if not 0 <= j < len(mentions):
            continue
        o_start, o_end, o_name, _ = mentions[j]
        if o_name == name or o_start < lo or o_end > hi:
            continue
        gap = text[o_end:start] if j < k else text[end:o_start]
        if len(gap) < 60 and _OR_RE.match(gap):
            return True
    return False


def label_report(text: str) -> Labels:
    """Label one radiology report with the 14 CheXpert observations.

    Parameters
    ----------
    text : str
        A whole report. Its FINDINGS and IMPRESSION sections are labelled (INDICATION,
        HISTORY and COMPARISON are not: "history of pneumonia" is not a finding); text
        without any known heading is labelled whole.

    Returns
    -------
    dict of str to (1, 0, -1 or None)
        One key per observation of :data:`~cxrpilot.vocabulary.OBSERVATIONS`, in order:
        1 present, 0 absent, -1 uncertain, None not mentioned. No Finding is 1 or 0 (see the
        module documentation); every value is None when there is nothing to label.

    Examples
    --------
    >>> labels = label_report("FINDINGS: Mild cardiomegaly. No pleural effusion. "
    ...                       "Possible left basilar atelectasis. IMPRESSION: No pneumothorax.")
    >>> labels["Cardiomegaly"], labels["Pleural Effusion"], labels["Atelectasis"], labels["Edema"]
    (1, 0, -1, None)
    >>> labels["Pneumothorax"], labels["No Finding"]
    (0, 0)
    """
    check_text(text)
    # not-assessed lists are blanked before the section split joins their lines
    return label_text(split_sections(_blank_unassessed(text)).labeling_text())


def label_reports(texts: Iterable[str]) -> list[Labels]:
    """:func:`label_report` over many reports (a list of dicts, in input order)."""
    return [label_report(t) for t in texts]


@runtime_checkable
class Labeler(Protocol):
    """Anything that labels report texts with the 14 observations."""

    name: str

    def __call__(self, texts: Sequence[str]) -> list[Labels]: ...


class RuleLabeler:
    """The built-in rule-based labeler (:func:`label_reports`)."""

    name = "rules"

    def __call__(self, texts: Sequence[str]) -> list[Labels]:
        return label_reports(texts)

    def __repr__(self) -> str:
        return "RuleLabeler()"


# CheXbert's output order and class coding (Smit et al. 2020): 13 heads of 4 classes
# (0 blank, 1 positive, 2 negative, 3 uncertain) then No Finding (0 blank, 1 positive).
_CHEXBERT_ORDER = [
    "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema",
    "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion",
    "Pleural Other", "Fracture", "Support Devices", "No Finding",
]
_CHEXBERT_CLASS = {0: None, 1: 1, 2: 0, 3: -1}


class ChexbertLabeler:
    """CheXbert (a BERT report labeler) from local weights, through ``transformers``.

    ``path`` is a folder with the CheXbert checkpoint (``chexbert.pth``: a torch state dict
    with ``bert.*`` and ``linear_heads.N.*`` keys, optionally under ``model_state_dict`` and
    a ``module.`` prefix) and the BERT tokenizer files (``vocab.txt`` ...); a
    ``config.json`` there overrides the default ``bert-base-uncased`` configuration. Nothing
    is downloaded. The weights are read on first use (``ModelLoadError`` if they are not a
    CheXbert checkpoint). Tested on a tiny BERT of that layout (``tests/reports/test_chexbert.py``),
    not on the published CheXbert weights, which are not here.
    """

    name = "chexbert"

    def __init__(self, path: str | Path, *, batch_size: int = 16) -> None:
        folder = Path(path)
        if not folder.exists():
            raise ModelLoadError(
                f"CheXbert weights not found at {str(folder)!r}; give the folder that holds "
                "chexbert.pth and the BERT tokenizer files (vocab.txt), e.g. --labeler chexbert:/models/chexbert"
            )
        weights = folder / "chexbert.pth" if folder.is_dir() else folder
        folder = weights.parent
        if not weights.is_file():
            raise ModelLoadError(f"{str(folder)!r} has no chexbert.pth; expected the CheXbert checkpoint there")
        if not (folder / "vocab.txt").is_file() and not (folder / "tokenizer.json").is_file():
            raise ModelLoadError(
                f"{str(folder)!r} has no tokenizer (vocab.txt or tokenizer.json); copy the "
                "bert-base-uncased tokenizer files next to chexbert.pth"
            )
        self.path = str(weights)
        self.batch_size = batch_size
        self._model = None

    def _load(self):
        from cxrpilot.errors import require

        torch = require("torch", extra="train")
        transformers = require("transformers", extra="train")
        folder = Path(self.path).parent
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many kinds for a bad file  # noqa: BLE001
            raise ModelLoadError(f"{self.path!r} is not a readable torch checkpoint ({exc})") from None
        state = state.get("model_state_dict", state)
        state = {k.removeprefix("module."): v for k, v in state.items()}
        bert_state = {k.removeprefix("bert."): v for k, v in state.items() if k.startswith("bert.")}
        heads = sorted({int(k.split(".")[1]) for k in state if k.startswith("linear_heads.")})
        if not bert_state or len(heads) != 14:
            raise ModelLoadError(
                f"{self.path!r} is not a CheXbert checkpoint: expected bert.* weights and 14 "
                f"linear_heads, found {len(bert_state)} bert tensors and {len(heads)} heads"
            )
        config_file = folder / "config.json"
        config = (
            transformers.BertConfig.from_json_file(str(config_file)) if config_file.is_file()
            else transformers.BertConfig()
        )
        bert = transformers.BertModel(config, add_pooling_layer=False)
        missing, _ = bert.load_state_dict(bert_state, strict=False)
        if any(not k.startswith("pooler.") for k in missing):
            raise ModelLoadError(f"{self.path!r}: BERT weights missing: {', '.join(missing[:5])}")
        linear = torch.nn.ModuleList(
            torch.nn.Linear(config.hidden_size, state[f"linear_heads.{i}.weight"].shape[0]) for i in heads
        )
        linear.load_state_dict({k.removeprefix("linear_heads."): v for k, v in state.items() if k.startswith("linear_heads.")})
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        bert.eval()
        self._model = (torch, tokenizer, bert, linear)

    def __call__(self, texts: Sequence[str]) -> list[Labels]:
        if self._model is None:
            self._load()
        torch, tokenizer, bert, linear = self._model
        out: list[Labels] = []
        for i in range(0, len(texts), self.batch_size):
            batch = [split_sections(t).labeling_text() or " " for t in texts[i : i + self.batch_size]]
            enc = tokenizer([normalise(t) for t in batch], padding=True, truncation=True, max_length=512, return_tensors="pt")
            with torch.no_grad():
                cls = bert(**enc).last_hidden_state[:, 0]
                classes = [head(cls).argmax(dim=1).tolist() for head in linear]
            for r in range(len(batch)):
                labels: Labels = dict.fromkeys(OBSERVATIONS)
                for h, name in enumerate(_CHEXBERT_ORDER):
                    c = classes[h][r]
                    labels[name] = (1 if c == 1 else None) if name == _NO_FINDING else _CHEXBERT_CLASS[c]
                out.append(labels)
        return out

    def __repr__(self) -> str:
        return f"ChexbertLabeler({self.path!r})"


def get_labeler(name_or_path: str = "rules") -> Labeler:
    """A labeler by name.

    Parameters
    ----------
    name_or_path : str
        ``"rules"`` (the default, built in) or ``"chexbert:PATH"`` (CheXbert weights in a
        local folder; see :class:`ChexbertLabeler`).

    Raises
    ------
    UnknownModelError
        For any other name (the message lists the valid ones).
    ModelLoadError
        When the CheXbert folder or its files are missing.

    Examples
    --------
    >>> get_labeler("rules")(["No pneumothorax."])[0]["Pneumothorax"]
    0
    """
    if name_or_path in ("rules", "", None):
        return RuleLabeler()
    if name_or_path.startswith("chexbert:"):
        return ChexbertLabeler(name_or_path.split(":", 1)[1])
    if name_or_path == "chexbert":
        raise ModelLoadError("the chexbert labeler needs its local weights: use 'chexbert:/path/to/folder'")
    raise UnknownModelError(f"unknown labeler {name_or_path!r}; expected 'rules' or 'chexbert:PATH'")


def findings_from_labels(labels: Mapping[str, int | None]) -> tuple[Finding, ...]:
    """The 14 findings, in vocabulary order, that labels state.

    1 -> present, 0 -> absent, -1 -> uncertain, None (or a missing key) -> not assessed.

    Raises
    ------
    InvalidInputError
        For a key that is not one of the 14 observations, or a value other than
        1, 0, -1 or None.

    Examples
    --------
    >>> f = findings_from_labels({"Cardiomegaly": 1, "Edema": None})
    >>> [str(x.status) for x in f[:3]]
    ['not_assessed', 'not_assessed', 'present']
    """
    unknown = [k for k in labels if k not in OBSERVATIONS]
    if unknown:
        raise InvalidInputError(f"unknown observation(s) {unknown}; expected keys among {', '.join(OBSERVATIONS)}")
    findings = []
    for name in OBSERVATIONS:
        value = labels.get(name)
        if isinstance(value, float) and math.isnan(value):
            value = None  # a blank cell read by pandas
        if value is not None and not isinstance(value, bool):
            try:
                if value == int(value):
                    value = int(value)
            except (TypeError, ValueError):
                pass
        if isinstance(value, bool) or value not in LABEL_STATUS:
            raise InvalidInputError(f"label of {name!r} is {value!r}; expected 1, 0, -1 or None")
        findings.append(Finding(name, LABEL_STATUS[value]))
    return tuple(findings)
