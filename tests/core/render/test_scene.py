"""Scene, transfer functions, volume preparation (downsampling with a note), backends."""

from __future__ import annotations

import os
import sys
import warnings
from dataclasses import replace

import numpy as np
import pytest
from scenes import TF, small_ct

from ownscan.core.plugin_host import PluginHost
from ownscan.core.render import (
    ArrayRenderer,
    Camera,
    GLRenderer,
    Renderer,
    RenderNote,
    Scene,
    TransferFunction,
    create_renderer,
    prepare_volume,
)
from ownscan.core.volume import Volume, WindowPreset

MODES = {m.name: m for m in PluginHost().modes()}


def test_transfer_function_table_interpolates_in_volume_units():
    tf = TransferFunction("t", [(0, 0, 0, 0, 0), (100, 1, 0.5, 0, 1)])
    lut = tf.lut(-155.0, 355.0)  # entry e = -155 + 2 e
    assert lut.shape == (256, 4) and lut.dtype == np.float32
    assert lut[77, 3] == pytest.approx(0.0)  # -1
    assert lut[128, 3] == pytest.approx(1.0)  # 101 -> held at the last point
    assert lut[102, :] == pytest.approx([0.49, 0.245, 0.0, 0.49])  # 49
    rel = TransferFunction("r", [(0, 0, 0, 0, 0), (1, 1, 1, 1, 1)], relative=True)
    lut = rel.lut(0.0, 255.0, WindowPreset("w", 100.0, 100.0))  # ramp over 50..150
    assert lut[100, 3] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="sorted by value"):
        TransferFunction("bad", [(10, 0, 0, 0, 0), (0, 1, 1, 1, 1)])
    with pytest.raises(ValueError, match="relative to a window"):
        rel.lut(0.0, 1.0)


