"""Stepping through a series' pictures and playing them as a film (cine).

Three kinds of series have pictures to step through besides slices:

- ``"frames"``: a multi-frame image without a place in the patient (an ultrasound or X-ray
  angiography cine, grey or colour). Its frames are the slices of one Volume, shown in one
  pane; a frame is chosen by moving the view's cursor onto it (no upload).
- ``"images"``: several single images of one series (radiographs, secondary captures, single
  slices). Each is its own Volume, of its own size: showing one uploads it.
- ``"volumes"``: the volumes of a 4D series (time points, cardiac phases, diffusion
  directions...). They share one geometry, so the views keep their slices, zoom, window and
  3D camera and only the data change: a volume is uploaded when shown.

Images and volumes come from a :class:`~ownscan.core.viewer._stack.Stack`, which decodes each
when first shown and keeps a few (see its docstring for why not all). While a cine plays, the
next picture is decoded ahead on the stack's thread, and the film advances when it is ready
(one picture per tick: no picture is skipped, even where decoding is slower than the film).

Speed: a multi-frame image plays at the rate its header gives (Recommended Display Frame Rate,
else Frame Time, else Cine Rate; read by ``ownscan.core.dicom``), cardiac phases in real time
from their trigger delays, anything else at :data:`DEFAULT_FPS`; the user can change it.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from ownscan.core.errors import OwnscanError
from ownscan.core.viewer._stack import Stack
from ownscan.core.volume import Volume

if TYPE_CHECKING:
    from ownscan.core.viewer._app import Viewer
    from ownscan.core.viewer._layout import Rect

__all__ = ["DEFAULT_FPS", "Cine", "stack_rate"]

log = logging.getLogger(__name__)

DEFAULT_FPS = 10.0
"""Frames per second when nothing says how fast a series was acquired or is to be shown."""
MAX_FPS = 60.0

# the DICOM attribute a frame rate came from, as the speed control's tooltip names it
_RATE_WORDS = {
    "RecommendedDisplayFrameRate": "Recommended Display Frame Rate (0008,2144)",
    "FrameTime": "Frame Time (0018,1063)",
    "FrameTimeVector": "Frame Time Vector (0018,1065), its mean",
    "CineRate": "Cine Rate (0018,0040)",
}


def stack_rate(stack: Stack) -> tuple[float, str]:
    """How fast a stack plays, and why: cardiac phases in real time (from their trigger
    delays), anything else at :data:`DEFAULT_FPS` (a 2 s fMRI repetition shown in real time
    would look still)."""
    dim = stack.dimension
    if dim is not None and dim.name == "cardiac phase" and dim.unit == "ms":
        known = [v for v in dim.values if v is not None]
        steps = np.diff(np.asarray(known, dtype=np.float64))
        steps = steps[steps > 0]
        if steps.size:
            fps = float(np.clip(1000.0 / float(np.median(steps)), 1.0, MAX_FPS))
            return fps, "real time, from the trigger delays"
    return DEFAULT_FPS, "default speed"


class Cine:
    """The picture shown of a series' frames, images or volumes, and the film playing them.

    Parameters
    ----------
    viewer
        The viewer whose series and views this steps through.
    """

    def __init__(self, viewer: Viewer) -> None:
        self.v = viewer
        self.kind = ""  # "", "frames", "images", "volumes"
        self.count = 1
        self.stack: Stack | None = None
        self.playing = False
        self.fps = DEFAULT_FPS
        self.fps_source = ""
        self._index = 0
        self._due = 0.0  # when the film shows its next picture (time.monotonic)

    # -- which series ------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        """The series shown has pictures to step through (the controls are shown)."""
        return self.kind != "" and self.count > 1

    def attach(self) -> None:
        """The viewer now shows another series: find what it steps through (stopped, first
        picture)."""
        entry, volume = self.v.entry, self.v.view.volume
        if self.stack is not None and self.stack is not entry.stack:
            self.stack.trim()  # the series left keeps its first picture only (in its entry)
        self.playing = False
        self._index = 0
        self.stack = None
        self.kind, self.count = "", 1
        stack = entry.stack
        if stack is not None and stack.count > 1:
            self.kind, self.count, self.stack = stack.kind, stack.count, stack
            stack.prepare = self._preparer()
            self.fps, self.fps_source = stack_rate(stack)
            stack.decode_ahead(1)
        elif volume.extra.get("kind") == "frames" and volume.shape[0] > 1:
            self.kind, self.count = "frames", volume.shape[0]
            rate = volume.extra.get("frame_rate")
            if rate:
                self.fps = float(np.clip(rate[0], 0.1, MAX_FPS))
                self.fps_source = "from " + _RATE_WORDS.get(rate[1], rate[1])
            else:
                self.fps, self.fps_source = DEFAULT_FPS, "default speed (no frame rate in the file)"
            self.go(0)

    def _preparer(self) -> Any:
        """Quantise a picture decoded ahead as the GPU upload will want it (on the stack's
        thread), so that showing it is only a copy; as the series loader does."""
        renderer = self.v._raycast.renderer
        max_texture, budget = renderer.max_texture, renderer.memory_budget

        def prepare(volume: Volume) -> None:
            from ownscan.core.render._gpu import volume_limits
            from ownscan.core.render._setup import prepare_volume

            if volume.samples == 1:
                prepare_volume(volume, volume_limits(max_texture, volume.shape), budget).data  # noqa: B018

        return prepare

    # -- the picture shown -------------------------------------------------------------------
    @property
    def index(self) -> int:
        """The picture shown (0-based): for frames, the one under the view's cursor."""
        if self.kind == "frames":
            vol = self.v.view.volume
            k = float(vol.lps_to_index(self.v.view.cursor_lps)[2])
            return int(np.clip(round(k), 0, self.count - 1))
        return self._index

    def caption(self) -> str:
        """The picture shown, in words: ``"frame 3/120"``, ``"image 2/5"``,
        ``"volume 3/60 · b=1000 s/mm2"``, ``"phase 2/3 · 120 ms"``; "" when there is none."""
        if not self.active:
            return ""
        if self.stack is not None:
            return self.stack.caption(self.index)
        return f"frame {self.index + 1}/{self.count}"

    def go(self, index: int) -> bool:
        """Show picture ``index`` (clamped). False when it could not be decoded (the user is
        told; the picture shown stays)."""
        index = int(np.clip(index, 0, self.count - 1))
        view = self.v.view
        if self.kind == "frames":
            vol = view.volume
            _nz, ny, nx = vol.shape
            view.cursor_lps = vol.index_to_lps([(nx - 1) / 2.0, (ny - 1) / 2.0, float(index)])
            return True
        if self.stack is None or index == self._index:
            return self.stack is not None
        try:
            volume = self.stack.get(index)
        except (OwnscanError, ValueError, OSError) as exc:  # say so, keep showing the last one
            log.error("cannot show %s: %s", self.stack.caption(index), exc)
            self.v._flash(f"cannot show {self.stack.caption(index)}: {exc}", seconds=10.0)
            self.playing = False
            return False
        self._show(volume)
        self._index = index
        return True

    def _show(self, volume: Volume) -> None:
        """Put ``volume`` on screen: upload it; the views keep their state when the geometry
        is the same (the volumes of a 4D series, images of one size and place)."""
        from ownscan.core.viewer._state import SeriesView

        v = self.v
        old = v.view.volume
        v._gpu_volume = v._raycast.renderer.upload(volume)
        v._raycast.key = None  # a new picture, whatever the ids of the textures
        same = old.shape == volume.shape and np.allclose(old.affine, volume.affine, atol=1e-4)
        if same and (self.kind == "volumes" or old.samples == volume.samples):
            v.view.volume = volume
            if self.kind == "images":  # each image its own window, unless the user set one
                v.view.auto_window = w = volume.default_window()
                if v.view.window_name != "custom":
                    v.view.set_window(w.name, w.width, w.level)
        else:
            v.view = SeriesView(volume)

    def step(self, delta: int, wrap: bool = False) -> bool:
        """Show the picture ``delta`` after (before, when negative) the one shown."""
        if not self.active:
            return False
        new = self.index + delta
        new = new % self.count if wrap else int(np.clip(new, 0, self.count - 1))
        shown = self.go(new)
        if shown and self.stack is not None and new + 1 < self.count:
            self.stack.decode_ahead(new + 1)  # the user goes on this way, probably
        return shown

    def scroll(self, view: str, steps: float) -> bool:
        """The wheel or the arrow keys over ``view``: True when they step through frames or
        images (down: the next one, as a page reads) rather than move a slice."""
        if self.kind not in ("frames", "images") or view not in self.v.view.views:
            return False
        n = round(steps) or (1 if steps > 0 else -1)
        self.step(-n)
        self.v.input._touch()
        return True

    # -- the film ----------------------------------------------------------------------------
    def toggle(self) -> None:
        """Play or pause."""
        if not self.active:
            return
        self.playing = not self.playing
        self._due = time.monotonic()

    def tick(self) -> None:
        """Called every frame: show the next picture when it is due (and decoded)."""
        if not self.playing or not self.active:
            return
        now = time.monotonic()
        if now < self._due:
            return
        nxt = (self.index + 1) % self.count
        if self.stack is not None and self.stack.cached(nxt) is None:
            self.stack.decode_ahead(nxt)  # the film waits for it
            return
        if not self.go(nxt):
            return
        # a moving picture: the 3D view draws its quick pass while the film plays, and
        # refines the picture it stops on
        self.v.input._touch()
        # one picture per tick at most: every frame is shown, even on a slow machine
        self._due = max(self._due + 1.0 / self.fps, now)
        if self.stack is not None:
            self.stack.decode_ahead((nxt + 1) % self.count)

    def time_to_next(self) -> float | None:
        """Seconds until the film wants a frame drawn, or None when it is not playing."""
        if not self.playing or not self.active:
            return None
        return max(0.0, self._due - time.monotonic())

    # -- controls ----------------------------------------------------------------------------
    def draw_bar(self, rect: Rect) -> None:
        """The bar under the images: Play/Pause, a slider through the pictures, the speed."""
        imgui = self.v.imgui
        win = self.v.win
        wf = imgui.WindowFlags_
        imgui.set_next_window_pos(win.ui(rect.x, rect.y))
        p0, p1 = win.ui(rect.x, rect.y), win.ui(rect.x + rect.w, rect.y + rect.h)
        imgui.set_next_window_size(imgui.ImVec2(p1.x - p0.x, p1.y - p0.y))
        flags = (
            wf.no_title_bar
            | wf.no_move
            | wf.no_resize
            | wf.no_collapse
            | wf.no_saved_settings
            | wf.no_scrollbar
        )
        k = win.font_scale
        if imgui.begin("##cine", None, flags):
            if imgui.button(
                ("Pause" if self.playing else "Play") + "##cine", imgui.ImVec2(60 * k, 0)
            ):
                self.toggle()
            if imgui.is_item_hovered():
                imgui.set_tooltip(f"play the {self._noun()}s one after the other, as a film (C)")
            imgui.same_line()
            width = p1.x - p0.x
            imgui.set_next_item_width(max(80.0 * k, width - 330.0 * k))
            changed, value = imgui.slider_int(
                "##picture", self.index + 1, 1, self.count, self.caption()
            )
            if changed:
                self.playing = False
                self.go(int(value) - 1)
            if imgui.is_item_hovered():
                imgui.set_tooltip(f"which {self._noun()} is shown (Left / Right arrow keys)")
            imgui.same_line()
            imgui.set_next_item_width(150.0 * k)
            changed_f, fps = imgui.slider_float(
                "##speed", self.fps, 1.0, MAX_FPS, "%.0f per second"
            )
            if changed_f:
                self.fps = float(fps)
            if imgui.is_item_hovered():
                imgui.set_tooltip(f"speed of the film; {self.fps_source}")
        imgui.end()

    def _noun(self) -> str:
        if self.kind == "volumes" and self.stack is not None and self.stack.dimension is not None:
            return "phase" if self.stack.dimension.name == "cardiac phase" else "volume"
        return {"frames": "frame", "images": "image"}.get(self.kind, "volume")
