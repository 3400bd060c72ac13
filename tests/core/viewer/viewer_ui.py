"""Driving the viewer's imgui controls in tests: a click where a panel drew a control."""

from __future__ import annotations

from ownscan.core.viewer import Viewer


def click_place(v: Viewer, place: tuple[float, float, float, float]) -> None:
    """A left click in the middle of a control (framebuffer pixels ``x0, y0, x1, y1``, as the
    panels' ``places`` hold them), through the handlers glfw's callbacks call, a frame after
    each event so that imgui sees the move, the press and the release."""
    import glfw

    x0, y0, x1, y1 = place
    fw, fh = v.fb_size
    ww, wh = v.window_size
    v.on_cursor_pos((x0 + x1) / 2 * ww / fw, (y0 + y1) / 2 * wh / fh)
    v.frame()
    v.on_mouse_button(glfw.MOUSE_BUTTON_LEFT, glfw.PRESS, 0)
    v.frame()
    v.on_mouse_button(glfw.MOUSE_BUTTON_LEFT, glfw.RELEASE, 0)
    v.frame()
