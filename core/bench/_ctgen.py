"""Generate realistic CT series with pydicom for tests and benchmarks (no real data needed).

(``tests/core/ctgen.py`` re-exports these for the tests.)

The content is a body-shaped phantom in Hounsfield units: air outside (-1000), skin and fat
(-100), soft tissue (40) with noise, two lungs (-850) that change size along z, a spine
(700..1200) behind the centre, and a "liver" on the patient's right (60) that only exists in
the lower half. It is asymmetric left/right, anterior/posterior and head/feet, so any flip,
transposition or slice-order mistake changes the voxels.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    generate_uid,
)

__all__ = ["ct_phantom_slice", "make_ct_dataset", "write_ct_series"]


def ct_phantom_slice(rows: int, cols: int, t: float, rng: np.random.Generator) -> np.ndarray:
    """One axial slice (rows x cols) in HU, int16; ``t`` in 0..1 runs feet -> head."""
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float32)
    cy, cx = rows * 0.52, cols * 0.5
    # column index runs to the patient's left in a standard axial image (LPS x increases)
    ry, rx = rows * 0.36, cols * 0.44
    img = np.full((rows, cols), -1000.0, dtype=np.float32)
    body = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2
    img[body < 1.0] = -100.0
    img[body < 0.85] = 40.0
    lung_r = 0.10 + 0.12 * t  # bigger towards the head
    for side in (-1, 1):
        lx = cx + side * cols * 0.18
        lung = ((x - lx) / (cols * lung_r)) ** 2 + ((y - cy + rows * 0.04) / (rows * 0.18)) ** 2
        img[lung < 1.0] = -850.0
    if t < 0.5:  # liver on the patient's right = image left (low column index)
        liver = ((x - cx + cols * 0.2) / (cols * 0.16)) ** 2 + ((y - cy) / (rows * 0.16)) ** 2
        img[liver < 1.0] = 60.0
    spine = ((x - cx) / (cols * 0.06)) ** 2 + ((y - cy - rows * 0.22) / (rows * 0.07)) ** 2
    img[spine < 1.0] = 700.0 + 500.0 * t
    noise = rng.normal(0.0, 12.0, size=img.shape).astype(np.float32)
    img = np.where(img > -950.0, img + noise, img + noise * 0.2)
    return np.clip(np.rint(img), -1024, 3071).astype(np.int16)


def make_ct_dataset(
    hu: np.ndarray,
    *,
    ipp: Sequence[float],
    iop: Sequence[float],
    pixel_spacing: tuple[float, float],
    thickness: float,
    series_uid: str,
    study_uid: str,
    frame_uid: str,
    instance_number: int,
    series_number: int = 1,
    description: str = "generated CT",
    signed: bool = True,
    intercept: int = -1024,
    slope: int = 1,
    implicit: bool = False,
    image_type: Sequence[str] = ("ORIGINAL", "PRIMARY", "AXIAL"),
    tilt: float = 0.0,
) -> Dataset:
    """A single-frame CT dataset holding ``hu`` (rows x cols, HU) as stored values."""
    stored = (hu.astype(np.int32) - intercept) // slope
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    sop_uid = generate_uid()
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop_uid
    ds.ImageType = list(image_type)
    ds.Modality = "CT"
    ds.PatientName = "Phantom^Generated"
    ds.PatientID = "GEN001"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.StudyInstanceUID = study_uid
    ds.StudyDate = "20240102"
    ds.StudyTime = "101500"
    ds.StudyID = "1"
    ds.AccessionNumber = "A1"
    ds.StudyDescription = "generated phantom"
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = series_number
    ds.SeriesDescription = description
    ds.Manufacturer = "ownscan tests"
    ds.FrameOfReferenceUID = frame_uid
    ds.InstanceNumber = instance_number
    ds.ImagePositionPatient = [f"{v:.6f}" for v in ipp]
    ds.ImageOrientationPatient = [f"{v:.8f}" for v in iop]
    ds.PixelSpacing = [f"{pixel_spacing[0]:.6f}", f"{pixel_spacing[1]:.6f}"]
    ds.SliceThickness = f"{thickness:.6f}"
    ds.KVP = "120"
    ds.GantryDetectorTilt = f"{tilt:.4f}"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = hu.shape
    ds.BitsAllocated = 16
    ds.BitsStored = 16 if signed else 12
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if signed else 0
    ds.RescaleIntercept = str(intercept)
    ds.RescaleSlope = str(slope)
    ds.RescaleType = "HU"
    ds.WindowCenter = ["40", "-600"]
    ds.WindowWidth = ["400", "1500"]
    ds.WindowCenterWidthExplanation = ["SOFT TISSUE", "LUNG"]
    dtype = np.int16 if signed else np.uint16
    ds.PixelData = stored.astype(dtype).tobytes()
    return ds


def write_ct_series(
    folder: Path,
    *,
    n_slices: int = 24,
    rows: int = 48,
    cols: int = 64,
    pixel_spacing: tuple[float, float] = (0.8, 0.7),
    spacing: float = 2.5,
    iop: Sequence[float] = (1, 0, 0, 0, 1, 0),
    origin: Sequence[float] = (-22.0, -30.0, -100.0),
    series_number: int = 1,
    description: str = "generated CT",
    study_uid: str | None = None,
    series_uid: str | None = None,
    frame_uid: str | None = None,
    reverse_instances: bool = False,
    shuffle_names: bool = False,
    positions: Sequence[float] | None = None,
    tilt_deg: float = 0.0,
    signed: bool = True,
    implicit: bool = False,
    seed: int = 1,
    prefix: str = "",
) -> list[Path]:
    """Write a CT series into ``folder``; returns the files in slice order (feet -> head).

    ``positions`` overrides the slice distances along the normal (mm from ``origin``) to make
    irregular or missing slices; ``tilt_deg`` shears the stack along the column direction like
    a tilted gantry.
    """
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    row = np.asarray(iop[:3], dtype=np.float64)
    col = np.asarray(iop[3:], dtype=np.float64)
    normal = np.cross(row, col)
    study_uid = study_uid or generate_uid()
    series_uid = series_uid or generate_uid()
    frame_uid = frame_uid or generate_uid()
    dists = list(positions) if positions is not None else [k * spacing for k in range(n_slices)]
    n = len(dists)
    names = [f"{prefix}IM{k:05d}.dcm" for k in range(n)]
    if shuffle_names:
        random.Random(seed).shuffle(names)
    shear = np.tan(np.radians(tilt_deg))
    paths = []
    for k, d in enumerate(dists):
        ipp = np.asarray(origin, dtype=np.float64) + d * normal + d * shear * col
        hu = ct_phantom_slice(rows, cols, k / max(1, n - 1), rng)
        inst = n - k if reverse_instances else k + 1
        ds = make_ct_dataset(
            hu,
            ipp=ipp,
            iop=iop,
            pixel_spacing=pixel_spacing,
            thickness=spacing,
            series_uid=series_uid,
            study_uid=study_uid,
            frame_uid=frame_uid,
            instance_number=inst,
            series_number=series_number,
            description=description,
            signed=signed,
            implicit=implicit,
            tilt=tilt_deg,
        )
        path = folder / names[k]
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
