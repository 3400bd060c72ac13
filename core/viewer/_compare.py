"""Compare the open series with a prior one in the viewer: linked side-by-side panes.

"Compare with..." (toolbar, key C) lists the library's proposed priors of the open series
(best first) and every other series (:func:`~ownscan.core.viewer._compare_state.prior_choices`).
Picking one starts a :class:`CompareJob` on a thread: the prior is decoded and prepared as any
series (:class:`~ownscan.core.viewer._loader.SeriesLoader`), then registered onto the current
(:func:`ownscan.core.compare.register`; one the library keeps is read instead, on the window's
thread, and a new one is kept there once done). Meanwhile the panes show scanner coordinates and
say "registering". A different patient is refused (the refusal names what differs) unless the
user forces it; then every pane carries a red banner.

The image area becomes columns: PRIOR | CURRENT [| CURRENT - PRIOR, FLICKER or OVERLAY], one
plane (axial, coronal, sagittal or 3D) each, and a panel below them with the dates, series
descriptions, the transform, its quality (a poor one in red, also as a banner on every pane),
and the controls: plane, mode, linked, registration on/off ("scanner coordinates"), close.
The linking itself is :class:`~ownscan.core.viewer._compare_state.CompareState`'s.

Drawing: the prior's 2D pane is resliced on the GPU, the current's plane mapped through the
registration into the prior's texture coordinates (exact, no resampled copy); its 3D pane is
its own ray-caster with :func:`linked_camera`. The difference and overlay panes are sampled on
the CPU with ``ownscan.core.compare``'s trilinear ``sample`` (what ``ownscan compare -o``
draws), at most ~400 pixels on the long side, recomputed only when what they show changes.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ownscan.core.compare import (
    RIGID_METHOD,
    Registration,
    difference_rgb,
    difference_scale,
    intensity_match,
    is_available,
    overlay_rgb,
    patient_check,
    sample,
    scanner_registration,
)
from ownscan.core.errors import OwnscanError, UsageError
from ownscan.core.viewer import _words
from ownscan.core.viewer._compare_state import (
    COMPARE_MODES,
    COMPARE_PLANES,
    CompareState,
    PriorChoice,
    linked_camera,
    prior_choices,
)
from ownscan.core.viewer._geometry import orientation_label
from ownscan.core.viewer._jobs import Job
from ownscan.core.viewer._layout import Layout, Rect
from ownscan.core.viewer._loader import SeriesLoader
from ownscan.core.viewer._projection_window import prior_window_3d
from ownscan.core.viewer._state import SeriesView

if TYPE_CHECKING:
    from ownscan.core.viewer._app import Viewer
    from ownscan.core.volume import Volume

__all__ = ["CompareJob", "CompareMenu", "CompareView"]

log = logging.getLogger(__name__)

_FUSED_MAX_SIDE = 400  # the CPU-sampled panes' long side (pixels) at most
_PANEL_LINES = 5  # the compare panel's height in text lines
_RED = (0.75, 0.05, 0.05)
_AMBER = (0.55, 0.4, 0.0)


def _date(d: str) -> str:
    return f"{d[:4]}-{d[4:6]}-{d[6:8]}" if len(d) == 8 and d.isdigit() else (d or "no date")


class CompareJob(Job):
    """Loads the prior and registers it onto the current, on a thread (started at once).

    Parameters
    ----------
    loader
        The prior's loader (decoding and preparing it, as for any series).
    current
        The open series' Volume.
    register
        Register (True) or use scanner coordinates (False).
    stored
        A registration the library keeps for this pair (used instead of registering).
    """

    def __init__(
        self,
        loader: SeriesLoader,
        current: Volume,
        register: bool,
        stored: Registration | None,
    ) -> None:
        super().__init__("ownscan-compare", "loading the prior")
        self.loader = loader
        self.current = current
        self.register = register
        self.stored = stored
        self.prior_view: SeriesView | None = None
        self.registration: Registration | None = None
        self.match: tuple[float, float, str] = (1.0, 0.0, "")
        self.start()

    def work(self) -> None:
        from ownscan.core.compare import register

        self.loader.wait_ready()
        if self.loader.error is not None and self.loader.volume is None:
            raise self.loader.error
        prior = self.loader.volume
        assert prior is not None
        if prior.is_2d or prior.samples != 1:
            raise UsageError("the prior is a single image or in colour: nothing to register")
        self.prior_view = SeriesView(prior)  # its default window: percentiles, here
        if self.stored is not None:
            reg = self.stored
        elif not self.register:
            reg = scanner_registration(prior, self.current)
        elif not is_available():
            reg = scanner_registration(prior, self.current)
            reg = Registration(
                reg.matrix,
                reg.method,
                notes=(
                    "registration needs SimpleITK (pip install ownscan[compare]): "
                    "scanner coordinates shown",
                    *reg.notes,
                ),
            )
        else:
            self.stage = "registering"
            reg = register(prior, self.current)
        self.stage = "matching intensities"
        self.match = intensity_match(prior, self.current, reg)
        self.registration = reg


class CompareView:
    """A running comparison in a viewer: its job, state, GL objects, panes and panel.

    Parameters
    ----------
    viewer
        The viewer (its current series is the comparison's current).
    prior_index
        The prior's index in ``viewer.entries``.
    register
        Register the pair (False: scanner coordinates).
    forced_differences
        The identifiers that differ, for a comparison of different patients the user forced.
    """

    def __init__(
        self,
        viewer: Viewer,
        prior_index: int,
        register: bool = True,
        forced_differences: tuple[str, ...] = (),
    ) -> None:
        from ownscan.core.viewer._three_d import ThreeDView

        self.v = viewer
        self.prior_index = prior_index
        self.prior_entry = viewer.entries[prior_index]
        self.current_index = viewer.current
        self.forced = forced_differences
        self.register = register
        self.state: CompareState | None = None
        self.registration: Registration | None = None
        self.reused = False
        # the panel's controls' places (framebuffer pixels), for scripts and tests
        self.places: dict[str, tuple[float, float, float, float]] = {}
        self.wrapped_rows = 0  # rows the panel's controls wrapped onto (last frame)
        self.match_note = ""
        self.error: str | None = None
        self._threed = ThreeDView(viewer.ctx)  # the prior's own renderer (and its upload)
        self._gpu: Any = None
        self._fused_tex: Any = None
        self._fused_key: object = None
        self._saved_gradient = False
        self._mode, self._plane, self._linked = "side-by-side", "axial", True
        self.job = self._start_job()

    # -- the job -------------------------------------------------------------------------------
    def _library_pair(self) -> tuple[Any, str, str] | None:
        lib = self.v.options.library
        if lib is None:
            return None
        return lib, self.prior_entry.key, self.v.entry.key

    def _start_job(self) -> CompareJob:
        from ownscan.core.compare import load_registration

        stored = None
        pair = self._library_pair()
        if self.register and pair is not None:
            try:
                stored = load_registration(*pair, RIGID_METHOD)
            except (OwnscanError, LookupError) as exc:  # not library series: register
                log.debug("no kept registration: %s", exc)
        self.reused = stored is not None
        renderer = self._threed.renderer
        loader = SeriesLoader(
            self.prior_index,
            self.prior_entry,
            renderer.max_texture,
            renderer.memory_budget,
            gradient=True,
        )
        return CompareJob(loader, self.v.view.volume, self.register, stored)

    def set_register(self, on: bool) -> None:
        """Registration on, or scanner coordinates (registering again only when needed)."""
        if on == self.register:
            return
        self.register = on
        if self.state is not None:
            self._mode, self._plane, self._linked = (
                self.state.mode,
                self.state.plane,
                self.state.linked,
            )
        self.state = None
        self.registration = None
        self.job = self._start_job()

    def poll(self) -> None:
        """Take what the job made ready (uploads are GL work: this thread's)."""
        job = self.job
        loader = job.loader
        if self._gpu is None and loader.ready and loader.volume is not None:
            self._gpu = self._threed.renderer.upload(loader.volume)
        if self._gpu is not None and not self._saved_gradient:
            done = loader.done  # before taking the slabs: then every slab is taken
            # the gradient slabs as the loader computes them (over the budget: none, and the
            # shader computes the gradient)
            for z0, texels in loader.take_gradient():
                self._gpu.write_gradient_slab(z0, texels)
            self._saved_gradient = done
        if self.state is None and job.prior_view is not None:
            # until registered: scanner coordinates, and the panes say so
            self.state = CompareState(self.v.view, job.prior_view, np.eye(4))
            self._restore_choices()
        if not job.done or self.registration is not None or self.error is not None:
            return
        if job.error is not None:
            self.error = str(job.error)
            log.error("cannot compare with %s: %s", self.prior_entry.key, job.error)
            if not isinstance(job.error, (OwnscanError, ValueError, OSError, RuntimeError)):
                raise job.error  # a bug: not a message for the user
            return
        reg = job.registration
        assert reg is not None and self.state is not None
        self.registration = reg
        self.state.matrix = np.asarray(reg.matrix, dtype=np.float64)
        self.state.scale, self.state.offset, self.match_note = job.match
        pair = self._library_pair()
        if pair is not None and reg.method == RIGID_METHOD and not self.reused:
            from ownscan.core.compare import save_registration

            try:
                save_registration(*pair, reg)
            except (OwnscanError, LookupError) as exc:  # not both in the library
                log.debug("registration not kept: %s", exc)

    def _restore_choices(self) -> None:
        assert self.state is not None
        self.state.mode = self._mode
        if self._plane in self.v.view.views or self._plane in self.v.view.view_names:
            self.state.plane = self._plane
        self.state.set_linked(self._linked)

    def busy(self) -> bool:
        """The job is still working (the window should wake up to show its progress)."""
        return not self.job.done or (self.registration is None and self.error is None)

    def animating(self) -> bool:
        """Frames must keep coming: the job runs or the flicker pane alternates."""
        return self.busy() or (self.state is not None and self.state.mode == "flicker")

    def wait(self, timeout: float | None = None) -> None:
        """Draw frames until the prior is shown and registered (tests, scripts)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.busy():
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"still comparing after {timeout} s")
            self.job.wait(0.05)
            self.v.frame()

    def release(self) -> None:
        if self._fused_tex is not None:
            self._fused_tex.release()
            self._fused_tex = None
        self._gpu = None
        self._threed.release()

    # -- layout and targets --------------------------------------------------------------------
    def layout(self, base: Layout) -> Layout:
        """The image area of ``base`` as columns of panes, the compare panel below them."""
        rects = list(base.views.values())
        x0 = min(r.x for r in rects)
        y0 = min(r.y for r in rects)
        x1 = max(r.x + r.w for r in rects)
        y1 = max(r.y + r.h for r in rects)
        line = self.v.win.text_size("Ag", 15.0 * self.v.font_scale)[1]
        # taller by the rows its controls wrapped onto last frame (draw_panel)
        panel_h = round((_PANEL_LINES + self.wrapped_rows) * (line + 6) + 16)
        names = self.pane_names()
        gap = 2
        h = max(1, y1 - y0 - panel_h - gap)
        w = max(1, (x1 - x0 - gap * (len(names) - 1)) // len(names))
        # panes of one size: the same scale, and one pixel is one point in each
        views = {n: Rect(x0 + i * (w + gap), y0, w, h) for i, n in enumerate(names)}
        self.panel_rect = Rect(x0, y0 + h + gap, x1 - x0, y1 - y0 - h - gap)
        return Layout(views, base.toolbar, base.browser, base.report)

    def pane_names(self) -> tuple[str, ...]:
        if self.state is None:
            return ("prior:loading", self.v.view.view_names[0])
        return self.state.pane_names()

    def draws(self, name: str) -> bool:
        """True for the panes this draws (the current's pane is the viewer's own view)."""
        return ":" in name

    def target(self, name: str) -> tuple[SeriesView, str]:
        if self.state is None:
            return self.v.view, CompareState.split(name)[1]
        return self.state.target(name)

    # -- drawing -------------------------------------------------------------------------------
    def draw(self, name: str, rect: Rect, fb_height: int) -> None:
        """Draw a prior or fused pane's image (its text comes with :meth:`draw_overlay`)."""
        st = self.state
        if st is None or self._gpu is None:
            return
        kind, base = st.split(name)
        if kind == "fused":
            if st.mode == "flicker":
                if st.flicker_shows_prior(time.monotonic()):
                    self._draw_prior(base, rect, fb_height)
                else:
                    self._draw_slice(self.v._gpu_volume, st.current, base, rect, fb_height)
            return  # difference / overlay: an image in draw_overlay
        self._draw_prior(base, rect, fb_height)

    def _draw_slice(
        self,
        gv: Any,
        view: SeriesView,
        base: str,
        rect: Rect,
        fb_height: int,
        window: tuple[float, float] | None = None,
        lps_map: npt.NDArray[np.float64] | None = None,
    ) -> None:
        self.v._slices.draw(
            gv,
            rect,
            fb_height,
            view.views[base].plane,
            view.view_centre(base),
            view.mm_per_px(base, rect.size),
            window or view.window,
            lps_map=lps_map,
        )

    def _draw_prior(self, base: str, rect: Rect, fb_height: int) -> None:
        st = self.state
        assert st is not None
        if base == "3d":
            self._draw_prior_3d(rect, fb_height)
        elif st.linked:  # the current's plane, the prior sampled through the registration
            self._draw_slice(
                self._gpu, st.current, base, rect, fb_height, st.prior_window(), st.matrix
            )
        else:
            self._draw_slice(self._gpu, st.prior, base, rect, fb_height)

    def _draw_prior_3d(self, rect: Rect, fb_height: int) -> None:
        from ownscan.core.render import Camera

        st = self.state
        assert st is not None
        if not self._saved_gradient:
            return  # its shading is still being prepared
        size = (max(8, rect.w), max(8, rect.h))
        if st.linked:
            cam = linked_camera(st.current, st.prior, st.matrix, size)
        else:
            c = st.prior.camera
            cam = Camera(azimuth=c.azimuth, elevation=c.elevation, zoom=c.zoom, pan_mm=c.pan_mm)
        moving = time.monotonic() - self.v._last_motion < self.v.options.still_after_s
        tf = self.v.tf_presets[self.v.tf_index]
        window, _ = prior_window_3d(st, self.v._mode_objects[self.v.mode])
        key = (size, moving, self.v.mode, tf.name, window, cam, id(self._gpu))
        if key != self._threed.key:
            self._threed.render(
                st.prior.volume,
                size,
                cam,
                self.v._mode_objects[self.v.mode],
                window,
                tf,
                moving,
            )
            self._threed.key = key
        self.v.ctx.screen.use()
        self._threed.draw(rect, fb_height)

    def fused_image(self, base: str, size: tuple[int, int]) -> npt.NDArray[np.uint8]:
        """The difference or overlay pane of the 2D view ``base`` at ``size``, RGB, sampled
        on the CPU at most _FUSED_MAX_SIDE pixels on the long side (``(h, w, 3)``)."""
        st = self.state
        assert st is not None
        prior_volume = st.prior.volume
        cur = st.current
        w, h = size
        step = max(1, int(np.ceil(max(w, h) / _FUSED_MAX_SIDE)))
        cols = (np.arange(0, w, step) + step / 2.0)[None, :, None]
        rows = (np.arange(0, h, step) + step / 2.0)[:, None, None]
        pv = cur.views[base]
        mm = cur.mm_per_px(base, size)
        centre = cur.view_centre(base)
        pts = (
            centre
            + (cols - w / 2.0) * mm * pv.plane.right()
            + (rows - h / 2.0) * mm * pv.plane.down()
        )
        current = sample(cur.volume, pts)
        prior = sample(prior_volume, st.to_prior(pts)) * st.scale + st.offset
        width, level = cur.window
        if st.mode == "overlay":
            rgb = overlay_rgb(current, prior, width, level)
            rgb[~np.isfinite(current) & ~np.isfinite(prior)] = (10, 20, 60)
            return rgb
        full, _units = difference_scale(prior_volume, cur.volume, width)
        return difference_rgb(current - prior, full)

    def _fused_texture(self, base: str, rect: Rect) -> Any:
        st = self.state
        assert st is not None
        cur = st.current
        key = (
            base,
            rect.size,
            st.mode,
            tuple(cur.view_centre(base)),
            cur.views[base].zoom,
            cur.window,
            st.matrix.tobytes(),
            st.scale,
            st.offset,
        )
        if key != self._fused_key:
            rgb = np.ascontiguousarray(self.fused_image(base, rect.size))
            if self._fused_tex is not None:
                self._fused_tex.release()
            self._fused_tex = self.v.ctx.texture((rgb.shape[1], rgb.shape[0]), 3, rgb.tobytes())
            self._fused_key = key
        return self._fused_tex

    # -- text over the panes -------------------------------------------------------------------
    def notes(self) -> list[tuple[str, tuple[float, float, float]]]:
        """The banners every pane carries: (text, colour)."""
        out: list[tuple[str, tuple[float, float, float]]] = []
        if self.forced:
            out.append(("DIFFERENT PATIENTS (forced): " + "; ".join(self.forced), _RED))
        if self.error is not None:
            out.append((f"cannot compare: {self.error}", _RED))
            return out
        reg = self.registration
        if reg is None:
            what = self.job.stage
            out.append(
                (f"{what} ... {self.job.elapsed:.0f} s: scanner coordinates until done", _AMBER)
            )
            return out
        if reg.poor:
            q = f"quality {reg.quality:.2f}" if reg.quality is not None else "quality ?"
            o = f", overlap {reg.overlap:.0%}" if reg.overlap is not None else ""
            out.append(
                (f"POOR REGISTRATION ({q}{o}): the panes may not show the same anatomy", _RED)
            )
        out += [(n, _AMBER) for n in reg.notes if "poor" not in n]
        return out

    def draw_overlay(self, dl: Any, name: str, rect: Rect, overlays: bool) -> None:
        """The pane's title, labels, crosshair (prior and fused panes) and banners (all)."""
        win = self.v.win
        st = self.state
        kind, base = CompareState.split(name)
        fs = 15.0 * win.font_scale
        pad = 6 * win.ui_scale
        line_h = win.text_size("Ag", fs)[1] + 1
        if kind == "fused" and st is not None and st.mode in ("difference", "overlay"):
            tex = self._fused_texture(base, rect)
            dl.add_image(
                self.v.imgui.ImTextureRef(tex.glo),
                win.ui(rect.x, rect.y),
                win.ui(rect.x + rect.w, rect.y + rect.h),
            )
        white, yellow = win.col(0.95, 0.95, 0.95), win.col(1.0, 0.85, 0.2)
        if kind != "current":
            dl.add_rect(
                win.ui(rect.x, rect.y),
                win.ui(rect.x + rect.w, rect.y + rect.h),
                win.col(0.25, 0.25, 0.28),
            )
        # which series: top right, in every pane
        tag = self._tag(kind, st)
        tag = win.fit_text(tag, rect.w / 2 if kind == "current" else rect.w - 2 * pad, fs)
        tw, _ = win.text_size(tag, fs)
        y = rect.y + pad
        if kind == "current":
            win.text(dl, rect.x + rect.w - pad - tw, y, tag, yellow, fs)
        else:
            win.text(dl, rect.x + pad, y, tag, yellow, fs)
        y += line_h
        if kind != "current" and overlays and st is not None:
            for text in self._pane_lines(kind, base, rect, st):
                win.text(dl, rect.x + pad, y, win.fit_text(text, rect.w - 2 * pad, fs), white, fs)
                y += line_h
            self._labels_and_crosshair(dl, kind, base, rect, st)
        if kind == "current":
            y = rect.y + pad + 2 * line_h + 4  # below the view's own two lines
        for text, colour in self.notes():
            text = win.fit_text(text, rect.w - 2 * pad, fs)
            tw, th = win.text_size(text, fs)
            dl.add_rect_filled(
                win.ui(rect.x + 1, y - 1), win.ui(rect.x + rect.w - 1, y + th + 1), win.col(*colour)
            )
            win.text(dl, rect.x + pad, y, text, white, fs)
            y += line_h + 2

    def _tag(self, kind: str, st: CompareState | None) -> str:
        if kind == "current":
            i = self.v.entry.info
            return f"CURRENT  {_date(i.study_date)}  {i.series_description or ''}".rstrip()
        p = self.prior_entry.info
        prior = f"PRIOR  {_date(p.study_date)}  {p.series_description or ''}".rstrip()
        if kind == "prior":
            return prior
        if st is not None and st.mode == "flicker":
            return prior if st.flicker_shows_prior(time.monotonic()) else self._tag("current", st)
        if st is not None and st.mode == "overlay":
            return "OVERLAY  current magenta, prior green"
        if st is not None:
            full, units = difference_scale(st.prior.volume, st.current.volume, st.current.window[0])
            return f"CURRENT - PRIOR  red +, blue -, full at {full:g} {units}"
        return ""

    def _pane_lines(self, kind: str, base: str, rect: Rect, st: CompareState) -> list[str]:
        view, _ = st.target(f"{kind}:{base}")
        if base == "3d":
            _, auto = prior_window_3d(st, self.v._mode_objects[self.v.mode])
            head = "3D  linked camera" if st.linked else "3D  own camera"
            return [head] + ([f"window: {auto}"] if auto else [])
        pos = view.slice_position(base)
        axis = orientation_label(view.views[base].plane.normal() * (1.0 if pos >= 0 else -1.0))
        where = "current's" if view is st.current else "prior's"
        width, level = st.prior_window() if kind == "prior" else view.window
        units = (st.prior if kind == "prior" else view).volume.units
        return [
            f"{base.capitalize()}  {axis} {abs(pos):.1f} mm ({where} coordinates)",
            _words.window_text(width, level, units) + ("" if st.linked else "  (unlinked)"),
        ]

    def _labels_and_crosshair(
        self, dl: Any, kind: str, base: str, rect: Rect, st: CompareState
    ) -> None:
        win = self.v.win
        view, _ = st.target(f"{kind}:{base}")
        if base == "3d":
            return
        pv = view.views[base]
        fs = 15.0 * win.font_scale * 1.25
        pad = 6 * win.ui_scale
        yellow = win.col(1.0, 0.85, 0.2)
        left, right = orientation_label(-pv.plane.right()), orientation_label(pv.plane.right())
        top, bottom = orientation_label(-pv.plane.down()), orientation_label(pv.plane.down())
        _, lh = win.text_size(left, fs)
        win.text(dl, rect.x + pad, rect.y + rect.h / 2 - lh / 2, left, yellow, fs)
        rw, _ = win.text_size(right, fs)
        win.text(dl, rect.x + rect.w - pad - rw, rect.y + rect.h / 2 - lh / 2, right, yellow, fs)
        tw, _ = win.text_size(top, fs)
        line_h = win.text_size("Ag", 15.0 * win.font_scale)[1] + 1
        win.text(dl, rect.x + rect.w / 2 - tw / 2, rect.y + pad + 3 * line_h, top, yellow, fs)
        bw, _ = win.text_size(bottom, fs)
        bottom_y = rect.y + rect.h - pad - lh
        win.text(dl, rect.x + rect.w / 2 - bw / 2, bottom_y, bottom, yellow, fs)
        px, py = view.lps_to_pixel(base, rect.size, view.cursor_lps)
        cx, cy = rect.x + px, rect.y + py
        col = win.col(0.2, 0.9, 0.4, 0.8)
        gap = 10 * win.ui_scale
        if rect.y <= cy <= rect.y + rect.h:
            dl.add_line(win.ui(rect.x, cy), win.ui(max(rect.x, cx - gap), cy), col, 1.0)
            dl.add_line(win.ui(cx + gap, cy), win.ui(rect.x + rect.w, cy), col, 1.0)
        if rect.x <= cx <= rect.x + rect.w:
            dl.add_line(win.ui(cx, rect.y), win.ui(cx, max(rect.y, cy - gap)), col, 1.0)
            dl.add_line(win.ui(cx, cy + gap), win.ui(cx, rect.y + rect.h), col, 1.0)

    # -- the panel under the panes -------------------------------------------------------------
    def draw_panel(self) -> None:
        """Dates, descriptions, the transform and its quality; plane, mode, link, registration
        and close."""
        imgui = self.v.imgui
        rect = getattr(self, "panel_rect", None)
        if rect is None or rect.h <= 0:
            return
        if self.v.panels._panel("##compare", rect, imgui.WindowFlags_.no_title_bar):
            st = self.state
            p, c = self.prior_entry.info, self.v.entry.info
            imgui.text(
                f"Prior {_date(p.study_date)} {p.series_description or '(no description)'}"
                f"   ->   current {_date(c.study_date)} {c.series_description or ''}"
            )
            reg = self.registration
            if reg is not None:
                text = (
                    f"{reg.method}: rotation {reg.rotation_degrees:.2f} deg, translation "
                    f"{reg.translation_mm:.1f} mm"
                    + (f", quality {reg.quality:.2f}" if reg.quality is not None else "")
                    + (f", overlap {reg.overlap:.0%}" if reg.overlap is not None else "")
                    + ("  (kept in the library)" if self.reused else "")
                )
                if reg.poor:
                    imgui.text_colored(imgui.ImVec4(1.0, 0.3, 0.3, 1.0), "POOR: " + text)
                else:
                    imgui.text(text)
                imgui.text_disabled(
                    "M (current -> prior, mm): "
                    + "  ".join(
                        "[" + " ".join(f"{v:.3f}" for v in row) + "]" for row in reg.matrix[:3]
                    )
                    + (f"; {self.match_note}" if self.match_note else "")
                )
            else:
                imgui.text(f"{self.job.stage} ... {self.job.elapsed:.0f} s")
                imgui.text("")
            style = imgui.get_style()
            wrapped = 0

            def flow(label: str) -> None:
                """Before a radio button or checkbox: on this row where it fits, else on the
                next (at 1024 px with the browser and the report "flicker" and "overlay" were
                past the panel's edge, out of reach; the panel scrolls when rows are added)."""
                nonlocal wrapped
                imgui.same_line()
                w = imgui.get_frame_height() + style.item_inner_spacing.x
                if imgui.get_content_region_avail().x < w + imgui.calc_text_size(label).x:
                    imgui.new_line()
                    wrapped += 1

            if st is not None:
                for n, plane in enumerate(COMPARE_PLANES):
                    if plane == "3d" and "3d" not in st.current.view_names:
                        continue
                    label = "3D" if plane == "3d" else plane.capitalize()
                    if n:
                        flow(label)
                    if imgui.radio_button(f"{label}##cmp-plane", st.plane == plane):
                        st.set_plane(plane)
                imgui.same_line()
                imgui.text("  |")
                for mode in COMPARE_MODES:
                    flow(mode)
                    if imgui.radio_button(f"{mode}##cmp-mode", st.mode == mode):
                        st.set_mode(mode)
                    self.places[f"mode:{mode}"] = self.v.win.item_rect()
                changed, linked = imgui.checkbox("linked##cmp", st.linked)
                if changed:
                    st.set_linked(linked)
                flow("registration (off: scanner coordinates)")
            changed, on = imgui.checkbox("registration (off: scanner coordinates)", self.register)
            if changed:
                self.set_register(on)
            imgui.same_line()
            w = imgui.calc_text_size("Close compare").x + 2 * style.frame_padding.x
            if imgui.get_content_region_avail().x < w:
                imgui.new_line()
                wrapped += 1
            self.wrapped_rows = wrapped
            if imgui.button("Close compare"):
                self.v.end_compare()
            self.places["close"] = self.v.win.item_rect()
        imgui.end()


class CompareMenu:
    """The "Compare with..." window: proposed priors first, then every other series; a
    different patient needs a second, explicit click."""

    def __init__(self, viewer: Viewer) -> None:
        self.v = viewer
        self.open = False
        self.choices: list[PriorChoice] = []
        self.refused: PriorChoice | None = None

    def toggle(self) -> None:
        self.open = not self.open
        self.refused = None
        if self.open:
            self.choices = prior_choices(self.v.entries, self.v.current, self.v.options.library)

    def pick(self, choice: PriorChoice, force: bool = False) -> None:
        """Compare with ``choice``; a different patient only when ``force``."""
        if not choice.same_patient and not force:
            self.refused = choice
            return
        self.open = False
        self.refused = None
        self.v.compare_with(choice.index, force=force)

    def draw(self) -> None:
        if not self.open:
            return
        imgui = self.v.imgui
        fw, fh = self.v.fb_size
        imgui.set_next_window_pos(self.v.win.ui(fw / 2, fh / 2), 0, imgui.ImVec2(0.5, 0.5))
        imgui.set_next_window_size_constraints(
            imgui.ImVec2(0, 0), self.v.win.ui(fw * 0.9, fh * 0.8)
        )
        wf = imgui.WindowFlags_
        opened, still_open = imgui.begin(
            "Compare with...", True, wf.always_auto_resize | wf.no_collapse
        )
        if opened:
            if not self.choices:
                imgui.text("no other series to compare with")
            if any(c.proposed for c in self.choices):
                imgui.text_disabled("proposed priors (same patient, modality, earlier), best first")
            for n, c in enumerate(self.choices):
                if n and c.proposed != self.choices[n - 1].proposed:
                    imgui.separator()
                    imgui.text_disabled("other series")
                mark = "" if c.same_patient else "  [different patient]"
                if imgui.selectable(f"{c.label}{mark}##cmp-{c.index}", False)[0]:
                    self.pick(c)
                if c.reasons and imgui.is_item_hovered():
                    imgui.set_tooltip(f"score {c.score:g}: " + "; ".join(c.reasons))
            if self.refused is not None:
                imgui.separator()
                imgui.text_colored(
                    imgui.ImVec4(1.0, 0.35, 0.3, 1.0),
                    "Refused: not the same patient. " + "; ".join(self.refused.differences),
                )
                if imgui.button("Compare anyway (different patients)"):
                    self.pick(self.refused, force=True)
        imgui.end()
        if still_open is False:
            self.open = False


def refusal(viewer: Viewer, prior_index: int) -> tuple[bool, tuple[str, ...]]:
    """Whether the prior is the same patient as the open series, and what differs."""
    same, diff = patient_check(viewer.entries[prior_index].info, viewer.entry.info)
    return same, tuple(diff)
