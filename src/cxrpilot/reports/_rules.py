"""The phrase tables of the rule-based labeler (written for cxrpilot after CheXpert's ideas).

Every table entry is a regular expression over lower-cased, normalised report text (see
:func:`cxrpilot.reports.normalise`; de-identification marks are ``___``).

- :data:`MENTIONS` maps each observation to ``(pattern, inherent)`` pairs. ``inherent`` is
  what the phrase says by itself: ``1`` (a finding: "cardiomegaly", "the heart is
  enlarged"), ``0`` (an explicitly normal structure: "heart size is normal"), ``-1`` (a sign
  that only suggests the finding: "vascular congestion" for Edema, as CheXpert does) or
  ``None`` (an *unmention*: a phrase that contains a mention word but is not the finding,
  e.g. "pericardial effusion" for Pleural Effusion, "calcified nodule" for Lung Lesion).
  Entries are tried in order at each position, so unmentions and long phrases come first.
- :data:`OTHER_FINDINGS`: abnormalities outside the 14 (emphysema, hernia, calcified
  granuloma, degenerative change, low lung volumes ...). Like CheXpert's No Finding
  mention list, a positive or uncertain one makes No Finding 0.
- :data:`TRIGGERS`: negation and uncertainty cues, by kind and direction.

Conventions (CheXpert's unless stated):

- "likely", "most likely", "consistent with", "compatible with", "represents" -> positive
  (CheXpert has no uncertainty rule for them); "possible", "probable", "may", "could",
  "suggestive of", "suspicious for", "cannot exclude", "versus", "X or Y" -> uncertain.
- "no new X" -> negative (CheXpert: uncertain); "unlikely", "less likely" -> uncertain.
- "X has resolved", "removed" -> negative; "resolving X", "X has partially / almost completely
  resolved" -> X is still there (positive unless hedged); "there is possible / suspected X"
  -> uncertain.
- "heart size is stable" / "stable cardiomediastinal silhouette" -> not mentioned
  (CheXpert: uncertain); "stable cardiomegaly" -> positive.
- "heart size at the upper limits of normal" -> negative, "borderline heart size" ->
  uncertain; "congestive heart failure" -> Edema positive and Cardiomegaly uncertain.
- Scarring, fibrosis and interstitial markings are Lung Opacity; pleural scarring and
  pleural thickening are Pleural Other. Surgical clips and sternotomy wires are not
  Support Devices (lines, tubes, catheters, pacemakers, valves, stents, hardware, monitor
  leads are).
- A round, circular or (fibro)nodular opacity is a Lung Lesion, not a Lung Opacity; fissural
  thickening is Pleural Other; a broken catheter or lead, and a fracture of a bone outside the
  chest (hand, hip, knee ... when a report covers another film too), is not a Fracture.
- "evaluation for X", "to detect X", "in detecting X" -> X is hypothetical (not mentioned);
  "in the appropriate clinical setting" and a bare "question X" -> uncertain.

Error analysis for these tables is done on the development half of the IU reports only
(:func:`cxrpilot.reports.iu_half`; ``benchmarks/bench_labeler.py --half dev --errors N``).
"""

from __future__ import annotations

# ---------------------------------------------------------------------------------------------
# building blocks
_W = r"[^\s.,;:!?]+"  # one word (no punctuation)
# filler between a structure and what is said about it: up to 6 words, no punctuation,
# no negation, no change of subject
_F_POS = rf"(?:\s+(?!(?:no|not|normal|unremarkable|but|however|with|without|and|stable|unchanged)\b){_W}){{0,5}}?\s+"
_F_ABS = rf"(?:\s+(?!(?:but|however|with|without|enlarg\w*|large|increased|prominen\w*)\b){_W}){{0,6}}?\s+"
_DEGREE = r"(?:(?:very\s+|quite\s+)?(?:mild(?:ly)?|minimal(?:ly)?|slight(?:ly)?|moderate(?:ly)?|marked(?:ly)?|severe(?:ly)?|massive(?:ly)?|significant(?:ly)?|substantial(?:ly)?|greatly|grossly|somewhat|again|now|still|globally)\s+)*"
_NORMAL = r"(?:normal|unremarkable|wnl|not\s+(?:enlarged|increased|widened|large|dilated))\b"

# bones outside the chest (an IU report sometimes covers a hand, hip or knee film as well)
_NON_CHEST_BONE = (
    r"\b(?:scaphoid|metacarp\w*|phalan\w*|finger|thumb|hand|wrist|radius|radial|ulna\w*|elbow|hip|femur|femoral|"
    r"pelvi\w*|acetabul\w*|knee|patella\w*|tibia\w*|fibula\w*|ankle|foot|toe|calcane\w*|metatars\w*)\b"
)

