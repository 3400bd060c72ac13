"""The GL made ready while a series' voxels load.

A series' header gives its size, spacing and samples before any voxel is decoded, so what
the first frame needs that does not depend on the voxels, the GL context (EGL, 50-250 ms on
llvmpipe) and the mode's program, can be made while they load. The load runs on a thread of
its own (its decoding on the decode threads, which let go of the GIL); the GL work stays on
the calling thread, where the context is current and where every later frame is drawn.

Nothing is made twice and no picture changes: the renderer is the one the caller draws with,
and the program is kept under the key its frames look it up by (a volume that turns out
otherwise after loading compiles its own). The texture's storage is *not* made ahead: on
llvmpipe it is host memory the GL clears at once, and the decoded voxels stay resident
until the load ends (the scratch file's pages are let go then), so storage made during the
load would hold the volume twice, above the render path's memory bound (docs/RENDER.md).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ownscan.core.assembly import Series
    from ownscan.core.render._backend import Renderer
    from ownscan.core.render._scene import VisualisationMode
    from ownscan.core.volume import Volume

__all__ = ["load_while_ready"]


def load_while_ready(
    series: Series,
    index: int,
    make_renderer: Callable[[], Renderer],
    mode: VisualisationMode,
    shading: bool = True,
    load: Callable[[Series, int], Volume] | None = None,
) -> tuple[Volume, Renderer | None]:
    """Volume ``index`` of ``series`` (file-backed, :func:`~ownscan.core.render._pages.
    load_file_backed`) and the renderer ``make_renderer()`` made meanwhile, with the program
    of ``mode`` compiled for the series' size (GL renderers only). ``load``: what loads it
    instead of ``load_file_backed`` (the bench times the load's end through it).

    Returns
    -------
    volume, renderer
        The renderer is None when making it failed: the caller makes it again after the load,
        so that its error comes where it came before (after the load's own errors).

    Raises
    ------
    Exception
        Whatever the load raised (the renderer made meanwhile closed first).
    """
    from ownscan.core.render._pages import load_file_backed

    loader = load or load_file_backed
    loaded: list[Volume] = []
    failed: list[BaseException] = []

    def work() -> None:
        try:
            loaded.append(loader(series, index))
        except BaseException as exc:  # raised again on the caller's thread
            failed.append(exc)

    # a daemon: Ctrl-C on the caller's thread ends the command without waiting for the load
    worker = threading.Thread(target=work, name="ownscan-load", daemon=True)
    worker.start()
    renderer = _ready_renderer(series, make_renderer, mode, shading)
    try:
        worker.join()
        if failed:
            raise failed[0]
    except BaseException:
        if renderer is not None:
            renderer.close()
        raise
    return loaded[0], renderer


def _ready_renderer(
    series: Series,
    make_renderer: Callable[[], Renderer],
    mode: VisualisationMode,
    shading: bool,
) -> Renderer | None:
    """``make_renderer()`` with ``mode``'s program compiled for ``series`` (a GL renderer
    and a grey series); None when it failed (made again, and its error shown, after the
    load)."""
    try:
        renderer = make_renderer()
    except Exception:  # made again after the load, where its error is shown
        return None
    from ownscan.core.render._gl import GLRenderer

    if isinstance(renderer, GLRenderer) and series.samples == 1 and len(series.shape) == 3:
        z, y, x = series.shape
        sx, sy, sz = series.spacing
        # a program that fails to compile fails again at the frame, which shows the error
        with contextlib.suppress(Exception):
            renderer.compile_ahead(mode, (z, y, x), (sx, sy, sz), shading)
    return renderer
