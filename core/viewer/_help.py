"""The help overlay: what the mouse, the keys and touch do, in plain words.

Opened with H, F1 or ? and with the toolbar's Help button; closed with Esc, the same key or its
close box. It first says what a patient does most (look through the slices, make the picture
brighter, turn the 3D picture) in everyday words, then touch screens and touchpads, then every
key (:data:`~ownscan.core.viewer.SHORTCUTS`, the same table docs/VIEWER.md lists), then what the
technical words on the screen mean.

About touch: glfw delivers a touch screen's taps and one-finger drags as the left mouse button
and a touchpad's two-finger scrolling as the wheel; it has no pinch gesture, so the help says
how to zoom instead (the + and - keys, or the right button) rather than promise one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ownscan.core.viewer._input import SHORTCUTS
from ownscan.core.viewer._words import mode_tip, mode_word

if TYPE_CHECKING:
    from ownscan.core.viewer._app import Viewer

__all__ = ["HELP_TITLE", "MOUSE", "TOUCH", "WORDS", "draw_help"]

HELP_TITLE = "Help: how to look at your pictures"

# (what you do, what happens), everyday words first
MOUSE: tuple[tuple[str, str], ...] = (
    ("Turn the wheel", "go through the slices, one picture after the other (in 3D: zoom)"),
    (
        "Drag with the left button",
        "on a slice: brighter or darker (up / down), more or less contrast (left / right); "
        "in 3D: turn the body around",
    ),
    ("Click", "point at a spot: the other slices move to show the same spot"),
    ("Double click", "make one picture fill the window; again to see all of them"),
    ("Drag with the right button", "zoom in and out"),
    ("Drag with the middle button", "move the picture (or Shift and the left button)"),
    ("Play (under the picture)", "play a film: ultrasound loops, heart phases, time series"),
)

TOUCH: tuple[tuple[str, str], ...] = (
    ("Tap", "point at a spot, as a click"),
    ("Drag with one finger", "brighter / darker and contrast; in 3D: turn the body around"),
    ("Double tap", "one picture fills the window; again to see all of them"),
    ("Two fingers up / down (touchpad)", "go through the slices, as the wheel"),
    ("Zoom", "no pinch here: use the + and - keys, or drag with the right button"),
)

WORDS: tuple[tuple[str, str], ...] = (
    ("Brightness/contrast", "window/level: which values go from black to white"),
    (
        "Slice",
        "one thin cut through the body; Axial from below, Coronal from the front, "
        "Sagittal from the side",
    ),
    (
        "R L A P S I",
        "the patient's Right, Left, Anterior (front), Posterior (back), "
        "Superior (head), Inferior (feet)",
    ),
    (
        "Volume / phase",
        "one of several scans of the same place: at another time, heart beat "
        "phase or diffusion direction",
    ),
)


def draw_help(viewer: Viewer) -> None:
    """Draw the help window in the middle of ``viewer``'s window (this frame)."""
    win = viewer.win
    imgui = win.imgui
    fw, fh = win.fb_size
    imgui.set_next_window_pos(win.ui(fw / 2, fh / 2), 0, imgui.ImVec2(0.5, 0.5))
    # never larger than the window: a small or HiDPI window scrolls the text instead
    limit = win.ui(fw * 0.95, fh * 0.95)
    imgui.set_next_window_size_constraints(imgui.ImVec2(0, 0), limit)
    wf = imgui.WindowFlags_
    opened, still_open = imgui.begin(HELP_TITLE, True, wf.always_auto_resize | wf.no_collapse)
    if opened:
        _table(viewer, "With the mouse", "mouse", MOUSE)
        _table(viewer, "On a touch screen or touchpad", "touch", TOUCH)
        _table(viewer, "Keys", "keys", SHORTCUTS)
        modes = tuple((mode_word(m), mode_tip(viewer._mode_objects[m])) for m in viewer.modes)
        _table(viewer, "The 3D pictures", "modes", modes)
        _table(viewer, "Words on the screen", "words", WORDS)
        imgui.text_disabled("Close: Esc, H, or the x at the top")
    imgui.end()
    if still_open is False:
        viewer.show_help = False


def _table(viewer: Viewer, title: str, key: str, rows: tuple[tuple[str, str], ...]) -> None:
    win = viewer.win
    imgui = win.imgui
    imgui.separator_text(title)
    if imgui.begin_table(key, 2, imgui.TableFlags_.row_bg):
        for left, right in rows:
            imgui.table_next_row()
            imgui.table_next_column()
            imgui.push_font(win.font_bold, 0.0)
            imgui.text(left)
            imgui.pop_font()
            imgui.table_next_column()
            imgui.text(right)
        imgui.end_table()
