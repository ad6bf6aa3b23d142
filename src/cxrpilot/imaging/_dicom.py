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

import contextlib
import io
import logging
import re
import struct
import threading
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from cxrpilot.errors import CxrpilotError, InvalidImageError, UnsupportedImageError

from ._raster import jpeg_frame_header

__all__ = [
    "DicomFacts",
    "MAX_SEQUENCE_DEPTH",
    "PARSE_ERRORS",
    "check_pixel_module",
    "decode_pixels",
    "looks_like_dicom",
    "parser_errors",
    "quiet_pydicom",
    "read_dataset",
    "read_facts",
    "redact",
]

MAX_SEQUENCE_DEPTH = 12
"""Deepest nesting of sequences read (real radiograph headers nest 3 or 4 deep)."""

#: What pydicom (and the zlib, struct and codec layers below it) raise on malformed input:
#: unknown VRs, bad lengths, corrupt deflate, runaway nesting. Turned into InvalidImageError.
PARSE_ERRORS: tuple[type[BaseException], ...] = (
    EOFError,
    OSError,
    ValueError,  # UnicodeDecodeError included
    LookupError,  # KeyError, IndexError
    TypeError,
    AttributeError,
    ArithmeticError,  # OverflowError
    RecursionError,
    NotImplementedError,
    MemoryError,
    struct.error,
    zlib.error,
)


def _parse_errors() -> tuple[type[BaseException], ...]:
    """PARSE_ERRORS plus pydicom's own (which derive from Exception only)."""
    from pydicom.errors import BytesLengthException

    return (*PARSE_ERRORS, BytesLengthException)

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


_QUOTED = re.compile(r"""b?'(?:[^'\\]|\\.)*'|b?"(?:[^"\\]|\\.)*"|\\x[0-9a-fA-F]{2}""")


def redact(text: str) -> str:
    """``text`` with every quoted value (``'...'``, ``b'...'``, ``"..."``) replaced by
    ``'…'``: pydicom's and Python's messages quote element values, which may be PHI.

    >>> redact("Invalid value for VR DA: 'Doe^John'")
    "Invalid value for VR DA: '…'"
    """
    return _QUOTED.sub("'…'", text)


