"""Small generated DICOM files for the library's tests (pydicom writes them), and a full disk
for their child processes."""

from __future__ import annotations

import resource
import signal
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"

# a tiny but valid PDF (one empty page)
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def _base(
    sop_class: str, study: str, series: str, patient: tuple[str, str], **kw: object
) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = str(kw.pop("sop_uid", None) or generate_uid())
    ds.PatientName, ds.PatientID = patient
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "F"
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series
    ds.StudyDate = str(kw.pop("study_date", "20240131"))
    ds.StudyTime = "101500"
    ds.StudyDescription = str(kw.pop("study_description", "CT Thorax"))
    ds.AccessionNumber = "A1"
    ds.StudyID = "1"
    for k, v in kw.items():
        setattr(ds, k, v)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    return ds


def ct_series(
    folder: Path,
    n: int = 5,
    *,
    study: str | None = None,
    patient: tuple[str, str] = ("Doe^Jane", "P1"),
    size: int = 16,
    series_number: int = 2,
    description: str = "Axial 1mm",
    seed: int = 0,
    prefix: str = "IM",
) -> list[Path]:
    """Write ``n`` CT slices of one series into ``folder``; return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    study = study or generate_uid()
    series = generate_uid()
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        ds = _base(
            CT_IMAGE,
            study,
            series,
            patient,
            Modality="CT",
            SeriesNumber=series_number,
            SeriesDescription=description,
            InstanceNumber=i + 1,
            ImagePositionPatient=[0.0, 0.0, float(i)],
            ImageOrientationPatient=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            PixelSpacing=[0.5, 0.5],
            SliceThickness=1.0,
            Rows=size,
            Columns=size,
            BitsAllocated=16,
            BitsStored=16,
            HighBit=15,
            PixelRepresentation=1,
            SamplesPerPixel=1,
            PhotometricInterpretation="MONOCHROME2",
            RescaleIntercept=-1024.0,
            RescaleSlope=1.0,
        )
        ds.PixelData = rng.integers(-1000, 2000, (size, size), dtype=np.int16).tobytes()
        path = folder / f"{prefix}{i:05d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def encapsulated_pdf(path: Path, study: str, patient: tuple[str, str] = ("Doe^Jane", "P1")) -> Path:
    """A DICOM Encapsulated PDF instance in ``study``."""
    ds = _base(
        ENCAPSULATED_PDF,
        study,
        generate_uid(),
        patient,
        Modality="DOC",
        SeriesNumber=900,
        InstanceNumber=1,
        DocumentTitle="Radiology report",
        MIMETypeOfEncapsulatedDocument="application/pdf",
        BurnedInAnnotation="YES",
    )
    ds.EncapsulatedDocument = PDF
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def with_same_uid_other_bytes(src: Path, dest: Path) -> Path:
    """A copy of ``src`` with one descriptive value changed (same SOP Instance UID)."""
    import pydicom

    ds = pydicom.dcmread(src)
    ds.SeriesDescription = "changed by the hospital"
    dest.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(dest, enforce_file_format=True)
    return dest


def limit_file_size() -> None:
    """A full disk as a process sees it (a ``preexec_fn``): writes past 400 kB fail (EFBIG)
    instead of killing the process with SIGXFSZ."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, 400_000))
