"""Slice planes, orientation labels and the pixel -> texture mapping, without GL."""

from __future__ import annotations

import math

import numpy as np
import pytest
from viewer_phantom import phantom

from ownscan.core.viewer import PLANES, orientation_label
from ownscan.core.viewer._geometry import (
    fit_mm_per_px,
    lps_to_pixel,
    native_plane,
    pixel_to_lps,
    px_to_tex_matrix,
    slice_step_mm,
)
from ownscan.core.volume import Volume


@pytest.mark.parametrize(
    ("vector", "label"),
    [
        ((1, 0, 0), "L"),
        ((-1, 0, 0), "R"),
        ((0, 1, 0), "P"),
        ((0, -1, 0), "A"),
        ((0, 0, 1), "S"),
        ((0, 0, -1), "I"),
        ((1, -1, 0), "LA"),
        ((0.9, 0.0, -0.3), "LI"),
        ((0.98, 0.1, 0.0), "L"),  # a component under 0.25 adds no letter
        ((-0.2, -0.3, 0.93), "SA"),
    ],
    ids=lambda v: str(v),
)
def test_orientation_label(vector: tuple[float, ...], label: str) -> None:
    assert orientation_label(vector) == label


def test_orientation_label_rejects_zero() -> None:
    with pytest.raises(ValueError, match="non-zero"):
        orientation_label((0, 0, 0))


@pytest.mark.parametrize(
    ("plane", "left", "right", "top", "bottom"),
    [
        ("axial", "R", "L", "A", "P"),
        ("coronal", "R", "L", "S", "I"),
        ("sagittal", "A", "P", "S", "I"),
    ],
)
def test_planes_follow_the_radiological_convention(
    plane: str, left: str, right: str, top: str, bottom: str
) -> None:
    p = PLANES[plane]
    assert orientation_label(-p.right()) == left
    assert orientation_label(p.right()) == right
    assert orientation_label(-p.down()) == top
    assert orientation_label(p.down()) == bottom
    # the three are orthonormal
    m = np.stack([p.right(), p.down(), p.normal()])
    np.testing.assert_allclose(m @ m.T, np.eye(3), atol=1e-12)


def _oblique() -> np.ndarray:
    a = math.radians(20.0)
    rz = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    b = math.radians(-12.0)
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    return rz @ rx


@pytest.mark.parametrize("direction", [np.eye(3), _oblique()], ids=["aligned", "oblique"])
@pytest.mark.parametrize("plane", ["axial", "coronal", "sagittal"])
def test_pixel_to_texture_matches_volume_geometry(direction: np.ndarray, plane: str) -> None:
    """The shader's one matrix equals the Volume's own LPS -> index mapping."""
    vol = phantom(n=24, spacing=(0.8, 1.1, 2.0), direction=direction)
    p = PLANES[plane]
    size = (300, 200)
    centre = vol.index_to_lps([10.0, 9.0, 7.0])
    mm = 0.37
    m = px_to_tex_matrix(vol, size, centre, p, mm)
    rng = np.random.default_rng(1)
    for px, py in rng.uniform(0, 300, size=(8, 2)):
        lps = pixel_to_lps(px, py, size, centre, p, mm)
        ijk = vol.lps_to_index(lps)
        tex_expected = (ijk + 0.5) / np.array([24, 24, 24])
        tex = (m @ np.array([px, py, 0.0, 1.0]))[:3]
        np.testing.assert_allclose(tex, tex_expected, atol=1e-9)
        back = lps_to_pixel(lps, size, centre, p, mm)
        np.testing.assert_allclose(back, (px, py), atol=1e-9)


def test_view_centre_pixel_is_the_centre_point() -> None:
    p = PLANES["axial"]
    c = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(pixel_to_lps(50, 40, (100, 80), c, p, 0.5), c)


def test_slice_step() -> None:
    vol = phantom(n=16, spacing=(0.7, 0.7, 3.0))
    assert slice_step_mm(vol, PLANES["axial"].normal()) == pytest.approx(3.0)
    assert slice_step_mm(vol, PLANES["coronal"].normal()) == pytest.approx(0.7)
    assert slice_step_mm(vol, PLANES["sagittal"].normal()) == pytest.approx(0.7)


def test_fit_shows_the_whole_volume() -> None:
    vol = phantom(n=20, spacing=(1.0, 1.0, 2.0))  # 20 x 20 x 40 mm
    mm = fit_mm_per_px(vol, PLANES["coronal"], (200, 100))
    # coronal: 20 mm wide, 40 mm high -> the height decides: 40 mm in 100 px (plus 2 %)
    assert mm == pytest.approx(0.4 * 1.02)


def test_native_plane_of_an_image_uses_its_direction_cosines() -> None:
    # a radiograph whose rows run towards the patient's left and columns towards the feet
    d = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])  # columns: i, j, k
    img = Volume(np.zeros((1, 8, 8), np.int16), direction=d)
    p = native_plane(img)
    assert orientation_label(p.right()) == "L"
    assert orientation_label(p.down()) == "I"
    assert orientation_label(-p.down()) == "S"
