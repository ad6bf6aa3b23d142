"""Interop fixtures: a real Orthanc PACS on loopback (see :mod:`tests.interop._orthanc`).

``orthanc`` is a fresh running server per test (empty storage); ``orthanc_factory(**kw)``
makes more (e.g. ``scp_aet=``, ``scp_port=`` for the peer Orthanc C-STOREs to). Both are
stopped at teardown. Without Orthanc installed the tests skip, or fail when
``CXRPILOT_REQUIRE_PACS=1`` or ``CXRPILOT_REQUIRE_SYSTEM=1`` (as ``make test`` sets).
Other test folders use them by importing them into their conftest:
``from tests.interop.conftest import orthanc, orthanc_factory, orthanc_install  # noqa: F401``
(as ``tests/workstation/test_inbound.py`` does).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from ._orthanc import Orthanc, find_orthanc


def _require_pacs() -> bool:
    return any(os.environ.get(var, "").strip().lower() in ("1", "true", "yes")
               for var in ("CXRPILOT_REQUIRE_PACS", "CXRPILOT_REQUIRE_SYSTEM"))


@pytest.fixture(scope="session")
def orthanc_install() -> tuple[str, str]:
    """``(binary, dicomweb_plugin)`` of the installed Orthanc; skips (or fails when
    ``CXRPILOT_REQUIRE_PACS=1``) with the reason when it is not installed."""
    binary, plugin, problem = find_orthanc()
    if problem:
        if _require_pacs():
            pytest.fail(f"a real PACS is required (CXRPILOT_REQUIRE_PACS or _SYSTEM) but {problem}",
                        pytrace=False)
        pytest.skip(problem)
    return binary, plugin  # type: ignore[return-value]


@pytest.fixture
def orthanc_factory(orthanc_install, tmp_path_factory) -> Iterator[Callable[..., Orthanc]]:
    """``make(**fields) -> Orthanc``, started and answering; every one is killed at the end.

    ``fields`` are :class:`~tests.interop._orthanc.Orthanc`'s (``aet``, ``scp_aet``,
    ``scp_port``, ``modalities`` ...); ports default to free ones."""
    binary, plugin = orthanc_install
    made: list[Orthanc] = []

    def make(**fields) -> Orthanc:
        server = Orthanc(
            folder=tmp_path_factory.mktemp("orthanc"), binary=binary, plugin=plugin, **fields
        )
        made.append(server)
        try:
            return server.start()
        except RuntimeError as exc:
            if _require_pacs():
                pytest.fail(f"a real PACS is required but Orthanc did not start: {exc}")
            pytest.skip(f"Orthanc did not start: {exc}")

    yield make
    for server in made:
        server.kill()


@pytest.fixture
def orthanc(orthanc_factory) -> Orthanc:
    """A fresh, empty Orthanc on loopback: REST at ``.url``, DICOMweb at ``.dicomweb_url``,
    DIMSE at ``.aet``/``.dicom_port``; the peer ``"cxrpilot"`` (AE ``.scp_aet`` on
    ``.scp_port``) is where its ``store_to("cxrpilot", ...)`` sends. ``.stop()``,
    ``.kill()``, ``.start()``, ``.restart()`` keep ports and storage."""
    return orthanc_factory()
