"""The page in a Chromium started without WebGL (``--disable-webgl --disable-3d-apis``: no
WebGL context of any kind, as on a browser or device that has none): every view is a frame the
server renders, end to end, on a desktop and a phone. 2D: the four views of a CT with the
desktop's letters and a scale bar, scrolling to a new frame; a radiograph with the letters of
its Patient Orientation; 3D: every mode drawn, and the X-ray with the series' default window
is exactly ``render.png`` asked for as ``ownscan render --mode xray`` (no window: the mode's
own)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, canvas_rgb, sign_in, watch_errors
from PIL import Image
from serve_process import ServeProcess
from sweep_support import RECORD_TEXT, camera_labels, drawn_texts, mpr_labels, view_pixels
from sweepgen import serve_sweep_library

NO_WEBGL = ["--disable-webgl", "--disable-3d-apis"]
MODES = ("dvr", "mip", "minip", "xray", "iso")


@pytest.fixture(scope="module")
def fallback_server(
    pydicom_files: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    yield from serve_sweep_library(pydicom_files, tmp_path_factory.mktemp("fallback"))


@pytest.fixture(scope="module")
def no_webgl() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + NO_WEBGL)
        yield b
        b.close()


@pytest.fixture(params=["desktop", "phone"])
def page(no_webgl: Any, request: Any) -> Iterator[Any]:
    if request.param == "desktop":
        ctx = no_webgl.new_context(viewport={"width": 1000, "height": 760}, device_scale_factor=1)
    else:
        ctx = no_webgl.new_context(
            viewport={"width": 390, "height": 844},
            has_touch=True,
            is_mobile=True,
            device_scale_factor=1,
        )
    pg = ctx.new_page()
    errors = watch_errors(pg)
    pg.add_init_script(RECORD_TEXT)
    yield pg
    ctx.close()
    assert not errors, errors


def _frame(page: Any, view: str, before: np.ndarray | None = None) -> np.ndarray:
    """The view's pixels once its server frame has arrived (and differs from ``before``)."""
    for _ in range(240):
        part = view_pixels(page, canvas_rgb(page), view)
        new = before is None or part.shape != before.shape  # a toolbar row came or went
        if part.std() > 3 and (new or np.abs(part.astype(int) - before).max() > 8):
            return part
        page.wait_for_timeout(250)
    raise AssertionError(f"{view}: no new server frame")


def _settled_frame(page: Any, view: str) -> tuple[int, int, np.ndarray]:
    """``(w, h, pixels)`` of ``view`` once the server frame drawn in it was asked for at the
    view's present size: a mode's controls arriving after its first frame change the toolbar's
    height (a phone's view grows or shrinks), and the page then asks for a frame of the new
    size; comparing before that compares two sizes."""
    for _ in range(240):
        state = page.evaluate(
            f"""() => {{ const v = window.ownscanViewer, f = v._frames[{view!r}];
                const r = v.rects()[{view!r}];
                return {{ src: f.src, loaded: f.complete && f.naturalWidth > 0,
                          w: Math.round(r.w), h: Math.round(r.h) }}; }}"""
        )
        w, h = state["w"], state["h"]
        if state["loaded"] and f"width={w}&height={h}" in state["src"]:
            page.evaluate("() => window.ownscanViewer.afterDraw()")
            pixels = view_pixels(page, canvas_rgb(page), view)
            if pixels.shape[:2] == (h, w) and pixels.std() > 3:
                return w, h, pixels
        page.wait_for_timeout(250)
    raise AssertionError(f"{view}: no server frame of the view's size")


def _open(page: Any, server: Any, text: str) -> None:
    sign_in(page, server)
    assert not page.evaluate("() => !!document.createElement('canvas').getContext('webgl2')")
    page.locator(".series", has_text=text).first.click()
    page.wait_for_selector(".stage[data-renderer='server'][data-level='0']", timeout=120_000)
    notes = page.evaluate("() => window.ownscanViewer.notes.join()")
    assert "rendered on the server" in notes
    # the note is on the picture in lines that fit it (a phone's 390 px too)
    drawn = page.evaluate(
        """async () => { const v = window.ownscanViewer; window.__texts = [];
            await v.afterDraw(); const c = v.overlay.getContext('2d');
            return window.__texts.filter((t) => t.x === 6 && t.font.startsWith('12px'))
                .map((t) => { c.font = t.font;
                              return [t.text, c.measureText(t.text).width]; }); }"""
    )
    assert " ".join(t for t, _ in drawn).startswith("pictures rendered on the server")
    width = page.evaluate("() => window.ownscanViewer.stage.clientWidth")
    assert all(w <= width - 12 for _, w in drawn), (drawn, width)


def test_volume_2d_and_3d_from_server_frames(fallback_server, page, tmp_path):
    _open(page, fallback_server, "CT · 40 images")
    phone = page.viewport_size["width"] < 900
    views = drawn_texts(page)["views"]
    shown = ["axial"] if phone else ["axial", "coronal", "sagittal", "3d"]
    assert sorted(views) == sorted(shown)
    for name in shown:
        _frame(page, name)
        want = camera_labels(0, 0) if name == "3d" else mpr_labels(name)
        assert views[name]["labels"] == want, name
    # scrolling asks for the next slice
    before = _frame(page, "axial").astype(int)
    page.keyboard.press("PageUp")
    _frame(page, "axial", before)
    page.screenshot(path=str(tmp_path / "fallback-2d.png"))
    if phone:
        page.click("button[data-layout='3d']")
    last = None
    for mode in MODES:
        page.select_option(".mode-select select", mode)
        last = _frame(page, "3d", None if last is None else last.astype(int))
        src = page.evaluate("() => window.ownscanViewer._frames['3d'].src")
        assert f"mode={mode}" in src
        if mode == "xray":
            # the series' default window shown: render's own X-ray window (never black)
            assert "window=" not in src
            w, h, last = _settled_frame(page, "3d")
            query = f"mode=xray&width={w}&height={h}&azimuth=0&elevation=0&zoom=1"
            uid = page.evaluate("() => window.ownscanViewer.uid")
            resp = page.context.request.get(
                f"{fallback_server.base}/api/series/{uid}/render.png?{query}"
            )
            ref = np.asarray(Image.open(io.BytesIO(resp.body())).convert("RGB"))
            assert ref.std() > 5
            assert np.abs(last.astype(int) - ref.astype(int)).max() <= 2
        page.screenshot(path=str(tmp_path / f"fallback-{mode}.png"))


def test_radiograph_from_a_server_frame(fallback_server, page, tmp_path):
    _open(page, fallback_server, "CR · CHEST")
    _frame(page, "image")
    views = drawn_texts(page)["views"]
    # RG1's Patient Orientation is L\F: the patient's left on the right, the feet down
    assert views["image"]["labels"] == {"right": "L", "left": "R", "bottom": "I", "top": "S"}
    assert "no scale: pixel size unknown" in views["image"]["texts"]
    page.screenshot(path=str(tmp_path / "fallback-cr.png"))