class _RedactValues(logging.Filter):
    """Rewrites pydicom's log records so that no element value reaches a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a record that cannot be formatted says nothing
            message = "pydicom message (unformattable)"
        record.msg, record.args = redact(message), ()
        return True


_QUIET_LOCK = threading.Lock()
_QUIET_STATE = {"depth": 0, "saved": None, "filter": None}


@contextlib.contextmanager
def quiet_pydicom() -> Iterator[None]:
    """Read DICOM without pydicom echoing element values to logs or warnings.

    Inside, pydicom's reading validation is off (its messages quote the invalid value,
    e.g. a patient name in a DA element) and its logger's records are redacted (see
    :func:`redact`). Reference-counted, so overlapping use from several threads restores
    pydicom's own setting only when the last one leaves. Warnings raised inside are
    recorded and dropped (the ``warnings`` module is process-wide: a caller that needs
    other threads' warnings kept should decode in a worker process, see
    :class:`~cxrpilot.imaging.IsolatedLoader`).
    """
    from pydicom import config

    with _QUIET_LOCK:
        if _QUIET_STATE["filter"] is None:
            _QUIET_STATE["filter"] = _RedactValues()
            logging.getLogger("pydicom").addFilter(_QUIET_STATE["filter"])
        if _QUIET_STATE["depth"] == 0:
            _QUIET_STATE["saved"] = config.settings.reading_validation_mode
            config.settings.reading_validation_mode = config.IGNORE
        _QUIET_STATE["depth"] += 1
    try:
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            yield
    finally:
        with _QUIET_LOCK:
            _QUIET_STATE["depth"] -= 1
            if _QUIET_STATE["depth"] == 0:
                config.settings.reading_validation_mode = _QUIET_STATE["saved"]


@contextlib.contextmanager
def parser_errors(source: str) -> Iterator[None]:
    """Turn what a malformed header makes pydicom raise into one InvalidImageError."""
    try:
        yield
    except CxrpilotError:
        raise
    except _parse_errors() as exc:
        raise InvalidImageError(
            f"corrupt DICOM: {source}: the data set cannot be parsed "
            f"({type(exc).__name__}: {_short(exc)}); export or transfer the file again"
        ) from None


def _walk(ds: Any, source: str) -> None:
    """Parse every element at every nesting level now (pydicom parses lazily), refusing
    nesting deeper than MAX_SEQUENCE_DEPTH, so that a malformed element fails here."""
    stack = [(ds, 0)]
    while stack:
        current, depth = stack.pop()
        for elem in current:
            if elem.VR != "SQ":
                continue
            if depth + 1 > MAX_SEQUENCE_DEPTH:
                raise InvalidImageError(
                    f"corrupt DICOM: {source} nests sequences more than "
                    f"{MAX_SEQUENCE_DEPTH} deep (at {elem.tag}); expected an image header "
                    "(real ones nest 3 or 4 deep)"
                )
            stack.extend((item, depth + 1) for item in elem.value)


def read_dataset(data: bytes, source: str) -> Any:
    """Parse a DICOM data set (pixel data kept encoded) or raise InvalidImageError."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    has_marker = len(data) >= 132 and data[128:132] == b"DICM"
    try:
        with warnings.catch_warnings(record=True) as caught:  # keep header values out of logs
            warnings.simplefilter("always")
            ds = pydicom.dcmread(io.BytesIO(data), force=not has_marker)
            # Parse every element (nested ones too) so that a bad header fails here.
            _walk(ds, source)
    except InvalidDicomError as exc:
        raise InvalidImageError(
            f"not a readable DICOM file: {source} ({_short(exc)})"
        ) from None
    except CxrpilotError:
        raise
    except _parse_errors() as exc:
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
    text = redact(" ".join(str(exc).split()))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _text(ds: Any, keyword: str) -> str | None:
    try:
        value = ds.get(keyword)
    except Exception:  # a malformed value of an element we only read for information  # noqa: BLE001
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
    except Exception:  # noqa: BLE001
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
    except Exception:  # a malformed LUT or window: fall back to min-max  # noqa: BLE001
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
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - pydicom and its plugins raise many types
        # for bad pixel data, pyo3's PanicException (Rust codecs) derives from BaseException
        raise _decode_error(exc, facts, source) from None
    stored = np.asarray(stored)
    photometric = facts.photometric
    if photometric == "PALETTE COLOR":
        try:
            rgb = np.asarray(apply_color_lut(stored, ds), dtype=np.float64)
        except Exception as exc:  # noqa: BLE001
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


# -- the pixel module against the transfer syntax, before any codec sees the data -----------

# Transfer syntax UID -> (name, allowed Bits Allocated, largest Bits Stored, stream kind).
# From DICOM PS3.5 8.2 (encapsulated) and 8.1.1 (native); what the installed codecs take.
# The lossy JPEG processes also fix the smallest Bits Stored (_STORED_MIN): GDCM aborts the
# process on JPEG baseline with Bits Stored 1 to 7 (found by benchmarks/fuzz_imaging.py).
_NATIVE = frozenset({8, 16, 32})
_SYNTAXES: dict[str, tuple[str, frozenset[int], int, str]] = {
    "1.2.840.10008.1.2": ("Implicit VR Little Endian", _NATIVE, 32, "native"),
    "1.2.840.10008.1.2.1": ("Explicit VR Little Endian", _NATIVE, 32, "native"),
    "1.2.840.10008.1.2.1.99": ("Deflated Explicit VR Little Endian", _NATIVE, 32, "native"),
    "1.2.840.10008.1.2.2": ("Explicit VR Big Endian", _NATIVE, 32, "native"),
    "1.2.840.10008.1.2.4.50": ("JPEG Baseline (Process 1)", frozenset({8}), 8, "jpeg"),
    "1.2.840.10008.1.2.4.51": ("JPEG Extended (Process 2 & 4)", frozenset({8, 16}), 12, "jpeg"),
    "1.2.840.10008.1.2.4.57": ("JPEG Lossless", frozenset({8, 16}), 16, "jpeg"),
    "1.2.840.10008.1.2.4.70": ("JPEG Lossless SV1", frozenset({8, 16}), 16, "jpeg"),
    "1.2.840.10008.1.2.4.80": ("JPEG-LS Lossless", frozenset({8, 16}), 16, "jpeg"),
    "1.2.840.10008.1.2.4.81": ("JPEG-LS Near-lossless", frozenset({8, 16}), 16, "jpeg"),
    "1.2.840.10008.1.2.4.90": ("JPEG 2000 (Lossless Only)", frozenset({8, 16}), 16, "j2k"),
    "1.2.840.10008.1.2.4.91": ("JPEG 2000", frozenset({8, 16}), 16, "j2k"),
    "1.2.840.10008.1.2.4.201": ("HTJ2K (Lossless Only)", frozenset({8, 16}), 16, "j2k"),
    "1.2.840.10008.1.2.4.202": ("HTJ2K (Lossless RPCL)", frozenset({8, 16}), 16, "j2k"),
    "1.2.840.10008.1.2.4.203": ("HTJ2K", frozenset({8, 16}), 16, "j2k"),
    "1.2.840.10008.1.2.5": ("RLE Lossless", frozenset({8, 16, 32}), 32, "rle"),
}
_STORED_MIN = {"1.2.840.10008.1.2.4.50": 8, "1.2.840.10008.1.2.4.51": 8}
_MONO = frozenset({"MONOCHROME1", "MONOCHROME2", "PALETTE COLOR"})
_COLOUR = frozenset(
    {"RGB", "YBR_FULL", "YBR_FULL_422", "YBR_PARTIAL_420", "YBR_ICT", "YBR_RCT"}
)
_SOF_JPEG = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC} | {0xF7}  # + JPEG-LS SOF55