def test_scene_validates_with_the_valid_choices():
    vol = small_ct()
    with pytest.raises(ValueError, match="needs a transfer function"):
        Scene(vol, MODES["dvr"])
    with pytest.raises(
        ValueError, match=r"no parameter\(s\) \['thickness'\]; valid: \['iso_value'\]"
    ):
        Scene(vol, MODES["iso"], parameters={"thickness": 3.0})
    with pytest.raises(ValueError, match="clip_box"):
        Scene(vol, MODES["mip"], clip_box=((0.5, 0.2), (0, 1), (0, 1)))
    rgb = Volume(np.zeros((2, 4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="colour volume"):
        Scene(rgb, MODES["mip"])


def test_quantisation_keeps_the_values():
    vol = small_ct()
    prep = prepare_volume(vol)
    assert prep.data.dtype == np.uint16
    back = prep.value_min + prep.data.astype(np.float64) / 65535 * (prep.value_max - prep.value_min)
    assert np.abs(back - vol.voxels).max() < (prep.value_max - prep.value_min) / 65535
    assert prepare_volume(vol) is prep  # cached


def test_too_large_volume_is_downsampled_with_a_note(gl_ctx, gl_check, tmp_path):
    """Over the budget, a mode the renderer cannot draw brick by brick (a third party's GLSL:
    here mip's with a comment) is drawn averaged down, with the note; mip itself is drawn at
    full resolution through bricks (tests/core/render/test_out_of_core.py), silently."""
    vol = small_ct()
    small_budget = GLRenderer(ctx=gl_ctx, memory_budget=vol.voxels.size)  # half of what R16 needs
    own_mip = replace(MODES["mip"], name="own_mip", glsl=MODES["mip"].glsl + "// a copy\n")
    with pytest.warns(RenderNote, match=r"downsampled by .* to \d+x\d+x\d+"):
        img = small_budget.render(Scene(vol, own_mip), Camera(), (96, 96))
    assert small_budget.notes and "exceeds" in small_budget.notes[0]
    assert "brick by brick" in small_budget.notes[1]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RenderNote)
        small_budget.render(Scene(vol, MODES["mip"]), Camera(), (96, 96))
    assert small_budget.notes == [] and small_budget.bricks is not None
    with pytest.warns(RenderNote):
        prep = prepare_volume(vol, max_bytes=vol.voxels.size)
    assert prep.data.nbytes <= vol.voxels.size
    # the downsampled volume covers at least the original: first voxel corner at the same place
    lo = vol.index_to_lps([-0.5, -0.5, -0.5])
    assert np.allclose(prep.volume.index_to_lps([-0.5, -0.5, -0.5]), lo)
    assert all(a >= b for a, b in zip(prep.volume.extent_mm, vol.extent_mm, strict=True))
    # not cropped: the downsampled picture covers the same region as the full one
    full = ArrayRenderer(prefer_gpu=False).render(Scene(vol, MODES["mip"]), Camera(), (96, 96))
    assert abs(int((img[..., 3] > 0).sum()) - int((full[..., 3] > 0).sum())) < 0.03 * 96 * 96
    small_budget.close()


def test_backends():
    cpu = create_renderer("cpu")
    assert isinstance(cpu, ArrayRenderer) and isinstance(cpu, Renderer)
    with pytest.raises(ValueError, match="unknown backend 'vulkan'; valid: gl, cpu, auto"):
        create_renderer("vulkan")
    # this machine has EGL (CI installs Mesa): auto must pick GL here
    auto = create_renderer("auto")
    try:
        assert auto.name == "gl" and isinstance(auto, Renderer)
    finally:
        auto.close()


CUDA_DEVICE = os.path.exists("/dev/nvidiactl")  # the NVIDIA driver's device, without cupy


@pytest.mark.skipif(CUDA_DEVICE, reason="a CUDA device is present (cupy is used there)")
def test_array_renderer_without_cuda_is_numpy():
    r = ArrayRenderer()
    # no CUDA device: the guarded detection (cupy installed or not) lands on numpy
    assert r.name == "cpu" and r.xp is np
    img = r.render(Scene(small_ct(), MODES["dvr"], transfer_function=TF), Camera(), (32, 24))
    assert img.shape == (24, 32, 4) and img.dtype == np.uint8 and img[..., :3].std() > 5


def test_cupy_missing_is_declined_quietly(monkeypatch, caplog):
    from ownscan.core.render._array import _cupy_if_usable, array_module

    monkeypatch.setitem(sys.modules, "cupy", None)  # as if not installed: import fails
    with caplog.at_level("DEBUG", logger="ownscan.core.render._array"):
        assert _cupy_if_usable() is None
    assert "cupy not usable" in caplog.text
    assert array_module(prefer_gpu=True) is np


@pytest.mark.skipif(CUDA_DEVICE, reason="a CUDA device is present")
def test_cupy_installed_without_cuda_is_declined(caplog):
    """Real cupy (``pip install ownscan[gpu]``) on a machine without a CUDA driver: its
    runtime raises on the device count; the renderer says why (debug log) and uses numpy."""
    pytest.importorskip("cupy")
    from ownscan.core.render._array import _cupy_if_usable

    with caplog.at_level("DEBUG", logger="ownscan.core.render._array"):
        assert _cupy_if_usable() is None
    assert "cupy not usable" in caplog.text and "cuda" in caplog.text.lower()


@pytest.mark.skipif(not CUDA_DEVICE, reason="needs a CUDA device")
def test_cupy_renderer_draws_the_numpy_picture(tmp_path):
    pytest.importorskip("cupy")
    from gl_support import assert_same_picture

    gpu, cpu = ArrayRenderer(prefer_gpu=True), ArrayRenderer(prefer_gpu=False)
    assert gpu.name == "cupy" and cpu.name == "cpu"
    for mode in ("mip", "dvr"):
        scene = Scene(small_ct(), MODES[mode], transfer_function=TF)
        cam = Camera(azimuth=30, elevation=10)
        a, b = gpu.render(scene, cam, (48, 40)), cpu.render(scene, cam, (48, 40))
        assert a[..., :3].std() > 5
        assert_same_picture(a, b, tmp_path, f"cupy-{mode}")


@pytest.mark.parametrize("mode", ["mpr", "mip", "dvr", "iso"])
def test_deep_volume_is_split_into_bricks_not_cropped(gl_ctx, gl_check, tmp_path, mode):
    from gl_support import assert_same_picture

    from ownscan.core.render.phantom import ct_phantom

    vol = ct_phantom((70, 24, 24), spacing=(12.0, 10.0, 4.0), seed=3)
    bricked = GLRenderer(ctx=gl_ctx, max_texture=24)  # 70 slices: bricks 0-23, 23-46, 46-69
    try:
        scene = Scene(vol, MODES[mode], transfer_function=TF, parameters={})
        cam = Camera.for_plane("sagittal") if mode == "mpr" else Camera(azimuth=70, elevation=15)
        a = bricked.render(scene, cam, (64, 96))  # no RenderNote: nothing is downsampled
        assert bricked.notes == []
        gpu = bricked.upload(vol)  # the volume the render just used, not a new upload
        assert len(gpu.textures) == 3 and gpu.brick_ranges == [(0, 23), (23, 46), (46, 69)]
        b = ArrayRenderer(prefer_gpu=False).render(scene, cam, (64, 96))
        assert a[..., :3].std() > 5
        assert_same_picture(a, b, tmp_path, f"bricks-{mode}")
    finally:
        bricked.close()


@pytest.mark.parametrize(
    ("shape", "grid"),
    [((16, 28, 30), (2, 2, 1)), ((30, 16, 29), (2, 1, 2)), ((29, 30, 12), (1, 2, 2))],
    ids=["ij", "ik", "jk"],
)
@pytest.mark.parametrize("mode", ["mpr", "mip", "dvr", "iso"])
def test_volume_wider_than_a_texture_is_bricked_in_any_axis(
    gl_ctx, gl_check, tmp_path, mode, shape, grid
):
    """Bricked in i, j or k (four bricks at most), the picture is the unbricked one: same
    bounds as GL against the arrays; no note (nothing averaged down)."""
    from gl_support import assert_same_picture

    from ownscan.core.render.phantom import ct_phantom

    vol = ct_phantom(shape, spacing=(7.0, 6.0, 5.0), seed=4)
    bricked = GLRenderer(ctx=gl_ctx, max_texture=16)  # 28-30 voxels: bricks 0-15, 15-...
    whole = GLRenderer(ctx=gl_ctx)
    try:
        scene = Scene(vol, MODES[mode], transfer_function=TF, parameters={})
        cam = Camera.for_plane("coronal") if mode == "mpr" else Camera(azimuth=35, elevation=25)
        with warnings.catch_warnings():
            warnings.simplefilter("error", RenderNote)  # nothing is downsampled
            a = bricked.render(scene, cam, (72, 64))
        gpu = bricked.upload(vol)
        assert tuple(len(g) for g in gpu.brick_grid) == grid and not bricked.notes
        assert gpu.volume is vol and len(gpu.textures) == grid[0] * grid[1] * grid[2]
        b = whole.render(scene, cam, (72, 64))
        assert len(whole.upload(vol).textures) == 1
        assert a[..., :3].std() > 5
        assert_same_picture(a, b, tmp_path, f"bricks3d-{mode}")
    finally:
        bricked.close()
        whole.close()


def test_render_texture_leaves_the_same_picture_on_the_gpu(gl_renderer, gl_check):
    from ownscan.core.render._setup import to_uint8

    scene = Scene(small_ct(), MODES["dvr"], transfer_function=TF)
    cam = Camera(azimuth=40)
    image = gl_renderer.render(scene, cam, (80, 60))
    tex = gl_renderer.render_texture(scene, cam, (80, 60))
    assert tex.size == (80, 60) and tex.components == 4
    on_gpu = np.frombuffer(tex.read(), dtype=np.float32).reshape(60, 80, 4)
    assert np.array_equal(to_uint8(on_gpu), image)


@pytest.mark.parametrize(
    "cam", [Camera(), Camera(azimuth=40, elevation=-20, zoom=1.7), Camera.for_plane("sagittal")]
)
def test_view_pixel_mm_is_the_frames_without_preparing(cam):
    from ownscan.core.render._setup import frame_for, view_pixel_mm

    vol = small_ct()
    frame = frame_for(prepare_volume(vol), Scene(vol, MODES["mip"]), cam, (90, 50))
    assert view_pixel_mm(vol, cam, (90, 50)) == frame.pixel_mm
