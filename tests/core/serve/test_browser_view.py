"""The page in a real browser (Debian's Chromium, WebGL2 through SwiftShader) against a real
``ownscan serve``: the door, the library, the 2D and 3D views, a phone with touch gestures, a
report.

The browser draws with the same GLSL as the desktop renderer (core/serve/_webgl.py), so its 3D
pictures are compared with the server's ``render.png`` (the moderngl renderer, llvmpipe via
EGL; or the array renderer) of the same scene at the same size, by the bounds the GL-vs-array
tests use (tests/gl_support.py): at most 3 levels apart, at most 0.1 % of pixels more than 2.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser_support import canvas_rgb, open_series, sign_in, watch_errors
from gl_support import assert_same_picture
from PIL import Image
from serve_process import ServeProcess

DOCS = Path(__file__).resolve().parents[3] / "docs"


def server_png(page: Any, url: str) -> np.ndarray:
    """A PNG fetched by the page (with its session cookie), RGB."""
    resp = page.context.request.get(url)
    assert resp.status == 200, resp.text()
    assert resp.headers["content-type"] == "image/png"
    return np.asarray(Image.open(io.BytesIO(resp.body())).convert("RGB"))


def test_no_token_no_data(served, browser):
    ctx = browser.new_context()
    page = ctx.new_page()
    resp = page.goto(served.base + "/")
    assert resp.status == 401
    body = page.content()
    assert "ownscan serve" in body  # says where to find the address
    assert "Phantom" not in body and "GEN001" not in body
    assert page.title() in ("", "ownscan")
    resp = page.goto(served.base + "/?token=" + "x" * 22)
    assert resp.status == 401
    resp = page.goto(served.base + "/api/library")
    assert resp.status == 401 and "Phantom" not in page.content()
    ctx.close()


def test_library_listed_and_series_drawn(served, desktop, tmp_path):
    page = desktop
    sign_in(page, served)
    assert page.locator(".patient h3").first.inner_text() == "Generated Phantom"
    card = page.locator(".series").first
    assert "40 images" in card.inner_text() and "CT" in card.inner_text()
    # the thumbnail, rendered on the server, arrived and is not blank
    page.wait_for_function(
        "() => { const i = document.querySelector('.thumb'); return i.complete && i.naturalWidth }"
    )
    assert page.locator(".document").count() == 1
    page.screenshot(path=str(tmp_path / "library.png"), full_page=True)

    open_series(page)
    stage = page.locator(".stage")
    # the preview came first, then full resolution replaced it
    assert stage.get_attribute("data-levels-shown") == "1 0"
    assert stage.get_attribute("data-renderer") is None  # WebGL2, not the server fallback
    rgb = canvas_rgb(page)
    h, w = rgb.shape[:2]
    for rows in (slice(0, h // 2), slice(h // 2, h)):
        for cols in (slice(0, w // 2), slice(w // 2, w)):
            assert rgb[rows, cols].std() > 10, "one of the four views is blank"
    page.screenshot(path=str(tmp_path / "viewer.png"))


def test_axial_slice_is_the_servers_axial_mpr(served, desktop):
    """The 2D view (viewer_slice.glsl) against ``render.png?mode=mpr&plane=axial``: the same
    pixels where both frame the volume alike (the slice view fits with a 2 % margin, the
    renderer with 4 %: zoom 1.02 / 1.04 matches them). Anterior up, the patient's left on the
    right: a flipped picture fails."""
    page = desktop
    sign_in(page, served)
    uid = open_series(page)
    page.click("button[data-layout='axial']")
    info = page.evaluate(
        """async () => {
            const v = window.ownscanViewer;
            v.viewState.axial.zoom = 1.02 / 1.04;
            await v.afterDraw();
            const c = document.querySelector('.stage canvas.gl');
            return {w: c.width, h: c.height, win: v.window};
        }"""
    )
    mine = canvas_rgb(page)
    w, h, win = info["w"], info["h"], info["win"]
    ref = server_png(
        page,
        f"{served.base}/api/series/{uid}/render.png?mode=mpr&plane=axial&width={w}&height={h}"
        f"&window={win['width']}&level={win['level']}",
    )
    assert mine.std() > 10 and ref.std() > 10
    diff = np.abs(mine.astype(int) - ref.astype(int)).max(axis=-1)
    # the labels and the scale bar are drawn on the overlay, not this canvas
    assert (diff > 2).mean() < 0.002, f"{(diff > 2).mean():.4f} of pixels differ"


# (mode, window (width, level) or None for the series' default, camera azimuth, elevation,
# iso value in HU or None for the mode's default: a value parameter, normalised by the page)
MODES_3D = [
    ("mip", None, 30.0, 20.0, None),
    ("minip", (1200.0, -500.0), 0.0, -90.0, None),
    ("xray", (1200.0, -500.0), 0.0, 0.0, None),
    ("dvr", None, 30.0, 20.0, None),
    ("iso", None, 15.0, 25.0, None),
    ("iso", None, -40.0, 10.0, -500.0),  # the skin (the default -60 HU: the muscle under the fat)
]


@pytest.fixture(scope="module", params=["axis-aligned", "oblique"])
def viewer_3d(served, browser, request):
    """One desktop page with a series open in the 3D layout, shared by the mode tests
    (SwiftShader is slow: the page and the volume load once per volume): series 1 (axis-aligned)
    or 2 (oblique: its affine has no zero)."""
    ctx = browser.new_context(viewport={"width": 560, "height": 480}, device_scale_factor=1)
    page = ctx.new_page()
    errors = watch_errors(page)
    sign_in(page, served)
    texts = page.locator(".series").all_inner_texts()
    oblique = request.param == "oblique"
    uid = open_series(page, next(n for n, t in enumerate(texts) if ("oblique" in t) == oblique))
    page.click("button[data-layout='3d']")
    yield page, uid
    ctx.close()
    assert not errors, errors


@pytest.mark.parametrize(
    ("mode", "window", "azimuth", "elevation", "iso"),
    MODES_3D,
    ids=[m[0] + (f"-{m[4]:g}" if m[4] is not None else "") for m in MODES_3D],
)
def test_3d_mode_matches_ownscan_render(
    served, viewer_3d, tmp_path, mode, window, azimuth, elevation, iso
):
    page, uid = viewer_3d
    shot = page.evaluate(
        """async ([mode, win, az, el, iso]) => {
            const v = window.ownscanViewer;
            v.parameters[mode] = iso === null ? {} : {iso_value: iso};
            await v.setMode(mode);
            if (win) v.setWindow(win[0], win[1]);
            else v.setWindow(v.header.window.width, v.header.window.level);
            Object.assign(v.camera, {azimuth: az, elevation: el, zoom: 1, pan: [0, 0]});
            await v.afterDraw();
            // a shaded mode's first draw asks the worker for the gradient texels and is the
            // quick pass; the still frame follows when they arrive
            if (v.stage.dataset.quality !== "full") {
                await v.renderer.gradientSettled();
                await v.afterDraw();
            }
            const r = v.renderer.readRaycast();
            const cache = v.level.skipCache;
            const d = cache && cache.key.startsWith(v.modeInfo[mode].skip) ? cache.distance : [];
            return {w: r.width, h: r.height, data: Array.from(r.data), win: v.window,
                    tf: v.tf ? v.tf.name : null, quality: v.stage.dataset.quality,
                    skip: v.modeInfo[mode].skip, empty: d.filter((x) => x > 0).length};
        }""",
        [mode, list(window) if window else None, azimuth, elevation, iso],
    )
    assert shot["quality"] == "full"
    if shot["skip"] in ("opacity", "threshold"):
        # empty-space skipping is on (bricks of air around the body): the picture must still
        # be the one drawn without it
        assert shot["empty"] > 0
    w, h = shot["w"], shot["h"]
    mine = np.asarray(shot["data"], dtype=np.uint8).reshape(h, w, 4)[..., :3]
    query = (
        f"mode={mode}&width={w}&height={h}&azimuth={azimuth}&elevation={elevation}"
        f"&window={shot['win']['width']}&level={shot['win']['level']}"
    )
    if mode == "dvr":
        query += f"&preset={shot['tf']}"
    if iso is not None:
        query += f"&iso={iso}"
    ref = server_png(page, f"{served.base}/api/series/{uid}/render.png?{query}")
    # not blank: a test that cannot fail is no test
    assert (mine.max(axis=-1) > 0).mean() > 0.05 and mine.std() > 5
    assert_same_picture(mine, ref, tmp_path, f"browser-{mode}")


def test_pdf_report_opens(served, desktop):
    page = desktop
    sign_in(page, served)
    link = page.locator(".document").first
    assert "PDF" in link.inner_text()
    # drawn in the page (docpage.js), the browser's own viewer one link away
    link.click()
    page.wait_for_selector(".doc-view .pdf-pages[data-pages]")
    href = page.locator(".doc-view a.pdf-open").get_attribute("href")
    with page.expect_popup() as popup_info:
        page.locator(".doc-view a.pdf-open").click()
    popup = popup_info.value
    popup.wait_for_load_state()
    assert popup.url == served.base + href
    resp = page.context.request.get(served.base + href)
    assert resp.headers["content-type"] == "application/pdf"
    assert resp.headers["content-disposition"].startswith("inline")
    assert resp.body().startswith(b"%PDF-")
    popup.close()


class Touch:
    """Touch events through the DevTools protocol (one session: it tracks the touches)."""

    def __init__(self, page: Any) -> None:
        self.cdp = page.context.new_cdp_session(page)

    def __call__(self, kind: str, points: list[tuple[float, float]]) -> None:
        pts = [{"x": x, "y": y, "id": n} for n, (x, y) in enumerate(points)]
        self.cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": pts})


def test_phone_pinch_zooms_and_swipe_scrolls(served, phone):
    page = phone
    sign_in(page, served)
    open_series(page)
    state = """() => {
        const v = window.ownscanViewer;
        return {layout: v.layout, zoom: v.viewState.axial.zoom, slice: v.sliceIndex('axial')[0],
                window: v.window.width};
    }"""
    before = page.evaluate(state)
    assert before["layout"] == "axial"  # a phone shows one view at a time
    touch = Touch(page)
    box = page.locator(".stage").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    # pinch: two fingers move apart
    touch("touchStart", [(cx - 30, cy), (cx + 30, cy)])
    for d in (45, 60, 80, 100):
        touch("touchMove", [(cx - d, cy), (cx + d, cy)])
    touch("touchEnd", [])
    after_pinch = page.evaluate(state)
    assert after_pinch["zoom"] > before["zoom"] * 2.5, after_pinch
    assert after_pinch["window"] == before["window"]  # a pinch is not a window drag
    # swipe: one finger, quickly up: slices scroll towards the head, the window stays
    touch("touchStart", [(cx, cy + 120)])
    touch("touchMove", [(cx, cy + 40)])
    touch("touchMove", [(cx, cy - 60)])
    touch("touchEnd", [])
    after_swipe = page.evaluate(state)
    assert after_swipe["slice"] > after_pinch["slice"], after_swipe
    assert after_swipe["window"] == before["window"]
    # a slow one-finger drag changes the window
    page.evaluate("() => new Promise(r => setTimeout(r, 400))")
    touch("touchStart", [(cx - 50, cy)])
    for x in range(-40, 60, 10):
        touch("touchMove", [(cx + x, cy)])
        page.evaluate("() => new Promise(r => setTimeout(r, 50))")
    touch("touchEnd", [])
    assert page.evaluate(state)["window"] > before["window"]


@pytest.fixture(scope="module")
def mr_server(mr_head_dir, tmp_path_factory):
    """``ownscan serve`` on a library holding the real oblique head MR (384 images)."""
    import subprocess
    import sys

    library = tmp_path_factory.mktemp("mr") / "library"
    exe = Path(sys.executable).with_name("ownscan")
    r = subprocess.run(
        [str(exe), "import", str(mr_head_dir), "--library", str(library)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    server = ServeProcess.start(library)
    yield server
    assert server.stop() == 0, server.log


def test_phone_real_mr_and_the_readme_screenshot(mr_server, phone, tmp_path):
    """The real (oblique) head MR on a phone: the sagittal view is the server's sagittal frame
    (the face on the left, as radiology shows it; a flip fails), the 3D view draws;
    ``OWNSCAN_UPDATE_DOCS=1`` keeps the screenshot as docs/serve-phone.png (the README's
    picture)."""
    page = phone
    sign_in(page, mr_server)
    open_series(page)
    page.click("button[data-layout='sagittal']")
    info = page.evaluate(
        """async () => {
            const v = window.ownscanViewer;
            v.viewState.sagittal.zoom = 1.02 / 1.04;  // the renderer's margin (see above)
            await v.afterDraw();
            const c = document.querySelector('.stage canvas.gl');
            return {w: c.width, h: c.height, win: v.window, uid: v.uid};
        }"""
    )
    mine = canvas_rgb(page)
    w, h, win = info["w"], info["h"], info["win"]
    ref = server_png(
        page,
        f"{mr_server.base}/api/series/{info['uid']}/render.png?mode=mpr&plane=sagittal"
        f"&width={w}&height={h}&window={win['width']}&level={win['level']}",
    )
    assert mine.std() > 10
    diff = np.abs(mine.astype(int) - ref.astype(int)).max(axis=-1)
    assert (diff > 2).mean() < 0.002, f"{(diff > 2).mean():.4f} of pixels differ"
    page.screenshot(path=str(tmp_path / "sagittal.png"))
    page.evaluate(
        """async () => {
            const v = window.ownscanViewer;
            await v.setMode('dvr');
            Object.assign(v.camera, {azimuth: -35, elevation: 10});
            await v.afterDraw();
        }"""
    )
    rgb = canvas_rgb(page)
    assert rgb.std() > 10
    shot = tmp_path / "serve-phone.png"
    page.screenshot(path=str(shot))
    if os.environ.get("OWNSCAN_UPDATE_DOCS") == "1":
        shutil.copyfile(shot, DOCS / "serve-phone.png")


def test_without_webgl2_the_server_draws(served, desktop, tmp_path):
    """A browser without WebGL2: every view is a frame rendered on the server (render.png)."""
    page = desktop
    page.add_init_script(
        """(() => {
            const get = HTMLCanvasElement.prototype.getContext;
            HTMLCanvasElement.prototype.getContext = function (kind, ...rest) {
                return kind === 'webgl2' ? null : get.call(this, kind, ...rest);
            };
        })()"""
    )
    sign_in(page, served)
    page.locator(".series").first.click()
    page.wait_for_selector(".stage[data-renderer='server'][data-level='0']", timeout=120_000)
    # the four frames arrive one by one: wait until every quarter of the canvas has a picture
    page.wait_for_function(
        """() => {
            const c = document.querySelector('.stage canvas.gl');
            const g = c.getContext('2d');
            const w = c.width >> 1, h = c.height >> 1;
            return [[0, 0], [w, 0], [0, h], [w, h]].every(([x, y]) => {
                const d = g.getImageData(x, y, w, h).data;
                for (let i = 0; i < d.length; i += 4) if (d[i] > 40) return true;
                return false;
            });
        }""",
        timeout=120_000,
    )
    rgb = canvas_rgb(page)
    assert rgb.std() > 10
    page.screenshot(path=str(tmp_path / "server-frames.png"))
    assert "rendered on the server" in page.evaluate("() => window.ownscanViewer.notes.join()")
