"""The comparison's linked state without a display: panes, targets, the mapping through the
registration, the prior's window, unlinking, the list of priors and the 3D camera."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest
from viewer_phantom import phantom

from ownscan.core.render import Camera
from ownscan.core.viewer._compare_state import CompareState, linked_camera, prior_choices
from ownscan.core.viewer._sources import entries_from_volumes
from ownscan.core.viewer._state import SeriesView

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "compare"))
from volgen import rigid


@pytest.fixture
def state() -> CompareState:
    cur, pri = phantom(n=24), phantom(n=24)
    m = rigid((0.3, 1.0, 0.2), 12.0, (5.0, -7.0, 3.0), (0.0, 0.0, 0.0))
    return CompareState(SeriesView(cur), SeriesView(pri), m)


def test_panes_and_targets(state: CompareState) -> None:
    assert state.pane_names() == ("prior:axial", "axial")
    state.set_mode("difference")
    assert state.pane_names() == ("prior:axial", "axial", "fused:axial")
    state.set_plane("3d")
    assert state.pane_names() == ("prior:3d", "3d")  # no difference of 3D pictures
    with pytest.raises(ValueError, match="unknown mode"):
        state.set_mode("blend")
    # linked: every pane acts on the current's state; unlinked: the prior's pane on its own
    assert state.target("prior:axial") == (state.current, "axial")
    state.set_linked(False)
    assert state.target("prior:axial") == (state.prior, "axial")
    assert state.target("fused:axial") == (state.current, "axial")


def test_mapping_window_and_unlinking(state: CompareState) -> None:
    p = np.array([[10.0, -4.0, 7.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(state.to_current(state.to_prior(p)), p, atol=1e-9)
    m = state.matrix
    np.testing.assert_allclose(state.to_prior(p[0]), m[:3, :3] @ p[0] + m[:3, 3])
    # the prior's window is the current's through the intensity match
    state.current.window = (400.0, 40.0)
    state.scale, state.offset = 2.0, 100.0
    assert state.prior_window() == pytest.approx((200.0, -30.0))
    state.current.cursor_lps = np.array([3.0, -2.0, 5.0])
    state.current.views["axial"].zoom = 2.5
    state.set_linked(False)
    np.testing.assert_allclose(state.prior.cursor_lps, state.to_prior([3.0, -2.0, 5.0]))
    assert state.prior.window == pytest.approx((200.0, -30.0))
    assert state.prior.views["axial"].zoom == 2.5
    state.prior.scroll("axial", 3)  # its own slices now
    np.testing.assert_allclose(state.current.cursor_lps, [3.0, -2.0, 5.0])


def test_the_prior_camera_is_the_current_turned_by_the_registration(
    state: CompareState,
) -> None:
    cam = state.current.camera
    cam.rotate(70, -25)
    cam.zoom = 1.7
    cam.pan_mm = (4.0, -6.0)
    size = (300, 200)
    prior_cam = linked_camera(state.current, state.prior, state.matrix, size)
    assert isinstance(prior_cam, Camera)
    r = state.matrix[:3, :3]
    np.testing.assert_allclose(prior_cam.basis_lps(), r @ cam.basis_lps(), atol=1e-9)
    # the current's screen centre maps onto the prior's screen centre
    basis = cam.basis_lps()
    centre = state.current.centre_lps + basis[:, 0] * 4.0 + basis[:, 1] * -6.0
    pb = prior_cam.basis_lps()
    prior_centre = (
        state.prior.centre_lps + pb[:, 0] * prior_cam.pan_mm[0] + pb[:, 1] * prior_cam.pan_mm[1]
    )
    d = state.to_prior(centre) - prior_centre
    assert abs(d @ pb[:, 0]) < 1e-6 and abs(d @ pb[:, 1]) < 1e-6  # only along the view
    # and the same mm per pixel
    from ownscan.core.render._setup import view_pixel_mm

    assert view_pixel_mm(state.prior.volume, prior_cam, size) == pytest.approx(
        state.current.mm_per_px_3d(size)
    )


def test_prior_choices_without_a_library_same_patient_first_recent_first() -> None:
    cur, a, b, c = (phantom(n=16) for _ in range(4))
    cur.info = dataclasses.replace(cur.info, patient_id="P1", study_date="20240101")
    a.info = dataclasses.replace(cur.info, study_date="20200101", series_instance_uid="2.25.1")
    b.info = dataclasses.replace(cur.info, study_date="20220101", series_instance_uid="2.25.2")
    c.info = dataclasses.replace(
        cur.info, patient_id="P9", patient_name="OTHER^ONE", series_instance_uid="2.25.3"
    )
    choices = prior_choices(entries_from_volumes([cur, a, b, c]), 0)
    assert [ch.index for ch in choices] == [2, 1, 3]
    assert [ch.same_patient for ch in choices] == [True, True, False]
    assert not any(ch.proposed for ch in choices)