_HEART = r"(?:heart|cardiac\s+(?:silhouette|shadow|size|contours?|dimensions?|borders?|outline|diameter)|cardiac)"
_MEDIASTINUM = (
    r"(?:(?:superior\s+|upper\s+)?mediastinum|(?:superior\s+|upper\s+)?mediastinal\s+(?:silhouettes?|contours?|configuration|width|structures|shadow|outline|borders?)"
    r"|cardio\s*-?\s*mediastinal\s+(?:silhouettes?|contours?|size|structures|outline|borders?|shadow)|cardiomediastinum"
    r"|(?:cardiac|heart)\s+and\s+mediastinal\s+(?:contours?|silhouettes?)|heart\s+and\s+mediastinum|mediastinal\s+and\s+hilar\s+contours?)"
)

# "effusion versus thickening", "effusions and/or thickening": the thickening is pleural
# (fixed-width look-behinds, one per spelling)
_AFTER_EFFUSION_OR = "|".join(
    f"(?<={noun} {joint} )" for noun in ("effusion", "effusions") for joint in ("versus", "vs", "vs.", "or", "and/or")
)

# ---------------------------------------------------------------------------------------------
MENTIONS: dict[str, list[tuple[str, int | None]]] = {
    "Enlarged Cardiomediastinum": [
        (rf"\b{_MEDIASTINUM}(?={_F_ABS}{_NORMAL})", 0),
        (rf"\bnormal(?:[\s-]+sized?)?\s+(?:{_W}\s+){{0,3}}?(?:cardio\s*-?\s*)?mediastin\w*", 0),
        (rf"\b{_MEDIASTINUM}{_F_POS}{_DEGREE}(?:widen\w*|wide|enlarged|enlargement|prominen\w*|increased|bulging|broad\w*)\b", 1),
        (r"\b(?:widen\w*|enlarge\w*|prominen\w*|broadening)\s+(?:of\s+)?(?:the\s+)?(?:superior\s+|upper\s+)?(?:cardio\s*-?\s*)?mediastin\w*", 1),
        (r"\bmediastinal\s+(?:widening|enlargement|prominence)\b", 1),
        (r"\b(?:right\s+|left\s+)?(?:paratracheal|mediastinal)\s+(?:stripe\s+|contour\s+)?(?:prominence|widening|fullness|convexity|bulge|bulging)\b", 1),
        (r"\b(?:prominen\w*|widening|convexity|fullness|bulg\w*)\s+(?:of\s+|adjacent\s+to\s+)?(?:the\s+)?(?:right\s+|left\s+)?(?:paratracheal|mediastinal)\b", 1),
        # the vascular pedicle (the mediastinal great vessels): "prominent vascular pedicle"
        (r"\b(?:widen\w*|wide|prominen\w*|enlarged|increased)\s+(?:of\s+)?(?:the\s+)?vascular\s+pedicle\b", 1),
        (rf"\bvascular\s+pedicle{_F_POS}{_DEGREE}(?:widen\w*|wide|enlarged|prominent|increased)\b", 1),
    ],
    "Cardiomegaly": [
        (rf"\b(?:{_HEART}|cardio\s*-?\s*mediastinal\s+silhouette)(?:\s+size)?(?={_F_ABS}{_NORMAL})", 0),
        (rf"\bnormal(?:[\s-]+sized?)?\s+(?:{_W}\s+){{0,2}}?(?:heart|cardiac|cardio\s*-?\s*mediastinal)\b", 0),
        (r"\b(?:congestive\s+)?(?:heart|cardiac)\s+failure\b|\bchf\b", -1),
        (r"\bcardiomegaly\b|\bcardiac\s+(?:enlargement|hypertrophy)\b|\bcardiomyopathy\b", 1),
        (rf"\benlarge(?:d|ment\s+of\s+the)\s+(?:{_W}\s+){{0,1}}?(?:heart|cardiac\s+(?:silhouette|shadow|size|contours?))\b", 1),
        (r"\b(?:increase[ds]?|enlargement)\s+(?:in\s+)?(?:the\s+)?(?:size\s+of\s+the\s+)?(?:heart|cardiac\s+(?:silhouette|shadow|size))\b", 1),
        (rf"\b{_HEART}(?:\s+size)?{_F_POS}{_DEGREE}(?:enlarged|enlargement|large|increased|prominent|big)\b", 1),
        (rf"\b{_HEART}(?:\s+size)?{_F_POS}(?:borderline|at\s+the\s+borderline)\b", -1),
        (r"\bborderline\s+(?:enlarged\s+|large\s+)?(?:heart|cardiac)\b", -1),
    ],
    "Lung Opacity": [
        # unmentions: pleural, nodular, calcified, soft-tissue and device densities
        (r"\bpleural(?:[\s-]+(?:parenchymal|based))?\s+(?:scar\w*|opacit\w*|densit\w*|thickening|fibrosis)", None),
        (r"\bpleuro\s*-?\s*(?:parenchymal|pericardial)\s+(?:scar\w*|opacit\w*|densit\w*|thickening|fibrosis)", None),
        (r"\b(?:nodular|calcified|calcific|round(?:ed)?|circular|mass\s*-?\s*like|soft[\s-]+tissue|nipple|breast|bone|bony|osseous|metallic|sclerotic|tubular|linear\s+metallic)(?:[\s-]+like)?\s+(?:opacit\w*|densit\w*)", None),
        (r"\bopacit\w*|\bopacif\w*|\binfiltrat\w*", 1),
        (r"\bair\s*-?\s*space\s+(?:disease|process|filling|opacit\w*|consolidation|infiltrat\w*)", 1),
        (r"\b(?:increased|increasing|hazy|patchy|streaky|ill-?\s*defined|confluent|parenchymal|airspace|interstitial|reticular|lung|pulmonary|alveolar|focal)\s+densit(?:y|ies)\b", 1),
        (rf"\bdensit(?:y|ies)\s+(?:in|at|within|of|over|projecting\s+over|overlying)\s+(?:the\s+)?(?:{_W}\s+){{0,6}}?(?:lungs?|lobes?|bases?|apex|apices|lingula|hil(?:um|a)|perihilar|midlung|zones?|retrocardiac)\b", 1),
        (r"\b(?:bi)?(?:basilar|basal|apical|perihilar|retrocardiac|lingular|midlung|lobe|lung|base|bases)\s+(?:___\s+)?densit(?:y|ies)\b", 1),
        (r"\binterstitial\s+(?:lung\s+markings?|markings?|pattern|prominence|thickening|lung\s+disease|disease|changes?|process|fibrosis|infiltrat\w*|opacit\w*)\b", 1),
        (r"\b(?:increased|prominent|coarse(?:ned)?)\s+(?:interstitial|lung|pulmonary)\s+markings\b", 1),
        (r"\b(?:prominence|coarsening|increase)\s+(?:in\s+|of\s+)(?:the\s+)?(?:interstitial|lung|pulmonary)\s+markings\b", 1),
        (r"\breticul\w*", 1),
        (r"\bscar(?:s|ring|red)?\b|\bcicatri\w*", 1),
        (r"\bfibros\w*|\bfibrotic\b", 1),
        (r"\bhaz(?:y|iness)\b|\bground\s*-?\s*glass\b", 1),
        (r"\b(?:peri)?bronch\w*\s+(?:wall\s+)?(?:thickening|cuffing)\b", 1),
    ],
    "Lung Lesion": [
        (rf"(?<!non)(?<!non-)\bcalcified\s+(?:{_W}\s+)?(?:nodul\w*|granulom\w*|lesions?)", None),
        (r"\b(?:fibro)?nodular\s+pleural\b|\bmassive\b|\b(?:soft[\s-]+tissue|breast|chest[\s-]+wall|mediastinal|thyroid|axillary|neck|paraspinal|abdominal)\s+mass\w*|\bmass\s+effect\b", None),
        (r"\b(?:fibro)?nodul(?:e|es|i|ar|arity)\b", 1),
        (r"\b(?:round(?:ed)?|circular)\s+(?:opacit\w*|densit\w*|lesions?)", 1),
        (r"\bmass(?:es)?\b|\bmass\s*-?\s*like\b", 1),
        (r"\b(?:lung|pulmonary|parenchymal|spiculated|cavitary|cavitating|pleural-?\s*based)\s+lesions?\b", 1),
        (r"\btumou?rs?\b|\bneoplas\w*|\bcarcinoma\w*|\bmalignan\w*|\blump\b", 1),
        (r"\b(?:pulmonary|lung)\s+metasta\w*|\bmetastatic\s+(?:nodules?|lesions?|masses)", 1),
    ],
    "Edema": [
        (r"\b(?:soft[\s-]+tissue|subcutaneous|extremity|chest\s+wall|facial|pedal)\s+edema\b", None),
        (r"\b(?:(?:prominen\w*|widen\w*|wide|enlarged|increased|engorged)\s+(?:of\s+)?(?:the\s+)?)?vascular\s+pedicle\b", None),
        (r"\bedema\w*|\boedema\w*", 1),
        (r"\b(?:congestive\s+)?(?:heart|cardiac)\s+failure\b|\bchf\b|\bcongestive\s+(?:failure|changes?)\b|\bfluid\s+overload\b|\bvolume\s+overload\b", 1),
        (r"\b(?:(?:pulmonary|pulmonary\s+vascular|vascular|venous|pulmonary\s+venous|central\s+vascular|interstitial)\s+)?congestion\b", -1),
        (r"\b(?:pulmonary\s+)?vascular\s+(?:prominence|engorgement|redistribution|indistinctness|blurring)\b", -1),
        (r"\b(?:prominen\w*|engorge\w*|indistinct\w*|increased|congested)\s+(?:of\s+)?(?:the\s+)?(?:central\s+)?(?:pulmonary\s+|lung\s+)?(?:vascul\w*|vessels)\b", -1),
        (rf"\b(?:pulmonary\s+|lung\s+)?(?:vascul\w*|vessels){_F_POS}(?:indistinct|engorged|prominent|congested|cephalized|redistributed|increased)\b", -1),
        (r"\bindistinctness\b|\bcephalization\b|\bkerley\b", -1),
    ],
    "Consolidation": [
        (r"\bconsolidat\w*", 1),
    ],
    "Pneumonia": [
        (r"\bgranulomatous\s+(?:infection|process|disease)|\b(?:old|prior|previous|remote|healed|past)\s+(?:granulomatous\s+)?(?:infection|infectious\s+process)", None),
        (r"\b(?:symptoms?|history|hx)\s+of\s+(?:(?:recent|prior|previous|recurrent|chronic)\s+)?(?:infection|pneumonia)\b", None),
        (r"\b(?:broncho)?pneumonias?\b|\bpneumonitis\b|\bpneumonic\b", 1),
        (r"\binfections?\b|\binfectious\b|\binfected\b", 1),
    ],
    "Atelectasis": [
        (r"\b(?:vertebral(?:\s+body)?|compression|height)\s+collapse\b|\bcollapse\s+of\s+(?:the\s+)?(?:[tl]\d+|vertebra\w*|\w+\s+vertebral)", None),
        (r"\batelecta\w*", 1),
        (r"\b(?:lobar\s+|segmental\s+|subsegmental\s+|lung\s+|lobe\s+)?collapsed?\b", 1),
    ],
    "Pneumothorax": [
        (r"\b(?:hydro|hemo|haemo)?pneumothora(?:x|ces|xes)\b|\bptx\b", 1),
        (r"\bpleural\s+air\b(?:\s+collections?)?|\bair\s+in\s+the\s+pleural\s+space\b", 1),
    ],
    "Pleural Effusion": [
        (r"\b(?:pericardial|joint|knee|shoulder)\s+effusions?\b", None),
        (r"\beffusions?\b", 1),
        (r"\bpleural\s+fluid\b|\b(?:hydro|hemo|haemo)(?:pneumo)?thora(?:x|ces)\b", 1),
        (r"\bfluid\s+(?:in|within|tracking\s+(?:in|along|into))\s+(?:the\s+)?(?:\w+\s+)?(?:fissures?|pleura\w*)\b|\blayering\s+fluid\b|\bloculated\s+fluid\b", 1),
    ],
    "Pleural Other": [
        (r"\bpleural(?:[\s-]+(?:parenchymal|based))?\s+(?:thickening|plaques?|scar\w*|calcifications?|fibrosis|reaction|disease|densit\w*|opacit\w*)\b", 1),
        (r"\bpleuro\s*-?\s*(?:parenchymal|pericardial)\s+(?:scar\w*|thickening|changes?|opacit\w*|densit\w*|irregularit\w*|fibrosis)\b", 1),
        (r"\bthicken(?:ing|ed)\s+(?:of\s+)?(?:the\s+)?(?:\w+\s+)?pleura\b|\bfibrothorax\b|\bapical\s+(?:pleural\s+)?cap(?:s|ping)?\b|\bmesothelioma\b", 1),
        # the fissures are pleura: "interlobar fissural thickening", "mild thickening in the fissure"
        (rf"(?=(?:pleural\s+)?thicken)(?:{_AFTER_EFFUSION_OR})(?:pleural\s+)?thicken(?:ing|ed)\b", 1),
        (r"\b(?:interlobar\s+|minor\s+|major\s+)?fissural\s+thickening\b|\bthicken(?:ing|ed)\s+(?:of|in|along)\s+(?:the\s+)?(?:\w+\s+)?fissures?\b|\bthickened\s+(?:\w+\s+)?fissures?\b", 1),
    ],
    "Fracture": [
        (r"\b(?:catheter|line|lead|wire|tubing|pacer|pacemaker)\s+fractur\w*", None),
        (rf"\bfractur\w*\s+(?:(?:of|through|in|at|involving)\s+)?(?:{_W}\s+){{0,4}}?{_NON_CHEST_BONE}", None),
        (rf"{_NON_CHEST_BONE}\s+(?:{_W}\s+){{0,2}}?fractur\w*", None),
        (r"\bfractur\w*|\bfx\b", 1),
    ],
    "Support Devices": [
        (r"\b(?:scapular?|scapulae|rib|clavicular|nasal|lung)\s+tips?\b|\btips?\s+of\s+(?:the\s+)?(?:\w+\s+)?(?:scapula\w*|ribs?|clavicle|lungs?)\b", None),
        (r"\bpace\s*makers?\b|\bpacers?\b|\bpacing\s+(?:wires?|leads?|devices?|generators?)\b|\ba?icds?\b|\bdefibrillators?\b|\bloop\s+recorders?\b", 1),
        (r"\bcatheters?\b|\bpiccs?\b|\bport\s*-?\s*a\s*-?\s*caths?\b|\bportacaths?\b|\bmediports?\b|\b(?:power|chest|infusion|venous|subclavian)\s*-?\s*ports?\b", 1),
        (rf"\b(?:central\s+venous|central|venous|subclavian|jugular|ij|dialysis|hemodialysis|swan\s*-?\s*ganz|pulmonary\s+artery|arterial|tunnel(?:l)?ed|femoral|midline)\s+(?:{_W}\s+){{0,1}}?(?:lines?|catheters?)\b", 1),
        (r"\btubes?\b|\btracheostomy\b|\bdrains?\b|\bstents?\b|\bshunts?\b|\bcannula\w*|\bfilters?\b|\bcoils?\b", 1),
        (r"\b(?:prosthetic|mechanical|bioprosthetic|artificial|replaced|porcine|metallic)\s+(?:\w+\s+)?valves?\b|\bvalve\s+(?:replacement|prosthes[ie]s)\b|\b(?:avr|mvr|tavr|tavi)\b|\bannuloplasty\b|\boccluder\b", 1),
        ((r"\bhardware\b|\b(?:fixation|orthopedic|surgical)\s+(?:plates?|screws?|rods?)\b|\bplates?\s+and\s+screws?\b|\barthroplast\w*|\b(?:shoulder|joint|humeral)\s+(?:prosthes[ie]s|replacement)\b"
         r"|\bprosthetic\s+(?:\w+\s+)?(?:shoulder|hip|knee|joint|humer\w*)\b|\b(?:bone|suture)\s+anchors?\b|\bimplantable\s+cardiac\b"), 1),
        (r"\btips?\b|\bgenerators?\b|\bstimulators?\b|\bport\s*-\s*a\s*-\s*___|\bivc\s+(?:filter|___)", 1),
        (r"\bdevices?\b|\bapparatus\b|\belectrodes?\b|\b(?:ekg|ecg|telemetry|monitor\w*|cardiac\s+monitor|external)\s+(?:\w+\s+)?(?:leads|wires|electrodes|pads|snaps)\b|\bleads\b", 1),
        (r"\b(?:intra-?aortic\s+)?balloon\s+pump\b|\biabp\b|\blvad\b|\bventricular\s+assist\b|\becmo\b|\bimpella\b|\bgastric\s+band\b|\blap\s*-?\s*band\b", 1),
    ],
}

