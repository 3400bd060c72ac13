"""What the radiologist saw, in the viewer: marks drawn on the views, jumps to key images and
measurements, and a presentation state applied (window, zoom, annotations).

:class:`RadiologistView` belongs to a :class:`~ownscan.core.viewer.Viewer`. When a series whose
study has documents is shown it reads their marks on a thread (:class:`~._marks.MarksLoader`);
each frame it draws, over every 2D view: the overlay planes (60xx) of the images in the view's
slice, the report's measurements with coordinates (light blue, the one picked in magenta with a
ring), the annotations of the applied presentation state (green) and the marker of the last
jump. The report panel (``_report.py``) lists them and calls :meth:`jump_to_image`,
:meth:`jump_to_mark` and :meth:`apply`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from ownscan.core.viewer._layout import Layout, Rect
from ownscan.core.viewer._marks import (
    ImagePlane,
    MarkShape,
    MarksLoader,
    PresentationState,
    StudyDocuments,
    StudyMarks,
)

if TYPE_CHECKING:
    from ownscan.core.viewer._app import Viewer

__all__ = ["MARK_COLOURS", "RadiologistView"]

log = logging.getLogger(__name__)

# colours of what is drawn (r, g, b): tests find the marks by them
MARK_COLOURS = {
    "sr": (0.35, 0.8, 1.0),
    "picked": (1.0, 0.2, 0.9),
    "gsps": (0.3, 1.0, 0.3),
    "overlay": (1.0, 1.0, 0.55),
}


class RadiologistView:
    """Marks of the shown series' study and what the user did with them.

    Attributes
    ----------
    applied
        The presentation state applied (its annotations drawn), or None.
    picked
        The measurement the user jumped to (drawn in magenta with a ring), or None.
    show_overlays
        Draw overlay planes (60xx); on by default, as the files say.
    """

    def __init__(self, viewer: Viewer) -> None:
        self.v = viewer
        self._cache: dict[str, StudyMarks] = {}
        self._loader: MarksLoader | None = None
        self._overlay_tex: dict[tuple[str, int, int], Any] = {}
        self.applied: PresentationState | None = None
        self.picked: MarkShape | None = None
        self.show_overlays = True
        self.marker: np.ndarray | None = None  # LPS of the last jump's spot
        # a jump waiting for its series to be shown: series, spot, picked mark, image plane
        self._pending: tuple[str, np.ndarray, MarkShape | None, ImagePlane | None] | None = None

    # -- reading -------------------------------------------------------------------------------
    @property
    def documents(self) -> StudyDocuments | None:
        docs = getattr(self.v.entry, "documents", None)
        return docs if isinstance(docs, StudyDocuments) else None

    def current(self) -> StudyMarks | None:
        """The shown series' marks, or None while they are read (or there are none)."""
        entry = self.v.entry
        found = self._cache.get(entry.key)
        if found is not None:
            return found
        docs = self.documents
        if docs is None or not (docs.presentation_states or docs.reports):
            return None
        job = self._loader
        if job is None or job.key != entry.key:
            if not hasattr(self.v, "view") or not entry.loaded:
                return None
            uid = entry.info.series_instance_uid or entry.key
            self._loader = job = MarksLoader(entry.key, docs, uid, self.v.view.volume)
        if not job.done:
            return None
        self._loader = None
        if job.error is not None:
            if not isinstance(job.error, Exception):
                raise job.error
            log.error("marks of %s not read: %s", entry.key, job.error)
            self._cache[entry.key] = StudyMarks(problems=[f"marks not read: {job.error}"])
        else:
            assert job.result is not None
            self._cache[entry.key] = job.result
            for p in job.result.problems:
                log.warning("%s", p)
        return self._cache[entry.key]

    def reading(self) -> bool:
        """True while the shown series' marks are being read."""
        return self._loader is not None and not self._loader.done

    def wait(self, timeout: float = 60.0) -> StudyMarks | None:
        """Read the shown series' marks now (tests, scripts)."""
        self.current()
        if self._loader is not None:
            self._loader.wait(timeout)
        return self.current()

    # -- actions -------------------------------------------------------------------------------
    def jump_to_image(self, sop_instance_uid: str) -> bool:
        """Move the crosshair to the middle of an image (the views' slices through it),
        showing its series first if it is another one. False when its place is unknown."""
        marks = self.current()
        plane = marks.planes.get(sop_instance_uid) if marks else None
        if plane is None:
            self.v._flash("that image's place in the patient is not known", seconds=6.0)
            return False
        self._go(plane.series_uid, plane.centre(), None, plane)
        return True

    def jump_to_mark(self, shape: MarkShape) -> None:
        """Move the crosshair to a measurement's spot, mark it, and draw it picked."""
        series = shape.plane.series_uid if shape.plane is not None else self._series_uid()
        self._go(series, shape.centre(), shape, shape.plane)

    def _series_uid(self) -> str:
        return self.v.entry.info.series_instance_uid or self.v.entry.key

    def _go(
        self,
        series_uid: str,
        spot: np.ndarray,
        shape: MarkShape | None,
        plane: ImagePlane | None,
    ) -> None:
        if series_uid == self._series_uid():
            self._arrive(spot, shape, plane)
            return
        for i, e in enumerate(self.v.entries):
            if (e.info.series_instance_uid or e.key) == series_uid:
                self._pending = (series_uid, spot, shape, plane)
                self.v.request_series(i)
                return
        self.v._flash("that image is in a series not open here", seconds=6.0)

    def _arrive(self, spot: np.ndarray, shape: MarkShape | None, plane: ImagePlane | None) -> None:
        if plane is not None:
            self._face(plane)
        self.v.view.cursor_lps = np.asarray(spot, dtype=np.float64).copy()
        self.marker = self.v.view.cursor_lps.copy()
        self.picked = shape

    def apply(self, ps: PresentationState | None) -> None:
        """Apply a presentation state: its window, its zoom on the view that shows its images'
        plane, its annotations drawn; None takes it off (window and zoom stay as they are)."""
        self.applied = ps
        if ps is None:
            return
        view = self.v.view
        if ps.window is not None:
            width, level, explanation = ps.window
            view.set_window(explanation or ps.label, width, level)
        marks = self.current()
        planes = [marks.planes[s] for s in ps.images if marks and s in marks.planes]
        here = [p for p in planes if p.series_uid == self._series_uid()]
        if not here:
            if planes:  # its images are in another series: go there first
                self._go(planes[0].series_uid, planes[0].centre(), None, planes[0])
            return
        plane = here[0]
        self._arrive(plane.centre(), None, plane)
        self.marker = None
        area = ps.areas.get(plane.sop_instance_uid)
        lay = self.v._layout or self.v.layout()  # before the first frame too
        name = self._view_of(plane)
        if area is not None and name is not None and lay is not None and name in lay.views:
            self._zoom_to(name, lay.views[name], plane, area)

    def _face(self, plane: ImagePlane) -> None:
        """Make a 2D view show the image's own plane when none does: an oblique acquisition
        is shown resliced along the patient's axes, where its marks would cut through the
        slices; the view most nearly parallel turns to the plane as acquired (R resets)."""
        view = self.v.view
        if view.is_2d or self._view_of(plane) is not None:
            return
        from ownscan.core.viewer._geometry import PlaneAxes

        n = plane.normal()
        name = max(view.views, key=lambda k: abs(float(view.views[k].plane.normal() @ n)))
        right = plane.col_step / float(np.linalg.norm(plane.col_step))
        down = plane.row_step / float(np.linalg.norm(plane.row_step))
        normal = np.cross(right, down)

        def t(v: np.ndarray) -> tuple[float, float, float]:
            return (float(v[0]), float(v[1]), float(v[2]))

        view.views[name].plane = PlaneAxes(f"{name} as acquired", t(right), t(down), t(normal))
        view.views[name].pan_lps = np.zeros(3)
        self.v._flash(f"the {name} view shows the images as acquired (R resets)", seconds=8.0)

    def _view_of(self, plane: ImagePlane) -> str | None:
        """The 2D view whose plane is the image's (parallel), or None."""
        n = plane.normal()
        for name, pv in self.v.view.views.items():
            if abs(float(pv.plane.normal() @ n)) > 0.999:
                return name
        return None

    def _zoom_to(self, name: str, rect: Rect, plane: ImagePlane, area: Any) -> None:
        """Zoom and pan a view to a displayed area (PS3.3 C.10.4: SCALE TO FIT shows the
        area whole; MAGNIFY its pixels at the ratio; TRUE SIZE is shown scaled to fit, the
        window's physical pixel size being unknown)."""
        from ownscan.core.viewer._geometry import fit_mm_per_px

        view = self.v.view
        pv = view.views[name]
        x0, y0 = area.top_left[0] - 1.0, area.top_left[1] - 1.0
        x1, y1 = area.bottom_right
        centre = plane.to_lps((x0 + x1) / 2.0, (y0 + y1) / 2.0)
        w_mm = abs(x1 - x0) * float(np.linalg.norm(plane.col_step))
        h_mm = abs(y1 - y0) * float(np.linalg.norm(plane.row_step))
        if area.size_mode == "MAGNIFY" and area.magnification:
            want = float(np.linalg.norm(plane.col_step)) / float(area.magnification)
        else:
            want = max(w_mm / max(1, rect.w), h_mm / max(1, rect.h))
        fit = fit_mm_per_px(view.volume, pv.plane, rect.size)
        pv.zoom = float(np.clip(fit / max(want, 1e-9), 0.1, 50.0))
        n = pv.plane.normal()
        offset = centre - view.centre_lps
        pv.pan_lps = offset - float(offset @ n) * n
        view.cursor_lps = centre.copy()

    def forget(self) -> None:
        """Release the overlay textures (the window is closing)."""
        for tex in self._overlay_tex.values():
            tex.release()
        self._overlay_tex.clear()

    # -- drawing -------------------------------------------------------------------------------
    def draw(self, dl: Any, lay: Layout) -> None:
        """Draw the marks over the 2D views (imgui's background list, after the views'
        texts)."""
        if self._pending is not None:
            series, spot, shape, plane = self._pending
            if series == self._series_uid() and not self.v.loading():
                self._pending = None
                self._arrive(spot, shape, plane)
        marks = self.current()
        for name, rect in lay.views.items():
            if name == "3d" or ":" in name:  # a compare pane ("prior:axial") shows the prior
                continue
            if marks is not None:
                if self.show_overlays:
                    self._draw_overlays(dl, name, rect, marks)
                for shape in marks.shapes:
                    if shape.kind == "gsps" and (
                        self.applied is None or shape.document != self.applied.document
                    ):
                        continue
                    colour = "picked" if shape is self.picked else shape.kind
                    if self._in_slice(name, shape):
                        self._draw_shape(dl, name, rect, shape, colour)
            if self.marker is not None and self._near_slice(name, self.marker):
                self._draw_marker(dl, name, rect, self.marker)

    def _parallel(self, name: str, plane: ImagePlane) -> bool:
        n = self.v.view.views[name].plane.normal()
        return abs(float(n @ plane.normal())) > 0.999

    def _near_slice(self, name: str, p: np.ndarray) -> bool:
        """True when ``p`` lies in the slice the view shows: the same slice number as the
        view's header counts (a point half way between two slices belongs to one only)."""
        view = self.v.view
        n = view.views[name].plane.normal()
        lo, hi = view.slice_range_mm(name)
        step = view.slice_step(name)
        total = max(1, round((hi - lo) / step))

        def index(at: float) -> int:
            return min(total - 1, int(np.floor((at - lo) / step)))

        at = float(np.asarray(p) @ n)
        if not lo - 1e-6 <= at <= hi + 1e-6:
            return False
        return index(at) == index(view.slice_position(name))

    def _in_slice(self, name: str, shape: MarkShape) -> bool:
        if shape.plane is not None:
            return self._parallel(name, shape.plane) and self._near_slice(name, shape.plane.corner)
        pts = shape.points()
        for_here = self._frame_of_reference()
        if shape.frame_of_reference and for_here and shape.frame_of_reference != for_here:
            return False  # patient mm of another frame of reference: not this volume's
        return bool(pts) and all(self._near_slice(name, p) for p in pts)

    def _frame_of_reference(self) -> str:
        marks = self._cache.get(self.v.entry.key)
        if marks is None:
            return ""
        uid = self._series_uid()
        return next(
            (p.frame_of_reference for p in marks.planes.values() if p.series_uid == uid), ""
        )

    def _px(self, name: str, rect: Rect, p: np.ndarray) -> Any:
        x, y = self.v.view.lps_to_pixel(name, rect.size, p)
        return self.v.win.ui(rect.x + x, rect.y + y)

    def _draw_shape(self, dl: Any, name: str, rect: Rect, shape: MarkShape, colour: str) -> None:
        win = self.v.win
        col = win.col(*MARK_COLOURS[colour])
        t = 2.0 * max(1.0, win.ui_scale)
        for line, closed in zip(shape.lines, shape.closed, strict=True):
            pts = [self._px(name, rect, p) for p in line]
            if len(pts) >= 2:
                flag = win.imgui.ImDrawFlags_.closed if closed else win.imgui.ImDrawFlags_.none
                dl.add_polyline(pts, col, t, int(flag))
        for p in shape.dots:
            c = self._px(name, rect, p)
            dl.add_circle_filled(c, 3.0 * max(1.0, win.ui_scale), col)
        for tip, tail in shape.arrow_heads:
            a, b = self._px(name, rect, tip), self._px(name, rect, tail)
            d = np.array([b.x - a.x, b.y - a.y])
            length = float(np.linalg.norm(d))
            if length > 0:
                d = d / length * 12.0 * max(1.0, win.ui_scale)
                side = np.array([-d[1], d[0]]) * 0.5
                imgui = win.imgui
                dl.add_triangle_filled(
                    a,
                    imgui.ImVec2(a.x + d[0] + side[0], a.y + d[1] + side[1]),
                    imgui.ImVec2(a.x + d[0] - side[0], a.y + d[1] - side[1]),
                    col,
                )
        fs = 14.0 * win.font_scale
        for p, text in shape.texts:
            if text:
                x, y = self.v.view.lps_to_pixel(name, rect.size, p)
                win.text(dl, rect.x + x + 4, rect.y + y + 2, text, col, fs)
        if shape.kind == "sr" and shape.label and shape.lines:
            x, y = self.v.view.lps_to_pixel(name, rect.size, shape.lines[0][-1])
            win.text(dl, rect.x + x + 6, rect.y + y - 6, shape.label, col, fs)
        if colour == "picked":
            self._draw_marker(dl, name, rect, shape.centre())

    def _draw_marker(self, dl: Any, name: str, rect: Rect, p: np.ndarray) -> None:
        win = self.v.win
        col = win.col(*MARK_COLOURS["picked"])
        c = self._px(name, rect, p)
        r = 16.0 * max(1.0, win.ui_scale)
        dl.add_circle(c, r, col, 0, 2.0 * max(1.0, win.ui_scale))

    def _draw_overlays(self, dl: Any, name: str, rect: Rect, marks: StudyMarks) -> None:
        imgui = self.v.win.imgui
        for sop, planes in marks.overlays.items():
            plane = marks.planes.get(sop)
            if plane is None or not self._parallel(name, plane):
                continue
            if not self._near_slice(name, plane.corner):
                continue
            for ov in planes:
                tex = self._overlay_texture(sop, ov)
                r0, c0 = ov.origin[0] - 1, ov.origin[1] - 1
                rows, cols = ov.bitmap.shape[1:]
                # corners of the overlay's bitmap in image coordinates (pixel corners)
                quad = [
                    plane.to_lps(c0 + x, r0 + y)
                    for x, y in ((0, 0), (cols, 0), (cols, rows), (0, rows))
                ]
                p1, p2, p3, p4 = (self._px(name, rect, q) for q in quad)
                dl.add_image_quad(
                    imgui.ImTextureRef(tex.glo),
                    p1,
                    p2,
                    p3,
                    p4,
                    imgui.ImVec2(0, 0),
                    imgui.ImVec2(1, 0),
                    imgui.ImVec2(1, 1),
                    imgui.ImVec2(0, 1),
                )

    def _overlay_texture(self, sop: str, ov: Any) -> Any:
        key = (sop, ov.group, 0)
        tex = self._overlay_tex.get(key)
        if tex is None:
            import moderngl

            bits = ov.bitmap[0]
            rgba = np.zeros((*bits.shape, 4), np.uint8)
            r, g, b = MARK_COLOURS["overlay"]
            rgba[bits] = (round(r * 255), round(g * 255), round(b * 255), 255)
            tex = self.v.ctx.texture((bits.shape[1], bits.shape[0]), 4, rgba.tobytes())
            tex.filter = (moderngl.NEAREST, moderngl.NEAREST)
            self._overlay_tex[key] = tex
        return tex
