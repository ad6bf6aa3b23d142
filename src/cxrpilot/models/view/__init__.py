"""The frontal-vs-lateral view model's training (``cxrpilot train view``).

The model itself is part of the input check of :func:`cxrpilot.imaging.load` (see
:func:`cxrpilot.imaging.lateral_probability`); this package trains it on the open data,
read through :mod:`cxrpilot.data`, and writes its folder (``model.npz``, ``card.json``,
``model_card.md``) as the shipped one in ``cxrpilot/weights/view-hog-logreg-covidcxr/``.
Needs scikit-learn.
"""

from cxrpilot.models.view._train import render_view_card, train_view

__all__ = ["train_view", "render_view_card"]
