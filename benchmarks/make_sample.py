"""Make the bundled sample series (core/sample/) from the studyforrest T1w head MR.

Usage::

    python benchmarks/make_sample.py [SOURCE_DICOM_FOLDER] [OUTPUT_FOLDER]

defaults: the head MR of tests/data/studyforrest-t1w (restored into a temporary folder by
tests/realdata.py) and core/sample.

What it does, exactly (so the geometry stays right):

1. reads the 384 single-frame images and sorts them along the slice normal;
2. averages each 2x2x2 block of voxels (slices 2k and 2k+1, rows 2j..2j+1, columns
   2i..2i+1) and rounds half away from zero to int16: 384 x 384 x 274 -> 192 x 192 x 137;
3. geometry: PixelSpacing doubles; SliceThickness and SpacingBetweenSlices double; the new
   ImagePositionPatient is the centre of the 8 old voxel centres:
   ``(IPP[2k] + IPP[2k+1]) / 2 + row * PixelSpacing[1] / 2 + col * PixelSpacing[0] / 2``;
   ImageOrientationPatient is unchanged;
4. new Series and SOP Instance UIDs (Study and Frame of Reference UIDs are kept: the same
   session and the same patient coordinates), ImageType DERIVED\\SECONDARY, a
   DerivationDescription saying all this;
5. stores the pixels losslessly compressed as JPEG 2000 (pydicom + pylibjpeg-openjpeg).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
from pydicom import dcmread
from pydicom.uid import JPEG2000Lossless, generate_uid

REPO = Path(__file__).resolve().parents[1]


def main(src: Path, out: Path) -> None:
    files = sorted(src.glob("*.dcm"))
    dss = [dcmread(f) for f in files]
    iop = np.array([float(v) for v in dss[0].ImageOrientationPatient])
    row, col = iop[:3], iop[3:]
    normal = np.cross(row, col)
    dss.sort(key=lambda d: float(np.dot([float(v) for v in d.ImagePositionPatient], normal)))
    if len(dss) % 2:
        dss = dss[:-1]
    ps = [float(v) for v in dss[0].PixelSpacing]  # (between rows, between columns)
    series_uid = generate_uid()
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.dcm"):
        old.unlink()
    for k in range(0, len(dss), 2):
        a, b = dss[k], dss[k + 1]
        vol = np.stack([a.pixel_array, b.pixel_array]).astype(np.float64)
        r, c = vol.shape[1] // 2 * 2, vol.shape[2] // 2 * 2
        vol = vol[:, :r, :c]
        mean = vol.reshape(2, r // 2, 2, c // 2, 2).mean(axis=(0, 2, 4))
        pix = (np.sign(mean) * np.floor(np.abs(mean) + 0.5)).astype(np.int16)
        ipp = (
            (
                np.array([float(v) for v in a.ImagePositionPatient])
                + np.array([float(v) for v in b.ImagePositionPatient])
            )
            / 2
            + row * ps[1] / 2
            + col * ps[0] / 2
        )
        ds = a.copy()
        sop = generate_uid()
        ds.SOPInstanceUID = sop
        ds.file_meta.MediaStorageSOPInstanceUID = sop
        ds.SeriesInstanceUID = series_uid
        ds.SeriesDescription = "anat-T1w ownscan sample (2x2x2 mean)"
        ds.ImageType = ["DERIVED", "SECONDARY"]
        ds.DerivationDescription = (
            "ownscan bundled sample: mean of 2x2x2 voxel blocks of studyforrest sub-02 "
            "anat-T1w; JPEG 2000 lossless"
        )
        ds.InstanceNumber = k // 2 + 1
        ds.ImagePositionPatient = [f"{v:.10g}" for v in ipp]
        ds.PixelSpacing = [f"{2 * ps[0]:.10g}", f"{2 * ps[1]:.10g}"]
        th = 2 * float(a.SliceThickness)
        ds.SliceThickness = f"{th:.10g}"
        ds.SpacingBetweenSlices = f"{2 * float(a.SpacingBetweenSlices):.10g}"
        ds.Rows, ds.Columns = pix.shape
        ds.PixelRepresentation = 1
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
        ds.PixelData = pix.tobytes()
        ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
        ds.compress(JPEG2000Lossless)
        ds.save_as(out / f"IM{k // 2 + 1:04d}.dcm", enforce_file_format=True)
    print(f"wrote {len(dss) // 2} files to {out}")


if __name__ == "__main__":
    dst = Path(sys.argv[2]) if len(sys.argv) > 2 else REPO / "core" / "sample"
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]), dst)
    else:
        sys.path.insert(0, str(REPO / "tests"))
        from realdata import restore_mr_head

        with tempfile.TemporaryDirectory() as tmp:
            main(restore_mr_head(Path(tmp) / "dicoms"), dst)
