"""Measuring cxrpilot: diagnostic accuracy, report metrics, clinical efficacy and reader
studies.

Functions are pure and scikit-learn shaped, ``(y_true, y_score, *, options)``; statistics
with uncertainty are returned as a frozen :class:`Estimate` (``estimate, ci_low, ci_high, n,
method``). Undefined cases warn (:class:`UndefinedMetricWarning`) and return NaN.
"""

from __future__ import annotations

from ._agreement import (
    PreferenceResult,
    TestResult,
    compare_ordinal,
    fleiss_kappa_ci,
    icc,
    majority_preference,
    preference_share,
)
from ._clinical import ClinicalEfficacy, clinical_efficacy
from ._diagnostic import (
    delong_test,
    expected_calibration_error,
    proportion_ci,
    reliability_diagram,
    roc_auc_by_finding,
    roc_auc_ci,
    roc_curve_points,
    threshold_metrics,
    youden_threshold,
)
from ._edit_distance import char_edit_distance, word_edit_distance, word_tokens
from ._html import render_findings_html, render_reports_html, render_study_html
from ._reading import (
    draft_edits,
    reading_time_mixed_model,
    relative_change_ci,
    summarise,
)
from ._report_metrics import REPORT_METRICS, ptb_tokenize, report_metric_scores, report_metrics
from ._result import (
    DeLongResult,
    Estimate,
    ReliabilityDiagram,
    RocCurve,
    ThresholdMetrics,
    to_jsonable,
)
from ._simulate import SimulationSpec, simulate_reader_study, write_study_export
from ._study import StudyAnalysis, analyze_study
from ._study_data import (
    ARMS,
    EVALUATION_COLUMNS,
    RADPEER_SCORES,
    READ_COLUMNS,
    StudyData,
    load_study,
    study_from_records,
)
from ._validation import UndefinedMetricWarning

__all__ = [
    "Estimate",
    "DeLongResult",
    "ThresholdMetrics",
    "ReliabilityDiagram",
    "RocCurve",
    "to_jsonable",
    "UndefinedMetricWarning",
    "roc_auc_ci",
    "roc_auc_by_finding",
    "delong_test",
    "proportion_ci",
    "youden_threshold",
    "threshold_metrics",
    "reliability_diagram",
    "expected_calibration_error",
    "roc_curve_points",
    "REPORT_METRICS",
    "report_metrics",
    "report_metric_scores",
    "ptb_tokenize",
    "ClinicalEfficacy",
    "clinical_efficacy",
    "ARMS",
    "RADPEER_SCORES",
    "READ_COLUMNS",
    "EVALUATION_COLUMNS",
    "StudyData",
    "load_study",
    "study_from_records",
    "StudyAnalysis",
    "analyze_study",
    "TestResult",
    "compare_ordinal",
    "PreferenceResult",
    "majority_preference",
    "preference_share",
    "fleiss_kappa_ci",
    "icc",
    "summarise",
    "relative_change_ci",
    "reading_time_mixed_model",
    "word_edit_distance",
    "char_edit_distance",
    "word_tokens",
    "draft_edits",
    "SimulationSpec",
    "simulate_reader_study",
    "write_study_export",
    "render_study_html",
    "render_findings_html",
    "render_reports_html",
]
