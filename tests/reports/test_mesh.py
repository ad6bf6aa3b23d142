"""The MeSH -> observation mapping used to validate the labeler on IU reports."""

from __future__ import annotations

import collections

import pytest

from cxrpilot.reports import MESH_VALIDATED, mesh_labels, read_iu_xml
from cxrpilot.vocabulary import OBSERVATIONS


@pytest.mark.parametrize(
    ("terms", "expected"),
    [
        (["normal"], {"No Finding": 1, "Cardiomegaly": 0, "Pleural Effusion": 0}),
        (["Cardiomegaly/mild"], {"Cardiomegaly": 1, "No Finding": 0}),
        (["Cardiac Shadow/enlarged/moderate"], {"Cardiomegaly": 1, "Enlarged Cardiomediastinum": None}),
        (["Cardiac Shadow/borderline"], {"Cardiomegaly": None}),
        (["Mediastinum/prominent/mild"], {"Enlarged Cardiomediastinum": 1}),
        (["Pulmonary Atelectasis/base/left"], {"Atelectasis": 1, "Lung Opacity": 0}),
        (["Opacity/lung/base/left/streaky"], {"Lung Opacity": 1}),
        (["Opacity/ribs/left/anterior/round"], {"Lung Opacity": None}),
        (["Airspace Disease/lung/lower lobe/right", "Infiltrate/lung"], {"Lung Opacity": 1}),
        (["Cicatrix/lung/base/left"], {"Lung Opacity": 1, "Pleural Other": 0}),
        (["Cicatrix/pleura/apex/bilateral"], {"Lung Opacity": None, "Pleural Other": 1}),
        (["Thickening/pleura/apex/bilateral"], {"Pleural Other": 1}),
        (["Nodule/lung/lower lobe/left"], {"Lung Lesion": 1}),
        (["Nodule/lung/upper lobe/right", "Calcinosis/lung/upper lobe/right"], {"Lung Lesion": None}),
        (["Density/lung/lingula", "Nodule/lung/lingula"], {"Lung Opacity": None, "Lung Lesion": 1}),
        (["Mass/breast/large"], {"Lung Lesion": None}),
        # "round" is the coders' qualifier for a nodular opacity: a lesion when in the lung
        (["Opacity/lung/upper lobe/right/round"], {"Lung Lesion": 1, "Lung Opacity": None}),
        (["Infiltrate/lung/lingula/round"], {"Lung Lesion": 1, "Lung Opacity": 1}),
        (["Opacity/ribs/left/anterior/round"], {"Lung Lesion": None}),
        (["Density/thorax/round/multiple", "Granulomatous Disease/chronic"], {"Lung Lesion": None}),
        (["Opacity/lung/upper lobe/left/round", "Calcified Granuloma/lung/right"], {"Lung Lesion": None}),
        (["Markings/lung/bilateral/diffuse/reticular/round"], {"Lung Lesion": 0, "Lung Opacity": 1}),
        (["Opacity/lung/bilateral/interstitial/diffuse/reticular/round"], {"Lung Lesion": None, "Lung Opacity": 1}),
        (["Nodule/lung/base/left/reticular"], {"Lung Lesion": None}),
        (["Markings/lung/prominent/chronic"], {"Lung Opacity": 1}),
        (["Markings/bronchovascular"], {"Lung Opacity": 0}),
        (["Calcinosis/pleura/multiple"], {"Pleural Other": 1}),
        (["Pulmonary Congestion/mild"], {"Edema": 1}),
        (["Pleural Effusion/bilateral/small"], {"Pleural Effusion": 1}),
        (["Costophrenic Angle/right/blunted"], {"Pleural Effusion": None, "Pleural Other": None}),
        (["Hydropneumothorax/right"], {"Pneumothorax": 1, "Pleural Effusion": 1}),
        (["Fractures, Bone/ribs/left/healed"], {"Fracture": 1}),
        (["Catheters, Indwelling/right"], {"Support Devices": 1, "No Finding": None}),
        (["Implanted Medical Device/left", "Cardiomegaly"], {"Support Devices": 1, "No Finding": 0}),
        (["Surgical Instruments/mediastinum"], {"Support Devices": None}),
        (["Technical Quality of Image Unsatisfactory "], {"No Finding": None, "Edema": 0}),
        (["No Indexing"], dict.fromkeys(OBSERVATIONS)),
        ([], dict.fromkeys(OBSERVATIONS)),
    ],
)
def test_mesh_labels(terms, expected):
    labels = mesh_labels(terms)
    assert list(labels) == list(OBSERVATIONS)
    for name, value in expected.items():
        assert labels[name] == value, name


def test_validated_observations():
    assert set(MESH_VALIDATED) <= set(OBSERVATIONS)


@pytest.mark.data
def test_every_observation_has_real_positives(shared_data):
    counts: collections.Counter[str] = collections.Counter()
    for path in (shared_data / "iu-xray" / "reports").glob("*.xml"):
        for name, value in mesh_labels(read_iu_xml(path).mesh_major).items():
            counts[name] += value == 1
    assert counts["No Finding"] > 1000
    assert counts["Cardiomegaly"] > 250
    assert counts["Lung Opacity"] > 400
    assert all(counts[name] >= 15 for name in MESH_VALIDATED), counts
