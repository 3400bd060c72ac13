"""The viewer window: glfw + moderngl for the images, imgui-bundle for text and controls.

Frame anatomy
-------------
Each frame clears the window, draws the 2D views (one resliced plane each, cheap), draws the
3D view from its cached offscreen image (re-rendered only when what it shows changed, at half
resolution and double step while the user is moving it, at full quality once still), then
draws the UI with imgui: per-view headers and orientation labels, crosshair and measurements
on imgui's background draw list (so imgui windows stay above them), then the toolbar, the
series browser, the report panel and the help / fps overlays. A screenshot reads the back
buffer after all of that and before the swap: exactly what the window shows.

Input: glfw callbacks call :meth:`Viewer.on_cursor_pos`, :meth:`Viewer.on_mouse_button`,
:meth:`Viewer.on_scroll`, :meth:`Viewer.on_key` and :meth:`Viewer.on_char`; each first feeds
imgui, and acts on the views unless imgui wants the mouse/keyboard (a click on a button is not a
click on the image). Tests drive the same handlers, or send X events with xdotool.
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
from ownscan.core.viewer._geometry import orientation_label
from ownscan.core.viewer._layout import Layout, Rect, compute_layout, window_to_fb
from ownscan.core.viewer._sources import (
    SeriesEntry,
    decode_thumbnail,
    entries_from_volumes,
    thumbnail,
)
from ownscan.core.viewer._state import Measurement, SeriesView
from ownscan.core.volume import Volume, WindowPreset

__all__ = ["SHORTCUTS", "Viewer", "ViewerError", "ViewerOptions"]

log = logging.getLogger(__name__)

# (keys, what they do): the help overlay lists exactly this table
SHORTCUTS: tuple[tuple[str, str], ...] = (
    ("Left drag", "window/level (2D views), rotate (3D view)"),
    ("Left click", "move the crosshair there: the other views follow"),
    ("Wheel", "scroll slices (2D), zoom (3D)"),
    ("Ctrl + wheel", "zoom (2D)"),
    ("Shift + wheel", "scroll 10 slices at a time"),
    ("Middle drag / Shift + left drag", "pan"),
    ("Right drag", "zoom"),
    ("Double click / Space", "maximise the view under the mouse, or back to 2x2"),
    ("Up / Down, Page Up / Page Down", "previous / next slice, 10 slices"),
    ("+ / -", "zoom in / out"),
    ("1 .. 9", "3D mode: DVR, MIP, surface, MinIP, X-ray, MPR, plugins' modes"),
    ("W", "next window/level preset"),
    ("T", "next 3D colour preset"),
    ("D", "distance tool: drag in a 2D view to measure (mm)"),
    ("Delete", "remove all measurements"),
    ("R", "reset zoom, pan, window, crosshair and camera"),
    ("S / F12", "screenshot of the window to PNG"),
    ("F", "frames per second overlay"),
    ("O", "hide / show the text, labels and crosshair over the images"),
    ("B", "series browser"),
    ("N / P", "next / previous series"),
    ("H / F1", "this help"),
    ("Esc", "close help, leave the distance tool"),
    ("Q", "quit"),
)

# The 3D modes in the order the number keys select them; modes from third-party plugins follow.
MODE_ORDER: tuple[str, ...] = ("dvr", "mip", "iso", "minip", "xray", "mpr")

_VIEW_TITLES = {
    "axial": "Axial",
    "coronal": "Coronal",
    "sagittal": "Sagittal",
    "3d": "3D",
    "image": "Image",
}
_MODE_TITLES = {
    "dvr": "DVR",
    "mip": "MIP",
    "iso": "Surface",
    "minip": "MinIP",
    "xray": "X-ray",
    "mpr": "MPR",
}

DRAG_THRESHOLD_PX = 3.0
TOOLBAR_ONE_ROW = 720.0  # toolbar width (screen points) below which it takes two rows
DOUBLE_CLICK_S = 0.35


class ViewerError(OwnscanError):
    """The viewer cannot start (no display, no OpenGL 3.3, imgui-bundle missing)."""


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
    """

    size: tuple[int, int] = (1280, 800)
    title: str = "ownscan"
    screenshot_dir: Path = field(default_factory=Path.cwd)
    show_browser: bool | None = None
    still_after_s: float = 0.25


@dataclass
class _Drag:
    view: str
    button: int
    start: tuple[float, float]  # framebuffer pixels
    last: tuple[float, float]
    mods: int
    moved: bool = False
    measurement: Measurement | None = None


class _Loader:
    """moderngl asks this for GL functions; glfw knows them for the window's context."""

    def load_opengl_function(self, name: str) -> int:
        import glfw

        return int(glfw.get_proc_address(name) or 0)

    def release(self) -> None:
        pass


def _is_hu(volume: Volume) -> bool:
    return volume.modality == "CT" or volume.units == "HU"


