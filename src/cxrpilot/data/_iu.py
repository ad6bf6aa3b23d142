"""The Indiana University chest X-ray collection (Open-i): report XML + DICOM header table."""

from __future__ import annotations

import re
from pathlib import Path

from cxrpilot.data._common import normalise_view
from cxrpilot.data._study import Study, StudyImage
from cxrpilot.data._tables import read_csv
from cxrpilot.errors import InvalidDatasetError, InvalidReportError

__all__ = ["read_iu_xray", "iu_metadata_key"]

_IMAGE_ID = re.compile(r"^(CXR\d+)_\d+_(IM-.*)$")


def iu_metadata_key(image_id: str) -> str:
    """The ``imageid`` of ``image_dicom_metadata.csv.gz`` for an XML ``parentImage`` id.

    >>> iu_metadata_key("CXR1_1_IM-0001-3001")
    'CXR1_IM-0001-3001'
    """
    match = _IMAGE_ID.match(image_id)
    return f"{match.group(1)}_{match.group(2)}" if match else image_id


def read_iu_xray(
    root: str | Path,
    *,
    metadata: str | Path | None = "image_dicom_metadata.csv.gz",
    images: str | Path | None = None,
) -> list[Study]:
    """Read the IU Open-i collection: one :class:`Study` per report XML.

    Parameters
    ----------
    root : path
        Folder with ``reports/*.xml`` (or the XML files themselves) and, optionally, the
        DICOM header table ``image_dicom_metadata.csv.gz``.
    metadata : path, optional
        The header table, relative to ``root`` or absolute; its ``View Position`` column gives
        each image's view (``PA``, ``AP``, ``LL``/``RL``/``LATERAL`` -> ``LATERAL``; blank in
        about a third of the rows -> None). None: no views.
    images : path, optional
        A folder with the images as ``{image id}.png`` / ``.jpg`` / ``.dcm`` (e.g. the Open-i
        PNG download); image paths are None when not given or not found (the copy in
        ``../shared/data`` has reports only).

    Returns
    -------
    list of Study
        Sorted by the number in the report id. ``study_id`` is the report's ``uId``
        (``"CXR1"``); ``patient_id`` is the same (the collection has one report per patient;
        the header table's ``Patient ID`` is the report number). ``sections`` has the
        indication, comparison, findings and impression as written (``XXXX`` marks kept; see
        :func:`cxrpilot.reports.normalise`). ``labels`` is empty: the human MeSH codes are in
        ``meta["mesh_major"]`` / ``meta["mesh_automatic"]`` for a labeler or a MeSH mapping.

    Raises
    ------
    InvalidDatasetError
        No XML files, a broken XML file (file, line and column named) or a header table
        without ``imageid`` / ``View Position`` (file named).
    """
    from cxrpilot.reports import read_iu_xml  # the report labeler's rules load on first use

    root = Path(root)
    folder = root / "reports" if (root / "reports").is_dir() else root
    if not folder.is_dir():
        raise InvalidDatasetError(
            f"{root}: not a folder; expected the IU collection with reports/*.xml"
        )
    files = sorted(folder.glob("*.xml"), key=lambda p: (len(p.stem), p.stem))
    if not files:
        raise InvalidDatasetError(f"{folder}: no .xml report files; expected IU Open-i report XML")
    views: dict[str, str | None] = {}
    if metadata is not None:
        table = Path(metadata) if Path(metadata).is_absolute() else root / metadata
        if table.is_file():
            _, rows = read_csv(table, required=("imageid", "View Position"))
            for _, _, cells in rows:
                views[cells["imageid"].strip()] = normalise_view(cells["View Position"])
    image_dir = Path(images) if images is not None else None

    studies = []
    for file in files:
        try:
            report = read_iu_xml(file)
        except InvalidReportError as exc:
            raise InvalidDatasetError(str(exc)) from exc
        study_images = []
        for image_id in report.image_ids:
            path = None
            if image_dir is not None:
                for suffix in (".png", ".jpg", ".jpeg", ".dcm"):
                    candidate = image_dir / f"{image_id}{suffix}"
                    if candidate.is_file():
                        path = str(candidate)
                        break
            study_images.append(
                StudyImage(path=path, image_id=image_id, view=views.get(iu_metadata_key(image_id)))
            )
        sections = {
            name: getattr(report.sections, name)
            for name in ("indication", "comparison", "technique", "findings", "impression")
            if getattr(report.sections, name)
        }
        studies.append(
            Study(
                study_id=report.report_id,
                patient_id=report.report_id,
                source="iu-xray",
                images=tuple(study_images),
                sections=sections,
                meta={
                    "mesh_major": list(report.mesh_major),
                    "mesh_automatic": list(report.mesh_automatic),
                    "captions": list(report.image_captions),
                    "license": "CC BY-NC-ND 4.0",
                    "file": str(file),
                },
            )
        )
    studies.sort(key=lambda s: (int(re.sub(r"\D", "", s.study_id) or 0), s.study_id))
    return studies
