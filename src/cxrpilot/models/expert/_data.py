"""The training table of the expert model: which images, which labels, which split.

Built from :mod:`cxrpilot.data`: the four image sources are read into
:class:`~cxrpilot.data.Study` records, lateral views are dropped, images duplicated across
folders are merged (perceptual hash) *before* the patient-level, seeded split, so that no
image sits on both sides of a split.

Labels are **partial**: each source gives only the labels it states (NIH ChestX-ray14 all of
:data:`LABELS`; the pneumonia/COVID collections No Finding, Lung Opacity and Pneumonia); every
other entry is NaN and is masked in the loss, never taken as a negative.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from cxrpilot.errors import InvalidDatasetError

__all__ = ["SOURCES", "LABELS", "ExampleTable", "build_table", "targets_of"]

#: Training sources, by folder name under the data directory.
SOURCES: tuple[str, ...] = ("nih-chestxray14", "covid-radiography", "pediatric-pneumonia",
                            "covid-chestxray")
#: Where an image found in several folders came from first: covid-radiography copied the
#: pediatric normals, ~260 covid-chestxray images and (through RSNA) some NIH images, so
#: those count as their origin's (whose labels are the better ones).
ORIGIN_PRIORITY: tuple[str, ...] = ("nih-chestxray14", "pediatric-pneumonia", "covid-chestxray",
                                    "covid-radiography")
#: The network's outputs (vocabulary order): every observation some source labels.
LABELS: tuple[str, ...] = (
    "No Finding", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema", "Consolidation",
    "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other",
)
#: Share of each epoch's training draws per source (the multi-finding labels are all in
#: the small NIH set, so it is drawn far more often than its size alone would give).
SOURCE_SHARES: dict[str, float] = {"nih-chestxray14": 0.45, "covid-radiography": 0.25,
                                   "pediatric-pneumonia": 0.15, "covid-chestxray": 0.15}
LICENCES: dict[str, str] = {
    "nih-chestxray14": "CC0 / unrestricted use with citation (NIH Clinical Center, "
                       "ChestX-ray14, Wang et al. 2017)",
    "covid-radiography": "research use; no licence file in the copy used (COVID-19 Radiography "
                         "Database, Rahman, Chowdhury et al.)",
    "pediatric-pneumonia": "CC BY 4.0 (Kermany et al.)",
}
FRONTAL_VIEWS = {"PA", "AP", "AP SUPINE", "AP ERECT", "FRONTAL"}
#: Shares of the train / validate / test splits.
SPLIT_FRACTIONS: tuple[float, float, float] = (0.65, 0.15, 0.2)


@dataclass
class ExampleTable:
    """Parallel arrays over the de-duplicated images."""

    paths: list[str]
    sources: np.ndarray  # origin source per image
    patients: np.ndarray
    targets: np.ndarray  # (N, len(LABELS)) with 1/0/NaN
    splits: np.ndarray  # "train" / "validate" / "test"
    licences: list[str]
    notes: str
    counts: dict[str, Any]
    studies: list  # the Study records, in table order (views, NIH boxes and labels in meta)

    def source_summary(self, keep: np.ndarray) -> list[dict[str, Any]]:
        out = []
        for src in SOURCES:
            sel = keep & (self.sources == src)
            if not sel.any():
                continue
            lic: str | dict[str, int] = LICENCES.get(src, "")
            if src == "covid-chestxray":
                lic = dict(Counter(self.licences[i] for i in np.flatnonzero(sel)).most_common())
            labelled = {name: int((self.targets[sel, j] == 1).sum())
                        for j, name in enumerate(LABELS) if (~np.isnan(self.targets[sel, j])).any()}
            out.append({"name": src, "images": int(sel.sum()), "positives": labelled,
                        "licence": lic, **self.counts.get(src, {})})
        return out


def targets_of(labels: dict[str, int | None]) -> np.ndarray:
    """The label vector (1 / 0 / NaN per :data:`LABELS`) of a study's labels."""
    out = np.full(len(LABELS), np.nan)
    for j, name in enumerate(LABELS):
        v = labels.get(name)
        if v in (0, 1):
            out[j] = float(v)
    return out


def _is_frontal(view: str | None, source: str) -> bool:
    """Frontal by the stated view; an unstated view counts as frontal only for the
    folder sources, whose images are all frontal (covid-chestxray states a view per image)."""
    if view is None:
        return source != "covid-chestxray"
    return view.upper().replace("_", " ") in FRONTAL_VIEWS


