"""De-identification of DICOM headers on import.

The approach is an *allowlist*, in the spirit of the DICOM PS3.15 Annex E Basic Application
Level Confidentiality Profile with the *Retain UIDs* and *Retain Patient Characteristics*
options: only attributes known to be free of identity are copied (UIDs, age, sex, size and
weight, and the technical attributes a viewer or a model needs: image pixel module, LUTs,
spacing, acquisition physics, view and body part). Everything else is dropped, which
removes by construction names, IDs, dates and times, addresses, institution and physician
attributes, accession and study IDs, free-text descriptions and comments, overlays, and
every private tag. Pixel data is never copied: the header travels without it.

Burned-in text in the pixels is not touched; Burned In Annotation (0028,0301) is kept so a
caller can see whether the source declared it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["deidentify_header", "strip_pixel_data", "DEIDENTIFICATION_METHOD"]

DEIDENTIFICATION_METHOD = "cxrpilot: basic profile (allowlist), retain UIDs"

# (code value, meaning) from DICOM CID 7050 "De-identification Method" (scheme DCM).
_METHOD_CODES = (
    ("113100", "Basic Application Confidentiality Profile"),
    ("113108", "Retain Patient Characteristics Option"),
    ("113110", "Retain UIDs Option"),
)

# Top-level attributes that carry no identity. UIDs (VR UI) are kept in addition to these.
_KEEP = frozenset(
    """
    SpecificCharacterSet ImageType Modality ConversionType PresentationIntentType
    Manufacturer ManufacturerModelName SoftwareVersions
    BodyPartExamined ViewPosition ViewCodeSequence AnatomicRegionSequence
    PatientOrientation Laterality ImageLaterality PatientPosition
    SeriesNumber InstanceNumber AcquisitionNumber
    PatientAge PatientSex PatientSize PatientWeight PatientSpeciesDescription
    PatientSpeciesCodeSequence
    KVP ExposureTime XRayTubeCurrent Exposure ExposureInuAs ExposureIndex TargetExposureIndex
    DeviationIndex RelativeXRayExposure Sensitivity DistanceSourceToDetector
    DistanceSourceToPatient EstimatedRadiographicMagnificationFactor Grid FilterType
    FocalSpots AnodeTargetMaterial BodyPartThickness ImageAndFluoroscopyAreaDoseProduct
    EntranceDoseInmGy FieldOfViewShape FieldOfViewDimensions FieldOfViewOrigin
    FieldOfViewRotation FieldOfViewHorizontalFlip DetectorType DetectorConfiguration
    PositionerType PositionerPrimaryAngle PositionerSecondaryAngle
    ImagerPixelSpacing PixelSpacing PixelSpacingCalibrationType
    SamplesPerPixel PhotometricInterpretation Rows Columns NumberOfFrames PlanarConfiguration
    BitsAllocated BitsStored HighBit PixelRepresentation PixelAspectRatio
    SmallestImagePixelValue LargestImagePixelValue PixelPaddingValue PixelPaddingRangeLimit
    PixelIntensityRelationship PixelIntensityRelationshipSign
    WindowCenter WindowWidth VOILUTFunction VOILUTSequence ModalityLUTSequence
    RescaleIntercept RescaleSlope RescaleType PresentationLUTShape
    RedPaletteColorLookupTableDescriptor GreenPaletteColorLookupTableDescriptor
    BluePaletteColorLookupTableDescriptor RedPaletteColorLookupTableData
    GreenPaletteColorLookupTableData BluePaletteColorLookupTableData
    LossyImageCompression LossyImageCompressionRatio LossyImageCompressionMethod
    BurnedInAnnotation RecognizableVisualFeatures QualityControlImage
    PatientIdentityRemoved DeidentificationMethod DeidentificationMethodCodeSequence
    """.split()
)

# Attributes kept inside the items of kept sequences (codes and lookup tables).
_KEEP_IN_ITEMS = frozenset(
    """
    CodeValue CodingSchemeDesignator CodingSchemeVersion CodeMeaning LongCodeValue
    URNCodeValue ViewModifierCodeSequence AnatomicRegionModifierSequence
    LUTDescriptor LUTData LUTExplanation ModalityLUTType
    """.split()
)

_META_KEEP = frozenset(
    """
    FileMetaInformationVersion MediaStorageSOPClassUID MediaStorageSOPInstanceUID
    TransferSyntaxUID ImplementationClassUID ImplementationVersionName
    """.split()
)

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


def _filter(ds: Any, keep: frozenset[str], *, keep_uids: bool) -> Any:
    import copy

    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    out = Dataset()
    for elem in ds:
        if elem.tag.is_private or _is_bulk(elem.tag):
            continue
        keyword = elem.keyword
        if not (keyword in keep or (keep_uids and elem.VR == "UI")):
            continue
        if elem.VR == "SQ":
            items = [_filter(item, _KEEP_IN_ITEMS, keep_uids=False) for item in elem.value]
            out.add_new(elem.tag, "SQ", Sequence(items))
        else:
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

    out = _filter(ds, _KEEP, keep_uids=True)
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
