"""IU Open-i (Indiana University chest X-ray collection) report XML."""

from __future__ import annotations

import hashlib
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from cxrpilot.errors import InvalidInputError, InvalidReportError, read_input_file
from cxrpilot.reports._sections import Sections

_LABELS = {"COMPARISON": "comparison", "INDICATION": "indication", "FINDINGS": "findings", "IMPRESSION": "impression"}


@dataclass(frozen=True)
class IuReport:
    """One IU Open-i report as its XML file gives it.

    Attributes
    ----------
    report_id : str
        The collection's id (``uId``), e.g. ``"CXR1"``.
    path : str
        The XML file it was read from.
    sections : Sections
        COMPARISON, INDICATION, FINDINGS, IMPRESSION (``AbstractText`` elements), text as
        written (with the ``XXXX`` de-identification marks; see
        :func:`~cxrpilot.reports.normalise`).
    mesh_major : tuple of str
        MeSH major terms coded by people, e.g. ``"Cardiomegaly/mild"``, ``"normal"``.
    mesh_automatic : tuple of str
        MeSH terms found by software.
    image_ids : tuple of str
        ``parentImage`` ids, e.g. ``"CXR1_1_IM-0001-3001"``.
    image_captions : tuple of str
        The caption of each image, in the same order.
    """

    report_id: str
    path: str
    sections: Sections
    mesh_major: tuple[str, ...] = ()
    mesh_automatic: tuple[str, ...] = ()
    image_ids: tuple[str, ...] = ()
    image_captions: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """The report as text with headings (``FINDINGS: ...``), missing sections left out."""
        parts = []
        for name in ("indication", "comparison", "findings", "impression"):
            value = getattr(self.sections, name)
            if value:
                parts.append(f"{name.upper()}: {value}")
        return "\n".join(parts)


def read_iu_xml(path: str | os.PathLike[str]) -> IuReport:
    """Read one IU Open-i report XML file.

    Parameters
    ----------
    path : str or os.PathLike
        An ``.xml`` file of the collection (root element ``eCitation``).

    Returns
    -------
    IuReport

    Raises
    ------
    InvalidReportError
        If the file is missing or unreadable, is not well-formed XML (the message names the
        file, line and column), or is not an Open-i report (no ``eCitation`` root).

    Examples
    --------
    >>> report = read_iu_xml("../shared/data/iu-xray/reports/1.xml")  # doctest: +SKIP
    >>> report.report_id, report.mesh_major  # doctest: +SKIP
    ('CXR1', ('normal',))
    """
    p = Path(path)
    data = read_input_file(p, error=InvalidReportError, expected="an IU Open-i report .xml")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        raise InvalidReportError(
            f"{p}: broken XML at line {line}, column {column} ({exc.msg if hasattr(exc, 'msg') else exc}); "
            "expected a well-formed IU Open-i report"
        ) from None
    if root.tag != "eCitation":
        raise InvalidReportError(
            f"{p}: root element is <{root.tag}>, expected <eCitation> (an IU Open-i report)"
        )
    parts: dict[str, list[str]] = {}
    for node in root.iter("AbstractText"):
        key = _LABELS.get((node.get("Label") or "").strip().upper())
        text = " ".join("".join(node.itertext()).split())
        if key and text:
            parts.setdefault(key, []).append(text)
    uid = root.find("uId")
    report_id = (uid.get("id") if uid is not None else None) or p.stem
    images = root.findall("parentImage")
    return IuReport(
        report_id=report_id,
        path=str(p),
        sections=Sections(**{k: " ".join(v) for k, v in parts.items()}),
        mesh_major=tuple(_texts(root, "MeSH/major")),
        mesh_automatic=tuple(_texts(root, "MeSH/automatic")),
        image_ids=tuple(img.get("id", "") for img in images),
        image_captions=tuple(" ".join((img.findtext("caption") or "").split()) for img in images),
    )


def _texts(root: ET.Element, path: str) -> list[str]:
    return [" ".join(t.split()) for t in (n.text or "" for n in root.findall(path)) if t.strip()]


#: The two fixed halves of the IU reports used to validate the labeler against MeSH:
#: rules are developed on ``"dev"`` and scored once on ``"heldout"``.
IU_HALVES: tuple[str, str] = ("dev", "heldout")

_HALF_SALT = b"cxrpilot-iu-labeler-halves-v1:"


def iu_half(report_id: str) -> str:
    """The fixed validation half of an IU report: ``"dev"`` or ``"heldout"``.

    Deterministic and independent of file order or count: the first byte of
    ``sha256("cxrpilot-iu-labeler-halves-v1:" + report_id)``, even -> ``"dev"``. The IU
    collection has one report per patient, so the halves are patient-disjoint.

    Raises
    ------
    InvalidInputError
        For an id that is not a non-empty string.

    >>> iu_half("CXR1"), iu_half("CXR2")
    ('heldout', 'dev')
    """
    if not isinstance(report_id, str) or not report_id.strip():
        raise InvalidInputError(f"report_id must be a non-empty str such as 'CXR1', got {report_id!r}")
    digest = hashlib.sha256(_HALF_SALT + report_id.strip().encode("utf-8")).digest()
    return IU_HALVES[digest[0] & 1]
