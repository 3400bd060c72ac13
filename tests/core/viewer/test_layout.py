"""Where the views go, hit testing and the HiDPI cursor conversion."""

from __future__ import annotations

import pytest

from ownscan.core.viewer import compute_layout, window_to_fb

FOUR = ("axial", "coronal", "sagittal", "3d")


def test_grid_2x2_tiles_the_image_area() -> None:
    lay = compute_layout((1000, 700), FOUR, show_browser=True, ui_scale=1.0)
    assert set(lay.views) == set(FOUR)
    a, c, s, d = (lay.views[n] for n in FOUR)
    assert a.x == s.x and c.x == d.x and a.y == c.y and s.y == d.y
    assert a.x + a.w < c.x and a.y + a.h < s.y  # gaps, no overlap
    assert lay.browser is not None and a.x == lay.browser.w
    assert d.x + d.w == 1000 and d.y + d.h == 700
    assert lay.toolbar.y == 0 and a.y == lay.toolbar.h
    for name, r in lay.views.items():
        assert lay.view_at(r.x + r.w / 2, r.y + r.h / 2) == name
    assert lay.view_at(5, 5) is None  # the browser


def test_maximised_view_takes_the_area() -> None:
    lay = compute_layout((800, 600), FOUR, maximised="3d", show_browser=False)
    assert list(lay.views) == ["3d"]
    r = lay.views["3d"]
    assert (r.x, r.w, r.y + r.h) == (0, 800, 600)
    with pytest.raises(ValueError, match="cannot maximise 'image'"):
        compute_layout((800, 600), FOUR, maximised="image")


def test_single_image_layout_and_report_panel() -> None:
    lay = compute_layout((1200, 800), ("image",), show_browser=False, show_report=True)
    assert list(lay.views) == ["image"]
    assert lay.report is not None
    assert lay.views["image"].x + lay.views["image"].w == lay.report.x


def test_hidpi_scales_panels_and_cursor() -> None:
    lo = compute_layout((1000, 800), FOUR, ui_scale=1.0)
    hi = compute_layout((2000, 1600), FOUR, ui_scale=2.0)
    assert lo.browser is not None and hi.browser is not None
    assert hi.browser.w == 2 * lo.browser.w and hi.toolbar.h == 2 * lo.toolbar.h
    # a Retina-type display: framebuffer twice the window
    assert window_to_fb(100.0, 50.0, (1000, 800), (2000, 1600)) == (200.0, 100.0)
    assert window_to_fb(100.0, 50.0, (1000, 800), (1000, 800)) == (100.0, 50.0)
