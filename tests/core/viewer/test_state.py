"""Viewing state without a window: scrolling, crosshair, window/level, zoom, measurements."""

from __future__ import annotations

import numpy as np
import pytest
from viewer_phantom import phantom

from ownscan.core.viewer import Measurement, SeriesView


def test_initial_state() -> None:
    sv = SeriesView(phantom(n=20))
    assert sv.view_names == ("axial", "coronal", "sagittal", "3d")
    assert sv.window == (1600.0, 200.0) and sv.window_name == "body"
    np.testing.assert_allclose(sv.cursor_lps, [0.0, 0.0, 0.0], atol=1e-9)


def test_scroll_moves_one_slice_and_clamps() -> None:
    vol = phantom(n=20, spacing=(1.0, 1.0, 2.5))
    sv = SeriesView(vol)
    z0 = sv.slice_position("axial")
    sv.scroll("axial", 1)
    assert sv.slice_position("axial") == pytest.approx(z0 + 2.5)
    assert sv.slice_position("coronal") == pytest.approx(0.0)  # the other planes stay
    sv.scroll("axial", 1000)
    top = vol.index_to_lps([0, 0, 19])[2]
    assert sv.slice_position("axial") == pytest.approx(top)
    sv.scroll("axial", -1000)
    assert sv.slice_position("axial") == pytest.approx(vol.origin[2])


def test_click_moves_the_crosshair_into_the_other_planes() -> None:
    vol = phantom(n=20)
    sv = SeriesView(vol)
    size = (200, 200)
    target = vol.index_to_lps([15.0, 4.0, sv.volume.lps_to_index(sv.cursor_lps)[2]])
    px, py = sv.lps_to_pixel("axial", size, target)
    sv.click("axial", size, px, py)
    np.testing.assert_allclose(sv.cursor_lps, target, atol=1e-9)
    assert sv.slice_position("sagittal") == pytest.approx(target[0])
    assert sv.slice_position("coronal") == pytest.approx(-target[1])  # coronal normal is -y


def test_window_drag_and_reset() -> None:
    sv = SeriesView(phantom(n=12))
    w0, l0 = sv.window
    sv.window_drag(30, 0)
    assert sv.window[0] > w0 and sv.window[1] == l0
    sv.window_drag(0, 30)
    assert sv.window[1] > l0
    assert sv.window_name == "custom"
    sv.reset()
    assert sv.window == (w0, l0)


def test_zoom_and_pan() -> None:
    sv = SeriesView(phantom(n=20))
    size = (100, 100)
    mm = sv.mm_per_px("axial", size)
    sv.zoom("axial", 2.0)
    assert sv.mm_per_px("axial", size) == pytest.approx(mm / 2)
    before = sv.pixel_to_lps("axial", size, 50, 50)
    sv.pan("axial", size, 10, 0)  # drag right: the image follows the mouse
    after = sv.pixel_to_lps("axial", size, 60, 50)
    np.testing.assert_allclose(after, before, atol=1e-9)
    sv.zoom("3d", 3.0)
    assert sv.camera.zoom == pytest.approx(3.0)


def test_measurement_in_mm_and_visible_in_its_slice_only() -> None:
    vol = phantom(n=20, spacing=(0.5, 0.5, 2.0))
    sv = SeriesView(vol)
    a = vol.index_to_lps([2.0, 3.0, 10.0])
    b = vol.index_to_lps([8.0, 11.0, 10.0])  # 6 x 0.5 = 3 mm by 8 x 0.5 = 4 mm
    sv.cursor_lps = a.copy()
    m = Measurement("axial", a, b)
    assert m.length_mm == pytest.approx(5.0)
    sv.measurements.append(m)
    assert sv.measurements_in("axial") == [m]
    sv.scroll("axial", 1)
    assert sv.measurements_in("axial") == []
    assert sv.measurements_in("coronal") == []


def test_camera_rotation_and_basis() -> None:
    sv = SeriesView(phantom(n=12))
    b = sv.camera.basis_lps()
    np.testing.assert_allclose(b[:, 0], [1, 0, 0], atol=1e-12)  # patient's left on the right
    np.testing.assert_allclose(b[:, 1], [0, 0, 1], atol=1e-12)  # head up
    sv.camera.rotate(-225.0, 0.0)  # drag left by 225 px: 90 degrees
    assert sv.camera.azimuth == pytest.approx(90.0)
    np.testing.assert_allclose(sv.camera.basis_lps()[:, 0], [0, 1, 0], atol=1e-12)
    sv.camera.rotate(0.0, 1e6)
    assert sv.camera.elevation == 90.0  # clamped


def test_colour_volume_has_no_3d_view() -> None:
    from ownscan.core.volume import Volume

    rgb = Volume(np.zeros((4, 8, 8, 3), np.uint8))
    assert SeriesView(rgb).view_names == ("axial", "coronal", "sagittal")
