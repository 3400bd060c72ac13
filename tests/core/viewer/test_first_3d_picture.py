"""A series' first 3D picture: the renderer's quick pass (half the rays per side, twice the
step, as while dragging) drawn at once, then the full picture on the very next frame, without
waiting for the user to hold still (docs/BENCH.md, first frame)."""

from __future__ import annotations

import numpy as np
from viewer_phantom import phantom

from ownscan.core.viewer import Viewer, ViewerOptions


def _view(img: np.ndarray, v: Viewer) -> np.ndarray:
    r = v.layout().views["3d"]
    return img[r.y + 2 : r.y + r.h - 2, r.x + 2 : r.x + r.w - 2].astype(int)


def test_first_3d_picture_is_the_quick_pass_refined_at_once(xvfb: str) -> None:
    # "still" only after 30 s: the refinement must not wait for it
    options = ViewerOptions(size=(640, 480), still_after_s=30.0)
    with Viewer([phantom(n=40), phantom(n=32)], options) as v:
        v.wait_until_loaded()
        v.set_mode("mip")
        v.select_series(1)
        v.select_series(0)
        quick = v.frame(capture=True)
        assert v.draft_3d and v.needs_refinement()
        assert v._refine_at_once  # the run loop wakes at once to refine it
        full = v.frame(capture=True)  # no input in between
        assert not v.draft_3d and not v._refine_at_once
        a, b = _view(quick, v), _view(full, v)
        assert a.std() > 10 and b.std() > 10  # both show the volume
        assert (np.abs(a - b).max(axis=-1) > 8).mean() > 0.01  # the quick pass is coarser
        v._raycast.key = None  # drawn again from scratch: a full picture, the same one
        np.testing.assert_array_equal(_view(v.frame(capture=True), v), b)
        assert not v.draft_3d
