"""The desktop viewer looked at as a patient would (desk audit, 2026-12-06): the toolbar of a
3D series at a small window, 1024x640, drew one radio button per 3D mode and pushed
"Compare..." past the window's right edge (its label cut to "Compare."). The toolbar now
measures its row in its own font and takes the modes' drop-down where the radio buttons do
not fit."""

from __future__ import annotations

import numpy as np
import pytest
from viewer_phantom import phantom

from ownscan.core.viewer import Viewer, ViewerOptions


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
