"""Automatic windows for projections, from the histogram of what the rays will see.

A slice window (the file's, or the 1st..99th percentile of the voxels) suits a slice, not a
projection: a MIP shows each ray's *largest* value, so on an MR head every ray through the
brain ends near the top of the slice window and the whole brain clips to white; an X-ray
shows each ray's *average*, far below it (dim). The projection's own values are estimated
from the volume strided to about 96 voxels per side, projected along its three axes (a few
milliseconds), and the window spans their low end to a high percentile, so the brightest
structures (vessels, bone) are white and the rest keeps its grey levels.
"""

from __future__ import annotations

import numpy as np

from ownscan.core.render._pages import release_pages
from ownscan.core.volume import Volume, WindowPreset

__all__ = ["projection_window"]

_SIDE = 96  # voxels per side of the strided copy


def projection_window(volume: Volume, how: str) -> WindowPreset:
    """The window for a projection of ``volume``: ``how`` is ``"maximum"`` (MIP) or
    ``"average"`` (X-ray).

    Low end: the 1st percentile of the projected values (the background); high end: their
    99.9th percentile (MIP: the brightest vessels) or 99.5th (X-ray).
    """
    vox = volume.voxels
    step = max(1, max(vox.shape[:3]) // _SIDE)
    sub = vox[::step, ::step, ::step]  # a view: projections reduce it without a float copy
    if how == "maximum":
        values = np.concatenate([sub.max(axis=a).ravel().astype(np.float32) for a in range(3)])
        top = 99.9
    elif how == "average":
        values = np.concatenate([sub.mean(axis=a, dtype=np.float32).ravel() for a in range(3)])
        top = 99.5
    else:
        raise ValueError(f"projection_window: how must be 'maximum' or 'average', got {how!r}")
    release_pages(vox)  # a file-backed volume: the pages the strided view touched
    lo, hi = (float(x) for x in np.percentile(values, [1.0, top]))
    if hi <= lo:
        hi = lo + 1.0
    return WindowPreset(f"auto ({how} projection)", hi - lo, (hi + lo) / 2.0)
