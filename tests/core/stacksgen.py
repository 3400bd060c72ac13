"""A series of three stacks under one Series Instance UID, as a lumbar spine's axial T2 angled
to three discs: 8 slices each, tilted -15, 0 and +15 degrees about the left-right axis, each
with its own anatomy (seed), so a stack shown for another differs."""

from __future__ import annotations

import math
from pathlib import Path

from ctgen import write_ct_series

SERIES_UID = "1.2.826.0.1.3680043.8.498.7770001"
STUDY_UID = "1.2.826.0.1.3680043.8.498.7770002"
TILTS = (-15.0, 0.0, 15.0)

__all__ = ["SERIES_UID", "STUDY_UID", "TILTS", "write_dated_stacks", "write_three_stacks"]


def write_three_stacks(
    folder: Path, series_uid: str = SERIES_UID, study_uid: str = STUDY_UID
) -> list[Path]:
    """Write the three stacks into ``folder`` (one folder, one series); the files."""
    files: list[Path] = []
    for k, deg in enumerate(TILTS):
        b = math.radians(deg)
        files += write_ct_series(
            folder,
            n_slices=8,
            rows=48,
            cols=48,
            iop=(1.0, 0.0, 0.0, 0.0, math.cos(b), math.sin(b)),
            series_uid=series_uid,
            study_uid=study_uid,
            origin=(-20.0, -20.0, -60.0 + 30.0 * k),
            description="L-spine ax T2",
            prefix=f"s{k}_",
            seed=k + 1,
        )
    return files


def write_dated_stacks(folder: Path, series_uid: str, study_uid: str, date: str) -> None:
    """The three stacks under ``series_uid`` in a study acquired on ``date`` (YYYYMMDD): the
    same patient and the same anatomy per stack as :func:`write_three_stacks`, so two dates
    make a prior and a current of one lumbar spine."""
    import pydicom

    for f in write_three_stacks(folder, series_uid, study_uid):
        ds = pydicom.dcmread(f)
        ds.StudyDate = ds.SeriesDate = ds.ContentDate = date
        ds.save_as(f)
