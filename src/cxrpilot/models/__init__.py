"""Models that turn a :class:`~cxrpilot.imaging.Radiograph` into findings or text.

- :mod:`cxrpilot.models.expert`: the small finding classifier (the embedded default).
- :mod:`cxrpilot.models.janus`: Janus-Pro through ``transformers`` (bring your own weights).
- :mod:`cxrpilot.models.composer`: a deterministic report written from findings.

Importing this package imports nothing heavy; import the submodule you need.
"""

__all__: list[str] = []
