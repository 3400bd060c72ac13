"""Empty-space skipping: the brick distance table, the visible-value range and the GL skeleton's
jumps must never drop a sample the mode could see (pictures identical with and without)."""

from __future__ import annotations

import functools
import itertools
from dataclasses import replace

import numpy as np
import pytest
from gl_support import assert_same_picture
from scenes import TF, oblique_ct, small_ct

from ownscan.core.plugin_host import PluginHost
from ownscan.core.render import (
    ArrayContext,
    Camera,
    Scene,
    TransferFunction,
    frame_for,
    prepare_volume,
)
from ownscan.core.render._gradient import GradientLayout, sobel_gradient
from ownscan.core.render._setup import (
    BRICK,
    SKIP_DISTANCE_CAP,
    _block_minmax,
    gradient_texels,
    skip_distance,
)
from ownscan.core.render.phantom import sphere_volume
from ownscan.core.volume import Volume, WindowPreset

MODES = {m.name: m for m in PluginHost().modes()}
SIZE = (96, 80)

# a transfer function with a transparent gap between two visible ranges
GAP_TF = TransferFunction(
    "gap",
    [
        (-1000, 0.0, 0.0, 0.0, 0.0),
        (-300, 0.7, 0.5, 0.4, 0.0),
        (-100, 0.8, 0.5, 0.4, 0.3),
        (0, 0.8, 0.5, 0.4, 0.0),
        (250, 0.9, 0.9, 0.8, 0.0),
        (600, 1.0, 1.0, 1.0, 0.8),
    ],
)


