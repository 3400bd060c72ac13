"""Orientation labels (from the camera's LPS directions) and a scale bar, drawn on a picture."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from ownscan.core.render._camera import Camera

__all__ = ["annotate", "orientation_label", "view_labels"]

_LETTERS = (("R", "L"), ("A", "P"), ("I", "S"))  # LPS: -x = Right, +x = Left, ...


def orientation_label(direction_lps: npt.ArrayLike, min_component: float = 0.25) -> str:
    """Letters of the patient directions a vector points to, strongest first.

    ``(1, 0, 0)`` is ``"L"``; a vector between left and anterior, ``(0.7, -0.7, 0)``, is ``"LA"``
    (or ``"AL"``); components smaller than ``min_component`` are left out, as viewers do for
    oblique planes.
    """
    v = np.asarray(direction_lps, dtype=np.float64)
    v = v / np.linalg.norm(v)
    order = np.argsort(-np.abs(v), kind="stable")
    return "".join(_LETTERS[a][int(v[a] > 0)] for a in order if abs(v[a]) >= min_component)


def view_labels(camera: Camera) -> dict[str, str]:
    """The labels at the middle of the image's four edges: ``left``, ``right``, ``top``,
    ``bottom`` (the patient directions that lie that way)."""
    b = camera.basis_lps()
    right, up = b[:, 0], b[:, 1]
    return {
        "right": orientation_label(right),
        "left": orientation_label(-right),
        "top": orientation_label(up),
        "bottom": orientation_label(-up),
    }


def _nice_length(max_mm: float) -> float:
    """The largest 1-2-5 x 10^n length not above ``max_mm``."""
    exp = 10.0 ** math.floor(math.log10(max_mm))
    for m in (5.0, 2.0, 1.0):
        if m * exp <= max_mm:
            return m * exp
    return exp


def annotate(
    image: npt.NDArray[np.uint8],
    camera: Camera | None,
    pixel_mm: float | None,
    notes: list[str] | None = None,
    *,
    labels: Mapping[str, str] | None = None,
    scale_words: str = "",
) -> npt.NDArray[np.uint8]:
    """A copy of ``image`` with orientation labels, a scale bar and any notes drawn on it.

    Parameters
    ----------
    image
        RGBA uint8 ``(h, w, 4)``.
    camera
        The camera that made it (the labels follow its directions), or None.
    pixel_mm
        Size of a pixel on the focal plane (for a perspective view the bar is true there only);
        None when sizes are unknown: no bar, ``scale_words`` is written in its place.
    notes
        Lines printed at the top (e.g. "drawn downsampled").
    labels
        The edge labels (``left``, ``right``, ``top``, ``bottom``) instead of the camera's; an
        empty mapping draws none (an image that does not say how the patient lies).
    scale_words
        Added to the bar's length (e.g. "at detector"), or the line shown without a bar.
    """
    from PIL import Image, ImageDraw, ImageFont

    h, w = image.shape[:2]
    img = Image.fromarray(np.ascontiguousarray(image), "RGBA")
    draw = ImageDraw.Draw(img)
    font_size = max(10, min(w, h) // 28)
    try:
        font: ImageFont.FreeTypeFont | ImageFont.ImageFont = ImageFont.load_default(font_size)
    except TypeError:  # Pillow < 10.1 has a single bitmap size
        font = ImageFont.load_default()
    if labels is None:
        labels = view_labels(camera) if camera is not None else {}
    colour = (255, 230, 0, 255)
    pad = max(3, font_size // 3)
    anchors = {
        "top": ((w / 2, pad), "mt"),
        "bottom": ((w / 2, h - pad), "mb"),
        "left": ((pad, h / 2), "lm"),
        "right": ((w - pad, h / 2), "rm"),
    }
    for side, (xy, anchor) in anchors.items():
        if not labels.get(side):
            continue
        draw.text(
            xy,
            labels[side],
            fill=colour,
            font=font,
            anchor=anchor,
            stroke_width=1,
            stroke_fill=(0, 0, 0, 255),
        )
    x0, y0 = 2 * pad + font_size, h - 2 * pad - font_size
    white = (255, 255, 255, 255)
    outline: dict[str, Any] = {"stroke_width": 1, "stroke_fill": (0, 0, 0, 255)}  # on white too
    if pixel_mm is None:
        if scale_words:
            draw.text((x0, y0), scale_words, fill=white, font=font, anchor="lm", **outline)
    else:
        length_mm = _nice_length(0.25 * w * pixel_mm)
        length_px = length_mm / pixel_mm
        draw.line([(x0, y0), (x0 + length_px, y0)], fill=white, width=2)
        for x in (x0, x0 + length_px):
            draw.line([(x, y0 - pad), (x, y0 + pad)], fill=white, width=2)
        text = f"{length_mm:g} mm" if length_mm < 10 else f"{length_mm / 10:g} cm"
        at, anchor = (x0 + length_px / 2, y0 - pad - 1), "mb"
        if scale_words:  # a longer text: from the bar's left end
            text, at, anchor = f"{text} {scale_words}", (x0, y0 - pad - 1), "lb"
        draw.text(at, text, fill=white, font=font, anchor=anchor, **outline)
    for n, note in enumerate(notes or ()):
        draw.text((pad, pad + n * (font_size + 2) + font_size + pad), note, fill=colour, font=font)
    return np.asarray(img, dtype=np.uint8).copy()
