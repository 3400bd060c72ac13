"""MIP / MinIP skipping over RUNNING_BRICK bricks: the pooled bound table covers each brick
widened by one voxel, and the brick-by-brick loop (one bound look per brick, early termination
tested once per brick) draws the same picture, to the bit, as the plain loop."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from gl_support import assert_same_picture

from ownscan.core.plugin_host import PluginHost
from ownscan.core.render import Camera, Scene
from ownscan.core.render._setup import RUNNING_BRICK, _block_minmax, pooled_bounds
from ownscan.core.volume import Volume, WindowPreset

MODES = {m.name: m for m in PluginHost().modes()}
SIZE = (96, 80)


@pytest.mark.parametrize("shape", [(37, 20, 50), (16, 16, 16), (1, 33, 5), (17, 3, 64)], ids=str)
def test_pooled_bounds_cover_each_brick_widened_by_one_voxel(shape):
    rng = np.random.default_rng(5)
    data = rng.integers(0, 65536, size=shape, dtype=np.uint16)
    lo, hi = _block_minmax(data)
    pooled_lo, pooled_hi = pooled_bounds(lo, largest=False), pooled_bounds(hi, largest=True)
    nb = tuple(-(-n // RUNNING_BRICK) for n in shape)
    assert pooled_lo.shape == pooled_hi.shape == nb
    assert pooled_lo.dtype == pooled_hi.dtype == np.float32
    # each brick's box widened by one voxel, clipped to the volume: the same as the box of
    # the volume padded by repeating its edge voxels (they lie in the clipped box already)
    b = RUNNING_BRICK
    padded = np.pad(
        data, [(1, n * b - size + 1) for n, size in zip(nb, shape, strict=True)], "edge"
    )
    boxes = np.lib.stride_tricks.sliding_window_view(padded, (b + 2,) * 3)[::b, ::b, ::b]
    scale = np.float32(65535.0)
    np.testing.assert_array_equal(pooled_lo, boxes.min(axis=(3, 4, 5)).astype(np.float32) / scale)
    np.testing.assert_array_equal(pooled_hi, boxes.max(axis=(3, 4, 5)).astype(np.float32) / scale)


def _steps(sign: int = 1) -> Volume:
    """Boxes of several values in air, their faces off the bound bricks' grid (a brick holds
    parts of two boxes), and a bright core in one: rays meet a rising maximum (falling minimum
    with ``sign`` -1), skip later bricks, and stop mid-brick where the window saturates."""
    v = np.full((50, 70, 75), -1000, np.int16)
    v[5:45, 7:60, 9:70] = -300
    v[12:40, 17:50, 23:61] = 100
    v[20:33, 30:41, 31:47] = 900
    v[26:29, 33:36, 38:42] = 1500  # above the window's top: saturates
    rng = np.random.default_rng(2)
    v = v + rng.integers(-20, 21, size=v.shape).astype(np.int16)
    return Volume((sign * v).astype(np.int16), (1.0, 1.3, 1.7), modality="CT")


TOP = WindowPreset("top", 1600.0, 400.0)  # -400 .. 1200
LOW = WindowPreset("low", 1600.0, -400.0)  # -1200 .. 400

SCENES = [
    ("mip", 1, "mip", TOP, Camera(azimuth=25, elevation=15)),
    ("mip-perspective", 1, "mip", TOP, Camera(-60, -35, projection="perspective")),
    ("mip-oblique", 1, "mip", TOP, Camera(azimuth=100, elevation=50, roll=20)),
    ("minip", -1, "minip", LOW, Camera(azimuth=-25, elevation=10)),
    ("minip-oblique", -1, "minip", LOW, Camera(azimuth=200, elevation=-40, roll=30)),
]


@pytest.mark.usefixtures("gl_check")
@pytest.mark.parametrize(
    ("name", "sign", "mode", "window", "camera"), SCENES, ids=[s[0] for s in SCENES]
)
def test_brick_by_brick_draws_the_same_picture(
    gl_renderer, array_renderer, tmp_path, name, sign, mode, window, camera
):
    vol = _steps(sign)
    skipping = Scene(vol, MODES[mode], window=window)
    plain = replace(skipping, mode=replace(MODES[mode], skip=None))
    a = gl_renderer.render(skipping, camera, SIZE)
    grey = a[..., 0][a[..., 3] > 0]
    assert (a[..., 3] > 0).mean() > 0.2  # the volume fills much of the picture
    assert len(np.unique(grey)) > 20  # many grey levels, not a flat picture
    assert (grey == (255 if sign > 0 else 0)).any()  # some rays saturate (stop mid-brick)
    np.testing.assert_array_equal(a, gl_renderer.render(plain, camera, SIZE), err_msg=name)
    assert_same_picture(a, array_renderer.render(skipping, camera, SIZE), tmp_path, name)
    quick = gl_renderer.render(skipping, camera, SIZE, interactive=True)
    np.testing.assert_array_equal(quick, gl_renderer.render(plain, camera, SIZE, interactive=True))
