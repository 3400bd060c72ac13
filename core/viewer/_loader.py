"""Loading a series off the UI thread.

Decoding a series takes seconds; the window must keep drawing meanwhile. A
:class:`SeriesLoader` runs the CPU half of showing a series on a worker thread: decode the
pixels (``SeriesEntry.volume()``), quantise them as the
:class:`~ownscan.core.render.GpuVolume` will hold them (``prepare_volume`` with the same
limits: cached with the volume, so the upload finds it) and, for shaded 3D modes, the gradient
texels slab by slab. The GL half (the texture uploads) stays on the window's thread, which
polls the loader every frame: it shows the 2D views as soon as :attr:`SeriesLoader.ready`,
writes the gradient slabs computed so far into the texture (the whole gradient texture never
waits in memory) and shows the 3D view once :attr:`SeriesLoader.done`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from ownscan.core.render._gpu import gradient_fits, volume_limits
from ownscan.core.render._pages import is_released, read_copy, release_pages
from ownscan.core.render._setup import gradient_layout, gradient_slabs, prepare_volume
from ownscan.core.viewer._gradient_queue import GradientQueue
from ownscan.core.viewer._jobs import Job
from ownscan.core.viewer._sources import SeriesEntry
from ownscan.core.volume import Volume

__all__ = ["SeriesLoader"]

log = logging.getLogger(__name__)


class SeriesLoader(Job):
    """Decodes and prepares one series on a daemon thread (started at once).

    Parameters
    ----------
    index
        The entry's index in the viewer's list.
    entry
        The series.
    max_texture, memory_budget
        The GPU's limits, as the renderer's :class:`~ownscan.core.render.GpuVolume` uses them
        (so its upload finds the prepared volume in the cache).
    gradient
        Also compute the gradient texels (the 3D view shows a shaded mode).
    queue_bytes, wake
        At most ``queue_bytes`` of gradient texels wait for the window's thread; ``wake``
        makes it take them when full (:class:`~ownscan.core.viewer._gradient_queue.GradientQueue`).
        None: no limit (a caller that takes the slabs only at the end).
    """

    def __init__(
        self,
        index: int,
        entry: SeriesEntry,
        max_texture: int,
        memory_budget: int,
        gradient: bool,
        queue_bytes: int | None = None,
        wake: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(f"ownscan-load-{index}", "reading the images")
        self.index = index
        self.entry = entry
        self.volume: Volume | None = None
        # the gradient's slabs, computed here, taken by the window's thread as they come
        self.gradient_queue = GradientQueue(queue_bytes, wake)
        self.shown = False  # set by the viewer once the 2D views show it
        self._max_texture = max_texture
        self._budget = memory_budget
        self._want_gradient = gradient
        self._ready = threading.Event()
        self.start()

    def work(self) -> None:
        volume = self.entry.volume()
        prepared = None
        held: npt.NDArray[np.uint16] | None = None  # the gradient's source (see below)
        if volume.samples == 1:  # colour volumes are uploaded as they are
            self.stage = "preparing"
            limits = volume_limits(self._max_texture, volume.shape)  # as GpuVolume's
            prepared = prepare_volume(volume, limits, self._budget)
            # quantised here, off the window's thread (the upload then only copies it);
            # a file-backed volume's copy is file-backed too, its pages let go as written
            # and again behind the upload and the gradient: not resident beside the texture
            data = prepared.data
            # The gradient below reads its slabs from a file-backed copy through this
            # reference of its own: the window's thread forgets the copy right after its
            # upload (release_data), and prepared.slab would then quantise every slab again
            # from the voxels (a float32 temporary of each slab in flight, and the CPU of a
            # whole quantisation pass). A file-backed copy holds no memory (its slabs are
            # read with preadv, none of its pages mapped); an in-memory copy is not kept
            # (it would stay resident beside the texture).
            held = data if is_released(data) else None
            del data
        self.volume = volume
        self._ready.set()
        if prepared is not None and self._want_gradient and gradient_fits(prepared, self._budget):
            self.stage = "preparing 3D"
            # slab by slab: the window's thread writes each into the texture (take_gradient),
            # so the whole texel array never waits in memory
            read: list[npt.NDArray[np.uint16]] = []  # the slabs the last part read

            def slab(k0: int, k1: int) -> npt.NDArray[np.uint16]:
                if held is not None:  # the same numbers as prepared.slab gives from it
                    return read_copy(held[k0:k1])
                read.append(prepared.slab(k0, k1))
                return read[-1]

            for part in gradient_slabs(gradient_layout(prepared), slab):
                if not self.gradient_queue.put(part):
                    break  # cancelled: nobody writes the slabs any more
                while read:  # a file-backed quantised volume: its pages let go again
                    release_pages(read.pop())
            # the slabs are made a few ahead on the pool's threads (gradient_slabs), so one
            # let go above may have been read again after; all of them are done now. Not
            # `prepared.data`: the window's thread forgets the copy after its upload
            # (release_data), and reading the property then quantised the whole volume again
            # into a new scratch file, only to let its pages go (docs/BENCH.md, Memory)
            prepared.release_data_pages()

    def _ended(self) -> None:
        self._ready.set()  # a failure too: the window's thread then sees the error
        self.gradient_queue.close()

    def cancel(self) -> None:
        """The viewer no longer shows this load: its gradient slabs are dropped and it stops
        making more (a bounded queue would otherwise keep it waiting for ever)."""
        self.gradient_queue.cancel()

    def wait_busy(self, timeout: float) -> None:
        """Block until done, until gradient slabs wait for the window's thread (the queue is
        full), or ``timeout`` seconds."""
        self.gradient_queue.wait_full(timeout)

    def take_gradient(self) -> list[tuple[int, npt.NDArray[np.int8]]]:
        """The gradient slabs ``(g0, texels)`` computed since the last call, in order (for
        :meth:`~ownscan.core.render.GpuVolume.write_gradient_slab`); all of them once
        :attr:`done`."""
        return self.gradient_queue.take()

    @property
    def ready(self) -> bool:
        """The volume is decoded and prepared (or loading failed: see :attr:`error`)."""
        return self._ready.is_set()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until :attr:`ready` (or ``timeout`` seconds); True when ready."""
        return self._ready.wait(timeout)
