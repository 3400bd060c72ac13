"""The viewer: a window showing series in 2D and 3D views, driven by mouse, keys or a script.

:class:`Viewer` ties the parts together; each part has its own module:

- ``_window.py``: the glfw window, its OpenGL context (moderngl) and imgui (fonts, HiDPI).
- ``_input.py``: glfw's callbacks, mouse and keys (:data:`SHORTCUTS`).
- ``_panels.py``: text over the images, toolbar, series browser, report, help, loading box.
- ``_slices.py`` and ``_three_d.py``: the 2D views and the 3D view, both sampling one
  :class:`~ownscan.core.render.GpuVolume` (uploaded once, by the ray-caster).
- ``_loader.py``: decoding a series on a thread while the window keeps drawing.
- ``_state.py`` / ``_geometry.py`` / ``_layout.py``: the viewing state, the patient geometry and
  the placement of views, in plain numpy (tested without a display).
- here: the series shown and loading, the frame, running, screenshots and scripting
  (:meth:`Viewer.frame`, :meth:`Viewer.screenshot`, :meth:`Viewer.wait_until_loaded`).

Frame anatomy
-------------
Each frame polls the window's events and the loader, clears the window, draws the 2D views
(one resliced plane each, cheap), draws the 3D view from the ray-caster's texture (re-rendered
only when what it shows changed, at half resolution and double step while the user is moving
it, at full quality once still), then the UI with imgui (``_panels.py``). A screenshot reads the
back buffer after all of that and before the swap: exactly what the window shows.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ownscan.core.errors import OwnscanError, UsageError
from ownscan.core.viewer._cine import Cine
from ownscan.core.viewer._gradient_queue import QUEUE_BYTES
from ownscan.core.viewer._input import SHORTCUTS, InputHandler
from ownscan.core.viewer._layout import Layout, Rect, compute_layout
from ownscan.core.viewer._loader import SeriesLoader
from ownscan.core.viewer._panels import TOOLBAR_ONE_ROW, Panels
from ownscan.core.viewer._persons import PeoplePanel
from ownscan.core.viewer._projection_window import window_3d
from ownscan.core.viewer._radiologist import RadiologistView
from ownscan.core.viewer._save import SaveDialog
from ownscan.core.viewer._sources import SeriesEntry, entries_from_volumes
from ownscan.core.viewer._state import SeriesView
from ownscan.core.viewer._window import ViewerError, ViewerWindow
from ownscan.core.volume import Volume, WindowPreset

__all__ = ["SHORTCUTS", "Viewer", "ViewerError", "ViewerOptions"]

log = logging.getLogger(__name__)

# The 3D modes in the order the number keys select them; modes from third-party plugins follow.
MODE_ORDER: tuple[str, ...] = ("dvr", "mip", "iso", "minip", "xray", "mpr")


@dataclass
class ViewerOptions:
    """How the window opens.

    Parameters
    ----------
    size
        Window size in screen coordinates (glfw scales it on HiDPI monitors).
    title
        Window title.
    screenshot_dir
        Where the screenshot key writes its PNGs.
    show_browser
        Show the series browser; None: when there is more than one series.
    still_after_s
        Seconds without input after which the 3D view is drawn at full quality again.
    library
        The library the series come from (an open ``Library``), or None: the browser then
        lists its people too (one person, many hospitals; merges proposed and confirmed), and
        "compare with..." proposes its priors and keeps registrations in it.
    """

    size: tuple[int, int] = (1280, 800)
    title: str = "ownscan"
    screenshot_dir: Path = field(default_factory=Path.cwd)
    show_browser: bool | None = None
    still_after_s: float = 0.25
    library: Any = None


def _is_hu(volume: Volume) -> bool:
    return volume.modality == "CT" or volume.units == "HU"


class Viewer:
    """The standalone viewer window (several may be open; glfw ends with the last).

    Parameters
    ----------
    series
        What to show: Volumes or :class:`SeriesEntry` s (the first is shown first).
    options
        Window size, title, screenshot folder.

    Examples
    --------
    >>> with Viewer([volume]) as v:   # doctest: +SKIP
    ...     v.run()
    """

    def __init__(
        self,
        series: Sequence[Volume] | Sequence[SeriesEntry],
        options: ViewerOptions | None = None,
    ) -> None:
        if not series:
            raise UsageError("nothing to show: give at least one series")
        self.options = options or ViewerOptions()
        self.entries: list[SeriesEntry] = (
            entries_from_volumes(series)  # type: ignore[arg-type]
            if isinstance(series[0], Volume)
            else list(series)  # type: ignore[arg-type]
        )
        from ownscan.core.plugin_host import get_host
        from ownscan.core.viewer._slices import SliceDrawer
        from ownscan.core.viewer._three_d import ThreeDView

        self.win = ViewerWindow(self.options.size, self.options.title)
        host = get_host()
        found = {m.name: m for m in host.modes()}
        order = [n for n in MODE_ORDER if n in found] + sorted(set(found) - set(MODE_ORDER))
        self._mode_objects = found
        self.modes: tuple[str, ...] = tuple(order)
        self.tf_presets: list[Any] = list(host.transfer_functions())
        self._window_presets: list[WindowPreset] = list(host.window_presets())
        if not self.modes or not self.tf_presets:
            self.win.release()
            raise ViewerError("no visualisation modes or transfer functions: see ownscan plugins")
        self.input = InputHandler(self)
        self.radiologist = RadiologistView(self)  # the report's marks on the views
        self.save = SaveDialog(self)  # "Save": the exporters that fit (_save.py)
        lib = self.options.library
        self.people = PeoplePanel(self, lib) if lib is not None else None  # _persons.py
        self.panels = Panels(self)
        self.cine = Cine(self)  # frames, images or volumes of the series shown, and the film
        from ownscan.core.viewer._compare import CompareMenu, CompareView

        self.compare: CompareView | None = None  # a comparison with a prior (_compare.py)
        self.compare_menu = CompareMenu(self)
        self._slices = SliceDrawer(self.ctx)
        self._raycast = ThreeDView(self.ctx)
        self._gpu_volume: Any = None

        # UI state
        self.mode = "dvr"
        self.tf_index = 0
        self.maximised: str | None = None
        self.show_help = False
        self.show_fps = False
        self.show_overlays = True
        self.measure_tool = False
        self.show_browser = (
            self.options.show_browser
            if self.options.show_browser is not None
            else len(self.entries) > 1 or self.options.library is not None
        )
        self.status = ""
        self._status_until = 0.0
        self._last_motion = -1e9  # when the user last moved something (draft 3D until still)
        self._frame_times: list[float] = []
        self._last_3d_ms = 0.0
        self.draft_3d = False  # the 3D view on screen is a reduced-quality image
        # a series just shown: its first 3D picture is the quick pass, refined at once
        self._first_3d = False
        self._refine_at_once = False  # the draft on screen is such a first picture
        self._closing = False
        self._layout: Layout | None = None

        self.current = 0
        self.view: SeriesView
        self._loader: SeriesLoader | None = None  # a series being decoded on a thread
        self._next: int | None = None  # the series asked for while another was loading
        try:
            self._open_first()
        except BaseException:
            self.close()  # the window, GL objects and imgui context must not outlive this
            raise
        self.input.install_callbacks()

    def _open_first(self) -> None:
        """Show the first series; one not in memory yet loads on a thread while the window
        draws its progress. Loading errors propagate (there is nothing else to show)."""
        if self.entries[0].loaded:
            self._select(0)
            return
        job = self._start_loading(0)
        while not job.ready and not self.close_requested:
            self.panels.loading_frame(job)
            self.win.glfw.wait_events_timeout(0.05)
        if not job.ready:  # closed while loading: run() returns at once
            return
        if job.error is not None and job.volume is None:
            self._loader = None
            raise job.error
        self._show_ready(job)

    # -- the window ----------------------------------------------------------------------------
    @property
    def window(self) -> Any:
        """The glfw window handle."""
        return self.win.handle

    @property
    def ctx(self) -> Any:
        """The window's moderngl context."""
        return self.win.ctx

    @property
    def imgui(self) -> Any:
        """imgui-bundle's ``imgui`` module, this window's context current while it draws."""
        return self.win.imgui

    @property
    def fb_size(self) -> tuple[int, int]:
        """Framebuffer size in pixels (what GL draws and screenshots hold)."""
        return self.win.fb_size

    @property
    def window_size(self) -> tuple[int, int]:
        """Window size in screen coordinates (what cursor positions are in)."""
        return self.win.window_size

    @property
    def ui_scale(self) -> float:
        """The monitor's content scale (panels and text are this much larger)."""
        return float(self.win.ui_scale)

    @property
    def font_scale(self) -> float:
        """Text size factor in imgui coordinates."""
        return float(self.win.font_scale)

    @property
    def close_requested(self) -> bool:
        return self.win.close_requested

    @close_requested.setter
    def close_requested(self, value: bool) -> None:
        self.win.close_requested = value

    @property
    def entry(self) -> SeriesEntry:
        return self.entries[self.current]

    def layout(self) -> Layout:
        """This frame's layout (framebuffer pixels)."""
        one = compute_layout(
            self.fb_size,
            self.view.view_names,
            maximised=self.maximised,
            show_browser=self.show_browser,
            show_report=bool(self.entry.report or self.entry.documents),
            ui_scale=self.ui_scale,
            cine_bar=self.cine.active,
        )
        wide = self.win.ui(one.toolbar.w, 0).x >= TOOLBAR_ONE_ROW * self.font_scale
        # rows: 2 in a narrow window, more where the controls wrapped last frame (_panels.py)
        rows = max(1 if wide else 2, self.panels.toolbar_rows)
        if rows == 1:
            return self.compare.layout(one) if self.compare is not None else one
        two = compute_layout(
            self.fb_size,
            self.view.view_names,
            maximised=self.maximised,
            show_browser=self.show_browser,
            show_report=bool(self.entry.report or self.entry.documents),
            ui_scale=self.ui_scale,
            toolbar_rows=rows,
            cine_bar=self.cine.active,
        )
        return self.compare.layout(two) if self.compare is not None else two

    # -- series --------------------------------------------------------------------------------
    def _select(self, index: int) -> None:
        entry = self.entries[index]
        volume = entry.volume()
        self.end_compare()  # a comparison is of the series it was started on
        # one upload for both the 2D views and the ray-caster (which owns and releases it)
        self._gpu_volume = self._raycast.renderer.upload(volume)
        if self._gpu_volume.prepared is not None:  # the views sample the GPU's copy now
            self._gpu_volume.prepared.release_data()
        self.current = index
        self.view = SeriesView(volume)
        self.maximised = None
        caption = " ".join(x for x in entry.caption() if not x.startswith("("))
        self.win.set_title(f"{self.options.title}: {caption}")
        self._raycast.key = None
        self._first_3d = True
        self.tf_index = self._default_tf(volume)
        self.cine.attach()
        for w in volume.warnings:
            log.warning("%s: %s", entry.info.series_description or entry.key, w)

    def _default_tf(self, volume: Volume) -> int:
        """ct-bone for CT; for other data the first preset relative to the window."""
        names = [p.name for p in self.tf_presets]
        if _is_hu(volume) and "ct-bone" in names:
            return names.index("ct-bone")
        if not _is_hu(volume):
            for i, p in enumerate(self.tf_presets):
                if getattr(p, "relative", False):
                    return i
        return 0

    def select_series(self, index: int) -> None:
        """Show ``entries[index]`` now (loading it on this thread if need be)."""
        if not 0 <= index < len(self.entries):
            raise UsageError(f"series index {index} out of range 0..{len(self.entries) - 1}")
        job = self._loader
        if job is not None:  # what a running load brings is not shown: this series is
            self._loader = self._next = None
            if job.index == index:
                job.wait_ready()
                if job.error is not None and job.volume is None:
                    raise job.error
                if not job.shown or self.current != index:
                    self._select(index)
                while not job.done:  # its gradient slabs, as the loader makes them
                    job.wait_busy(0.05)
                    self._write_gradient(job)
                self._write_gradient(job)
                if job.error is not None:
                    raise job.error
                return
            job.cancel()
        if index != self.current:
            self._select(index)

    def request_series(self, index: int) -> None:
        """Show ``entries[index]`` from the UI without blocking it: a series not yet in memory
        is decoded on a thread while the window keeps drawing (and says so); its 2D views
        appear as soon as it is prepared, the 3D view when its shading is ready."""
        if not 0 <= index < len(self.entries):
            raise UsageError(f"series index {index} out of range 0..{len(self.entries) - 1}")
        if self._loader is not None:  # one load at a time: this one follows
            self._next = index
            return
        if index == self.current:
            return
        if self.entries[index].loaded:
            self.select_series(index)
        else:
            self._start_loading(index)

    def _start_loading(self, index: int) -> SeriesLoader:
        renderer = self._raycast.renderer
        self._loader = SeriesLoader(
            index,
            self.entries[index],
            renderer.max_texture,
            renderer.memory_budget,
            gradient=self._mode_objects[self.mode].uses_transfer_function,
            queue_bytes=QUEUE_BYTES,  # the window takes the slabs every frame
            wake=self.win.glfw.post_empty_event,  # and at once when the queue is full
        )
        self._next = None
        return self._loader

    def _poll_loader(self) -> None:
        """Show what the loader thread has made ready (the upload is GL work: this thread's)."""
        job = self._loader
        if job is None or not job.ready:
            return
        if not job.shown:
            if job.error is not None and job.volume is None:
                self._loader = None
                log.error("cannot show %s: %s", job.entry.key, job.error)
                if not isinstance(job.error, (OwnscanError, ValueError, OSError)):
                    raise job.error  # a bug: not a message for the user
                self._flash(f"cannot show that series: {job.error}", seconds=10.0)
                self._follow_next()
                return
            if self._next is not None and self._next != job.index:  # the user moved on
                self._loader = None
                job.cancel()
                self._follow_next()
                return
            self._show_ready(job)
        done = job.done  # before taking the slabs: then every slab is taken
        # the gradient of the volume loaded (not of another volume of its 4D series that the
        # user stepped to meanwhile: its slabs are dropped, and that volume's shader computes
        # its own gradient)
        if self._loader is job and job.shown and self.current == job.index:
            if self._gpu_volume is not None and self._gpu_volume.source is job.volume:
                self._write_gradient(job)
            else:
                job.take_gradient()
        if done and self._loader is job:
            self._loader = None
            if job.error is not None:
                raise job.error  # the volume was prepared: a failure now is a bug
            self._follow_next()

    def _write_gradient(self, job: SeriesLoader) -> None:
        """Write the gradient slabs the loader has computed into the current GpuVolume."""
        for z0, texels in job.take_gradient():
            self._gpu_volume.write_gradient_slab(z0, texels)

    def _show_ready(self, job: SeriesLoader) -> None:
        """Select a loaded series (its volume and the prepared copy are cached: an upload)."""
        job.shown = True
        self._next = None
        try:
            self._select(job.index)
        except (OwnscanError, ValueError, OSError) as exc:  # keep showing what we had
            log.error("cannot show %s: %s", job.entry.key, exc)
            self._flash(f"cannot show that series: {exc}", seconds=10.0)
            self._loader = None
            job.cancel()

    def _follow_next(self) -> None:
        nxt, self._next = self._next, None
        if nxt is not None:
            self.request_series(nxt)

    def loading(self) -> bool:
        """True while a series is being loaded (or its 3D view prepared) on a thread."""
        return self._loader is not None

    def wait_until_loaded(self, timeout: float | None = None) -> None:
        """Draw frames until no series is loading: the one asked for last is shown, its 3D
        view ready.

        Raises
        ------
        TimeoutError
            Still loading after ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._loader is not None:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"still loading {self._loader.entry.key} after {timeout} s")
            self._loader.wait_busy(0.05)  # done, or gradient slabs for the frame to write
            self.frame()

    def window_presets(self) -> list[WindowPreset]:
        """The window/level presets for the current series: its own, then modality presets."""
        v = self.view.volume
        out = list(v.windows)
        if _is_hu(v):  # the plugins' presets are in Hounsfield units
            names = {o.name for o in out}
            out += [p for p in self._window_presets if p.name not in names]
        if not out:
            out.append(self.view.auto_window)
        return out

    def next_window_preset(self) -> None:
        presets = self.window_presets()
        names = [p.name for p in presets]
        i = names.index(self.view.window_name) + 1 if self.view.window_name in names else 0
        p = presets[i % len(presets)]
        self.view.set_window(p.name, p.width, p.level)
        self._flash(f"window: {p.name} (W {p.width:g} L {p.level:g})")

    def set_mode(self, mode: str) -> None:
        """Choose the 3D view's mode by name (``dvr``, ``mip``, ``iso``, ``minip``, ``xray``,
        ``mpr`` or a plugin's)."""
        if mode not in self.modes:
            raise UsageError(f"unknown mode {mode!r}; valid: {', '.join(self.modes)}")
        self.mode = mode

    def toggle_maximise(self, view: str | None) -> None:
        """Maximise ``view`` (None: the first), or go back to the grid if one is maximised."""
        if self.maximised is not None:
            self.maximised = None
        elif len(self.view.view_names) > 1:
            self.maximised = view if view in self.view.view_names else self.view.view_names[0]

    def reset(self) -> None:
        """Reset zoom, pan, window, crosshair, camera and measurements of the current series."""
        self.view.reset()
        self.maximised = None

    # -- comparing with a prior (_compare.py) ---------------------------------------------------
    def compare_with(self, index: int, force: bool = False, register: bool = True) -> None:
        """Compare the open series with ``entries[index]`` (the prior) side by side, linked.

        The prior loads and registers on a thread; the panes show scanner coordinates (and say
        so) until it is done. A different patient is refused unless ``force``.

        Raises
        ------
        UsageError
            ``index`` is the open series or out of range, or a different patient, not forced.
        """
        from ownscan.core.viewer._compare import CompareView, refusal

        if not 0 <= index < len(self.entries) or index == self.current:
            raise UsageError(f"cannot compare series {self.current} with series {index}")
        if self.view.is_2d or self.view.volume.samples != 1:
            raise UsageError("comparing needs a grey 3D series (this one is an image or colour)")
        same, differences = refusal(self, index)
        if not same and not force:
            raise UsageError("not the same patient: " + "; ".join(differences))
        self.end_compare()
        self.maximised = None
        self.compare = CompareView(self, index, register, () if same else differences)

    def end_compare(self) -> None:
        """Back to the open series alone."""
        cmp, self.compare = getattr(self, "compare", None), None
        if cmp is not None:
            self.win.make_current()
            cmp.release()

    def target(self, name: str) -> tuple[SeriesView, str]:
        """The viewing state a view's mouse and keys act on, and the view's name in it (a
        comparison's prior pane acts on the prior's own state when unlinked)."""
        if self.compare is not None:
            return self.compare.target(name)
        return self.view, name

    def _flash(self, text: str, seconds: float = 4.0) -> None:
        self.status = text
        self._status_until = time.monotonic() + seconds

    # -- input (see _input.py) -----------------------------------------------------------------
    def on_cursor_pos(self, x: float, y: float) -> None:
        """Mouse moved to ``(x, y)`` in window coordinates."""
        self.input.on_cursor_pos(x, y)

    def on_cursor_enter(self, entered: bool) -> None:
        """The mouse entered or left the window."""
        self.input.on_cursor_enter(entered)

    def on_mouse_button(self, button: int, action: int, mods: int = 0) -> None:
        """A mouse button was pressed or released (glfw constants)."""
        self.input.on_mouse_button(button, action, mods)

    def on_scroll(self, dx: float, dy: float) -> None:
        """Mouse wheel: ``dy`` notches (positive: away from the user)."""
        self.input.on_scroll(dx, dy)

    def on_char(self, codepoint: int) -> None:
        """A character was typed (imgui text fields)."""
        self.input.on_char(codepoint)

    def on_key(self, key: int, action: int, mods: int = 0, scancode: int = 0) -> None:
        """A key was pressed, repeated or released (glfw constants)."""
        self.input.on_key(key, action, mods, scancode)

    # -- drawing -------------------------------------------------------------------------------
    _screenshot_requested = False  # the S key / button: saved at the end of the next frame

    def frame(self, capture: bool = False) -> npt.NDArray[np.uint8] | None:
        """Process pending window events and draw one frame.

        Returns what the window shows, ``(height, width, 3)`` uint8, when ``capture`` is True.
        """
        t0 = time.perf_counter()
        self.win.make_current()
        self.win.glfw.poll_events()
        self._poll_loader()
        self.cine.tick()
        if self.compare is not None:
            self.compare.poll()
        self._layout = lay = self.layout()
        fw, fh = self.fb_size
        ctx = self.ctx
        ctx.screen.use()
        ctx.viewport = (0, 0, fw, fh)
        ctx.scissor = None
        ctx.clear(0.08, 0.08, 0.09)
        gv = self._gpu_volume
        for name, rect in lay.views.items():
            if self.compare is not None and self.compare.draws(name):
                self.compare.draw(name, rect, fh)
            elif name == "3d":
                self._draw_3d(rect, fh)
            else:
                self._slices.draw(
                    gv,
                    rect,
                    fh,
                    self.view.views[name].plane,
                    self.view.view_centre(name),
                    self.view.mm_per_px(name, rect.size),
                    self.view.window,
                )
        ctx.scissor = None
        ctx.viewport = (0, 0, fw, fh)
        self.panels.draw(lay)
        image = None
        if capture or self._screenshot_requested:
            image = self.win.read_back()
            if self._screenshot_requested:
                self._screenshot_requested = False
                path = self.options.screenshot_dir / time.strftime("ownscan-%Y%m%d-%H%M%S.png")
                try:
                    self.win.save_png(image, path, self._recorded_warnings())
                    self._flash(f"saved {path}")
                except OSError as exc:
                    log.error("screenshot not saved: %s", exc)
                    self._flash(f"screenshot not saved: {exc}", seconds=10.0)
        self.win.swap()
        self._frame_times = [*self._frame_times[-59:], time.perf_counter() - t0]
        return image

    def _draw_3d(self, rect: Rect, fb_height: int) -> None:
        if self._preparing_3d():  # the 2D views first; the title says "preparing 3D"
            return
        v = self.view
        dragging = time.monotonic() - self._last_motion < self.options.still_after_s
        first, self._first_3d = self._first_3d, False
        moving = dragging or first  # a series' first picture: the quick pass (docs/BENCH.md)
        self._refine_at_once = first and not dragging
        size = (max(8, rect.w), max(8, rect.h))
        tf = self.tf_presets[self.tf_index]
        cam = v.camera
        window, _ = window_3d(v, self._mode_objects[self.mode])  # a projection's own
        key = (
            size,
            moving,
            self.mode,
            tf.name,
            window,
            (cam.azimuth, cam.elevation, cam.zoom, cam.pan_mm),
            id(self._gpu_volume),
        )
        if key != self._raycast.key:
            t = time.perf_counter()
            self._raycast.render(
                v.volume, size, cam, self._mode_objects[self.mode], window, tf, moving
            )
            self._last_3d_ms = (time.perf_counter() - t) * 1000.0
            self._raycast.key = key
            self.draft_3d = moving
        self.ctx.screen.use()
        self._raycast.draw(rect, fb_height)

    def needs_refinement(self) -> bool:
        """True while the 3D view shows a draft image that a still frame would refine, or a
        series is loading."""
        return self.draft_3d or self._loader is not None

    def _preparing_3d(self) -> bool:
        """The current series' 2D views are shown; its 3D view waits for the loader."""
        job = self._loader
        return job is not None and job.shown and job.index == self.current

    def screenshot(self, path: str | os.PathLike[str]) -> Path:
        """Draw a frame and save exactly what the window shows to ``path`` (PNG).

        A series still loading is waited for (the first full-quality frame), and one frame is
        drawn first so that imgui has sized its auto-sized windows (it hides them on the frame
        they appear), then the captured one.
        """
        if not hasattr(self, "view"):
            raise ViewerError("the window was closed before the first series was shown")
        self.wait_until_loaded()
        self.frame()
        image = self.frame(capture=True)
        assert image is not None
        p = Path(path)
        self.win.save_png(image, p, self._recorded_warnings())
        return p

    def _recorded_warnings(self) -> list[str]:
        """The shown series' warnings as a screenshot's PNG records them (the views draw the
        first; the file keeps them all)."""
        from ownscan.core.recorded import recorded_warnings

        return recorded_warnings(self.view.volume)

    # -- running -------------------------------------------------------------------------------
    def run(self) -> None:
        """Show the window until the user closes it."""
        glfw = self.win.glfw
        if self.close_requested:  # closed while the first series was loading
            return
        self.frame()
        while not self.close_requested:
            # sleep until something happens; wake up to refine a draft 3D image or to show
            # how a load is going
            busy = self._loader is not None or self._working()
            timeout = 0.05 if busy else 0.5
            if self.draft_3d:  # a first picture is refined at once, a drag's once still
                timeout = 0.0 if self._refine_at_once else self.options.still_after_s
            film = self.cine.time_to_next()  # a cine playing: wake for its next picture
            if film is not None:
                timeout = min(timeout, max(film, 0.001))
            if self.compare is not None and self.compare.animating():
                timeout = min(timeout, 0.1)  # registration progress, flicker
            glfw.wait_events_timeout(timeout)
            self.frame()

    def _working(self) -> bool:
        """Work on a thread whose progress or result the window shows: an export, the
        marks or PDF pages being read."""
        job = self.save.job
        return (
            (job is not None and not job.finished)
            or self.radiologist.reading()
            or bool(self.panels.report.rendering())
        )

    def close(self) -> None:
        """Release GL objects and the UI renderer while the context is current, then the window."""
        if self._closing:
            return
        self._closing = True
        if self._loader is not None:  # before glfw ends: its wake must not come after
            self._loader.cancel()
        self.win.make_current()
        self.panels.release()
        self.end_compare()
        self._gpu_volume = None
        self._slices.release()
        self._raycast.release()
        self.win.release()

    def __enter__(self) -> Viewer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
