"""The page in Debian's Chromium on reportpagegen.py's library: the overlay plane drawn at its
image pixels (by the pixels of the picture, only in its slice, hidden by its toggle), the PDF
report's pages drawn in the report panel (the red first page) and a damaged PDF as one line,
and the presentation state applied with its zoom (the overlay block where the zoomed geometry
puts it). One server and one browser for the module. ``OWNSCAN_SHOTS=DIR`` keeps the
screenshots (desktop and 390x844)."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser_support import canvas_rgb, sign_in, watch_errors
from PIL import Image
from reportpagegen import COVERED, PIXEL_MM, RED, make_library
from serve_process import ServeProcess

from ownscan.core.serve._overlays import OVERLAY_RGB


@pytest.fixture(scope="module")
def pages_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    library = make_library(tmp_path_factory.mktemp("pages"))
    s = ServeProcess.start(library)
    yield s
    assert s.stop() == 0, s.log


def _page(browser: Any, width: int, height: int, phone: bool = False) -> tuple[Any, Any, list]:
    """A page whose console errors are collected; the damaged PDF's 422 is the one expected."""
    ctx = browser.new_context(
        viewport={"width": width, "height": height},
        device_scale_factor=1,
        has_touch=phone,
        is_mobile=phone,
    )
    page = ctx.new_page()
    return ctx, page, watch_errors(page, expected="status of 422")


def _shot(page: Any, name: str, tmp_path: Path) -> None:
    folder = Path(os.environ.get("OWNSCAN_SHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"))


def _open_ct(page: Any) -> None:
    page.locator(".series", has_text="Axial").first.click()
    page.wait_for_selector(".stage[data-level='0']", timeout=120_000)
    page.wait_for_selector(".stage[data-overlays='1']", timeout=60_000)
    page.wait_for_selector(".report-panel", state="attached", timeout=60_000)


def _at_z(page: Any, z: float) -> None:
    """The axial view alone, the cursor on the slice at ``z`` mm; the overlay picture loaded."""
    page.evaluate(
        """async (z) => { const v = window.ownscanViewer; v.setLayout('axial');
        v.cursor = [v.centre[0], v.centre[1], z]; await v.afterDraw(); }""",
        z,
    )
    page.wait_for_function(
        "() => { const d = document.querySelector('.stage').dataset.overlaysDrawn || '';"
        " return d.includes('axial:'); }"
    )
    page.wait_for_timeout(300)  # the overlay's PNG arrives, then one more frame
    page.evaluate("() => window.ownscanViewer.afterDraw()")


def _drawn(page: Any) -> dict[str, str]:
    """How many overlays each 2D view drew in its last frame."""
    found = page.get_attribute(".stage", "data-overlays-drawn") or ""
    return dict(x.split(":") for x in found.split())


