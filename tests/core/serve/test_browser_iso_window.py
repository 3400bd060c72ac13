"""The surface's threshold control says the threshold drawn, in any order of choices: left
unset, the surface lies a quarter of the window below its level (the renderer's default, as
``ownscan render``), so a window chosen after the surface (a preset, a drag on a 2D view,
Reset) moves the surface and the slider with it; once the user sets the threshold, the window
no longer moves either."""

from __future__ import annotations

from typing import Any

import pytest
from browser_support import open_series, sign_in

# what the slider and its words say, and the threshold of the frame the 3D view draws (HU)
STATE = """() => {
    const v = window.ownscanViewer;
    const input = document.querySelector(".mode-param input[data-param='iso_value']");
    const f = v.frame3d(8, 8);
    const drawn = f.parameters.iso_value * (v.valueMax - v.valueMin) + v.valueMin;
    const said = input.parentElement.querySelector("output").textContent;
    return {slider: Number(input.value), step: Number(input.step), said, drawn};
}"""


def _agree(page: Any) -> float:
    s = page.evaluate(STATE)
    assert s["slider"] == pytest.approx(s["drawn"], abs=s["step"]), s
    assert s["said"] == f"{round(s['drawn'])} HU", s
    return float(s["drawn"])


def test_the_threshold_said_is_the_one_drawn(served: Any, desktop: Any) -> None:
    page = desktop
    sign_in(page, served)
    open_series(page)
    page.select_option(".mode-select select", "iso")
    page.wait_for_selector(".mode-param input[data-param='iso_value']", timeout=120_000)
    first = _agree(page)
    page.select_option(".window-select select", "bone")  # level 300, width 2000
    assert _agree(page) == pytest.approx(300 - 2000 / 4)
    # a window drag on the axial view (top left)
    box = page.locator(".stage").bounding_box()
    x, y = box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.25
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 60, y + 40, steps=6)
    page.mouse.up()
    dragged = _agree(page)
    assert dragged != pytest.approx(300 - 2000 / 4)
    page.locator("button", has_text="Reset").click()
    assert _agree(page) == pytest.approx(first)
    # the user's own threshold stays where it is put, whatever the window
    page.locator(".mode-param input[data-param='iso_value']").fill("250")
    assert _agree(page) == pytest.approx(250, abs=2)
    page.select_option(".window-select select", "bone")
    assert _agree(page) == pytest.approx(250, abs=2)