# Substrings one of which every (non-unmention) phrase of an observation contains: a text with
# none of them cannot mention the observation, and its patterns are not run (speed).
# tests/reports check that the prefilter changes no label on the IU reports.
KEYS: dict[str, tuple[str, ...]] = {
    "Enlarged Cardiomediastinum": ("mediastin", "paratrache", "pedicle"),
    "Cardiomegaly": ("heart", "cardi", "chf"),
    "Lung Opacity": ("opac", "infiltrat", "air", "densit", "interstitial", "markings", "reticul", "scar",
                     "cicatri", "fibros", "fibrot", "haz", "ground", "bronch"),
    "Lung Lesion": ("nodul", "round", "circular", "mass", "lesion", "tumo", "neoplas", "carcinom", "malignan", "lump", "metasta"),
    "Edema": ("edema", "oedema", "failure", "chf", "congest", "overload", "vascul", "vessel", "indistinct",
              "cephaliz", "kerley"),
    "Consolidation": ("consolidat",),
    "Pneumonia": ("pneumon", "infect"),
    "Atelectasis": ("atelecta", "collapse"),
    "Pneumothorax": ("pneumothora", "ptx", "pleural air", "pleural space"),
    "Pleural Effusion": ("effusion", "fluid", "thora"),
    "Pleural Other": ("pleur", "fibrothorax", "apical", "mesothelioma", "fissur", "thicken"),
    "Fracture": ("fractur", "fx"),
    "Support Devices": ("pace", "icd", "defib", "recorder", "catheter", "picc", "port", "cath", "line", "tube",
                        "trach", "drain", "stent", "shunt", "cannula", "filter", "coil", "valve", "avr", "mvr",
                        "tav", "annuloplasty", "occluder", "hardware", "plate", "screw", "rod", "arthroplast",
                        "prosthes", "prosthetic", "anchor", "implantable", "replacement", "device", "apparatus", "electrode", "lead", "wire", "pad",
                        "snap", "tip", "generator", "stimulator", "ivc", "balloon", "iabp", "lvad", "assist",
                        "ecmo", "impella", "band"),
}