def _pm_int(ds: Any, keyword: str, tag: str, source: str, *, required: bool) -> int | None:
    try:
        value = ds.get(keyword)
    except Exception:  # noqa: BLE001 - a value that cannot be converted is refused below
        value = "?"
    if value is None or value == "":
        if required:
            raise InvalidImageError(
                f"corrupt DICOM pixel module: {source} has no {tag} '{_spaced(keyword)}'; "
                "expected a value (export the image again)"
            )
        return None
    try:
        if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
            raise TypeError("multi-valued")
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidImageError(
            f"corrupt DICOM pixel module: {source} has {tag} '{_spaced(keyword)}' that is not "
            "one integer; expected a single unsigned number"
        ) from None


def _spaced(keyword: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", " ", keyword)


def _first_fragment(ds: Any) -> bytes | None:
    """The first fragment of encapsulated pixel data (after the offset table), or None."""
    from pydicom.encaps import generate_fragments

    try:
        raw = ds["PixelData"].value
        fragments = generate_fragments(raw)
        next(fragments)  # Basic Offset Table
        for fragment in fragments:
            if fragment:
                return bytes(fragment[:65536])
    except Exception:  # noqa: BLE001 - malformed encapsulation: reported by the caller
        return None
    return None


def _stream_geometry(stream: bytes, kind: str) -> tuple[int, int, int, int] | None:
    """(precision, rows, columns, components) from a JPEG/JPEG-LS SOF or a J2K SIZ marker."""
    import struct

    if kind == "j2k":
        pos = stream.find(b"\xff\x4f\xff\x51")  # SOC then SIZ (a bare codestream)
        if pos < 0 or pos + 42 > len(stream):
            return None
        x, y, x0, y0 = struct.unpack(">IIII", stream[pos + 8 : pos + 24])
        (components,) = struct.unpack(">H", stream[pos + 40 : pos + 42])
        if pos + 43 > len(stream):
            return None
        precision = (stream[pos + 42] & 0x7F) + 1
        return precision, y - y0, x - x0, components
    if not stream.startswith(b"\xff\xd8"):
        return None
    frame = jpeg_frame_header(stream, _SOF_JPEG)
    if frame is None or frame[3] is None:
        return None
    return frame[0], frame[1], frame[2], frame[3]


def check_pixel_module(ds: Any, facts: DicomFacts, *, source: str) -> None:
    """Refuse pixel-module attributes that the transfer syntax (or its codec) cannot take.

    Run before any pixel is decoded: the native JPEG codecs abort the whole process on some
    inconsistent headers (JPEG baseline with Bits Allocated 32 or 64), so every attribute
    the decoder relies on is checked here against DICOM PS3.5 and, for encapsulated data,
    against the frame header of the first fragment (precision, size, components).
    """
    meta = getattr(ds, "file_meta", None)
    uid = str(getattr(meta, "TransferSyntaxUID", "") or "") if meta is not None else ""
    if uid not in _SYNTAXES:
        label = facts.transfer_syntax or uid or "none"
        raise UnsupportedImageError(
            f"unsupported DICOM transfer syntax: {source} has (0002,0010) Transfer Syntax UID "
            f"{uid!r} ({label}); expected native, JPEG, JPEG-LS, JPEG 2000 or RLE "
            "(convert it, e.g. gdcmconv --raw)"
        )
    name, allocated_ok, stored_max, kind = _SYNTAXES[uid]
    samples = _pm_int(ds, "SamplesPerPixel", "(0028,0002)", source, required=True)
    allocated = _pm_int(ds, "BitsAllocated", "(0028,0100)", source, required=True)
    stored = _pm_int(ds, "BitsStored", "(0028,0101)", source, required=True)
    high = _pm_int(ds, "HighBit", "(0028,0102)", source, required=False)
    representation = _pm_int(ds, "PixelRepresentation", "(0028,0103)", source, required=True)
    planar = _pm_int(ds, "PlanarConfiguration", "(0028,0006)", source, required=False)

    def refuse(tag: str, keyword: str, value: object, expected: str) -> InvalidImageError:
        return InvalidImageError(
            f"inconsistent DICOM pixel module: {source} has {tag} '{_spaced(keyword)}' "
            f"{value} with transfer syntax {name}; expected {expected}; export the image again"
        )

    if samples not in (1, 3):
        raise refuse("(0028,0002)", "SamplesPerPixel", samples, "1 (grey) or 3 (colour)")
    if allocated not in allocated_ok:
        allowed = " or ".join(str(b) for b in sorted(allocated_ok))
        raise refuse("(0028,0100)", "BitsAllocated", allocated, allowed)
    stored_min, stored_top = _STORED_MIN.get(uid, 1), min(allocated, stored_max)
    if not stored_min <= stored <= stored_top:
        expected = str(stored_top) if stored_min == stored_top else f"{stored_min} to {stored_top}"
        raise refuse("(0028,0101)", "BitsStored", stored, expected)
    if high is not None and not stored - 1 <= high < allocated:
        raise refuse("(0028,0102)", "HighBit", high, f"{stored - 1} (Bits Stored - 1)")
    if representation not in (0, 1):
        raise refuse(
            "(0028,0103)", "PixelRepresentation", representation, "0 (unsigned) or 1 (signed)"
        )
    photometric = facts.photometric
    expected_mono = samples == 1
    if photometric not in (_MONO if expected_mono else _COLOUR):
        choices = "MONOCHROME1, MONOCHROME2 or PALETTE COLOR" if expected_mono else (
            "RGB or YBR_*"
        )
        raise refuse(
            "(0028,0004)",
            "PhotometricInterpretation",
            repr(photometric[:16]),
            f"{choices} for Samples per Pixel {samples}",
        )
    if samples == 3 and planar is not None and planar not in (0, 1):
        raise refuse("(0028,0006)", "PlanarConfiguration", planar, "0 or 1")
    if kind in ("native", "rle"):
        return
    stream = _first_fragment(ds)
    if stream is None:
        raise InvalidImageError(
            f"corrupt DICOM pixel data: {source} declares {name} but its pixel data is not "
            "encapsulated fragments with an image stream; export the image again"
        )
    geometry = _stream_geometry(stream, kind)
    if geometry is None:
        raise InvalidImageError(
            f"corrupt DICOM pixel data: {source} declares {name} but the first fragment has "
            f"no {'SIZ' if kind == 'j2k' else 'JPEG frame'} header; export the image again"
        )
    precision, rows, columns, components = geometry
    if (rows, columns) != (facts.rows, facts.columns) and rows != 0:
        raise InvalidImageError(
            f"inconsistent DICOM pixel data: {source} has Rows x Columns {facts.rows}x"
            f"{facts.columns} but its {name} stream is {rows}x{columns}; expected the same "
            "size; export the image again"
        )
    if components != samples:
        raise refuse(
            "(0028,0002)",
            "SamplesPerPixel",
            samples,
            f"{components} (the components of the {name} stream)",
        )
    if not 1 <= precision <= allocated:
        raise refuse(
            "(0028,0100)",
            "BitsAllocated",
            allocated,
            f"at least the stream's precision of {precision} bits",
        )
