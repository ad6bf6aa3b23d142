"""DICOM: parse the header, read the facts a radiograph needs, decode the pixels to [0, 1].

Grey-level pipeline (all in floating point, so no bit depth is lost):

1. stored values -> modality LUT or rescale slope/intercept
   (:func:`pydicom.pixels.apply_modality_lut`);
2. -> VOI LUT, or the first window centre/width (:func:`pydicom.pixels.apply_voi_lut`);
3. -> [0, 1]: a VOI transform is divided by its own output range, found by running the
   same transform over its whole input domain (the window's clipped extremes, or every
   entry of the LUT), so a window keeps the contrast the modality chose; without a VOI
   transform the modality values are stretched min-max over the image (what viewers do);
4. MONOCHROME1 (or Presentation LUT Shape INVERSE) -> ``1 - x``, so 0 is always black air.

Colour images (RGB, YBR_* converted to RGB by pydicom, PALETTE COLOR through its LUT) are
turned to grey with the ITU-R BT.601 luma weights and divided by the largest value their
bit depth allows.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from cxrpilot.errors import CxrpilotError, InvalidImageError, UnsupportedImageError

__all__ = ["DicomFacts", "read_dataset", "read_facts", "decode_pixels", "looks_like_dicom"]

_LUMA = np.array([0.299, 0.587, 0.114])

# ViewPosition (0018,5101) values and free-text tokens, by kind of projection.
_LATERAL = frozenset(
    {"LL", "RL", "LAT", "LATERAL", "LLAT", "RLAT", "XTABLE", "LATERALE", "SEITLICH"}
)
_OBLIQUE = frozenset({"RLO", "LLO", "RAO", "LAO", "RPO", "LPO", "OBL", "OBLIQUE"})
_FRONTAL = frozenset({"PA", "AP", "APS", "FRONTAL", "LLD", "RLD"})
# Free-text fields read, in order, for the view when View Position is empty (image or
# series level only: a study description such as "CHEST PA AND LAT" covers two images).
_VIEW_TEXT_FIELDS = (
    "SeriesDescription",
    "AcquisitionDeviceProcessingDescription",
    "ProtocolName",
)


@dataclass(frozen=True)
class DicomFacts:
    """What the loader needs from a DICOM header, read before any pixel is decoded."""

    modality: str | None
    sop_class: str | None
    sop_class_name: str | None
    view_position: str | None
    view_source: str | None  # the attribute the view was read from
    body_part: str | None
    photometric: str
    rows: int
    columns: int
    frames: int
    samples: int
    bits_stored: int
    transfer_syntax: str | None
    presentation_intent: str | None
    pixel_spacing_mm: tuple[float, float] | None
    patient_age_years: float | None
    patient_sex: str | None


def looks_like_dicom(data: bytes) -> bool:
    """True for a DICOM Part 10 file (``DICM`` at byte 128) or a raw data set that starts
    with a group 0002 or 0008 element (the preamble-less files some systems write)."""
    if len(data) >= 132 and data[128:132] == b"DICM":
        return True
    return len(data) >= 8 and data[:2] in (b"\x02\x00", b"\x08\x00") and data[3:4] == b"\x00"


def read_dataset(data: bytes, source: str) -> Any:
    """Parse a DICOM data set (pixel data kept encoded) or raise InvalidImageError."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    has_marker = len(data) >= 132 and data[128:132] == b"DICM"
    try:
        with warnings.catch_warnings(record=True) as caught:  # keep header values out of logs
            warnings.simplefilter("always")
            ds = pydicom.dcmread(io.BytesIO(data), force=not has_marker)
            # Touch every top-level element so that a truncated header fails here, not later.
            for _ in ds:
                pass
    except InvalidDicomError as exc:
        raise InvalidImageError(f"not a readable DICOM file: {source} ({exc})") from None
    except (EOFError, OSError, ValueError, KeyError, TypeError, IndexError, OverflowError) as exc:
        raise InvalidImageError(
            f"truncated or corrupt DICOM: {source}: the header cannot be parsed "
            f"({type(exc).__name__}: {_short(exc)}); export or transfer the file again"
        ) from None
    if any("end of file" in str(w.message).lower() for w in caught) or (
        has_marker and len(ds) == 0
    ):
        raise InvalidImageError(
            f"truncated DICOM: {source} ends before its data set does ({len(data)} bytes); "
            "export or transfer the file again"
        )
    if not any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        if not has_marker and len(ds) == 0:
            raise InvalidImageError(f"not a DICOM, PNG or JPEG file: {source}")
        rows, columns = _int(ds, "Rows", 0), _int(ds, "Columns", 0)
        if rows and columns:
            raise InvalidImageError(
                f"truncated DICOM: {source} declares a {columns}x{rows} image but ends before "
                f"its pixel data ({len(data)} bytes); export or transfer the file again"
            )
        kind = _sop_class_name(ds) or "DICOM object"
        raise InvalidImageError(
            f"no pixel data: {source} is a {kind} without an image; expected a chest radiograph"
        )
    _ensure_transfer_syntax(ds)
    return ds


