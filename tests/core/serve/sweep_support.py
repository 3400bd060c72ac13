"""Helpers of the sweep tests (``test_browser_sweep_*.py``): what the page wrote on its overlay
(orientation letters, scale bar, slice numbers), read from the canvas calls themselves, and the
desktop's letters for the same views."""

from __future__ import annotations

from typing import Any

import numpy as np

# Every fillText on the viewer's overlay canvas, with the font and alignment it was drawn with
# (the orientation letters are the bold ones), kept in window.__texts.
RECORD_TEXT = """(() => {
    window.__texts = [];
    const fill = CanvasRenderingContext2D.prototype.fillText;
    CanvasRenderingContext2D.prototype.fillText = function (t, x, y, ...rest) {
        if (this.canvas.classList.contains('overlay')) {
            const m = this.getTransform();
            window.__texts.push({text: String(t), x: m.a * x + m.e, y: m.d * y + m.f,
                font: this.font, align: this.textAlign, base: this.textBaseline});
        }
        return fill.call(this, t, x, y, ...rest);
    };
})()"""


def drawn_texts(page: Any) -> dict[str, Any]:
    """Draw once more and return ``{"views": {name: {"labels": {side: letters}, "texts":
    [other texts]}}}`` of that picture, each text given to the view whose rectangle holds it."""
    return page.evaluate(
        """async () => {
            const v = window.ownscanViewer;
            await v.afterDraw();
            window.__texts = [];
            await v.afterDraw();
            const rects = v.rects();
            const views = {};
            for (const name of Object.keys(rects)) views[name] = {labels: {}, texts: []};
            for (const t of window.__texts) {
                const x = Math.min(t.x, v.stage.clientWidth - 1);
                const [name] = v.viewAt(x, Math.min(t.y, v.stage.clientHeight - 1));
                if (!name) continue;
                if (t.font.startsWith('bold')) {
                    const sides = {'center top': 'top', 'center bottom': 'bottom',
                                   'left middle': 'left', 'right middle': 'right'};
                    views[name].labels[sides[`${t.align} ${t.base}`]] = t.text;
                } else views[name].texts.push(t.text);
            }
            return {views};
        }"""
    )


def plane_labels(right: Any, down: Any) -> dict[str, str]:
    """The desktop's letters of a 2D view whose right and down directions (LPS) are given."""
    from ownscan.core.viewer._geometry import orientation_label

    r, d = np.asarray(right, float), np.asarray(down, float)
    return {
        "right": orientation_label(r),
        "left": orientation_label(-r),
        "bottom": orientation_label(d),
        "top": orientation_label(-d),
    }


def mpr_labels(view: str) -> dict[str, str]:
    """The desktop viewer's letters of its axial, coronal or sagittal view."""
    from ownscan.core.viewer._geometry import PLANES

    p = PLANES[view]
    return plane_labels(p.right_lps, p.down_lps)


def camera_labels(azimuth: float, elevation: float) -> dict[str, str]:
    """``ownscan render --annotate``'s letters for a camera."""
    from ownscan.core.render import Camera
    from ownscan.core.render._annotate import view_labels

    return view_labels(Camera(azimuth=azimuth, elevation=elevation))


def view_pixels(page: Any, rgb: np.ndarray, view: str) -> np.ndarray:
    """The part of the GL canvas ``rgb`` (device pixel ratio 1) that shows ``view``."""
    r = page.evaluate(f"() => window.ownscanViewer.rects()[{view!r}]")
    x, y, w, h = (round(r[k]) for k in ("x", "y", "w", "h"))
    return rgb[y : y + h, x : x + w]
