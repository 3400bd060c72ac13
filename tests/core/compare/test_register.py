"""Registration truth: the Volume -> SimpleITK geometry, and known rigid motions of the real head
MR recovered within 0.5 mm (mean displacement over the head) and 0.5 degrees."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from volgen import moved_copy, rigid, write_volume_series

from ownscan.core import load_volume
from ownscan.core.compare import (
    POOR_QUALITY,
    RIGID_METHOD,
    Registration,
    register,
    scanner_registration,
    to_sitk,
)
from ownscan.core.volume import Volume


@pytest.fixture(scope="module")
def head(mr_head_dir: Path) -> Volume:
    return load_volume(mr_head_dir)


def test_sitk_image_has_the_volume_geometry(head: Volume) -> None:
    image = to_sitk(head)
    assert image.GetSize() == (head.shape[2], head.shape[1], head.shape[0])
    rng = np.random.default_rng(3)
    for ijk in [(0, 0, 0), (head.shape[2] - 1, head.shape[1] - 1, head.shape[0] - 1)] + [
        tuple(rng.uniform(0, 200, 3)) for _ in range(5)
    ]:
        itk = np.asarray(image.TransformContinuousIndexToPhysicalPoint([float(v) for v in ijk]))
        np.testing.assert_allclose(itk, head.index_to_lps(ijk), atol=1e-6)
    # and the pixels sit at the same index: voxels[k, j, i] is ITK's pixel (i, j, k)
    k, j, i = 200, 150, 100
    assert image.GetPixel(i, j, k) == pytest.approx(float(head.voxels[k, j, i]))


def test_a_mirrored_grid_keeps_its_geometry() -> None:
    """A left-handed grid (k running feet-wards, e.g. slices stored head first) is not
    'corrected' by the conversion."""
    d = np.array([[1.0, 0, 0], [0, 1, 0], [0, 0, -1]])
    v = Volume(np.zeros((4, 5, 6), np.int16), spacing=(0.5, 0.7, 2), origin=(1, 2, 3), direction=d)
    image = to_sitk(v)
    np.testing.assert_allclose(
        image.TransformIndexToPhysicalPoint([5, 4, 3]), v.index_to_lps((5, 4, 3)), atol=1e-9
    )


def _errors(
    found: Registration, truth: npt.NDArray[np.float64], points: npt.NDArray[np.float64]
) -> tuple[float, float]:
    """Mean displacement (mm) over ``points`` and the angle (degrees) between the rotations."""
    expected = points @ truth[:3, :3].T + truth[:3, 3]
    mean = float(np.linalg.norm(found.apply(points) - expected, axis=1).mean())
    r = found.matrix[:3, :3] @ truth[:3, :3].T
    angle = float(np.degrees(np.arccos(np.clip((np.trace(r) - 1) / 2, -1, 1))))
    return mean, angle


MOTIONS = [
    pytest.param((1.0, 1.0, 0.0), 3.0, (5.0, 0.0, -2.0), id="3deg-5mm"),
    pytest.param((1.0, -1.0, 1.0), 8.0, (-8.0, 10.0, 4.0), id="8deg-13mm"),
    pytest.param((0.3, 1.0, 0.5), 15.0, (12.0, -15.0, 9.0), id="15deg-21mm"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("axis", "degrees", "shift"), MOTIONS)
def test_known_motion_of_the_real_head_is_recovered(
    head: Volume, tmp_path: Path, axis: tuple[float, float, float], degrees: float, shift: tuple
) -> None:
    """The head MR moved (rotation about an oblique axis through the head, then a shift),
    seen on a coarser axial grid (the prior is oblique), written as a new DICOM series with a
    new Frame of Reference UID, read back like any scan and registered onto the original."""
    centre = head.index_to_lps((np.asarray(head.shape[::-1]) - 1) / 2.0)
    truth = rigid(axis, degrees, shift, centre)  # current LPS -> prior LPS
    shape, spacing = (110, 128, 112), (1.5, 1.5, 1.6)
    origin = centre - np.asarray(spacing) * (np.asarray(shape[::-1]) - 1) / 2.0
    voxels = moved_copy(head, truth, shape=shape, spacing=spacing, origin=origin)
    write_volume_series(
        tmp_path / "current",
        voxels,
        spacing=spacing,
        origin=origin,
        direction=np.eye(3),
        modality="MR",
        info=head.info,
    )
    current = load_volume(tmp_path / "current")
    assert current.info.frame_of_reference_uid != head.info.frame_of_reference_uid
    np.testing.assert_allclose(current.affine[:3, 3], origin, atol=1e-4)

    found = register(head, current)
    assert found.method == RIGID_METHOD
    assert found.start == "centre of mass"
    # the head: the current's voxels with signal (the air around it says nothing)
    ijk = np.argwhere(current.voxels > 0.15 * float(current.voxels.max()))[:, ::-1][::7]
    mean, angle = _errors(found, truth, current.index_to_lps(ijk))
    assert mean < 0.5, f"mean displacement {mean:.3f} mm"
    assert angle < 0.5, f"rotation off by {angle:.3f} degrees"
    assert not found.poor, found.notes
    assert found.quality is not None and found.quality > POOR_QUALITY
    # the same pair with the transform deliberately 10 mm off scores poor
    off = np.array(found.matrix)
    off[:3, 3] += (10.0, 0.0, 0.0)
    from ownscan.core.compare._register import _measure

    quality, _overlap = _measure(head, current, off)
    assert quality < POOR_QUALITY


@pytest.fixture(scope="module")
def small(head: Volume) -> Volume:
    """The head at a third of its resolution (~2 mm)."""
    return Volume(
        head.voxels[::3, ::3, ::3].copy(),
        spacing=tuple(3 * s for s in head.spacing),
        origin=head.origin,
        direction=head.direction,
        info=head.info,
    )


def test_same_frame_starts_from_identity(small: Volume) -> None:
    """A series registered onto itself (same Frame of Reference UID) stays where it is."""
    found = register(small, small)
    assert found.start == "identity"
    ijk = np.argwhere(small.voxels > 30)[:, ::-1]
    mean, angle = _errors(found, np.eye(4), small.index_to_lps(ijk))
    assert mean < 0.2 and angle < 0.2


def test_scanner_coordinates_warn_across_frames(head: Volume) -> None:
    other = Volume(head.voxels[:4], spacing=head.spacing, origin=head.origin)
    reg = scanner_registration(head, other)
    np.testing.assert_array_equal(reg.matrix, np.eye(4))
    assert reg.notes and "frames of reference" in reg.notes[0]
    assert scanner_registration(head, head).notes == ()


def test_unrelated_images_are_poor(small: Volume) -> None:
    """A head MR registered onto noise cannot be good, and says so."""
    rng = np.random.default_rng(5)
    noise = Volume(
        rng.integers(0, 300, size=(40, 40, 40)).astype(np.int16),
        spacing=(5.0, 5.0, 5.0),
        origin=small.index_to_lps((np.asarray(small.shape[::-1]) - 1) / 2.0) - 100.0,
    )
    found = register(small, noise)
    assert found.poor
    assert any("poor registration" in n for n in found.notes)
