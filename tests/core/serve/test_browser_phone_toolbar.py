"""A phone's viewer keeps its picture's size while controls arrive: the toolbar is one row that
scrolls sideways, so a mode's parameters (the surface's threshold, the MinIP's slab), the
Report button (whose marks come late on a slow network) and Overlays never push the picture
down, and the page never asks for a 3D frame of a new size because of them. Every control
stays reachable: the new mode's controls are scrolled into sight, the Compare list opens whole
inside the screen, above the picture."""

from __future__ import annotations

from typing import Any

from browser_support import open_series, sign_in, watch_errors

MODES = ("iso", "minip", "dvr", "xray", "mip", "iso")

# the stage's size at every picture drawn, in window.__sizes
WATCH = """() => {
    const v = window.ownscanViewer;
    const draw = v._draw.bind(v);
    window.__sizes = [];
    v._draw = () => { window.__sizes.push([v.stage.clientWidth, v.stage.clientHeight]);
                      draw(); };
}"""


def _inside_screen(page: Any, selector: str) -> None:
    """The element is whole inside the window and on top at its centre (not clipped, not
    under another element)."""
    box = page.locator(selector).bounding_box()
    vw, vh = page.viewport_size["width"], page.viewport_size["height"]
    assert box is not None and box["width"] > 0 and box["height"] > 0, selector
    assert box["x"] >= 0 and box["x"] + box["width"] <= vw, (selector, box)
    assert box["y"] >= 0 and box["y"] + box["height"] <= vh, (selector, box)
    on_top = page.evaluate(
        """(sel) => { const e = document.querySelector(sel), b = e.getBoundingClientRect();
            const hit = document.elementFromPoint(b.x + b.width / 2, b.y + b.height / 2);
            return !!hit && (hit === e || e.contains(hit)); }""",
        selector,
    )
    assert on_top, selector


def test_the_picture_keeps_its_size_while_controls_arrive(served: Any, phone: Any) -> None:
    _keeps_its_size(phone, served)


def test_turned_to_landscape_too(served: Any, browser: Any) -> None:
    ctx = browser.new_context(
        viewport={"width": 844, "height": 390},
        has_touch=True,
        is_mobile=True,
        device_scale_factor=1,
    )
    page = ctx.new_page()
    errors = watch_errors(page)
    try:
        _keeps_its_size(page, served)
    finally:
        ctx.close()
    assert not errors, errors


def _keeps_its_size(page: Any, served: Any) -> None:
    # the marks (and with them the Report button) arrive late, as on a slow network
    page.route(
        "**/marks",
        lambda route: (page.wait_for_timeout(2500), route.continue_()),
    )
    sign_in(page, served)
    page.click(".series >> nth=0")
    page.wait_for_selector(".stage[data-level='0']", timeout=120_000)
    page.click("button[data-layout='3d']")
    page.evaluate("() => window.ownscanViewer.afterDraw()")
    page.evaluate(WATCH)
    stage = page.evaluate(
        "() => [window.ownscanViewer.stage.clientWidth, window.ownscanViewer.stage.clientHeight]"
    )
    page.wait_for_selector(".report-toggle", state="attached", timeout=60_000)
    for mode in MODES:
        page.select_option(".mode-select select", mode)
        page.wait_for_function(
            f"() => {{ const v = window.ownscanViewer; return v.mode3d === {mode!r} && "
            f"v.renderer.programs.has(v.programKey({mode!r})); }}",
            timeout=120_000,
        )
        page.evaluate("() => window.ownscanViewer.afterDraw()")
        if mode == "iso":
            # the threshold came, beside the menu, and is on the screen
            _inside_screen(page, ".mode-param input[data-param='iso_value']")
        if mode == "minip":
            _inside_screen(page, ".mode-param input[data-param='slab']")
    sizes = page.evaluate("() => window.__sizes")
    assert sizes and all(s == stage for s in sizes), (stage, sizes)
    # the toolbar is one row: the picture has the rest of the screen
    bar = page.locator(".toolbar").bounding_box()
    assert bar is not None and bar["height"] < 50, bar
    # the late controls are reachable: Report opens the report, Compare its list, whole
    page.locator(".report-toggle").click()
    page.wait_for_selector(".report-panel:not([hidden])")
    page.locator(".compare-button").click()
    page.wait_for_selector(".compare-list .compare-choice, .compare-list .meta")
    _inside_screen(page, ".compare-list")


def test_a_desktop_opens_its_compare_list_under_the_button(served: Any, desktop: Any) -> None:
    page = desktop
    sign_in(page, served)
    open_series(page)
    page.locator(".compare-button").click()
    page.wait_for_selector(".compare-list .compare-choice")
    _inside_screen(page, ".compare-list")
    button = page.locator(".compare-button").bounding_box()
    panel = page.locator(".compare-list").bounding_box()
    assert button is not None and panel is not None
    assert abs(panel["y"] - (button["y"] + button["height"])) <= 4, (button, panel)
    # a choice takes the user to the comparison
    page.locator(".compare-list .compare-choice").first.click()
    page.wait_for_selector(".compare-panes", timeout=60_000)
