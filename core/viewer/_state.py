"""What the viewer shows, independent of GL and of the window: cursor, zoom, window, camera.

All of it is plain numpy so that the interaction logic (scroll, click-to-cursor, window/level
drag, rotate, measure) is testable without a display; the window code only turns events into
calls on :class:`SeriesView` and draws what it says.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ownscan.core.viewer._geometry import (
    PLANES,
    PlaneAxes,
    fit_mm_per_px,
    lps_to_pixel,
    native_plane,
    pixel_to_lps,
    slice_step_mm,
    volume_bounds_lps,
    volume_centre_lps,
)
from ownscan.core.volume import Volume

__all__ = ["Camera3D", "Measurement", "PlaneView", "SeriesView"]

Vec = npt.NDArray[np.float64]


@dataclass
class Measurement:
    """A distance between two LPS points, drawn in the 2D view it was made in."""

    view: str
    a_lps: Vec
    b_lps: Vec

    @property
    def length_mm(self) -> float:
        return float(np.linalg.norm(np.asarray(self.b_lps) - np.asarray(self.a_lps)))


@dataclass
class PlaneView:
    """One 2D view: its orientation, zoom (1 = fit) and pan (mm, in the plane)."""

    plane: PlaneAxes
    zoom: float = 1.0
    pan_lps: Vec = field(default_factory=lambda: np.zeros(3))


@dataclass
class Camera3D:
    """The 3D view's orbit camera, in the renderer's terms (see ``ownscan.core.render.Camera``).

    ``azimuth = elevation = 0`` looks at the patient's face (patient's left on screen right,
    head up); a horizontal drag turns about the head-feet axis, a vertical drag raises or lowers
    the eye. ``zoom`` 1 fits the volume; ``pan_mm`` moves the view along screen right and up.
    """

    azimuth: float = 0.0
    elevation: float = 0.0
    zoom: float = 1.0
    pan_mm: tuple[float, float] = (0.0, 0.0)

    def rotate(self, dx_px: float, dy_px: float, degrees_per_px: float = 0.4) -> None:
        """Turn as if the object were dragged by ``(dx, dy)`` pixels."""
        self.azimuth = (self.azimuth - dx_px * degrees_per_px + 180.0) % 360.0 - 180.0
        self.elevation = float(np.clip(self.elevation + dy_px * degrees_per_px, -90.0, 90.0))

    def basis_lps(self) -> Vec:
        """Columns: screen-right, screen-up and towards-the-eye directions in LPS."""
        ca, sa = math.cos(math.radians(self.azimuth)), math.sin(math.radians(self.azimuth))
        ce, se = math.cos(math.radians(-self.elevation)), math.sin(math.radians(-self.elevation))
        rot_z = np.array([[ca, -sa, 0.0], [sa, ca, 0.0], [0.0, 0.0, 1.0]])
        rot_x = np.array([[1.0, 0.0, 0.0], [0.0, ce, -se], [0.0, se, ce]])
        # anterior view: right = patient's left (+x), up = head (+z), back = anterior (-y)
        base = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
        return rot_z @ rot_x @ base


class SeriesView:
    """The viewing state of one series: cursor, window, views, camera, mode, measurements.

    Parameters
    ----------
    volume
        The series shown.
    """

    def __init__(self, volume: Volume) -> None:
        self.volume = volume
        # one pane, shown as stored: a single image, or the frames of a multi-frame image that
        # has no place in the patient (an ultrasound cine), stepped through like slices
        self.is_2d = volume.is_2d or volume.extra.get("kind") == "frames"
        if self.is_2d:
            self.view_names: tuple[str, ...] = ("image",)
        elif volume.samples != 1:  # the renderer draws grey volumes only: no 3D view
            self.view_names = ("axial", "coronal", "sagittal")
        else:
            self.view_names = ("axial", "coronal", "sagittal", "3d")
        corners = volume_bounds_lps(volume)
        self.centre_lps: Vec = volume_centre_lps(volume)
        self.radius_mm = float(np.max(np.linalg.norm(corners - self.centre_lps, axis=1)))
        self.min_spacing = float(min(volume.spacing))
        self.auto_window = volume.default_window()  # computed once (percentiles of the data)
        self.measurements: list[Measurement] = []
        self.reset()

    # -- reset ---------------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to the initial state: cursor at the centre, fit zoom, default window, front
        view."""
        self.cursor_lps: Vec = self.centre_lps.copy()
        if self.is_2d:
            self.views = {"image": PlaneView(native_plane(self.volume))}
        else:
            self.views = {
                name: PlaneView(PLANES[name]) for name in ("axial", "coronal", "sagittal")
            }
        w = self.auto_window
        self.window: tuple[float, float] = (float(w.width), float(w.level))
        self.window_name = w.name
        self.camera = Camera3D()
        self.measurements.clear()

    # -- 2D views ------------------------------------------------------------------------------
    def mm_per_px(self, view: str, size: tuple[int, int]) -> float:
        pv = self.views[view]
        return fit_mm_per_px(self.volume, pv.plane, size) / pv.zoom

    def view_centre(self, view: str) -> Vec:
        """LPS point at the middle of a 2D view: the panned centre, moved onto the plane
        through the cursor."""
        pv = self.views[view]
        n = pv.plane.normal()
        c = self.centre_lps + pv.pan_lps
        return c + float((self.cursor_lps - c) @ n) * n

    def pixel_to_lps(self, view: str, size: tuple[int, int], px: float, py: float) -> Vec:
        pv = self.views[view]
        return pixel_to_lps(
            px, py, size, self.view_centre(view), pv.plane, self.mm_per_px(view, size)
        )

    def lps_to_pixel(self, view: str, size: tuple[int, int], p_lps: Vec) -> tuple[float, float]:
        pv = self.views[view]
        return lps_to_pixel(
            p_lps, size, self.view_centre(view), pv.plane, self.mm_per_px(view, size)
        )

    def slice_range_mm(self, view: str) -> tuple[float, float]:
        """Extent of the volume along the view's normal (mm, as ``p . normal``)."""
        n = self.views[view].plane.normal()
        proj = volume_bounds_lps(self.volume) @ n
        return float(proj.min()), float(proj.max())

    def slice_step(self, view: str) -> float:
        return slice_step_mm(self.volume, self.views[view].plane.normal())

    def slice_position(self, view: str) -> float:
        """The cursor's coordinate along the view's normal (mm)."""
        return float(self.cursor_lps @ self.views[view].plane.normal())

    def scroll(self, view: str, steps: float) -> None:
        """Move the view's slice ``steps`` slices along its normal (clamped to the volume)."""
        if view not in self.views:
            return
        pos = self.slice_position(view) + steps * self.slice_step(view)
        self.cursor_lps = self._on_a_slice(view, self.cursor_lps, pos)

    def _on_a_slice(self, view: str, p_lps: Vec, pos: float) -> Vec:
        """``p_lps`` moved along the view's normal to ``pos`` (mm), clamped to the middle of the
        view's first / last slice."""
        n = self.views[view].plane.normal()
        step = self.slice_step(view)
        lo, hi = self.slice_range_mm(view)
        new = min(max(pos, lo + step / 2.0), hi - step / 2.0)
        return p_lps + (new - float(p_lps @ n)) * n

    def click(self, view: str, size: tuple[int, int], px: float, py: float) -> None:
        """Move the cursor (crosshair) to the point under ``(px, py)``: the other views' slices
        go through it. A click beside the volume puts them on its first / last slice, never
        outside it (an empty slice would pass for the edge of the data)."""
        p = self.pixel_to_lps(view, size, px, py)
        for other in self.views:
            if other != view:
                p = self._on_a_slice(other, p, float(p @ self.views[other].plane.normal()))
        self.cursor_lps = p

    def zoom(self, view: str, factor: float) -> None:
        if view == "3d":
            self.camera.zoom = float(np.clip(self.camera.zoom * factor, 0.1, 50.0))
        elif view in self.views:
            pv = self.views[view]
            pv.zoom = float(np.clip(pv.zoom * factor, 0.1, 50.0))

    def pan(self, view: str, size: tuple[int, int], dx_px: float, dy_px: float) -> None:
        """Move the image with the mouse by ``(dx, dy)`` pixels."""
        if view == "3d":
            s = self.mm_per_px_3d(size)
            px, py = self.camera.pan_mm
            self.camera.pan_mm = (px - dx_px * s, py + dy_px * s)
        elif view in self.views:
            pv = self.views[view]
            s = self.mm_per_px(view, size)
            pv.pan_lps = pv.pan_lps - dx_px * s * pv.plane.right() - dy_px * s * pv.plane.down()

    def mm_per_px_3d(self, size: tuple[int, int]) -> float:
        """Pixel size (mm) of the 3D view: the volume's box fits the view at zoom 1 (with the
        renderer's 4 % margin)."""
        basis = self.camera.basis_lps()
        pts = volume_bounds_lps(self.volume)
        w, h = max(1, size[0]), max(1, size[1])
        r, u = pts @ basis[:, 0], pts @ basis[:, 1]
        return float(max(np.ptp(r) / w, np.ptp(u) / h) * 1.04 / self.camera.zoom)

    def window_drag(self, dx_px: float, dy_px: float) -> None:
        """Window/level by dragging: right widens the window, down raises the level (darker)."""
        width, level = self.window
        width = max(width * math.exp(dx_px / 150.0), 1e-3)
        level = level + dy_px * width / 300.0
        self.window = (width, level)
        self.window_name = "custom"

    def set_window(self, name: str, width: float, level: float) -> None:
        self.window = (float(width), float(level))
        self.window_name = name

    # -- measurement ---------------------------------------------------------------------------
    def measurements_in(self, view: str) -> list[Measurement]:
        """Measurements whose points lie in the view's current slice (within half a slice)."""
        if view not in self.views:
            return []
        n = self.views[view].plane.normal()
        half = self.slice_step(view) / 2.0 + 1e-6
        pos = self.slice_position(view)
        return [
            m
            for m in self.measurements
            if m.view == view
            and abs(float(m.a_lps @ n) - pos) <= half
            and abs(float(m.b_lps @ n) - pos) <= half
        ]
