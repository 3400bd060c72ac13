"""The page in Debian's Chromium on pagegen.py's library: persons and timelines, a hostile
patient's name shown as text, the report with its glossary, key images, the radiologist's
window and marks, a 4D series' volumes and a multi-frame clip played. One server and one
browser for the module (SwiftShader is slow). ``OWNSCAN_SHOTS=DIR`` keeps the screenshots."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser_support import canvas_rgb, sign_in
from pagegen import HOSTILE_NAME
from serve_process import ServeProcess


@pytest.fixture(scope="module")
def history_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    from pagegen import make_sources

    root = tmp_path_factory.mktemp("history")
    src = make_sources(root)
    exe = Path(sys.executable).with_name("ownscan")
    r = subprocess.run(
        [str(exe), "import", str(src), "--library", str(root / "library")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    s = ServeProcess.start(root / "library")
    yield s
    assert s.stop() == 0, s.log


def _shot(page: Any, name: str, tmp_path: Path) -> Path:
    folder = Path(os.environ.get("OWNSCAN_SHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def _open(page: Any, text: str) -> None:
    page.locator(".series", has_text=text).first.click()
    page.wait_for_selector(".stage[data-level='0']", timeout=120_000)
    page.evaluate("() => window.ownscanViewer.afterDraw()")


def test_persons_timeline_and_hostile_text(history_server, desktop, phone, tmp_path):
    page = desktop
    sign_in(page, history_server)
    page.wait_for_selector(".person .timeline-entry")
    # the hostile name is text: no element made of it, no script run, controls escaped
    assert page.evaluate("() => window.pwned") is None
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("main script, main b, main i").count() == 0
    body = page.inner_text("main")
    assert "<b>Eve</b> <script>window.pwned++</script>" in body
    assert 'cine \\x1b[31m\\x07\\r\\n\\u202e<img src=x onerror="window.pwned=2">' in body
    assert "\x1b" not in body and "\u202e" not in body
    assert "<i>study</i>" in body
    # two Jane Does, proposed as one person; join them
    assert page.locator(".proposal").count() >= 1
    _shot(page, "persons-proposal", tmp_path)
    page.locator(".proposal button", has_text="Same person").first.click()
    page.wait_for_selector(".person .linked")
    jane = page.locator(".person", has=page.locator(".linked"))
    dates = jane.locator(".timeline-entry h4").all_inner_texts()
    assert [d[:10] for d in dates] == ["2023-03-10", "2024-04-02"]
    metas = jane.locator(".timeline-entry > p.meta").all_inner_texts()
    assert "CT" in metas[0] and "chest" in metas[0] and "St Anne" in metas[0]
    assert "report" in metas[0] and "marked by the radiologist" in metas[0]
    assert "MR" in metas[1] and "City Hospital" in metas[1]
    assert jane.locator(".series").count() == 2  # the CT and the DWI, no PR card
    page.wait_for_function(
        "() => [...document.querySelectorAll('img.thumb')]"
        ".every((i) => i.complete && i.naturalWidth)",
        timeout=120_000,
    )
    _shot(page, "persons-timeline", tmp_path)
    sign_in(phone, history_server)
    phone.wait_for_selector(".person .linked")
    _shot(phone, "persons-phone", tmp_path)
    # undo: the two records are two persons again
    page.locator(".linked button").first.click()
    page.wait_for_selector(".proposal")
    assert page.locator(".person .linked").count() == 0


def test_report_key_images_window_and_marks(history_server, desktop, phone, tmp_path):
    page = desktop
    sign_in(page, history_server)
    _open(page, "Axial 1mm")
    page.wait_for_selector(".report-panel .report")
    panel = page.inner_text(".report-panel")
    assert "A hypodense nodule in the left lower lobe" in panel
    assert "Diameter: 12.5 mm" in panel
    glossary = page.locator(".glossary dt").all_inner_texts()
    assert {"hypodense", "nodule", "unremarkable"} <= {g.lower() for g in glossary}
    # the key images strip: images 1 and 3; a chip jumps to its slice
    chips = page.locator(".key-strip .key-image")
    assert [c.get_attribute("data-number") for c in chips.all()] == ["1", "3"]
    chips.nth(1).click()
    jumped = page.get_attribute(".stage", "data-jumped")
    assert jumped is not None and jumped.split(",")[2] == "2.00"  # image 3 lies at z = 2 mm
    # the radiologist's window
    page.locator(".apply-window").click()
    w = page.evaluate("() => window.ownscanViewer.window")
    assert (w["width"], w["level"], w["name"]) == (1500, -600, "radiologist: LUNG")
    assert page.eval_on_selector(".window-select select", "s => s.value") == "radiologist: LUNG"
    # the SR measurement: jump to image 2, the outline and the GSPS marks drawn there
    page.locator(".mark.sr").click()
    page.evaluate("() => window.ownscanViewer.afterDraw()")
    assert page.get_attribute(".stage", "data-jumped").split(",")[2] == "1.00"
    drawn = dict(x.split(":") for x in page.get_attribute(".stage", "data-marks-drawn").split())
    assert int(drawn["axial"]) == 7, drawn  # 6 marks of image 2 and the marker
    # the marks are on the picture: the SR outline's green and the GSPS orange in the overlay
    over = canvas_rgb(page, ".stage canvas.overlay")
    green = np.all(np.abs(over.astype(int) - (61, 245, 167)) < 30, axis=-1).sum()
    orange = np.all(np.abs(over.astype(int) - (255, 159, 28)) < 30, axis=-1).sum()
    assert green > 50 and orange > 50, (green, orange)
    _shot(page, "marks-desktop", tmp_path)
    # two slices on (image 4) there is nothing of them
    page.evaluate(
        """async () => { const v = window.ownscanViewer; v.scroll('axial', 2);
        await v.afterDraw(); }"""
    )
    drawn = dict(x.split(":") for x in page.get_attribute(".stage", "data-marks-drawn").split())
    assert drawn["axial"] == "0", drawn
    sign_in(phone, history_server)
    _open(phone, "Axial 1mm")
    phone.wait_for_selector(".key-strip")
    phone.locator(".report-toggle").click()
    phone.locator(".mark.sr").click()
    _shot(phone, "marks-phone", tmp_path)


def test_4d_volumes_and_cine(history_server, desktop, phone, tmp_path):
    page = desktop
    sign_in(page, history_server)
    _open(page, "DWI")
    label = page.locator(".cine-label")
    assert label.inner_text() == "volume 1/5 · b=0 s/mm²"
    assert page.evaluate("() => window.ownscanViewer.valueMin") == 100  # fourdgen: volume 0
    page.locator(".cine-slider").fill("2")
    page.wait_for_selector(".stage[data-volume='2']")
    page.locator(".stage canvas.overlay").click()  # the keys go to the picture, not the slider
    page.keyboard.press("]")
    page.wait_for_selector(".stage[data-volume='3']")
    assert label.inner_text() == "volume 4/5 · b=1000 s/mm²"
    assert page.evaluate("() => window.ownscanViewer.valueMin") == 3100  # volume 3's voxels
    _shot(page, "dwi-volume-4", tmp_path)
    page.locator(".cine-play").click()
    page.wait_for_function("() => document.querySelector('.stage').dataset.volume !== '3'")
    page.locator(".cine-play").click()
    assert page.get_attribute(".stage", "data-playing") is None
    # the pause refines the volume it stopped at; a volume still on its way when the pause
    # came may be shown after it: go on once the shown volume is the player's (its header and
    # value range with it)
    page.wait_for_function(
        "() => document.querySelector('.stage').dataset.volume"
        " === document.querySelector('.cine-slider').value"
    )
    # the surface mode's threshold as a control (params.js), in the volume's units
    page.evaluate("() => window.ownscanViewer.setMode('iso')")
    page.wait_for_selector(".mode-param input[data-param='iso_value']")
    page.evaluate("() => window.ownscanViewer.afterDraw()")
    before = canvas_rgb(page)
    lo, hi = page.evaluate("() => window.ownscanViewer.header.value_range")  # the volume shown
    want = round(lo + 0.6 * (hi - lo))
    page.locator(".mode-param input[data-param='iso_value']").fill(str(want))
    page.evaluate("() => window.ownscanViewer.afterDraw()")
    got = page.evaluate("() => window.ownscanViewer.parameters.iso.iso_value")
    assert abs(got - want) <= (hi - lo) / 1000  # the slider's step
    assert f"{round(got)}" in page.inner_text(".mode-param output")
    assert np.abs(canvas_rgb(page).astype(int) - before).max() > 20  # another surface
    _shot(page, "dwi-iso-threshold", tmp_path)
    # MinIP through the 10 mm slab `ownscan render` uses by default, or the whole depth
    page.evaluate("() => window.ownscanViewer.setMode('minip')")
    slab = page.locator(".mode-param input[data-param='slab']")
    assert slab.input_value() == "10" and "10 mm" in page.inner_text(".mode-params")
    page.evaluate("() => window.ownscanViewer.afterDraw()")
    key = page.evaluate("() => window.ownscanViewer.programKey('minip')")
    assert key == "minip+slab"
    thin = canvas_rgb(page)
    slab.fill("0")
    page.evaluate("() => window.ownscanViewer.afterDraw()")
    page.evaluate("() => window.ownscanViewer.afterDraw()")
    assert page.evaluate("() => window.ownscanViewer.programKey('minip')") == "minip"
    assert "whole depth" in page.inner_text(".mode-params")
    assert np.abs(canvas_rgb(page).astype(int) - thin).max() > 10  # the rows outside count now
    # the grey ultrasound clip: one view, frames played at the file's rate
    page.goto(history_server.base + "/#/")
    page.wait_for_selector(".series")
    cards = page.locator(".series", has=page.locator("strong", has_text="cine"))
    grey = next(i for i, t in enumerate(cards.all_inner_texts()) if "colour" not in t)
    cards.nth(grey).click()
    page.wait_for_selector(".stage[data-level='0']", timeout=120_000)
    page.wait_for_selector(".cine-label")
    assert page.locator(".cine-label").inner_text() == "frame 1/6 · 10 frames/s"
    assert page.locator(".tabs").count() == 0  # no MPR or 3D for a clip
    # the clip says no orientation and no pixel size: no letters, no scale bar (#15), the
    # words `ownscan render --annotate` writes instead (white text: no long white line)
    over = canvas_rgb(page, ".stage canvas.overlay")
    assert not np.any(np.all(np.abs(over.astype(int) - (255, 230, 0)) < 40, axis=-1))
    white = np.all(over == 255, axis=-1).astype(np.int8)
    edges = np.diff(np.pad(white, ((0, 0), (1, 1))), axis=1)
    runs = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
    assert white.any() and runs.max() < 30, runs.max()

    def square_x() -> float:
        page.evaluate("() => window.ownscanViewer.afterDraw()")
        rgb = canvas_rgb(page)
        _, xs = np.nonzero(rgb[..., 0] > 200)
        return float(xs.mean())

    first = square_x()
    page.locator(".stage canvas.overlay").click()
    for _ in range(3):
        page.keyboard.press("ArrowUp")
    page.wait_for_selector(".stage[data-frame='3']")
    later = square_x()
    # the square moves 6 pixels right per frame: 18 image pixels, wider on the screen
    assert later - first > 18, (first, later)
    _shot(page, "us-cine-frame-4", tmp_path)
    page.locator(".cine-play").click()
    page.wait_for_function("() => document.querySelector('.stage').dataset.frame !== '3'")
    page.locator(".cine-play").click()
    # the colour clip plays too
    page.goto(history_server.base + "/#/")
    page.wait_for_selector(".series")
    page.locator(".series", has_text="colour").first.click()
    page.wait_for_selector(".stage[data-level='0']", timeout=120_000)
    page.wait_for_selector(".cine-label")
    assert page.locator(".cine-label").inner_text().startswith("frame 1/4")
    page.locator(".cine-slider").fill("2")
    page.wait_for_selector(".stage[data-frame='2']")
    page.evaluate("() => window.ownscanViewer.afterDraw()")
    rgb = canvas_rgb(page)
    assert (rgb[..., 0] > 200).sum() > 0 and (rgb[..., 2] > 60).sum() > 0  # red on blue
    _shot(page, "us-colour-cine", tmp_path)
    assert HOSTILE_NAME  # the clips belong to the hostile patient (first test)
    # on a phone: the volume bar under the picture
    sign_in(phone, history_server)
    _open(phone, "DWI")
    phone.wait_for_selector(".cine-label")
    assert phone.locator(".cine-label").is_visible()
    _shot(phone, "dwi-phone", tmp_path)
