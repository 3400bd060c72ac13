"""Geometry with phantoms whose answer is known: sizes in mm, left/right, head/feet, obliquity,
anisotropic voxels; both renderers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scenes import rot_z

from ownscan.core.plugin_host import PluginHost
from ownscan.core.render import (
    Camera,
    Scene,
    frame_for,
    orientation_label,
    prepare_volume,
    view_labels,
)
from ownscan.core.render.phantom import sphere_volume
from ownscan.core.volume import Volume, WindowPreset

pytestmark = pytest.mark.usefixtures("gl_check")

MODES = {m.name: m for m in PluginHost().modes()}
WIN = WindowPreset("w", 1000.0, 500.0)
SIZE = (128, 128)


@pytest.fixture(params=["gl", "array"])
def renderer(request, gl_renderer, array_renderer):
    return gl_renderer if request.param == "gl" else array_renderer


def _centroid(mask: np.ndarray) -> tuple[float, float]:
    rows, cols = np.nonzero(mask)
    return float(cols.mean()), float(rows.mean())  # (x right, y down)


@pytest.mark.parametrize(
    ("spacing", "direction"),
    [((1.0, 1.0, 1.0), None), ((0.6, 1.3, 2.5), None), ((0.8, 0.8, 1.6), rot_z(30))],
    ids=["isotropic", "anisotropic", "oblique"],
)
def test_sphere_projects_to_its_radius(renderer, spacing, direction):
    vol = sphere_volume(
        (40, 56, 64), spacing, (4.0, -3.0, 5.0), radius_mm=12.0, direction=direction
    )
    scene = Scene(vol, MODES["mip"], window=WIN)
    for cam in (
        Camera(),
        Camera(azimuth=90),
        Camera(elevation=-90),
        Camera(azimuth=33, elevation=21),
    ):
        img = renderer.render(scene, cam, SIZE)
        frame = frame_for(prepare_volume(vol), scene, cam, SIZE)
        bright = img[..., 0] >= 128
        radius_mm = math.sqrt(bright.sum() / math.pi) * frame.pixel_mm
        assert radius_mm == pytest.approx(12.0, abs=max(0.6, 1.5 * frame.pixel_mm))
        # and where it is: the centre's projection
        b = frame.basis_lps
        rel = np.array([4.0, -3.0, 5.0]) - frame.centre_lps
        want_x = SIZE[0] / 2 + rel @ b[:, 0] / frame.pixel_mm
        want_y = SIZE[1] / 2 - rel @ b[:, 1] / frame.pixel_mm
        got_x, got_y = _centroid(bright)
        assert got_x + 0.5 == pytest.approx(want_x, abs=0.75)
        assert got_y + 0.5 == pytest.approx(want_y, abs=0.75)


def _marker_volume(direction: np.ndarray, marker_lps: tuple[float, float, float]) -> Volume:
    """A faint box of tissue with one bright marker at ``marker_lps``."""
    vol = sphere_volume(
        (48, 48, 48),
        (2.0, 2.0, 2.0),
        marker_lps,
        radius_mm=5.0,
        direction=direction,
        inside=1000,
        outside=100,
    )
    return vol


@pytest.mark.parametrize(
    "direction",
    [np.eye(3), np.diag([-1.0, 1.0, 1.0]), np.diag([1.0, -1.0, -1.0]), rot_z(-40)],
    ids=["LPS", "i-towards-right", "j-anterior-k-feet", "oblique"],
)
def test_patient_left_is_image_right_in_the_anterior_view(renderer, direction):
    # the marker sits on the patient's left (+x) and towards the head (+z)
    vol = _marker_volume(direction, (25.0, 0.0, 20.0))
    img = renderer.render(Scene(vol, MODES["mip"], window=WIN), Camera(), SIZE)
    x, y = _centroid(img[..., 0] > 200)
    assert x > SIZE[0] / 2 + 10, "patient's left must be on the image's right"
    assert y < SIZE[1] / 2 - 8, "the head must be up"
    # seen from behind it swaps sides; from the feet (axial) the head is no longer up/down
    back = renderer.render(Scene(vol, MODES["mip"], window=WIN), Camera(azimuth=180), SIZE)
    assert _centroid(back[..., 0] > 200)[0] < SIZE[0] / 2 - 10


def test_axial_and_sagittal_follow_radiology(renderer):
    # marker anterior (-y) and on the patient's left (+x)
    vol = _marker_volume(np.eye(3), (20.0, -25.0, 0.0))
    axial = renderer.render(Scene(vol, MODES["mpr"], window=WIN), Camera.for_plane("axial"), SIZE)
    x, y = _centroid(axial[..., 0] > 200)
    assert x > SIZE[0] / 2 + 10 and y < SIZE[1] / 2 - 10  # left on the right, anterior up
    sag = renderer.render(
        Scene(vol, MODES["mpr"], window=WIN, slice_offset_mm=20.0),
        Camera.for_plane("sagittal"),
        SIZE,
    )
    x, _ = _centroid(sag[..., 0] > 200)
    assert x < SIZE[0] / 2 - 10  # anterior on the left, as seen from the patient's left


def test_orientation_labels_follow_the_camera():
    assert view_labels(Camera()) == {"right": "L", "left": "R", "top": "S", "bottom": "I"}
    assert view_labels(Camera.for_plane("axial")) == {
        "right": "L",
        "left": "R",
        "top": "A",
        "bottom": "P",
    }
    assert view_labels(Camera.for_plane("sagittal")) == {
        "right": "P",
        "left": "A",
        "top": "S",
        "bottom": "I",
    }
    assert orientation_label((0.7, -0.7, 0.1)) == "LA"
    assert orientation_label((-0.2, 0.0, -1.0)) == "I"
    assert view_labels(Camera(azimuth=45))["right"] in ("LP", "PL")


def test_camera_basis_is_a_rotation():
    for cam in (Camera(), Camera(azimuth=73, elevation=-41, roll=12)):
        b = cam.basis_lps()
        assert np.allclose(b.T @ b, np.eye(3))
        assert np.linalg.det(b) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="unknown projection 'fisheye'; valid: orthographic"):
        Camera(projection="fisheye")
    with pytest.raises(ValueError, match="unknown plane 'diagonal'"):
        Camera.for_plane("diagonal")


def test_perspective_shows_the_near_side_larger(gl_renderer):
    # two equal spheres, one in front (anterior) and one behind
    near = sphere_volume((48, 64, 48), (2.0, 2.0, 2.0), (-25.0, -35.0, 0.0), radius_mm=10.0)
    far = sphere_volume((48, 64, 48), (2.0, 2.0, 2.0), (25.0, 35.0, 0.0), radius_mm=10.0)
    vol = Volume(np.maximum(near.voxels, far.voxels), near.spacing, near.origin, near.direction)
    img = gl_renderer.render(
        Scene(vol, MODES["mip"], window=WIN), Camera(projection="perspective", fov_deg=60), SIZE
    )
    bright = img[..., 0] >= 128
    left, right = bright[:, : SIZE[0] // 2].sum(), bright[:, SIZE[0] // 2 :].sum()
    assert left > 1.3 * right  # the near sphere is on the patient's right = image left
