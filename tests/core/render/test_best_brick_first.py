"""MIP / MinIP take the samples of the ray's brick with the best bound first (the highest for a
MIP, the lowest for a MinIP), then walk the bricks in order, jumping over those that cannot
change the picture. Order does not matter to max and min: the pictures equal, to the bit,
those of the plain loop, whether the best brick lies near or far along the ray, holds the
only visible values, saturates, or lies wholly outside the window."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from gl_support import assert_same_picture

from ownscan.core.plugin_host import PluginHost
from ownscan.core.render import Camera, Scene
from ownscan.core.volume import Volume, WindowPreset

MODES = {m.name: m for m in PluginHost().modes()}
SIZE = (90, 72)


def _layers(sign: int) -> Volume:
    """Along j (the anterior view's rays): tissue near the front, a dimmer layer, and a
    bright (MinIP: dark) plate far behind, narrower than the volume, so some rays meet it
    and some do not; the plate's faces lie off the 16-voxel bricks."""
    rng = np.random.default_rng(7)
    v = np.full((40, 60, 52), -1000, np.int16)
    v[4:36, 3:20, 5:47] = 60  # front tissue
    v[4:36, 22:35, 5:47] = -200  # a dimmer layer
    v[9:30, 43:49, 13:38] = 1100  # the plate, far along the ray
    v[17:20, 44:47, 22:25] = 1700  # above the top window's end: saturates
    v = v + rng.integers(-25, 26, size=v.shape).astype(np.int16)
    return Volume((sign * v).astype(np.int16), (0.9, 1.0, 1.2), modality="CT")


WINDOWS = {
    "inside": WindowPreset("inside", 1800.0, 300.0),  # -600 .. 1200: the plate shows
    "above-all": WindowPreset("above-all", 400.0, 2400.0),  # 2200 .. 2600: black everywhere
    "below-all": WindowPreset("below-all", 400.0, -2400.0),  # white wherever there is a ray
}
CAMERAS = {
    "anterior": Camera.for_plane("anterior"),
    "oblique-perspective": Camera(azimuth=160, elevation=20, projection="perspective"),
}


@pytest.mark.usefixtures("gl_check")
@pytest.mark.parametrize("camera", list(CAMERAS), ids=str)
@pytest.mark.parametrize("window", list(WINDOWS), ids=str)
@pytest.mark.parametrize("mode", ["mip", "minip"])
def test_best_brick_first_draws_the_plain_loops_picture(
    gl_renderer, array_renderer, tmp_path, mode, window, camera
):
    sign = 1 if mode == "mip" else -1
    win = WINDOWS[window]
    if sign < 0:  # the MinIP mirror: the same cases on the negated volume
        win = replace(win, level=-win.level)
    skipping = Scene(_layers(sign), MODES[mode], window=win)
    plain = replace(skipping, mode=replace(MODES[mode], skip=None))
    cam = CAMERAS[camera]
    a = gl_renderer.render(skipping, cam, SIZE)
    np.testing.assert_array_equal(a, gl_renderer.render(plain, cam, SIZE))
    drawn = a[..., 3] > 0
    assert drawn.mean() > 0.3  # the volume fills much of the picture
    grey = a[..., 0][drawn]
    if window == "inside":
        assert len(np.unique(grey)) > 10  # plate, layers and air in many levels
        assert (grey == (255 if sign > 0 else 0)).any()  # rays that saturate in the plate
    else:  # the whole volume outside the window: one grey, drawn (alpha 1)
        flat = 0 if (window == "above-all") == (sign > 0) else 255
        assert (grey == flat).all()
    assert_same_picture(a, array_renderer.render(skipping, cam, SIZE), tmp_path, mode + window)
