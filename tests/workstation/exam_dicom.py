"""Real exams of one patient as DICOM: the frontal (PA) and lateral radiographs of patient 13
of the ieee8023 covid-chestxray collection (../shared/data), taken on 19, 22 and 26
January 2020 (days 4, 7 and 10), each put in a copy of the real SIIM CR file's header (its
pixels replaced, uncompressed 8-bit MONOCHROME2) with one StudyInstanceUID per date, an
accession number, the study date and the view."""

from __future__ import annotations

import io
from pathlib import Path

SIIM = "1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819.dcm"
PATIENT = "MRN-13-PLANTED"  # a Patient ID that must never be stored
#: day -> (study date, accession, frontal file, lateral file)
EXAMS = {
    4: ("20200119", "ACC-D04", "nejmoa2001191_f1-PA.jpg", "nejmoa2001191_f1-L.jpg"),
    7: ("20200122", "ACC-D07", "nejmoa2001191_f3-PA.jpg", "nejmoa2001191_f3-L.jpg"),
    10: ("20200126", "ACC-D10", "nejmoa2001191_f5-PA.jpg", "nejmoa2001191_f5-L.jpg"),
}


def chest_dicom(
    shared_data: Path,
    image: str,
    *,
    study_uid: str,
    date: str,
    accession: str,
    view: str,
    patient: str = PATIENT,
) -> bytes:
    """The covid-chestxray ``image`` in the SIIM CR header, as one instance of the study."""
    import numpy as np
    import pydicom
    from PIL import Image
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    pixels = np.asarray(Image.open(shared_data / "covid-chestxray" / "images" / image).convert("L"))
    ds = pydicom.dcmread(shared_data / "dicom" / SIIM)
    ds.Rows, ds.Columns = (int(n) for n in pixels.shape)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = pixels.astype(np.uint8).tobytes()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    if "PixelSpacing" in ds:  # figures cut from a paper: no known spacing
        del ds.PixelSpacing
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = generate_uid()
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.PatientID, ds.StudyDate, ds.AccessionNumber, ds.ViewPosition = patient, date, accession, view
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def exam_files(shared_data: Path, day: int, *, patient: str = PATIENT) -> tuple[bytes, bytes]:
    """``(frontal, lateral)`` DICOM bytes of the exam of ``day`` (4, 7 or 10)."""
    from pydicom.uid import generate_uid

    date, accession, frontal, lateral = EXAMS[day]
    uid = generate_uid()
    common = {"study_uid": uid, "date": date, "accession": accession, "patient": patient}
    return (
        chest_dicom(shared_data, frontal, view="PA", **common),
        chest_dicom(shared_data, lateral, view="LL", **common),
    )
