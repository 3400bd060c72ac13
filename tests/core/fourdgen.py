"""Generate 4D MR series with pydicom (time series, cardiac phases, diffusion, repeats).

Every voxel value encodes its volume, slice, row and column, so that any misordered volume,
flipped axis or shuffled slice changes the voxels. Files are written with shuffled names and
instance numbers in acquisition order (volume after volume), as scanners number them.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

__all__ = ["diffusion_table", "voxel_value", "write_4d_series"]


def voxel_value(vol: int, slc: int, rows: int, cols: int) -> np.ndarray:
    """The stored values of slice ``slc`` of volume ``vol`` (uint16)."""
    r, c = np.mgrid[0:rows, 0:cols]
    return (100 + 1000 * vol + 37 * slc + 3 * r + c).astype(np.uint16)


def diffusion_table(n: int) -> list[tuple[float, tuple[float, float, float]]]:
    """``n`` (b-value, LPS direction) pairs: b=0 first and again in the middle, then b=1000
    along oblique unit directions."""
    out: list[tuple[float, tuple[float, float, float]]] = []
    rng = np.random.default_rng(7)
    for k in range(n):
        if k in (0, n // 2):
            out.append((0.0, (0.0, 0.0, 0.0)))
            continue
        v = rng.normal(size=3)
        v /= np.linalg.norm(v)
        out.append((1000.0, (float(v[0]), float(v[1]), float(v[2]))))
    return out


def write_4d_series(
    folder: Path,
    *,
    n_vols: int = 4,
    n_slices: int = 5,
    rows: int = 12,
    cols: int = 10,
    spacing: tuple[float, float] = (1.5, 1.25),
    thickness: float = 3.0,
    iop: Sequence[float] = (1, 0, 0, 0, 1, 0),
    origin: Sequence[float] = (-7.0, -9.0, 20.0),
    per_volume: Callable[[Dataset, int, int], None] | None = None,
    series_uid: str | None = None,
    series_number: int = 7,
    description: str = "fmri",
    tr_ms: float = 2000.0,
    prefix: str = "",
    image_type: Sequence[str] = ("ORIGINAL", "PRIMARY", "M", "ND"),
    value: Callable[[int, int, int, int], np.ndarray] = voxel_value,
    first_volume: int = 0,
    manufacturer: str = "SIEMENS",
) -> list[Path]:
    """Write ``n_vols`` volumes of ``n_slices`` slices; ``per_volume(ds, vol, slice)`` sets
    what tells the volumes apart (nothing by default). Returns the files in the order written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = series_uid or generate_uid()
    study_uid, frame_uid = generate_uid(prefix="1.2.826.0.1.3680043.8.498.1."), generate_uid()
    row = np.asarray(iop[:3], dtype=np.float64)
    col = np.asarray(iop[3:], dtype=np.float64)
    normal = np.cross(row, col)
    files = []
    names = list(range(n_vols * n_slices))
    random.Random(len(names) + n_slices).shuffle(names)
    for v in range(n_vols):
        for z in range(n_slices):
            ds = Dataset()
            ds.file_meta = FileMetaDataset()
            ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds.file_meta.MediaStorageSOPClassUID = MRImageStorage
            sop = generate_uid()
            ds.file_meta.MediaStorageSOPInstanceUID = sop
            ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, sop
            ds.Modality, ds.Manufacturer = "MR", manufacturer
            ds.PatientPosition = "HFS"
            ds.ImageType = list(image_type)
            ds.PatientName, ds.PatientID = "Test^FourD", "4D"
            ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
            ds.FrameOfReferenceUID = frame_uid
            ds.StudyDate, ds.StudyTime, ds.SeriesDate = "20240102", "101010", "20240102"
            ds.SeriesNumber, ds.SeriesDescription = series_number, description
            ds.InstanceNumber = (first_volume + v) * n_slices + z + 1
            ds.AcquisitionNumber = 1
            t = 36000.0 + (first_volume + v) * tr_ms / 1000.0 + z * tr_ms / 1000.0 / n_slices
            ds.AcquisitionTime = f"{int(t // 3600):02d}{int(t % 3600 // 60):02d}{t % 60:09.6f}"
            ds.RepetitionTime, ds.EchoTime = tr_ms, 30.0
            ds.ImageOrientationPatient = [float(x) for x in iop]
            p = np.asarray(origin, dtype=np.float64) + z * thickness * normal
            ds.ImagePositionPatient = [round(float(x), 4) for x in p]
            ds.PixelSpacing = [spacing[0], spacing[1]]
            ds.SliceThickness = thickness
            ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
            ds.Rows, ds.Columns = rows, cols
            ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
            ds.PixelData = value(first_volume + v, z, rows, cols).tobytes()
            if per_volume is not None:
                per_volume(ds, first_volume + v, z)
            f = folder / f"{prefix}IM{names[v * n_slices + z]:05d}.dcm"
            ds.save_as(f, enforce_file_format=True)
            files.append(f)
    return files


def attrs(**kw: Any) -> Callable[[Dataset, int, int], None]:
    """A ``per_volume`` that sets each keyword to ``f(vol)`` (a callable) or a constant."""

    def set_them(ds: Dataset, v: int, z: int) -> None:
        for key, val in kw.items():
            setattr(ds, key, val(v) if callable(val) else val)

    return set_them