def _ensure_imgui() -> Any:
    # The window's context is made through EGL (see _create_window), so PyOpenGL, which the
    # imgui backend uses, must call EGL too. It picks its platform at first import.
    os.environ["PYOPENGL_PLATFORM"] = "egl"
    try:
        from imgui_bundle import imgui
    except ImportError as exc:  # pragma: no cover - a dependency of ownscan
        raise ViewerError("the viewer needs imgui-bundle: pip install imgui-bundle") from exc
    return imgui


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

    _open_windows = 0  # glfw is terminated when the last viewer closes

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
        self.imgui = _ensure_imgui()
        import glfw
        import moderngl

        self._glfw = glfw
        self._window = self._create_window()
        self.ctx: moderngl.Context = self._attach_context()
        self._init_imgui()

        from ownscan.core.plugin_host import get_host
        from ownscan.core.viewer._gpu import SliceDrawer
        from ownscan.core.viewer._three_d import ThreeDView

        host = get_host()
        found = {m.name: m for m in host.modes()}
        order = [n for n in MODE_ORDER if n in found] + sorted(set(found) - set(MODE_ORDER))
        self._mode_objects = found
        self.modes: tuple[str, ...] = tuple(order)
        self.tf_presets: list[Any] = list(host.transfer_functions())
        self._window_presets: list[WindowPreset] = list(host.window_presets())
        if not self.modes or not self.tf_presets:
            raise ViewerError("no visualisation modes or transfer functions: see ownscan plugins")
        self._slices = SliceDrawer(self.ctx)
        self._raycast = ThreeDView(self.ctx)
        self._gpu_volume: Any = None
        self._thumbs: dict[str, Any] = {}

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
            else len(self.entries) > 1
        )
        self.status = ""
        self._status_until = 0.0
        self._cursor_fb: tuple[float, float] = (-1.0, -1.0)
        self._drag: _Drag | None = None
        self._last_click: tuple[float, float, float] = (-1.0, -1.0, -1e9)  # x, y, time
        self._last_motion = -1e9
        self._mods = 0
        self._frame_times: list[float] = []
        self._last_3d_ms = 0.0
        self.draft_3d = False  # the 3D view on screen is a reduced-quality image
        self._closing = False
        self._layout: Layout | None = None

        self.current = 0
        self.view: SeriesView
        self._select(0)
        self._install_callbacks()

    # -- set-up --------------------------------------------------------------------------------
    def _on_glfw_error(self, code: int, description: bytes | str) -> None:
        text = (
            description.decode(errors="replace") if isinstance(description, bytes) else description
        )
        self._glfw_errors.append(str(text))
        log.debug("glfw error %s: %s", code, text)

    def _create_window(self) -> Any:
        glfw = self._glfw
        # glfw's errors become the message of ViewerError (and debug log lines), not warnings
        self._glfw_errors: list[str] = []
        glfw.set_error_callback(self._on_glfw_error)
        if not glfw.init():
            why = self._glfw_errors[-1] if self._glfw_errors else "no reason given"
            raise ViewerError(
                "cannot open a window: glfw failed to initialise "
                f"(DISPLAY={os.environ.get('DISPLAY', 'unset')}): {why}"
            )
        glfw.default_window_hints()
        # EGL for the window's context: the renderer's headless contexts are EGL too, and GLX and
        # EGL contexts in one process abort with an X BadAccess error (shared/GL_ON_CI.md).
        glfw.window_hint(glfw.CONTEXT_CREATION_API, glfw.EGL_CONTEXT_API)
        glfw.window_hint(glfw.CONTEXT_VERSION_MAJOR, 3)
        glfw.window_hint(glfw.CONTEXT_VERSION_MINOR, 3)
        glfw.window_hint(glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE)
        glfw.window_hint(glfw.OPENGL_FORWARD_COMPAT, True)
        glfw.window_hint(glfw.SCALE_TO_MONITOR, True)
        w, h = self.options.size
        win = glfw.create_window(w, h, self.options.title, None, None)
        if not win:
            if Viewer._open_windows == 0:
                glfw.terminate()
            why = self._glfw_errors[-1] if self._glfw_errors else "no reason given"
            raise ViewerError(f"cannot open a window with an OpenGL 3.3 core context: {why}")
        glfw.make_context_current(win)
        glfw.swap_interval(1)
        Viewer._open_windows += 1
        return win

    def _attach_context(self) -> Any:
        import moderngl

        moderngl.init_context(loader=_Loader())
        return moderngl.get_context()

    def _init_imgui(self) -> None:
        imgui = self.imgui
        from imgui_bundle import __file__ as bundle_file
        from imgui_bundle.python_backends.glfw_backend import GlfwRenderer

        self._imgui_ctx = imgui.create_context()
        io = imgui.get_io()
        io.set_ini_filename("")  # no imgui.ini next to the user's files
        fonts = Path(bundle_file).parent / "assets" / "fonts"
        cs = self._glfw.get_window_content_scale(self._window)
        fb_scale = self.fb_size[0] / max(1, self.window_size[0])
        # Windows/X11 HiDPI: content scale 2, framebuffer = window -> scale the text by 2.
        # macOS: content scale 2, framebuffer = 2 x window -> imgui rasterises at the
        # framebuffer density by itself.
        self.ui_scale = float(cs[0]) if cs and cs[0] > 0 else 1.0
        font_scale = max(1.0, self.ui_scale / max(fb_scale, 1.0))
        regular = fonts / "Roboto" / "Roboto-Regular.ttf"
        bold = fonts / "Roboto" / "Roboto-Bold.ttf"
        self.font = io.fonts.add_font_from_file_ttf(str(regular), 15.0)
        self.font_bold = io.fonts.add_font_from_file_ttf(str(bold), 15.0)
        io.font_default = self.font
        style = imgui.get_style()
        self.font_scale = font_scale  # text size factor in imgui coordinates
        style.font_scale_dpi = font_scale
        style.scale_all_sizes(font_scale)
        style.window_rounding = 4.0
        self._imgui_renderer = GlfwRenderer(self._window, attach_callbacks=False)

    def _install_callbacks(self) -> None:
        glfw = self._glfw
        glfw.set_cursor_pos_callback(self._window, lambda _w, x, y: self.on_cursor_pos(x, y))
        glfw.set_mouse_button_callback(
            self._window, lambda _w, b, a, m: self.on_mouse_button(b, a, m)
        )
        glfw.set_scroll_callback(self._window, lambda _w, dx, dy: self.on_scroll(dx, dy))
        glfw.set_cursor_enter_callback(
            self._window, lambda _w, entered: self.on_cursor_enter(entered)
        )
        glfw.set_key_callback(self._window, lambda _w, k, s, a, m: self.on_key(k, a, m, s))
        glfw.set_char_callback(self._window, lambda _w, c: self.on_char(c))
        glfw.set_window_size_callback(self._window, lambda _w, x, y: self._on_resize(x, y))
        glfw.set_framebuffer_size_callback(
            self._window, lambda _w, x, y: setattr(self, "_sizes", None)
        )

    # -- properties ----------------------------------------------------------------------------
    @property
    def window(self) -> Any:
        """The glfw window handle."""
        return self._window

    _sizes: tuple[tuple[int, int], tuple[int, int]] | None = None

    def _query_sizes(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """Framebuffer and window size, asked once and then kept until the window changes
        (glfw's queries are round trips to the display server: 100 per frame added up)."""
        if self._sizes is None:
            fw, fh = self._glfw.get_framebuffer_size(self._window)
            ww, wh = self._glfw.get_window_size(self._window)
            self._sizes = ((int(fw), int(fh)), (int(ww), int(wh)))
        return self._sizes

    def _on_resize(self, width: int, height: int) -> None:
        self._sizes = None
        self._imgui_renderer.resize_callback(self._window, width, height)

    @property
    def fb_size(self) -> tuple[int, int]:
        """Framebuffer size in pixels (what GL draws and screenshots hold)."""
        return self._query_sizes()[0]

    @property
    def window_size(self) -> tuple[int, int]:
        """Window size in screen coordinates (what cursor positions are in)."""
        return self._query_sizes()[1]

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
            show_report=bool(self.entry.report),
            ui_scale=self.ui_scale,
        )
        if self._ui(one.toolbar.w, 0).x >= TOOLBAR_ONE_ROW * self.font_scale:
            return one
        return compute_layout(
            self.fb_size,
            self.view.view_names,
            maximised=self.maximised,
            show_browser=self.show_browser,
            show_report=bool(self.entry.report),
            ui_scale=self.ui_scale,
            toolbar_rows=2,
        )

    def _ui(self, x: float, y: float) -> Any:
        """Framebuffer pixel -> imgui coordinates (window coordinates)."""
        fw, fh = self.fb_size
        ww, wh = self.window_size
        return self.imgui.ImVec2(x * ww / max(1, fw), y * wh / max(1, fh))

    # -- series --------------------------------------------------------------------------------
    def _select(self, index: int) -> None:
        from ownscan.core.viewer._gpu import GpuVolume

        entry = self.entries[index]
        volume = entry.volume()
        gv = GpuVolume(self.ctx, volume)
        if self._gpu_volume is not None:
            self._gpu_volume.release()
        self._gpu_volume = gv
        self.current = index
        self.view = SeriesView(volume)
        self.maximised = None
        caption = " ".join(x for x in entry.caption() if not x.startswith("("))
        self._glfw.set_window_title(self._window, f"{self.options.title}: {caption}")
        self._raycast.key = None
        self.tf_index = self._default_tf(volume)
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
        """Show ``entries[index]``."""
        if not 0 <= index < len(self.entries):
            raise UsageError(f"series index {index} out of range 0..{len(self.entries) - 1}")
        if index != self.current:
            self._select(index)

    _pending: int | None = None  # a series to load once "Loading..." has been drawn
    _pending_drawn = False

    def request_series(self, index: int) -> None:
        """Show ``entries[index]`` from the UI: a series not yet loaded is loaded on the next
        frame, after one frame that says it is loading (decoding takes seconds)."""
        if not 0 <= index < len(self.entries):
            raise UsageError(f"series index {index} out of range 0..{len(self.entries) - 1}")
        if index == self.current:
            return
        if self.entries[index].loaded:
            self.select_series(index)
        else:
            self._pending, self._pending_drawn = index, False

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

    # -- input ---------------------------------------------------------------------------------
    def _fb_cursor(self, x: float, y: float) -> tuple[float, float]:
        return window_to_fb(x, y, self.window_size, self.fb_size)

    def _imgui_wants_mouse(self) -> bool:
        return bool(self.imgui.get_io().want_capture_mouse)

    def _touch(self) -> None:
        self._last_motion = time.monotonic()

    def on_cursor_pos(self, x: float, y: float) -> None:
        """Mouse moved to ``(x, y)`` in window coordinates."""
        self.imgui.get_io().add_mouse_pos_event(float(x), float(y))
        fx, fy = self._fb_cursor(x, y)
        self._cursor_fb = (fx, fy)
        d = self._drag
        if d is None:
            return
        dx, dy = fx - d.last[0], fy - d.last[1]
        if not d.moved and np.hypot(fx - d.start[0], fy - d.start[1]) < DRAG_THRESHOLD_PX:
            return
        d.moved = True
        d.last = (fx, fy)
        rect = self.layout().views.get(d.view)
        if rect is None:
            return
        glfw = self._glfw
        self._touch()
        if d.button == glfw.MOUSE_BUTTON_MIDDLE or (
            d.button == glfw.MOUSE_BUTTON_LEFT and d.mods & glfw.MOD_SHIFT
        ):
            self.view.pan(d.view, rect.size, dx, dy)
        elif d.button == glfw.MOUSE_BUTTON_RIGHT:
            self.view.zoom(d.view, float(np.exp(-dy / 200.0)))
        elif d.button == glfw.MOUSE_BUTTON_LEFT:
            if d.measurement is not None:
                d.measurement.b_lps = self.view.pixel_to_lps(d.view, rect.size, *rect.local(fx, fy))
            elif d.view == "3d":
                self.view.camera.rotate(dx, dy)
            else:
                self.view.window_drag(dx, dy)

    def on_cursor_enter(self, entered: bool) -> None:
        """The mouse entered or left the window: when it leaves, nothing is hovered."""
        if not entered:
            self.imgui.get_io().add_mouse_pos_event(-3.4e38, -3.4e38)  # imgui's "no mouse"
            self._cursor_fb = (-1.0, -1.0)

    def on_mouse_button(self, button: int, action: int, mods: int = 0) -> None:
        """A mouse button was pressed or released (glfw constants)."""
        glfw = self._glfw
        self.imgui.get_io().add_mouse_button_event(button, action == glfw.PRESS)
        fx, fy = self._cursor_fb
        if action == glfw.PRESS:
            if self._imgui_wants_mouse():
                return
            lay = self.layout()
            name = lay.view_at(fx, fy)
            if name is None:
                return
            self._drag = _Drag(name, button, (fx, fy), (fx, fy), mods)
            if self.measure_tool and button == glfw.MOUSE_BUTTON_LEFT and name != "3d":
                p = self.view.pixel_to_lps(
                    name, lay.views[name].size, *lay.views[name].local(fx, fy)
                )
                m = Measurement(name, p, p.copy())
                self.view.measurements.append(m)
                self._drag.measurement = m
            return
        d = self._drag
        if action != glfw.RELEASE or d is None or d.button != button:
            return
        self._drag = None
        self._touch()
        if d.measurement is not None:
            if d.measurement.length_mm <= 0.0:
                self.view.measurements.remove(d.measurement)
            else:
                self._flash(f"distance {d.measurement.length_mm:.1f} mm")
            return
        if d.moved or button != glfw.MOUSE_BUTTON_LEFT:
            return
        now = time.monotonic()
        lx, ly, lt = self._last_click
        if now - lt < DOUBLE_CLICK_S and np.hypot(fx - lx, fy - ly) < 2 * DRAG_THRESHOLD_PX:
            self.toggle_maximise(d.view)
            self._last_click = (-1.0, -1.0, -1e9)
            return
        self._last_click = (fx, fy, now)
        if d.view != "3d":
            rect = self.layout().views[d.view]
            self.view.click(d.view, rect.size, *rect.local(fx, fy))

    def on_scroll(self, dx: float, dy: float) -> None:
        """Mouse wheel: ``dy`` notches (positive: away from the user)."""
        self.imgui.get_io().add_mouse_wheel_event(float(dx), float(dy))
        if self._imgui_wants_mouse():
            return
        name = self.layout().view_at(*self._cursor_fb)
        if name is None or dy == 0:
            return
        glfw = self._glfw
        self._touch()
        if name == "3d" or self._mods & glfw.MOD_CONTROL:
            self.view.zoom(name, 1.15**dy)
        else:
            self.view.scroll(name, dy * (10 if self._mods & glfw.MOD_SHIFT else 1))

    def on_char(self, codepoint: int) -> None:
        """A character was typed (imgui text fields)."""
        if 0 < codepoint < 0x10000:
            self.imgui.get_io().add_input_character(codepoint)

    def on_key(self, key: int, action: int, mods: int = 0, scancode: int = 0) -> None:
        """A key was pressed, repeated or released (glfw constants)."""
        glfw = self._glfw
        self._imgui_renderer.keyboard_callback(self._window, key, scancode, action, mods)
        # the scroll callback carries no modifiers: remember them from the keys
        self._mods = mods
        for keys, bit in (
            ((glfw.KEY_LEFT_SHIFT, glfw.KEY_RIGHT_SHIFT), glfw.MOD_SHIFT),
            ((glfw.KEY_LEFT_CONTROL, glfw.KEY_RIGHT_CONTROL), glfw.MOD_CONTROL),
        ):
            if key in keys:
                self._mods = mods | bit if action != glfw.RELEASE else mods & ~bit
        if action == glfw.RELEASE or self.imgui.get_io().want_text_input:
            return
        hovered = self.layout().view_at(*self._cursor_fb)
        target = hovered or (self.maximised or self.view.view_names[0])
        repeatable = {
            glfw.KEY_UP: lambda: self.view.scroll(target, 1),
            glfw.KEY_DOWN: lambda: self.view.scroll(target, -1),
            glfw.KEY_PAGE_UP: lambda: self.view.scroll(target, 10),
            glfw.KEY_PAGE_DOWN: lambda: self.view.scroll(target, -10),
            glfw.KEY_EQUAL: lambda: self.view.zoom(target, 1.2),
            glfw.KEY_KP_ADD: lambda: self.view.zoom(target, 1.2),
            glfw.KEY_MINUS: lambda: self.view.zoom(target, 1 / 1.2),
            glfw.KEY_KP_SUBTRACT: lambda: self.view.zoom(target, 1 / 1.2),
        }
        if key in repeatable:
            repeatable[key]()
            self._touch()
            return
        if action != glfw.PRESS:
            return
        number_keys = [getattr(glfw, f"KEY_{n}") for n in range(1, 10)]
        if key in number_keys and number_keys.index(key) < len(self.modes):
            self.set_mode(self.modes[number_keys.index(key)])
        elif key == glfw.KEY_W:
            self.next_window_preset()
        elif key == glfw.KEY_T:
            self.tf_index = (self.tf_index + 1) % len(self.tf_presets)
            self._flash(f"3D colours: {self.tf_presets[self.tf_index].name}")
        elif key == glfw.KEY_D:
            self.measure_tool = not self.measure_tool
        elif key == glfw.KEY_DELETE or key == glfw.KEY_BACKSPACE:
            self.view.measurements.clear()
        elif key == glfw.KEY_R:
            self.reset()
        elif key in (glfw.KEY_S, glfw.KEY_F12):
            self._screenshot_requested = True
        elif key == glfw.KEY_F:
            self.show_fps = not self.show_fps
        elif key == glfw.KEY_O:
            self.show_overlays = not self.show_overlays
        elif key == glfw.KEY_B:
            self.show_browser = not self.show_browser
        elif key == glfw.KEY_N:
            self.request_series((self.current + 1) % len(self.entries))
        elif key == glfw.KEY_P:
            self.request_series((self.current - 1) % len(self.entries))
        elif key in (glfw.KEY_H, glfw.KEY_F1):
            self.show_help = not self.show_help
        elif key == glfw.KEY_SPACE:
            self.toggle_maximise(hovered)
        elif key == glfw.KEY_ESCAPE:
            if self.show_help:
                self.show_help = False
            else:
                self.measure_tool = False
        elif key == glfw.KEY_Q:
            self.close_requested = True

    @property
    def close_requested(self) -> bool:
        return bool(self._glfw.window_should_close(self._window))

    @close_requested.setter
    def close_requested(self, value: bool) -> None:
        self._glfw.set_window_should_close(self._window, value)

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

    def _flash(self, text: str, seconds: float = 4.0) -> None:
        self.status = text
        self._status_until = time.monotonic() + seconds

    # -- drawing -------------------------------------------------------------------------------
    _screenshot_requested = False  # the S key / button: saved at the end of the next frame

    def frame(self, capture: bool = False) -> npt.NDArray[np.uint8] | None:
        """Process pending window events and draw one frame.

        Returns what the window shows, ``(height, width, 3)`` uint8, when ``capture`` is True.
        """
        t0 = time.perf_counter()
        glfw = self._glfw
        glfw.make_context_current(self._window)
        self.imgui.set_current_context(self._imgui_ctx)
        glfw.poll_events()
        if self._pending is not None and self._pending_drawn:
            index, self._pending = self._pending, None
            try:
                self.select_series(index)
            except (OwnscanError, ValueError, OSError) as exc:  # keep showing what we had
                log.error("cannot show %s: %s", self.entries[index].key, exc)
                self._flash(f"cannot show that series: {exc}", seconds=10.0)
        self._layout = lay = self.layout()
        fw, fh = self.fb_size
        ctx = self.ctx
        ctx.screen.use()
        ctx.viewport = (0, 0, fw, fh)
        ctx.scissor = None
        ctx.clear(0.08, 0.08, 0.09)
        gv = self._gpu_volume
        for name, rect in lay.views.items():
            if name == "3d":
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
        self._draw_ui(lay)
        image = None
        if capture or self._screenshot_requested:
            image = self._read_back()
            if self._screenshot_requested:
                self._screenshot_requested = False
                path = self.options.screenshot_dir / time.strftime("ownscan-%Y%m%d-%H%M%S.png")
                try:
                    self._save_png(image, path)
                    self._flash(f"saved {path}")
                except OSError as exc:
                    log.error("screenshot not saved: %s", exc)
                    self._flash(f"screenshot not saved: {exc}", seconds=10.0)
        glfw.swap_buffers(self._window)
        self._frame_times = [*self._frame_times[-59:], time.perf_counter() - t0]
        return image

    def _draw_3d(self, rect: Rect, fb_height: int) -> None:
        v = self.view
        moving = time.monotonic() - self._last_motion < self.options.still_after_s
        size = (max(8, rect.w), max(8, rect.h))
        tf = self.tf_presets[self.tf_index]
        cam = v.camera
        key = (
            size,
            moving,
            self.mode,
            tf.name,
            v.window,
            (cam.azimuth, cam.elevation, cam.zoom, cam.pan_mm),
            id(self._gpu_volume),
        )
        if key != self._raycast.key:
            t = time.perf_counter()
            self._raycast.render(
                v.volume, size, cam, self._mode_objects[self.mode], v.window, tf, moving
            )
            self._last_3d_ms = (time.perf_counter() - t) * 1000.0
            self._raycast.key = key
            self.draft_3d = moving
        self.ctx.screen.use()
        self._raycast.draw(rect, fb_height)

    def needs_refinement(self) -> bool:
        """True while the 3D view shows a draft image that a still frame would refine, or a
        series waits to be loaded."""
        return self.draft_3d or self._pending is not None

    def _read_back(self) -> npt.NDArray[np.uint8]:
        import OpenGL.GL as gl

        fw, fh = self.fb_size
        self.ctx.finish()
        gl.glReadBuffer(gl.GL_BACK)
        gl.glPixelStorei(gl.GL_PACK_ALIGNMENT, 1)
        data = gl.glReadPixels(0, 0, fw, fh, gl.GL_RGB, gl.GL_UNSIGNED_BYTE)
        img = np.frombuffer(data, dtype=np.uint8).reshape(fh, fw, 3)
        return np.ascontiguousarray(img[::-1])

    @staticmethod
    def _save_png(image: npt.NDArray[np.uint8], path: Path) -> None:
        from PIL import Image

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(path)

    def screenshot(self, path: str | os.PathLike[str]) -> Path:
        """Draw a frame and save exactly what the window shows to ``path`` (PNG).

        One frame is drawn first so that imgui has sized its auto-sized windows (it hides them
        on the frame they appear), then the captured one.
        """
        self.frame()
        image = self.frame(capture=True)
        assert image is not None
        p = Path(path)
        self._save_png(image, p)
        return p

    # -- UI ------------------------------------------------------------------------------------
    def _draw_ui(self, lay: Layout) -> None:
        imgui = self.imgui
        self._imgui_renderer.process_inputs()
        imgui.new_frame()
        bg = imgui.get_background_draw_list()
        if self.show_overlays:
            for name, rect in lay.views.items():
                self._draw_view_overlay(bg, name, rect)
        self._draw_toolbar(lay.toolbar)
        if lay.browser is not None:
            self._draw_browser(lay.browser)
        if lay.report is not None:
            self._draw_report(lay.report)
        if self.show_help:
            self._draw_help()
        if self.show_fps:
            self._draw_fps(lay)
        if self._pending is not None:
            self._draw_loading(self.entries[self._pending])
            self._pending_drawn = True
        imgui.render()
        self._imgui_renderer.render(imgui.get_draw_data())

    def _col(self, r: float, g: float, b: float, a: float = 1.0) -> int:
        return int(self.imgui.get_color_u32(self.imgui.ImVec4(r, g, b, a)))

    def _text(self, dl: Any, x: float, y: float, text: str, col: int, size: float = 15.0) -> None:
        """Text with a dark outline, readable on any image (coordinates in fb pixels)."""
        imgui = self.imgui
        p = self._ui(x, y)
        shadow = self._col(0, 0, 0, 0.85)
        for ox, oy in ((1, 1), (-1, 1), (1, -1), (-1, -1)):
            dl.add_text(self.font, size, imgui.ImVec2(p.x + ox, p.y + oy), shadow, text)
        dl.add_text(self.font, size, p, col, text)

    def _text_size(self, text: str, size: float) -> tuple[float, float]:
        """Text extent in framebuffer pixels."""
        imgui = self.imgui
        # push_font multiplies by style.font_scale_dpi; add_text(font, size) does not
        imgui.push_font(self.font, size / self.font_scale)
        s = imgui.calc_text_size(text)
        imgui.pop_font()
        fw, _ = self.fb_size
        ww, _ = self.window_size
        k = fw / max(1, ww)
        return (s.x * k, s.y * k)

    def _fit_text(self, text: str, width: float, size: float) -> str:
        """``text`` cut with an ellipsis to fit ``width`` framebuffer pixels."""
        if self._text_size(text, size)[0] <= width:
            return text
        while len(text) > 1 and self._text_size(text + "…", size)[0] > width:
            text = text[:-1]
        return text + "…"

    def _draw_view_overlay(self, dl: Any, name: str, rect: Rect) -> None:
        """Border, header, corner texts, orientation labels, crosshair and measurements."""
        v = self.view
        white = self._col(0.95, 0.95, 0.95)
        yellow = self._col(1.0, 0.85, 0.2)
        hovered = self._layout is not None and self._layout.view_at(*self._cursor_fb) == name
        border = self._col(0.35, 0.6, 1.0) if hovered else self._col(0.25, 0.25, 0.28)
        dl.add_rect(self._ui(rect.x, rect.y), self._ui(rect.x + rect.w, rect.y + rect.h), border)
        fs = 15.0 * self.font_scale
        pad = 6 * self.ui_scale
        line_h = self._text_size("Ag", fs)[1] + 1
        x0, y0 = rect.x + pad, rect.y + pad
        width, level = v.window
        info = self.entry.info
        title = _VIEW_TITLES.get(name, name)
        lines: list[str]
        if name == "3d":
            basis = v.camera.basis_lps()
            right, up = basis[:, 0], basis[:, 1]
            cam_mm = v.mm_per_px_3d(rect.size)
            preset = self.tf_presets[self.tf_index].name
            uses_tf = self._mode_objects[self.mode].uses_transfer_function
            lines = [
                f"{title}  {_MODE_TITLES.get(self.mode, self.mode)}"
                + (f"  ({preset})" if uses_tf else "")
                + ("  [draft]" if self.draft_3d else ""),
            ]
            corner_left = f"W {width:.0f}  L {level:.0f}"
            corner_right = f"zoom {v.camera.zoom:.2f}x  {cam_mm:.2f} mm/px"
            labels = (
                orientation_label(-right),
                orientation_label(right),
                orientation_label(up),
                orientation_label(-up),
            )
        else:
            pv = v.views[name]
            size = rect.size
            mm = v.mm_per_px(name, size)
            pos = v.slice_position(name)
            lo, _hi = v.slice_range_mm(name)
            step = v.slice_step(name)
            total = max(1, round((_hi - lo) / step))
            index = min(total, int((pos - lo) / step) + 1)
            # "I 28.7 mm" rather than "S -28.7 mm": the letter says the side of the origin
            axis = orientation_label(pv.plane.normal() * (1.0 if pos >= 0 else -1.0))
            lines = [
                f"{title}  {info.series_description or info.modality or ''}".rstrip(),
                f"{axis} {abs(pos):.1f} mm   slice {index}/{total}",
            ]
            corner_left = f"W {width:.0f}  L {level:.0f}  ({v.window_name})"
            corner_right = f"zoom {pv.zoom:.2f}x  {mm:.2f} mm/px"
            labels = (
                orientation_label(-pv.plane.right()),
                orientation_label(pv.plane.right()),
                orientation_label(-pv.plane.down()),
                orientation_label(pv.plane.down()),
            )
            if not v.is_2d:
                self._draw_crosshair(dl, name, rect)
            self._draw_measurements(dl, name, rect, fs)
        for i, line in enumerate(lines):
            self._text(dl, x0, y0 + i * line_h, line, white, fs)
        # what the user must know, in orange: the volume's warnings (first 2D view) and the
        # renderer's notes (3D view), each cut to the view's width
        orange = self._col(1.0, 0.6, 0.15)
        warnings: list[str] = []
        first_view = next(iter(self._layout.views)) if self._layout else None
        if name == first_view:
            ws = v.volume.warnings
            if ws:
                more = f" (+{len(ws) - 1} more, B lists them)" if len(ws) > 1 else ""
                warnings.append(f"Warning: {ws[0]}{more}")
            warnings += [f"Note: {n}" for n in self._gpu_volume.notes]
        if name == "3d":
            warnings += [f"Note: {n}" for n in self._raycast.notes]
        for w in warnings:
            w = self._fit_text(w, rect.w - 2 * pad, fs)
            self._text(dl, x0, y0 + len(lines) * line_h, w, orange, fs)
            lines.append(w)
        bottom_y = rect.y + rect.h - pad - line_h
        self._text(dl, x0, bottom_y, corner_left, white, fs)
        clw, _ = self._text_size(corner_left, fs)
        crw, _ = self._text_size(corner_right, fs)
        right_y = bottom_y
        if x0 + clw + 12 > rect.x + rect.w - pad - crw:  # a narrow view: one line up
            right_y -= line_h
        self._text(dl, rect.x + rect.w - pad - crw, right_y, corner_right, white, fs)
        # orientation labels at the middle of each edge: left, right, top, bottom
        lf = fs * 1.25
        _, lh = self._text_size(labels[0], lf)
        self._text(dl, rect.x + pad, rect.y + rect.h / 2 - lh / 2, labels[0], yellow, lf)
        rw, _ = self._text_size(labels[1], lf)
        self._text(
            dl, rect.x + rect.w - pad - rw, rect.y + rect.h / 2 - lh / 2, labels[1], yellow, lf
        )
        tw, _ = self._text_size(labels[2], lf)
        top_y = rect.y + pad + len(lines) * line_h
        self._text(dl, rect.x + rect.w / 2 - tw / 2, top_y, labels[2], yellow, lf)
        bw, _ = self._text_size(labels[3], lf)
        bottom_label_y = min(bottom_y, right_y) - lh - 2
        self._text(dl, rect.x + rect.w / 2 - bw / 2, bottom_label_y, labels[3], yellow, lf)

    def _draw_crosshair(self, dl: Any, name: str, rect: Rect) -> None:
        """Lines through the cursor, with a gap at the cursor so the point stays visible."""
        px, py = self.view.lps_to_pixel(name, rect.size, self.view.cursor_lps)
        cx, cy = rect.x + px, rect.y + py
        col = self._col(0.2, 0.9, 0.4, 0.8)
        gap = 10 * self.ui_scale
        t = max(1.0, self.ui_scale)
        x_left, x_right = rect.x, rect.x + rect.w
        y_top, y_bottom = rect.y, rect.y + rect.h
        if rect.y <= cy <= y_bottom:
            dl.add_line(self._ui(x_left, cy), self._ui(max(x_left, cx - gap), cy), col, t)
            dl.add_line(self._ui(min(x_right, cx + gap), cy), self._ui(x_right, cy), col, t)
        if rect.x <= cx <= x_right:
            dl.add_line(self._ui(cx, y_top), self._ui(cx, max(y_top, cy - gap)), col, t)
            dl.add_line(self._ui(cx, min(y_bottom, cy + gap)), self._ui(cx, y_bottom), col, t)

    def _draw_measurements(self, dl: Any, name: str, rect: Rect, fs: float) -> None:
        col = self._col(1.0, 0.55, 0.1)
        for m in self.view.measurements_in(name):
            ax, ay = self.view.lps_to_pixel(name, rect.size, m.a_lps)
            bx, by = self.view.lps_to_pixel(name, rect.size, m.b_lps)
            a = self._ui(rect.x + ax, rect.y + ay)
            b = self._ui(rect.x + bx, rect.y + by)
            dl.add_line(a, b, col, 2.0)
            dl.add_circle_filled(a, 3.0, col)
            dl.add_circle_filled(b, 3.0, col)
            self._text(dl, rect.x + bx + 6, rect.y + by - 6, f"{m.length_mm:.1f} mm", col, fs)

    def _panel(self, name: str, rect: Rect, flags: int = 0) -> bool:
        imgui = self.imgui
        imgui.set_next_window_pos(self._ui(rect.x, rect.y))
        p1 = self._ui(rect.x + rect.w, rect.y + rect.h)
        p0 = self._ui(rect.x, rect.y)
        imgui.set_next_window_size(imgui.ImVec2(p1.x - p0.x, p1.y - p0.y))
        wf = imgui.WindowFlags_
        base = wf.no_move | wf.no_resize | wf.no_collapse | wf.no_saved_settings
        return bool(imgui.begin(name, None, base | flags)[0])

    def _combo(self, label: str, items: list[str], current: int, width: float) -> int | None:
        """A compact drop-down; returns the index picked this frame, or None."""
        imgui = self.imgui
        imgui.set_next_item_width(width)
        picked = None
        preview = items[current] if 0 <= current < len(items) else "custom"
        if imgui.begin_combo(label, preview):
            for i, item in enumerate(items):
                if imgui.selectable(item, i == current)[0]:
                    picked = i
            imgui.end_combo()
        return picked

    def _draw_toolbar(self, rect: Rect) -> None:
        imgui = self.imgui
        wf = imgui.WindowFlags_
        if self._panel("##toolbar", rect, wf.no_title_bar | wf.no_scrollbar):
            width = self._ui(rect.w, 0).x / self.font_scale  # in unscaled points
            k = self.font_scale
            titles = [_MODE_TITLES.get(m, m) for m in self.modes]
            if width >= 1000:  # room for one radio button per mode
                for n, mode in enumerate(self.modes):
                    if n:
                        imgui.same_line()
                    if imgui.radio_button(f"{titles[n]}##mode", self.mode == mode):
                        self.set_mode(mode)
            else:
                imgui.align_text_to_frame_padding()
                imgui.text("3D")
                imgui.same_line()
                picked = self._combo("##mode", titles, self.modes.index(self.mode), 80 * k)
                if picked is not None:
                    self.set_mode(self.modes[picked])
            imgui.same_line()
            presets = self.window_presets()
            names = [p.name for p in presets]
            cur = names.index(self.view.window_name) if self.view.window_name in names else -1
            picked = self._combo("##window", names, cur, 95 * k)
            if picked is not None:
                p = presets[picked]
                self.view.set_window(p.name, p.width, p.level)
            if imgui.is_item_hovered():
                imgui.set_tooltip("window/level preset (W); drag in a 2D view to adjust")
            imgui.same_line()
            tf_names = [t.name for t in self.tf_presets]
            picked = self._combo("##colours", tf_names, self.tf_index, 110 * k)
            if picked is not None:
                self.tf_index = picked
            if imgui.is_item_hovered():
                imgui.set_tooltip("3D colours (T)")
            two_rows = width < TOOLBAR_ONE_ROW
            for n, (label, tip, action) in enumerate(
                (
                    (
                        "Measure" + (" (on)" if self.measure_tool else ""),
                        "distance tool (D)",
                        lambda: setattr(self, "measure_tool", not self.measure_tool),
                    ),
                    ("Reset", "reset the views (R)", self.reset),
                    (
                        "Save PNG",
                        "screenshot of the window (S)",
                        lambda: setattr(self, "_screenshot_requested", True),
                    ),
                    (
                        "Help",
                        "every mouse and key action (H)",
                        lambda: setattr(self, "show_help", not self.show_help),
                    ),
                )
            ):
                if n or not two_rows:
                    imgui.same_line()
                if imgui.button(label):
                    action()
                if imgui.is_item_hovered():
                    imgui.set_tooltip(tip)
            if self.status and time.monotonic() < self._status_until:
                imgui.same_line()
                imgui.text_colored(imgui.ImVec4(0.6, 0.9, 0.6, 1.0), self.status)
        imgui.end()

    def _thumbnail_texture(self, entry: SeriesEntry) -> Any:
        """The entry's thumbnail texture, or None while there is nothing to make it from."""
        tex = self._thumbs.get(entry.key)
        if tex is None:
            if entry.thumbnail_image is not None:
                try:
                    img = decode_thumbnail(entry.thumbnail_image)
                except OSError as exc:
                    log.warning("%s: unreadable thumbnail: %s", entry.key, exc)
                    entry.thumbnail_image = None
                    return None
            elif entry.loaded:
                img = thumbnail(entry.volume())
            elif entry.thumbnail_files is not None:
                made = entry.thumbnail_files()
                entry.thumbnail_files = None  # one try: a failure leaves the tile
                if made is None:
                    return None
                img = made
            else:
                return None
            tex = self.ctx.texture((img.shape[1], img.shape[0]), 3, img.tobytes())
            self._thumbs[entry.key] = tex
        return tex

    def _draw_browser(self, rect: Rect) -> None:
        imgui = self.imgui
        if self._panel("Series", rect):
            made_thumb = False
            for i, entry in enumerate(self.entries):
                imgui.push_id(i)
                selected = i == self.current
                tex = self._thumbs.get(entry.key)
                if tex is None and not made_thumb:
                    tex = self._thumbnail_texture(entry)  # at most one new thumbnail per frame
                    made_thumb = tex is not None
                side = 72.0 * self.font_scale
                if tex is not None:
                    imgui.image(imgui.ImTextureRef(tex.glo), imgui.ImVec2(side, side))
                else:  # not loaded yet: a grey tile with the modality
                    imgui.button(f"{entry.info.modality or '?'}##thumb", imgui.ImVec2(side, side))
                if imgui.is_item_clicked():
                    self.request_series(i)
                imgui.same_line()
                imgui.begin_group()
                cap = entry.caption()
                if imgui.selectable(cap[0], selected)[0]:
                    self.request_series(i)
                for line in cap[1:]:
                    imgui.text_disabled(line) if not selected else imgui.text(line)
                imgui.end_group()
                imgui.separator()
                imgui.pop_id()
            vol = self.view.volume
            imgui.text_wrapped(vol.describe())
            for w in vol.warnings:
                imgui.push_style_color(imgui.Col_.text, imgui.ImVec4(1.0, 0.65, 0.2, 1.0))
                imgui.text_wrapped(f"Warning: {w}")
                imgui.pop_style_color()
        imgui.end()

    def _draw_report(self, rect: Rect) -> None:
        imgui = self.imgui
        if self._panel("Report", rect):
            imgui.text_wrapped(self.entry.report or "")
        imgui.end()

    def _draw_help(self) -> None:
        imgui = self.imgui
        fw, fh = self.fb_size
        imgui.set_next_window_pos(self._ui(fw / 2, fh / 2), 0, imgui.ImVec2(0.5, 0.5))
        # never larger than the window: a small or HiDPI window scrolls the table instead
        limit = self._ui(fw * 0.95, fh * 0.95)
        imgui.set_next_window_size_constraints(imgui.ImVec2(0, 0), limit)
        wf = imgui.WindowFlags_
        opened, still_open = imgui.begin(
            "Help: mouse and keys", True, wf.always_auto_resize | wf.no_collapse
        )
        if opened and imgui.begin_table("shortcuts", 2, imgui.TableFlags_.row_bg):
            for keys, what in SHORTCUTS:
                imgui.table_next_row()
                imgui.table_next_column()
                imgui.push_font(self.font_bold, 0.0)
                imgui.text(keys)
                imgui.pop_font()
                imgui.table_next_column()
                imgui.text(what)
            imgui.end_table()
        imgui.end()
        if still_open is False:
            self.show_help = False

    def _draw_loading(self, entry: SeriesEntry) -> None:
        """A box in the middle saying what is being loaded (drawn, not an imgui window, so it
        shows on its first frame)."""
        fw, fh = self.fb_size
        text = "Loading " + "   ".join(entry.caption()) + " ..."
        fs = 18.0 * self.font_scale
        tw, th = self._text_size(text, fs)
        pad = 16 * self.ui_scale
        x0, y0 = fw / 2 - tw / 2 - pad, fh / 2 - th / 2 - pad
        dl = self.imgui.get_foreground_draw_list()
        dl.add_rect_filled(
            self._ui(x0, y0), self._ui(fw - x0, fh - y0), self._col(0.1, 0.1, 0.12, 0.92), 6.0
        )
        self._text(dl, x0 + pad, y0 + pad, text, self._col(1, 1, 1), fs)

    def _draw_fps(self, lay: Layout) -> None:
        imgui = self.imgui
        times = self._frame_times or [0.0]
        mean = sum(times) / len(times)
        fps = 1.0 / mean if mean > 0 else 0.0
        r = lay.toolbar
        imgui.set_next_window_pos(self._ui(r.x + r.w - 8, r.y + r.h + 8), 0, imgui.ImVec2(1.0, 0.0))
        imgui.set_next_window_bg_alpha(0.7)
        wf = imgui.WindowFlags_
        flags = wf.no_decoration | wf.always_auto_resize | wf.no_inputs | wf.no_focus_on_appearing
        if imgui.begin("##fps", None, flags):
            imgui.text(f"{fps:5.1f} fps  ({mean * 1000:.1f} ms/frame)")
            imgui.text(
                f"3D render {self._last_3d_ms:.1f} ms" + ("  draft" if self.draft_3d else "")
            )
            imgui.text(f"GL: {self.ctx.info['GL_RENDERER']}")
        imgui.end()

    # -- running -------------------------------------------------------------------------------
    def run(self) -> None:
        """Show the window until the user closes it."""
        glfw = self._glfw
        self.frame()
        while not self.close_requested:
            # sleep until something happens; wake up to refine a draft 3D image
            timeout = 0.0 if self._pending is not None else 0.5
            if self.draft_3d:
                timeout = self.options.still_after_s
            glfw.wait_events_timeout(timeout)
            self.frame()

    def close(self) -> None:
        """Release GL objects and the UI renderer while the context is current, then the window."""
        if self._closing:
            return
        self._closing = True
        glfw = self._glfw
        glfw.make_context_current(self._window)
        self.imgui.set_current_context(self._imgui_ctx)
        for tex in self._thumbs.values():
            tex.release()
        self._thumbs.clear()
        if self._gpu_volume is not None:
            self._gpu_volume.release()
        self._slices.release()
        self._raycast.release()
        self._imgui_renderer.shutdown()
        self.imgui.destroy_context(self._imgui_ctx)
        self.ctx.release()
        glfw.destroy_window(self._window)
        Viewer._open_windows -= 1
        if Viewer._open_windows == 0:
            glfw.terminate()

    def __enter__(self) -> Viewer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
