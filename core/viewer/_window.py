"""The viewer's window: a glfw window with its OpenGL context (moderngl) and imgui.

:class:`ViewerWindow` knows nothing of series or views. It opens the window (an EGL context,
see below), attaches moderngl and imgui (Roboto fonts, HiDPI scales), answers the framebuffer
and window sizes, converts framebuffer pixels to imgui's coordinates, draws outlined text,
reads the back buffer for screenshots, and releases all of it in the right order.

HiDPI: layout and GL work in framebuffer pixels, cursor positions arrive in window coordinates
(:func:`~ownscan.core.viewer.window_to_fb`); panels and text scale with the monitor's content
scale, and imgui rasterises its fonts at the framebuffer density.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ownscan.core.errors import OwnscanError

__all__ = ["ViewerError", "ViewerWindow"]

log = logging.getLogger(__name__)


class ViewerError(OwnscanError):
    """The viewer cannot start (no display, no OpenGL 3.3, imgui-bundle missing)."""


class _Loader:
    """moderngl asks this for GL functions; glfw knows them for the window's context."""

    def load_opengl_function(self, name: str) -> int:
        import glfw

        return int(glfw.get_proc_address(name) or 0)

    def release(self) -> None:
        pass


def _ensure_imgui() -> Any:
    # The window's context is made through EGL (see _create_window), so PyOpenGL, which
    # read_back uses (imported then only), must call EGL too. It picks its platform at first
    # import.
    os.environ["PYOPENGL_PLATFORM"] = "egl"
    try:
        return _native_imgui()
    except Exception as exc:  # another layout of imgui-bundle: the package as a whole
        log.debug("imgui-bundle's imgui module alone: %s; importing the package", exc)
    try:
        from imgui_bundle import imgui
    except ImportError as exc:  # pragma: no cover - a dependency of ownscan
        raise ViewerError("the viewer needs imgui-bundle: pip install imgui-bundle") from exc
    return imgui


def _native_imgui() -> Any:
    """imgui-bundle's ``imgui`` module, loaded without the package's Python ``__init__``.

    The viewer uses the native ``imgui`` module (and its C++ OpenGL 3 renderer) only. The
    package's ``__init__`` also imports its Python helpers for the other libraries of the
    bundle (immapp and its asyncio runner, notebook and Pyodide patches: some 165 modules),
    which held about 11.5 MiB of the viewer's resident memory (docs/BENCH.md, Memory). So
    the extension is loaded under a stand-in for the package, which is taken out of
    ``sys.modules`` again at once: a later ``import imgui_bundle`` (a plugin, a test) runs
    the real ``__init__`` over the same extension and gets the same ``imgui``. The GLFW
    library that pip's glfw loads is chosen as the package does
    (``_glfw_set_search_path``). A package imported before is used as it is; anything
    unexpected (another layout of the bundle) raises, and the caller imports the package."""
    import importlib
    import importlib.util
    import sys
    import types

    whole = sys.modules.get("imgui_bundle")
    if whole is not None:  # imported already: its own imgui
        return whole.imgui
    spec = importlib.util.find_spec("imgui_bundle")  # finds, runs nothing
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("no imgui_bundle package")
    stand_in = types.ModuleType("imgui_bundle")
    stand_in.__path__ = list(spec.submodule_search_locations)
    stand_in.__file__ = spec.origin
    sys.modules["imgui_bundle"] = stand_in
    try:
        native = importlib.import_module("imgui_bundle._imgui_bundle")
        if "with_glfw" in native.__bundle_submodules_available__:
            search = importlib.import_module("imgui_bundle._glfw_set_search_path")
            search._glfw_set_search_path()
        return native.imgui
    finally:
        if sys.modules.get("imgui_bundle") is stand_in:
            del sys.modules["imgui_bundle"]


def _bundle_folder() -> Path:
    """imgui-bundle's folder (its fonts), found without importing the package."""
    import importlib.util

    spec = importlib.util.find_spec("imgui_bundle")
    if spec is None or spec.origin is None:  # pragma: no cover - imported before this
        raise ViewerError("the viewer needs imgui-bundle: pip install imgui-bundle")
    return Path(spec.origin).parent


