"""The workstation's draft worker with a Janus model (quantised decoding on the CPU)."""

from __future__ import annotations

import pydantic
import pytest

pytest.importorskip("fastapi")

from cxrpilot.draft import Draft
from cxrpilot.workstation._app import _pipeline_producer
from cxrpilot.workstation._settings import Settings


def test_worker_drafts_with_a_quantised_janus_model(tiny_janus_dir, radiographs, tmp_path):
    settings = Settings(environment="development", data_dir=tmp_path, draft_model=f"janus:{tiny_janus_dir}",
                        draft_quantize="int4")
    produce = _pipeline_producer(settings)()
    draft = produce(radiographs[0])
    assert isinstance(draft, Draft)
    assert draft.model_id == f"janus:{tiny_janus_dir.name}"
    assert len(draft.findings) == 14


def test_unknown_draft_quantize_is_refused(tmp_path):
    with pytest.raises(pydantic.ValidationError, match="draft_quantize"):
        Settings(environment="development", data_dir=tmp_path, draft_quantize="int3")
