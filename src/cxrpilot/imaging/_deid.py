"""De-identification of DICOM headers on import.

The approach is an *allowlist*, in the spirit of the DICOM PS3.15 Annex E Basic Application
Level Confidentiality Profile with the *Retain UIDs* and *Retain Patient Characteristics*
options: only attributes known to be free of identity are copied (UIDs, age, sex, size and
weight, and the technical attributes a viewer or a model needs: image pixel module, LUTs,
spacing, acquisition physics, view and body part). Everything else is dropped, which
removes by construction names, IDs, dates and times, addresses, institution and physician
attributes, accession and study IDs, free-text descriptions and comments, overlays, and
every private tag. Pixel data is never copied: the header travels without it.

The allowlist holds at every level: inside kept sequences only code and lookup-table
attributes are copied (:data:`_KEEP_IN_ITEMS`), nesting is cut at
:data:`~cxrpilot.imaging._dicom.MAX_SEQUENCE_DEPTH`, private tags are dropped at every level,
group 0028 is copied only for the attributes listed (the image pixel module, LUTs, lossy
compression), and a kept value must be valid for its VR (a Code String holding a name, a
UID holding text, are dropped). :func:`deidentified_file` writes the copy that is stored
and then re-reads the written bytes and checks every element of them against the same
allowlist (:func:`check_deidentified`).

Burned-in text in the pixels is not touched; Burned In Annotation (0028,0301) is kept so a
caller can see whether the source declared it.
"""

from __future__ import annotations

import io
from typing import Any

from cxrpilot.errors import InvalidImageError

__all__ = [
    "deidentify_header",
    "deidentified_file",
    "check_deidentified",
    "strip_pixel_data",
    "DEIDENTIFICATION_METHOD",
]

DEIDENTIFICATION_METHOD = "cxrpilot: basic profile (allowlist), retain UIDs"

# (code value, meaning) from DICOM CID 7050 "De-identification Method" (scheme DCM).
_METHOD_CODES = (
    ("113100", "Basic Application Confidentiality Profile"),
    ("113108", "Retain Patient Characteristics Option"),
    ("113110", "Retain UIDs Option"),
)

# Top-level attributes that carry no identity. UIDs (VR UI) are kept in addition to these.
_KEEP = frozenset(
    ["SpecificCharacterSet", "ImageType", "Modality", "ConversionType", "PresentationIntentType", "Manufacturer", "ManufacturerModelName", "SoftwareVersions", "BodyPartExamined", "ViewPosition", "ViewCodeSequence", "AnatomicRegionSequence", "PatientOrientation", "Laterality", "ImageLaterality", "PatientPosition", "SeriesNumber", "InstanceNumber", "AcquisitionNumber", "PatientAge", "PatientSex", "PatientSize", "PatientWeight", "PatientSpeciesDescription", "PatientSpeciesCodeSequence", "KVP", "ExposureTime", "XRayTubeCurrent", "Exposure", "ExposureInuAs", "ExposureIndex", "TargetExposureIndex", "DeviationIndex", "RelativeXRayExposure", "Sensitivity", "DistanceSourceToDetector", "DistanceSourceToPatient", "EstimatedRadiographicMagnificationFactor", "Grid", "FilterType", "FocalSpots", "AnodeTargetMaterial", "BodyPartThickness", "ImageAndFluoroscopyAreaDoseProduct", "EntranceDoseInmGy", "FieldOfViewShape", "FieldOfViewDimensions", "FieldOfViewOrigin", "FieldOfViewRotation", "FieldOfViewHorizontalFlip", "DetectorType", "DetectorConfiguration", "PositionerType", "PositionerPrimaryAngle", "PositionerSecondaryAngle", "ImagerPixelSpacing", "PixelSpacing", "PixelSpacingCalibrationType", "SamplesPerPixel", "PhotometricInterpretation", "Rows", "Columns", "NumberOfFrames", "PlanarConfiguration", "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation", "PixelAspectRatio", "SmallestImagePixelValue", "LargestImagePixelValue", "PixelPaddingValue", "PixelPaddingRangeLimit", "PixelIntensityRelationship", "PixelIntensityRelationshipSign", "WindowCenter", "WindowWidth", "VOILUTFunction", "VOILUTSequence", "ModalityLUTSequence", "RescaleIntercept", "RescaleSlope", "RescaleType", "PresentationLUTShape", "RedPaletteColorLookupTableDescriptor", "GreenPaletteColorLookupTableDescriptor", "BluePaletteColorLookupTableDescriptor", "RedPaletteColorLookupTableData", "GreenPaletteColorLookupTableData", "BluePaletteColorLookupTableData", "LossyImageCompression", "LossyImageCompressionRatio", "LossyImageCompressionMethod", "BurnedInAnnotation", "RecognizableVisualFeatures", "QualityControlImage", "PatientIdentityRemoved", "DeidentificationMethod", "DeidentificationMethodCodeSequence"]
)

