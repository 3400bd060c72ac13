"""The page when things happen around it: the server stopped and started again while a series
is open (same token, then a new one), the series removed and imported again while shown, a slow
network (Chromium's own throttling) and leaving a series before it has loaded, rapid mode
switching and double clicks, a phone turned to landscape and back, the browser's back and
forward. No uncaught exception ever; the only console errors allowed are the browser's own
lines about requests that failed while the server was away or the series gone."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, canvas_rgb, write_ct
from serve_process import ServeProcess
from sweep_support import RECORD_TEXT, drawn_texts, mpr_labels, view_pixels

# the browser's own line for a request that got no answer or a 404/401: what a stopped server
# or a removed series makes (the page says what happened in words, tested below)
NETWORK = "Failed to load resource"


def _ownscan(*args: str) -> None:
    exe = Path(sys.executable).with_name("ownscan")
    r = subprocess.run([str(exe), *args], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr + r.stdout


@pytest.fixture(scope="module")
def small_library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A library of the generated CT and pagegen's diffusion 4D series; and the CT's folder."""
    from pagegen import write_dwi

    root = tmp_path_factory.mktemp("resilience")
    ct = root / "src" / "ct"
    write_ct(ct)
    write_dwi(root / "src" / "dwi")
    _ownscan("import", str(root / "src"), "--library", str(root / "library"))
    return root / "library", ct


@pytest.fixture
def server(small_library: tuple[Path, Path], tmp_path: Path) -> Iterator[ServeProcess]:
    s = ServeProcess.start(small_library[0], "--token-file", str(tmp_path / "token"))
    s.restarts = [s]  # type: ignore[attr-defined]
    yield s
    for each in s.restarts:  # type: ignore[attr-defined]
        if each.proc.poll() is None:  # the tests stop some themselves
            assert each.stop() == 0, each.log


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _page(chromium: Any, phone: bool = False) -> tuple[Any, list[str]]:
    if phone:
        ctx = chromium.new_context(
            viewport={"width": 390, "height": 844},
            has_touch=True,
            is_mobile=True,
            device_scale_factor=1,
        )
    else:
        ctx = chromium.new_context(viewport={"width": 1000, "height": 760}, device_scale_factor=1)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.on(
        "console",
        lambda m: errors.append(m.text) if m.type == "error" and NETWORK not in m.text else None,
    )
    page.add_init_script(RECORD_TEXT)
    return page, errors


def _open(page: Any, base: str, text: str) -> None:
    page.locator(".series", has_text=text).first.click()
    page.wait_for_selector(".stage[data-level='0'][data-quality='full']", timeout=120_000)
    page.evaluate("() => window.ownscanViewer.afterDraw()")


def _status(page: Any) -> str:
    return page.evaluate("() => window.ownscanViewer.status.textContent")


def _select_mode(page: Any, mode: str) -> None:
    page.select_option(".mode-select select", mode)
    page.wait_for_function("(m) => window.ownscanViewer.mode3d === m", arg=mode, timeout=60_000)


def test_server_restarted_while_a_series_is_open(chromium, server, small_library, tmp_path):
    page, errors = _page(chromium)
    page.goto(server.url)
    page.wait_for_selector(".patients", timeout=60_000)
    _open(page, server.base, "40 images")
    port = server.base.rsplit(":", 1)[1]
    assert server.stop() == 0
    # the voxels are on the GPU: scrolling goes on; a mode whose program is not here yet says
    # in words that the server is away
    page.keyboard.press("ArrowUp")
    assert "axial 22/40" in drawn_texts(page)["views"]["axial"]["texts"]
    page.select_option(".mode-select select", "iso")
    page.wait_for_function(
        "() => window.ownscanViewer.status.textContent.includes('cannot be reached')"
    )
    # started again with the same token (--token-file): the cookie still opens the door
    again = ServeProcess.start(
        small_library[0], "--token-file", str(tmp_path / "token"), "--port", port
    )
    server.restarts.append(again)
    _select_mode(page, "mip")
    page.select_option(".mode-select select", "iso")
    page.wait_for_function(
        "() => window.ownscanViewer.renderer.programs.has('iso') && "
        "!window.ownscanViewer.status.textContent",
        timeout=60_000,
    )
    page.evaluate("() => window.ownscanViewer.afterDraw()")
    assert view_pixels(page, canvas_rgb(page), "3d").std() > 3
    assert page.locator(".mode-params", has_text="Surface at").is_visible()
    # started with a new token: the page says the address must be opened again
    assert again.stop() == 0
    fresh = ServeProcess.start(small_library[0], "--port", port)
    server.restarts.append(fresh)
    page.select_option(".mode-select select", "xray")
    page.wait_for_function(
        "() => window.ownscanViewer.status.textContent.includes('not signed in')", timeout=60_000
    )
    page.goto(fresh.url)  # the new address: in again
    page.wait_for_selector(".patients", timeout=60_000)
    assert not errors, errors


