"""Report templates, macros and finding phrases for the report editor.

Templates and macros ship as data (``templates/report/chest.json``); an administrator
replaces them with ``<data_dir>/report_templates.json`` (same shape; read again whenever it
changes). A broken replacement never stops reading: the shipped set is used and the API
says what is wrong with the file. Finding phrases are the composer's own sentences
(:func:`cxrpilot.models.composer.compose` of that one finding), so a clicked finding reads
as the AI draft would word it, and no phrase is written twice.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cxrpilot.errors import InvalidInputError
from cxrpilot.vocabulary import OBSERVATIONS

SHIPPED = Path(__file__).resolve().parents[1] / "templates" / "report" / "chest.json"
OVERRIDE_NAME = "report_templates.json"
SECTIONS = ("indication", "technique", "comparison", "findings", "impression")
#: Keys a macro may use: the browser keeps F1 (help), F5 (reload), F10-F12; F2 is "normal".
MACRO_KEYS = ("F3", "F4", "F6", "F7", "F8", "F9")
PHRASE_STATUSES = ("present", "uncertain", "absent")

Section = Literal[SECTIONS]  # type: ignore[valid-type]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Template(_Strict):
    key: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=128)
    sections: dict[Section, str]


class Macro(_Strict):
    key: Literal["F3", "F4", "F6", "F7", "F8", "F9"]
    name: str = Field(min_length=1, max_length=128)
    section: Section = "findings"
    text: str = Field(min_length=1, max_length=4000)


class TemplateSet(_Strict):
    comment: str = ""
    normal: str
    templates: list[Template] = Field(min_length=1)
    macros: list[Macro] = []

    def check(self) -> TemplateSet:
        keys = [t.key for t in self.templates]
        if self.normal not in keys:
            raise InvalidInputError(
                f"normal template {self.normal!r} is not one of the templates ({', '.join(keys)})"
            )
        if len(set(keys)) != len(keys):
            raise InvalidInputError("template keys must be unique")
        macro_keys = [m.key for m in self.macros]
        if len(set(macro_keys)) != len(macro_keys):
            raise InvalidInputError("macro keys must be unique")
        return self


def _parse(path: Path) -> TemplateSet:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return TemplateSet.model_validate(data).check()
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValidationError, ValueError) as exc:
        detail = (
            "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
            if isinstance(exc, ValidationError)
            else str(exc)
        )
        raise InvalidInputError(f"{path.name}: {detail}") from exc


@lru_cache(maxsize=4)
def _cached(path: str, mtime_ns: int) -> TemplateSet:
    return _parse(Path(path))


@lru_cache(maxsize=1)
def finding_phrases() -> dict[str, dict[str, str]]:
    """``{finding: {"present"|"uncertain"|"absent": sentence}}``: the composer's FINDINGS
    sentence for that finding alone (No Finding has none)."""
    from cxrpilot.draft import Finding
    from cxrpilot.models.composer import compose

    return {
        name: {status: compose([Finding(name, status, None)])[0] for status in PHRASE_STATUSES}
        for name in OBSERVATIONS
        if name != "No Finding"
    }


def report_templates(data_dir: Path) -> dict[str, Any]:
    """Templates, macros and finding phrases for the editor (JSON-ready), with ``source``
    (the file used) and ``warning`` (why a replacement file was not used, else None)."""
    override = Path(data_dir) / OVERRIDE_NAME
    chosen, warning = SHIPPED, None
    if override.is_file():
        try:
            result = _cached(str(override), override.stat().st_mtime_ns)
            chosen = override
        except ValueError as exc:
            warning = f"{exc}; using the shipped templates"
            result = _cached(str(SHIPPED), SHIPPED.stat().st_mtime_ns)
    else:
        result = _cached(str(SHIPPED), SHIPPED.stat().st_mtime_ns)
    return {
        **result.model_dump(exclude={"comment"}),
        "phrases": finding_phrases(),
        "source": "shipped" if chosen == SHIPPED else OVERRIDE_NAME,
        "warning": warning,
    }
