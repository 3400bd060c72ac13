"""Comparing with a prior in the real window: linked navigation through the registration, the
difference pane showing the CT pair's new lesion, refusals and warnings.

The head MR (real, at half resolution) is moved by a known rigid motion and seen on another
grid (tests/core/compare/volgen.py, as the registration tests do); the viewer registers it on
its own thread and links the panes through the result.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import glfw
import numpy as np
import pytest

from ownscan.core import load_volume
from ownscan.core.errors import UsageError
from ownscan.core.viewer import Viewer, ViewerOptions
from ownscan.core.viewer._compare_state import linked_camera, prior_choices
from ownscan.core.viewer._sources import entries_from_volumes
from ownscan.core.volume import Volume

_HERE = Path(__file__).resolve().parent
for _p in (_HERE.parent, _HERE.parent / "compare"):  # ctgen.py; volgen.py, ctpair.py
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from ctpair import LESION, ownscan_import, write_ct_pair  # noqa: E402
from volgen import moved_copy, rigid  # noqa: E402


@pytest.fixture(scope="module")
def head_pair(mr_head_dir: Path) -> dict[str, object]:
    """The real head MR (every second voxel, 2 mm) as the prior; the current: the same head
    turned 8 degrees about an oblique axis and shifted 13 mm, on an axial 2 mm grid, with its
    own Frame of Reference and a later date."""
    head = load_volume(mr_head_dir)
    prior = Volume(
        head.voxels[::2, ::2, ::2].copy(),
        spacing=tuple(2 * s for s in head.spacing),
        origin=head.origin,
        direction=head.direction,
        modality="MR",
        info=dataclasses.replace(head.info, study_date="20200101", series_description="T1 2020"),
    )
    centre = prior.index_to_lps((np.asarray(prior.shape[::-1]) - 1) / 2.0)
    truth = rigid((1.0, -1.0, 1.0), 8.0, (-8.0, 10.0, 4.0), centre)  # current -> prior
    shape, spacing = (90, 100, 90), (2.0, 2.0, 2.0)
    origin = centre - np.asarray(spacing) * (np.asarray(shape[::-1]) - 1) / 2.0
    voxels = moved_copy(prior, truth, shape=shape, spacing=spacing, origin=origin)
    info = dataclasses.replace(
        prior.info,
        study_date="20240101",
        series_description="T1 2024",
        series_instance_uid="2.25.1001",
        frame_of_reference_uid="2.25.1002",
    )
    current = Volume(
        voxels.astype(np.int16), spacing=spacing, origin=origin, modality="MR", info=info
    )
    return {"prior": prior, "current": current, "truth": truth}


def _click(v: Viewer, x: float, y: float) -> None:
    """A left click at framebuffer pixel (x, y), through glfw's handlers (window = fb here)."""
    v.on_cursor_pos(x, y)
    v.on_mouse_button(glfw.MOUSE_BUTTON_LEFT, glfw.PRESS, 0)
    v.on_mouse_button(glfw.MOUSE_BUTTON_LEFT, glfw.RELEASE, 0)
    v.input.last_click = (-1.0, -1.0, -1e9)  # two test clicks are not a double click


