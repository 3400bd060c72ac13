"""Touch and wheel where the first phone test does not go: a swipe through a clip's frames (an
ultrasound cine: its frames are its slices), the wheel on it on a desktop, the window's menu
after a swipe (the drag on the way is undone, and the menu says the preset again, not
"custom"), and in the 3D view one finger rotating and two pinching the camera."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser_support import sign_in, write_ct
from serve_process import ServeProcess, served_import
from test_browser_view import Touch


@pytest.fixture(scope="module")
def clip_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    from pagegen import write_cine
    from pydicom.uid import generate_uid

    root = tmp_path_factory.mktemp("touch")
    write_ct(root / "src" / "ct")
    (root / "src" / "us").mkdir()
    write_cine(root / "src" / "us" / "clip.dcm", generate_uid(), colour=False, frames=6, number=1)
    with served_import(root) as server:
        yield server


def _centre(page: Any) -> tuple[float, float]:
    box = page.locator(".stage").bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def _swipe_up(touch: Touch, cx: float, cy: float) -> None:
    touch("touchStart", [(cx, cy + 120)])
    touch("touchMove", [(cx, cy + 40)])
    touch("touchMove", [(cx, cy - 60)])
    touch("touchEnd", [])


def _open(page: Any, server: Any, text: str) -> None:
    sign_in(page, server)
    page.locator(".series", has_text=text).first.click()
    page.wait_for_selector(".stage[data-level='0']", timeout=120_000)
    page.evaluate("() => window.ownscanViewer.afterDraw()")


def test_a_swipe_steps_a_clips_frames(clip_server: Any, phone: Any) -> None:
    page = phone
    _open(page, clip_server, "US")
    page.wait_for_selector(".stage[data-frame='0']")
    touch = Touch(page)
    cx, cy = _centre(page)
    _swipe_up(touch, cx, cy)  # 180 px up: a few frames on
    page.wait_for_function("() => Number(window.ownscanViewer.stage.dataset.frame) >= 1")
    frame = int(page.evaluate("() => window.ownscanViewer.stage.dataset.frame"))
    assert page.locator(".cine-label").inner_text().startswith(f"frame {frame + 1}/6")
    # down again: back to the first frame, never before it
    for _ in range(3):
        touch("touchStart", [(cx, cy - 120)])
        touch("touchMove", [(cx, cy + 60)])
        touch("touchEnd", [])
    page.wait_for_selector(".stage[data-frame='0']")
    assert page.locator(".cine-label").inner_text().startswith("frame 1/6")


def test_the_wheel_steps_a_clips_frames(clip_server: Any, desktop: Any) -> None:
    page = desktop
    _open(page, clip_server, "US")
    cx, cy = _centre(page)
    page.mouse.move(cx, cy)
    for _ in range(2):
        page.mouse.wheel(0, -100)  # away from the user: forwards, as a volume's slices
    page.wait_for_selector(".stage[data-frame='2']")
    page.keyboard.press("ArrowUp")  # the scrolling keys: one step each, not two
    page.wait_for_selector(".stage[data-frame='3']")
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.ownscanViewer.stage.dataset.frame") == "3"


def test_a_swipe_keeps_the_windows_menu(clip_server: Any, phone: Any) -> None:
    page = phone
    _open(page, clip_server, "CT")
    state = """() => { const v = window.ownscanViewer;
        return {menu: v.windowSelect.value, window: [v.window.width, v.window.level],
                slice: v.sliceIndex('axial')[0]}; }"""
    before = page.evaluate(state)
    assert before["menu"] != ""
    _swipe_up(Touch(page), *_centre(page))
    after = page.evaluate(state)
    assert after["slice"] > before["slice"], after
    assert after["window"] == before["window"] and after["menu"] == before["menu"], after


def test_3d_one_finger_rotates_two_pinch(clip_server: Any, phone: Any) -> None:
    page = phone
    _open(page, clip_server, "CT")
    page.click("button[data-layout='3d']")
    cam = "() => ({...window.ownscanViewer.camera})"
    before = page.evaluate(cam)
    touch = Touch(page)
    cx, cy = _centre(page)
    touch("touchStart", [(cx - 60, cy)])
    for x in range(-50, 60, 10):
        touch("touchMove", [(cx + x, cy)])
    touch("touchEnd", [])
    turned = page.evaluate(cam)
    # 0.4 degree per pixel, as the desktop: 110 px to the right turn the volume by -44
    assert turned["azimuth"] == pytest.approx(-44, abs=0.5), turned
    assert turned["elevation"] == before["elevation"] and turned["zoom"] == before["zoom"]
    touch("touchStart", [(cx - 30, cy), (cx + 30, cy)])
    for d in (45, 60, 80, 100):
        touch("touchMove", [(cx - d, cy), (cx + d, cy)])
    touch("touchEnd", [])
    pinched = page.evaluate(cam)
    assert pinched["zoom"] == pytest.approx(100 / 30, rel=0.05), pinched
    assert pinched["azimuth"] == turned["azimuth"]  # a pinch turns nothing