# Attributes kept inside the items of kept sequences (codes and lookup tables).
_KEEP_IN_ITEMS = frozenset(
    ["CodeValue", "CodingSchemeDesignator", "CodingSchemeVersion", "CodeMeaning", "LongCodeValue", "URNCodeValue", "ViewModifierCodeSequence", "AnatomicRegionModifierSequence", "LUTDescriptor", "LUTData", "ModalityLUTType"]
)

# The source's implementation class UID and version name are not copied (the version name
# is free text); pydicom writes its own when the file is saved.
_META_KEEP = frozenset(
    ["FileMetaInformationVersion", "MediaStorageSOPClassUID", "MediaStorageSOPInstanceUID", "TransferSyntaxUID"]
)
_META_WRITTEN = _META_KEEP | {"FileMetaInformationGroupLength", "ImplementationClassUID",
                              "ImplementationVersionName"}

# VRs whose values are checked against their VR before being copied (free or coded text,
# numbers as text, UIDs); binary VRs (US, OW, OB, FD ...) carry numbers or LUT data only.
_TEXT_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH",
                       "ST", "TM", "UC", "UI", "UR", "UT"})

# Bulk pixel-like data never copied into a header: pixel data and overlay data.
_PIXEL_TAGS = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})


def _is_bulk(tag: Any) -> bool:
    return int(tag) in _PIXEL_TAGS or (tag.group & 0xFF00 == 0x6000 and tag.element == 0x3000)


def strip_pixel_data(ds: Any) -> Any:
    """A copy of ``ds`` (all attributes, file meta included) without pixel or overlay data."""
    import copy

    from pydicom.dataset import Dataset, FileMetaDataset

    out = Dataset()
    for elem in ds:
        if not _is_bulk(elem.tag):
            out.add(copy.deepcopy(elem))
    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        out.file_meta = FileMetaDataset(copy.deepcopy(meta))
    return out


def _valid_value(elem: Any) -> bool:
    """Whether a kept element's value is well-formed for its VR (else it is dropped)."""
    from pydicom import config
    from pydicom.valuerep import validate_value

    if elem.VR not in _TEXT_VRS or elem.value is None:
        return True
    values = elem.value
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        values = [values]
    try:
        for value in values:
            if isinstance(value, bytes):
                return False  # undecodable text
            text = value if isinstance(value, str) else str(value)
            validate_value(elem.VR, text, config.RAISE)
    except (ValueError, TypeError, OverflowError):
        return False
    return True


def _allowed(elem: Any, depth: int) -> bool:
    """The allowlist: may ``elem`` be copied at sequence depth ``depth`` (0 = top level)?"""
    if elem.tag.is_private or _is_bulk(elem.tag) or elem.tag.group in (0x0000, 0x0002):
        return False
    if depth == 0:
        return elem.keyword in _KEEP or (elem.VR == "UI" and bool(elem.keyword))
    return elem.keyword in _KEEP_IN_ITEMS


def _filter(ds: Any, depth: int = 0) -> Any:
    import copy

    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    from cxrpilot.imaging._dicom import MAX_SEQUENCE_DEPTH

    out = Dataset()
    for elem in ds:
        if not _allowed(elem, depth):
            continue
        if elem.VR == "SQ":
            if depth + 1 > MAX_SEQUENCE_DEPTH:
                continue
            items = [_filter(item, depth + 1) for item in elem.value]
            out.add_new(elem.tag, "SQ", Sequence(items))
        elif _valid_value(elem):
            out.add(copy.deepcopy(elem))
    return out


