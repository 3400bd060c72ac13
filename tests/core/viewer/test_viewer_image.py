"""A 2D image (radiograph) in the real window: one view, shown as stored."""

from __future__ import annotations

import glfw
import numpy as np
import pytest
from viewer_phantom import phantom

from ownscan.core.viewer import Viewer, ViewerOptions
from ownscan.core.volume import SeriesInfo, Volume


def test_2d_image_opens_in_one_view(xvfb: str) -> None:
    img = np.tile(np.linspace(0, 1000, 64, dtype=np.float32), (48, 1))[None].astype(np.int16)
    d = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])  # rows L, columns I
    vol = Volume(
        img, spacing=(0.5, 0.5, 1.0), direction=d, modality="CR", info=SeriesInfo(modality="CR")
    )
    with Viewer([vol], ViewerOptions(size=(480, 360))) as v:
        shot = v.frame(capture=True)
        lay = v.layout()
        assert list(lay.views) == ["image"]
        part = shot[
            lay.views["image"].y : lay.views["image"].y + lay.views["image"].h,
            lay.views["image"].x : lay.views["image"].x + lay.views["image"].w,
        ]
        # the ramp runs left (dark) to right (bright) as stored
        row = part[part.shape[0] // 2].max(axis=-1).astype(int)
        assert part.std() > 20
        assert row[len(row) // 2 + 30] > row[len(row) // 2 - 30]
        v.on_key(glfw.KEY_2, glfw.PRESS, 0)  # 3D keys do nothing harmful on a 2D image
        v.frame()


def _orange(img: np.ndarray) -> np.ndarray:
    r, g, b = (img[..., c].astype(int) for c in range(3))
    return (r > 200) & (g > 110) & (g < 190) & (b < 90)


def test_volume_warnings_are_shown_on_the_images(xvfb: str) -> None:
    plain = phantom(n=24)
    warned = phantom(n=24)
    warned.warnings.extend(["irregular slice spacing: gap of 4.5 mm after slice 11", "tilt"])
    for vol, expect in ((plain, False), (warned, True)):
        with Viewer([vol], ViewerOptions(size=(640, 480))) as v:
            img = v.frame(capture=True)
            r = v.layout().views["axial"]
            top = img[r.y : r.y + r.h // 3, r.x : r.x + r.w]
            assert bool(_orange(top).sum() > 20) is expect


def test_colour_image_is_shown_in_colour(xvfb: str) -> None:
    rgb = np.zeros((1, 40, 60, 3), np.uint8)
    rgb[0, :, :20] = (220, 30, 30)  # red, green, blue bands from left to right
    rgb[0, :, 20:40] = (30, 220, 30)
    rgb[0, :, 40:] = (30, 30, 220)
    vol = Volume(rgb, spacing=(1.0, 1.0, 1.0), modality="US", info=SeriesInfo(modality="US"))
    with Viewer([vol], ViewerOptions(size=(480, 360))) as v:
        v.show_overlays = False
        shot = v.frame(capture=True)
        r = v.layout().views["image"]
        part = shot[r.y : r.y + r.h, r.x : r.x + r.w].astype(int)
        row = part[part.shape[0] // 2]
        lit = row[row.max(axis=-1) > 150]
        third = len(lit) // 3
        for band, channel in (
            (lit[: third - 2], 0),
            (lit[third + 2 : 2 * third - 2], 1),
            (lit[2 * third + 2 :], 2),
        ):
            assert (band.argmax(axis=-1) == channel).all()


def test_volume_over_the_gpu_limits_is_bricked_or_averaged_with_a_note(xvfb: str) -> None:
    """The 2D views sample the ray-caster's GpuVolume: deeper than the largest 3D texture it is
    split into bricks along k (the picture does not change), wider it is averaged by whole
    factors with a note on the first view."""
    from dataclasses import replace

    from ownscan.core.render import GpuVolume, RenderNote

    full = phantom(n=40)
    deep = replace(full, voxels=np.ascontiguousarray(full.voxels[:, ::2, ::2]), spacing=(2, 2, 1.5))
    with Viewer([deep], ViewerOptions(size=(480, 360))) as v:
        v.show_overlays = False
        whole = v.frame(capture=True)
        own = v._gpu_volume
        assert len(own.textures) == 1
        bricked = GpuVolume(v.ctx, deep, max_texture=20)  # 40 slices: 0-19, 19-38, 38-39
        try:
            assert bricked.brick_ranges == [(0, 19), (19, 38), (38, 39)] and not bricked.notes
            assert bricked.volume is deep  # nothing averaged: k is bricked, i and j fit
            v._gpu_volume = bricked
            split = v.frame(capture=True)
        finally:
            v._gpu_volume = own
            bricked.release()
        lay = v.layout()
        for name in ("axial", "coronal", "sagittal"):
            r = lay.views[name]
            a = whole[r.y : r.y + r.h, r.x : r.x + r.w].astype(int)
            b = split[r.y : r.y + r.h, r.x : r.x + r.w].astype(int)
            assert a.std() > 20 and np.abs(a - b).max() <= 1, name
    with Viewer([full], ViewerOptions(size=(480, 360))) as v:
        with pytest.warns(RenderNote, match="downsampled by 3x3x1"):
            averaged = GpuVolume(v.ctx, full, max_texture=16)
        try:
            assert averaged.volume.shape == (40, 14, 14)  # ceil(40 / 16) = 3 along i and j
            assert averaged.volume.spacing == (3.0, 3.0, 1.5) and len(averaged.textures) == 3
            assert averaged.notes and "downsampled by 3x3x1" in averaged.notes[0]
            v._gpu_volume = averaged
            img = v.frame(capture=True)
        finally:
            v._gpu_volume = v._raycast.renderer.upload(full)
            averaged.release()
        r = v.layout().views["axial"]
        assert _orange(img[r.y : r.y + r.h // 3, r.x : r.x + r.w]).sum() > 20  # the note
        assert img[r.y : r.y + r.h, r.x : r.x + r.w].std() > 20  # and the body
