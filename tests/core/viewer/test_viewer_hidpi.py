"""HiDPI: an X server that says 192 dpi (Xft.dpi) makes glfw report a content scale of 2."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import pytest
from viewer_phantom import phantom

from ownscan.core.viewer import Viewer, ViewerOptions


@pytest.fixture
def dpi_192(xvfb: str) -> Iterator[None]:
    """Set Xft.dpi on the root window (what xrdb does); glfw reads it when it initialises."""
    xprop = shutil.which("xprop")
    assert xprop is not None, "xprop is not installed (x11-utils; see .ci/system-packages.txt)"
    subprocess.run(
        [
            xprop,
            "-root",
            "-f",
            "RESOURCE_MANAGER",
            "8s",
            "-set",
            "RESOURCE_MANAGER",
            "Xft.dpi:\t192\n",
        ],
        check=True,
    )
    try:
        yield
    finally:
        subprocess.run([xprop, "-root", "-remove", "RESOURCE_MANAGER"], check=True)


def test_content_scale_2_doubles_window_panels_and_text(dpi_192: None) -> None:
    with Viewer(
        [phantom(n=24), phantom(n=20, description="b")], ViewerOptions(size=(480, 360))
    ) as v:
        assert v.ui_scale == pytest.approx(2.0)
        assert v.fb_size == (960, 720)  # glfw scales the window to the monitor
        img = v.frame(capture=True)
        lay = v.layout()
        assert lay.browser is not None and lay.browser.w == 460
        # the overlay text: 15 px Roboto at scale 1, a line is 15 px high; here twice that
        assert v.font_scale == pytest.approx(2.0)
        assert v.win.text_size("Axial", 15.0 * v.font_scale)[1] == pytest.approx(30.0, rel=0.1)
    for r in lay.views.values():
        part = img[r.y : r.y + r.h, r.x : r.x + r.w]
        assert part.std() > 20