@pytest.mark.parametrize(
    "shape", [(9, 13, 17), (4, 4, 4), (1, 5, 3), (8, 12, 16), (3, 1, 21)], ids=str
)
def test_block_min_max_cover_each_block_widened_by_one_voxel(shape):
    rng = np.random.default_rng(3)
    data = rng.integers(0, 65536, size=shape, dtype=np.uint16)
    lo, hi = _block_minmax(data)
    nb = tuple(-(-n // BRICK) for n in shape)
    assert lo.shape == hi.shape == nb
    for k, j, i in itertools.product(*(range(n) for n in nb)):
        box = data[
            max(0, BRICK * k - 1) : BRICK * (k + 1) + 1,
            max(0, BRICK * j - 1) : BRICK * (j + 1) + 1,
            max(0, BRICK * i - 1) : BRICK * (i + 1) + 1,
        ]
        assert lo[k, j, i] == np.float32(box.min()) / np.float32(65535.0)
        assert hi[k, j, i] == np.float32(box.max()) / np.float32(65535.0)


def _brute_force_distance(occ: np.ndarray) -> np.ndarray:
    """Chebyshev distance of every cell to the nearest occupied one, capped, the slow way."""
    full = np.argwhere(occ)
    out = np.full(occ.shape, SKIP_DISTANCE_CAP, dtype=np.int64)
    for idx in itertools.product(*(range(n) for n in occ.shape)):
        if len(full):
            d = np.abs(full - np.asarray(idx)).max(axis=1).min()
            out[idx] = min(int(d), SKIP_DISTANCE_CAP)
    return out


@pytest.mark.parametrize(
    ("shape", "density"),
    [((5, 7, 9), 0.05), ((6, 6, 6), 0.3), ((1, 9, 4), 0.1), ((3, 40, 2), 0.02)],
    ids=["sparse", "dense", "flat", "long"],
)
def test_skip_distance_is_the_chebyshev_distance(shape, density):
    rng = np.random.default_rng(7)
    occ = (rng.random(shape) < density).astype(np.uint8)
    occ.flat[rng.integers(occ.size)] = 1  # at least one occupied brick
    got = skip_distance(occ)
    assert got.dtype == np.uint8 and got.shape == occ.shape
    np.testing.assert_array_equal(got, _brute_force_distance(occ))


def test_skip_distance_without_anything_to_see_and_beyond_the_cap():
    empty = np.zeros((4, 5, 6), dtype=np.uint8)
    assert (skip_distance(empty) == SKIP_DISTANCE_CAP).all()
    line = np.zeros((1, 1, 2 * SKIP_DISTANCE_CAP + 5), dtype=np.uint8)
    line[0, 0, 0] = 1
    expected = np.minimum(np.arange(line.shape[2]), SKIP_DISTANCE_CAP)
    np.testing.assert_array_equal(skip_distance(line)[0, 0], expected)
    assert (skip_distance(np.ones((3, 3, 3), dtype=np.uint8)) == 0).all()


@pytest.mark.parametrize("tf_name", ["test", "gap", "ct-bone", "ct-soft-tissue", "mr-default"])
def test_values_outside_the_visible_range_are_transparent(tf_name):
    tfs = {t.name: t for t in PluginHost().transfer_functions()}
    tf = {"test": TF, "gap": GAP_TF}.get(tf_name) or tfs[tf_name]
    vol = small_ct()
    frame = frame_for(
        prepare_volume(vol), Scene(vol, MODES["dvr"], transfer_function=tf), Camera(), SIZE
    )
    ctx = ArrayContext(np, prepare_volume(vol), frame)
    values = np.linspace(0.0, 1.0, 200_001, dtype=np.float32)
    alpha = ctx.transfer(values)[:, 3]
    lo, hi = frame.visible_range
    outside = (values <= lo) | (values >= hi)
    assert (alpha[outside] == 0).all()
    # and the range is tight: within two table entries of the first and last visible values
    seen = values[alpha > 0]
    assert len(seen) > 0
    assert seen.min() - 2 / 255 <= lo < seen.min()
    assert seen.max() < hi <= seen.max() + 2 / 255


def test_fully_transparent_transfer_function_has_an_empty_visible_range():
    vol = small_ct()
    clear = TransferFunction("clear", [(-1000, 1, 1, 1, 0.0), (3000, 1, 1, 1, 0.0)])
    frame = frame_for(
        prepare_volume(vol), Scene(vol, MODES["dvr"], transfer_function=clear), Camera(), SIZE
    )
    lo, hi = frame.visible_range
    assert lo > hi
    assert frame.skip_distance is not None and (frame.skip_distance > 0).all()


def _corner_balls() -> Volume:
    """Two small balls on one side of a large empty volume: bricks on the other side lie
    beyond the distance cap from anything, so rays make long jumps."""
    vol = sphere_volume((40, 340, 290), spacing=(1.0, 1.0, 3.0), centre_lps=(-120, -125, -35))
    other = sphere_volume((40, 340, 290), spacing=(1.0, 1.0, 3.0), centre_lps=(115, -120, 30))
    vol.voxels = np.maximum(vol.voxels, other.voxels) - 500
    vol.modality = "CT"
    return vol


def _corner_holes() -> Volume:
    """The corner balls as holes: low values in a brighter volume (for MinIP)."""
    vol = _corner_balls()
    return replace(vol, voxels=(-vol.voxels).astype(np.int16))


def _plateaus(sign: int = 1) -> Volume:
    """Constant boxes (so that whole bricks hold one value) in air: a box 10 HU above the
    BLOB window's low end around a bright core; ``sign`` -1 turns the values around (the box
    10 HU below the window's top, for MinIP). A window rule off by a little changes rays
    that meet only the box."""
    v = np.full((40, 48, 56), -1000, np.int16)
    v[8:32, 10:38, 10:46] = -240
    v[16:24, 18:30, 20:36] = 400
    return Volume((sign * v).astype(np.int16), (1.0, 1.2, 2.0), modality="CT")


def _inverted_ct() -> Volume:
    """The small CT shown inverted (as MONOCHROME1): window_level turns the ramp around."""
    return replace(small_ct(), invert=True)


WIDE = WindowPreset("wide", 1200.0, -500.0)
SOFT = WindowPreset("soft tissue", 400.0, 40.0)
LUNG = WindowPreset("lung", 1500.0, -600.0)
BALL_EDGE = WindowPreset("ball edge", 300.0, -250.0)
BLOB = WindowPreset("plateaus", 500.0, 0.0)  # -250 .. 250
FULL = WindowPreset("full", 1200.0, 0.0)

# (id, volume, mode, scene options, camera)
SCENES = [
    ("dvr-corners", _corner_balls, "dvr", {}, Camera(azimuth=35, elevation=25)),
    (
        "dvr-corners-perspective",
        _corner_balls,
        "dvr",
        {},
        Camera(azimuth=-140, elevation=-30, projection="perspective"),
    ),
    ("dvr-gap", small_ct, "dvr", {"transfer_function": GAP_TF}, Camera(azimuth=70)),
    (
        "dvr-gap-oblique-clipped",
        oblique_ct,
        "dvr",
        {"transfer_function": GAP_TF, "clip_box": ((0.1, 0.8), (0.0, 0.7), (0.2, 1.0))},
        Camera(azimuth=-20, elevation=40, roll=15),
    ),
    ("dvr-unshaded-oblique", oblique_ct, "dvr", {"shading": False}, Camera(azimuth=120)),
    ("iso-corners", _corner_balls, "iso", {"parameters": {"iso_value": 0.0}}, Camera(azimuth=60)),
    ("minip", small_ct, "minip", {"window": WIDE}, Camera(elevation=-90, azimuth=10)),
    (
        "minip-oblique-perspective-clipped",
        oblique_ct,
        "minip",
        {"window": WIDE, "clip_box": ((0.2, 0.9), (0.0, 1.0), (0.1, 0.8))},
        Camera(elevation=-80, azimuth=-15, projection="perspective"),
    ),
    ("minip-corners", _corner_holes, "minip", {"window": FULL}, Camera(elevation=60)),
    ("mip-maximum", small_ct, "mip", {}, Camera(azimuth=-30, elevation=20)),
    ("mip-maximum-oblique", oblique_ct, "mip", {}, Camera(azimuth=100, roll=30)),
    ("mip-maximum-corners", _corner_balls, "mip", {}, Camera(azimuth=10)),
    # windows that saturate: bricks below the low end are jumped over, rays end at the top
    ("mip-window", small_ct, "mip", {"window": SOFT}, Camera(azimuth=15, elevation=-10)),
    (
        "mip-window-oblique-perspective-clipped",
        oblique_ct,
        "mip",
        {"window": SOFT, "clip_box": ((0.1, 0.9), (0.2, 1.0), (0.0, 0.8))},
        Camera(azimuth=-60, elevation=30, projection="perspective"),
    ),
    ("mip-window-corners", _corner_balls, "mip", {"window": BALL_EDGE}, Camera(elevation=40)),
    ("mip-window-inverted", _inverted_ct, "mip", {"window": SOFT}, Camera(azimuth=200)),
    ("mip-window-plateaus", _plateaus, "mip", {"window": BLOB}, Camera(azimuth=30, elevation=20)),
    (
        "minip-window-plateaus",
        functools.partial(_plateaus, -1),
        "minip",
        {"window": BLOB, "slab_mm": 0.0},
        Camera(azimuth=-20, elevation=10),
    ),
    ("minip-window", small_ct, "minip", {"window": LUNG, "slab_mm": 0.0}, Camera(azimuth=40)),
    ("minip-window-inverted", _inverted_ct, "minip", {"window": LUNG}, Camera(elevation=-70)),
    (
        "iso-oblique-perspective",
        oblique_ct,
        "iso",
        {"parameters": {"iso_value": 200.0}},
        Camera(elevation=-50, projection="perspective"),
    ),
]


@pytest.mark.usefixtures("gl_check")
@pytest.mark.parametrize(
    ("name", "volume", "mode", "options", "camera"), SCENES, ids=[s[0] for s in SCENES]
)
def test_skipping_draws_the_same_picture(
    gl_renderer, array_renderer, tmp_path, name, volume, mode, options, camera
):
    vol = volume()
    options = {"transfer_function": TF, **options}
    skipping = Scene(vol, MODES[mode], **options)
    plain = replace(skipping, mode=replace(MODES[mode], skip=None))
    a = gl_renderer.render(skipping, camera, SIZE)
    assert (a[..., 3] > 0).mean() > 0.01  # something is drawn
    assert a[..., :3].std() > 5
    # the same samples are taken where anything can be seen: the same picture, to the bit
    b = gl_renderer.render(plain, camera, SIZE)
    np.testing.assert_array_equal(a, b, err_msg=name)
    # and the array renderer (which skips nothing by jumping) agrees as everywhere
    assert_same_picture(a, array_renderer.render(skipping, camera, SIZE), tmp_path, name)
    # the interactive pass (twice the step) skips the same way
    quick = gl_renderer.render(skipping, camera, SIZE, interactive=True)
    np.testing.assert_array_equal(quick, gl_renderer.render(plain, camera, SIZE, interactive=True))


def _full(q: np.ndarray) -> GradientLayout:
    """The gradient texture's layout with one texel per voxel."""
    nz, ny, nx = q.shape
    return GradientLayout((nx, ny, nz), (1, 1, 1))


@pytest.mark.parametrize(
    "shape", [(5, 7, 9), (1, 1, 1), (3, 1, 6), (2, 5, 1), (40, 33, 17)], ids=str
)
def test_gradient_texels_are_clamped_sobel_differences(shape):
    """The gradient texture's values before their bytes (test_gradient_bytes.py):
    floor(S / 32) per axis, S the Sobel sum (the difference along the axis weighted
    (1, 2, 1) x (1, 2, 1) across it), indices clamped, times the axis's byte scale."""
    rng = np.random.default_rng(1)
    q = rng.integers(0, 65536, size=shape, dtype=np.uint16)
    q.flat[0], q.flat[-1] = 0, 65535  # the extremes of the differences
    layout = _full(q)  # one texel per voxel (test_gradient_compact: blocks)
    got = sobel_gradient(q, 0, 0, shape[0], layout)
    assert got.shape == (*shape, 3) and got.dtype == np.float32
    assert gradient_texels(q, layout).shape == (*shape, 3)
    p = np.pad(q.astype(np.int64), 1, mode="edge")  # clamped indices, the independent way
    nz, ny, nx = shape
    w = {-1: 1, 0: 2, 1: 1}
    for channel in range(3):  # i, j, k: the array's last, middle, first axis
        s = np.zeros(shape, dtype=np.int64)
        for a in (-1, 0, 1):
            for b in (-1, 0, 1):
                lo, hi = [1, 1, 1], [1, 1, 1]  # offsets (k, j, i) into the padded array
                across = [ax for ax in (0, 1, 2) if ax != 2 - channel]
                for ax, o in zip(across, (a, b), strict=True):
                    lo[ax] += o
                    hi[ax] += o
                lo[2 - channel] -= 1
                hi[2 - channel] += 1
                up = p[hi[0] : hi[0] + nz, hi[1] : hi[1] + ny, hi[2] : hi[2] + nx]
                down = p[lo[0] : lo[0] + nz, lo[1] : lo[1] + ny, lo[2] : lo[2] + nx]
                s += w[a] * w[b] * (up - down)
        want = np.floor_divide(s, 32).astype(np.float32) * np.float32(layout.scales[channel])
        np.testing.assert_array_equal(got[..., channel], want)


def test_gradient_texels_reach_both_ends_of_the_range():
    """A full-range step: the values at both signs (floor(+-32767.5) per voxel), the texels
    at both ends of the signed byte."""
    q = np.zeros((3, 3, 4), dtype=np.uint16)
    q[..., 2:] = 65535
    layout = _full(q)
    c = np.float32(layout.scales[0])
    up = sobel_gradient(q, 0, 0, 3, layout)[..., 0]
    down = sobel_gradient(q[..., ::-1].copy(), 0, 0, 3, layout)[..., 0]
    assert up.max() == np.float32(32767) * c and down.min() == np.float32(-32768) * c
    assert gradient_texels(q, layout)[..., 0].max() == 127
    assert gradient_texels(q[..., ::-1].copy(), layout)[..., 0].min() == -127
