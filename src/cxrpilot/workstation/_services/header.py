"""The DICOM header panel: the stored de-identified header, element by element.

Only the de-identified copy the workstation stored is read (never the uploaded file, which
is not kept); pixel data and other bulk values are left out, long values shortened.
"""

from __future__ import annotations

import io
from typing import Any

from .._orm import Image
from .._storage import BlobStore

MAX_VALUE = 200
MAX_ITEMS = 20
#: Value representations whose values are bulk data, not shown.
BULK_VRS = frozenset({"OB", "OW", "OF", "OD", "OL", "OV", "UN"})


def _value(elem: Any) -> str:
    if elem.VR in BULK_VRS:
        return f"<{len(elem.value or b'')} bytes>" if elem.value is not None else ""
    value = elem.value
    if value is None:
        return ""
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        text = "\\".join(str(v) for v in value)
    else:
        text = str(value)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def _elements(ds: Any, depth: int) -> list[dict[str, Any]]:
    out = []
    for elem in ds:
        if elem.tag == 0x7FE00010:  # Pixel Data
            continue
        row: dict[str, Any] = {
            "tag": f"({elem.tag.group:04X},{elem.tag.element:04X})",
            "keyword": elem.keyword or "",
            "name": elem.name,
            "vr": elem.VR,
            "depth": depth,
        }
        if elem.VR == "SQ":
            row["value"] = f"{len(elem.value)} item(s)"
            out.append(row)
            for item in list(elem.value)[:MAX_ITEMS]:
                out.extend(_elements(item, depth + 1))
            continue
        row["value"] = _value(elem)
        out.append(row)
    return out


def dicom_header(store: BlobStore, image: Image) -> dict[str, Any]:
    """``{"available", "note", "elements": [{tag, keyword, name, vr, value, depth}]}``
    from the stored de-identified DICOM (file meta first)."""
    if not image.dicom_path:
        why = (image.meta or {}).get("dicom") or "unknown reason"
        note = (
            "not a DICOM image: no header"
            if image.format != "dicom"
            else f"no de-identified DICOM header was kept ({why})"
        )
        return {"available": False, "note": note, "elements": []}
    import pydicom

    ds = pydicom.dcmread(io.BytesIO(store.read(image.dicom_path)), stop_before_pixels=True)
    elements = _elements(ds.file_meta, 0) if getattr(ds, "file_meta", None) else []
    elements += _elements(ds, 0)
    return {
        "available": True,
        "note": "de-identified header as stored by the workstation",
        "elements": elements,
    }
