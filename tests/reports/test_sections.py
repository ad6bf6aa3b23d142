"""Section split, normalisation and sentence split on real report layouts."""

from __future__ import annotations

import pytest

from cxrpilot.reports import PLACEHOLDER, Sections, normalise, split_sections, split_sentences

MIMIC = """                                 FINAL REPORT
 EXAMINATION:  CHEST (PA AND LAT)

 INDICATION:  ___F with new onset ascites  // eval for infection

 TECHNIQUE:  Chest PA and lateral

 COMPARISON:  None.

 FINDINGS:

 There is no focal consolidation, pleural effusion or pneumothorax.  Bilateral
 nodular opacities that most likely represent nipple shadows. The
 cardiomediastinal silhouette is normal.

 IMPRESSION:

 No acute cardiopulmonary process.
"""

# IU report 1 (../shared/data/iu-xray/reports/1.xml) laid out as text
IU = (
    "COMPARISON: None.\nINDICATION: Positive TB test\nFINDINGS: The cardiac silhouette and mediastinum size "
    "are within normal limits. There is no pulmonary edema.\nIMPRESSION: Normal chest x-XXXX."
)

SECTION_CASES = [
    (
        IU,
        {"comparison": "None.", "indication": "Positive TB test",
         "findings": "The cardiac silhouette and mediastinum size are within normal limits. There is no pulmonary edema.",
         "impression": "Normal chest x-XXXX.", "technique": ""},
    ),
    (
        MIMIC,
        {"indication": "___F with new onset ascites // eval for infection", "comparison": "None.",
         "technique": "CHEST (PA AND LAT) Chest PA and lateral",
         "findings": "There is no focal consolidation, pleural effusion or pneumothorax. Bilateral nodular opacities "
                     "that most likely represent nipple shadows. The cardiomediastinal silhouette is normal.",
         "impression": "No acute cardiopulmonary process."},
    ),
    (  # numbered impression on its own lines, heading alone on its line without colon
        "FINDINGS: Heart size normal.\nIMPRESSION\n1. No acute disease.\n2. Stable cardiomegaly.",
        {"findings": "Heart size normal.", "impression": "1. No acute disease. 2. Stable cardiomegaly."},
    ),
    (  # lower-case headings, no colons, each alone on a line
        "findings\nlungs are clear.\nimpression\nnormal chest.",
        {"findings": "lungs are clear.", "impression": "normal chest."},
    ),
    (  # inline headings after sentence ends, any case
        "Indication: cough. Findings: clear lungs. Impression: normal.",
        {"indication": "cough.", "findings": "clear lungs.", "impression": "normal."},
    ),
    (  # upper-case headings followed by text on the same line; synonyms
        "HISTORY 65 year old with dyspnea\nFINDINGS Small left effusion.\nCONCLUSION Effusion.",
        {"indication": "65 year old with dyspnea", "findings": "Small left effusion.", "impression": "Effusion."},
    ),
    (  # missing sections stay empty
        "IMPRESSION: No pneumothorax.",
        {"indication": "", "comparison": "", "technique": "", "findings": "", "impression": "No pneumothorax."},
    ),
]


@pytest.mark.parametrize(("text", "expected"), SECTION_CASES)
def test_split_sections(text, expected):
    sections = split_sections(text)
    for name, value in expected.items():
        assert getattr(sections, name) == value, name


def test_no_headings_go_to_other_and_are_labelled_whole():
    sections = split_sections("The lungs are clear.\nNo effusion.")
    assert not sections.has_headings
    assert sections.other == (("", "The lungs are clear. No effusion."),)
    assert sections.labeling_text() == "The lungs are clear. No effusion."


def test_mimic_title_and_unknown_headings_go_to_other():
    sections = split_sections(MIMIC + "\n NOTIFICATION: Findings called to Dr. ___.")
    assert ("FINAL REPORT", "") in sections.other
    assert ("NOTIFICATION", "Findings called to Dr. ___.") in sections.other
    assert sections.impression == "No acute cardiopulmonary process."


def test_labeling_text_is_findings_then_impression_never_indication():
    sections = split_sections("INDICATION: rule out pneumonia\nFINDINGS: Clear.\nIMPRESSION: Normal.")
    assert sections.labeling_text() == "Clear. Normal."
    assert split_sections("INDICATION: rule out pneumonia").labeling_text() == ""


def test_sections_is_frozen():
    with pytest.raises(AttributeError):
        Sections().findings = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Normal chest x-XXXX.", f"Normal chest x-{PLACEHOLDER}."),
        ("The XXXX XXXX are intact.", f"The {PLACEHOLDER} are intact."),
        ("Left XXXX-a-XXXX is in XXXX", f"Left {PLACEHOLDER}-a-{PLACEHOLDER} is in {PLACEHOLDER}"),
        ("___F with  new\n onset ascites", f"{PLACEHOLDER}F with new onset ascites"),
        ("No  acute\tdisease.\n", "No acute disease."),
        ("Box and xray", "Box and xray"),  # X inside words is text, not a mark
    ],
)
def test_normalise(text, expected):
    assert normalise(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1. No acute cardiopulmonary abnormality. 2. Stable cardiomegaly.",
         ["No acute cardiopulmonary abnormality.", "Stable cardiomegaly."]),
        ("There is a 1.5 cm nodule. Seen by Dr. Smith.", ["There is a 1.5 cm nodule.", "Seen by Dr. Smith."]),
        ("no pneumothorax. heart size normal.", ["no pneumothorax.", "heart size normal."]),
        ("Atelectasis vs. scarring, e.g. at the bases. Clear.", ["Atelectasis vs. scarring, e.g. at the bases.", "Clear."]),
        ("Lungs clear\n\nNo effusion", ["Lungs clear", "No effusion"]),
        ("1. 2. Normal. .", ["Normal."]),
        ("", []),
    ],
)
def test_split_sentences(text, expected):
    assert split_sentences(text) == expected


@pytest.mark.parametrize("function", [split_sections, normalise, split_sentences])
def test_text_must_be_str(function):
    with pytest.raises(TypeError, match="must be a str, got bytes"):
        function(b"FINDINGS: clear")
