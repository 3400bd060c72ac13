"""Where the views and panels go in the window, in framebuffer pixels.

HiDPI: glfw reports the cursor in *window* coordinates (screen points) but GL draws in
*framebuffer* pixels; on a Retina-type display the framebuffer is twice the window size. All
layout here is in framebuffer pixels (origin top-left); :func:`window_to_fb` converts cursor
positions, and ``ui_scale`` (the monitor's content scale) sizes the panels and the text.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GRID_2X2", "Layout", "Rect", "compute_layout", "window_to_fb"]

# the default 2x2 arrangement of a 3D series: (view, column, row)
GRID_2X2: tuple[tuple[str, int, int], ...] = (
    ("axial", 0, 0),
    ("coronal", 1, 0),
    ("sagittal", 0, 1),
    ("3d", 1, 1),
)


@dataclass(frozen=True)
class Rect:
    """An axis-aligned rectangle in framebuffer pixels, origin top-left."""

    x: int
    y: int
    w: int
    h: int

    def contains(self, px: float, py: float) -> bool:
        return self.x <= px < self.x + self.w and self.y <= py < self.y + self.h

    @property
    def size(self) -> tuple[int, int]:
        return (self.w, self.h)

    def local(self, px: float, py: float) -> tuple[float, float]:
        """``(px, py)`` relative to this rectangle's top-left corner."""
        return (px - self.x, py - self.y)


@dataclass(frozen=True)
class Layout:
    """The rectangles of one frame: each view, the toolbar, the side panels and the cine bar
    under the images (or None)."""

    views: dict[str, Rect]
    toolbar: Rect
    browser: Rect | None
    report: Rect | None
    cine: Rect | None = None

    def view_at(self, px: float, py: float) -> str | None:
        """Name of the view under framebuffer pixel ``(px, py)``, or None."""
        for name, r in self.views.items():
            if r.contains(px, py):
                return name
        return None


def window_to_fb(
    x: float, y: float, window_size: tuple[int, int], fb_size: tuple[int, int]
) -> tuple[float, float]:
    """Convert a cursor position from window coordinates to framebuffer pixels."""
    ww, wh = window_size
    fw, fh = fb_size
    sx = fw / ww if ww > 0 else 1.0
    sy = fh / wh if wh > 0 else 1.0
    return (x * sx, y * sy)


def compute_layout(
    fb_size: tuple[int, int],
    views: tuple[str, ...],
    maximised: str | None = None,
    show_browser: bool = True,
    show_report: bool = False,
    ui_scale: float = 1.0,
    gap: int = 2,
    toolbar_rows: int = 1,
    cine_bar: bool = False,
) -> Layout:
    """Lay out a frame.

    Parameters
    ----------
    fb_size
        Framebuffer size in pixels.
    views
        The views to show: the four of :data:`GRID_2X2` for a 3D series, one for a 2D image.
    maximised
        A view that takes the whole image area, or None.
    show_browser, show_report
        Whether the series browser (left) and the report panel (right) take room.
    ui_scale
        Content scale of the monitor; panel widths and the toolbar height scale with it.
    gap
        Pixels between the views of the grid.
    toolbar_rows
        Rows of controls in the toolbar (2 in narrow windows).
    cine_bar
        Keep a bar under the images for stepping through frames, images or volumes.
    """
    fw, fh = fb_size
    browser_w = round(230 * ui_scale) if show_browser else 0
    report_w = round(300 * ui_scale) if show_report else 0
    # keep at least a third of the window for the images
    if browser_w + report_w > fw * 2 // 3:
        browser_w = report_w = 0
    toolbar_h = round((34 + 28 * (toolbar_rows - 1)) * ui_scale)
    cine_h = round(34 * ui_scale) if cine_bar else 0
    area = Rect(
        browser_w, toolbar_h, max(1, fw - browser_w - report_w), max(1, fh - toolbar_h - cine_h)
    )
    cine = Rect(area.x, area.y + area.h, area.w, cine_h) if cine_h else None
    toolbar = Rect(browser_w, 0, area.w, toolbar_h)
    browser = Rect(0, 0, browser_w, fh) if browser_w else None
    report = Rect(fw - report_w, 0, report_w, fh) if report_w else None

    if maximised is not None and maximised not in views:
        raise ValueError(f"cannot maximise {maximised!r}; views: {', '.join(views)}")
    rects: dict[str, Rect] = {}
    if maximised is not None or len(views) == 1:
        rects[maximised or views[0]] = area
    else:
        half_w = (area.w - gap) // 2
        half_h = (area.h - gap) // 2
        for name, col, row in GRID_2X2:
            if name in views:
                rects[name] = Rect(
                    area.x + col * (half_w + gap),
                    area.y + row * (half_h + gap),
                    half_w if col == 0 else area.w - half_w - gap,
                    half_h if row == 0 else area.h - half_h - gap,
                )
    return Layout(rects, toolbar, browser, report, cine)
