"""A 2D image (radiograph) in the real window: one view, shown as stored."""

from __future__ import annotations

import glfw
import numpy as np
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


def test_volume_larger_than_the_gpu_limit_is_averaged_with_a_note(xvfb: str) -> None:
    """A volume over the 3D texture size is averaged by whole factors, geometry kept exact."""
    from ownscan.core.viewer._gpu import GpuVolume

    vol = phantom(n=40, spacing=(1.0, 1.0, 1.5))
    with Viewer([vol], ViewerOptions(size=(320, 240))) as v:
        gv = GpuVolume(v.ctx, vol, max_size=16)
        try:
            small = gv.volume
            assert small.shape == (13, 13, 13)  # ceil(40 / 16) = 3 per axis
            assert small.spacing == (3.0, 3.0, 4.5)
            # the block of voxels 0..2 is centred where voxel 1 was
            np.testing.assert_allclose(small.origin, vol.index_to_lps([1.0, 1.0, 1.0]))
            assert small.voxels.dtype == np.int16
            assert small.voxels[0, 0, 0] == round(float(vol.voxels[:3, :3, :3].mean()))
            assert gv.notes and "averaged 3x3x3" in gv.notes[0]
        finally:
            gv.release()
        budget = GpuVolume(v.ctx, vol, max_bytes=40 * 40 * 20 * 2)
        try:
            assert budget.volume.voxels.nbytes <= 40 * 40 * 20 * 2 and budget.notes
        finally:
            budget.release()
