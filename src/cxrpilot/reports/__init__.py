from cxrpilot.reports._sections import PLACEHOLDER, Sections, normalise, split_sections, split_sentences
