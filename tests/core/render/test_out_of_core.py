"""Volumes beyond the GPU's limits drawn brick by brick at full resolution (_outofcore.py).

A volume that fits both ways is drawn by a renderer with a small largest texture (and budget),
which splits it into 3x2x2 bricks drawn in one pass each, and by one drawing it in one pass:
every built-in mode, orthographic and perspective, oblique views and an oblique volume must
agree within the GL-vs-array bounds (tests/gl_support.py), without a note. The one-pass
renderer is given a budget the gradient texture does not fit, so both shade with the same
26-fetch gradient (the compact gradient texture is the gradient of 2x2x2 block means:
docs/RENDER.md)."""

from __future__ import annotations

import math
import warnings
from dataclasses import replace

import numpy as np
import pytest
from band_mode import band_mode
from gl_support import assert_same_picture
from scenes import TF, rot_z

from ownscan.core.plugin_host import PluginHost
from ownscan.core.render import Camera, GLRenderer, RenderNote, Scene
from ownscan.core.render._outofcore import (
    composition,
    fits_one_pass,
    plan_bricks,
    view_order,
)
from ownscan.core.render._setup import frame_for, prepare_volume
from ownscan.core.render.phantom import ct_phantom
from ownscan.core.volume import Volume, WindowPreset

pytestmark = pytest.mark.usefixtures("gl_check")

MODES = {m.name: m for m in PluginHost().modes()}
WIDE = WindowPreset("wide", 1200.0, -500.0)
SIZE = (120, 100)
SHAPE = (40, 36, 44)  # (nz, ny, nx)
MAX_TEXTURE = 24  # with 4 voxels of halo: 3 bricks along i, 2 along j and k
GRID = (3, 2, 2)

# (id, mode, scene options, camera)
CASES = [
    ("mpr", "mpr", {}, Camera(azimuth=35, elevation=-60, roll=10)),
    ("mpr-slab", "mpr", {"slab_mm": 15.0}, Camera(azimuth=80, elevation=10)),
    ("mip", "mip", {}, Camera(azimuth=35, elevation=25)),
    ("minip", "minip", {"window": WIDE}, Camera(azimuth=20, elevation=-40)),
    ("xray", "xray", {"window": WIDE}, Camera(azimuth=40, elevation=15)),
    (
        "xray-clipped",
        "xray",
        {"window": WIDE, "clip_box": ((0.1, 0.7), (0.0, 1.0), (0.3, 0.9))},
        Camera(azimuth=40),
    ),
    ("dvr", "dvr", {}, Camera(azimuth=30, elevation=20)),
    ("dvr-unshaded", "dvr", {"shading": False}, Camera(azimuth=-60, elevation=35)),
    ("iso", "iso", {"parameters": {"iso_value": 500.0}}, Camera(azimuth=15, elevation=25)),
    ("iso-skin", "iso", {"parameters": {"iso_value": -400.0}}, Camera(azimuth=-20, elevation=5)),
]


def _ct() -> Volume:
    return ct_phantom(SHAPE, spacing=(7.0, 6.0, 5.0), seed=4)


def _oblique_ct() -> Volume:
    v = _ct()
    c, s = math.cos(math.radians(10)), math.sin(math.radians(10))
    rx = np.array([[1.0, 0, 0], [0, c, -s], [0, s, c]])
    return Volume(v.voxels, v.spacing, (-150.0, -120.0, -140.0), rot_z(25) @ rx, modality="CT")


@pytest.fixture(scope="module")
def one_pass(gl_ctx):
    """Draws in one pass, shading with the 26 fetches (its gradient texture over budget)."""
    with gl_ctx:
        # the R16 voxels (2 bytes each) fit, the compact gradient texture (docs/RENDER.md) does not
        r = GLRenderer(ctx=gl_ctx, memory_budget=2 * math.prod(SHAPE) + 4096)
    yield r
    with gl_ctx:
        r.close()


@pytest.fixture(scope="module", params=["resident", "streamed"])
def bricked(gl_ctx, request):
    """Draws brick by brick: all bricks kept (budget 1 GiB), or streamed through a budget of
    about a third of them."""
    budget = 1 << 30 if request.param == "resident" else 60_000
    with gl_ctx:
        r = GLRenderer(ctx=gl_ctx, max_texture=MAX_TEXTURE, memory_budget=budget)
    yield r
    with gl_ctx:
        r.close()


def _same(bricked, one_pass, scene, camera, tmp_path, name, grid=GRID, coverage=0.05):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RenderNote)  # nothing is averaged down
        a = bricked.render(scene, camera, SIZE)
    assert bricked.notes == []
    bricks = bricked.bricks
    assert bricks is not None and bricks.source is scene.volume
    if grid is not None:
        assert tuple(len(c) - 1 for c in bricks.plan.cuts) == grid
    b = one_pass.render(scene, camera, SIZE)
    assert one_pass.bricks is None and one_pass.upload(scene.volume).volume is scene.volume
    assert (a[..., 3] > 0).mean() > coverage and a[..., :3].std() > 5
    assert_same_picture(a, b, tmp_path, name)
    return a


