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
