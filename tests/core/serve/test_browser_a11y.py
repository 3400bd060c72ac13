"""The pages as a patient meets them without a mouse or without sight: Chromium's accessibility
tree (DevTools' ``Accessibility.getFullAXTree``, the names a screen reader says), the Tab key
and the arrow keys, and the text's contrast computed from the styles.

Found (stop 19) and kept from coming back here:

- the viewer's pictures had no text alternative (a canvas says nothing); it now says the series,
  the plane or the 3D mode;
- on a phone the viewer's selects were nameless ("Window", "3D", "Colours" are hidden there);
  the compare view's two selects had no name anywhere;
- the upload's "Choose files" and "Choose a folder" could not be reached with Tab (their inputs
  were ``display: none``), and its drop zone was a nameless Tab stop that did nothing;
- the series' warnings and the compare view's banners (different patients, a poor
  registration) appear after the page loaded and were not announced.

The library: the generated CT of ``browser_support.write_ct`` (series 1), a copy with a slice
missing (series 2: a warning; the prior to compare with) and a PDF report.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import save_shot, sign_in, watch_errors, write_ct

GAP = "CT with a slice missing"
CONTROLS = {"button", "combobox", "slider", "link", "checkbox", "textbox", "spinbutton"}
# the text of the toolbar, the notes and the warnings, and the colours under them
CONTRAST_SELECTORS = (
    ".toolbar button, .toolbar select, .toolbar .select span, a.back, .warnings summary, "
    ".meta, .hint, .tagline, .cine-label, .cine button, .stacks a, .compare-details, "
    ".compare-banners .banner, .document, .pick, .series-text, .upload-message"
)
CONTRAST = """
(sel) => {
  const rgb = (s) => { const m = s.match(/[\\d.]+/g).map(Number);
    return { r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1 }; };
  const lum = (c) => { const f = (v) => { v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  // the colour under an element: its own background or the nearest ancestor's, blended over
  // what lies under it (a half-transparent background)
  const under = (e) => {
    const stack = [];
    for (let n = e; n; n = n.parentElement) {
      const c = rgb(getComputedStyle(n).backgroundColor);
      if (c.a > 0) { stack.push(c); if (c.a >= 1) break; }
    }
    let out = { r: 255, g: 255, b: 255 };
    for (const c of stack.reverse()) out = { r: c.r * c.a + out.r * (1 - c.a),
      g: c.g * c.a + out.g * (1 - c.a), b: c.b * c.a + out.b * (1 - c.a) };
    return out;
  };
  return [...document.querySelectorAll(sel)].filter((e) => e.getClientRects().length
      && e.textContent.trim()).map((e) => {
    const fg = rgb(getComputedStyle(e).color), bg = under(e);
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    return [e.tagName + "." + e.className + " " + e.textContent.trim().slice(0, 20),
            (hi + 0.05) / (lo + 0.05)];
  });
}
"""


@pytest.fixture(scope="module")
def ct_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """(Overrides conftest's: the served library of this module, see the docstring.)"""
    import pydicom
    from library_dicomgen import encapsulated_pdf

    root = tmp_path_factory.mktemp("a11y")
    paths = write_ct(root / "src" / "ct")
    study = pydicom.dcmread(paths[0], stop_before_pixels=True).StudyInstanceUID
    gap = write_ct(root / "src" / "gap", series_number=2, description=GAP, study_uid=study)
    gap[len(gap) // 2].unlink()
    encapsulated_pdf(root / "src" / "report.dcm", study, patient=("Phantom^Generated", "GEN001"))
    exe = Path(sys.executable).with_name("ownscan")
    cmd = [str(exe), "import", str(root / "src"), "--library", str(root / "library")]
    r = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr + r.stdout
    return root / "library"


@pytest.fixture
def touch(browser: Any) -> Iterator[Any]:
    """A phone (390 x 844, touch), where the selects' titles are hidden."""
    ctx = browser.new_context(
        viewport={"width": 390, "height": 844},
        has_touch=True,
        is_mobile=True,
        device_scale_factor=1,
    )
    page = ctx.new_page()
    errors = watch_errors(page)
    yield page
    ctx.close()
    assert not errors, errors


def _tree(page: Any) -> list[dict[str, Any]]:
    """The page's accessibility tree as Chromium gives it to a screen reader: [{role, name}]."""
    cdp = page.context.new_cdp_session(page)
    try:
        nodes = cdp.send("Accessibility.getFullAXTree")["nodes"]
    finally:
        cdp.detach()
    out = []
    for n in nodes:
        if n.get("ignored"):
            continue
        out.append(
            {
                "role": (n.get("role") or {}).get("value", ""),
                "name": str((n.get("name") or {}).get("value", "")),
            }
        )
    return out


def _nameless(page: Any) -> list[dict[str, Any]]:
    """The controls whose name says nothing: empty, or symbols alone ("←", "⟳")."""
    return [n for n in _tree(page) if n["role"] in CONTROLS and not re.search(r"\w\w", n["name"])]


def _open(page: Any, text: str) -> None:
    page.locator(".series", has_text=text).first.click()
    page.wait_for_selector(".stage[data-level='0'][data-quality='full']", timeout=120_000)
    page.evaluate("() => window.ownscanViewer.afterDraw()")


def _low_contrast(page: Any) -> list[Any]:
    return [
        (what, round(r, 2)) for what, r in page.evaluate(CONTRAST, CONTRAST_SELECTORS) if r < 4.5
    ]


def test_every_control_has_a_name_and_the_picture_says_what_it_shows(
    served: Any, desktop: Any, touch: Any
) -> None:
    for page in (desktop, touch):
        sign_in(page, served)
        page.wait_for_selector("a.document")
        assert not _nameless(page), ("library", page.viewport_size, _nameless(page))
        assert not _low_contrast(page), _low_contrast(page)
        _open(page, GAP)
        assert not _nameless(page), ("viewer", page.viewport_size, _nameless(page))
        assert not _low_contrast(page), _low_contrast(page)
        # the picture: its series and plane, then the 3D mode
        images = [n["name"] for n in _tree(page) if n["role"] in ("img", "image")]
        assert any(GAP in n and "axial" in n.lower() for n in images), images
        page.click("button[data-layout='3d']")
        page.select_option(".mode-select select", "mip")
        page.wait_for_function("() => window.ownscanViewer.mode3d === 'mip'")
        images = [n["name"] for n in _tree(page) if n["role"] in ("img", "image")]
        assert any(GAP in n and "3D" in n and "MIP" in n for n in images), images
        # the warning appears after the page loaded: announced
        roles = page.evaluate(
            "() => { const w = document.querySelector('.warnings');"
            " const a = w && w.closest('[role=alert], [role=status], [aria-live]');"
            " return a ? (a.getAttribute('role') || a.getAttribute('aria-live')) : null; }"
        )
        assert roles in ("alert", "status", "assertive", "polite"), roles
    # the compare view (desktop): its selects and checkboxes, the prior's warning announced
    page = desktop
    page.locator(".compare-button").click()
    page.locator(".compare-choice", has_text="generated CT").first.click()
    page.wait_for_selector(".compare-pane[data-pane='prior'] img[src]", timeout=120_000)
    page.wait_for_selector(".compare-banners .banner")
    assert not _nameless(page), ("compare", _nameless(page))
    assert not _low_contrast(page), _low_contrast(page)
    live = page.evaluate(
        "() => !!document.querySelector('.compare-banners')"
        ".closest('[role=alert], [role=status], [aria-live]')"
    )
    assert live
    # the report's page
    page.goto(served.url.split("#")[0] + "#/")
    page.wait_for_selector("a.document")
    page.locator("a.document").first.click()
    page.wait_for_selector(".doc-view img, .doc-view .error", timeout=60_000)
    assert not _nameless(page), ("report", _nameless(page))
    assert not _low_contrast(page), _low_contrast(page)


def _tab_through(page: Any, n: int) -> list[dict[str, Any]]:
    """Press Tab ``n`` times; each focused element, whether its focus is drawn (an outline or a
    ring), and its place."""
    seen = []
    for _ in range(n):
        page.keyboard.press("Tab")
        seen.append(
            page.evaluate(
                """() => { const e = document.activeElement;
                  if (!e || e === document.body) return null;
                  const s = getComputedStyle(e), host = e.closest('label') || e;
                  const h = getComputedStyle(host);
                  const drawn = (x) => (x.outlineStyle !== 'none' && parseFloat(x.outlineWidth) > 0)
                    || (x.boxShadow && x.boxShadow !== 'none');
                  return { tag: e.tagName, cls: e.className,
                           text: (e.textContent || '').slice(0, 20),
                           visible: drawn(s) || drawn(h),
                           order: [...document.querySelectorAll('*')].indexOf(e) }; }"""
            )
        )
    return seen


def test_keyboard_reaches_every_control_in_order(served: Any, desktop: Any, tmp_path: Path) -> None:
    page = desktop
    sign_in(page, served)
    # the library: the report link, the series cards, and both upload buttons, with Tab
    page.wait_for_selector("a.document")
    seen = [s for s in _tab_through(page, 12) if s]
    classes = " ".join(s["cls"] for s in seen)
    for want in ("brand", "document", "series", "files-input", "folder-input"):
        assert want in classes, (want, seen)
    assert all(s["visible"] for s in seen), [s for s in seen if not s["visible"]]
    assert not [s for s in seen if s["cls"] == "drop"], seen  # no Tab stop that does nothing
    # the viewer: from the back link through the toolbar, the warning, to the slider, in the
    # order of the page, each with its focus drawn
    _open(page, GAP)
    page.click("button[data-layout='axial']")
    # from the top of the page: the brand's link, then Tab
    page.focus("a.brand")
    seen = [s for s in _tab_through(page, 17) if s]
    save_shot(page, "a11y-tab-desktop", tmp_path)
    wanted = page.evaluate(
        """() => [...document.querySelectorAll('a.back, .toolbar button, .toolbar select,'
                + ' .warnings summary, .slice-slider')].filter((e) => e.getClientRects().length)
                .map((e) => [...document.querySelectorAll('*')].indexOf(e))"""
    )
    orders = [s["order"] for s in seen]
    reached = [o for o in orders if o in wanted]
    assert reached[: len(wanted)] == wanted, (seen, wanted)
    assert all(s["visible"] for s in seen), [s for s in seen if not s["visible"]]


def test_slider_and_window_from_the_keyboard(served: Any, desktop: Any) -> None:
    page = desktop
    sign_in(page, served)
    _open(page, "generated CT")
    page.click("button[data-layout='axial']")
    slider = page.locator(".slice-slider")
    slider.focus()
    # its value said in words (the slice of how many), not the 0-1000 the input counts in
    text = slider.get_attribute("aria-valuetext") or ""
    assert re.fullmatch(r"axial slice \d+ of 40", text), text
    before = page.evaluate("() => [...window.ownscanViewer.cursor]")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    after = page.evaluate("() => [...window.ownscanViewer.cursor]")
    assert after != before, (before, after)
    assert slider.get_attribute("aria-valuetext") != text
    # the window: its select, with the arrow keys
    page.locator(".window-select select").focus()
    name = page.evaluate("() => window.ownscanViewer.window.name")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("() => window.ownscanViewer.window.name") != name
