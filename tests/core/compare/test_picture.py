"""The comparison picture's planes and sampling: true patient planes, exact at voxel centres,
nothing invented outside the series."""

from __future__ import annotations

import numpy as np
import pytest

from ownscan.core.commands import compare as command
from ownscan.core.compare import MODES, plane_through, sample
from ownscan.core.volume import Volume


def _oblique() -> Volume:
    rng = np.random.default_rng(2)
    c, s = np.cos(0.3), np.sin(0.3)
    d = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return Volume(
        rng.integers(-500, 500, (6, 7, 8)).astype(np.int16),
        spacing=(0.8, 0.9, 2.5),
        origin=(-3.0, 4.0, 10.0),
        direction=d,
    )


def test_sample_is_exact_at_voxel_centres_and_linear_between() -> None:
    v = _oblique()
    kji = np.array([(0, 0, 0), (5, 6, 7), (2, 3, 4)])
    got = sample(v, v.index_to_lps(kji[:, ::-1]))
    np.testing.assert_allclose(got, v.voxels[kji[:, 0], kji[:, 1], kji[:, 2]], atol=1e-3)
    half = sample(v, v.index_to_lps((4.5, 3.0, 2.0)))
    between = (float(v.voxels[2, 3, 4]) + float(v.voxels[2, 3, 5])) / 2
    assert half == pytest.approx(between, abs=1e-3)
    # half a voxel beyond the last centre is still the series; further out is nothing
    assert np.isfinite(sample(v, v.index_to_lps((7.4, 0, 0))))
    assert np.isnan(sample(v, v.index_to_lps((7.6, 0, 0))))
    assert np.isnan(sample(v, v.index_to_lps((0, 0, -0.6))))


@pytest.mark.parametrize(
    ("spec", "right", "down", "axis"),
    [
        ("axial", (1, 0, 0), (0, 1, 0), 2),  # patient's left on the right, anterior up
        ("coronal:6.5", (1, 0, 0), (0, 0, -1), 1),  # head up
        ("sagittal:25%", (0, 1, 0), (0, 0, -1), 0),  # anterior on the left
    ],
)
def test_planes_are_true_patient_planes(spec, right, down, axis) -> None:
    v = _oblique()
    plane = plane_through(v, spec)
    pts = plane.points()
    np.testing.assert_allclose(pts[0, 1] - pts[0, 0], np.multiply(right, plane.pixel_mm))
    np.testing.assert_allclose(pts[1, 0] - pts[0, 0], np.multiply(down, plane.pixel_mm))
    assert np.ptp(pts[..., axis]) == pytest.approx(0.0)
    col, row = plane.pixel_of(pts[3, 5])
    assert (col, row) == pytest.approx((5, 3))
    if spec == "coronal:6.5":
        assert plane.position_mm == 6.5


def test_bad_slices_name_the_problem() -> None:
    v = _oblique()
    with pytest.raises(ValueError, match="one of axial, coronal, sagittal"):
        plane_through(v, "oblique")
    with pytest.raises(ValueError, match="outside the current series"):
        plane_through(v, "axial:900")
    with pytest.raises(ValueError, match="number of mm or a percentage"):
        plane_through(v, "axial:middle")


def test_the_command_offers_the_modes_the_picture_draws() -> None:
    assert command.MODES == MODES
