"""imgui in the viewer's window through imgui-bundle's own C++ OpenGL 3 renderer.

Why not imgui-bundle's Python backend (``python_backends.glfw_backend.GlfwRenderer``): it
draws through PyOpenGL, whose import and wrappers alone held some 9 MiB of the viewer's
resident memory (``python -m ownscan.core.bench._stages --view``; docs/BENCH.md, Memory).
The C++ renderer (``imgui.backends.opengl3_*``, the one imgui ships) draws the same vertex
lists with the same blending into the same window, and needs no Python GL binding.

What the Python backend did besides drawing is here, for glfw's events as the viewer passes
them on (``_input.py``): glfw's keys as imgui's keys (with the modifier keys), and each
frame's display size, framebuffer scale and time step. The clipboard stays imgui's
own (the viewer's text fields are search boxes).
"""

from __future__ import annotations

from typing import Any

__all__ = ["NativeRenderer"]

# glfw's keys whose imgui names do not follow from glfw's (the letters, digits, F-keys and
# keypad digits do: _key_map)
_NAMED = {
    "TAB": "tab",
    "BACKSPACE": "backspace",
    "ENTER": "enter",
    "ESCAPE": "escape",
    "INSERT": "insert",
    "DELETE": "delete",
    "SPACE": "space",
    "LEFT": "left_arrow",
    "RIGHT": "right_arrow",
    "UP": "up_arrow",
    "DOWN": "down_arrow",
    "PAGE_UP": "page_up",
    "PAGE_DOWN": "page_down",
    "HOME": "home",
    "END": "end",
    "KP_ENTER": "keypad_enter",
    "KP_DECIMAL": "keypad_decimal",
    "KP_DIVIDE": "keypad_divide",
    "KP_MULTIPLY": "keypad_multiply",
    "KP_SUBTRACT": "keypad_subtract",
    "KP_ADD": "keypad_add",
    "KP_EQUAL": "keypad_equal",
    "LEFT_CONTROL": "left_ctrl",
    "RIGHT_CONTROL": "right_ctrl",
    "LEFT_SHIFT": "left_shift",
    "RIGHT_SHIFT": "right_shift",
    "LEFT_ALT": "left_alt",
    "RIGHT_ALT": "right_alt",
    "LEFT_SUPER": "left_super",
    "RIGHT_SUPER": "right_super",
    "APOSTROPHE": "apostrophe",
    "COMMA": "comma",
    "MINUS": "minus",
    "PERIOD": "period",
    "SLASH": "slash",
    "SEMICOLON": "semicolon",
    "EQUAL": "equal",
    "LEFT_BRACKET": "left_bracket",
    "BACKSLASH": "backslash",
    "RIGHT_BRACKET": "right_bracket",
    "GRAVE_ACCENT": "grave_accent",
    "CAPS_LOCK": "caps_lock",
    "SCROLL_LOCK": "scroll_lock",
    "NUM_LOCK": "num_lock",
    "PRINT_SCREEN": "print_screen",
    "PAUSE": "pause",
    "MENU": "menu",
}
# imgui's modifier state follows its left and right keys
_MODIFIERS = {
    "ctrl": "mod_ctrl",
    "shift": "mod_shift",
    "alt": "mod_alt",
    "super": "mod_super",
}


def _key_map(glfw: Any, imgui: Any) -> dict[int, Any]:
    """glfw key code -> imgui.Key (what imgui-bundle's Python backend maps)."""
    key = imgui.Key
    names = dict(_NAMED)
    names.update({chr(c): chr(c).lower() for c in range(ord("A"), ord("Z") + 1)})
    names.update({str(d): f"_{d}" for d in range(10)})
    names.update({f"F{n}": f"f{n}" for n in range(1, 13)})
    names.update({f"KP_{d}": f"keypad{d}" for d in range(10)})
    return {getattr(glfw, f"KEY_{g}"): getattr(key, i) for g, i in names.items()}


class NativeRenderer:
    """imgui's input and drawing for one glfw window, its GL context and imgui context
    current (made after the imgui context and its fonts)."""

    def __init__(self, window: Any, glfw: Any, imgui: Any) -> None:
        self.window = window
        self._glfw = glfw
        self._imgui = imgui
        self.io = imgui.get_io()
        self.key_map = _key_map(glfw, imgui)
        key = imgui.Key
        self._modifier = {
            getattr(key, f"{side}_{name}"): getattr(key, mod)
            for name, mod in _MODIFIERS.items()
            for side in ("left", "right")
        }
        self._time: float | None = None
        imgui.backends.opengl3_init("#version 330 core")

    def keyboard_callback(
        self, window: Any, key: int, scancode: int, action: int, mods: int
    ) -> None:
        """A glfw key event, as imgui's key (and modifier) event."""
        imgui_key = self.key_map.get(key)
        if imgui_key is None:
            return
        down = action != self._glfw.RELEASE
        self.io.add_key_event(imgui_key, down)
        modifier = self._modifier.get(imgui_key)
        if modifier is not None:
            self.io.add_key_event(modifier, down)

    def resize_callback(self, window: Any, width: int, height: int) -> None:
        self.io.display_size = self._imgui.ImVec2(width, height)

    def process_inputs(self) -> None:
        """This frame's display size, framebuffer scale and time step."""
        glfw, io = self._glfw, self.io
        ww, wh = glfw.get_window_size(self.window)
        fw, fh = glfw.get_framebuffer_size(self.window)
        io.display_size = self._imgui.ImVec2(ww, wh)
        scale = (fw / ww, fh / wh) if ww and wh else (1.0, 1.0)
        io.display_framebuffer_scale = self._imgui.ImVec2(*scale)
        now = float(glfw.get_time())
        step = now - self._time if self._time else 1.0 / 60.0
        io.delta_time = step if step > 0.0 else 1.0 / 1000.0
        self._time = now
        self._imgui.backends.opengl3_new_frame()

    def render(self, draw_data: Any) -> None:
        """Draw imgui's vertex lists into the bound (window's) framebuffer."""
        self._imgui.backends.opengl3_render_draw_data(draw_data)

    def shutdown(self) -> None:
        self._imgui.backends.opengl3_shutdown()
