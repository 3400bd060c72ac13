"""The real head MR (oblique, anisotropic): GL and array agree, and the picture lies where an
independent forward projection of the voxels through the affine puts it, in three views."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from gl_support import assert_same_picture

from ownscan.core.plugin_host import PluginHost
from ownscan.core.render import Camera, Scene, TransferFunction, frame_for, prepare_volume
from ownscan.core.volume import Volume, WindowPreset

pytestmark = pytest.mark.usefixtures("gl_check")

MODES = {m.name: m for m in PluginHost().modes()}
SIZE = (96, 96)


@pytest.fixture(scope="session")
def mr_head(mr_head_dir) -> Volume:
    """Read here with pydicom, independently of ownscan's series assembly: slices sorted along
    the normal of ImageOrientationPatient, geometry straight from the headers."""
    sets = [pydicom.dcmread(p) for p in sorted(mr_head_dir.glob("*.dcm"))]
    iop = np.asarray(sets[0].ImageOrientationPatient, dtype=float)
    row, col = iop[:3], iop[3:]
    normal = np.cross(row, col)
    sets.sort(key=lambda ds: float(normal @ np.asarray(ds.ImagePositionPatient, dtype=float)))
    ipp = [np.asarray(ds.ImagePositionPatient, dtype=float) for ds in sets]
    dz = float(normal @ (ipp[-1] - ipp[0])) / (len(sets) - 1)
    dy, dx = (float(v) for v in sets[0].PixelSpacing)  # row spacing, column spacing
    voxels = np.stack([ds.pixel_array for ds in sets]).astype(np.int16)
    return Volume(
        voxels, (dx, dy, dz), tuple(ipp[0]), np.stack([row, col, normal], axis=1), modality="MR"
    )


def _forward_projection(vol: Volume, camera: Camera, threshold: float, frame) -> np.ndarray:
    """Pixels hit by at least one voxel >= threshold, projecting voxel centres orthographically."""
    k, j, i = np.nonzero(vol.voxels[::2, ::2, ::2] >= threshold)
    lps = vol.index_to_lps(np.stack([i, j, k], axis=1) * 2.0)
    b = camera.basis_lps()
    rel = lps - frame.centre_lps
    col = np.floor(SIZE[0] / 2 + rel @ b[:, 0] / frame.pixel_mm).astype(int)
    row = np.floor(SIZE[1] / 2 - rel @ b[:, 1] / frame.pixel_mm).astype(int)
    mask = np.zeros((SIZE[1], SIZE[0]), dtype=bool)
    ok = (col >= 0) & (col < SIZE[0]) & (row >= 0) & (row < SIZE[1])
    mask[row[ok], col[ok]] = True
    return mask


@pytest.mark.parametrize("plane", ["anterior", "sagittal", "axial"])
def test_real_mr_lies_where_its_affine_puts_it(gl_renderer, mr_head, plane):
    threshold = 0.3 * float(np.percentile(mr_head.voxels[::4, ::4, ::4], 99))
    window = WindowPreset("edge", 2.0, threshold - 1.0)  # grey >= 128 where max >= threshold
    camera = Camera.for_plane(plane)
    scene = Scene(mr_head, MODES["mip"], window=window)
    img = gl_renderer.render(scene, camera, SIZE)
    seen = img[..., 0] >= 128
    frame = frame_for(prepare_volume(mr_head), scene, camera, SIZE)
    expected = _forward_projection(mr_head, camera, threshold, frame)
    iou = (seen & expected).sum() / (seen | expected).sum()
    assert seen.sum() > 0.2 * seen.size
    assert iou > 0.93, f"{plane}: silhouette overlap {iou:.3f}"


def test_real_mr_gl_and_array_agree(gl_renderer, array_renderer, mr_head, tmp_path):
    tf = {t.name: t for t in PluginHost().transfer_functions()}["mr-default"]
    assert isinstance(tf, TransferFunction)
    for mode, camera in (("dvr", Camera(azimuth=20)), ("mpr", Camera.for_plane("sagittal"))):
        scene = Scene(mr_head, MODES[mode], transfer_function=tf)
        a = gl_renderer.render(scene, camera, SIZE)
        b = array_renderer.render(scene, camera, SIZE)
        assert a[..., :3].std() > 10
        assert_same_picture(a, b, tmp_path, f"mr-{mode}")