@pytest.mark.parametrize(("name", "mode", "options", "camera"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("projection", ["orthographic", "perspective"])
def test_bricked_picture_is_the_one_pass_picture(
    bricked, one_pass, tmp_path, name, mode, options, camera, projection
):
    vol = _ct()
    cam = replace(camera, projection=projection, zoom=1.3 if projection == "perspective" else 1.0)
    scene = Scene(vol, MODES[mode], transfer_function=TF, **options)
    _same(bricked, one_pass, scene, cam, tmp_path, f"{name}-{projection}")
    if bricked.bricks is not None and not bricked.bricks.plan.resident:
        assert bricked.bricks.uploaded_bytes > bricked.memory_budget  # uploaded per frame


@pytest.mark.parametrize("mode", ["mip", "dvr", "iso", "mpr"])
def test_oblique_volume_bricked(bricked, one_pass, tmp_path, mode):
    scene = Scene(_oblique_ct(), MODES[mode], transfer_function=TF, parameters={})
    cam = Camera(azimuth=-50, elevation=30, projection="perspective") if mode != "mpr" else Camera()
    _same(bricked, one_pass, scene, cam, tmp_path, f"oblique-{mode}")


def test_bricks_that_cannot_change_the_picture_are_not_drawn(bricked, one_pass, tmp_path):
    """Air around a body in one corner: dvr skips the empty bricks; MIP in a bone window draws
    the bricks below the window from their bound; the pictures stay the one-pass ones."""
    v = np.full(SHAPE, -1000.0, np.float32)
    v[4:18, 3:16, 5:20] = 40.0
    v[7:14, 6:12, 8:15] = 900.0
    vol = Volume(v, (7.0, 6.0, 5.0), modality="CT")
    cam = Camera(azimuth=30, elevation=20)
    _same(bricked, one_pass, Scene(vol, MODES["dvr"], transfer_function=TF), cam, tmp_path, "dvr")
    assert bricked.bricks.last_passes["skip"] >= 6
    bone = WindowPreset("bone", 2000.0, 300.0)  # low end -700 HU: air shows black
    _same(bricked, one_pass, Scene(vol, MODES["mip"], window=bone), cam, tmp_path, "mip")
    assert bricked.bricks.last_passes["constant"] >= 6


@pytest.mark.parametrize("projection", ["orthographic", "perspective"])
def test_bricks_out_of_the_view_are_not_drawn(bricked, one_pass, tmp_path, projection):
    """Zoomed in on a corner: the bricks whose footprint misses the picture are neither drawn
    nor uploaded, and the picture stays the one-pass one."""
    cam = Camera(azimuth=10, elevation=5, zoom=3.0, pan_mm=(-60.0, 40.0), projection=projection)
    scene = Scene(_ct(), MODES["mip"])
    _same(bricked, one_pass, scene, cam, tmp_path, f"zoomed-{projection}", coverage=0.5)
    assert bricked.bricks.last_passes["skip"] >= 3


def test_a_coarse_step_widens_the_halo(bricked, one_pass, tmp_path):
    """Samples 3 voxels apart read further around a brick (iso looks a step back): the bricks
    are planned again with a wider halo, and the picture stays the one-pass one."""
    vol = _ct()
    scene = Scene(
        vol, MODES["iso"], parameters={"iso_value": -400.0}, samples_per_mm=1.0 / (3 * 5.0)
    )
    cam = Camera(azimuth=15, elevation=25)
    _same(bricked, one_pass, scene, cam, tmp_path, "coarse", grid=None)
    assert bricked.bricks.plan.halo == 5


def test_a_third_party_mode_is_averaged_down_with_a_note(gl_ctx):
    """A mode whose GLSL is not a built-in one may keep state of its own along a ray: it is
    drawn from the averaged-down volume, saying so, while a built-in one is not."""
    vol = _ct()
    band = band_mode()
    assert composition(band) is None and composition(MODES["dvr"]) == "under"
    r = GLRenderer(ctx=gl_ctx, max_texture=MAX_TEXTURE)
    try:
        with pytest.warns(RenderNote, match="downsampled"):
            picture = r.render(Scene(vol, band), Camera(azimuth=30), (64, 48))
        assert picture[..., 3].max() > 0
        assert any("downsampled" in n for n in r.notes)
        assert any("'band'" in n and "brick by brick" in n for n in r.notes)
        assert r.bricks is None
        r.render(Scene(vol, MODES["mip"]), Camera(azimuth=30), (64, 48))
        assert r.notes == [] and r.bricks is not None
    finally:
        r.close()


# -- without GL -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("dims", "max_texture", "budget", "grid", "resident"),
    [
        ((44, 36, 40), 24, 1 << 30, (3, 2, 2), True),
        ((512, 512, 2000), 2048, 512 << 20, (1, 1, 2), False),
        ((1024, 1024, 1000), 2048, 1 << 30, (2, 1, 1), False),
        ((300, 40, 40), 64, 1 << 30, (6, 1, 1), True),
        ((100, 100, 100), 2048, 300_000, (3, 2, 2), False),
    ],
)
def test_plan_tiles_the_volume_within_the_limits(dims, max_texture, budget, grid, resident):
    plan = plan_bricks(dims, max_texture, budget)
    assert tuple(len(c) - 1 for c in plan.cuts) == grid and plan.resident == resident
    owned = np.zeros(dims[::-1], np.uint8) if math.prod(dims) < 1e7 else None
    for brick in plan.bricks:
        assert max(brick.size) <= max_texture and brick.nbytes <= budget
        for (a, b), first, size, n in zip(brick.own, brick.first, brick.size, dims, strict=True):
            # the halo around the own voxels, cut at the volume's faces
            assert first == max(0, a - plan.halo) and first + size == min(n, b + plan.halo)
        if owned is not None:
            (i0, i1), (j0, j1), (k0, k1) = brick.own
            owned[k0:k1, j0:j1, i0:i1] += 1
    if owned is not None:
        assert (owned == 1).all()  # every voxel is one brick's own
    if resident:
        assert plan.nbytes <= budget


def test_plan_refuses_a_budget_too_small():
    with pytest.raises(ValueError, match="cannot be split into bricks"):
        plan_bricks((64, 64, 64), 2048, 4_000)


def test_one_pass_when_the_volume_fits():
    vol = _ct()
    assert fits_one_pass(vol, 2048, 1 << 30)
    assert not fits_one_pass(vol, MAX_TEXTURE, 1 << 30)  # 8 bricks: more than one pass samples
    assert not fits_one_pass(vol, 2048, math.prod(SHAPE))  # half the R16 bytes


@pytest.mark.parametrize(
    "camera",
    [
        Camera(azimuth=30, elevation=20),
        Camera(azimuth=200, elevation=-50, roll=20),
        Camera(azimuth=-30, elevation=10, projection="perspective", zoom=1.3),
        Camera(azimuth=120, elevation=60, projection="perspective", zoom=4.0),  # the eye inside
    ],
)
def test_every_ray_meets_its_bricks_in_view_order(camera):
    """Along sampled rays (as the skeleton casts them), the bricks met come in view order."""
    vol = _oblique_ct()
    prepared = prepare_volume(vol)
    frame = frame_for(prepared, Scene(vol, MODES["mip"]), camera, (40, 30))
    plan = plan_bricks(prepared.dims, MAX_TEXTURE, 1 << 30)
    order = {b.index: n for n, b in enumerate(view_order(plan.bricks, plan, frame))}
    dims = np.asarray(prepared.dims, np.float64)
    b = frame.basis_lps
    xs, ys = np.meshgrid(np.arange(40) + 0.5, np.arange(30) + 0.5)
    ndc = np.stack([xs / 40 * 2 - 1, ys / 30 * 2 - 1], -1).reshape(-1, 2)
    focal = (
        frame.centre_lps
        + b[:, 0] * (frame.pan_mm[0] + ndc[:, :1] * frame.half_mm[0])
        + b[:, 1] * (frame.pan_mm[1] + ndc[:, 1:] * frame.half_mm[1])
    )
    if frame.perspective:
        origin = np.broadcast_to(
            frame.centre_lps + b[:, 2] * frame.eye_distance_mm, focal.shape
        ).copy()
        direction = focal - origin
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    else:
        origin = focal + b[:, 2] * frame.eye_distance_mm
        direction = np.broadcast_to(-b[:, 2], focal.shape)
    cuts = [np.asarray(c[1:-1]) for c in plan.cuts]
    counts = [len(c) - 1 for c in plan.cuts]
    met = 0
    for t in np.linspace(0.0, 2.5 * frame.eye_distance_mm, 600):
        p = origin + t * direction
        voxel = ((frame.lps_to_tex[:3, :3] @ p.T).T + frame.lps_to_tex[:3, 3]) * dims
        inside = ((voxel >= 0) & (voxel < dims)).all(axis=1)
        idx = [np.searchsorted(cuts[a], voxel[:, a], side="right") for a in range(3)]
        brick = idx[0] + counts[0] * (idx[1] + counts[1] * idx[2])
        rank = np.array([order[int(i)] for i in brick])
        if t == 0.0:
            last = np.where(inside, rank, -1)
            continue
        assert (rank[inside] >= last[inside]).all(), "a ray met a brick out of order"
        met += int((inside & (rank > last) & (last >= 0)).sum())
        last = np.where(inside, rank, last)
    assert met > 50  # rays did pass from brick to brick
