"""The 3D view's window for projections (X-ray, MIP) is the one ``ownscan render`` takes: the
mode's automatic window while the series' default window is in use, the user's window once
they choose one; the real viewer window under Xvfb, and the compared prior's 3D pane."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from test_viewer_window import park_pointer
from viewer_phantom import phantom

from ownscan.core.render import Camera, create_renderer, view_from_options
from ownscan.core.viewer import SeriesView, Viewer, ViewerOptions
from ownscan.core.viewer._compare_state import CompareState
from ownscan.core.viewer._projection_window import prior_window_3d, window_3d
from ownscan.core.volume import Volume, WindowPreset

N = 32


def soft_tissue_ct(n: int = N) -> Volume:
    """The phantom CT with the window most CTs store first: soft tissue (W 400 L 40)."""
    return dataclasses.replace(phantom(n=n), windows=(WindowPreset("soft tissue", 400.0, 40.0),))


@pytest.fixture(scope="module")
def v(xvfb: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Viewer]:
    shots = tmp_path_factory.mktemp("shots")
    options = ViewerOptions(size=(640, 480), screenshot_dir=shots, still_after_s=0.0)
    with Viewer([soft_tissue_ct()], options) as viewer:
        park_pointer()
        viewer.show_help = viewer.show_fps = viewer.measure_tool = False
        viewer.frame()
        yield viewer


def _three_d(v: Viewer) -> np.ndarray:
    """The 3D view's pixels (still, full quality), without its border."""
    v.frame()
    img = v.frame(capture=True)
    assert img is not None and not v.draft_3d
    r = v.layout().views["3d"]
    return img[r.y + 2 : r.y + r.h - 2, r.x + 2 : r.x + r.w - 2]


def test_xray_of_a_ct_uses_the_projection_window_as_ownscan_render_does(
    v: Viewer, tmp_path: Path
) -> None:
    v.reset()
    v.set_mode("xray")
    v.show_overlays = False
    volume = v.view.volume
    scene, _ = view_from_options(volume, {"mode": "xray"})  # what `ownscan render` draws
    want = scene.effective_window()
    assert want.name == "auto (average projection)"
    window, name = window_3d(v.view, v._mode_objects["xray"])
    assert name == want.name
    assert window == pytest.approx((want.width, want.level))
    shown = _three_d(v)
    v.win.save_png(np.ascontiguousarray(shown), tmp_path / "viewer-xray.png")
    # the same picture from the render command's renderer: not black, and alike
    r = v.layout().views["3d"]
    cam = v.view.camera
    renderer = create_renderer("cpu", quiet=True)
    try:
        ref = renderer.render(
            scene,
            Camera(azimuth=cam.azimuth, elevation=cam.elevation, zoom=cam.zoom, pan_mm=cam.pan_mm),
            r.size,
        )[2:-2, 2:-2, :3]
    finally:
        renderer.close()
    a = shown[..., :3].astype(np.float64).mean(axis=2)
    b = ref.astype(np.float64).mean(axis=2)
    v.win.save_png(np.ascontiguousarray(ref), tmp_path / "render-xray.png")
    h, w = a.shape
    middle = a[h // 2 - 10 : h // 2 + 10, w // 2 - 10 : w // 2 + 10]
    assert a.max() > 200 and middle.min() > 80  # the body grey, its marker white: not black
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.95
    assert abs(a.mean() - b.mean()) < 8.0, (a.mean(), b.mean())


def test_a_window_the_user_chose_is_used_as_is(v: Viewer) -> None:
    v.reset()
    v.set_mode("xray")
    v.show_overlays = False
    auto = _three_d(v)
    v.view.window_drag(0.0, 0.0)  # "custom": the same numbers, but chosen
    assert window_3d(v.view, v._mode_objects["xray"]) == (v.view.window, None)
    chosen = _three_d(v)
    assert chosen.mean() < auto.mean() / 2  # W 400 L 40 on averages of air and body: dark
    v.reset()  # back to the series' default: the projection's window again
    assert window_3d(v.view, v._mode_objects["xray"])[1] == "auto (average projection)"


def test_ct_mip_and_dvr_keep_the_series_window(v: Viewer) -> None:
    # as `ownscan render`: a CT's MIP keeps its stored window (Hounsfield units are absolute)
    v.reset()
    for mode in ("mip", "dvr", "iso", "mpr"):
        assert window_3d(v.view, v._mode_objects[mode]) == (v.view.window, None), mode


def test_the_compared_prior_takes_the_same_window(v: Viewer) -> None:
    mode = v._mode_objects["xray"]
    current, prior = SeriesView(soft_tissue_ct()), SeriesView(soft_tissue_ct(n=24))
    st = CompareState(current, prior, np.eye(4))
    st.scale, st.offset = 2.0, 10.0
    (width, level), name = window_3d(current, mode)
    assert name == "auto (average projection)"
    # linked: the current's projection window through the intensity match
    assert prior_window_3d(st, mode) == ((width / 2.0, (level - 10.0) / 2.0), name)
    st.linked = False  # unlinked, still at its default: the prior's own projection window
    own = view_from_options(prior.volume, {"mode": "xray"})[0].effective_window()
    (pw, pl), pname = prior_window_3d(st, mode)
    assert pname == name and (pw, pl) == pytest.approx((own.width, own.level))


if __name__ == "__main__":
    pytest.main([__file__])
