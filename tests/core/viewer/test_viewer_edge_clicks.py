"""A click beside the volume in a 2D view of the real viewer window (Xvfb): the other planes'
slices (the crosshair) stop at the volume's first / last slice instead of leaving it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from test_viewer_window import click, park_pointer
from viewer_phantom import phantom

from ownscan.core.viewer import Viewer, ViewerOptions

N = 32


@pytest.fixture(scope="module")
def v(xvfb: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Viewer]:
    shots = tmp_path_factory.mktemp("shots")
    options = ViewerOptions(size=(640, 480), screenshot_dir=shots, still_after_s=1.0)
    with Viewer([phantom(n=N)], options) as viewer:
        park_pointer()
        viewer.show_help = viewer.show_fps = viewer.measure_tool = False
        viewer.frame()
        yield viewer


@pytest.mark.parametrize("corner", [(0.03, 0.04), (0.97, 0.96)], ids=["top-left", "bottom-right"])
def test_a_click_beside_the_volume_keeps_the_crosshair_on_its_edge_slices(
    v: Viewer, corner: tuple[float, float], tmp_path: Path
) -> None:
    v.reset()
    v.view.zoom("coronal", 0.4)  # the volume small in the middle: room around it
    v.view.set_window("air grey", 4000.0, -1000.0)  # the phantom's air mid-grey, not black
    v.show_overlays = False  # no text or crosshair over the pixels tested
    v.frame()
    lay = v.layout()
    rc = lay.views["coronal"]
    fx, fy = rc.x + corner[0] * rc.w, rc.y + corner[1] * rc.h
    clicked = v.view.pixel_to_lps("coronal", rc.size, *rc.local(fx, fy))
    click(v, fx, fy)
    for name in ("axial", "sagittal"):
        lo, hi = v.view.slice_range_mm(name)
        pos = v.view.slice_position(name)
        assert lo < pos < hi, (name, lo, pos, hi)
        # on the edge slice the click was beside: half a slice inside the volume
        want = np.clip(clicked @ v.view.views[name].plane.normal(), lo, hi)
        assert abs(pos - want) <= v.view.slice_step(name) / 2.0 + 1e-6, (name, pos, want)
    # the coronal view's own slice stays; the other views show data, not the empty outside
    assert v.view.slice_position("coronal") == pytest.approx(0.0, abs=1e-6)
    img = v.frame(capture=True)
    v.win.save_png(img, tmp_path / "edge.png")
    for name in ("axial", "sagittal"):
        r = lay.views[name]  # its middle: the middle of the volume (fit, not panned)
        middle = img[
            r.y + r.h // 2 - 5 : r.y + r.h // 2 + 5, r.x + r.w // 2 - 5 : r.x + r.w // 2 + 5
        ]
        assert middle.min() > 60, name  # the edge slice's air is grey, the outside black


if __name__ == "__main__":
    pytest.main([__file__])
