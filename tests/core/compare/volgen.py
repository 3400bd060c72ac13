"""Write a Volume as a new DICOM series (pydicom), and make moved copies of a Volume.

The registration truth tests need "the same patient scanned again": the real head MR (or a
generated CT) resampled through a known rigid motion onto a new grid and written as a new
series with a new Frame of Reference UID, so that it goes through the same reading path
(assembly, ``Series.load``) as any scan.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import SimpleITK as sitk
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, MRImageStorage, generate_uid

from ownscan.core.compare import to_sitk
from ownscan.core.volume import SeriesInfo, Volume

__all__ = ["moved_copy", "rigid", "rotation", "write_volume_series"]


def rotation(axis: npt.ArrayLike, degrees: float) -> npt.NDArray[np.float64]:
    """3x3 rotation about ``axis`` (Rodrigues)."""
    a = np.asarray(axis, dtype=np.float64)
    a = a / np.linalg.norm(a)
    t = np.radians(degrees)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + np.sin(t) * k + (1 - np.cos(t)) * (k @ k)


def rigid(
    axis: npt.ArrayLike, degrees: float, shift: npt.ArrayLike, centre: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """4x4: rotate about ``centre`` (LPS mm), then shift (mm)."""
    r = rotation(axis, degrees)
    m = np.eye(4)
    m[:3, :3] = r
    m[:3, 3] = np.asarray(centre) + np.asarray(shift) - r @ np.asarray(centre)
    return m


def moved_copy(
    prior: Volume,
    current_to_prior: npt.NDArray[np.float64],
    *,
    shape: tuple[int, int, int],
    spacing: tuple[float, float, float],
    origin: npt.ArrayLike,
    direction: npt.ArrayLike | None = None,
    smooth: bool = False,
) -> npt.NDArray[np.float32]:
    """The prior's voxels seen on a new grid after the patient moved: each new voxel at LPS
    ``p`` takes the prior's value at ``current_to_prior @ p`` (linear interpolation, 0 outside).
    Returns ``(z, y, x)`` float32. ``direction`` defaults to the identity (an axial grid).
    ``smooth``: cubic B-spline interpolation instead of linear (blurs edges less, so a
    difference image is not dominated by the blur of the resampling)."""
    direction = np.eye(3) if direction is None else direction
    ref = sitk.Image([shape[2], shape[1], shape[0]], sitk.sitkFloat32)
    ref.SetSpacing([float(s) for s in spacing])
    ref.SetOrigin([float(o) for o in np.asarray(origin)])
    ref.SetDirection([float(d) for d in np.asarray(direction, dtype=np.float64).ravel()])
    t = sitk.AffineTransform(3)
    t.SetMatrix([float(v) for v in current_to_prior[:3, :3].ravel()])
    t.SetTranslation([float(v) for v in current_to_prior[:3, 3]])
    low = float(prior.voxels.min())
    how = sitk.sitkBSpline if smooth else sitk.sitkLinear
    out = sitk.Resample(to_sitk(prior), ref, t, how, low, sitk.sitkFloat32)
    return sitk.GetArrayFromImage(out)


def write_volume_series(
    folder: Path,
    voxels: np.ndarray,
    *,
    spacing: tuple[float, float, float],
    origin: npt.ArrayLike,
    direction: npt.ArrayLike,
    modality: str,
    info: SeriesInfo,
    frame_uid: str | None = None,
    study_uid: str | None = None,
    series_uid: str | None = None,
    study_date: str = "20250101",
    description: str = "moved copy",
) -> list[Path]:
    """Write ``voxels`` (``(z, y, x)``, rounded to int16) as single-frame CT or MR images whose
    geometry is exactly ``origin + direction @ (spacing * ijk)``; returns the files."""
    folder.mkdir(parents=True, exist_ok=True)
    d = np.asarray(direction, dtype=np.float64)
    o = np.asarray(origin, dtype=np.float64)
    data = np.clip(np.rint(voxels), -32768, 32767).astype(np.int16)
    study_uid = study_uid or generate_uid()
    series_uid = series_uid or generate_uid()
    frame_uid = frame_uid or generate_uid()
    sop_class = CTImageStorage if modality == "CT" else MRImageStorage
    paths = []
    for k in range(data.shape[0]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = sop_class
        uid = generate_uid()
        meta.MediaStorageSOPInstanceUID = uid
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = sop_class
        ds.SOPInstanceUID = uid
        ds.Modality = modality
        ds.PatientName = info.patient_name
        ds.PatientID = info.patient_id
        ds.PatientBirthDate = info.patient_birth_date
        ds.PatientSex = info.patient_sex
        ds.StudyInstanceUID = study_uid
        ds.StudyDate = study_date
        ds.StudyTime = "120000"
        ds.StudyDescription = info.study_description
        ds.SeriesInstanceUID = series_uid
        ds.SeriesNumber = 1
        ds.SeriesDescription = description
        ds.BodyPartExamined = info.body_part
        ds.FrameOfReferenceUID = frame_uid
        ds.InstanceNumber = k + 1
        ipp = o + d[:, 2] * spacing[2] * k
        ds.ImagePositionPatient = [f"{v:.6f}" for v in ipp]
        ds.ImageOrientationPatient = [f"{v:.8f}" for v in (*d[:, 0], *d[:, 1])]
        # PixelSpacing is (row spacing = along j, column spacing = along i)
        ds.PixelSpacing = [f"{spacing[1]:.6f}", f"{spacing[0]:.6f}"]
        ds.SliceThickness = f"{spacing[2]:.6f}"
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows, ds.Columns = data.shape[1], data.shape[2]
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        if modality == "CT":
            ds.RescaleIntercept = "0"
            ds.RescaleSlope = "1"
            ds.RescaleType = "HU"
        ds.PixelData = data[k].tobytes()
        path = folder / f"IM{k:05d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