# Abnormalities outside the 14: each, when positive or uncertain, makes No Finding 0.
OTHER_FINDINGS: list[str] = [
    r"\bemphysema\w*|\bemphysematous\b|\bcopd\b|\bchronic\s+obstructive\b|\bhyper\s*-?\s*(?:inflat|expan|aerat|lucen)\w*|\bover\s*-?\s*(?:inflat|expan)\w*|\bbullae\b|\bbulla\b|\bbullous\b|\bblebs?\b",
    r"\bblunt\w*",
    r"\b(?:dextro|levo|rotoscolio|thoraco)?scolio\w*|\b(?:dextro|levo)?curvature\b|\bkypho\w*|\blordo\w*",
    r"\bfusion\b|\bpost\s*-?\s*(?:operative|surgical)\b|\bmastectom\w*|\bosteodystroph\w*|\bsyndesmophyt\w*",
    r"\bdegenerat\w*|\bspondyl\w*|\bosteophyt\w*|\barthrit\w*|\barthropath\w*|\bdish\b|\benthesophyt\w*",
    r"\bcalcif\w*|\bgranulom\w*",
    r"\bhernia\w*|\beventration\b",
    r"\belevat(?:ed|ion)\b",
    r"\btortu\w*|\bectati\w*|\bectasia\b|\baneurysm\w*|\bdilat\w*|\bunfold\w*",
    r"\batheroscl\w*|\batheromatous\b",
    r"\binterstitial\b|\bprominen\w*",
    r"\bosteopeni\w*|\bdemineraliz\w*|\bosteopor\w*",
    r"\bmetasta\w*|\blesions?\b|\blytic\b|\bsclero\w*|\bcysts?\b|\bcystic\b|\blucenc\w*|\blucent\b",
    r"\bdeformit\w*|\bwedg\w*|\bcompression\b",
    r"\bpneumomediastinum\b|\bpneumoperitoneum\b|\bfree\s+(?:intraperitoneal\s+|intra-abdominal\s+|subdiaphragmatic\s+)?air\b|\bsubcutaneous\s+(?:emphysema|air|gas)\b",
    r"\baspiration\b|\bbronchiectas\w*|\bbronchitis\b|\bbronchiolitis\b|\bairways?\s+disease\b|\breactive\s+airways?\b",
    r"\b(?:low|lower|decreased|diminished|reduced|small)\s+(?:lung\s+)?volumes?\b|\blung\s+volumes\s+are\s+(?:\w+\s+){0,2}?(?:low|decreased|diminished|reduced)\b|\blung\s+volumes\s+are\s+(?:\w+\s+)?on\s+the\s+low\s+side\b|\bhypo\s*-?\s*(?:inflat|expan|ventilat)\w*|\bpoor(?:ly)?\s+inspir\w*|\bshallow\s+inspiration\b",
    r"\b(?:lymph)?adenopathy\b|\b(?:enlarged|prominent)\s+(?:lymph\s+nodes?|hil\w*)\b",
    r"\bvolume\s+loss\b|\bshift\w*|\bdeviat\w*|\bcrowd\w*|\bcurvature\b|\bspur(?:s|ring)?\b",
    r"\bpericardial\s+effusions?\b|\b(?:pulmonary|arterial)\s+hypertension\b|\bcontusions?\b|\bhemorrhage\b|\bhematoma\b",
    r"\babnormal\w*",
    r"\bsoft[\s-]+tissue\s+(?:densit(?:y|ies)|opacit(?:y|ies)|mass(?:es)?|fullness|swelling|prominence)\b|\blipomas?\b|\bendplate\s+(?:changes?|spurring|sclerosis|irregularit\w*)",
]

