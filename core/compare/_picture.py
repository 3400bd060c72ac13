"""Side-by-side, difference and overlay pictures of a prior and a current series.

About the reslicing
-------------------
A picture shows one true patient plane (axial, coronal or sagittal, in the orientation the
renderer's planes use: axial seen from the feet with the patient's left on the image's right,
coronal from the front, sagittal from the patient's left) through the **current** series. Each
pixel centre is a point ``p`` in the current's LPS millimetres; the current is sampled at ``p``
and the prior at ``M p`` (``M``: :attr:`Registration.matrix`, current -> prior), both by
trilinear interpolation of the stored voxels through ``Volume.lps_to_index`` (the inverse of
``Volume.affine``). So the prior is resampled onto the current's plane through the transform,
and a pixel outside either series' voxels is left out (drawn dark blue), never invented.

The difference is ``current - prior``: in Hounsfield units when both are CT; otherwise the
prior's intensities are first mapped linearly onto the current's (their 5th and 95th percentile
over the voxels where both have signal), since MR intensities have no fixed scale, and the
picture says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ownscan.core.errors import UsageError

if TYPE_CHECKING:
    from ownscan.core.compare._register import Registration
    from ownscan.core.volume import Volume

__all__ = [
    "MODES",
    "ComparisonPicture",
    "ComparisonPlanes",
    "Plane",
    "compare_planes",
    "difference_rgb",
    "difference_scale",
    "draw_comparison",
    "grey_rgb",
    "intensity_match",
    "overlay_rgb",
    "plane_through",
    "sample",
]

MODES = ("side-by-side", "difference", "overlay")

# (right on the image, down on the image) in LPS, as Camera.for_plane shows these planes
_AXES: dict[str, tuple[tuple[float, float, float], tuple[float, float, float], int]] = {
    "axial": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), 2),  # left on the right, anterior up
    "coronal": ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0), 1),  # left on the right, head up
    "sagittal": ((0.0, 1.0, 0.0), (0.0, 0.0, -1.0), 0),  # anterior on the left, head up
}
_MAX_SIDE = 512
_MIN_SIDE = 384  # small series are drawn on finer pixels (trilinear), so the text fits
_CT_DIFFERENCE_HU = 100.0  # CT differences reach full colour at +-100 HU
_OUTSIDE = (10, 20, 60)  # dark blue: no data here


@dataclass(frozen=True)
class Plane:
    """A plane of pixels in patient space: pixel ``(col, row)`` has its centre at
    ``corner + col * pixel_mm * right + row * pixel_mm * down`` (LPS mm)."""

    name: str
    corner: tuple[float, float, float]
    right: tuple[float, float, float]
    down: tuple[float, float, float]
    pixel_mm: float
    size: tuple[int, int]  # (width, height)
    position_mm: float  # the LPS coordinate along the plane's axis (z, y or x)

    def points(self) -> npt.NDArray[np.float64]:
        """``(height, width, 3)`` LPS mm of every pixel centre."""
        w, h = self.size
        cols = np.arange(w, dtype=np.float64)[None, :, None]
        rows = np.arange(h, dtype=np.float64)[:, None, None]
        r, d = np.asarray(self.right), np.asarray(self.down)
        return np.asarray(self.corner) + self.pixel_mm * (cols * r + rows * d)

    def pixel_of(self, lps: npt.ArrayLike) -> tuple[float, float]:
        """``(col, row)`` of an LPS point (projected onto the plane)."""
        q = np.asarray(lps, dtype=np.float64) - np.asarray(self.corner)
        return (
            float(q @ np.asarray(self.right) / self.pixel_mm),
            float(q @ np.asarray(self.down) / self.pixel_mm),
        )


def plane_through(volume: Volume, spec: str | None = None) -> Plane:
    """The plane ``spec`` through ``volume``: ``PLANE[:POSITION]``.

    Parameters
    ----------
    volume
        The (current) series the plane is cut through; it sets the extent and pixel size.
    spec
        ``axial``, ``coronal`` or ``sagittal`` (default axial), optionally ``:POSITION``: the
        LPS coordinate in mm along the plane's axis (z for axial, y for coronal, x for
        sagittal), or a percentage of the series' extent along it (``axial:40%``; default 50%).
    """
    text = (spec or "axial").strip().lower()
    name, _, position = text.partition(":")
    if name not in _AXES:
        raise UsageError(f"--slice {spec!r}: the plane is one of {', '.join(_AXES)}")
    right, down, axis = _AXES[name]
    z, y, x = volume.shape
    corners = volume.index_to_lps(
        np.array([(i, j, k) for i in (0, x - 1) for j in (0, y - 1) for k in (0, z - 1)], float)
    )
    lo, hi = corners[:, axis].min(), corners[:, axis].max()
    if not position:
        position = "50%"
    match = re.fullmatch(r"\s*([-+]?\d+(?:\.\d*)?)\s*(%?)\s*", position)
    if match is None:
        raise UsageError(f"--slice {spec!r}: the position is a number of mm or a percentage")
    value = float(match.group(1))
    at = lo + (hi - lo) * value / 100.0 if match.group(2) else value
    if not lo - 1e-6 <= at <= hi + 1e-6:
        raise UsageError(
            f"--slice {spec!r}: {at:.1f} mm is outside the current series "
            f"({lo:.1f} .. {hi:.1f} mm along {'xyz'[axis]})"
        )
    r, d = np.asarray(right), np.asarray(down)
    u_range = (corners @ r).min(), (corners @ r).max()
    v_range = (corners @ d).min(), (corners @ d).max()
    longest = max(u_range[1] - u_range[0], v_range[1] - v_range[0])
    pixel = min(min(volume.spacing), longest / _MIN_SIDE)
    pixel = max(pixel, longest / _MAX_SIDE)
    w = int(np.floor((u_range[1] - u_range[0]) / pixel)) + 1
    h = int(np.floor((v_range[1] - v_range[0]) / pixel)) + 1
    corner = r * u_range[0] + d * v_range[0]
    corner[axis] = at
    c = (float(corner[0]), float(corner[1]), float(corner[2]))
    return Plane(name, c, right, down, float(pixel), (w, h), float(at))


def sample(volume: Volume, points_lps: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """Trilinear samples of ``volume`` at LPS points ``(..., 3)``; NaN outside its voxels."""
    pts = np.asarray(points_lps, dtype=np.float64)
    shape = pts.shape[:-1]
    ijk = np.atleast_2d(volume.lps_to_index(pts.reshape(-1, 3)))
    sizes = np.array(volume.shape[::-1])  # (x, y, z) = along (i, j, k)
    inside = np.all((ijk >= -0.5) & (ijk <= sizes - 0.5), axis=1)
    base = np.clip(np.floor(ijk), 0, np.maximum(sizes - 2, 0)).astype(np.int64)
    frac = np.clip(ijk - base, 0.0, 1.0)
    nxt = np.minimum(base + 1, sizes - 1)
    vox = volume.voxels
    out = np.zeros(len(ijk), dtype=np.float64)
    for dk in (0, 1):
        k = nxt[:, 2] if dk else base[:, 2]
        wk = frac[:, 2] if dk else 1.0 - frac[:, 2]
        for dj in (0, 1):
            j = nxt[:, 1] if dj else base[:, 1]
            wj = frac[:, 1] if dj else 1.0 - frac[:, 1]
            for di in (0, 1):
                i = nxt[:, 0] if di else base[:, 0]
                wi = frac[:, 0] if di else 1.0 - frac[:, 0]
                out += wk * wj * wi * vox[k, j, i]
    out[~inside] = np.nan
    return out.astype(np.float32).reshape(shape)


@dataclass(frozen=True)
class ComparisonPlanes:
    """One plane of both series, the prior resampled through the registration.

    ``difference`` is ``current - prior_matched``; ``matched`` says how the prior's intensities
    were put on the current's scale (``""``: not at all, both are CT in HU).
    """

    plane: Plane
    prior: npt.NDArray[np.float32]
    current: npt.NDArray[np.float32]
    prior_matched: npt.NDArray[np.float32]
    difference: npt.NDArray[np.float32]
    matched: str


def compare_planes(
    prior: Volume, current: Volume, registration: Registration, plane: Plane
) -> ComparisonPlanes:
    """Sample ``plane`` (in the current's LPS) in both series, the prior through the
    registration, and their difference."""
    points = plane.points()
    cur = sample(current, points)
    pri = sample(prior, registration.apply(points))
    matched = ""
    pri_m = pri
    if not (prior.modality == current.modality == "CT"):
        pri_m, matched = _match_intensities(prior, current, registration, pri)
    return ComparisonPlanes(plane, pri, cur, pri_m, cur - pri_m, matched)


def intensity_match(
    prior: Volume, current: Volume, registration: Registration
) -> tuple[float, float, str]:
    """How the prior's intensities are put on the current's scale: ``current ~ prior * scale +
    offset`` (``(1, 0, "")`` for a CT pair, in HU both, or when too little signal overlaps).

    The 5th and 95th percentiles of the signal in a sparse sample of the current's voxels and
    of the prior at the same (registered) points are matched; ``note`` says so for the user.
    """
    if prior.modality == current.modality == "CT":
        return 1.0, 0.0, ""
    z, y, x = current.shape
    step = max(1, round((x * y * z / 200_000) ** (1 / 3)))
    grid = np.asarray(np.mgrid[0:z:step, 0:y:step, 0:x:step])
    kji = np.moveaxis(grid, 0, -1).reshape(-1, 3)
    cur = current.voxels[kji[:, 0], kji[:, 1], kji[:, 2]].astype(np.float64)
    pri = sample(prior, registration.apply(current.index_to_lps(kji[:, ::-1]))).astype(np.float64)
    lo_c, hi_c = np.percentile(cur, [1, 99])
    use = np.isfinite(pri) & (cur > lo_c + 0.1 * (hi_c - lo_c))
    if use.sum() < 100:
        return 1.0, 0.0, ""
    c5, c95 = np.percentile(cur[use], [5, 95])
    p5, p95 = np.percentile(pri[use], [5, 95])
    if p95 <= p5:
        return 1.0, 0.0, ""
    scale = float((c95 - c5) / (p95 - p5))
    note = f"prior intensities scaled x{scale:.3g} onto the current's (5th-95th percentile)"
    return scale, float(c5 - p5 * scale), note


def _match_intensities(
    prior: Volume,
    current: Volume,
    registration: Registration,
    prior_plane: npt.NDArray[np.float32],
) -> tuple[npt.NDArray[np.float32], str]:
    """The prior's plane mapped linearly onto the current's intensities (intensity_match)."""
    scale, offset, note = intensity_match(prior, current, registration)
    if not note:
        return prior_plane, ""
    return (prior_plane * scale + offset).astype(np.float32), note


@dataclass(frozen=True)
class ComparisonPicture:
    """``rgb``: ``(h, w, 3)`` uint8; ``panels``: the ``(x, y)`` of each panel's top-left pixel
    (prior, current, then the difference or overlay), each panel ``plane.size`` large."""

    rgb: npt.NDArray[np.uint8]
    panels: tuple[tuple[int, int], ...]


def grey_rgb(values: npt.NDArray[np.float32], width: float, level: float) -> npt.NDArray[np.uint8]:
    """Windowed grey RGB; NaN (no data) in the 'outside' colour."""
    g = np.clip((values - (level - width / 2.0)) / width, 0.0, 1.0)
    rgb = np.repeat((np.nan_to_num(g) * 255.0 + 0.5).astype(np.uint8)[..., None], 3, axis=2)
    rgb[~np.isfinite(values)] = _OUTSIDE
    return rgb


def difference_rgb(values: npt.NDArray[np.float32], scale: float) -> npt.NDArray[np.uint8]:
    """Black at 0, red for positive (brighter in the current), blue for negative."""
    t = np.clip(np.nan_to_num(values) / scale, -1.0, 1.0)
    rgb = np.zeros((*values.shape, 3), dtype=np.uint8)
    pos, neg = np.clip(t, 0, 1), np.clip(-t, 0, 1)
    rgb[..., 0] = (255 * pos + 0.5).astype(np.uint8)
    rgb[..., 1] = (80 * (pos + neg) ** 2 + 0.5).astype(np.uint8)
    rgb[..., 2] = (255 * neg + 0.5).astype(np.uint8)
    rgb[~np.isfinite(values)] = _OUTSIDE
    return rgb


def overlay_rgb(
    current: npt.NDArray[np.float32],
    prior: npt.NDArray[np.float32],
    width: float,
    level: float,
) -> npt.NDArray[np.uint8]:
    """The current in magenta over the prior in green, both windowed (grey where they agree)."""
    a = np.nan_to_num(np.clip((current - (level - width / 2)) / width, 0, 1))
    b = np.nan_to_num(np.clip((prior - (level - width / 2)) / width, 0, 1))
    return (np.stack([a, b, a], axis=-1) * 255 + 0.5).astype(np.uint8)


def difference_scale(prior: Volume, current: Volume, window_width: float) -> tuple[float, str]:
    """The difference that reaches full colour, and its units: 100 HU for a CT pair, otherwise
    a fifth of the current's window (its intensities have no fixed scale)."""
    if prior.modality == current.modality == "CT":
        return _CT_DIFFERENCE_HU, "HU"
    return window_width / 5.0, "(current's units)"


def _wrap(draw: Any, text: str, font: Any, width: float) -> list[str]:
    """``text`` broken at spaces into lines no wider than ``width`` pixels."""
    out: list[str] = []
    for word in text.split(" "):
        if out and draw.textlength(out[-1] + " " + word, font=font) <= width:
            out[-1] += " " + word
        else:
            out.append(word)
    return out or [""]


def _label(info_date: str, description: str) -> str:
    d = info_date
    date = f"{d[:4]}-{d[4:6]}-{d[6:8]}" if len(d) == 8 and d.isdigit() else (d or "no date")
    return f"{date}  {description or '(no description)'}"


def draw_comparison(
    prior: Volume,
    current: Volume,
    registration: Registration,
    planes: ComparisonPlanes,
    mode: str = "side-by-side",
    warnings: Sequence[str] = (),
) -> ComparisonPicture:
    """The picture: the prior (resampled) and the current side by side, plus the difference
    or the overlay for those modes; dates, descriptions, the transform, and a red banner when
    the registration is poor; ``warnings`` are drawn as banners too (e.g. a forced comparison
    of different patients)."""
    from PIL import Image, ImageDraw, ImageFont

    if mode not in MODES:
        raise UsageError(f"mode {mode!r}: one of {', '.join(MODES)}")
    win = current.default_window()
    # CT: one window for both (equal HU look equal); otherwise the prior on the current's scale
    panels = [
        grey_rgb(planes.prior_matched, win.width, win.level),
        grey_rgb(planes.current, win.width, win.level),
    ]
    titles = [
        "PRIOR  " + _label(prior.info.study_date, prior.info.series_description),
        "CURRENT  " + _label(current.info.study_date, current.info.series_description),
    ]
    scale, units = difference_scale(prior, current, win.width)
    if mode == "difference":
        panels.append(difference_rgb(planes.difference, scale))
        titles.append(f"CURRENT - PRIOR  red +, blue -, full at {scale:g} {units}")
    elif mode == "overlay":
        panels.append(overlay_rgb(planes.current, planes.prior_matched, win.width, win.level))
        titles.append("OVERLAY  current magenta, prior green")

    h, w = panels[0].shape[:2]
    font_size = max(11, min(18, w // 28))
    try:
        font: ImageFont.FreeTypeFont | ImageFont.ImageFont = ImageFont.load_default(font_size)
    except TypeError:  # Pillow < 10.1 has a single bitmap size
        font = ImageFont.load_default()
    line = font_size + 6
    gap = 4
    reg = registration
    lines = [
        f"{reg.method}: rotation {reg.rotation_degrees:.2f} deg, translation "
        f"{reg.translation_mm:.1f} mm"
        + (f", quality {reg.quality:.2f}" if reg.quality is not None else "")
        + (f", overlap {reg.overlap:.0%}" if reg.overlap is not None else ""),
        "M (current -> prior, mm): "
        + "  ".join("[" + " ".join(f"{v:.3f}" for v in row) + "]" for row in reg.matrix[:3]),
        f"{planes.plane.name} plane at {'xyz'[_AXES[planes.plane.name][2]]} = "
        f"{planes.plane.position_mm:.1f} mm (current's LPS)"
        + (f"; {planes.matched}" if planes.matched else ""),
    ]
    notes = [*warnings, *reg.notes]
    if reg.poor and not any("poor registration" in n for n in notes):
        notes.insert(0, "poor registration")
    width = len(panels) * w + (len(panels) - 1) * gap
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    banners = [p for n in notes for p in _wrap(measure, "WARNING: " + n, font, width - 8)]
    lines = [p for n in lines for p in _wrap(measure, n, font, width - 8)]
    top = line * (1 + len(banners))
    bottom = line * len(lines) + gap
    canvas = Image.new("RGB", (width, top + h + bottom), (0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    for n, (panel, title) in enumerate(zip(panels, titles, strict=True)):
        x = n * (w + gap)
        canvas.paste(Image.fromarray(np.ascontiguousarray(panel), "RGB"), (x, top))
        while len(title) > 4 and draw.textlength(title, font=font) > w - 8:
            title = title[:-2]  # cut to the panel's width rather than run into the next one
        draw.text((x + 4, 3), title, fill=(255, 230, 0), font=font)
    for n, text in enumerate(banners):
        y = line * (1 + n)
        banner = (170, 0, 0) if reg.poor or warnings else (90, 70, 0)  # red: poor or forced
        draw.rectangle([(0, y), (width, y + line - 1)], fill=banner)
        draw.text((4, y + 2), text, fill=(255, 255, 255), font=font)
    for n, text in enumerate(lines):
        draw.text((4, top + h + gap + n * line), text, fill=(220, 220, 220), font=font)
    return ComparisonPicture(
        np.asarray(canvas), tuple((n * (w + gap), top) for n in range(len(panels)))
    )