def _patch(img: np.ndarray, x: float, y: float, r: int = 24) -> np.ndarray:
    cx, cy = round(x), round(y)
    return img[cy - r : cy + r, cx - r : cx + r].astype(np.float64).mean(axis=-1)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_a_click_in_either_pane_puts_the_crosshair_on_the_same_anatomy(
    xvfb: str, head_pair: dict[str, object]
) -> None:
    prior, current, truth = head_pair["prior"], head_pair["current"], head_pair["truth"]
    assert isinstance(prior, Volume) and isinstance(current, Volume)
    assert isinstance(truth, np.ndarray)
    with Viewer([current, prior], ViewerOptions(size=(1100, 700), show_browser=False)) as v:
        assert v.fb_size == v.window_size  # clicks below are in framebuffer pixels
        v.compare_with(1)
        assert v.compare is not None
        v.compare.wait(300)
        reg = v.compare.registration
        assert reg is not None and not reg.poor and v.compare.error is None
        lay = v.layout()
        assert list(lay.views) == ["prior:axial", "axial"]
        pr, cr = lay.views["prior:axial"], lay.views["axial"]
        # a point of the brain off the middle, clicked in the PRIOR pane
        for pane, dx, dy in ((pr, 0.18, -0.12), (cr, -0.15, 0.1)):
            x, y = pane.x + pane.w * (0.5 + dx), pane.y + pane.h * (0.5 + dy)
            _click(v, x, y)
            q = v.view.cursor_lps  # the one crosshair, in the current's coordinates
            np.testing.assert_allclose(
                v.view.pixel_to_lps("axial", cr.size, x - pane.x, y - pane.y), q, atol=1e-9
            )
            # the prior's anatomy shown under the click is the current's at q (known motion)
            shown = v.compare.state.to_prior(q)
            assert np.linalg.norm(shown - (truth[:3, :3] @ q + truth[:3, 3])) < 0.5
            img = v.frame(capture=True)
            assert img is not None
            # both crosshairs sit on the same anatomy: the pictures around them agree
            px, py = v.view.lps_to_pixel("axial", pr.size, q)
            a = _patch(img, pr.x + px, pr.y + py, r=40)
            b = _patch(img, cr.x + px, cr.y + py, r=40)
            assert _corr(a, b) > 0.8, _corr(a, b)

        # a window drag in the prior's pane changes the one window
        w0 = v.view.window
        v.on_cursor_pos(pr.x + pr.w / 2, pr.y + pr.h / 2)
        v.on_mouse_button(glfw.MOUSE_BUTTON_LEFT, glfw.PRESS, 0)
        v.on_cursor_pos(pr.x + pr.w / 2 + 40, pr.y + pr.h / 2 + 20)
        v.on_mouse_button(glfw.MOUSE_BUTTON_LEFT, glfw.RELEASE, 0)
        assert v.view.window[0] > w0[0] and v.view.window[1] > w0[1]
        assert v.compare.state.prior_window()[0] == pytest.approx(
            v.view.window[0] / v.compare.state.scale
        )

        # scroll and zoom in the prior's pane move both (one state)
        before = v.view.slice_position("axial")
        v.on_cursor_pos(pr.x + pr.w / 2, pr.y + pr.h / 2)
        v.on_scroll(0, 3)
        assert v.view.slice_position("axial") == pytest.approx(before + 6.0)
        v.on_key(glfw.KEY_EQUAL, glfw.PRESS, 0)
        assert v.view.views["axial"].zoom == pytest.approx(1.2)
        linked = v.frame(capture=True)
        assert linked is not None

        # unlinked: the prior's pane has its own state, starting on the same anatomy
        v.compare.state.set_linked(False)
        own = v.compare.state.prior
        np.testing.assert_allclose(own.cursor_lps, v.compare.state.to_prior(v.view.cursor_lps))
        v.on_scroll(0, 2)
        assert v.view.slice_position("axial") == pytest.approx(before + 6.0)  # not moved
        v.frame()

        # scanner coordinates: the identity, and the panes say the frames differ
        v.compare.set_register(False)
        v.compare.wait(120)
        assert v.compare.registration is not None
        np.testing.assert_array_equal(v.compare.registration.matrix, np.eye(4))
        assert any("frames of reference" in text for text, _ in v.compare.notes())
        v.compare.state.set_linked(True)
        img = v.frame(capture=True)
        assert img is not None
        q = v.view.cursor_lps
        px, py = v.view.lps_to_pixel("axial", pr.size, q)
        a, b = _patch(img, pr.x + px, pr.y + py, 40), _patch(img, cr.x + px, cr.y + py, 40)
        assert _corr(a, b) < 0.6  # 13 mm and 8 degrees apart: not the same anatomy


def test_the_3d_panes_share_one_camera_through_the_registration(
    xvfb: str, head_pair: dict[str, object]
) -> None:
    prior, current = head_pair["prior"], head_pair["current"]
    assert isinstance(prior, Volume) and isinstance(current, Volume)
    with Viewer([current, prior], ViewerOptions(size=(1000, 600), show_browser=False)) as v:
        v.set_mode("mip")
        v.compare_with(1)
        assert v.compare is not None
        v.compare.wait(300)
        st = v.compare.state
        assert st is not None
        st.set_plane("3d")
        v.view.camera.rotate(-60, 20)  # a drag: both panes turn
        v.view.camera.zoom = 1.4
        v.show_overlays = False
        v.wait_until_loaded()
        v.frame()
        img = v.frame(capture=True)
        assert img is not None
        lay = v.layout()
        pr, cr = lay.views["prior:3d"], lay.views["3d"]
        h = min(pr.h, cr.h) - 80
        w = min(pr.w, cr.w)
        a = img[pr.y + 60 : pr.y + h, pr.x : pr.x + w].mean(axis=-1)
        b = img[cr.y + 60 : cr.y + h, cr.x : cr.x + w].mean(axis=-1)
        # only where the current has data (its field of view is smaller than the prior's)
        mask = b > 20
        assert mask.mean() > 0.1
        same = _corr(a[mask], b[mask])
        # the camera the prior is drawn with is the current's turned by the registration
        cam = linked_camera(st.current, st.prior, st.matrix, pr.size)
        turned = st.matrix[:3, :3] @ v.view.camera.basis_lps()
        np.testing.assert_allclose(cam.basis_lps(), turned, atol=1e-9)
        assert same > 0.85, same


