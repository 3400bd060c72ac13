"""A phone turned to landscape (844 x 390, touch) on a 4D series: the picture gets the height.

The back link ("<- Library") took a whole 44 px row above the toolbar, so with the toolbar, the
cine bar (volume slider, Play) and the slice slider a 4D series' picture was about 190 px tall
of the screen's 390. The back link is now the toolbar's first control (app.js), sticky at the
row's left edge while the row scrolls sideways (style.css).

The library: ``pagegen.write_dwi``'s diffusion series (5 volumes, a cine bar) alone.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import save_shot, sign_in, watch_errors

TOUCH = 44  # CSS px: the smallest control a finger is asked to hit
# 390 px less the bars a 4D series' landscape view needs, each at its smallest sound height:
# the toolbar's row (44 px controls and its padding: 48), the cine bar (44 px + 2 x 3.2 px: 51)
# and the slice slider (44 px + 2 x 6.4 px margin: 57), 156 px in all, leaves 234 px; the
# back link's own row (44 px) above them left 190. 225 leaves a few px for rounding and fonts
# and fails with the back link on its own row.
MIN_PICTURE = 225


@pytest.fixture(scope="module")
def ct_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """(Overrides conftest's: the diffusion series of pagegen.py, imported.)"""
    from pagegen import write_dwi

    root = tmp_path_factory.mktemp("landscape")
    write_dwi(root / "src" / "dwi")
    exe = Path(sys.executable).with_name("ownscan")
    cmd = [str(exe), "import", str(root / "src"), "--library", str(root / "library")]
    r = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr + r.stdout
    return root / "library"


@pytest.fixture
def landscape(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(
        viewport={"width": 844, "height": 390},
        has_touch=True,
        is_mobile=True,
        device_scale_factor=1,
    )
    page = ctx.new_page()
    errors = watch_errors(page)
    yield page
    ctx.close()
    assert not errors, errors


def test_a_4d_series_picture_gets_the_height(served: Any, landscape: Any, tmp_path: Path) -> None:
    page = landscape
    sign_in(page, served)
    page.locator(".series", has_text="DWI").first.click()
    page.wait_for_selector(".stage[data-level='0'][data-quality='full']", timeout=120_000)
    page.wait_for_selector(".cine .cine-slider")
    page.evaluate("() => window.ownscanViewer.afterDraw()")
    save_shot(page, "landscape-4d-844x390", tmp_path)
    canvas = page.locator(".stage canvas.gl").bounding_box()
    assert canvas is not None
    assert canvas["height"] >= MIN_PICTURE, canvas
    # every control on the screen and a finger's size; the back link among them
    controls = page.evaluate(
        """() => [...document.querySelectorAll(
              'a.back, .toolbar button, .toolbar select, .cine button, .cine-slider,'
              + ' .slice-slider')]
            .filter((e) => e.getClientRects().length)
            .map((e) => { const r = e.getBoundingClientRect();
              return [e.tagName + '.' + e.className + ' ' + e.textContent.slice(0, 12),
                      r.top, r.bottom, r.width, r.height]; })"""
    )
    names = [c[0] for c in controls]
    assert any(n.startswith("A.back") for n in names), names
    assert any(n.startswith("INPUT.cine-slider") for n in names), names
    for name, top, bottom, _width, height in controls:
        assert top >= -0.5 and bottom <= 390.5, (name, top, bottom)
        assert height >= TOUCH - 0.5, (name, height)
    # the toolbar's row: each control reachable (scrolled into sight) and then wholly visible,
    # the back link not over it
    toolbar = page.locator(".toolbar")
    for i in range(toolbar.locator("button, select").count()):
        c = toolbar.locator("button, select").nth(i)
        c.scroll_into_view_if_needed()
        box, back = c.bounding_box(), page.locator("a.back").bounding_box()
        assert box is not None and back is not None
        assert box["x"] >= -0.5 and box["x"] + box["width"] <= 844.5, box
        assert (
            box["x"] >= back["x"] + back["width"] - 0.5 or box["y"] >= back["y"] + back["height"]
        ), (
            box,
            back,
        )
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"the page scrolls sideways: {widths}"


def test_the_volume_slider_and_play_for_a_screen_reader(served: Any, landscape: Any) -> None:
    """The cine bar's slider says which volume in words (its value counts from 0), and its
    status line is not said at every frame while it plays."""
    page = landscape
    sign_in(page, served)
    page.locator(".series", has_text="DWI").first.click()
    slider = page.locator(".cine .cine-slider")
    slider.wait_for()
    assert slider.get_attribute("aria-valuetext") == "volume 1 of 5, b=0 s/mm²"
    slider.focus()
    page.keyboard.press("ArrowRight")
    assert (slider.get_attribute("aria-valuetext") or "").startswith("volume 2 of 5, b=1000")
    page.locator(".cine button").click()
    label = page.locator(".cine-label")
    assert label.get_attribute("aria-live") == "off"
    page.locator(".cine button").click()
    assert label.get_attribute("aria-live") is None and label.get_attribute("role") == "status"
