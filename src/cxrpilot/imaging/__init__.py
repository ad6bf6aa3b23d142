"""Imaging: DICOM, PNG and JPEG in, one checked :class:`Radiograph` out.

>>> from cxrpilot import imaging                                  # doctest: +SKIP
>>> xr = imaging.load("chest.dcm")                                # doctest: +SKIP
>>> xr.pixels.shape, xr.view_position, xr.modality                # doctest: +SKIP
((2048, 2048), 'PA', 'CR')

``load`` recognises the format from the content, applies the DICOM modality and VOI LUTs in
float, inverts MONOCHROME1, de-identifies the header, and refuses with a one-line
:class:`~cxrpilot.errors.CxrpilotError` what is not a frontal chest radiograph it can read.
``fit_square`` is the aspect-preserving resize that models use in their preprocessing;
``classify_view`` reads a view value or description ("PA", "LATERAL", "decubitus") as
frontal / lateral / oblique. ``lateral_probability`` is the view model's answer for an image
whose header states no view (``load_view_model``, ``ViewModel`` and ``view_features`` are
what ``cxrpilot train view`` trains and writes it with).

Untrusted files (a server's uploads) are decoded in a contained worker process with
``load_isolated`` or a shared ``IsolatedLoader`` (time and memory budget, bounded
concurrency): a native codec crash then becomes an error, not the end of the server.
The import is light (numpy and Pillow); pydicom and the view model load on first use.
"""

from cxrpilot.imaging._checks import DEFAULT_MAX_PIXELS, DEFAULT_MIN_SIDE
from cxrpilot.imaging._deid import check_deidentified, deidentified_file, deidentify_header
from cxrpilot.imaging._dicom import classify_view
from cxrpilot.imaging._geometry import fit_square, square_region
from cxrpilot.imaging._identity import StudyIdentity, patient_key, study_identity
from cxrpilot.imaging._isolate import ExamImage, IsolatedLoader, load_isolated
from cxrpilot.imaging._load import load
from cxrpilot.imaging._radiograph import Radiograph
from cxrpilot.imaging._view import ViewModel, lateral_probability, load_view_model, view_features

__all__ = [
    "Radiograph",
    "load",
    "load_isolated",
    "IsolatedLoader",
    "ExamImage",
    "StudyIdentity",
    "study_identity",
    "patient_key",
    "fit_square",
    "square_region",
    "deidentify_header",
    "deidentified_file",
    "check_deidentified",
    "lateral_probability",
    "ViewModel",
    "load_view_model",
    "view_features",
    "classify_view",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_MIN_SIDE",
]