def test_series_removed_and_imported_again_while_shown(chromium, server, small_library):
    library, ct = small_library
    page, errors = _page(chromium)
    page.goto(server.url)
    page.wait_for_selector(".patients", timeout=60_000)
    _open(page, server.base, "40 images")
    uid = page.evaluate("() => window.ownscanViewer.uid")
    _ownscan("remove", "series", uid, "--yes", "--library", str(library))
    try:
        # what was loaded stays viewable
        page.keyboard.press("ArrowDown")
        _select_mode(page, "mip")
        page.evaluate("() => window.ownscanViewer.afterDraw()")
        assert view_pixels(page, canvas_rgb(page), "axial").std() > 3
        page.reload()
        page.wait_for_selector("p.error", timeout=60_000)
        assert "no series" in page.inner_text("p.error")
        page.go_back()
        page.wait_for_selector(".patients")
        assert page.locator(".series", has_text="40 images").count() == 0
    finally:
        _ownscan("import", str(ct), "--library", str(library))
    page.go_forward()
    page.wait_for_selector(".stage[data-level='0'][data-quality='full']", timeout=120_000)
    page.evaluate("() => window.ownscanViewer.afterDraw()")
    assert view_pixels(page, canvas_rgb(page), "axial").std() > 3
    assert not errors, errors


def test_slow_network_preview_first_and_leaving_while_loading(chromium, server):
    page, errors = _page(chromium, phone=True)
    page.goto(server.url)
    page.wait_for_selector(".patients", timeout=60_000)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    # 1 Mbit/s with 200 ms of latency (a poor mobile link)
    slow = {"offline": False, "latency": 200, "downloadThroughput": 125_000}
    cdp.send("Network.emulateNetworkConditions", {**slow, "uploadThroughput": 125_000})
    # leave a series before it has loaded, open the other: the first's late voxels change
    # nothing of the second
    page.locator(".series", has_text="40 images").first.click()
    page.wait_for_selector(".stage")
    page.go_back()
    page.wait_for_selector(".patients")
    page.locator(".series", has_text="DWI").first.click()
    page.wait_for_selector(".stage[data-level='1']", timeout=120_000)  # the preview first
    page.wait_for_selector(".stage[data-level='0'][data-quality='full']", timeout=120_000)
    page.wait_for_timeout(3000)  # the CT's voxels arrive meanwhile
    v = page.evaluate(
        """() => { const v = window.ownscanViewer;
            return {shown: v.stage.dataset.levelsShown, shape: v.level.shape}; }"""
    )
    assert v["shown"] == "1 0"
    assert v["shape"][:3] == page.evaluate("() => window.ownscanViewer.header.shape.slice(0, 3)")
    assert view_pixels(page, canvas_rgb(page), "axial").std() > 3
    assert _status(page) == ""
    assert not errors, errors


def test_rapid_switching_rotation_and_history(chromium, server, tmp_path):
    page, errors = _page(chromium, phone=True)
    page.goto(server.url)
    page.wait_for_selector(".patients", timeout=60_000)
    page.locator(".series", has_text="40 images").first.dblclick()
    page.wait_for_selector(".stage[data-level='0'][data-quality='full']", timeout=120_000)
    # modes chosen faster than their programs arrive: the last one is shown, with its own
    # controls (not the surface's slider of a mode left on the way)
    page.evaluate(
        """() => { const v = window.ownscanViewer;
            for (const m of ['iso', 'xray', 'minip', 'dvr', 'iso', 'mip']) v.setMode(m); }"""
    )
    page.wait_for_function(
        "() => window.ownscanViewer.renderer.programs.has('mip')", timeout=60_000
    )
    page.wait_for_timeout(2000)  # every program asked for has arrived
    page.evaluate("() => window.ownscanViewer.afterDraw()")
    assert page.evaluate("() => window.ownscanViewer.mode3d") == "mip"
    assert page.locator(".mode-params", has_text="Surface at").count() == 0
    assert page.locator(".mode-params input[data-param='slab']").count() == 0
    assert view_pixels(page, canvas_rgb(page), "3d").std() > 3
    for key in ("axial", "3d", "coronal", "quad", "axial"):  # tabs tapped in a row
        page.click(f"button[data-layout='{key}']")
    page.locator(".cine-play, button:has-text('Reset')").first.dblclick()
    # turned to landscape and back: the canvas follows the stage, letters and picture stay
    for size in ({"width": 844, "height": 390}, {"width": 390, "height": 844}):
        page.set_viewport_size(size)
        page.wait_for_function(
            """() => { const v = window.ownscanViewer, c = v.canvas;
                return c.width === v.stage.clientWidth && c.height === v.stage.clientHeight; }"""
        )
        views = drawn_texts(page)["views"]
        assert views["axial"]["labels"] == mpr_labels("axial")
        # the slice slider on the screen without scrolling (landscape: 390 px high)
        slider = page.locator(".slice-slider").bounding_box()
        assert slider is not None and slider["y"] + slider["height"] <= size["height"], slider
        assert view_pixels(page, canvas_rgb(page), "axial").std() > 3
        page.screenshot(path=str(tmp_path / f"turned-{size['width']}.png"))
    # back to the library and forward to the series again
    uid = page.evaluate("() => window.ownscanViewer.uid")
    page.go_back()
    page.wait_for_selector(".patients")
    page.go_forward()
    page.wait_for_selector(".stage[data-level='0'][data-quality='full']", timeout=120_000)
    assert page.evaluate("() => window.ownscanViewer.uid") == uid
    assert not errors, errors