def deidentify_header(ds: Any) -> Any:
    """A de-identified copy of a DICOM header, without pixel data.

    Only attributes on an allowlist are copied (see the module docstring): UIDs, patient
    age, sex, size and weight, and the technical attributes of the image (pixel module,
    modality/VOI LUTs, spacing, exposure, view, body part). Names, IDs, dates and times,
    addresses, institution, physicians, accession number, free-text descriptions and
    comments, overlays and all private tags are dropped. Patient Identity Removed is set to
    ``YES`` and the method is recorded in De-identification Method (Code Sequence).

    Parameters
    ----------
    ds : pydicom.Dataset
        The source header (it is not modified).

    Returns
    -------
    pydicom.Dataset
        A new dataset, with a minimal file meta group when the source has one.

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> import pydicom
    >>> ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    >>> clean = deidentify_header(ds)
    >>> "PatientName" in clean, clean.SOPInstanceUID == ds.SOPInstanceUID
    (False, True)
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence

    out = _filter(ds)
    out.PatientIdentityRemoved = "YES"
    out.DeidentificationMethod = DEIDENTIFICATION_METHOD
    codes = []
    for value, meaning in _METHOD_CODES:
        item = Dataset()
        item.CodeValue = value
        item.CodingSchemeDesignator = "DCM"
        item.CodeMeaning = meaning
        codes.append(item)
    out.DeidentificationMethodCodeSequence = Sequence(codes)
    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        new_meta = FileMetaDataset()
        for elem in meta:
            if elem.keyword in _META_KEEP:
                new_meta.add(elem)
        out.file_meta = new_meta
    return out


def _method_item(keyword: str, depth: int) -> bool:
    return depth == 1 and keyword in {"CodeValue", "CodingSchemeDesignator", "CodeMeaning"}


def check_deidentified(data: bytes, *, source: str = "<bytes>") -> None:
    """Re-read a written DICOM file and check every element, at every nesting level and in
    the file meta group, against the de-identification allowlist.

    Raises
    ------
    InvalidImageError
        Naming the first element (tag and keyword, never its value) not on the allowlist,
        or a file that does not declare Patient Identity Removed = YES.
    """
    import pydicom

    from cxrpilot.imaging._dicom import parser_errors, quiet_pydicom

    with quiet_pydicom(), parser_errors(source):
        ds = pydicom.dcmread(io.BytesIO(data))
        for elem in ds.file_meta:
            if elem.keyword not in _META_WRITTEN:
                raise InvalidImageError(
                    f"de-identification check failed for {source}: file meta element "
                    f"{elem.tag} {elem.keyword or '(unknown)'} is not on the allowlist"
                )
        if str(ds.get("PatientIdentityRemoved", "")).upper() != "YES":
            raise InvalidImageError(
                f"de-identification check failed for {source}: (0012,0062) Patient Identity "
                "Removed is not YES"
            )
        stack = [(ds, 0, "")]
        while stack:
            current, depth, path = stack.pop()
            for elem in current:
                in_method = path.startswith("DeidentificationMethodCodeSequence")
                ok = (
                    (depth == 0 and elem.tag == 0x7FE00010)
                    or _allowed(elem, depth)
                    or (in_method and _method_item(elem.keyword, depth))
                )
                if not ok or not _valid_value(elem):
                    where = f" inside {path}" if path else ""
                    raise InvalidImageError(
                        f"de-identification check failed for {source}: element {elem.tag} "
                        f"{elem.keyword or '(private or unknown)'}{where} is not on the "
                        "allowlist; the file is not stored"
                    )
                if elem.VR == "SQ":
                    stack.extend((item, depth + 1, path or elem.keyword) for item in elem.value)


def deidentified_file(data: bytes, *, source: str = "<bytes>") -> bytes:
    """The DICOM file to store: the de-identified header plus the source's pixel data.

    The header is :func:`deidentify_header` of the source (group 0028 only for the
    allowlisted pixel-module and LUT attributes); Pixel Data is copied as encoded, with the
    source's transfer syntax. The written bytes are re-read and checked element by element
    (:func:`check_deidentified`) before they are returned.

    Parameters
    ----------
    data : bytes
        The source DICOM file (untrusted: decode it in a worker process, see
        :class:`~cxrpilot.imaging.IsolatedLoader`).
    source : str
        Name used in error messages.

    Returns
    -------
    bytes
        A DICOM Part 10 file with Patient Identity Removed = YES.

    Raises
    ------
    InvalidImageError
        The source cannot be parsed or has no Pixel Data, or the written copy fails the
        check (the message names the element, never its value).

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> import io, pydicom
    >>> data = open(get_testdata_file("RG1_UNCR.dcm"), "rb").read()
    >>> clean = pydicom.dcmread(io.BytesIO(deidentified_file(data)))
    >>> "PatientName" in clean, clean.PatientIdentityRemoved, clean.pixel_array.shape
    (False, 'YES', (1955, 1841))
    """
    from pydicom.dataset import FileMetaDataset

    from cxrpilot.imaging._dicom import parser_errors, quiet_pydicom, read_dataset

    with quiet_pydicom(), parser_errors(source):
        original = read_dataset(data, source)
        if "PixelData" not in original:
            raise InvalidImageError(
                f"no Pixel Data (7FE0,0010) in {source}; only integer pixel data is stored"
            )
        ds = deidentify_header(original)
        ds.add(original["PixelData"])
        meta = FileMetaDataset()
        meta.TransferSyntaxUID = original.file_meta.TransferSyntaxUID
        if "SOPClassUID" in ds:
            meta.MediaStorageSOPClassUID = ds.SOPClassUID
        if "SOPInstanceUID" in ds:
            meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.file_meta = meta
        ds.preamble = b"\0" * 128
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
    out = buffer.getvalue()
    check_deidentified(out, source=source)
    return out
