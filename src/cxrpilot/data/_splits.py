"""Patient-level, duplicate-aware, stratified train/validate/test splits."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace

import numpy as np

from cxrpilot.data._dedup import DuplicateGroup, study_key
from cxrpilot.data._study import Study
from cxrpilot.data._union_find import UnionFind
from cxrpilot.errors import InvalidInputError
from cxrpilot.vocabulary import OBSERVATIONS

__all__ = ["assign_splits", "SPLIT_NAMES", "main_label", "split_name"]

#: Split names, in the order of ``fractions``.
SPLIT_NAMES: tuple[str, ...] = ("train", "validate", "test")

#: How dataset tables spell a split (lower case), each to its name in :data:`SPLIT_NAMES`.
_SPLIT_SPELLINGS = {
    "train": "train",
    "training": "train",
    "val": "validate",
    "valid": "validate",
    "validate": "validate",
    "validation": "validate",
    "test": "test",
}


def split_name(value: object) -> str | None:
    """The split a table's cell names (``"Training"`` -> ``"train"``, ``"val"`` ->
    ``"validate"``), or None when it names none (a blank cell included)."""
    return _SPLIT_SPELLINGS.get(str(value or "").strip().lower())

# Stratum order: findings first (rarer and more specific first), No Finding last.
_STRATUM_ORDER = tuple(o for o in OBSERVATIONS if o != "No Finding") + ("No Finding",)


def main_label(study: Study) -> str:
    """The stratum of a study: its first positive observation, with findings before
    ``"No Finding"`` in CheXpert order, else ``"unlabelled"``.

    >>> main_label(Study("s", "p", "x", labels={"No Finding": 0, "Pneumonia": 1, "Lung Opacity": 1}))
    'Lung Opacity'
    """
    for name in _STRATUM_ORDER:
        if study.labels.get(name) == 1:
            return name
    return "unlabelled"


def _groups_as_keys(
    groups: Iterable[DuplicateGroup | Iterable[tuple[str, str]]],
) -> list[list[tuple[str, str]]]:
    out = []
    for group in groups:
        members = group.members if isinstance(group, DuplicateGroup) else group
        out.append([tuple(m) for m in members])
    return out


def assign_splits(
    studies: Sequence[Study],
    *,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    groups: Iterable[DuplicateGroup | Iterable[tuple[str, str]]] | None = None,
) -> list[Study]:
    """Assign ``train`` / ``validate`` / ``test`` so that nothing leaks between them.

    Units that must not be separated are built first: all studies of one patient
    (``(source, patient_id)``) and all studies of one duplicate group are one unit (joined
    transitively). Each unit gets the stratum most of its studies have (:func:`main_label`
    and the source), units are shuffled with ``seed`` and, stratum by stratum (largest
    units first), each goes to the split furthest below its target share of studies (within
    the stratum plus overall). The result depends only on the studies, ``fractions`` and ``seed`` — not on the input order.

    Parameters
    ----------
    studies : sequence of Study
        Any sources; existing ``split`` values are overwritten.
    fractions : sequence of 3 floats
        Shares of train, validate, test; must be >= 0 and sum to 1. A zero share stays empty.
    seed : int
        Seed of the shuffle.
    groups : iterable of DuplicateGroup or of ``(source, study_id)`` collections, optional
        Studies to keep together, e.g. from :func:`~cxrpilot.data.find_duplicates`.

    Returns
    -------
    list of Study
        Copies (``dataclasses.replace``) with ``split`` set, in input order.

    Raises
    ------
    InvalidInputError
        Bad ``fractions``.

    Examples
    --------
    >>> studies = [Study(f"s{i}", f"p{i // 2}", "demo", labels={"Pneumonia": i % 2}) for i in range(20)]
    >>> out = assign_splits(studies, seed=0)
    >>> sorted({s.split for s in out})
    ['test', 'train', 'validate']
    """
    fractions = tuple(float(f) for f in fractions)
    if (
        len(fractions) != len(SPLIT_NAMES)
        or any(f < 0 or f != f for f in fractions)  # noqa: PLR0124
        or abs(sum(fractions) - 1) > 1e-6
    ):
        raise InvalidInputError(
            f"fractions={fractions}; expected {len(SPLIT_NAMES)} non-negative shares of "
            f"{'/'.join(SPLIT_NAMES)} summing to 1, e.g. (0.8, 0.1, 0.1)"
        )
    keys = [study_key(s) for s in studies]
    position = {key: i for i, key in enumerate(keys)}

    sets = UnionFind(len(studies))
    first_of_patient: dict[tuple[str, str], int] = {}
    for i, study in enumerate(studies):
        sets.union(i, first_of_patient.setdefault((study.source, study.patient_id), i))
    for members in _groups_as_keys(groups or ()):
        present = [position[m] for m in members if m in position]
        for other in present[1:]:
            sets.union(present[0], other)

    units: dict[int, list[int]] = {}
    for i in range(len(studies)):
        units.setdefault(sets.find(i), []).append(i)
    # Canonical unit order (independent of input order), then a seeded shuffle.
    unit_list = sorted(units.values(), key=lambda idx: min(keys[i] for i in idx))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(unit_list))
    strata: dict[str, list[list[int]]] = {}
    for u in order:
        idx = unit_list[u]
        votes = Counter(f"{studies[i].source}|{main_label(studies[i])}" for i in idx)
        stratum = min(votes.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        strata.setdefault(stratum, []).append(idx)

    target = np.asarray(fractions)
    overall = np.zeros(len(SPLIT_NAMES))
    assigned: dict[int, str] = {}
    for stratum in sorted(strata):
        members = sorted(
            strata[stratum], key=len, reverse=True
        )  # stable: shuffle order kept among equals
        counts = np.zeros(len(SPLIT_NAMES))
        for idx in members:
            # furthest below target within the stratum, and overall (so that many small strata
            # do not all land in the largest split)
            deficit = (target * (counts.sum() + len(idx)) - counts) + (
                target * (overall.sum() + len(idx)) - overall
            )
            deficit[target == 0] = -np.inf
            choice = int(np.argmax(deficit))
            counts[choice] += len(idx)
            overall[choice] += len(idx)
            for i in idx:
                assigned[i] = SPLIT_NAMES[choice]
    return [replace(study, split=assigned[i]) for i, study in enumerate(studies)]
