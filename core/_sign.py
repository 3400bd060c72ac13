"""Pixel Representation against the pixels: the sign a header declares, judged on the stored
values (never on rescaled ones, whose range depends on Rescale Slope and Intercept).

Two mistakes are seen in the wild on 16-bit grey images:

* **unsigned declared over two's complement** (a CT's air at -1000 stored as 64536): read as the
  header says, air becomes tens of thousands of HU, white where black belongs;
* **signed declared over unsigned** (an MR or CT whose bright values cross 32767): the brightest
  tissue becomes very negative.

The stored values of the whole volume are counted on the 16-bit circle (the unsigned view).
Two's complement data of moderate size sit at both ends of it (small positives near 0, small
negatives near 65535) with nothing in the middle; unsigned data that cross 32767 run through
the middle. The header's word stands unless the data are unambiguous:

* unsigned declared, CT: read as signed when stored values sit at both ends and none lie in
  ``[16384, 49152)`` (except 32768 itself, the most negative value some scanners pad with), or
  when the unsigned reading gives values above 32767 HU, which no CT holds (the extended scale
  ends near 31000). High values that are all 65535 (a saturated detector as much as -1) are
  left as they are, with a warning;
* signed declared: read as unsigned when there are large negatives (below -16384), no small
  ones, and the values run without a gap through 32767 into them (in place only: an int16
  rescaled volume cannot hold the unsigned values, so it keeps the header's word with a
  warning). Large negatives without small ones that do not run on from the positives are
  warned about, not moved.

Every change and every doubt is a warning that names the file, shown by ``info``'s load,
``render``, ``export`` and the viewer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ownscan.core.dicom import Frame

__all__ = ["judge_sign"]

_QUARTER = 0x4000
_HALF = 0x8000
_WRAP = 0x10000


def _stored(vox: np.ndarray, k: int, fr: Frame, rescaled: bool) -> np.ndarray:
    """The stored values of frame ``k`` as int32 (rescale undone; voxels that are no stored
    value, e.g. padding replaced by the fill value, come out of the 16-bit range)."""
    if not rescaled:
        return vox[k].astype(np.int32)
    if fr.slope == 0:
        return np.full(vox[k].shape, -_WRAP - 1, np.int32)  # out of range: not counted
    a, b = fr.slope, fr.intercept
    if vox.dtype.kind in "iu" and float(a).is_integer() and float(b).is_integer():
        # integer voxels of an integer rescale: exact in integers (padding's fill may not
        # divide: it lands between stored values, as the float path rounds it)
        return (vox[k].astype(np.int32) - int(b)) // int(a)
    # float32 holds these values (|v| < 2**24 for 16-bit data) to well under half a step
    s = (vox[k].astype(np.float32) - np.float32(b)) / np.float32(a)
    return np.rint(s).astype(np.int32)


def _nothing_to_judge(vox: np.ndarray, frames: Sequence[Frame], signed: bool) -> bool:
    """One pass over the voxels (their minimum or maximum) shows that no stored value is in the
    range that could contradict the header (below -16384 when signed, 32768 and above when
    unsigned): the usual case, judged without counting every stored value."""
    slopes = [fr.slope for fr in frames]
    if min(slopes) <= 0:
        return False
    if signed:  # the lowest voxel must lie above every frame's value for stored -16384
        bound = max(fr.slope * -_QUARTER + fr.intercept for fr in frames)
        return bool(vox.size) and float(vox.min()) > bound
    bound = min(fr.slope * _HALF + fr.intercept for fr in frames)
    return bool(vox.size) and float(vox.max()) < bound - 0.5 * max(slopes)


def judge_sign(vox: np.ndarray, frames: Sequence[Frame], modality: str) -> tuple[np.ndarray, str]:
    """Check the declared Pixel Representation of 16-bit grey ``frames`` against their decoded
    voxels ``vox`` (one slice per frame, rescaled or not) and mend it where the data are
    unambiguous (see the module text).

    Parameters
    ----------
    vox
        The decoded voxels ``(z, y, x)``; changed in place (rescaled values) or viewed in the
        other sign (stored values), so a file mapping stays the volume's memory.
    frames
        The frames of ``vox``, in its order.
    modality
        Only CT is read as signed when declared unsigned (a CT has negative values).

    Returns
    -------
    tuple
        The voxels and the warning to show (``""``: nothing to say).
    """
    if vox.ndim != 3 or len(vox) != len(frames) or not len(vox):
        return vox, ""
    if not all(fr.bits_stored == 16 and fr.samples == 1 for fr in frames):
        return vox, ""
    signs = {fr.pixel_representation for fr in frames}
    if len(signs) != 1:
        return vox, ""
    signed = signs.pop() != 0
    if not signed and modality != "CT":
        return vox, ""
    rescaled = vox.dtype not in (np.dtype(np.uint16), np.dtype(np.int16)) or any(
        (fr.slope, fr.intercept) != (1.0, 0.0) for fr in frames
    )
    if _nothing_to_judge(vox, frames, signed):
        return vox, ""
    counts = np.zeros(_WRAP, np.int64)
    top_hu = -np.inf
    for k, fr in enumerate(frames):
        s = _stored(vox, k, fr, rescaled)
        lo, hi = (-_HALF, _HALF - 1) if signed else (0, _WRAP - 1)
        s = s[(s >= lo) & (s <= hi)]
        if s.size:
            counts += np.bincount(s % _WRAP, minlength=_WRAP)
            if not signed:
                top_hu = max(top_hu, fr.slope * float(s.max()) + fr.intercept)
    where = frames[0].where
    if signed:
        return _signed_over_unsigned(vox, frames, counts, rescaled, where)
    return _unsigned_over_signed(vox, frames, counts, rescaled, top_hu, where)


def _unsigned_over_signed(
    vox: np.ndarray,
    frames: Sequence[Frame],
    counts: np.ndarray,
    rescaled: bool,
    top_hu: float,
    where: str,
) -> tuple[np.ndarray, str]:
    high = int(counts[_HALF:].sum())
    if not high:
        return vox, ""
    middle = int(counts[_QUARTER : _WRAP - _QUARTER].sum()) - int(counts[_HALF])
    both_ends = int(counts[:_QUARTER].sum()) > 0
    twos = both_ends and middle == 0 and int(counts[_HALF : _WRAP - 1].sum()) > 0
    if not twos and top_hu <= 32767:
        if both_ends and middle == 0:  # only 65535: saturation or -1, nothing tells which
            return vox, (
                f"Pixel Representation 0 (unsigned) may be untrue for {where}: {high} "
                "pixel(s) hold the stored value 65535, which two's complement would read as -1; "
                "shown as the header says"
            )
        return vox, ""  # genuinely unsigned (its values run through the middle)
    why = (
        f"{high} pixel(s) would be above 32767 HU"
        if top_hu > 32767
        else f"{high} pixel(s) are stored near 65535 beside values near 0, none between "
        "(two's complement negatives)"
    )
    if not rescaled:
        vox = vox.view(np.int16)  # the same bytes, in the other sign
    else:
        info = np.iinfo(vox.dtype) if vox.dtype.kind in "iu" else None
        for k, fr in enumerate(frames):
            s = _stored(vox, k, fr, rescaled)
            wrong = (s >= _HALF) & (s < _WRAP)
            if not wrong.any():
                continue
            fixed = vox[k][wrong].astype(np.float64) - fr.slope * _WRAP
            if info is not None:
                fixed = np.clip(np.rint(fixed), info.min, info.max)
            vox[k][wrong] = fixed.astype(vox.dtype)
    return vox, (
        f"Pixel Representation 0 (unsigned) cannot be true for {where}: {why}; "
        "read as signed (two's complement)"
    )


def _signed_over_unsigned(
    vox: np.ndarray, frames: Sequence[Frame], counts: np.ndarray, rescaled: bool, where: str
) -> tuple[np.ndarray, str]:
    large_negative = int(counts[_HALF : _WRAP - _QUARTER].sum()) - int(counts[_HALF])
    if large_negative <= 0:
        return vox, ""
    small_negative = int(counts[_WRAP - _QUARTER :].sum())
    # the unsigned view runs on through 32767 -> 32768: no gap of 256 values either side
    runs_on = bool(counts[_HALF - 256 : _HALF].any() and counts[_HALF + 1 : _HALF + 257].any())
    if small_negative:
        return vox, ""  # negatives near 0 too: two's complement, as declared
    if not runs_on:
        return vox, (
            f"Pixel Representation 1 (signed) may be untrue for {where}: {large_negative} "
            "pixel(s) are below -16384; shown as the header says"
        )
    why = (
        f"{large_negative} pixel(s) below -16384 continue the values above 16384 "
        "(unsigned values past 32767), with no small negatives"
    )
    if not rescaled:
        return vox.view(np.uint16), (
            f"Pixel Representation 1 (signed) cannot be true for {where}: {why}; read as unsigned"
        )
    if vox.dtype == np.int16:  # the unsigned values do not fit: say so, change nothing
        return vox, (
            f"Pixel Representation 1 (signed) is likely untrue for {where}: {why}; shown as "
            "the header says"
        )
    for k, fr in enumerate(frames):
        s = _stored(vox, k, fr, rescaled)
        wrong = (s < 0) & (s >= -_HALF)
        if wrong.any():
            vox[k][wrong] = (vox[k][wrong].astype(np.float64) + fr.slope * _WRAP).astype(vox.dtype)
    return vox, (
        f"Pixel Representation 1 (signed) cannot be true for {where}: {why}; read as unsigned"
    )