def _limit(studies: list, limit: int | None, seed: int) -> list:
    """At most ``limit`` studies per class (label vector), chosen with ``seed``."""
    if limit is None:
        return studies
    rng = np.random.default_rng(seed)
    by_class: dict[tuple, list] = {}
    for s in studies:
        by_class.setdefault(tuple(np.nan_to_num(targets_of(s.labels), nan=-1)), []).append(s)
    out = []
    for key in sorted(by_class):
        members = by_class[key]
        pick = rng.choice(len(members), size=min(limit, len(members)), replace=False)
        out.extend(members[i] for i in sorted(pick))
    return out


def _read_source(data_dir: Path, source: str) -> list:
    from cxrpilot.data import read_covid_chestxray, read_image_folders, read_nih

    root = data_dir / source
    if not root.is_dir():
        raise InvalidDatasetError(f"{root}: source folder not found; expected {source}/ under the "
                                  f"data folder {str(data_dir)!r} (see ../shared/data/README.md)")
    if source == "covid-chestxray":
        return read_covid_chestxray(root)
    if source == "nih-chestxray14":
        return [replace(s, source=source) for s in read_nih(root)]
    return read_image_folders(root, source=source,
                              view="AP" if source == "pediatric-pneumonia" else None)


def build_table(
    data_dir: Path,
    sources: tuple[str, ...],
    *,
    seed: int,
    limit_per_class: int | None = None,
    holdout_source: str | None = None,
    cache_dir: Path | None = None,
    progress: bool = False,
) -> ExampleTable:
    """Read, filter, de-duplicate and split the training images.

    Lateral (and, for covid-chestxray, unstated) views and images without any of
    :data:`LABELS` are dropped; duplicates across and within folders are merged keeping the
    copy from the source the image came from first (:data:`ORIGIN_PRIORITY`); then
    studies are split by patient with ``seed`` (70/10/20 train/validate/test). With
    ``holdout_source``, every image of that source is put in the test split and the others
    are split as usual.
    """
    from cxrpilot.data import assign_splits, deduplicate
    from cxrpilot.models.expert._cache import default_cache_dir

    data_dir = Path(data_dir)
    studies: list = []
    counts: dict[str, dict[str, int]] = {}
    for source in sources:
        raw = _read_source(data_dir, source)
        frontal = [s for s in raw if s.images and s.images[0].path
                   and _is_frontal(s.images[0].view, source)]
        labelled = [s for s in frontal if not np.isnan(targets_of(s.labels)).all()]
        counts[source] = {"listed": len(raw), "excluded_not_frontal": len(raw) - len(frontal),
                          "excluded_no_label": len(frontal) - len(labelled)}
        studies.extend(_limit(labelled, limit_per_class, seed))
    before = Counter(s.source for s in studies)
    kept = deduplicate(studies, prefer=ORIGIN_PRIORITY,
                       cache_dir=cache_dir or default_cache_dir(), progress=progress)
    after = Counter(s.source for s in kept)
    for source in sources:
        counts[source]["excluded_duplicate"] = before[source] - after[source]
    held = [s for s in kept if s.source == holdout_source]
    rest = [s for s in kept if s.source != holdout_source]
    rest = assign_splits(rest, fractions=SPLIT_FRACTIONS, seed=seed)
    ordered = [*rest, *held]
    notes = (
        f"Frontal views only (lateral and unstated views of covid-chestxray excluded); images "
        f"without a usable label excluded (covid-chestxray 'todo' and other unread findings); "
        f"{len(studies) - len(kept)} duplicate images (perceptual hash, cxrpilot.data.deduplicate) "
        f"removed before splitting, keeping the copy from the source it came from "
        f"({' > '.join(ORIGIN_PRIORITY)}). Patient-level split "
        f"{'/'.join(str(v) for v in SPLIT_FRACTIONS)} (train/validate/test) with seed {seed} "
        f"(cxrpilot.data.assign_splits); covid-radiography has no patient ids, so its split is "
        f"per image; NIH ChestX-ray14 is split by patient_id."
        + (f" Cross-source model: all of {holdout_source} is test data, none of it trained on."
           if holdout_source else "")
    )
    return ExampleTable(
        paths=[s.images[0].path for s in ordered],
        sources=np.array([s.source for s in ordered]),
        patients=np.array([s.patient_id for s in ordered]),
        targets=np.stack([targets_of(s.labels) for s in ordered]) if ordered
        else np.zeros((0, len(LABELS))),
        splits=np.array([s.split for s in rest] + ["test"] * len(held)),
        licences=[str(s.meta.get("license") or s.meta.get("licence") or "not stated")
                  if s.source == "covid-chestxray" else LICENCES.get(s.source, "")
                  for s in ordered],
        notes=notes,
        counts=counts,
        studies=ordered,
    )
