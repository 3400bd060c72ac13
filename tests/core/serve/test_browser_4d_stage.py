"""A 4D series' stage says the volume shown (cine.js VolumeSource): ``data-volume`` changes
once that volume's picture is drawn, never before (a reader of the stage would see the old
picture under the new number), and only for the latest volume asked for when the user steps
faster than the volumes arrive. Checked at every change of the attribute, on a desktop and a
phone, with WebGL2 and with server frames."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, sign_in, watch_errors
from fourdgen import write_4d_series
from serve_process import ServeProcess, served_import


def _value(vol: int, slc: int, rows: int, cols: int) -> np.ndarray:
    r, c = np.mgrid[0:rows, 0:cols]
    return (100 + 400 * vol + 10 * slc + 3 * r + c).astype(np.uint16)


@pytest.fixture(scope="module")
def server_4d(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    root = tmp_path_factory.mktemp("fourd-stage")
    write_4d_series(
        root / "src", n_vols=4, n_slices=6, rows=16, cols=14, value=_value, description="four"
    )
    with served_import(root) as server:
        yield server


@pytest.fixture(scope="module", params=["webgl", "server-frames"])
def chromium(request: Any) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    extra = ["--disable-webgl", "--disable-3d-apis"] if request.param == "server-frames" else []
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + extra)
        yield b
        b.close()


@pytest.fixture(params=["desktop", "phone"])
def page(chromium: Any, request: Any) -> Iterator[Any]:
    if request.param == "desktop":
        ctx = chromium.new_context(viewport={"width": 1000, "height": 760}, device_scale_factor=1)
    else:
        ctx = chromium.new_context(
            viewport={"width": 390, "height": 844},
            has_touch=True,
            is_mobile=True,
            device_scale_factor=1,
        )
    pg = ctx.new_page()
    errors = watch_errors(pg)
    yield pg
    ctx.close()
    assert not errors, errors


# every change of data-volume, with the volume whose voxels (or server frame request) the
# last drawn picture used: the viewer's volumeIndex is set together with the voxels
WATCH = """() => {
    const v = window.ownscanViewer;
    const draw = v._draw.bind(v);
    window.__shown = v.volumeIndex || 0;
    v._draw = () => { draw(); window.__shown = v.volumeIndex || 0; };
    window.__said = [];
    new MutationObserver(() => window.__said.push(
        [Number(v.stage.dataset.volume), window.__shown])).observe(
        v.stage, {attributes: true, attributeFilter: ["data-volume"]});
}"""


def test_data_volume_says_the_volume_drawn(server_4d: Any, page: Any) -> None:
    sign_in(page, server_4d)
    page.locator(".series", has_text="four").first.click()
    page.wait_for_selector(".stage[data-level='0'][data-volume='0']", timeout=120_000)
    page.evaluate("() => window.ownscanViewer.afterDraw()")
    page.evaluate(WATCH)
    # one step at a time, then faster than the volumes arrive, then back
    page.keyboard.press("]")
    page.wait_for_selector(".stage[data-volume='1']", timeout=60_000)
    for key in ("]", "]", "[", "]", "]"):
        page.keyboard.press(key)
    page.wait_for_selector(".stage[data-volume='3']", timeout=60_000)
    page.locator(".cine-slider").fill("2")  # the slider as a phone user drags it
    page.wait_for_selector(".stage[data-volume='2']", timeout=60_000)
    page.evaluate("() => window.ownscanViewer.afterDraw()")
    said = page.evaluate("() => window.__said")
    assert said, "data-volume never changed"
    for number, drawn in said:
        assert number == drawn, said  # the number said is the picture shown
    assert said[-1] == [2, 2]
    assert page.locator(".cine-label").inner_text().startswith("volume 3/4")
