"""The pixels the workstation stores and serves: the display PNG of an imported image and
the viewer's image of a stored DICOM file.

Every imported image is kept as a **display PNG**, 16-bit greyscale, of
``Radiograph.pixels`` (the [0, 1] values the models see): :func:`encode_png16` writes it,
:func:`decode_png16` reads it back (lossless for 8- to 16-bit sources). A seed script that
writes :class:`~cxrpilot.workstation.orm.Image` rows stores this PNG as its display image.

For a DICOM the viewer serves the de-identified file's own pixel values instead:
:func:`viewer_image_from_dicom` decodes them into a :class:`ViewerImage` (uint16 transfer
values and how they map to the image's units, window presets, pixel spacing), whose
:meth:`ViewerImage.png` is what the case viewer downloads::

    from cxrpilot.workstation.display import viewer_image_from_dicom
    view = viewer_image_from_dicom(dicom_bytes)
    low, full = view.png("low"), view.png("full")
"""

from __future__ import annotations

from ._services.png16 import decode_png16, encode_png16
from ._services.viewer import ViewerImage, viewer_image_from_dicom

__all__ = ["encode_png16", "decode_png16", "ViewerImage", "viewer_image_from_dicom"]
