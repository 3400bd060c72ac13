"""Hostile enhanced multi-frame files for the second hostile sweep
(tests/core/test_hostile_sweep2.py): a generated enhanced CT (tests/core/mfgen.py) with one
change to its functional groups each, made with pydicom (its value checks off, as a hostile
writer's)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

from ctgen import write_ct_series
from mfgen import enhanced_from_single
from pydicom import config, dcmread
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

__all__ = ["VARIANTS", "enhanced_base", "make"]


def _pf(ds: Dataset) -> Sequence:
    return ds.PerFrameFunctionalGroupsSequence


def _pvt(ds: Dataset, k: int) -> Dataset:
    return _pf(ds)[k].PixelValueTransformationSequence[0]


def _drop_rescale(ds: Dataset) -> None:
    del _pf(ds)[1].PixelValueTransformationSequence


def _drop_rescale_differing(ds: Dataset) -> None:
    del _pf(ds)[1].PixelValueTransformationSequence
    _pvt(ds, 3).RescaleIntercept = "-1000"


def _slope(value: str) -> Callable[[Dataset], None]:
    def change(ds: Dataset) -> None:
        _pvt(ds, 1).add_new(0x00281053, "DS", value)

    return change


def _frames_more(ds: Dataset) -> None:
    ds.PerFrameFunctionalGroupsSequence = Sequence([*_pf(ds), *(copy.deepcopy(x) for x in _pf(ds))])


# name -> the change; every other frame of each keeps its true header
VARIANTS: dict[str, Callable[[Dataset], None]] = {
    "rescale-missing-on-frame-2": _drop_rescale,
    "rescale-missing-others-differ": _drop_rescale_differing,
    "slope-denormal": _slope("-1e-300"),
    "slope-below-float32": _slope("1e-40"),
    "perframe-twice-the-frames": _frames_more,
}


def enhanced_base(folder: Path) -> Path:
    """A 6-frame enhanced CT (16x16, intercept -1024) made from generated slices."""
    singles = write_ct_series(folder / "singles", n_slices=6, rows=16, cols=16)
    out = folder / "base.dcm"
    enhanced_from_single(singles, out)
    return out


def make(base: Path, name: str, out: Path) -> Path:
    """``base`` with variant ``name``'s change, written to ``out``."""
    ds = dcmread(base)
    VARIANTS[name](ds)
    mode = config.settings.writing_validation_mode
    config.settings.writing_validation_mode = config.IGNORE
    try:
        ds.save_as(out, enforce_file_format=False)
    finally:
        config.settings.writing_validation_mode = mode
    return out


def swallowing_private(donor: Path, out: Path, *, implicit: bool, length: int) -> Path:
    """``donor`` (a single-frame file, explicit or implicit VR little endian) with a private
    element declaring ``length`` bytes inserted before the pixel data: its value runs past the
    end of the file and swallows the pixels. Out of tag order, as a hostile writer puts it, so
    that the strict scanner declines and pydicom reads the header."""
    import struct

    data = donor.read_bytes()
    at = data.index(struct.pack("<HH", 0x7FE0, 0x0010))
    tag = struct.pack("<HH", 0x0009, 0x1001)
    if implicit:
        header = tag + struct.pack("<I", length)
    else:
        header = tag + b"UN\0\0" + struct.pack("<I", length)
    out.write_bytes(data[:at] + header + data[at:])
    return out


def name_of_unknown_vr(donor: Path, out: Path) -> Path:
    """``donor`` (explicit VR little endian) with its Patient's Name given the VR ``ZZ``,
    which no reader knows."""
    import struct

    data = donor.read_bytes()
    at = data.index(struct.pack("<HH", 0x0010, 0x0010) + b"PN")
    out.write_bytes(data[: at + 4] + b"ZZ" + data[at + 6 :])
    return out