def _ensure_transfer_syntax(ds: Any) -> None:
    """Give a file without (0002,0010) the native transfer syntax it was parsed with, so
    that its uncompressed pixel data can be decoded (old or preamble-less files)."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    meta = getattr(ds, "file_meta", None)
    if meta is not None and "TransferSyntaxUID" in meta:
        return
    implicit, little = ds.original_encoding
    if meta is None:
        ds.file_meta = meta = FileMetaDataset()
    if implicit:
        meta.TransferSyntaxUID = ImplicitVRLittleEndian
    else:
        meta.TransferSyntaxUID = ExplicitVRLittleEndian if little else ExplicitVRBigEndian


def _short(exc: BaseException, limit: int = 160) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _text(ds: Any, keyword: str) -> str | None:
    try:
        value = ds.get(keyword)
    except Exception:  # a malformed value of an element we only read for information
        return None
    if value is None:
        return None
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        value = "\\".join(str(v) for v in value)
    text = str(value).strip()
    return text or None


def _int(ds: Any, keyword: str, default: int | None = None) -> int | None:
    try:
        value = ds.get(keyword)
        return default if value in (None, "") else int(value)
    except (TypeError, ValueError):
        return default


def _sop_class_name(ds: Any) -> str | None:
    uid = ds.get("SOPClassUID") or getattr(
        getattr(ds, "file_meta", None), "MediaStorageSOPClassUID", None
    )
    if not uid:
        return None
    name = getattr(uid, "name", str(uid))
    return None if name == str(uid) else name


def _spacing(ds: Any) -> tuple[float, float] | None:
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        try:
            value = ds.get(keyword)
            if value is None or len(value) != 2:
                continue
            row, col = float(value[0]), float(value[1])
        except (TypeError, ValueError):
            continue
        if row > 0 and col > 0:
            return (row, col)
    return None


_AGE = re.compile(r"^\s*(\d{1,3})\s*([DWMY]?)\s*$", re.IGNORECASE)
_AGE_UNIT_YEARS = {"D": 1 / 365.25, "W": 7 / 365.25, "M": 1 / 12, "Y": 1.0, "": 1.0}


def parse_age(value: str | None) -> float | None:
    """Patient's Age (AS, e.g. ``'065Y'``, ``'006M'``; a bare number is read as years)."""
    match = _AGE.match(value or "")
    if not match:
        return None
    years = int(match.group(1)) * _AGE_UNIT_YEARS[match.group(2).upper()]
    return round(years, 3) if years <= 130 else None


def _tokens(text: str) -> set[str]:
    return set(re.findall(r"[A-Z]+", text.upper()))


def classify_view(text: str | None) -> str | None:
    """``'lateral'``, ``'oblique'``, ``'frontal'`` or None for a view value or description."""
    if not text:
        return None
    tokens = _tokens(text)
    found = {
        kind
        for kind, words in (("lateral", _LATERAL), ("oblique", _OBLIQUE), ("frontal", _FRONTAL))
        if tokens & words
    }
    if "DECUBITUS" in tokens:  # a lateral decubitus film is a frontal projection
        found.discard("lateral")
        found.add("frontal")
    return found.pop() if len(found) == 1 else None


