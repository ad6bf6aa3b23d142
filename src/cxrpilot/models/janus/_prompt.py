"""Prompt text for Janus-Pro radiology reports, and the chat format around it.

The chat format is DeepSeek's ``"deepseek"`` SFT template, the one Janus-Pro was trained
with and that the original ``VLChatProcessor`` writes::

    {system}\\n\\n{user}: <image_placeholder>\\n{question}\\n\\n{assistant}:

after which the model writes ``" " + answer + "<｜end▁of▁sentence｜>"``. A BOS token comes
first, and the single ``<image_placeholder>`` is replaced by ``<begin_of_image>``, one
``<image_placeholder>`` per image token (576 for Janus-Pro) and ``<end_of_image>`` — exactly
as the original processor does it (its ``add_special_token=False`` path).

Two role spellings exist in the wild, so both are offered as :data:`CHAT_FORMATS`:

- ``"janus-pro-cxr"`` (the default): roles ``User`` / ``Assistant`` — what the published
  Janus-Pro-CXR ``inference.py`` passes to ``VLChatProcessor`` (the template writes the role
  names verbatim), so the format the published CXR checkpoints are run with.
- ``"janus-pro"``: roles ``<|User|>`` / ``<|Assistant|>`` — DeepSeek's own Janus-Pro examples
  and the chat template transformers ships for converted Janus checkpoints.

Both use the original system prompt. A model fine-tuned by ``cxrpilot train janus`` records the
format it was trained with in ``cxrpilot_janus.json`` beside its weights and is run with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cxrpilot.draft import Finding
from cxrpilot.errors import InvalidInputError
from cxrpilot.vocabulary import Status, check_observation

__all__ = [
    "REPORT_QUESTION",
    "SYSTEM_PROMPT",
    "ChatFormat",
    "CHAT_FORMATS",
    "get_chat_format",
    "build_question",
    "present_findings",
    "format_answer",
]

#: The instruction of DESIGN.md (identical to the published Janus-Pro-CXR inference prompt).
REPORT_QUESTION = (
    "Give a radiology report based on the chest x-ray image, including FINDINGS and IMPRESSION."
)

#: The system prompt of the original Janus ``VLChatProcessor``.
SYSTEM_PROMPT = (
    "You are a helpful language and vision assistant. "
    "You are able to understand the visual content that the user provides, "
    "and assist the user with a variety of tasks using natural language."
)


@dataclass(frozen=True)
class ChatFormat:
    """One spelling of the DeepSeek SFT template.

    Attributes
    ----------
    name : str
    user, assistant : str
        Role names, written verbatim before ``": "``.
    system : str
        System prompt; empty for none.
    sep : str
        Separator after the system prompt and after a user turn.
    """

    name: str
    user: str
    assistant: str
    system: str = SYSTEM_PROMPT
    sep: str = "\n\n"

    def prompt(self, question: str, *, image_text: str) -> str:
        """The text up to and including ``"{assistant}:"`` (the generation prompt).

        ``image_text`` is what stands for the image (the expanded placeholder tokens).
        """
        head = f"{self.system}{self.sep}" if self.system else ""
        return f"{head}{self.user}: {image_text}\n{question.strip()}{self.sep}{self.assistant}:"


#: The chat formats by name (see the module docstring for where each comes from).
CHAT_FORMATS: dict[str, ChatFormat] = {
    "janus-pro-cxr": ChatFormat("janus-pro-cxr", user="User", assistant="Assistant"),
    "janus-pro": ChatFormat("janus-pro", user="<|User|>", assistant="<|Assistant|>"),
}


def get_chat_format(name: str) -> ChatFormat:
    """The :class:`ChatFormat` called ``name``; ``InvalidInputError`` listing the valid names."""
    try:
        return CHAT_FORMATS[name]
    except KeyError:
        raise InvalidInputError(
            f"unknown chat format {name!r}; expected one of {', '.join(CHAT_FORMATS)}"
        ) from None


def present_findings(findings: Iterable[Finding | str] | None) -> list[str]:
    """Names of the present findings, in the order given, without ``"No Finding"``.

    Plain strings are taken as names of present findings; :class:`~cxrpilot.draft.Finding`
    objects count when their status is present. Unknown names raise ``InvalidInputError``.
    """
    names: list[str] = []
    for item in findings or ():
        if isinstance(item, Finding):
            if item.status is not Status.PRESENT:
                continue
            name = item.name
        else:
            name = check_observation(str(item))
        if name != "No Finding" and name not in names:
            names.append(name)
    return names


def build_question(
    *,
    indication: str | None = None,
    expert_findings: Iterable[Finding | str] | None = None,
    question: str = REPORT_QUESTION,
) -> str:
    """The user turn's text: indication, expert analysis, then the report instruction.

    Parameters
    ----------
    indication : str or None
        Clinical indication / history; written as ``"Indication: ..."``.
    expert_findings : iterable of Finding or str, or None
        The expert classifier's output. Only *present* findings are named, as in the
        Janus-Pro-CXR paper ("Expert analysis: Pneumonia, Lung Opacity present."); when
        none is present the sentence is left out (the paper's prompt names positives only).
    question : str
        The instruction (default :data:`REPORT_QUESTION`).

    Examples
    --------
    >>> build_question(expert_findings=["Pneumonia", "Lung Opacity"])  # doctest: +ELLIPSIS
    'Expert analysis: Pneumonia, Lung Opacity present. Give a radiology report ...'
    >>> build_question(indication="Cough and fever")  # doctest: +ELLIPSIS
    'Indication: Cough and fever. Give a radiology report ...'
    """
    parts: list[str] = []
    if indication and indication.strip():
        text = " ".join(indication.split())
        parts.append(text if text.lower().startswith("indication") else f"Indication: {text}")
        if not parts[-1].endswith((".", "?", "!")):
            parts[-1] += "."
    names = present_findings(expert_findings)
    if names:
        parts.append(f"Expert analysis: {', '.join(names)} present.")
    parts.append(question.strip())
    return " ".join(parts)


def format_answer(findings: str | None, impression: str | None) -> str:
    """The target text of a report: ``"FINDINGS: ...\\n\\nIMPRESSION: ..."``.

    Either section may be missing; raises ``InvalidInputError`` when both are empty.
    """
    parts = []
    if findings and findings.strip():
        parts.append(f"FINDINGS: {' '.join(findings.split())}")
    if impression and impression.strip():
        parts.append(f"IMPRESSION: {' '.join(impression.split())}")
    if not parts:
        raise InvalidInputError("a report needs FINDINGS or IMPRESSION text; both are empty")
    return "\n\n".join(parts)
