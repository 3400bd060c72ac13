"""A CT series whose Series Instance UID also holds 2D pictures beside its 3D stack: a
secondary capture without geometry (a screenshot, a dose report image) and a coronal scout,
as some scanners and PACS exports send them."""

from __future__ import annotations

from pathlib import Path

from ctgen import write_ct_series
from pydicom import dcmread
from pydicom.uid import generate_uid

N_SLICES = 6


def write_volume_with_pictures(folder: Path) -> str:
    """Write the series into ``folder``; returns its Series Instance UID."""
    files = write_ct_series(folder, n_slices=N_SLICES)
    ds = dcmread(files[0])
    uid = str(ds.SeriesInstanceUID)
    sc = dcmread(files[0])
    sc.SOPInstanceUID = sc.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    sc.SOPClassUID = sc.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    sc.ImageType = ["DERIVED", "SECONDARY"]
    sc.InstanceNumber = 100
    del sc.ImagePositionPatient, sc.ImageOrientationPatient
    sc.save_as(folder / "capture.dcm")
    scout = dcmread(files[1])
    scout.SOPInstanceUID = scout.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    scout.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]
    scout.ImageOrientationPatient = [1, 0, 0, 0, 0, -1]
    scout.InstanceNumber = 101
    scout.save_as(folder / "scout.dcm")
    return uid