class ViewerWindow:
    """A glfw window with an OpenGL 3.3 core context and an imgui context (several may be
    open; glfw is terminated with the last).

    ``size`` (screen coordinates) and ``title`` are :class:`~ownscan.core.viewer.ViewerOptions`'.

    Raises
    ------
    ViewerError
        No display, no OpenGL 3.3 context, or imgui-bundle missing.
    """

    _open_windows = 0  # glfw is terminated when the last window closes

    def __init__(self, size: tuple[int, int], title: str) -> None:
        self.imgui = _ensure_imgui()
        import glfw
        import moderngl

        self.glfw = glfw
        self.handle = self._create_window(size, title)
        moderngl.init_context(loader=_Loader())
        self.ctx: moderngl.Context = moderngl.get_context()
        self._init_imgui()
        self._released = False

    def _on_glfw_error(self, code: int, description: bytes | str) -> None:
        text = (
            description.decode(errors="replace") if isinstance(description, bytes) else description
        )
        self._glfw_errors.append(str(text))
        log.debug("glfw error %s: %s", code, text)

    def _create_window(self, size: tuple[int, int], title: str) -> Any:
        glfw = self.glfw
        # glfw's errors become the message of ViewerError (and debug log lines), not warnings
        self._glfw_errors: list[str] = []
        glfw.set_error_callback(self._on_glfw_error)
        if not glfw.init():
            why = self._glfw_errors[-1] if self._glfw_errors else "no reason given"
            raise ViewerError(
                "cannot open a window: glfw failed to initialise "
                f"(DISPLAY={os.environ.get('DISPLAY', 'unset')}): {why}; without a screen, "
                "`ownscan render SOURCE -o picture.png` draws a picture, or run the viewer "
                "as `xvfb-run ownscan view ...` (with --screenshot PATH)"
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
        # no depth or stencil buffer: nothing drawn into the window tests depth or stencil
        # (the views are quads, the 3D view a picture drawn into its own target, imgui needs
        # neither); llvmpipe kept a 4-byte-a-pixel one in host memory (4 MiB at 1280x800)
        glfw.window_hint(glfw.DEPTH_BITS, 0)
        glfw.window_hint(glfw.STENCIL_BITS, 0)
        w, h = size
        win = glfw.create_window(w, h, title, None, None)
        if not win:
            if ViewerWindow._open_windows == 0:
                glfw.terminate()
            why = self._glfw_errors[-1] if self._glfw_errors else "no reason given"
            raise ViewerError(f"cannot open a window with an OpenGL 3.3 core context: {why}")
        glfw.make_context_current(win)
        glfw.swap_interval(1)
        ViewerWindow._open_windows += 1
        return win

    def _init_imgui(self) -> None:
        imgui = self.imgui
        from ownscan.core.viewer._imgui_native import NativeRenderer

        self.imgui_ctx = imgui.create_context()
        io = imgui.get_io()
        io.set_ini_filename("")  # no imgui.ini next to the user's files
        fonts = _bundle_folder() / "assets" / "fonts"
        cs = self.glfw.get_window_content_scale(self.handle)
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
        # imgui's C++ OpenGL 3 renderer: no PyOpenGL on the way (_imgui_native.py)
        self.imgui_renderer = NativeRenderer(self.handle, self.glfw, imgui)

    # -- each frame ----------------------------------------------------------------------------
    def make_current(self) -> None:
        """Make this window's GL context and imgui context current (several windows may be open)."""
        self.glfw.make_context_current(self.handle)
        self.imgui.set_current_context(self.imgui_ctx)

    def begin_ui(self) -> None:
        """Start imgui's frame (after the GL drawing of the images)."""
        self.imgui_renderer.process_inputs()
        self.imgui.new_frame()

    def end_ui(self) -> None:
        """Draw what imgui was given this frame."""
        self.imgui.render()
        self.imgui_renderer.render(self.imgui.get_draw_data())

    def swap(self) -> None:
        self.glfw.swap_buffers(self.handle)

    def set_title(self, title: str) -> None:
        self.glfw.set_window_title(self.handle, title)

    @property
    def close_requested(self) -> bool:
        return bool(self.glfw.window_should_close(self.handle))

    @close_requested.setter
    def close_requested(self, value: bool) -> None:
        self.glfw.set_window_should_close(self.handle, value)

    # -- sizes -----------------------------------------------------------------------------------
    _sizes: tuple[tuple[int, int], tuple[int, int]] | None = None

    def _query_sizes(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """Framebuffer and window size, asked once and then kept until the window changes
        (glfw's queries are round trips to the display server: 100 per frame added up)."""
        if self._sizes is None:
            fw, fh = self.glfw.get_framebuffer_size(self.handle)
            ww, wh = self.glfw.get_window_size(self.handle)
            self._sizes = ((int(fw), int(fh)), (int(ww), int(wh)))
        return self._sizes

    def sizes_changed(self) -> None:
        """The framebuffer or window size changed (glfw's callbacks): ask again."""
        self._sizes = None

    def on_resize(self, width: int, height: int) -> None:
        """The window was resized to ``width`` x ``height`` screen coordinates."""
        self._sizes = None
        self.imgui_renderer.resize_callback(self.handle, width, height)

    @property
    def fb_size(self) -> tuple[int, int]:
        """Framebuffer size in pixels (what GL draws and screenshots hold)."""
        return self._query_sizes()[0]

    @property
    def window_size(self) -> tuple[int, int]:
        """Window size in screen coordinates (what cursor positions are in)."""
        return self._query_sizes()[1]

    def ui(self, x: float, y: float) -> Any:
        """Framebuffer pixel -> imgui coordinates (window coordinates)."""
        fw, fh = self.fb_size
        ww, wh = self.window_size
        return self.imgui.ImVec2(x * ww / max(1, fw), y * wh / max(1, fh))

    # -- text ----------------------------------------------------------------------------------
    def col(self, r: float, g: float, b: float, a: float = 1.0) -> int:
        return int(self.imgui.get_color_u32(self.imgui.ImVec4(r, g, b, a)))

    def text(self, dl: Any, x: float, y: float, text: str, col: int, size: float = 15.0) -> None:
        """Text with a dark outline, readable on any image (coordinates in fb pixels)."""
        imgui = self.imgui
        p = self.ui(x, y)
        shadow = self.col(0, 0, 0, 0.85)
        for ox, oy in ((1, 1), (-1, 1), (1, -1), (-1, -1)):
            dl.add_text(self.font, size, imgui.ImVec2(p.x + ox, p.y + oy), shadow, text)
        dl.add_text(self.font, size, p, col, text)

    def text_size(self, text: str, size: float) -> tuple[float, float]:
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

    def item_rect(self) -> tuple[float, float, float, float]:
        """Where imgui drew its last item: ``(x0, y0, x1, y1)`` in framebuffer pixels (panels
        remember their controls' places with it, for scripts and tests)."""
        a, b = self.imgui.get_item_rect_min(), self.imgui.get_item_rect_max()
        return self.fb_rect(a.x, a.y, b.x, b.y)

    def fb_rect(
        self, x0: float, y0: float, x1: float, y1: float
    ) -> tuple[float, float, float, float]:
        """An imgui rectangle (window points) in framebuffer pixels."""
        fw, fh = self.fb_size
        ww, wh = self.window_size
        sx, sy = fw / max(1, ww), fh / max(1, wh)
        return (x0 * sx, y0 * sy, x1 * sx, y1 * sy)

    def fit_text(self, text: str, width: float, size: float) -> str:
        """``text`` cut with an ellipsis to fit ``width`` framebuffer pixels."""
        if self.text_size(text, size)[0] <= width:
            return text
        while len(text) > 1 and self.text_size(text + "…", size)[0] > width:
            text = text[:-1]
        return text + "…"

    # -- screenshots -----------------------------------------------------------------------------
    def read_back(self) -> npt.NDArray[np.uint8]:
        """What the window shows: the back buffer, read after the UI is drawn and before the
        swap, ``(height, width, 3)`` uint8, top row first."""
        import OpenGL.GL as gl

        fw, fh = self.fb_size
        self.ctx.finish()
        gl.glReadBuffer(gl.GL_BACK)
        gl.glPixelStorei(gl.GL_PACK_ALIGNMENT, 1)
        data = gl.glReadPixels(0, 0, fw, fh, gl.GL_RGB, gl.GL_UNSIGNED_BYTE)
        img = np.frombuffer(data, dtype=np.uint8).reshape(fh, fw, 3)
        return np.ascontiguousarray(img[::-1])

    @staticmethod
    def save_png(image: npt.NDArray[np.uint8], path: Path, said: Sequence[str] = ()) -> None:
        """Write the RGB ``image`` to ``path`` as PNG (folders made as needed), ``said`` (the
        shown series' warnings, :func:`ownscan.core.recorded.recorded_warnings`) in its
        ``Warning`` text chunk, as every PNG ownscan writes of a series."""
        from ownscan.core.recorded import png_bytes

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png_bytes(np.ascontiguousarray(image), said))

    def release(self) -> None:
        """Release imgui, the GL context and the window (after every GL object made in it)."""
        if self._released:
            return
        self._released = True
        self.make_current()
        self.imgui_renderer.shutdown()
        self.imgui.destroy_context(self.imgui_ctx)
        self.ctx.release()
        self.glfw.destroy_window(self.handle)
        ViewerWindow._open_windows -= 1
        if ViewerWindow._open_windows == 0:
            self.glfw.terminate()
