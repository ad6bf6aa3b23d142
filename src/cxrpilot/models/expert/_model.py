"""Running an expert model: load a model folder, preprocess, predict, assess.

Inference runs on ONNX Runtime only (no torch, no transformers), so drafting a report on a
CPU starts in a fraction of a second.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cxrpilot.draft import Finding, FindingMap, apply_no_finding_rule
from cxrpilot.errors import InvalidInputError, ModelLoadError, UnknownModelError
from cxrpilot.models.expert._calibration import sigmoid
from cxrpilot.models.expert._card import CARD_FILE, WEIGHTS_FILE, ModelCard, read_card
from cxrpilot.vocabulary import Status

if TYPE_CHECKING:  # pragma: no cover
    from cxrpilot.imaging import Radiograph

__all__ = ["ExpertModel", "load", "available_models", "DEFAULT_MODEL", "WEIGHTS_DIR", "preprocess"]

#: Where the shipped models live (one folder per model id).
WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "weights"
#: The model :func:`load` returns when given no name.
DEFAULT_MODEL = "expert-resnet10-res224-cxr4"
_BATCH = 64


def available_models() -> list[str]:
    """Names of the shipped expert models (folders of ``cxrpilot/weights`` with an expert
    card; the weights home also holds the view model of :mod:`cxrpilot.imaging`).

    >>> DEFAULT_MODEL in available_models()
    True
    """
    if not WEIGHTS_DIR.is_dir():
        return []
    return sorted(p.name for p in WEIGHTS_DIR.iterdir() if _is_expert_folder(p))


def _is_expert_folder(folder: Path) -> bool:
    try:
        card = json.loads((folder / CARD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(card, dict) and card.get("kind", "expert") == "expert"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def preprocess(radiographs: Sequence[Radiograph], card: ModelCard) -> np.ndarray:
    """Radiographs -> the network input described by ``card``.

    Each image's [0, 1] pixels are fitted into a ``card.image_size`` square with the aspect
    ratio kept (:func:`cxrpilot.imaging.fit_square`), then normalised with the card's
    mean and std.

    Returns
    -------
    numpy.ndarray of shape (N, 1, S, S), float32
    """
    from cxrpilot.imaging import fit_square

    size = card.image_size
    out = np.empty((len(radiographs), 1, size, size), dtype=np.float32)
    for i, rg in enumerate(radiographs):
        pixels = getattr(rg, "pixels", None)
        if not isinstance(pixels, np.ndarray) or pixels.ndim != 2:
            raise TypeError(f"item {i} is not a Radiograph (got {type(rg).__name__}); "
                            "load images with cxrpilot.imaging.load")
        out[i, 0] = fit_square(pixels, size)
    out -= np.float32(card.mean)
    out /= np.float32(card.std)
    return out


class ExpertModel:
    """A loaded expert classifier. Build it with :func:`load`.

    Attributes
    ----------
    card : ModelCard
        The model card (labels, preprocessing, calibration, thresholds, training, metrics).
    path : pathlib.Path
        The model folder.
    """

    def __init__(self, card: ModelCard, path: Path, session: Any) -> None:
        self.card = card
        self.path = path
        self._session = session
        self._input = session.get_inputs()[0].name
        self._has_maps = any(o.name == "maps" for o in session.get_outputs())
        self._temps = np.asarray(card.temperatures, dtype=np.float64)

    def __repr__(self) -> str:
        return f"ExpertModel({self.model_id!r}, version={self.version!r}, assessed={self.assessed})"

    @property
    def model_id(self) -> str:
        """The descriptive model name, e.g. ``"expert-resnet10-res224-cxr4"``."""
        return self.card.model_id

    @property
    def version(self) -> str:
        return self.card.version

    @property
    def labels(self) -> tuple[str, ...]:
        """The network's outputs, in the order of :meth:`predict_proba` columns."""
        return self.card.labels

    @property
    def assessed(self) -> tuple[str, ...]:
        """The findings this model assesses (a subset of :attr:`labels`); it states nothing
        about any other observation."""
        return self.card.assessed

    @property
    def has_maps(self) -> bool:
        """Whether the weights give class activation maps (see :meth:`assess_with_maps`)."""
        return self._has_maps

    def preprocess(self, radiographs: Sequence[Radiograph]) -> np.ndarray:
        """The network inputs of ``radiographs``, shape (N, 1, S, S), float32: resized and
        normalised as the card says (what :meth:`predict_logits` takes)."""
        return preprocess(radiographs, self.card)

    def predict_logits(self, inputs: np.ndarray) -> np.ndarray:
        """Raw network outputs for preprocessed inputs of shape (N, 1, S, S) (see
        :meth:`preprocess`)."""
        return self._run(inputs, maps=False)[0]

    def calibrate(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated probabilities ``sigmoid(logit / T)`` of :meth:`predict_logits` outputs,
        with the card's temperature ``T`` of each output."""
        return sigmoid(np.asarray(logits, dtype=np.float64) / self._temps)

    def _run(self, inputs: np.ndarray, *, maps: bool) -> tuple[np.ndarray, np.ndarray | None]:
        names = ["logits", "maps"] if maps else [self._session.get_outputs()[0].name]
        outs = [self._session.run(names, {self._input: inputs[i : i + _BATCH]})
                for i in range(0, len(inputs), _BATCH)]
        if not outs:
            return np.zeros((0, len(self.labels)), dtype=np.float64), None
        logits = np.concatenate([o[0] for o in outs]).astype(np.float64)
        return logits, (np.concatenate([o[1] for o in outs]) if maps else None)

    def predict_proba(self, radiographs: Sequence[Radiograph]) -> np.ndarray:
        """Calibrated probabilities of each assessed finding.

        Parameters
        ----------
        radiographs : sequence of Radiograph
            From :func:`cxrpilot.imaging.load`; run in batches.

        Returns
        -------
        numpy.ndarray of shape (N, len(assessed)), float64
            ``sigmoid(logit / T)`` per finding, with the card's temperatures ``T``.

        Examples
        --------
        >>> model = load()                                           # doctest: +SKIP
        >>> model.predict_proba([imaging.load("chest.dcm")]).shape   # doctest: +SKIP
        (1, 3)
        """
        return self.calibrate(self.predict_logits(preprocess(radiographs, self.card)))

    def status_of(self, name: str, probability: float) -> Status:
        """present / uncertain / absent from the card's thresholds for ``name``."""
        t = self.card.thresholds[name]
        if probability > t.high:
            return Status.PRESENT
        if probability < t.low:
            return Status.ABSENT
        return Status.UNCERTAIN

    def findings_from_proba(self, proba: np.ndarray) -> tuple[Finding, ...]:
        """All 14 findings from one row of :meth:`predict_proba`.

        Assessed findings get a status from the card's thresholds; No Finding follows
        :func:`~cxrpilot.draft.apply_no_finding_rule` (also where the card lists it as
        assessed, as schema-1 cards do); everything else is not assessed.
        """
        found = [
            Finding(name, self.status_of(name, float(p)), float(p))
            for name, p in zip(self.labels, proba, strict=True) if name in self.assessed and name != "No Finding"
        ]
        if "No Finding" in self.labels:
            found.append(Finding("No Finding", Status.UNCERTAIN,
                                 float(proba[self.labels.index("No Finding")])))
        return apply_no_finding_rule(found)

    def assess(self, radiograph: Radiograph) -> tuple[Finding, ...]:
        """The 14 findings for one radiograph, in vocabulary order.

        Assessed findings carry a calibrated probability and a status from the card's
        thresholds; every other finding is :attr:`Status.NOT_ASSESSED` with no probability.
        """
        return self.findings_from_proba(self.predict_proba([radiograph])[0])

    def assess_with_maps(self, radiograph: Radiograph
                         ) -> tuple[tuple[Finding, ...], tuple[FindingMap, ...]]:
        """:meth:`assess` plus a map of where the model looked for each present or uncertain
        finding (a class activation map over the image, see
        :class:`~cxrpilot.draft.FindingMap`). Weights without maps give no maps."""
        if not self._has_maps:
            return self.assess(radiograph), ()
        logits, cams = self._run(preprocess([radiograph], self.card), maps=True)
        findings = self.findings_from_proba(self.calibrate(logits)[0])
        shown = [f.name for f in findings if f.status in (Status.PRESENT, Status.UNCERTAIN)
                 and f.name in self.labels]
        return findings, self._maps_from(cams[0], radiograph, shown)

    def locate(self, radiograph: Radiograph, names: Sequence[str]) -> tuple[FindingMap, ...]:
        """Maps of where the network's evidence for each of ``names`` (outputs, see
        :attr:`labels`) lies in ``radiograph``, whatever their status.

        Raises
        ------
        InvalidInputError
            A name is not an output, or the weights give no maps.
        """
        unknown = [n for n in names if n not in self.labels]
        if unknown or not self._has_maps:
            raise InvalidInputError(f"cannot map {unknown or list(names)} with {self.model_id}: "
                             + ("not among its outputs" if unknown else "its weights give no maps"))
        _, cams = self._run(preprocess([radiograph], self.card), maps=True)
        return self._maps_from(cams[0], radiograph, list(names))

    def _maps_from(self, cams: np.ndarray, radiograph: Radiograph,
                   names: list[str]) -> tuple[FindingMap, ...]:
        from cxrpilot.models.expert._maps import image_grid

        return tuple(FindingMap(name, image_grid(cams[self.labels.index(name)],
                                                 radiograph.pixels.shape, self.card.image_size))
                     for name in names)


def _resolve(name_or_path: str | os.PathLike[str] | None) -> Path:
    if name_or_path is None or (isinstance(name_or_path, str) and name_or_path in ("", "default")):
        return WEIGHTS_DIR / DEFAULT_MODEL
    raw = os.fspath(name_or_path)
    looks_like_path = (
        not isinstance(name_or_path, str) or os.sep in raw or "/" in raw
        or raw.endswith((".json", ".onnx")) or raw.startswith(".") or Path(raw).exists()
    )
    if not looks_like_path:
        names = available_models()
        if raw not in names:
            raise UnknownModelError(
                f"unknown expert model {raw!r}; available: {', '.join(names) or '(none shipped)'}; "
                "or pass the path of a model folder written by 'cxrpilot train expert'"
            )
        return WEIGHTS_DIR / raw
    path = Path(raw)
    if path.is_file() and path.name in (CARD_FILE, WEIGHTS_FILE):
        path = path.parent
    if not path.exists():
        raise ModelLoadError(f"expert model path {raw!r} does not exist; expected a folder with "
                             f"{CARD_FILE} and {WEIGHTS_FILE}")
    if not path.is_dir():
        raise ModelLoadError(f"expert model path {raw!r} is not a model folder; expected a folder "
                             f"with {CARD_FILE} and {WEIGHTS_FILE}")
    return path


def read_model_card(name_or_path: str | os.PathLike[str] | None = None) -> ModelCard:
    """The card of an expert model, found as :func:`load` finds it, without reading the weights.

    Raises
    ------
    UnknownModelError, ModelLoadError
        As :func:`load`, for the name or folder and the card.

    >>> read_model_card().model_id == DEFAULT_MODEL
    True
    """
    return read_card(_resolve(name_or_path) / CARD_FILE)


def load(name_or_path: str | os.PathLike[str] | None = None) -> ExpertModel:
    """Load an expert model: a shipped one by name, or a folder written by training.

    Parameters
    ----------
    name_or_path : str, path-like or None
        ``None`` (or ``"default"``) for the shipped default, a name from
        :func:`available_models`, or the path of a model folder (or of its ``card.json``).

    Returns
    -------
    ExpertModel

    Raises
    ------
    UnknownModelError
        ``name_or_path`` is neither a shipped model's name nor a path; the message lists the names.
    ModelLoadError
        The folder, card or weights are missing or corrupt, or the weights' sha256 does not
        match the card.

    Examples
    --------
    >>> model = load()
    >>> "Cardiomegaly" in model.labels
    True
    """
    folder = _resolve(name_or_path)
    card = read_card(folder / CARD_FILE)
    weights = folder / card.weights_file
    if not weights.is_file():
        raise ModelLoadError(f"weights {str(weights)!r} not found (named by {CARD_FILE})")
    digest = sha256_file(weights)
    if digest != card.sha256:
        raise ModelLoadError(
            f"weights {str(weights)!r} have sha256 {digest[:16]}..., but the card states "
            f"{card.sha256[:16]}...; the file is corrupt or not the one the card describes"
        )
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(weights), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors on bad files  # noqa: BLE001
        raise ModelLoadError(f"weights {str(weights)!r} are not a valid ONNX model: "
                             f"{str(exc).splitlines()[0][:200]}") from None
    _check_io(session, card, weights)
    return ExpertModel(card, folder, session)


def _check_io(session: Any, card: ModelCard, weights: Path) -> None:
    inputs, outputs = session.get_inputs(), session.get_outputs()
    in_shape, out_shape = list(inputs[0].shape), list(outputs[0].shape)
    if len(outputs) == 2 and (outputs[1].name != "maps" or len(outputs[1].shape) != 4):
        raise ModelLoadError(f"weights {str(weights)!r}: a second output must be 'maps' of "
                             f"shape [N, labels, h, w], got {outputs[1].name!r}")
    want_in = [1, card.image_size, card.image_size]
    if len(inputs) != 1 or len(in_shape) != 4 or in_shape[1:] != want_in:
        raise ModelLoadError(f"weights {str(weights)!r} take input {in_shape}; the card expects "
                             f"[N, {', '.join(map(str, want_in))}]")
    if len(out_shape) != 2 or out_shape[1] != len(card.labels):
        raise ModelLoadError(f"weights {str(weights)!r} give output {out_shape}; the card expects "
                             f"[N, {len(card.labels)}] for labels {card.labels}")
