"""What the viewer draws with imgui: text over the images, toolbar, browser, report, help.

Per view (on imgui's background draw list, so imgui windows stay above): border, header,
corner texts, orientation labels, warnings and notes in orange, crosshair and measurements.
Then the panels: the toolbar (3D mode, window preset, colours, tools), the series browser
(thumbnails that never load a series on their own), the report beside the images, the help
table (:data:`~ownscan.core.viewer.SHORTCUTS`), the frames-per-second overlay and the box that
says which series is loading. Everything is placed in framebuffer pixels (``_layout.py``) and
converted to imgui's coordinates by the window.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from ownscan.core.viewer import _words
from ownscan.core.viewer._geometry import orientation_label
from ownscan.core.viewer._help import draw_help
from ownscan.core.viewer._layout import Layout, Rect
from ownscan.core.viewer._loader import SeriesLoader
from ownscan.core.viewer._projection_window import window_3d
from ownscan.core.viewer._report import ReportPanel
from ownscan.core.viewer._sources import SeriesEntry, decode_thumbnail, thumbnail

if TYPE_CHECKING:
    from ownscan.core.viewer._app import Viewer

__all__ = ["LOADING_TRACK", "TOOLBAR_ONE_ROW", "Panels"]

log = logging.getLogger(__name__)

_VIEW_TITLES = {
    "axial": "Axial",
    "coronal": "Coronal",
    "sagittal": "Sagittal",
    "3d": "3D",
    "image": "Image",
}

# the loading box's progress track: a colour no other part of the window uses (tests find it)
LOADING_TRACK = (0.2, 0.3, 0.25)
TOOLBAR_ONE_ROW = 720.0  # toolbar width (screen points) below which it takes two rows


STATUS_OK = (0.6, 0.9, 0.6, 1.0)  # the toolbar status of what was done, in green


def _status_colour(status: str) -> tuple[float, float, float, float]:
    """The toolbar status's colour: orange for a warning, red for what could not be done,
    else green."""
    if "Warning:" in status:
        return (1.0, 0.6, 0.15, 1.0)
    if status.startswith("cannot "):
        return (1.0, 0.45, 0.4, 1.0)
    return STATUS_OK


class Panels:
    """Draws a viewer's text, controls and panels with imgui, each frame.

    Parameters
    ----------
    viewer
        The viewer whose state is shown (and changed by the controls).
    """

    def __init__(self, viewer: Viewer) -> None:
        self.v = viewer
        self.win = viewer.win
        self.imgui = viewer.win.imgui
        self.thumbs: dict[str, Any] = {}  # browser thumbnails (textures) by entry key
        self.report = ReportPanel(viewer, viewer.radiologist)
        # the toolbar's buttons' places (framebuffer pixels), for scripts and tests
        self.places: dict[str, tuple[float, float, float, float]] = {}
        self.toolbar_fits = True  # the toolbar's row of controls fits its width (last frame)
        self.status_inline = False  # the status shown in the toolbar's row (else in a box)
        self.toolbar_rows = 1  # rows of controls the toolbar took last frame

    def draw(self, lay: Layout) -> None:
        """The UI of one frame, over the images already drawn."""
        imgui = self.imgui
        self.win.begin_ui()
        bg = imgui.get_background_draw_list()
        cmp = self.v.compare
        for name, rect in lay.views.items():
            if self.v.show_overlays and (cmp is None or not cmp.draws(name)):
                self._draw_view_overlay(bg, name, rect)
            if cmp is not None:  # its banners (a poor registration) show even without text
                cmp.draw_overlay(bg, name, rect, self.v.show_overlays)
        self.v.radiologist.draw(bg, lay)  # the radiologist's marks stay when the text hides
        self._draw_toolbar(lay.toolbar)
        if cmp is not None:
            cmp.draw_panel()
        self.v.compare_menu.draw()
        if lay.browser is not None:
            self._draw_browser(lay.browser)
        if lay.report is not None:
            self._draw_report(lay.report)
        if lay.cine is not None:
            self.v.cine.draw_bar(lay.cine)
        if self.v.show_help:
            self._draw_help()
        self.v.save.draw()
        if self.v.show_fps:
            self._draw_fps(lay)
        job = self.v._loader
        if job is not None and not job.shown:
            self._draw_loading(job)
        self.win.end_ui()

    def loading_frame(self, job: SeriesLoader) -> None:
        """A frame with nothing but the loading box (the first series, before any view)."""
        win = self.win
        win.make_current()
        win.glfw.poll_events()
        fw, fh = win.fb_size
        win.ctx.screen.use()
        win.ctx.viewport = (0, 0, fw, fh)
        win.ctx.scissor = None
        win.ctx.clear(0.08, 0.08, 0.09)
        win.begin_ui()
        self._draw_loading(job)
        win.end_ui()
        win.swap()

    def release(self) -> None:
        """Release the thumbnail textures."""
        for tex in self.thumbs.values():
            tex.release()
        self.thumbs.clear()
        self.report.release()

    def _draw_view_overlay(self, dl: Any, name: str, rect: Rect) -> None:
        """Border, header, corner texts, orientation labels, crosshair and measurements."""
        v = self.v.view
        white = self.win.col(0.95, 0.95, 0.95)
        yellow = self.win.col(1.0, 0.85, 0.2)
        hovered = (
            self.v._layout is not None and self.v._layout.view_at(*self.v.input.cursor_fb) == name
        )
        border = self.win.col(0.35, 0.6, 1.0) if hovered else self.win.col(0.25, 0.25, 0.28)
        dl.add_rect(
            self.win.ui(rect.x, rect.y), self.win.ui(rect.x + rect.w, rect.y + rect.h), border
        )
        fs = 15.0 * self.win.font_scale
        pad = 6 * self.win.ui_scale
        line_h = self.win.text_size("Ag", fs)[1] + 1
        x0, y0 = rect.x + pad, rect.y + pad
        width, level = v.window
        info = self.v.entry.info
        title = _VIEW_TITLES.get(name, name)
        lines: list[str]
        if name == "3d":
            basis = v.camera.basis_lps()
            right, up = basis[:, 0], basis[:, 1]
            cam_mm = v.mm_per_px_3d(rect.size)
            preset = self.v.tf_presets[self.v.tf_index].name
            uses_tf = self.v._mode_objects[self.v.mode].uses_transfer_function
            word = _words.mode_word(self.v.mode)
            lines = [
                (title if word == title else f"{title}  {word}")
                + (f"  ({_words.preset_word(preset)})" if uses_tf else "")
                + ("  [preparing 3D ...]" if self.v._preparing_3d() else "")
                + ("  [draft]" if self.v.draft_3d and not self.v._preparing_3d() else ""),
            ]
            (width, level), auto = window_3d(v, self.v._mode_objects[self.v.mode])
            if auto:  # a projection's own window, as `ownscan render` takes it
                lines.append(f"window: {auto}")
            corner_left = _words.window_text(width, level, v.volume.units)
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
            corner_left = f"{_words.window_text(width, level, v.volume.units)}  ({v.window_name})"
            if v.volume.samples != 1:  # colour is drawn as stored: a window would be a lie
                corner_left = _words.COLOUR_AS_STORED
            corner_right = f"zoom {pv.zoom:.2f}x  {mm:.2f} {self._unit()}/px"
            labels = (
                orientation_label(-pv.plane.right()),
                orientation_label(pv.plane.right()),
                orientation_label(-pv.plane.down()),
                orientation_label(pv.plane.down()),
            )
            if v.is_2d:  # as stored: Image Orientation, else Patient Orientation, else none
                from ownscan.core.render import image_labels

                edge = image_labels(v.volume)
                lines = lines[:1]  # one image: no slice position (its "S 0.0 mm" was invented)
                labels = (
                    edge.get("left", ""),
                    edge.get("right", ""),
                    edge.get("top", ""),
                    edge.get("bottom", ""),
                )
            if not v.is_2d:
                self._draw_crosshair(dl, name, rect)
            self._draw_measurements(dl, name, rect, fs)
        if self.v.cine.active and self.v._layout and name == next(iter(self.v._layout.views)):
            lines.append(self.v.cine.caption())  # "frame 3/120", "volume 3/60 · b=1000 s/mm2"
        for i, line in enumerate(lines):
            # each line cut to the view's width (a long series description ran into the next
            # view); in a comparison the current pane's top right half is its CURRENT tag
            room = rect.w - 2 * pad
            if i == 0 and self.v.compare is not None:
                room = rect.w / 2 - 3 * pad  # a gap of one pad before the tag
            line = self.win.fit_text(line, room, fs)
            lines[i] = line
            self.win.text(dl, x0, y0 + i * line_h, line, white, fs)
        # what the user must know, in orange: the volume's warnings (first 2D view) and the
        # renderer's notes (3D view), each cut to the view's width
        orange = self.win.col(1.0, 0.6, 0.15)
        warnings: list[str] = []
        first_view = next(iter(self.v._layout.views)) if self.v._layout else None
        if name == first_view:
            ws = v.volume.warnings
            if ws:
                more = f" (+{len(ws) - 1} more, B lists them)" if len(ws) > 1 else ""
                warnings.append(f"Warning: {ws[0]}{more}")
            warnings += [f"Note: {n}" for n in self.v._gpu_volume.notes]
        if name == "3d":  # the same volume: its notes are on the first view already
            warnings += [
                f"Note: {n}" for n in self.v._raycast.notes if n not in self.v._gpu_volume.notes
            ]
        for w in warnings:
            w = self.win.fit_text(w, rect.w - 2 * pad, fs)
            self.win.text(dl, x0, y0 + len(lines) * line_h, w, orange, fs)
            lines.append(w)
        bottom_y = rect.y + rect.h - pad - line_h
        # each corner cut to the view's width: in a narrow view (a small or HiDPI window with
        # the browser and the report) "zoom 1.00x  0.79 mm/px" began left of its view, over
        # the neighbour's corner
        corner_left = self.win.fit_text(corner_left, rect.w - 2 * pad, fs)
        corner_right = self.win.fit_text(corner_right, rect.w - 2 * pad, fs)
        self.win.text(dl, x0, bottom_y, corner_left, white, fs)
        clw, _ = self.win.text_size(corner_left, fs)
        crw, _ = self.win.text_size(corner_right, fs)
        right_y = bottom_y
        if x0 + clw + 12 > rect.x + rect.w - pad - crw:  # a narrow view: one line up
            right_y -= line_h
        self.win.text(dl, rect.x + rect.w - pad - crw, right_y, corner_right, white, fs)
        # orientation labels at the middle of each edge: left, right, top, bottom
        lf = fs * 1.25
        _, lh = self.win.text_size(labels[0], lf)
        self.win.text(dl, rect.x + pad, rect.y + rect.h / 2 - lh / 2, labels[0], yellow, lf)
        rw, _ = self.win.text_size(labels[1], lf)
        self.win.text(
            dl, rect.x + rect.w - pad - rw, rect.y + rect.h / 2 - lh / 2, labels[1], yellow, lf
        )
        tw, _ = self.win.text_size(labels[2], lf)
        top_y = rect.y + pad + len(lines) * line_h
        self.win.text(dl, rect.x + rect.w / 2 - tw / 2, top_y, labels[2], yellow, lf)
        bw, _ = self.win.text_size(labels[3], lf)
        bottom_label_y = min(bottom_y, right_y) - lh - 2
        self.win.text(dl, rect.x + rect.w / 2 - bw / 2, bottom_label_y, labels[3], yellow, lf)

    def _draw_crosshair(self, dl: Any, name: str, rect: Rect) -> None:
        """Lines through the cursor, with a gap at the cursor so the point stays visible."""
        px, py = self.v.view.lps_to_pixel(name, rect.size, self.v.view.cursor_lps)
        cx, cy = rect.x + px, rect.y + py
        col = self.win.col(0.2, 0.9, 0.4, 0.8)
        gap = 10 * self.win.ui_scale
        t = max(1.0, self.win.ui_scale)
        x_left, x_right = rect.x, rect.x + rect.w
        y_top, y_bottom = rect.y, rect.y + rect.h
        if rect.y <= cy <= y_bottom:
            dl.add_line(self.win.ui(x_left, cy), self.win.ui(max(x_left, cx - gap), cy), col, t)
            dl.add_line(self.win.ui(min(x_right, cx + gap), cy), self.win.ui(x_right, cy), col, t)
        if rect.x <= cx <= x_right:
            dl.add_line(self.win.ui(cx, y_top), self.win.ui(cx, max(y_top, cy - gap)), col, t)
            dl.add_line(self.win.ui(cx, min(y_bottom, cy + gap)), self.win.ui(cx, y_bottom), col, t)

    def _draw_measurements(self, dl: Any, name: str, rect: Rect, fs: float) -> None:
        col = self.win.col(1.0, 0.55, 0.1)
        for m in self.v.view.measurements_in(name):
            ax, ay = self.v.view.lps_to_pixel(name, rect.size, m.a_lps)
            bx, by = self.v.view.lps_to_pixel(name, rect.size, m.b_lps)
            a = self.win.ui(rect.x + ax, rect.y + ay)
            b = self.win.ui(rect.x + bx, rect.y + by)
            dl.add_line(a, b, col, 2.0)
            dl.add_circle_filled(a, 3.0, col)
            dl.add_circle_filled(b, 3.0, col)
            text = f"{m.length_mm:.1f} {self._unit()}"
            self.win.text(dl, rect.x + bx + 6, rect.y + by - 6, text, col, fs)

    def _unit(self) -> str:
        """What lengths are in: mm, "mm at detector" for Imager Pixel Spacing, or image pixels
        when the spacing is unknown (the volume's stand-in spacing is 1)."""
        volume = self.v.view.volume
        if not volume.spacing_known:
            return "px"
        return "mm at detector" if volume.spacing_source == "detector" else "mm"

    def _panel(self, name: str, rect: Rect, flags: int = 0) -> bool:
        imgui = self.imgui
        imgui.set_next_window_pos(self.win.ui(rect.x, rect.y))
        p1 = self.win.ui(rect.x + rect.w, rect.y + rect.h)
        p0 = self.win.ui(rect.x, rect.y)
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
            width = self.win.ui(rect.w, 0).x / self.win.font_scale  # in unscaled points
            k = self.win.font_scale
            # plain words on the controls, technical names in the tooltips (_words.py); a
            # series without a 3D view (2D images, cines, colour) gets no 3D controls
            three_d = "3d" in self.v.view.view_names
            two_rows = width < TOOLBAR_ONE_ROW
            # what goes on the first row, measured in this font: one radio button per 3D mode
            # and the words before the window's drop-down only where the whole row still fits
            # (at 1024 px the radio buttons pushed "Compare..." past the window's edge)
            avail = imgui.get_content_region_avail().x
            row = self._toolbar_row_width(three_d, radios=False, words=False, buttons=not two_rows)
            radios = three_d and row + self._radios_extra() <= avail
            if radios:
                row += self._radios_extra()
            words = row + self._words_extra() <= avail
            self.toolbar_fits = row <= avail
            rows = 1
            pad = 2 * imgui.get_style().frame_padding.x

            def flow(w: float) -> None:
                """Before an item ``w`` wide: on this row where it fits, else on the next
                (a HiDPI laptop with the browser and the report leaves the toolbar about 340
                points: Help and Compare... were past its edge); the layout gives the
                toolbar as many rows as the last frame took (``toolbar_rows``)."""
                nonlocal rows
                imgui.same_line()
                if imgui.get_content_region_avail().x < w:
                    imgui.new_line()
                    rows += 1

            if three_d:
                self._draw_mode_controls(radios, k)
                if words:
                    imgui.same_line()
                else:
                    flow(95 * k)
            presets = self.v.window_presets()
            names = [p.name for p in presets]
            cur = names.index(self.v.view.window_name) if self.v.view.window_name in names else -1
            # a colour image is drawn as stored (_slices.py): no window to choose
            grey = self.v.view.volume.samples == 1
            if words and grey:  # the words, where they fit
                imgui.align_text_to_frame_padding()
                imgui.text(_words.BRIGHTNESS)
                imgui.same_line()
            if grey:
                items = [_words.window_word(n) for n in names]
                picked = self._combo("##window", items, cur, 95 * k)
                self.places["toolbar:window"] = self.win.item_rect()
                if picked is not None:
                    p = presets[picked]
                    self.v.view.set_window(p.name, p.width, p.level)
                if imgui.is_item_hovered():
                    imgui.set_tooltip(f"{_words.BRIGHTNESS}: {_words.BRIGHTNESS_TIP}")
            else:
                self.places.pop("toolbar:window", None)
                imgui.align_text_to_frame_padding()
                imgui.text(_words.COLOUR_AS_STORED)
            if three_d:
                flow(110 * k)
                tf_names = [_words.preset_word(t.name) for t in self.v.tf_presets]
                picked = self._combo("##colours", tf_names, self.v.tf_index, 110 * k)
                if picked is not None:
                    self.v.tf_index = picked
                if imgui.is_item_hovered():
                    imgui.set_tooltip(_words.preset_tip(self.v.tf_presets[self.v.tf_index]))
            for n, (label, tip, action) in enumerate(
                (
                    (
                        self._measure_label(),
                        "distance tool (D)",
                        lambda: setattr(self.v, "measure_tool", not self.v.measure_tool),
                    ),
                    ("Reset", "reset the views (R)", self.v.reset),
                    (
                        "Save PNG",
                        "screenshot of the window (S)",
                        lambda: setattr(self.v, "_screenshot_requested", True),
                    ),
                    (
                        "Save...",
                        "export the series: the formats that fit it",
                        lambda: setattr(self.v.save, "open", not self.v.save.open),
                    ),
                    (
                        "Help",
                        "how to use the mouse, keys and touch, in plain words (H, F1 or ?)",
                        lambda: setattr(self.v, "show_help", not self.v.show_help),
                    ),
                )
            ):
                if n or not two_rows:
                    flow(imgui.calc_text_size(label).x + pad)
                else:
                    rows += 1
                if imgui.button(label):
                    action()
                self.places[f"toolbar:{label}"] = self.win.item_rect()
                if imgui.is_item_hovered():
                    imgui.set_tooltip(tip)
            flow(imgui.calc_text_size("Compare...").x + pad)
            if imgui.button("Compare..."):
                self.v.compare_menu.toggle()
            self.places["toolbar:Compare..."] = self.win.item_rect()
            if imgui.is_item_hovered():
                imgui.set_tooltip("compare with a prior (V)")
            self.toolbar_rows = rows
            status = self.v.status if time.monotonic() < self.v._status_until else ""
            self.status_inline = False
            if status:
                # a status that says a warning (a saved series' warnings) in the views' orange,
                # one that says something could not be done ("cannot show that series: ...")
                # in red: neither is a success's green
                colour = _status_colour(status)
                imgui.same_line()
                room = imgui.get_content_region_avail().x
                # what could not be done, or a warning, must be read whole; a confirmation
                # ("saved ...") may be cut rather than cover the images
                if imgui.calc_text_size(status).x <= room or colour == STATUS_OK:
                    imgui.text_colored(imgui.ImVec4(*colour), status)
                    self.status_inline = True
        imgui.end()
        if status and not self.status_inline:
            self._draw_status_box(rect, status, _status_colour(status))

    def _draw_status_box(self, toolbar: Rect, status: str, colour: tuple[float, ...]) -> None:
        """A status too long for what the toolbar has left (at 1024 px a failed series' reason
        was cut after "cannot show th"): the whole of it, wrapped, in a box under the
        toolbar's right end, over the images for the seconds it is shown."""
        imgui = self.imgui
        k = self.win.ui_scale
        pad = round(6 * k)
        width = min(toolbar.w - 2 * pad, round(520 * k))
        x = toolbar.x + toolbar.w - pad - width
        imgui.set_next_window_pos(self.win.ui(x, toolbar.y + toolbar.h + pad))
        imgui.set_next_window_size_constraints(
            self.win.ui(width, 0), self.win.ui(width, max(1, self.win.fb_size[1]))
        )
        wf = imgui.WindowFlags_
        flags = (
            wf.no_title_bar
            | wf.no_move
            | wf.no_resize
            | wf.no_collapse
            | wf.no_saved_settings
            | wf.always_auto_resize
            | wf.no_focus_on_appearing
            | wf.no_nav
        )
        if imgui.begin("##status", None, flags)[0]:
            imgui.push_text_wrap_pos(0.0)
            imgui.text_colored(imgui.ImVec4(*colour), status)
            imgui.pop_text_wrap_pos()
        a, b = imgui.get_window_pos(), imgui.get_window_size()
        self.places["status"] = self.win.fb_rect(a.x, a.y, a.x + b.x, a.y + b.y)
        imgui.end()

    def _measure_label(self) -> str:
        return "Measure" + (" (on)" if self.v.measure_tool else "")

    def _toolbar_row_width(self, three_d: bool, radios: bool, words: bool, buttons: bool) -> float:
        """The width (imgui units) of the toolbar's first row as ``_draw_toolbar`` draws it:
        the 3D mode (radio buttons or a drop-down), the window's words and drop-down, the
        colours' drop-down and, on one row, the buttons; the status text is not counted."""
        imgui = self.imgui
        k = self.win.font_scale
        gap = imgui.get_style().item_spacing.x
        parts = [95 * k]  # the window's drop-down
        if three_d:
            parts += [imgui.calc_text_size("3D").x, 110 * k]
            parts.append(self._radios_extra() + 90 * k if radios else 90 * k)
        if words:
            parts.append(self._words_extra() - gap)
        if buttons:
            pad = 2 * imgui.get_style().frame_padding.x
            for label in (self._measure_label(), "Reset", "Save PNG", "Save...", "Help"):
                parts.append(imgui.calc_text_size(label).x + pad)
            parts.append(imgui.calc_text_size("Compare...").x + pad)
        return sum(parts) + gap * (len(parts) - 1)

    def _radios_extra(self) -> float:
        """How much wider one radio button per 3D mode is than the modes' drop-down."""
        imgui = self.imgui
        style = imgui.get_style()
        each = imgui.get_frame_height() + style.item_inner_spacing.x
        titles = [_words.mode_word(m) for m in self.v.modes]
        radios = sum(each + imgui.calc_text_size(t).x for t in titles)
        return radios + style.item_spacing.x * (len(titles) - 1) - 90 * self.win.font_scale

    def _words_extra(self) -> float:
        """The width the words before the window's drop-down take, with their gap."""
        imgui = self.imgui
        return imgui.calc_text_size(_words.BRIGHTNESS).x + imgui.get_style().item_spacing.x

    def _draw_mode_controls(self, radios: bool, k: float) -> None:
        """The 3D mode: one radio button per mode where they fit, else a drop-down."""
        imgui = self.imgui
        titles = [_words.mode_word(m) for m in self.v.modes]
        imgui.align_text_to_frame_padding()
        imgui.text("3D")
        imgui.same_line()
        if radios:  # room for one radio button per mode
            for n, mode in enumerate(self.v.modes):
                if n:
                    imgui.same_line()
                if imgui.radio_button(f"{titles[n]}##mode", self.v.mode == mode):
                    self.v.set_mode(mode)
                if imgui.is_item_hovered():
                    imgui.set_tooltip(_words.mode_tip(self.v._mode_objects[mode]) + f" ({n + 1})")
            return
        picked = self._combo("##mode", titles, self.v.modes.index(self.v.mode), 90 * k)
        if picked is not None:
            self.v.set_mode(self.v.modes[picked])
        if imgui.is_item_hovered():
            imgui.set_tooltip(
                "how the 3D picture is drawn (1..9): "
                + _words.mode_tip(self.v._mode_objects[self.v.mode])
            )

    def _thumbnail_texture(self, entry: SeriesEntry) -> Any:
        """The entry's thumbnail texture, or None while there is nothing to make it from."""
        tex = self.thumbs.get(entry.key)
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
            tex = self.win.ctx.texture((img.shape[1], img.shape[0]), 3, img.tobytes())
            self.thumbs[entry.key] = tex
        return tex

    def _draw_browser(self, rect: Rect) -> None:
        imgui = self.imgui
        people = self.v.people  # the Series/People switch of a library (_persons.py)
        if self._panel("Series", rect) and not (people is not None and people.draw_switch()):
            made_thumb = False
            for i, entry in enumerate(self.v.entries):
                imgui.push_id(i)
                selected = i == self.v.current
                tex = self.thumbs.get(entry.key)
                if tex is None and not made_thumb:
                    tex = self._thumbnail_texture(entry)  # at most one new thumbnail per frame
                    made_thumb = tex is not None
                side = 72.0 * self.win.font_scale
                if tex is not None:
                    imgui.image(imgui.ImTextureRef(tex.glo), imgui.ImVec2(side, side))
                else:  # not loaded yet: a grey tile with the modality
                    imgui.button(f"{entry.info.modality or '?'}##thumb", imgui.ImVec2(side, side))
                if imgui.is_item_clicked():
                    self.v.request_series(i)
                imgui.same_line()
                imgui.begin_group()
                cap = entry.caption()
                if imgui.selectable(cap[0], selected)[0]:
                    self.v.request_series(i)
                # the lines wrap at the panel's edge: a long description, or the stack label
                # that tells a series' stacks apart ("stack 2 of 3, oblique axial, 8 images"),
                # was cut there ("anat-T1w ownscan samp")
                imgui.push_text_wrap_pos(0.0)
                for line in cap[1:]:
                    imgui.text_disabled(line) if not selected else imgui.text(line)
                imgui.pop_text_wrap_pos()
                imgui.end_group()
                self.places[f"browser:{i}"] = self.win.item_rect()
                imgui.separator()
                imgui.pop_id()
            vol = self.v.view.volume
            imgui.text_wrapped(vol.describe())
            for w in vol.warnings:
                imgui.push_style_color(imgui.Col_.text, imgui.ImVec4(1.0, 0.65, 0.2, 1.0))
                imgui.text_wrapped(f"Warning: {w}")
                imgui.pop_style_color()
        imgui.end()

    def _draw_report(self, rect: Rect) -> None:
        self.report.draw(rect, self._panel)  # _report.py

    def _draw_help(self) -> None:
        draw_help(self.v)  # plain words for mouse, touch and keys (_help.py)

    def _draw_loading(self, job: SeriesLoader) -> None:
        """A box in the middle: what is being loaded, the step, the seconds so far and a bar
        that moves while the loader works (decoding reports no fraction done). Drawn, not an
        imgui window, so it shows on its first frame."""
        fw, fh = self.win.fb_size
        text = "Loading " + "   ".join(job.entry.caption())
        step = f"{job.stage} ...  {job.elapsed:.1f} s"
        fs = 18.0 * self.win.font_scale
        tw, th = self.win.text_size(text, fs)
        tw = max(tw, self.win.text_size(step, fs)[0], 240 * self.win.ui_scale)
        pad = 16 * self.win.ui_scale
        bar_h = 6 * self.win.ui_scale
        box_h = 2 * th + bar_h + 2 * pad + 12 * self.win.ui_scale
        x0, y0 = fw / 2 - tw / 2 - pad, fh / 2 - box_h / 2
        dl = self.imgui.get_foreground_draw_list()
        dl.add_rect_filled(
            self.win.ui(x0, y0),
            self.win.ui(fw - x0, y0 + box_h),
            self.win.col(0.1, 0.1, 0.12, 0.92),
            6.0,
        )
        self.win.text(dl, x0 + pad, y0 + pad, text, self.win.col(1, 1, 1), fs)
        self.win.text(dl, x0 + pad, y0 + pad + th + 4, step, self.win.col(0.75, 0.75, 0.78), fs)
        # an indeterminate bar: a block sweeping across the track, one sweep a second
        by = y0 + pad + 2 * th + 12 * self.win.ui_scale
        bx0, bx1 = x0 + pad, fw - x0 - pad
        dl.add_rect_filled(
            self.win.ui(bx0, by), self.win.ui(bx1, by + bar_h), self.win.col(*LOADING_TRACK)
        )
        block = (bx1 - bx0) / 4
        t = (job.elapsed % 1.0) * (bx1 - bx0 + block) - block
        a, b = max(bx0, bx0 + t), min(bx1, bx0 + t + block)
        if b > a:
            dl.add_rect_filled(
                self.win.ui(a, by), self.win.ui(b, by + bar_h), self.win.col(0.35, 0.6, 1.0)
            )

    def _draw_fps(self, lay: Layout) -> None:
        imgui = self.imgui
        times = self.v._frame_times or [0.0]
        mean = sum(times) / len(times)
        fps = 1.0 / mean if mean > 0 else 0.0
        r = lay.toolbar
        imgui.set_next_window_pos(
            self.win.ui(r.x + r.w - 8, r.y + r.h + 8), 0, imgui.ImVec2(1.0, 0.0)
        )
        imgui.set_next_window_bg_alpha(0.7)
        wf = imgui.WindowFlags_
        flags = wf.no_decoration | wf.always_auto_resize | wf.no_inputs | wf.no_focus_on_appearing
        if imgui.begin("##fps", None, flags):
            imgui.text(f"{fps:5.1f} fps  ({mean * 1000:.1f} ms/frame)")
            imgui.text(
                f"3D render {self.v._last_3d_ms:.1f} ms" + ("  draft" if self.v.draft_3d else "")
            )
            imgui.text(f"GL: {self.win.ctx.info['GL_RENDERER']}")
        imgui.end()
