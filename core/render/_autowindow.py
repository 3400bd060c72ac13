"""Automatic windows for projections, from the histogram of what the rays will see.

A slice window (the file's, or the 1st..99th percentile of the voxels) suits a slice, not a
projection: a MIP shows each ray's *largest* value, so on an MR head every ray through the
brain ends near the top of the slice window and the whole brain clips to white; an X-ray
shows each ray's *average*, far below it (dim). The projection's own values are estimated
from the volume strided to about 96 voxels per side, projected along its three axes (a few
milliseconds), and the window spans their low end to a high percentile, so the brightest
structures (vessels, bone) are white and the rest keeps its grey levels.

A file-backed volume's strided voxels are gathered a few slices at a time into a small array
(1/step^3 of the volume), its pages let go behind each (``release_pages``): a strided view of
the whole volume touches every page of every step-th slice (a quarter of the head MR) at once.
A volume in memory is reduced through the view (no copy). The window is kept per volume and
``how``, since every frame asks for it.
"""

from __future__ import annotations

import threading
import weakref

import numpy as np
import numpy.typing as npt

from ownscan.core.render._pages import is_released, release_pages
from ownscan.core.volume import Volume, WindowPreset

__all__ = ["projection_window"]

_SIDE = 96  # voxels per side of the strided copy
_GATHER_BYTES = 1 << 20  # of the strided slices gathered before their pages are let go
_WINDOWS: weakref.WeakKeyDictionary[Volume, dict[str, WindowPreset]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()  # the viewer's loader thread and its window thread both ask


def _strided(vox: npt.NDArray[np.generic], step: int) -> npt.NDArray[np.generic]:
    """``vox[::step, ::step, ::step]`` as a compact array, gathered a few slices at a time,
    a file-backed volume's pages released behind each (the same numbers as the view)."""
    ks = range(0, vox.shape[0], step)
    out = np.empty((len(ks), *vox[0, ::step, ::step].shape), dtype=vox.dtype)
    per = max(1, _GATHER_BYTES // max(1, vox[0].nbytes))  # slices of the volume per gather
    for n0 in range(0, len(ks), per):
        k0, k1 = ks[n0], min(vox.shape[0], ks[min(n0 + per, len(ks)) - 1] + 1)
        out[n0 : n0 + per] = vox[k0:k1:step, ::step, ::step]
        release_pages(vox[k0:k1])
    return out


def projection_window(volume: Volume, how: str) -> WindowPreset:
    """The window for a projection of ``volume``: ``how`` is ``"maximum"`` (MIP) or
    ``"average"`` (X-ray).

    Low end: the 1st percentile of the projected values (the background); high end: their
    99.9th percentile (MIP: the brightest vessels) or 99.5th (X-ray).
    """
    if how not in ("maximum", "average"):
        raise ValueError(f"projection_window: how must be 'maximum' or 'average', got {how!r}")
    with _LOCK:
        known = _WINDOWS.get(volume, {}).get(how)
    if known is not None:
        return known
    vox = volume.voxels
    step = max(1, max(vox.shape[:3]) // _SIDE)
    # 1/step^3 of a file-backed volume, gathered; else a view the projections reduce in place
    gather = step > 1 and is_released(vox)
    sub = _strided(vox, step) if gather else vox[::step, ::step, ::step]
    if how == "maximum":
        values = np.concatenate([sub.max(axis=a).ravel().astype(np.float32) for a in range(3)])
        top = 99.9
    else:
        values = np.concatenate([sub.mean(axis=a, dtype=np.float32).ravel() for a in range(3)])
        top = 99.5
    lo, hi = (float(x) for x in np.percentile(values, [1.0, top]))
    if hi <= lo:
        hi = lo + 1.0
    release_pages(vox)  # a file-backed volume read through the view: let go
    window = WindowPreset(f"auto ({how} projection)", hi - lo, (hi + lo) / 2.0)
    with _LOCK:
        _WINDOWS.setdefault(volume, {})[how] = window
    return window
