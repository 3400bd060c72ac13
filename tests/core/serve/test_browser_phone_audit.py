"""The page as a patient's finger meets it: a phone upright (390 x 844), turned (844 x 390) and a
tablet (820 x 1180), all touch, in Debian's Chromium. Found by looking at every page at those
sizes (stop 19) and kept from coming back here:

- controls 34-36 px tall (toolbar, back link, slice slider, the warnings' line 16 px, report
  links 35 px): every one at least 44 CSS px (WCAG 2.5.5, Apple's guideline);
- the viewer's picture whole on the screen with them (the viewer's height was a guessed sum of
  the bars above it), its canvas of the stage's shape (never stretched), its orientation letters
  drawn inside it;
- the 3D view's note ("window: auto (average projection)") written over the bottom letter on a
  phone;
- the Compare list running past the screen's right edge with a long series description, and the
  compare panes without orientation letters (the desktop's have them) and with their titles cut
  off.

The library: the generated CT of ``browser_support.write_ct`` (series 1), the same anatomy under
a long description (series 2, the prior to compare with: the same voxels register at once), a copy
with a slice missing (series 3: a warning) and a PDF report.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import save_shot, sign_in, watch_errors, write_ct

SIZES = {"phone": (390, 844), "landscape": (844, 390), "tablet": (820, 1180)}
# a scanner protocol's name, as many write them: one word, too long for a phone's line
LONG = "THORAX_ABDOMEN_PELVIS_PORTAL_VENOUS_1.25MM_B30F_SOFT_TISSUE"
GAP = "CT with a slice missing"
TOUCH = 44  # CSS px: the smallest control a finger is asked to hit

# every text the overlay canvas writes, with its box in CSS px of the stage (measureText's
# actual bounds, which follow textAlign and textBaseline), in window.__texts
RECORD_TEXT = """
(() => {
  const fill = CanvasRenderingContext2D.prototype.fillText;
  window.__texts = [];
  CanvasRenderingContext2D.prototype.fillText = function (t, x, y, ...rest) {
    if (this.canvas.classList.contains("overlay")) {
      const m = this.measureText(t); // the overlay's context draws in CSS px
      window.__texts.push({ t: String(t),
        left: x - m.actualBoundingBoxLeft, right: x + m.actualBoundingBoxRight,
        top: y - m.actualBoundingBoxAscent, bottom: y + m.actualBoundingBoxDescent });
    }
    return fill.call(this, t, x, y, ...rest);
  };
})();
"""


@pytest.fixture(scope="module")
def ct_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """(Overrides conftest's: the served library of this module, see the docstring.)"""
    import pydicom
    from library_dicomgen import encapsulated_pdf

    root = tmp_path_factory.mktemp("phone-audit")
    paths = write_ct(root / "src" / "ct")
    first = pydicom.dcmread(paths[0], stop_before_pixels=True)
    study = first.StudyInstanceUID
    write_ct(root / "src" / "long", series_number=2, description=LONG, study_uid=study)
    gap = write_ct(root / "src" / "gap", series_number=3, description=GAP, study_uid=study)
    gap[len(gap) // 2].unlink()
    encapsulated_pdf(root / "src" / "report.dcm", study, patient=("Phantom^Generated", "GEN001"))
    exe = Path(sys.executable).with_name("ownscan")
    cmd = [str(exe), "import", str(root / "src"), "--library", str(root / "library")]
    r = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr + r.stdout
    return root / "library"


def _touch_page(browser: Any, size: str) -> Iterator[Any]:
    w, h = SIZES[size]
    ctx = browser.new_context(
        viewport={"width": w, "height": h}, has_touch=True, is_mobile=True, device_scale_factor=1
    )
    page = ctx.new_page()
    page.add_init_script(RECORD_TEXT)
    errors = watch_errors(page)
    yield page
    ctx.close()
    assert not errors, errors


@pytest.fixture(params=list(SIZES))
def touch(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    yield from _touch_page(browser, request.param)


@pytest.fixture
def phone_page(browser: Any) -> Iterator[Any]:
    yield from _touch_page(browser, "phone")


def _open(page: Any, text: str) -> None:
    page.locator(".series", has_text=text).first.click()
    page.wait_for_selector(".stage[data-level='0'][data-quality='full']", timeout=120_000)
    page.evaluate("() => window.ownscanViewer.afterDraw()")


def _texts(page: Any) -> list[dict[str, Any]]:
    """The overlay's texts of the picture drawn now (once each: a redraw already asked for
    may draw the same picture twice meanwhile)."""
    page.evaluate("() => window.ownscanViewer.afterDraw()")
    page.evaluate("() => { window.__texts = []; return window.ownscanViewer.afterDraw(); }")
    texts = page.evaluate("() => window.__texts")
    return list({(t["t"], t["left"], t["top"]): t for t in texts}.values())


def _no_sideways_scroll(page: Any) -> None:
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"the page scrolls sideways: {widths}"


def _on_screen(page: Any, selector: str) -> dict[str, float]:
    box = page.locator(selector).first.bounding_box()
    vw, vh = page.viewport_size["width"], page.viewport_size["height"]
    assert box is not None, selector
    assert box["x"] >= -0.5 and box["x"] + box["width"] <= vw + 0.5, (selector, box)
    assert box["y"] >= -0.5 and box["y"] + box["height"] <= vh + 0.5, (selector, box)
    return box


def _small(page: Any, selector: str, width: bool = False) -> list[str]:
    """The elements of ``selector`` (shown ones) under TOUCH px tall (and wide)."""
    return list(
        page.evaluate(
            """([sel, touch, width]) => [...document.querySelectorAll(sel)]
                .filter((e) => e.getClientRects().length)
                .map((e) => [e, e.getBoundingClientRect()])
                .filter(([, r]) => r.height < touch - 0.5 || (width && r.width < touch - 0.5))
                .map(([e, r]) => `${e.tagName}.${e.className} "${e.textContent.slice(0, 20)}"`
                                 + ` ${r.width.toFixed(0)}x${r.height.toFixed(0)}`)""",
            [selector, TOUCH, width],
        )
    )


def _overlap(a: dict[str, float], b: dict[str, float], gap: float = 1.0) -> bool:
    return (
        a["left"] < b["right"] + gap
        and b["left"] < a["right"] + gap
        and a["top"] < b["bottom"] + gap
        and b["top"] < a["bottom"] + gap
    )


def test_viewer_fits_the_screen_and_a_finger(served: Any, touch: Any, tmp_path: Path) -> None:
    page = touch
    sign_in(page, served)
    _open(page, GAP)
    size = f"{page.viewport_size['width']}x{page.viewport_size['height']}"
    save_shot(page, f"audit-viewer-{size}", tmp_path)
    _no_sideways_scroll(page)
    # the picture and its slider whole on the screen, the warning's line too
    stage = _on_screen(page, ".stage")
    _on_screen(page, ".slice-slider")
    _on_screen(page, ".warnings summary")
    # every control a finger's size
    small = _small(page, ".toolbar button", width=True)
    small += _small(page, ".toolbar select, a.back, .slice-slider, .warnings summary")
    assert not small, small
    # the canvas has the stage's shape: one drawing pixel per CSS pixel, never stretched
    shape = page.evaluate(
        """() => { const c = document.querySelector('.stage canvas.gl');
                   return [c.width, c.height, c.clientWidth, c.clientHeight]; }"""
    )
    assert shape[:2] == shape[2:], shape
    assert abs(shape[2] - stage["width"]) <= 1 and abs(shape[3] - stage["height"]) <= 1
    # the axial view's four letters, inside the picture
    letters = {t["t"]: t for t in _texts(page) if t["t"] in ("A", "P", "R", "L")}
    assert set(letters) == {"A", "P", "R", "L"}, letters
    for t in letters.values():
        assert t["left"] >= 0 and t["right"] <= stage["width"], t
        assert t["top"] >= 0 and t["bottom"] <= stage["height"], t


def test_the_3d_note_leaves_the_bottom_letter_readable(served: Any, phone_page: Any) -> None:
    page = phone_page
    sign_in(page, served)
    _open(page, "generated CT")
    page.select_option(".mode-select select", "xray")
    page.wait_for_function(
        "() => { const v = window.ownscanViewer; return v.layout === '3d' && "
        "v.renderer.programs.has(v.programKey('xray')); }",
        timeout=120_000,
    )
    texts = _texts(page)
    notes = [t for t in texts if t["t"].startswith("window: auto")]
    assert len(notes) == 1, texts
    # the bottom letter: the lowest of the orientation letters
    letters = [t for t in texts if t["t"] and set(t["t"]) <= set("RLAPSI") and len(t["t"]) <= 3]
    bottom = max(letters, key=lambda t: t["bottom"])
    assert not _overlap(notes[0], bottom), (notes[0], bottom)
    # and the 2D view's slice note, the same way
    page.click("button[data-layout='axial']")
    texts = _texts(page)
    notes = [t for t in texts if t["t"].startswith("axial ")]
    bottom = next(t for t in texts if t["t"] == "P")
    assert len(notes) == 1 and not _overlap(notes[0], bottom), (notes, bottom)


def test_library_fits_a_finger(served: Any, phone_page: Any) -> None:
    page = phone_page
    sign_in(page, served)
    page.wait_for_selector("a.document")
    _no_sideways_scroll(page)
    small = _small(page, "a.document, .series, .brand, .pick")
    assert not small, small


def test_compare_list_and_panes_on_a_phone(served: Any, phone_page: Any, tmp_path: Path) -> None:
    page = phone_page
    sign_in(page, served)
    _open(page, "generated CT")
    page.locator(".compare-button").click()
    page.wait_for_selector(".compare-list .compare-choice")
    # the list is whole on the screen, off its edge, its long choice broken rather than cut
    # off, its choices a finger's size
    box = _on_screen(page, ".compare-list")
    assert box["x"] + box["width"] <= page.viewport_size["width"] - 2, box
    panel = page.locator(".compare-list").element_handle()
    assert page.evaluate("(e) => e.scrollWidth <= e.clientWidth + 1", panel)
    _no_sideways_scroll(page)
    assert not _small(page, ".compare-choice"), _small(page, ".compare-choice")
    page.locator(".compare-choice", has_text=LONG[:20]).click()
    page.wait_for_selector(".compare-pane[data-pane='prior'] img[src]", timeout=120_000)
    page.wait_for_function(
        "() => { const r = document.querySelector('.viewer.compare');"
        " return r && r.dataset.loading === '0' && "
        "[...r.querySelectorAll('.compare-pane img')].every((i) => i.complete); }",
        timeout=120_000,
    )
    save_shot(page, "audit-compare-390x844", tmp_path)
    _no_sideways_scroll(page)
    for name in ("prior", "current"):
        pane = page.locator(f".compare-pane[data-pane='{name}']")
        box = pane.bounding_box()
        assert box is not None
        right, bottom = box["x"] + box["width"], box["y"] + box["height"]
        # the title wraps inside its pane rather than being cut off at its edge
        title = pane.locator(".compare-title")
        tbox = title.bounding_box()
        assert tbox is not None and tbox["x"] + tbox["width"] <= right + 0.5, (tbox, box)
        assert page.evaluate("(e) => e.scrollWidth <= e.clientWidth + 1", title.element_handle())
        # the axial plane's letters as the desktop's compare panes have them: radiological
        letters = {}
        for side in ("left", "right", "top", "bottom"):
            e = pane.locator(f".compare-edge.edge-{side}")
            b = e.bounding_box()
            assert b is not None, side
            assert box["x"] <= b["x"] and b["x"] + b["width"] <= right, (side, b, box)
            assert box["y"] <= b["y"] and b["y"] + b["height"] <= bottom, (side, b, box)
            letters[side] = e.inner_text()
        assert letters == {"left": "R", "right": "L", "top": "A", "bottom": "P"}, letters
        top = pane.locator(".compare-edge.edge-top").bounding_box()
        assert top is not None and top["y"] >= tbox["y"] + tbox["height"], (top, tbox)
    # upright, the panes are one above the other: each picture wider than half the screen
    # (side by side, each pane had half its width)
    prior = page.locator(".compare-pane[data-pane='prior']").bounding_box()
    current = page.locator(".compare-pane[data-pane='current']").bounding_box()
    assert prior is not None and current is not None
    assert current["y"] >= prior["y"] + prior["height"] - 1, (prior, current)
    for name in ("prior", "current"):
        inner = page.locator(f".compare-pane[data-pane='{name}'] .compare-inner").bounding_box()
        assert inner is not None and inner["width"] > 0.6 * page.viewport_size["width"], inner


def test_a_message_over_the_picture_uses_its_width(served: Any, browser: Any) -> None:
    """The server gone while a 3D mode is chosen: the message stands over the picture in a box
    as wide as it needs, up to the stage's width (it was given half of it: five lines)."""
    ctx = browser.new_context(
        viewport={"width": 390, "height": 844},
        has_touch=True,
        is_mobile=True,
        device_scale_factor=1,
    )
    page = ctx.new_page()
    errors = watch_errors(page, expected="ERR_INTERNET_DISCONNECTED")
    try:
        sign_in(page, served)
        _open(page, "generated CT")
        page.route("**/api/shaders/**", lambda route: route.abort("internetdisconnected"))
        page.select_option(".mode-select select", "mip")
        status = page.locator(".stage .status")
        page.wait_for_function(
            "() => /cannot be reached/.test(document.querySelector('.stage .status').textContent)",
            timeout=60_000,
        )
        box, stage = status.bounding_box(), page.locator(".stage").bounding_box()
        assert box is not None and stage is not None
        assert box["x"] >= stage["x"] and box["x"] + box["width"] <= stage["x"] + stage["width"]
        assert box["width"] > 0.6 * stage["width"], (box, stage)
        line = page.evaluate(
            "(e) => parseFloat(getComputedStyle(e).lineHeight) || 1.2 * parseFloat("
            "getComputedStyle(e).fontSize)",
            status.element_handle(),
        )
        assert box["height"] < 4 * line + 20, (box, line)  # three lines, not five
    finally:
        ctx.close()
    assert not errors, errors


def test_an_upload_names_each_file_whole(served: Any, phone_page: Any, tmp_path: Path) -> None:
    """Each file's outcome names it whole on a phone: a long name wraps (it ran out of the list,
    cut off at the screen's edge). A text file adds nothing to the library."""
    page = phone_page
    sign_in(page, served)
    name = "Patient_Report_2024-01-31_THORAX_ABDOMEN_PELVIS_PORTAL_VENOUS_FINAL_signed.txt"
    (tmp_path / name).write_text("not a scan\n")
    page.set_input_files(".files-input", str(tmp_path / name))
    page.wait_for_selector(".upload-message.ok, .upload-message.error", timeout=120_000)
    outcome = page.locator(".outcome", has_text="skipped")
    assert name in outcome.inner_text().replace("\n", "")
    _no_sideways_scroll(page)
    fits = page.evaluate(
        "() => [...document.querySelectorAll('.outcomes, .outcome')]"
        ".every((e) => e.scrollWidth <= e.clientWidth + 1)"
    )
    assert fits
