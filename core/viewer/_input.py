"""The viewer's input: glfw's callbacks, the mouse and the keys.

glfw calls :meth:`InputHandler.on_cursor_pos`, :meth:`~InputHandler.on_mouse_button`,
:meth:`~InputHandler.on_scroll`, :meth:`~InputHandler.on_key` and
:meth:`~InputHandler.on_char` (the :class:`~ownscan.core.viewer.Viewer` methods of the same
names call these too: tests drive them, or send real X events with xdotool). Each first feeds
imgui, and acts on the views unless imgui wants the mouse or keyboard (a click on a button is
not a click on the image). Drags, clicks and double clicks are told apart here; what they do to
the views is :class:`~ownscan.core.viewer.SeriesView`'s (``_state.py``), in plain numpy.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ownscan.core.viewer._layout import window_to_fb
from ownscan.core.viewer._state import Measurement, SeriesView

if TYPE_CHECKING:
    from ownscan.core.viewer._app import Viewer

__all__ = ["DOUBLE_CLICK_S", "DRAG_THRESHOLD_PX", "SHORTCUTS", "InputHandler"]

# (keys, what they do): the help overlay lists exactly this table
SHORTCUTS: tuple[tuple[str, str], ...] = (
    ("Left drag", "brightness / contrast on a slice (window/level); turn the 3D picture"),
    ("Left click", "point at a spot (crosshair): the other slices go through it"),
    ("Wheel", "next / previous slice, frame or image; zoom in 3D"),
    ("Ctrl + wheel", "zoom a slice"),
    ("Shift + wheel", "10 slices at a time"),
    ("Middle drag / Shift + left drag", "move the picture (pan)"),
    ("Right drag", "zoom"),
    ("Double click / Space", "one picture fills the window, or back to all of them"),
    ("Up / Down, Page Up / Page Down", "previous / next slice, 10 slices"),
    ("Left / Right", "previous / next frame, image, volume or phase (a film or a 4D series)"),
    ("C", "play / pause the film (frames, images, volumes or phases)"),
    ("+ / -", "zoom in / out"),
    (
        "1 .. 9",
        "3D picture: Lifelike (DVR), Brightest (MIP), Surface, Darkest (MinIP), X-ray, "
        "Cut (MPR), plugins' modes",
    ),
    ("W", "next brightness / contrast preset (window/level)"),
    ("T", "next 3D colours (Bones, Vessels, ...: the transfer function)"),
    ("D", "measure a distance: drag on a slice (mm)"),
    ("Delete", "remove all measurements"),
    ("R", "start again: zoom, position, brightness and 3D turn"),
    ("S / F12", "save what the window shows as a picture (PNG)"),
    ("F", "drawing speed (frames per second)"),
    ("O", "hide / show the text, labels and crosshair over the images"),
    ("B", "list of series (browser)"),
    ("V", "compare with another series, e.g. an older scan (linked side-by-side views)"),
    ("N / P", "next / previous series"),
    ("H / F1 / ?", "this help"),
    ("Esc", "close help, leave the distance tool"),
    ("Q", "quit"),
)

DRAG_THRESHOLD_PX = 3.0
DOUBLE_CLICK_S = 0.35


@dataclass
class _Drag:
    view: str
    button: int
    start: tuple[float, float]  # framebuffer pixels
    last: tuple[float, float]
    mods: int
    moved: bool = False
    measurement: Measurement | None = None


class InputHandler:
    """Turns a viewer window's mouse and key events into actions on its views.

    Parameters
    ----------
    viewer
        The viewer whose window, views and UI state the events act on.
    """

    def __init__(self, viewer: Viewer) -> None:
        self.v = viewer
        self.win = viewer.win
        self.imgui = viewer.win.imgui
        self.cursor_fb: tuple[float, float] = (-1.0, -1.0)  # the mouse, framebuffer pixels
        self.drag: _Drag | None = None
        self.last_click: tuple[float, float, float] = (-1.0, -1.0, -1e9)  # x, y, time
        self.mods = 0  # the modifier keys held (the scroll callback carries none)

    def install_callbacks(self) -> None:
        """Route the window's glfw callbacks to these handlers."""
        glfw = self.win.glfw
        glfw.set_cursor_pos_callback(self.win.handle, lambda _w, x, y: self.on_cursor_pos(x, y))
        glfw.set_mouse_button_callback(
            self.win.handle, lambda _w, b, a, m: self.on_mouse_button(b, a, m)
        )
        glfw.set_scroll_callback(self.win.handle, lambda _w, dx, dy: self.on_scroll(dx, dy))
        glfw.set_cursor_enter_callback(
            self.win.handle, lambda _w, entered: self.on_cursor_enter(entered)
        )
        glfw.set_key_callback(self.win.handle, lambda _w, k, s, a, m: self.on_key(k, a, m, s))
        glfw.set_char_callback(self.win.handle, lambda _w, c: self.on_char(c))
        glfw.set_window_size_callback(self.win.handle, lambda _w, x, y: self.win.on_resize(x, y))
        glfw.set_framebuffer_size_callback(
            self.win.handle, lambda _w, x, y: self.win.sizes_changed()
        )
        # events drawn while the first series loaded went nowhere: where is the mouse now?
        if glfw.get_window_attrib(self.win.handle, glfw.HOVERED):
            self.on_cursor_pos(*glfw.get_cursor_pos(self.win.handle))

    def _fb_cursor(self, x: float, y: float) -> tuple[float, float]:
        return window_to_fb(x, y, self.win.window_size, self.win.fb_size)

    def _imgui_wants_mouse(self) -> bool:
        return bool(self.imgui.get_io().want_capture_mouse)

    def _touch(self) -> None:
        self.v._last_motion = time.monotonic()

    def on_cursor_pos(self, x: float, y: float) -> None:
        """Mouse moved to ``(x, y)`` in window coordinates."""
        self.imgui.get_io().add_mouse_pos_event(float(x), float(y))
        fx, fy = self._fb_cursor(x, y)
        self.cursor_fb = (fx, fy)
        d = self.drag
        if d is None:
            return
        dx, dy = fx - d.last[0], fy - d.last[1]
        if not d.moved and np.hypot(fx - d.start[0], fy - d.start[1]) < DRAG_THRESHOLD_PX:
            return
        d.moved = True
        d.last = (fx, fy)
        rect = self.v.layout().views.get(d.view)
        if rect is None:
            return
        glfw = self.win.glfw
        self._touch()
        view, name = self.v.target(d.view)  # a compared prior's pane may have its own state
        if d.button == glfw.MOUSE_BUTTON_MIDDLE or (
            d.button == glfw.MOUSE_BUTTON_LEFT and d.mods & glfw.MOD_SHIFT
        ):
            view.pan(name, rect.size, dx, dy)
        elif d.button == glfw.MOUSE_BUTTON_RIGHT:
            view.zoom(name, float(np.exp(-dy / 200.0)))
        elif d.button == glfw.MOUSE_BUTTON_LEFT:
            if d.measurement is not None:
                d.measurement.b_lps = view.pixel_to_lps(name, rect.size, *rect.local(fx, fy))
            elif name == "3d":
                view.camera.rotate(dx, dy)
            else:
                view.window_drag(dx, dy)

    def on_cursor_enter(self, entered: bool) -> None:
        """The mouse entered or left the window: when it leaves, nothing is hovered."""
        if not entered:
            self.imgui.get_io().add_mouse_pos_event(-3.4e38, -3.4e38)  # imgui's "no mouse"
            self.cursor_fb = (-1.0, -1.0)

    def on_mouse_button(self, button: int, action: int, mods: int = 0) -> None:
        """A mouse button was pressed or released (glfw constants)."""
        glfw = self.win.glfw
        self.imgui.get_io().add_mouse_button_event(button, action == glfw.PRESS)
        fx, fy = self.cursor_fb
        if action == glfw.PRESS:
            if self._imgui_wants_mouse():
                return
            lay = self.v.layout()
            name = lay.view_at(fx, fy)
            if name is None:
                return
            self.drag = _Drag(name, button, (fx, fy), (fx, fy), mods)
            view, base = self.v.target(name)
            if self.v.measure_tool and button == glfw.MOUSE_BUTTON_LEFT and base != "3d":
                p = view.pixel_to_lps(base, lay.views[name].size, *lay.views[name].local(fx, fy))
                m = Measurement(base, p, p.copy())
                view.measurements.append(m)
                self.drag.measurement = m
            return
        d = self.drag
        if action != glfw.RELEASE or d is None or d.button != button:
            return
        self.drag = None
        self._touch()
        if d.measurement is not None:
            if d.measurement.length_mm <= 0.0:
                self.v.target(d.view)[0].measurements.remove(d.measurement)
            else:
                self.v._flash(f"distance {d.measurement.length_mm:.1f} mm")
            return
        if d.moved or button != glfw.MOUSE_BUTTON_LEFT:
            return
        now = time.monotonic()
        lx, ly, lt = self.last_click
        if now - lt < DOUBLE_CLICK_S and np.hypot(fx - lx, fy - ly) < 2 * DRAG_THRESHOLD_PX:
            self.v.toggle_maximise(d.view)
            self.last_click = (-1.0, -1.0, -1e9)
            return
        self.last_click = (fx, fy, now)
        view, base = self.v.target(d.view)
        if base != "3d":
            rect = self.v.layout().views[d.view]
            view.click(base, rect.size, *rect.local(fx, fy))

    def on_scroll(self, dx: float, dy: float) -> None:
        """Mouse wheel: ``dy`` notches (positive: away from the user)."""
        self.imgui.get_io().add_mouse_wheel_event(float(dx), float(dy))
        if self._imgui_wants_mouse():
            return
        name = self.v.layout().view_at(*self.cursor_fb)
        if name is None or dy == 0:
            return
        glfw = self.win.glfw
        self._touch()
        view, base = self.v.target(name)
        if base == "3d" or self.mods & glfw.MOD_CONTROL:
            view.zoom(base, 1.15**dy)
        else:
            self._scroll(view, base, dy * (10 if self.mods & glfw.MOD_SHIFT else 1))

    def _scroll(self, view: SeriesView, name: str, steps: float) -> None:
        """Slices, or the frames / images of a series that has them (``_cine.py``); ``view``
        is the state the pane acts on (:meth:`Viewer.target`: a compare's prior when
        unlinked), whose own slices the frames of the series shown never replace."""
        if view is self.v.view and self.v.cine.scroll(name, steps):
            return
        view.scroll(name, steps)

    def on_char(self, codepoint: int) -> None:
        """A character was typed (imgui text fields)."""
        if 0 < codepoint < 0x10000:
            self.imgui.get_io().add_input_character(codepoint)

    def on_key(self, key: int, action: int, mods: int = 0, scancode: int = 0) -> None:
        """A key was pressed, repeated or released (glfw constants)."""
        glfw = self.win.glfw
        self.win.imgui_renderer.keyboard_callback(self.win.handle, key, scancode, action, mods)
        # the scroll callback carries no modifiers: remember them from the keys
        self.mods = mods
        for keys, bit in (
            ((glfw.KEY_LEFT_SHIFT, glfw.KEY_RIGHT_SHIFT), glfw.MOD_SHIFT),
            ((glfw.KEY_LEFT_CONTROL, glfw.KEY_RIGHT_CONTROL), glfw.MOD_CONTROL),
        ):
            if key in keys:
                self.mods = mods | bit if action != glfw.RELEASE else mods & ~bit
        if action == glfw.RELEASE or self.imgui.get_io().want_text_input:
            return
        hovered = self.v.layout().view_at(*self.cursor_fb)
        view, target = self.v.target(hovered or (self.v.maximised or self.v.view.view_names[0]))
        repeatable = {
            glfw.KEY_UP: lambda: self._scroll(view, target, 1),
            glfw.KEY_DOWN: lambda: self._scroll(view, target, -1),
            glfw.KEY_PAGE_UP: lambda: self._scroll(view, target, 10),
            glfw.KEY_PAGE_DOWN: lambda: self._scroll(view, target, -10),
            glfw.KEY_LEFT: lambda: self.v.cine.step(-1),
            glfw.KEY_RIGHT: lambda: self.v.cine.step(1),
            glfw.KEY_EQUAL: lambda: view.zoom(target, 1.2),
            glfw.KEY_KP_ADD: lambda: view.zoom(target, 1.2),
            glfw.KEY_MINUS: lambda: view.zoom(target, 1 / 1.2),
            glfw.KEY_KP_SUBTRACT: lambda: view.zoom(target, 1 / 1.2),
        }
        if key in repeatable:
            repeatable[key]()
            self._touch()
            return
        if action != glfw.PRESS:
            return
        number_keys = [getattr(glfw, f"KEY_{n}") for n in range(1, 10)]
        if key in number_keys and number_keys.index(key) < len(self.v.modes):
            self.v.set_mode(self.v.modes[number_keys.index(key)])
        elif key == glfw.KEY_W:
            self.v.next_window_preset()
        elif key == glfw.KEY_T:
            self.v.tf_index = (self.v.tf_index + 1) % len(self.v.tf_presets)
            self.v._flash(f"3D colours: {self.v.tf_presets[self.v.tf_index].name}")
        elif key == glfw.KEY_D:
            self.v.measure_tool = not self.v.measure_tool
        elif key == glfw.KEY_DELETE or key == glfw.KEY_BACKSPACE:
            self.v.view.measurements.clear()
        elif key == glfw.KEY_R:
            self.v.reset()
        elif key in (glfw.KEY_S, glfw.KEY_F12):
            self.v._screenshot_requested = True
        elif key == glfw.KEY_F:
            self.v.show_fps = not self.v.show_fps
        elif key == glfw.KEY_O:
            self.v.show_overlays = not self.v.show_overlays
        elif key == glfw.KEY_B:
            self.v.show_browser = not self.v.show_browser
        elif key == glfw.KEY_V:
            self.v.compare_menu.toggle()
        elif key == glfw.KEY_N:
            self.v.request_series((self.v.current + 1) % len(self.v.entries))
        elif key == glfw.KEY_P:
            self.v.request_series((self.v.current - 1) % len(self.v.entries))
        elif key == glfw.KEY_C:
            self.v.cine.toggle()
        elif key in (glfw.KEY_H, glfw.KEY_F1) or (
            key == glfw.KEY_SLASH and mods & glfw.MOD_SHIFT  # "?"
        ):
            self.v.show_help = not self.v.show_help
        elif key == glfw.KEY_SPACE:
            self.v.toggle_maximise(hovered)
        elif key == glfw.KEY_ESCAPE:
            if self.v.show_help:
                self.v.show_help = False
            else:
                self.v.measure_tool = False
        elif key == glfw.KEY_Q:
            self.win.close_requested = True