def _overlay_box(page: Any) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) pixels of the overlay colour on the overlay canvas."""
    rgb = canvas_rgb(page, ".stage canvas.overlay").astype(int)
    mask = np.all(np.abs(rgb - OVERLAY_RGB) <= 3, axis=-1)
    if not mask.any():
        return None
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


def _expected_box(page: Any, centre: tuple[float, float], mm_per_px: float) -> np.ndarray:
    """Where the covered image pixels lie on the axial view: the pixel edges in LPS mm
    (0.5 mm pixels, centres at 0.5 mm steps from 0) mapped as the view maps them."""
    w, h = page.evaluate(
        "() => [document.querySelector('.stage').clientWidth,"
        " document.querySelector('.stage').clientHeight]"
    )
    (r0, r1), (c0, c1) = COVERED
    left, right = c0 * PIXEL_MM - 0.25, c1 * PIXEL_MM + 0.25
    top, bottom = r0 * PIXEL_MM - 0.25, r1 * PIXEL_MM + 0.25

    def px(x: float, y: float) -> tuple[float, float]:
        return (x - centre[0]) / mm_per_px + w / 2, (y - centre[1]) / mm_per_px + h / 2

    (x0, y0), (x1, y1) = px(left, top), px(right, bottom)
    # the box's last pixel is the one before its far edge
    return np.array([x0, y0, x1 - 1, y1 - 1])


def _fit(page: Any) -> float:
    """fit_mm_per_px of the axial view alone: the 32 mm square of voxel corners, 2 % margin."""
    w, h = page.evaluate(
        "() => [document.querySelector('.stage').clientWidth,"
        " document.querySelector('.stage').clientHeight]"
    )
    return max(64 * PIXEL_MM / w, 64 * PIXEL_MM / h) * 1.02


def test_overlays_pdf_pages_and_the_radiologists_zoom(pages_server, browser, tmp_path):
    ctx, page, errors = _page(browser, 1000, 760)
    try:
        sign_in(page, pages_server)
        _open_ct(page)
        # the overlay of image 2 (z = 1 mm) where its bits lie: every corner within a pixel
        _at_z(page, 1.0)
        assert _drawn(page)["axial"] == "1"
        box = _overlay_box(page)
        assert box is not None
        centre = (15.75, 15.75)  # the volume's centre: the view is not panned
        want = _expected_box(page, centre, _fit(page))
        assert np.abs(np.array(box) - want).max() <= 1.5, (box, want)
        _shot(page, "overlay-desktop", tmp_path)
        # only in its slice: image 3 (z = 2 mm) shows none
        _at_z(page, 2.0)
        assert _drawn(page)["axial"] == "0"
        assert _overlay_box(page) is None
        # the toggle hides it on its own slice and shows it again
        _at_z(page, 1.0)
        page.locator(".overlay-toggle").click()
        page.evaluate("() => window.ownscanViewer.afterDraw()")
        assert _overlay_box(page) is None
        assert page.get_attribute(".overlay-toggle", "aria-pressed") == "false"
        page.locator(".overlay-toggle").click()
        page.evaluate("() => window.ownscanViewer.afterDraw()")
        assert _overlay_box(page) is not None

        # the PDF's pages in the panel: two pictures, the first with the red impression
        page.wait_for_selector(".pdf-pages[data-pages='2']")
        first = page.locator(".report-panel img.pdf-page").first
        page.wait_for_function(
            "() => [...document.querySelectorAll('img.pdf-page')].every(i => i.naturalWidth > 0)"
        )
        natural = first.evaluate("i => i.naturalWidth")
        assert natural % 200 == 0 and natural >= 300, natural
        shown = np.asarray(Image.open(io.BytesIO(first.screenshot())).convert("RGB")).astype(int)
        red = np.all(np.abs(shown - RED) < 60, axis=-1).sum()
        white = np.all(shown > 245, axis=-1).mean()
        assert red > 200 and white > 0.8, (red, white)
        # the damaged PDF: one line, and its link still there
        damaged = page.locator(".report-panel section", has_text="Damaged report")
        lines = damaged.locator(".pdf-error").all_text_contents()
        assert len(lines) == 1 and lines[0].startswith("This PDF cannot be shown"), lines
        assert damaged.locator("img").count() == 0
        assert page.locator("a.pdf-open").count() == 2

        # the presentation state applied: its window and its zoom (the middle half of image 2,
        # SCALE TO FIT): the overlay block where the zoomed view puts it
        page.locator(".apply-state").click()
        page.evaluate("() => window.ownscanViewer.afterDraw()")
        w = page.evaluate("() => window.ownscanViewer.window")
        assert (w["width"], w["level"]) == (1500, -600)
        applied = page.get_attribute(".stage", "data-applied")
        # 32 mm of volume, 16 mm of area: 2 x the fit, and the fit's 2 % margin
        assert applied is not None and applied.startswith("axial:")
        assert float(applied.split(":")[1]) == pytest.approx(2.04, abs=1e-3)
        area_centre = (15.75, 15.75)  # pixels 16..47: edges 7.75..23.75 mm
        want = _expected_box(page, area_centre, _fit(page) / 2.04)
        box = _overlay_box(page)
        assert box is not None and np.abs(np.array(box) - want).max() <= 1.5, (box, want)
        _shot(page, "zoom-desktop", tmp_path)
        # the size modes (PS3.3 C.10.4) on the same area: MAGNIFY 4 shows each image pixel 4
        # screen pixels wide; TRUE SIZE is shown as SCALE TO FIT
        zooms = page.evaluate(
            """async () => { const { zoomToArea } = await import('/static/display.js');
            const v = window.ownscanViewer;
            const marks = await v.api.json(`/api/series/${v.uid}/marks`);
            const area = marks.presentation_states[0].area, out = {};
            const modes = [['MAGNIFY', 4], ['TRUE SIZE', null], ['SCALE TO FIT', null]];
            for (const [mode, mag] of modes) {
              zoomToArea(v, { ...area, size_mode: mode, magnification: mag });
              out[mode] = v.viewState.axial.zoom; }
            return out; }"""
        )
        assert zooms["MAGNIFY"] == pytest.approx(_fit(page) / (PIXEL_MM / 4), rel=1e-6)
        assert zooms["TRUE SIZE"] == pytest.approx(2.04, abs=1e-3) == zooms["SCALE TO FIT"]
        page.locator(
            ".report-panel section", has_text="Radiology report"
        ).scroll_into_view_if_needed()
        _shot(page, "pdf-desktop", tmp_path)
    finally:
        ctx.close()
    assert not errors, errors


def test_a_phone_shows_the_pdf_pages_and_the_overlay(pages_server, browser, tmp_path):
    ctx, page, errors = _page(browser, 390, 844, phone=True)
    try:
        sign_in(page, pages_server)
        _open_ct(page)
        _at_z(page, 1.0)
        assert _overlay_box(page) is not None
        page.locator(".report-toggle").click()
        page.wait_for_selector(".pdf-pages[data-pages='2'] img.pdf-page")
        page.wait_for_function(
            "() => [...document.querySelectorAll('img.pdf-page')].every(i => i.naturalWidth > 0)"
        )
        img = page.locator(".report-panel img.pdf-page").first
        page.locator(".report-panel h4", has_text="Radiology report").evaluate(
            "h => h.scrollIntoView({block: 'start'})"
        )
        box = img.bounding_box()
        assert box is not None and box["width"] <= 390 and box["height"] > box["width"]
        _shot(page, "pdf-phone", tmp_path)
    finally:
        ctx.close()
    assert not errors, errors
