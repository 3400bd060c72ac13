"""Every mode drawn by GL (llvmpipe via EGL) and by the array renderer on the same scene: the
pictures must agree (max <= 3 levels, <= 0.1% of pixels off by more than 2)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from gl_support import assert_same_picture
from scenes import TF, oblique_ct, small_ct

from ownscan.core.plugin_host import PluginHost
from ownscan.core.render import Camera, Scene
from ownscan.core.volume import WindowPreset

pytestmark = pytest.mark.usefixtures("gl_check")

WIDE = WindowPreset("wide", 1200.0, -500.0)

MODES = {m.name: m for m in PluginHost().modes()}
SIZE = (128, 112)

# (id, mode, scene options, camera)
CASES = [
    ("mpr-axial", "mpr", {}, Camera.for_plane("axial")),
    ("mpr-coronal-offset", "mpr", {"slice_offset_mm": -20.0}, Camera.for_plane("coronal")),
    ("mpr-sagittal-slab", "mpr", {"slab_mm": 15.0}, Camera.for_plane("sagittal")),
    ("mpr-oblique", "mpr", {}, Camera(azimuth=35, elevation=-60, roll=10)),
    ("mip", "mip", {}, Camera(azimuth=20, elevation=15)),
    ("mip-perspective", "mip", {}, Camera(azimuth=-30, projection="perspective", zoom=1.3)),
    ("minip", "minip", {"window": WIDE}, Camera(elevation=-90)),
    ("xray", "xray", {"window": WIDE}, Camera()),
    (
        "xray-clipped",
        "xray",
        {"window": WIDE, "clip_box": ((0.1, 0.7), (0.0, 1.0), (0.3, 0.9))},
        Camera(azimuth=40),
    ),
    ("dvr", "dvr", {}, Camera(azimuth=30, elevation=20)),
    ("dvr-unshaded", "dvr", {"shading": False}, Camera(azimuth=-60)),
    (
        "dvr-clipped-perspective",
        "dvr",
        {"clip_box": ((0.0, 0.6), (0.2, 1.0), (0.0, 1.0))},
        Camera(azimuth=200, elevation=-10, projection="perspective"),
    ),
    ("iso", "iso", {"parameters": {"iso_value": 500.0}}, Camera(azimuth=15, elevation=25)),
    ("iso-skin", "iso", {"parameters": {"iso_value": -400.0}}, Camera(azimuth=-20)),
]


@pytest.mark.parametrize(("name", "mode", "options", "camera"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("volume", ["axis-aligned", "oblique"])
def test_gl_and_array_draw_the_same_picture(
    gl_renderer, array_renderer, tmp_path, name, mode, options, camera, volume
):
    vol = small_ct() if volume == "axis-aligned" else oblique_ct()
    scene = Scene(vol, MODES[mode], transfer_function=TF, **options)
    a = gl_renderer.render(scene, camera, SIZE)
    b = array_renderer.render(scene, camera, SIZE)
    assert a.shape == (SIZE[1], SIZE[0], 4)
    # the picture is not empty (a test that cannot fail is no test)
    assert (a[..., 3] > 0).mean() > 0.05
    assert a[..., :3].std() > 5
    assert_same_picture(a, b, tmp_path, f"{name}-{volume}")


def test_empty_space_skipping_changes_nothing(gl_renderer, tmp_path):
    vol = small_ct()
    cam = Camera(azimuth=50, elevation=30)
    for mode in ("dvr", "iso"):
        skipping = Scene(vol, MODES[mode], transfer_function=TF, parameters={})
        plain = replace(skipping, mode=replace(MODES[mode], skip=None))
        a = gl_renderer.render(skipping, cam, SIZE)
        b = gl_renderer.render(plain, cam, SIZE)
        assert_same_picture(a, b, tmp_path, f"skip-{mode}")
    # and there is something to skip: bricks of air are empty for the test transfer function
    from ownscan.core.render import frame_for, prepare_volume

    frame = frame_for(
        prepare_volume(vol), Scene(vol, MODES["dvr"], transfer_function=TF), cam, SIZE
    )
    assert frame.occupancy is not None
    assert 0.05 < frame.occupancy.mean() < 0.95


def test_interactive_pass_is_coarser_but_similar(gl_renderer, array_renderer):
    scene = Scene(small_ct(), MODES["mip"])
    cam = Camera(azimuth=10)
    full = gl_renderer.render(scene, cam, SIZE)
    quick = gl_renderer.render(scene, cam, SIZE, interactive=True)
    assert quick.shape == full.shape
    diff = np.abs(quick.astype(int) - full.astype(int))
    assert 0 < diff.mean() < 20  # a different, lower-quality picture of the same thing
    assert np.array_equal(quick, array_renderer.render(scene, cam, SIZE, interactive=True))
