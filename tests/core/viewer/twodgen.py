"""Generate 2D pictures with pydicom: multi-frame ultrasound cines (grey and colour, with the
attributes that give their speed) and series of single radiographs.

Each frame or image carries a bright vertical bar at a column that says which one it is
(:func:`bar_column`), so a test can tell from the window's pixels which frame is shown.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

__all__ = ["bar_column", "write_cine", "write_radiographs"]

US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"  # Ultrasound Multi-frame Image Storage
CR = "1.2.840.10008.5.1.4.1.1.1"  # Computed Radiography Image Storage


def bar_column(index: int, cols: int, count: int) -> int:
    """The column of the bar in frame or image ``index`` of ``count``."""
    return round((index + 1) * cols / (count + 1))


def _base(path: Path, sop_class: str, modality: str, series_uid: str, number: int) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    sop = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = sop
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, sop
    ds.Modality = modality
    ds.PatientName, ds.PatientID = "Test^Pictures", "2D"
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.77.1"
    ds.SeriesInstanceUID = series_uid
    ds.StudyDate, ds.StudyTime = "20240301", "120000"
    ds.SeriesNumber, ds.InstanceNumber = 3, number
    ds.SeriesDescription = f"{modality} pictures"
    return ds


def write_cine(
    path: Path,
    *,
    frames: int = 12,
    rows: int = 40,
    cols: int = 64,
    colour: bool = False,
    rates: dict[str, float] | None = None,
) -> Path:
    """A multi-frame ultrasound cine without patient position: frame ``k`` has a bright bar
    at :func:`bar_column` ``(k, cols, frames)`` (red in colour). ``rates``: e.g.
    ``{"FrameTime": 40.0}``, ``{"CineRate": 15}``, ``{"RecommendedDisplayFrameRate": 20}``."""
    ds = _base(path, US_MULTIFRAME, "US", generate_uid(), 1)
    ds.NumberOfFrames = frames
    ds.Rows, ds.Columns = rows, cols
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.FrameIncrementPointer = 0x00181063
    for key, value in (rates or {}).items():
        setattr(ds, key, value)
    pix = np.full((frames, rows, cols, 3 if colour else 1), 20, np.uint8)
    for k in range(frames):
        c = bar_column(k, cols, frames)
        pix[k, 4:-4, c - 1 : c + 2] = (230, 20, 20) if colour else 230
    if colour:
        ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
        ds.PixelData = pix.tobytes()
    else:
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.PixelData = pix[..., 0].tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def write_radiographs(
    folder: Path,
    sizes: list[tuple[int, int]],
    spacing: float | None = 0.2,
    windows: list[tuple[float, float]] | None = None,
) -> list[Path]:
    """Single radiographs of one series, ``sizes`` ``(rows, columns)`` in Instance Number
    order, written under names in the opposite order (the viewer must order them by number).
    Image ``n`` has a bright bar at :func:`bar_column` ``(n, columns, len(sizes))``; each has
    Patient Orientation L\\F and no position; ``windows``: each image's (centre, width)."""
    series_uid = generate_uid()
    out = []
    for n, (rows, cols) in enumerate(sizes):
        path = folder / f"IM{len(sizes) - n:03d}.dcm"
        ds = _base(path, CR, "CR", series_uid, n + 1)
        ds.PatientOrientation = ["L", "F"]
        if spacing is not None:
            ds.ImagerPixelSpacing = [spacing, spacing]
        if windows is not None:
            ds.WindowCenter, ds.WindowWidth = windows[n]
        ds.Rows, ds.Columns = rows, cols
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        img = np.full((rows, cols), 300, np.uint16)
        c = bar_column(n, cols, len(sizes))
        img[4:-4, c - 1 : c + 2] = 3800
        ds.PixelData = img.tobytes()
        folder.mkdir(parents=True, exist_ok=True)
        ds.save_as(path, enforce_file_format=True)
        out.append(path)
    return out