def test_the_difference_pane_shows_the_new_lesion_and_nothing_else(
    xvfb: str, tmp_path: Path
) -> None:
    pair = write_ct_pair(tmp_path)
    prior, current = pair["prior"], pair["current"]
    assert isinstance(prior, Volume) and isinstance(current, Volume)
    with Viewer([current, prior], ViewerOptions(size=(1200, 640), show_browser=False)) as v:
        v.compare_with(1)
        assert v.compare is not None
        v.compare.wait(300)
        assert v.compare.notes() == []  # same patient, a good registration: no banner
        st = v.compare.state
        assert st is not None
        st.set_mode("difference")
        # the plane through the lesion; the crosshair away from it
        v.view.cursor_lps = LESION + np.array([40.0, 40.0, 0.0])
        v.frame()
        img = v.frame(capture=True)
        assert img is not None
        lay = v.layout()
        assert list(lay.views) == ["prior:axial", "axial", "fused:axial"]
        fr = lay.views["fused:axial"]
        pane = img[fr.y : fr.y + fr.h, fr.x : fr.x + fr.w].astype(int)
        red = ((pane[..., 0] > 120) & (pane[..., 1] < 100) & (pane[..., 2] < 90)).astype(float)
        mm = v.view.mm_per_px("axial", fr.size)
        k = max(3, round(8.0 / mm))  # lesion-sized squares
        c = np.cumsum(np.cumsum(np.pad(red, ((1, 0), (1, 0))), 0), 1)
        box = (c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]) / k**2
        peak = np.unravel_index(np.argmax(box), box.shape)
        lx, ly = v.view.lps_to_pixel("axial", fr.size, LESION)
        found = (peak[1] + (k - 1) / 2, peak[0] + (k - 1) / 2)
        assert np.hypot(found[0] - lx, found[1] - ly) * mm < 3.0  # at its place
        assert box[peak] > 0.5  # a red blob
        rows, cols = np.indices(box.shape)
        far = np.hypot(cols + (k - 1) / 2 - lx, rows + (k - 1) / 2 - ly) * mm > 10.0
        assert box[far].max() < 0.4 * box[peak]  # nothing comparable elsewhere


