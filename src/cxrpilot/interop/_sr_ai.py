"""The model's findings as a DICOM Comprehensive SR, TID 1500 *Measurement Report*
(see :mod:`.sr`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from cxrpilot.errors import InvalidInputError

from ._codes import LOCAL_SCHEME, LOCAL_SCHEME_NAME, STATUS_CODES, finding_code
from ._sr_common import ExamRef, evidence, language, series_uid_for, stamp

AI_SERIES_DESCRIPTION = "cxrpilot AI findings - not reviewed by a radiologist"
#: Series number of the AI findings SR series.
AI_SERIES_NUMBER = 9002


def ai_findings_sr(
    findings: Iterable,
    exam: ExamRef,
    *,
    model_id: str,
    model_version: str,
    created_at: datetime,
    sop_instance_uid: str,
    series_instance_uid: str | None = None,
    manufacturer: str = "cxrpilot",
):
    """The model's findings as a DICOM Comprehensive SR (TID 1500 Measurement Report).

    Parameters
    ----------
    findings : iterable of cxrpilot.draft.Finding (or dicts with name/status/probability)
        What the model stated. Findings *not assessed* are left out: the document states
        only what the model assessed.
    exam : ExamRef
        The study and its source images.
    model_id, model_version : str
        The model: device observer name and algorithm name/version of every group.
    created_at : datetime
        When the model drafted (timezone-aware): the content date and time.
    sop_instance_uid : str
        The SR's UID (the same for the same draft every time).

    Returns
    -------
    highdicom.sr.ComprehensiveSR
        ``PRELIMINARY`` and ``UNVERIFIED`` (no person checked it), series description
        :data:`AI_SERIES_DESCRIPTION`.

    Raises
    ------
    InvalidInputError
        The model assessed no finding (nothing to report), a duplicate finding, a
        probability outside [0, 1], a naive ``created_at``.
    """
    import highdicom as hd
    from highdicom.coding_schemes import CodingSchemeIdentificationItem
    from pydicom.sr.codedict import codes
    from pydicom.uid import generate_uid

    from cxrpilot.vocabulary import Status

    if not model_id:
        raise InvalidInputError("model_id is empty; the AI findings SR must name its model")
    if created_at.tzinfo is None:
        raise InvalidInputError("created_at must be timezone-aware")
    algorithm = hd.sr.AlgorithmIdentification(
        name=model_id[:64], version=(model_version or "unknown")[:64], manufacturer=manufacturer
    )
    device_uid = str(generate_uid(entropy_srcs=["cxrpilot-model", model_id, model_version]))
    context = hd.sr.ObservationContext(
        observer_device_context=hd.sr.ObserverContext(
            observer_type=codes.DCM.Device,
            observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
                uid=device_uid,
                name=model_id[:64],
                manufacturer_name=manufacturer,
                model_name=model_id[:64],
            ),
        )
    )
    sources = [
        hd.sr.SourceImageForMeasurementGroup(i.sop_class_uid, i.sop_instance_uid)
        for i in exam.images
    ]
    groups = []
    for f in _findings(findings):
        name, status, probability = f
        if status is Status.NOT_ASSESSED:
            continue
        concept = _finding_concept(name)
        value = hd.sr.CodedConcept(*STATUS_CODES[status][:1], "SCT", STATUS_CODES[status][1])
        measurements = []
        if probability is not None:
            measurements.append(
                hd.sr.Measurement(
                    name=codes.DCM.Probability,
                    value=float(probability),
                    unit=codes.UCUM.NoUnits,
                    algorithm_id=algorithm,
                )
            )
        groups.append(
            hd.sr.MeasurementsAndQualitativeEvaluations(
                tracking_identifier=hd.sr.TrackingIdentifier(
                    uid=str(generate_uid(entropy_srcs=[sop_instance_uid, name])), identifier=name
                ),
                finding_type=concept,
                algorithm_id=algorithm,
                qualitative_evaluations=[hd.sr.QualitativeEvaluation(name=concept, value=value)],
                measurements=measurements or None,
                source_images=sources,
            )
        )
    if not groups:
        raise InvalidInputError(
            f"model {model_id!r} assessed none of the findings: there is nothing to report "
            "(a finding not assessed is never written as absent)"
        )
    report = hd.sr.MeasurementReport(
        observation_context=context,
        procedure_reported=hd.sr.CodedConcept("399208008", "SCT", "Plain chest X-ray"),
        imaging_measurements=groups,
        language_of_content_item_and_descendants=language(),
    )
    sr = hd.sr.ComprehensiveSR(
        evidence=evidence(exam),
        content=report[0],
        series_instance_uid=series_instance_uid or series_uid_for(exam.study_instance_uid, "ai"),
        series_number=AI_SERIES_NUMBER,
        sop_instance_uid=sop_instance_uid,
        instance_number=1,
        manufacturer=manufacturer,
        is_complete=True,
        is_final=False,
        is_verified=False,
        series_description=AI_SERIES_DESCRIPTION,
        manufacturer_model_name=model_id[:64],
        software_versions=(model_version or "unknown")[:64],
        specific_character_set="ISO_IR 192",
        coding_schemes=[
            CodingSchemeIdentificationItem(
                designator=LOCAL_SCHEME, name=LOCAL_SCHEME_NAME, responsible_organization="cxrpilot"
            )
        ],
    )
    stamp(sr, created_at)
    sr.SeriesDate, sr.SeriesTime = sr.ContentDate, sr.ContentTime
    return sr


def _finding_concept(name: str):
    """The finding's SNOMED CT concept where the DICOM dictionary has it, else the local
    code (its meaning is always the cxrpilot finding name)."""
    import highdicom as hd

    code = finding_code(name)
    if code.snomed is not None:
        return hd.sr.CodedConcept(code.snomed[0], "SCT", name)
    return hd.sr.CodedConcept(code.local, LOCAL_SCHEME, name)


def _findings(findings: Iterable) -> Iterator[tuple]:
    from cxrpilot.vocabulary import Status

    seen = set()
    for f in findings:
        if isinstance(f, dict):
            name, status, p = f["name"], f["status"], f.get("probability")
        else:
            name, status, p = f.name, f.status, f.probability
        status = Status(status)
        if name in seen:
            raise InvalidInputError(f"finding {name!r} given twice")
        seen.add(name)
        if p is not None and not 0.0 <= float(p) <= 1.0:
            raise InvalidInputError(f"probability of {name!r} must be in [0, 1], got {p!r}")
        yield name, status, p