# ---------------------------------------------------------------------------------------------
# Trigger kinds: NEG_PRE/NEG_POST/NEG_BOTH negate the nearest mention before/after/either
# side; UNC_* make it uncertain; HYPO ("if ...") makes the mentions after it hypothetical
# (ignored); PSEUDO phrases look like triggers but are not ("no change in", "to suggest")
# and are matched only to hide their words.
TRIGGERS: dict[str, list[str]] = {
    "PSEUDO": [
        r"\bno\s+(?:(?:significant|appreciable|substantial|interval|definite|major|acute|radiographic|other)\s+)*(?:change|increase|decrease|progression|worsening|improvement)\b",
        r"\bnot\s+(?:significantly\s+|substantially\s+)?(?:changed|increased|decreased|improved|worsened)\b",
        r"\bwithout\s+(?:(?:significant|interval|appreciable)\s+)*change\b",
        r"\bto\s+(?:suggest|indicate|explain)\b|\bnot\s+only\b|\bno\s+doubt\b|\bgram[\s-]+negative\b",
        # "monitor leads show normal size ... of the cardiac silhouette": "normal" is about what follows
        r"\b(?:shows?|showing|demonstrates?|demonstrating|reveals?)\s+(?:a\s+)?normal\b",
        # partly resolved is still there: "almost completely resolved pleural air collection"
        (r"\b(?:partially|partly|almost(?:\s+completely)?|nearly(?:\s+completely)?|incompletely|slowly|not\s+(?:completely|fully|entirely))\s+"
         r"(?:resolved|resolving|cleared|clearing)\b|\b(?:partial|incomplete|near(?:ly)?\s+complete|near)\s+resolution\s+of\b"),
    ],
    "HYPO": [
        r"\bif\b|\bin\s+case\s+of\b|\bwhether\s+or\s+not\b",
        # "evaluation for pneumothorax is limited": looked for, not found
        r"\b(?:evaluation|assessment|evaluate|assess|evaluating|assessing)\s+for\b",
        # "CT is more sensitive in detecting small nodules"
        r"\b(?:in\s+detecting|to\s+detect|detection\s+of|to\s+identify)\b",
    ],
    "UNC_BOTH": [
        r"\b(?:cannot|can\s*not|can't|could\s*not|couldn't|may\s+not|might\s+not|not)\s+(?:be\s+)?(?:entirely\s+|completely\s+|totally\s+|definitely\s+|definitively\s+|confidently\s+|fully\s+|reliably\s+)?(?:excluded|exclude|ruled\s+out|rule\s+out|r/o)\b",
        r"\b(?:difficult|hard|impossible)\s+to\s+(?:completely\s+|entirely\s+|totally\s+|fully\s+|definitely\s+)?(?:exclude|rule\s+out|assess|evaluate|determine)\b",
        r"\bin\s+the\s+(?:appropriate|proper|right|correct)\s+clinical\s+(?:setting|context|scenario)\b",
        r"\b(?:not\s+(?:well|clearly|adequately|optimally|entirely)|poorly|incompletely|suboptimally|inadequately)\s+(?:seen|visualized|visualised|evaluated|assessed|demonstrated|excluded)\b",
        r"\?",
    ],
    "NEG_PRE": [
        r"\b(?:no|without)\s+(?:(?:radiographic|definite|definitive|obvious|convincing|clear|visible|typical|significant|acute|other|focal|gross|suspicious|discrete|specific|further|new|x-?ray|plain\s+film|\w+ly)\s+)*(?:evidence|findings?|signs?|features|suggestion|areas?|foci|focus)\s+(?:(?:of|for)\s+|to\s+suggest\s+|suggest\w*\s+(?:of\s+)?|(?:that\s+)?(?:would\s+|might\s+|could\s+)?(?:suggest|indicate)\s+|consistent\s+with\s+|compatible\s+with\s+|concerning\s+for\s+|worrisome\s+for\s+|to\s+indicate\s+)",
        r"\bnegative\s+for\b|\bfree\s+of\b|\bclear\s+of\b|\b(?:in\s+the\s+)?absence\s+of\b|\brather\s+than\b|\binstead\s+of\b|\bresolution\s+of\b|\bremoval\s+of\b|\bclearing\s+of\b",
        r"\bno\b|\bnot\b|\bwithout\b|\bnor\b|\bneither\b|\bnever\b|\babsent\b|\bnone\b|\bnegative\b",
    ],
    "NEG_POST": [
        r"\b(?:(?:is|are|was|were|has\s+been|have\s+been)\s+)?(?:not|no\s+longer)\s+(?:\w+ly\s+)?(?:seen|identified|visuali[sz]ed|present|demonstrated|evident|appreciated|noted|detected|visible|apparent|shown|confirmed|observed|enlarged)\b",
        r"\b(?:is|are|was|were)\s+(?:absent|negative)\b|\bno\s+longer\b",
        r"\b(?:(?:is|are|appears?|remains?)\s+)?(?:(?:grossly|otherwise|now|again)\s+)?(?:within\s+(?:the\s+)?(?:normal\s+limits|limits\s+of\s+normal)|normal|unremarkable)\b",
    ],
    "NEG_BOTH": [
        r"\b(?:has\s+|have\s+)?(?:since\s+)?(?:resolved|cleared|been\s+removed|removed)\b",
        r"\b(?:ruled\s+out|rule\s+out|r/o|excluded)\b",
    ],
    "UNC_POST": [
        r"\b(?:is|are|was|were)\s+(?:also\s+|still\s+)?(?:possible|suspected|questioned|questionable|a\s+(?:possibility|consideration|concern)|considered|favou?red|in\s+question|uncertain|not\s+certain|unlikely|less\s+likely)\b",
        r"\b(?:may|might|could|can)\s+(?:also\s+|still\s+)?(?:be\s+)?(?:present|seen|considered|possible|developing|noted|evolving)\b",
    ],
    "UNC_PRE": [
        # before UNC_POST's "is possible" can hide the hedge: "there is possible pneumonia"
        r"\bthere\s+(?:is|are|was|were)\s+(?:also\s+|still\s+|again\s+)?(?:possible|possibly|suspected|questionable|questioned|probable|probably|presumed|equivocal)\b",
        r"\bpossibl[ey]\b|\bprobabl[ey]\b|\bpresum\w*|\bquestionabl[ey]\b|\bquestion(?:\s+of)?\b|\bquestioned\b",
        r"\bsuspicious\s+(?:for|of)\b|\bsuspicion\b|\bsuspect\w*|\bconcern(?:ing)?\s+(?:for|of)\b|\bworrisome\s+(?:for|of)\b",
        r"\bmay\b|\bmight\b|\bcould\b|\bcan\s+be\b|\bwould\b",
        r"\bsuggest\w*(?:\s+of)?",
        r"\b(?:differential|ddx)(?:\s+diagnos[ie]s)?(?:\s+(?:includes?|of|would\s+include))?|\bconsider\w*|\bfavou?r\w*",
        r"\bequivocal\w*|\bindeterminate\b|\bborderline\b|\buncertain\b|\bnot\s+(?:entirely\s+)?certain\b|\bunlikely\b|\bless\s+likely\b",
        r"\bcannot\s+(?:be\s+)?(?:distinguish|differentiat)\w*|\b(?:clinical(?:ly)?\s+)?correlat\w*\s+(?:clinically\s+)?(?:for|with)\b",
    ],
}

# Words that end the scope of a cue: clause boundaries inside a sentence.
CLAUSE_BREAKS = (
    r"[.!?](?=\s|$)|;|:\s|\n"
    r"|\b(?:but|however|although|though|whereas|while|except|yet|nevertheless|otherwise)\b"
    r"|\b(?<!compatible\s)(?<!consistent\s)(?<!keeping\s)with\b"
    r"|\b(?:apart|aside)\s+from\b|\bother\s+than\b|\bwith\s+the\s+exception\s+of\b"
    r"|,?\s*\band\s+there\s+(?:is|are)\b|,\s*(?:there\s+(?:is|are)|which\s+(?:is|are|has|have))\b"
)

# "X or Y", "X versus Y", "X and/or Y", "X/Y": both are uncertain (CheXpert's "or" rule)
OR_CONNECTORS = rf"^[\s,]*(?:(?:or|and\s*/\s*or|versus|vs\.?|/)\s*)(?:(?:less\s+likely|more\s+likely|possibly|perhaps|even|early|developing|superimposed|underlying|an?|the)\s+)*(?:{_W}\s+){{0,3}}?$"
