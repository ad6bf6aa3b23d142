"""Report text: sections, normalisation, the 14-observation labeler, IU Open-i XML.

>>> from cxrpilot.reports import label_report
>>> label_report("IMPRESSION: Small left pleural effusion. No pneumothorax.")["Pleural Effusion"]
1
"""

from cxrpilot.reports._iu import IU_HALVES, IuReport, iu_half, read_iu_xml
from cxrpilot.reports._labeler import (
    ChexbertLabeler,
    Labeler,
    Mentions,
    RuleLabeler,
    findings_from_labels,
    get_labeler,
    label_report,
    label_reports,
    label_text,
    mentions,
)
from cxrpilot.reports._mesh import MESH_VALIDATED, mesh_labels
from cxrpilot.reports._sections import (
    PLACEHOLDER,
    Sections,
    normalise,
    split_sections,
    split_sentences,
)

__all__ = [
    "Sections",
    "split_sections",
    "split_sentences",
    "normalise",
    "PLACEHOLDER",
    "IuReport",
    "read_iu_xml",
    "iu_half",
    "IU_HALVES",
    "label_report",
    "label_reports",
    "label_text",
    "Labeler",
    "RuleLabeler",
    "ChexbertLabeler",
    "get_labeler",
    "findings_from_labels",
    "mentions",
    "Mentions",
    "mesh_labels",
    "MESH_VALIDATED",
]
