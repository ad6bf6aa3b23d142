"""Janus-Pro (DeepSeek) as a chest X-ray report writer, through transformers.

- :func:`load` a local HF-format checkpoint -> :class:`JanusReporter`, whose
  :meth:`~JanusReporter.generate` writes reports for a batch of radiographs
  (:class:`JanusOutput`: text, findings read from it, timings); a
  :class:`~cxrpilot.draft.Draft` is composed from them by :mod:`cxrpilot.pipeline`
  (``pipeline.load_drafter("janus:PATH")``).
- :func:`convert_checkpoint` turns an original DeepSeek-format checkpoint (Janus-Pro-1B,
  Janus-Pro-CXR) into HF format (``cxrpilot models import-janus``).
- :func:`finetune` fine-tunes on :class:`~cxrpilot.data.Study` records, LoRA or full
  (``cxrpilot train janus``).

Importing this package is light: torch and transformers are imported when used.
"""

from cxrpilot.models.janus._convert import convert_checkpoint
from cxrpilot.models.janus._finetune import FinetuneConfig, FinetuneResult, finetune
from cxrpilot.models.janus._prompt import CHAT_FORMATS, REPORT_QUESTION, build_question
from cxrpilot.models.janus._reporter import JanusOutput, JanusReporter, load

__all__ = [
    "load",
    "JanusReporter",
    "JanusOutput",
    "convert_checkpoint",
    "finetune",
    "FinetuneConfig",
    "FinetuneResult",
    "build_question",
    "REPORT_QUESTION",
    "CHAT_FORMATS",
]
