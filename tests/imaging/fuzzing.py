"""Seeded mutations of real DICOM, PNG and JPEG files, shared by tests/imaging/test_fuzz.py
and benchmarks/fuzz_imaging.py.

Each case is ``(name, bytes)``; ``cases(seeds, n, seed)`` is deterministic. Mutations are
generic (bit flips, truncation, inserted/deleted/duplicated runs) and format-aware (DICOM
VRs and lengths, pixel-module attributes, transfer syntax swaps, corrupt deflate, deeply
nested sequences; PNG IHDR/IDAT with valid CRCs; JPEG SOF/DQT/DHT fields).
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.uid import (
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
)

Rng = np.random.Generator
SYNTAXES = (
    ImplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    DeflatedExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEG2000Lossless,
    JPEG2000,
    RLELossless,
    "1.2.840.10008.1.2.4.100",  # MPEG2
    "1.2.3.4.5",
)
PIXEL_EDITS = (
    ("BitsAllocated", (0, 1, 7, 12, 16, 24, 32, 64, 65535)),
    ("BitsStored", (0, 1, 9, 16, 17, 33, 64, 65535)),
    ("HighBit", (0, 7, 15, 31, 63, 65535)),
    ("SamplesPerPixel", (0, 2, 3, 4, 65535)),
    ("Rows", (0, 1, 2, 511, 4096, 65535)),
    ("Columns", (0, 1, 3, 513, 4096, 65535)),
    ("PixelRepresentation", (1, 2, 65535)),
    ("PlanarConfiguration", (1, 2)),
    ("PhotometricInterpretation", ("RGB", "YBR_FULL_422", "PALETTE COLOR", "CMYK", "X" * 16)),
    ("NumberOfFrames", ("2", "0", "-1", "99999999")),
    ("WindowWidth", ("0", "-5", "1e308", "nan")),
    ("RescaleSlope", ("0", "1e308", "-1")),
)


def _dicom_bytes(ds: Dataset, *, implicit: bool | None = None) -> bytes:
    buffer = io.BytesIO()
    try:
        ds.save_as(buffer, enforce_file_format=False, implicit_vr=implicit)
    except TypeError:
        ds.save_as(buffer)
    return buffer.getvalue()


def _flip(data: bytes, rng: Rng) -> bytes:
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 9))):
        pos = int(rng.integers(0, len(out)))
        out[pos] ^= 1 << int(rng.integers(0, 8))
    return bytes(out)


def _set_bytes(data: bytes, rng: Rng) -> bytes:
    out = bytearray(data)
    pos = int(rng.integers(0, len(out)))
    run = int(rng.integers(1, 17))
    fill = rng.choice([0x00, 0xFF, 0x7F, 0x80, int(rng.integers(0, 256))])
    out[pos : pos + run] = bytes([int(fill)]) * len(out[pos : pos + run])
    return bytes(out)


def _head_bias(data: bytes, rng: Rng, mutate: Callable[[bytes, Rng], bytes]) -> bytes:
    """Apply ``mutate`` to the first 4 KB (headers) most of the time."""
    if len(data) > 4096 and rng.random() < 0.7:
        return mutate(data[:4096], rng) + data[4096:]
    return mutate(data, rng)


def _truncate(data: bytes, rng: Rng) -> bytes:
    return data[: int(rng.integers(1, len(data)))]


def _insert(data: bytes, rng: Rng) -> bytes:
    pos = int(rng.integers(0, len(data)))
    blob = rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8).tobytes()
    return data[:pos] + blob + data[pos:]


def _delete(data: bytes, rng: Rng) -> bytes:
    pos = int(rng.integers(0, len(data)))
    return data[:pos] + data[pos + int(rng.integers(1, 64)) :]


def _duplicate(data: bytes, rng: Rng) -> bytes:
    pos = int(rng.integers(0, len(data)))
    run = data[pos : pos + int(rng.integers(1, 256))]
    return data[:pos] + run * int(rng.integers(2, 5)) + data[pos:]


GENERIC = {
    "flip": lambda d, r: _head_bias(d, r, _flip),
    "set": lambda d, r: _head_bias(d, r, _set_bytes),
    "truncate": _truncate,
    "insert": lambda d, r: _head_bias(d, r, _insert),
    "delete": lambda d, r: _head_bias(d, r, _delete),
    "duplicate": lambda d, r: _head_bias(d, r, _duplicate),
}


# -- DICOM ------------------------------------------------------------------------------------
def _element_offsets(data: bytes) -> list[int]:
    """Offsets of explicit-VR element headers (a tag followed by two capital letters)."""
    out = []
    for pos in range(132, min(len(data), 8192) - 6):
        vr = data[pos + 4 : pos + 6]
        if 65 <= vr[0] <= 90 and 65 <= vr[1] <= 90 and data[pos + 1] in (0, 0x10, 0x20, 0x28):
            out.append(pos)
    return out


def _bad_vr(data: bytes, rng: Rng) -> bytes:
    offsets = _element_offsets(data)
    if not offsets:
        return _flip(data, rng)
    pos = int(rng.choice(offsets))
    vr = rng.choice([b"ZZ", b"\x00\x01", b"QQ", b"OX", b"UN", b"SQ", b"OB", b"  "])
    return data[: pos + 4] + bytes(vr) + data[pos + 6 :]


def _bad_length(data: bytes, rng: Rng) -> bytes:
    offsets = _element_offsets(data)
    if not offsets:
        return _flip(data, rng)
    pos = int(rng.choice(offsets))
    value = rng.choice([0, 1, 3, 0x7FFF, 0xFFFF])
    return data[: pos + 6] + struct.pack("<H", int(value)) + data[pos + 8 :]


def _pixel_edit(ds: Dataset, rng: Rng) -> bytes:
    keyword, values = PIXEL_EDITS[int(rng.integers(0, len(PIXEL_EDITS)))]
    value = values[int(rng.integers(0, len(values)))]
    try:
        setattr(ds, keyword, value)
    except (ValueError, TypeError, OverflowError):
        return _dicom_bytes(ds)
    return _dicom_bytes(ds)


def _syntax_swap(data: bytes, rng: Rng) -> bytes:
    """Another Transfer Syntax UID in the file meta, the data set bytes left as they are."""
    from pydicom.filewriter import write_file_meta_info

    meta = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True).file_meta
    start = 132 + 12 + int(meta.FileMetaInformationGroupLength)
    meta.TransferSyntaxUID = SYNTAXES[int(rng.integers(0, len(SYNTAXES)))]
    buffer = io.BytesIO()
    buffer.write(data[:128] + b"DICM")
    write_file_meta_info(buffer, meta, enforce_standard=True)
    return buffer.getvalue() + data[start:]


def _nested(data: bytes, rng: Rng) -> bytes:
    """A View Code Sequence nested 20 to 600 deep (undefined lengths, explicit VR little
    endian), spliced in before Pixel Data."""
    depth = int(rng.choice([20, 100, 300, 600]))
    leaf = b"\x08\x00\x04\x01LO\x04\x00leaf"
    open_sq = b"\x54\x00\x20\x02SQ\x00\x00\xff\xff\xff\xff"
    open_item = b"\xfe\xff\x00\xe0\xff\xff\xff\xff"
    close_item = b"\xfe\xff\x0d\xe0\x00\x00\x00\x00"
    close_sq = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
    blob = (open_sq + open_item) * depth + leaf + (close_item + close_sq) * depth
    pos = data.rfind(b"\xe0\x7f\x10\x00")
    if pos < 0:
        return data + blob
    return data[:pos] + blob + data[pos:]


def _corrupt_deflate(ds: Dataset, rng: Rng) -> bytes:
    if ds.file_meta.TransferSyntaxUID.is_compressed:
        return _flip(_dicom_bytes(ds), rng)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    data = _dicom_bytes(ds)
    # the deflated body starts after the file meta group; damage it
    start = 132 + 12 + int(ds.file_meta.get("FileMetaInformationGroupLength", 0) or 0)
    body = bytearray(data)
    for _ in range(int(rng.integers(1, 6))):
        pos = int(rng.integers(min(start, len(body) - 1), len(body)))
        body[pos] ^= 0xFF
    if rng.random() < 0.3:
        return bytes(body[: int(rng.integers(start, len(body)))])
    return bytes(body)


def _private_and_unknown(ds: Dataset, rng: Rng) -> bytes:
    block = ds.private_block(0x0009, "FUZZ", create=True)
    block.add_new(0x10, "UN", rng.integers(0, 256, 64, dtype=np.uint8).tobytes())
    ds.NumberOfFrames = "77777777"
    # a name where Number of Frames (IS) should be: pydicom will not write it, so splice it
    return _dicom_bytes(ds).replace(b"77777777", b"SMITH^JO", 1)


DICOM_STRUCT = {
    "bad-vr": ("bytes", _bad_vr),
    "bad-length": ("bytes", _bad_length),
    "pixel-module": ("ds", _pixel_edit),
    "syntax-swap": ("bytes", _syntax_swap),
    "nested": ("bytes", _nested),
    "deflate": ("ds", _corrupt_deflate),
    "private": ("ds", _private_and_unknown),
}


# -- PNG and JPEG ----------------------------------------------------------------------------
def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_ihdr(data: bytes, rng: Rng) -> bytes:
    width, height, depth, colour, comp, filt, lace = struct.unpack(">IIBBBBB", data[16:29])
    field = int(rng.integers(0, 5))
    if field == 0:
        width = int(rng.choice([0, 1, 9999, 65535, 2**31 - 1]))
    elif field == 1:
        height = int(rng.choice([0, 1, 9999, 65535, 2**31 - 1]))
    elif field == 2:
        depth = int(rng.choice([0, 1, 2, 4, 16, 32, 255]))
    elif field == 3:
        colour = int(rng.choice([1, 2, 3, 4, 5, 6, 7]))
    else:
        lace = int(rng.choice([1, 2]))
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, comp, filt, lace)
    return data[:8] + _chunk(b"IHDR", ihdr) + data[33:]


def _png_idat(data: bytes, rng: Rng) -> bytes:
    pos = data.find(b"IDAT")
    if pos < 4:
        return _flip(data, rng)
    (length,) = struct.unpack(">I", data[pos - 4 : pos])
    body = bytearray(data[pos + 4 : pos + 4 + length])
    for _ in range(int(rng.integers(1, 8))):
        body[int(rng.integers(0, len(body)))] ^= 0xFF
    return data[: pos - 4] + _chunk(b"IDAT", bytes(body)) + data[pos + 8 + length :]


def big_png(width: int = 9999, height: int = 9999) -> bytes:
    """A valid-looking greyscale PNG declaring width x height (the zlib stream of the
    zero rows is tiny: ~130 KB for 9999 x 9999)."""
    raw = zlib.compress(b"\x00" * ((width + 1) * height), 9)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", raw) + _chunk(b"IEND", b"")


def _jpeg_marker(data: bytes, rng: Rng) -> bytes:
    pos = 2
    markers = []
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        markers.append((pos, marker, length))
        if marker == 0xDA:
            break
        pos += 2 + length
    if not markers:
        return _flip(data, rng)
    pos, marker, length = markers[int(rng.integers(0, len(markers)))]
    out = bytearray(data)
    if 0xC0 <= marker <= 0xC3 and rng.random() < 0.7:
        field = int(rng.integers(0, 4))
        if field == 0:
            out[pos + 4] = int(rng.choice([0, 1, 12, 16, 255]))  # precision
        elif field in (1, 2):
            struct.pack_into(">H", out, pos + 5 + 2 * (field - 1), int(rng.choice([0, 1, 65535])))
        else:
            out[pos + 9] = int(rng.choice([0, 2, 3, 4, 255]))  # components
        return bytes(out)
    if rng.random() < 0.5:
        struct.pack_into(">H", out, pos + 2, int(rng.choice([0, 2, 3, 0xFFFF])))
    else:
        inner = int(rng.integers(pos + 4, min(pos + 2 + max(length, 3), len(out))))
        out[inner] = int(rng.integers(0, 256))
    return bytes(out)


RASTER_STRUCT = {"png": {"ihdr": _png_ihdr, "idat": _png_idat}, "jpeg": {"marker": _jpeg_marker}}


# -- seeds and cases -------------------------------------------------------------------------
def _downsized_raster(path: Path, fmt: str, side: int) -> bytes:
    with Image.open(path) as image:
        image = image.convert("L")
        image.thumbnail((side, side))
        buffer = io.BytesIO()
        image.save(buffer, format=fmt.upper(), **({"quality": 85} if fmt == "jpeg" else {}))
    return buffer.getvalue()


def _small_dicom(path: Path, side: int, syntax: str | None) -> bytes | None:
    """A crop of a real DICOM (top-left ``side`` x ``side`` of the pixels), re-encoded."""
    ds = pydicom.dcmread(path)
    pixels = ds.pixel_array
    if pixels.ndim != 2:
        return None
    h, w = pixels.shape
    crop = np.ascontiguousarray(pixels[(h - side) // 2 : (h + side) // 2, (w - side) // 2 :][:, :side])
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.PixelData = crop.tobytes()
    ds.Rows, ds.Columns = crop.shape
    if syntax is not None:
        try:
            ds.compress(syntax, crop)
        except Exception:  # noqa: BLE001 - no encoder installed for this syntax
            return None
    return _dicom_bytes(ds)


def seed_files(shared_data: Path, *, side: int = 384) -> dict[str, tuple[str, bytes]]:
    """Real seeds: ``{name: (format, bytes)}`` from ../shared/data and pydicom's test data,
    made small (``side`` px) so that a case decodes in milliseconds."""
    from pydicom.data import get_testdata_file

    seeds: dict[str, tuple[str, bytes]] = {}
    for path in sorted((shared_data / "dicom").glob("*.dcm")):
        seeds[f"dicom/{path.name[:24]}"] = ("dicom", path.read_bytes())
    rg1 = get_testdata_file("RG1_UNCR.dcm")
    if rg1:
        for label, syntax in (
            ("native", None),
            ("rle", RLELossless),
            ("j2k", JPEG2000Lossless),
            ("jpegls", JPEGLSLossless),
        ):
            data = _small_dicom(Path(rg1), side, syntax)
            if data is not None:
                seeds[f"dicom/RG1-{label}"] = ("dicom", data)
        jpll = get_testdata_file("JPEG-LL.dcm")
        if jpll:
            seeds["dicom/JPEG-LL"] = ("dicom", Path(jpll).read_bytes())
    pngs = sorted((shared_data / "samples").rglob("*.png"))[:2]
    jpgs = sorted((shared_data / "covid-chestxray" / "images").glob("*.jp*g"))[:2]
    for path in pngs:
        seeds[f"png/{path.name}"] = ("png", _downsized_raster(path, "png", side))
    for path in jpgs:
        seeds[f"jpeg/{path.name}"] = ("jpeg", _downsized_raster(path, "jpeg", side))
    return seeds


def cases(
    seeds: dict[str, tuple[str, bytes]], n: int, seed: int
) -> Iterator[tuple[str, str, bytes]]:
    """``n`` mutated files ``(case name, format of the seed, bytes)``, deterministic in
    ``seed``: half generic mutations, half format-aware ones (a few stacked at times)."""
    rng = np.random.default_rng(seed)
    names = sorted(seeds)
    for i in range(n):
        name = names[i % len(names)]
        fmt, data = seeds[name]
        steps = []
        for _ in range(1 if rng.random() < 0.8 else 2):
            if rng.random() < 0.5:
                label = str(rng.choice(sorted(GENERIC)))
                data = GENERIC[label](data, rng) or data
            elif fmt == "dicom":
                label = str(rng.choice(sorted(DICOM_STRUCT)))
                kind, mutate = DICOM_STRUCT[label]
                if kind == "ds":
                    try:  # a fresh parse each time: mutations edit the data set in place
                        data = mutate(pydicom.dcmread(io.BytesIO(data)), rng)
                    except Exception:  # noqa: BLE001 - an earlier step broke it: flip instead
                        data = _flip(data, rng)
                else:
                    try:
                        data = mutate(data, rng)
                    except Exception:  # noqa: BLE001 - an earlier step broke it: flip instead
                        data = _flip(data, rng)
            else:
                label = str(rng.choice(sorted(RASTER_STRUCT[fmt])))
                data = RASTER_STRUCT[fmt][label](data, rng)
            steps.append(label)
        if not data:
            data = b"\x00"
        yield f"{i:05d}:{name}:{'+'.join(steps)}", fmt, data


def outcome(run: Callable[[], object]) -> tuple[str, str]:
    """Run one case: ``("loaded", "")``, ``("refused", error class)``, or a failure:
    ``("crash", signal)``, ``("hang", limit)``, ``("unexpected", exception type)``."""
    from cxrpilot.errors import CxrpilotError, DecodeLimitError, DecoderCrashError

    try:
        run()
    except DecoderCrashError as exc:
        if exc.exception is not None:
            return "unexpected", exc.exception
        if exc.signal is not None:
            return "crash", exc.signal
        return "crash", "exit"
    except DecodeLimitError as exc:
        return ("hang", "time") if exc.limit == "time" else ("refused", "DecodeLimitError(memory)")
    except CxrpilotError as exc:
        return "refused", type(exc).__name__
    except Exception as exc:  # noqa: BLE001 - what the fuzz run is looking for
        return "unexpected", type(exc).__name__
    return "loaded", ""


def child_case(data: bytes) -> tuple[str, str, int]:
    """One case inside a worker process: ``(kind, detail, peak RSS in KiB)``."""
    import resource

    from cxrpilot.imaging import load

    kind, detail = outcome(lambda: load(data, check=True))
    return kind, detail, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child_exam_case(data: bytes) -> tuple[str, str, int]:
    """:func:`child_case` through the workstation's decode path,
    :func:`cxrpilot.imaging.load_for_exam` (also builds the de-identified file to store and
    reads the exam identifiers)."""
    import resource

    from cxrpilot.imaging._isolate import load_for_exam  # what IsolatedLoader.load_for_exam runs

    kind, detail = outcome(lambda: load_for_exam(data, check=True))
    return kind, detail, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