def _code_view(ds: Any) -> str | None:
    """The view from View Code Sequence (0054,0220), e.g. 'lateral' (SNOMED/RadLex)."""
    try:
        items = ds.get("ViewCodeSequence") or []
        meaning = str(items[0].get("CodeMeaning", "")).lower() if len(items) else ""
    except Exception:
        return None
    if "decubitus" in meaning:
        return "DECUBITUS"
    for words, label in (
        (("lateral",), "LATERAL"),
        (("oblique",), "OBLIQUE"),
        (("postero-anterior", "posteroanterior", "posterior-anterior"), "PA"),
        (("antero-posterior", "anteroposterior", "anterior-posterior"), "AP"),
    ):
        if any(w in meaning for w in words):
            return label
    return None


def _view(ds: Any) -> tuple[str | None, str | None]:
    """(view, attribute it came from): View Position, else View Code Sequence, else a clear
    PA/AP/lateral/oblique token in a series- or image-level description."""
    value = _text(ds, "ViewPosition")
    if value and classify_view(value):
        return value.upper(), "View Position"
    coded = _code_view(ds)
    if coded:
        return coded, "View Code Sequence"
    for keyword in _VIEW_TEXT_FIELDS:
        text = _text(ds, keyword)
        kind = classify_view(text)
        if kind is None:
            continue
        tokens = _tokens(text or "")
        label = {"lateral": "LATERAL", "oblique": "OBLIQUE"}.get(kind) or (
            "PA" if "PA" in tokens else "AP" if "AP" in tokens else None
        )
        if label:
            return label, re.sub(r"(?<!^)(?=[A-Z])", " ", keyword)
    return None, None


def read_facts(ds: Any) -> DicomFacts:
    """Read the header facts (no pixel decoding)."""
    meta = getattr(ds, "file_meta", None)
    syntax = getattr(meta, "TransferSyntaxUID", None) if meta is not None else None
    view, view_source = _view(ds)
    sop = ds.get("SOPClassUID") or getattr(meta, "MediaStorageSOPClassUID", None)
    sex = (_text(ds, "PatientSex") or "").upper()
    return DicomFacts(
        modality=(_text(ds, "Modality") or "").upper() or None,
        sop_class=str(sop) if sop else None,
        sop_class_name=_sop_class_name(ds),
        view_position=view,
        view_source=view_source,
        body_part=_text(ds, "BodyPartExamined"),
        photometric=(_text(ds, "PhotometricInterpretation") or "MONOCHROME2").upper(),
        rows=_int(ds, "Rows", 0) or 0,
        columns=_int(ds, "Columns", 0) or 0,
        frames=_int(ds, "NumberOfFrames", 1) or 1,
        samples=_int(ds, "SamplesPerPixel", 1) or 1,
        bits_stored=_int(ds, "BitsStored", None) or _int(ds, "BitsAllocated", 8) or 8,
        transfer_syntax=getattr(syntax, "name", None) if syntax else None,
        presentation_intent=(_text(ds, "PresentationIntentType") or "").upper() or None,
        pixel_spacing_mm=_spacing(ds),
        patient_age_years=parse_age(_text(ds, "PatientAge")),
        patient_sex=sex if sex in {"M", "F", "O"} else None,
    )


def _decode_error(exc: BaseException, facts: DicomFacts, source: str) -> CxrpilotError:
    message = _short(exc)
    syntax = facts.transfer_syntax or "unknown transfer syntax"
    low = message.lower()
    if "plugin" in low or "no pixel data decoders" in low or "missing required dependencies" in low:
        return UnsupportedImageError(
            f"cannot decode DICOM pixel data of {source}: no decoder for {syntax} is installed; "
            "install pylibjpeg-libjpeg, pylibjpeg-openjpeg, pylibjpeg-rle and python-gdcm"
        )
    if any(
        w in low
        for w in (
            "less than expected",
            "truncat",
            "too short",
            "end of",
            "insufficient",
            "not enough",
        )
    ):
        sizes = re.search(r"\((\d+) vs (\d+) bytes\)", message)
        detail = f"{sizes.group(1)} of {sizes.group(2)} bytes" if sizes else message
        return InvalidImageError(
            f"truncated DICOM: {source}: the pixel data ({syntax}) ends before the "
            f"{facts.columns}x{facts.rows} image does ({detail}); export or transfer the file again"
        )
    return InvalidImageError(
        f"corrupt DICOM pixel data in {source} ({syntax}): {message}; export the image again"
    )


