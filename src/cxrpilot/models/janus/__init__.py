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

Parts for measuring and rebuilding the pieces (the benchmarks): :func:`build_processor` and
:func:`janus_config_from_original` (a processor and config from original checkpoint files),
:func:`get_chat_format` and :data:`SYSTEM_PROMPT` (the prompt template), :class:`OrtDecoder`
(the ONNX Runtime decoder behind ``quantize``; :data:`QUANTIZATION_BITS` maps each
``quantize`` choice to its weight bits) and :func:`cpu_has_native_bf16`.

Importing this package is light: torch and transformers are imported when used.
"""

from cxrpilot.models.janus._convert import (
    build_processor,
    convert_checkpoint,
    janus_config_from_original,
)
from cxrpilot.models.janus._finetune import FinetuneConfig, FinetuneResult, finetune
from cxrpilot.models.janus._ort_decode import BLOCK_SIZE as QUANTIZATION_BLOCK_SIZE
from cxrpilot.models.janus._ort_decode import OrtDecoder, check_block_size
from cxrpilot.models.janus._prompt import (
    CHAT_FORMATS,
    REPORT_QUESTION,
    SYSTEM_PROMPT,
    build_question,
    get_chat_format,
)
from cxrpilot.models.janus._reporter import JanusOutput, JanusReporter, load
from cxrpilot.models.janus._speed import QUANTIZATION_BITS, cpu_has_native_bf16

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
    "SYSTEM_PROMPT",
    "get_chat_format",
    "build_processor",
    "janus_config_from_original",
    "OrtDecoder",
    "QUANTIZATION_BITS",
    "QUANTIZATION_BLOCK_SIZE",
    "check_block_size",
    "cpu_has_native_bf16",
]
