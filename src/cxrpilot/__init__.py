"""cxrpilot: open chest X-ray reporting.

Draft reports from chest radiographs, read and sign them in a web workstation, and measure
the whole loop (report metrics, diagnostic accuracy, reader studies).

The top-level import is deliberately light: heavy dependencies (torch, transformers,
onnxruntime, pydicom) are imported by the subpackages that need them.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