def _voi_range(ds: Any) -> tuple[float, float] | None:
    """Output range of the VOI transform pydicom applies, or None when there is none."""
    from pydicom.pixels import apply_voi_lut

    try:
        seq = ds.get("VOILUTSequence")
        if seq and seq[0].get("LUTDescriptor") is not None and seq[0].get("LUTData") is not None:
            n_entries, first, _bits = (int(v) for v in seq[0].LUTDescriptor)
            n_entries = n_entries or 65536
            domain = np.arange(first, first + n_entries, dtype=np.float64)
            values = apply_voi_lut(domain, ds)
        elif ds.get("WindowCenter") is not None and ds.get("WindowWidth") is not None:
            with np.errstate(over="ignore"):
                values = apply_voi_lut(np.array([-1e15, 1e15]), ds, prefer_lut=False)
        else:
            return None
    except Exception:  # a malformed LUT or window: fall back to min-max
        return None
    lo, hi = float(np.min(values)), float(np.max(values))
    return (lo, hi) if np.isfinite(lo) and np.isfinite(hi) and hi > lo else None


def _minmax(values: np.ndarray) -> np.ndarray:
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return np.zeros(values.shape, dtype=np.float64)
    return (values - lo) / (hi - lo)


def decode_pixels(ds: Any, facts: DicomFacts, source: str) -> np.ndarray:
    """Decode a single-frame DICOM image to float32 (H, W) in [0, 1], display sense."""
    from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut

    try:
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            stored = ds.pixel_array
    except Exception as exc:  # pydicom and its plugins raise many types for bad pixel data
        raise _decode_error(exc, facts, source) from None
    stored = np.asarray(stored)
    photometric = facts.photometric
    if photometric == "PALETTE COLOR":
        try:
            rgb = np.asarray(apply_color_lut(stored, ds), dtype=np.float64)
        except Exception as exc:
            raise InvalidImageError(f"corrupt palette in DICOM {source}: {_short(exc)}") from None
        top = float(2 ** int(ds.RedPaletteColorLookupTableDescriptor[2]) - 1)
        grey = (rgb @ _LUMA) / (top if top > 0 else max(float(rgb.max()), 1.0))
    elif stored.ndim == 3 and stored.shape[-1] in (3, 4):
        top = float(2**facts.bits_stored - 1)
        grey = (stored[..., :3].astype(np.float64) @ _LUMA) / top
    elif stored.ndim == 2:
        try:
            values = np.asarray(apply_modality_lut(stored, ds), dtype=np.float64)
            window = _voi_range(ds)
            if window is not None:
                values = np.asarray(apply_voi_lut(values, ds), dtype=np.float64)
                grey = (values - window[0]) / (window[1] - window[0])
            else:
                grey = _minmax(values)
        except (ValueError, TypeError, IndexError, KeyError, AttributeError):
            grey = _minmax(stored.astype(np.float64))  # malformed LUT attributes: min-max
        inverse = (_text(ds, "PresentationLUTShape") or "").upper() == "INVERSE"
        if photometric == "MONOCHROME1" or inverse:
            grey = 1.0 - grey
    else:
        raise UnsupportedImageError(
            f"unsupported DICOM pixel layout in {source}: decoded shape {stored.shape} "
            f"(Samples per Pixel {facts.samples}, Photometric Interpretation {photometric!r}); "
            "expected one greyscale or colour frame"
        )
    return np.clip(grey, 0.0, 1.0).astype(np.float32)
