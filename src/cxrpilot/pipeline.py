"""Radiograph -> Draft: the one way every interface (CLI, API, batch) drafts a report.

Models return model outputs (findings and maps, generated text, timings); this module is
the one place they become a :class:`~cxrpilot.draft.Draft`. A *drafter* pairs a model with
the way its output becomes one:

- ``"expert"`` (the default, CPU-only): the embedded expert classifier gives findings with
  calibrated probabilities and the composer writes the text from them.
- ``"janus:PATH"``: Janus-Pro (local weights) writes the text and the report labeler reads
  the findings from it; with an expert model given too, the expert's present findings are
  put into the prompt ("Expert analysis: ... present.") and its probabilities are kept.

Example
-------
>>> from cxrpilot import imaging, pipeline                       # doctest: +SKIP
>>> draft = pipeline.draft(imaging.load("chest.dcm"))           # doctest: +SKIP
>>> print(draft.banner); print(draft.text)                       # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from cxrpilot.draft import Draft, Finding, apply_no_finding_rule, complete_findings
from cxrpilot.errors import InvalidInputError, UnknownModelError
from cxrpilot.imaging import Radiograph
from cxrpilot.vocabulary import Status, check_quantize

__all__ = ["Drafter", "ExpertDrafter", "JanusDrafter", "EVALUATION_ONLY_SUFFIX", "fuse_findings", "load_drafter",
           "draft"]

MODEL_SPEC_HELP = "'expert', 'expert:NAME_OR_PATH' or 'janus:PATH'"


class Drafter(Protocol):
    """Anything that turns a radiograph into a draft."""

    model_id: str
    version: str

    def draft(self, radiograph: Radiograph, *, indication: str | None = None) -> Draft: ...


#: Ends the model id of a draft made with ``ExpertDrafter(model, every_output=True)``: such a
#: draft is for evaluation only (see :class:`ExpertDrafter`).
EVALUATION_ONLY_SUFFIX = "+every-output-evaluation-only"


@dataclass
class ExpertDrafter:
    """The expert classifier's findings, written up by the composer.

    Attributes
    ----------
    model : ExpertModel
        From :func:`cxrpilot.models.expert.load`.
    every_output : bool
        **Evaluation only.** Treat every output of the network as assessed (statuses from the
        card's thresholds; No Finding by :func:`~cxrpilot.draft.apply_no_finding_rule`), so
        the draft states findings the model has *not* been shown to assess reliably. It
        measures what the text would say if the assessment bar were dropped (e.g.
        ``benchmarks/bench_draft_nih.py``); it is never what a reader is shown, so the
        draft's model id ends with :data:`EVALUATION_ONLY_SUFFIX` and :func:`load_drafter`
        never builds one.
    """

    model: Any  # cxrpilot.models.expert.ExpertModel
    every_output: bool = False

    @property
    def model_id(self) -> str:
        return self.model.model_id + (EVALUATION_ONLY_SUFFIX if self.every_output else "")

    @property
    def version(self) -> str:
        return self.model.version

    def _assess_every_output(self, radiograph: Radiograph) -> tuple[tuple[Finding, ...], tuple[Any, ...]]:
        model = self.model
        proba = model.predict_proba([radiograph])[0]
        stated = [Finding(name, model.status_of(name, float(p)), float(p))
                  for name, p in zip(model.labels, proba, strict=True) if name != "No Finding"]
        if "No Finding" in model.labels:  # its probability is kept; its status follows the rule
            stated.append(Finding("No Finding", Status.UNCERTAIN, float(proba[model.labels.index("No Finding")])))
        findings = apply_no_finding_rule(stated)
        shown = [f.name for f in findings if f.status in (Status.PRESENT, Status.UNCERTAIN) and f.name in model.labels]
        maps = model.locate(radiograph, shown) if shown and model.has_maps else ()
        return findings, maps

    def draft(self, radiograph: Radiograph, *, indication: str | None = None) -> Draft:
        from cxrpilot.models.composer import compose

        t0 = time.perf_counter()
        if self.every_output:
            findings, maps = self._assess_every_output(radiograph)
        else:
            findings, maps = self.model.assess_with_maps(radiograph)
        t1 = time.perf_counter()
        findings_text, impression_text = compose(findings, indication=indication)
        t2 = time.perf_counter()
        return Draft(
            source=radiograph.source,
            findings=findings,
            findings_text=findings_text,
            impression_text=impression_text,
            model_id=self.model_id,
            model_version=self.version,
            timings={"model": t1 - t0, "compose": t2 - t1},
            maps=maps,
        )


@dataclass
class JanusDrafter:
    """Janus-Pro writes the text; optionally fused with the expert classifier.

    The report labeler's reading of the generated text gives the findings. With an expert
    model, its present findings go into the prompt and its findings are fused with the
    text's (:func:`fuse_findings`), so the expert's assessment is never lost.
    """

    reporter: Any  # cxrpilot.models.janus.JanusReporter
    expert: Any | None = None  # cxrpilot.models.expert.ExpertModel
    max_new_tokens: int = 512

    @property
    def model_id(self) -> str:
        base = self.reporter.model_id
        return f"{base}+{self.expert.model_id}" if self.expert is not None else base

    @property
    def version(self) -> str:
        return self.reporter.version

    def draft(self, radiograph: Radiograph, *, indication: str | None = None) -> Draft:
        t0 = time.perf_counter()
        expert_findings = self.expert.assess(radiograph) if self.expert is not None else None
        t1 = time.perf_counter()
        out = self.reporter.generate(
            [radiograph],
            indications=[indication],
            expert_findings=[expert_findings],
            max_new_tokens=self.max_new_tokens,
            batch_size=1,
        )[0]
        timings = {"model": out.timings["preprocess"] + out.timings["generate"], "parse": out.timings["parse"]}
        if self.expert is not None:
            timings["expert"] = t1 - t0
        return Draft(
            source=out.source,
            findings=fuse_findings(out.findings, expert_findings),
            findings_text=out.findings_text,
            impression_text=out.impression_text,
            # the text's author: the expert's part is in the findings' probabilities
            model_id=self.reporter.model_id,
            model_version=self.reporter.version,
            timings=timings,
        )


def fuse_findings(
    text_findings: Sequence[Finding], expert_findings: Sequence[Finding | str] | None
) -> tuple[Finding, ...]:
    """The findings read from a generated report, completed by the expert classifier's.

    A finding the text states keeps the text's status and carries the expert's probability;
    one the text does not mention takes the expert's finding as it is (status and
    probability); one neither assesses stays not assessed. Bare names (no status) and
    findings the expert does not assess add nothing.

    Parameters
    ----------
    text_findings : sequence of Finding
        Read from the text (no probabilities); missing observations count as not assessed.
    expert_findings : sequence of (Finding or str), or None
        The expert classifier's findings.

    Returns
    -------
    tuple of Finding
        All 14 observations in vocabulary order.

    >>> fused = fuse_findings([Finding("Edema", "present")], [Finding("Edema", "absent", 0.2),
    ...                                                        Finding("Cardiomegaly", "absent", 0.1)])
    >>> [(f.name, str(f.status), f.probability) for f in fused if f.assessed]
    [('Cardiomegaly', 'absent', 0.1), ('Edema', 'present', 0.2)]
    """
    by_expert = {f.name: f for f in (expert_findings or ()) if isinstance(f, Finding) and f.assessed}
    fused: list[Finding] = []
    for f in complete_findings(list(text_findings)):
        e = by_expert.get(f.name)
        if e is None:
            fused.append(f)
        elif f.assessed:
            fused.append(replace(f, probability=e.probability))
        else:
            fused.append(e)
    return tuple(fused)


def load_drafter(spec: str | None = None, *, expert: str | None = None, quantize: str | None = None) -> Drafter:
    """Build a drafter from a model spec.

    Parameters
    ----------
    spec : str or None
        ``None`` or ``"expert"`` for the shipped default; ``"expert:NAME_OR_PATH"``;
        ``"janus:PATH"`` for Janus-Pro weights in a local folder.
    expert : str or None
        With a Janus spec: also run this expert model (``"default"`` or a name/path) and
        feed its present findings into the prompt.
    quantize : str or None
        With a Janus spec: one of :data:`cxrpilot.vocabulary.QUANTIZATIONS` (``"int8"``,
        ``"int4"``) decodes with 8- or 4-bit weights in ONNX Runtime on the CPU (see
        :func:`cxrpilot.models.janus.load`).

    Raises
    ------
    UnknownModelError
        The spec is not of a known kind.
    InvalidInputError
        ``quantize`` is not one of the accepted values, or is given with a non-Janus spec.
    ModelLoadError
        The weights are missing or unreadable.
    """
    kind, _, arg = (spec or "expert").partition(":")
    check_quantize(quantize)
    if quantize is not None and kind != "janus":
        raise InvalidInputError(f"quantize={quantize!r} applies to Janus models ('janus:PATH'), not {spec or 'expert'!r}")
    if kind == "expert":
        from cxrpilot.models import expert as expert_models

        return ExpertDrafter(expert_models.load(arg or None))
    if kind == "janus":
        if not arg:
            raise UnknownModelError(f"model spec {spec!r} needs a path: 'janus:PATH'")
        from cxrpilot.models import expert as expert_models
        from cxrpilot.models import janus

        fused = None
        if expert is not None:
            fused = expert_models.load(None if expert in ("", "default") else expert)
        return JanusDrafter(janus.load(arg, quantize=quantize), expert=fused)
    raise UnknownModelError(f"unknown model spec {spec!r}; expected {MODEL_SPEC_HELP}")


def draft(
    radiograph: Radiograph,
    *,
    model: Drafter | str | None = None,
    indication: str | None = None,
) -> Draft:
    """Draft a report for one radiograph.

    Parameters
    ----------
    radiograph : Radiograph
        From :func:`cxrpilot.imaging.load`.
    model : Drafter, str or None
        A drafter from :func:`load_drafter`, a spec for it, or None for the default.
        Pass a drafter when drafting many images, so the model is loaded once.
    indication : str or None
        Clinical indication ("fever, cough", "line placement"): the expert drafter's
        IMPRESSION answers it first; Janus-Pro puts it in the prompt.

    Returns
    -------
    Draft
        Always labelled as a draft (``draft.banner``).
    """
    drafter = model if model is not None and not isinstance(model, str) else load_drafter(model)
    return drafter.draft(radiograph, indication=indication)
