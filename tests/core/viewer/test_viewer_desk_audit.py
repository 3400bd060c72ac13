"""The desktop viewer looked at as a patient would (desk audit, 2026-12-06): the toolbar of a
3D series at a small window, 1024x640, drew one radio button per 3D mode and pushed
"Compare..." past the window's right edge (its label cut to "Compare."). The toolbar now
measures its row in its own font and takes the modes' drop-down where the radio buttons do
not fit."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from twodgen import write_cine, write_radiographs
from viewer_phantom import phantom

from ownscan.core.commands.view import _direct
from ownscan.core.errors import OwnscanError
from ownscan.core.viewer import Viewer, ViewerOptions, _words, entries_from_volumes
from ownscan.core.volume import Volume


@pytest.mark.parametrize("size", [(1024, 640), (760, 600)])
def test_toolbar_buttons_inside_a_small_window(xvfb: str, size: tuple[int, int]) -> None:
    with Viewer([phantom(n=24)], ViewerOptions(size=size)) as v:
        v.frame()
        img = v.frame(capture=True)
        assert img is not None
        lay = v.layout()
        tb = lay.toolbar
        right = tb.x + tb.w
        places = v.panels.places
        for label in ("Measure", "Reset", "Save PNG", "Save...", "Help", "Compare..."):
            x0, _, x1, _ = places[f"toolbar:{label}"]
            assert tb.x <= x0 and x1 <= right, (label, places[f"toolbar:{label}"], right)
        assert v.panels.toolbar_fits
        # in the pixels: the toolbar's last columns are its plain background, no button cut
        # off there (a button is imgui's blue, its blue channel well above red)
        edge = img[tb.y : tb.y + tb.h, right - 4 : right].astype(int)
        assert not np.any(edge[..., 2] - edge[..., 0] > 60), "a control is cut at the edge"
        # the modes are still all reachable: a drop-down took the radio buttons' place
        assert len(v.modes) > 1


def test_toolbar_keeps_radio_buttons_where_they_fit(xvfb: str) -> None:
    """1920 px wide: one radio button per mode and the words before the window's drop-down,
    as before (the measured row must not take them away where there is room)."""
    with Viewer([phantom(n=24)], ViewerOptions(size=(1920, 640))) as v:
        v.frame()
        v.frame()
        x0 = v.panels.places["toolbar:Compare..."][0]
        assert v.panels.toolbar_fits
        # radio buttons and words make the row far longer than the compact one (~710 px)
        assert x0 > 900, x0


def _overlay_texts(v: Viewer) -> list[str]:
    """The texts one frame writes over the images (the window's own ``text``, still called)."""
    seen: list[str] = []
    draw = v.win.text

    def spy(dl: object, x: float, y: float, text: str, col: int, size: float = 15.0) -> None:
        seen.append(text)
        draw(dl, x, y, text, col, size)

    v.win.text = spy  # type: ignore[method-assign]
    try:
        v.frame()
    finally:
        del v.win.text
    return seen


def test_colour_image_says_no_window(xvfb: str, tmp_path: Path) -> None:
    """A colour ultrasound cine is drawn as stored (the slice shader ignores the window), yet
    its corner said "W 1  L 20.5 (auto)" and the toolbar offered a brightness/contrast
    drop-down that changed nothing. Now the corner and the toolbar say it is shown as stored;
    a grey image keeps its window."""
    write_cine(tmp_path / "us" / "cine.dcm", colour=True, rows=60, cols=80)
    write_radiographs(tmp_path / "xr", [(80, 60)])
    entries = _direct(str(tmp_path), None, quiet=True)
    colour = next(i for i, e in enumerate(entries) if e.info.modality == "US")
    grey = next(i for i, e in enumerate(entries) if e.info.modality != "US")
    with Viewer(entries, ViewerOptions(size=(800, 600))) as v:
        v.select_series(colour)
        v.wait_until_loaded()
        assert v.view.volume.samples == 3
        texts = _overlay_texts(v)
        assert _words.COLOUR_AS_STORED in texts
        assert not any(t.startswith("W ") for t in texts), texts
        assert "toolbar:window" not in v.panels.places
        v.select_series(grey)
        v.wait_until_loaded()
        assert v.view.volume.samples == 1
        texts = _overlay_texts(v)
        assert any(t.startswith("W ") for t in texts), texts
        assert "toolbar:window" in v.panels.places


def _damaged() -> Volume:
    raise OwnscanError(
        "IM0007.dcm: pixel data truncated (expected 36992 bytes, found 1024): the file is "
        "damaged; copy it again from the disc"
    )


def test_why_a_series_cannot_be_shown_is_readable_in_a_small_window(xvfb: str) -> None:
    """At 1024x640 with the browser, the toolbar had about 80 px left after its buttons: the
    reason a series failed to load was cut after "cannot show th", in a success's green. The
    whole of it is now in a box under the toolbar, inside the window, in red."""
    ok = entries_from_volumes([phantom(n=24)])[0]
    broken = dataclasses.replace(ok, key=ok.key + "#damaged", load=_damaged, _volume=None)
    with Viewer([ok, broken], ViewerOptions(size=(1024, 640))) as v:
        v.wait_until_loaded()
        v.request_series(1)
        v.wait_until_loaded()
        img = v.frame(capture=True)
        assert img is not None
        assert v.status.startswith("cannot show that series: IM0007.dcm")
        assert not v.panels.status_inline
        x0, y0, x1, y1 = v.panels.places["status"]
        fw, fh = v.fb_size
        tb = v.layout().toolbar
        assert tb.x <= x0 and x1 <= fw and y0 >= tb.y + tb.h and y1 <= fh
        # wrapped over more than one line: the end of the reason is there too
        line = v.win.text_size("Ag", 15.0 * v.font_scale)[1]
        assert y1 - y0 > 2 * line
        box = img[round(y0) : round(y1), round(x0) : round(x1)].astype(int)
        red = (box[..., 0] > 200) & (box[..., 1] < 150) & (box[..., 2] < 150)
        assert red.sum() > 200  # the words, in red
        assert v.current == 0  # the series shown stays


def test_a_short_status_stays_in_the_toolbar(xvfb: str) -> None:
    with Viewer([phantom(n=24)], ViewerOptions(size=(1280, 640))) as v:
        v._flash("saved")
        v.frame()
        assert v.panels.status_inline and "status" not in v.panels.places


def test_compared_current_pane_header_does_not_run_into_its_tag(xvfb: str) -> None:
    """Comparing at 1280x800 with the browser and a report, the current pane's header
    ("Axial  anat-T1w ownscan sample (2x2x2 mean)") ran under its "CURRENT  2013-07-17 ..." tag
    at the top right, the two unreadable. The header is now cut to the left half."""
    long = "anat-T1w ownscan sample (2x2x2 mean) with a long description"
    a = phantom(n=24, description=long)
    b = phantom(n=20, description="prior")
    with Viewer([a, b], ViewerOptions(size=(1024, 640))) as v:
        v.compare_with(1, force=True)
        deadline = 200
        while v.compare is not None and v.compare.busy() and deadline:
            v.frame()
            deadline -= 1
        assert v.compare is not None and not v.compare.busy()
        seen: list[tuple[float, str]] = []
        draw = v.win.text

        def spy(dl: object, x: float, y: float, text: str, col: int, size: float = 15.0) -> None:
            seen.append((x, text))
            draw(dl, x, y, text, col, size)

        v.win.text = spy  # type: ignore[method-assign]
        try:
            v.frame()
        finally:
            del v.win.text
        fs = 15.0 * v.font_scale
        header = next((x, t) for x, t in seen if t.startswith("Axial  anat-T1w"))
        tag = next((x, t) for x, t in seen if t.startswith("CURRENT"))
        assert header[0] + v.win.text_size(header[1], fs)[0] < tag[0], (header, tag)


def test_corner_texts_stay_inside_narrow_views(xvfb: str) -> None:
    """Four views about 130 px wide (a 500 px window with the browser; what a HiDPI laptop
    with the browser and the report gives): the right corner, "zoom 1.00x  0.12 mm/px", was
    right-aligned wider than its view and began over the neighbouring view's corner."""
    with Viewer(
        [phantom(n=24), phantom(n=20, description="b")], ViewerOptions(size=(500, 400))
    ) as v:
        v.frame()
        seen: list[tuple[float, float, str]] = []
        draw = v.win.text

        def spy(dl: object, x: float, y: float, text: str, col: int, size: float = 15.0) -> None:
            seen.append((x, y, text))
            draw(dl, x, y, text, col, size)

        v.win.text = spy  # type: ignore[method-assign]
        try:
            v.frame()
        finally:
            del v.win.text
        fs = 15.0 * v.font_scale
        lay = v.layout()
        corners = [(x, y, t) for x, y, t in seen if t.startswith(("zoom", "W "))]
        assert len(corners) == 2 * len(lay.views)
        for x, y, t in corners:
            view = lay.view_at(x + 1, y + 1)
            assert view is not None, (x, y, t)
            r = lay.views[view]
            assert r.x <= x and x + v.win.text_size(t, fs)[0] <= r.x + r.w, (view, x, t, r)


def test_every_toolbar_control_reachable_in_a_very_narrow_toolbar(xvfb: str) -> None:
    """The toolbar beside the browser in a 520 px window is about 290 points wide (a HiDPI
    800x500 laptop with the browser and the report leaves about 340): its two rows held the
    drop-downs and the buttons side by side regardless, and Save..., Help and Compare... were
    drawn past its edge, out of reach. The controls now wrap onto as many rows as they need
    and the layout gives the toolbar those rows (views below them)."""
    with Viewer(
        [phantom(n=24), phantom(n=20, description="b")], ViewerOptions(size=(520, 480))
    ) as v:
        v.frame()
        v.frame()  # the layout takes the rows the first frame's controls needed
        v.frame()
        lay = v.layout()
        tb = lay.toolbar
        assert v.panels.toolbar_rows >= 3
        for label in ("Measure", "Reset", "Save PNG", "Save...", "Help", "Compare..."):
            x0, y0, x1, y1 = v.panels.places[f"toolbar:{label}"]
            assert tb.x <= x0 and x1 <= tb.x + tb.w, (label, x0, x1, tb)
            assert tb.y <= y0 and y1 <= tb.y + tb.h, (label, y0, y1, tb)
        assert all(r.y >= tb.y + tb.h for r in lay.views.values())


def test_browser_captions_wrap_inside_the_panel(xvfb: str) -> None:
    """The browser's lines under a thumbnail were cut at its edge ("anat-T1w ownscan samp"
    for the bundled sample; a stack's "stack 2 of 3, oblique axial, 8 images", which tells a
    series' stacks apart, likewise). They wrap now: each entry's text stays in the panel."""
    long = "anat-T1w ownscan sample (2x2x2 mean) · stack 2 of 3, oblique axial, 8 images"
    with Viewer(
        [phantom(n=24, description=long), phantom(n=20, description="b")],
        ViewerOptions(size=(800, 600)),
    ) as v:
        v.frame()
        v.frame()
        browser = v.layout().browser
        assert browser is not None
        _, y0, x1, y1 = v.panels.places["browser:0"]
        line = v.win.text_size("Ag", 15.0 * v.font_scale)[1]
        assert x1 <= browser.x + browser.w, (x1, browser)
        assert y1 - y0 > 3.5 * line  # patient, date and the description on two lines or more


def test_compare_panel_controls_inside_it_when_narrow(xvfb: str) -> None:
    """Comparing at 1024x640 with the browser and the report (a panel about 490 px wide; here
    800x600 with the browser, 570), the compare panel's one row of radio buttons ran past
    its right edge: "flicker" and "overlay" could not be clicked. They wrap now."""
    with Viewer(
        [phantom(n=24), phantom(n=20, description="prior")], ViewerOptions(size=(800, 600))
    ) as v:
        v.compare_with(1, force=True)
        for _ in range(200):
            if v.compare is None or not v.compare.busy():
                break
            v.frame()
        assert v.compare is not None and not v.compare.busy()
        v.frame()
        v.frame()
        panel = v.compare.panel_rect
        for name in ("mode:side-by-side", "mode:difference", "mode:flicker", "mode:overlay"):
            x0, _, x1, _ = v.compare.places[name]
            assert panel.x <= x0 and x1 <= panel.x + panel.w, (name, x0, x1, panel)
        _, _, x1, y1 = v.compare.places["close"]
        assert x1 <= panel.x + panel.w and y1 <= panel.y + panel.h, (x1, y1, panel)