def test_different_patients_are_refused_unless_forced(xvfb: str) -> None:
    from viewer_phantom import phantom

    a, b = phantom(n=24), phantom(n=24)
    a.info = dataclasses.replace(a.info, patient_id="A-1", patient_name="DOE^JANE")
    b.info = dataclasses.replace(
        b.info, patient_id="B-2", patient_name="ROE^RICHARD", series_instance_uid="2.25.7"
    )
    choices = prior_choices(entries_from_volumes([a, b]), 0)
    assert [c.index for c in choices] == [1] and not choices[0].same_patient
    assert any("B-2" in d for d in choices[0].differences)
    with Viewer([a, b], ViewerOptions(size=(900, 600), show_browser=False)) as v:
        with pytest.raises(UsageError, match="not the same patient"):
            v.compare_with(1)
        assert v.compare is None
        v.compare_menu.toggle()
        v.compare_menu.pick(v.compare_menu.choices[0])  # refused: the menu says why
        assert v.compare is None and v.compare_menu.refused is not None
        v.frame()
        v.compare_menu.pick(v.compare_menu.choices[0], force=True)
        assert v.compare is not None
        v.compare.wait(120)
        notes = v.compare.notes()
        assert notes[0][0].startswith("DIFFERENT PATIENTS") and "B-2" in notes[0][0]
        img = v.frame(capture=True)
        assert img is not None
        r = v.layout().views["prior:axial"]
        top = img[r.y : r.y + r.h // 4, r.x : r.x + r.w].astype(int)
        banner = (top[..., 0] > 170) & (top[..., 1] < 40) & (top[..., 2] < 40)
        assert banner.sum() > 500  # the red banner is on screen
        v.on_key(glfw.KEY_N, glfw.PRESS, 0)  # another series ends the comparison
        v.frame()
        assert v.compare is None


def test_library_priors_are_proposed_and_the_registration_is_kept(
    xvfb: str, tmp_path: Path
) -> None:
    """From a library: the prior is proposed first, the registration made on the viewer's
    thread is kept in the library, and the next comparison of the pair reads it back."""
    from ownscan.core.library import open_library
    from ownscan.core.viewer import entries_from_library

    pair = write_ct_pair(tmp_path / "src")
    ownscan_import(tmp_path / "src", tmp_path / "lib")
    prior_uid = pair["prior"].info.series_instance_uid  # type: ignore[attr-defined]
    current_uid = pair["current"].info.series_instance_uid  # type: ignore[attr-defined]
    with open_library(tmp_path / "lib", create=False) as lib:
        entries = entries_from_library(lib)
        entries.sort(key=lambda e: e.key != current_uid)  # the current first
        options = ViewerOptions(size=(900, 600), show_browser=False, library=lib)
        with Viewer(entries, options) as v:
            v.compare_menu.toggle()
            first = v.compare_menu.choices[0]
            assert first.proposed and v.entries[first.index].key == prior_uid
            assert any("same patient" in r for r in first.reasons)
            v.frame()  # the menu drawn
            v.compare_menu.pick(first)
            assert v.compare is not None and not v.compare.reused
            v.compare.wait(300)
            made = v.compare.registration
            assert made is not None and not made.poor
            kept = lib.registration(prior_uid, current_uid, made.method)
            assert kept is not None
            np.testing.assert_allclose(kept.matrix, made.matrix)
            v.end_compare()
            v.compare_with(first.index)
            assert v.compare is not None and v.compare.reused  # read back, not registered
            v.compare.wait(120)
            assert v.compare.registration is not None
            np.testing.assert_allclose(v.compare.registration.matrix, made.matrix)
            img = v.frame(capture=True)
            assert img is not None


def test_a_poor_registration_is_a_red_banner_on_every_pane(
    xvfb: str, head_pair: dict[str, object]
) -> None:
    """The head MR against a CT phantom said to be of the same patient: registration cannot
    agree them; every pane says so in red."""
    from viewer_phantom import phantom

    current = head_pair["current"]
    assert isinstance(current, Volume)
    ct = phantom(n=48)
    ct.info = dataclasses.replace(
        current.info, series_instance_uid="2.25.77", study_date="20190101", modality="CT"
    )
    with Viewer([current, ct], ViewerOptions(size=(900, 600), show_browser=False)) as v:
        v.compare_with(1)
        assert v.compare is not None
        v.compare.wait(300)
        reg = v.compare.registration
        assert reg is not None and reg.poor, reg.to_dict()
        assert v.compare.notes()[0][0].startswith("POOR REGISTRATION")
        img = v.frame(capture=True)
        assert img is not None
        for r in v.layout().views.values():
            top = img[r.y : r.y + r.h // 3, r.x : r.x + r.w].astype(int)
            banner = (top[..., 0] > 170) & (top[..., 1] < 40) & (top[..., 2] < 40)
            assert banner.sum() > 300, r


def test_flicker_alternates_the_prior_and_the_current_in_the_third_pane(
    xvfb: str, head_pair: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ownscan.core.viewer import _compare
    from ownscan.core.viewer._compare_state import FLICKER_S

    prior, current = head_pair["prior"], head_pair["current"]
    assert isinstance(prior, Volume) and isinstance(current, Volume)
    with Viewer([current, prior], ViewerOptions(size=(1200, 560), show_browser=False)) as v:
        v.compare_with(1)
        assert v.compare is not None
        v.compare.wait(300)
        st = v.compare.state
        assert st is not None
        st.set_mode("flicker")
        v.show_overlays = False
        shown = {}
        for phase, t in (("prior", 0.1 * FLICKER_S), ("current", 1.1 * FLICKER_S)):
            monkeypatch.setattr(_compare.time, "monotonic", lambda t=t: 1000 * FLICKER_S + t)
            img = v.frame(capture=True)
            assert img is not None
            lay = v.layout()
            panes = {
                n: img[r.y + r.h // 4 : r.y + r.h - 10, r.x + 10 : r.x + r.w - 10].astype(int)
                for n, r in lay.views.items()
            }
            w = min(p.shape[1] for p in panes.values())
            h = min(p.shape[0] for p in panes.values())
            fused = panes["fused:axial"][:h, :w]
            shown[phase] = {n: np.abs(fused - p[:h, :w]).mean() for n, p in panes.items()}
        monkeypatch.undo()
        # the third pane is the prior's picture, then the current's
        assert shown["prior"]["prior:axial"] < 1.0 < shown["prior"]["axial"]
        assert shown["current"]["axial"] < 1.0 < shown["current"]["prior:axial"]
