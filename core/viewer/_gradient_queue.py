"""The gradient slabs between the series loader's thread and the window's: a bounded queue.

The loader computes the shaded 3D view's gradient texels slab by slab on its thread; only the
window's thread may write them into the texture (GL work). It takes them once per frame, and a
frame comes every 50-100 ms while a series loads, so an unbounded queue held what the loader
made in between: up to 24 MiB of slabs for a 512x512x300 CT or the 77 MiB head MR (measured
in ``ownscan view``, docs/BENCH.md, Memory), on top of the textures at the viewer's peak.

:class:`GradientQueue` holds at most ``limit_bytes`` (one slab more than that never: a slab
larger than the limit waits for an empty queue). A producer that would exceed it calls
``wake`` (``glfw.post_empty_event``: the window's thread leaves its wait and draws a frame,
which takes the slabs) and waits until they are taken, so the loader goes on as soon as the
window has written them. :meth:`GradientQueue.cancel` (the viewer dropped the load, or closed)
ends every wait and makes :meth:`GradientQueue.put` refuse, so a loader nobody reads from any
more stops instead of waiting for ever. Without a limit it is the unbounded queue it replaces
(the comparison's prior and direct users of the loader).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

__all__ = ["QUEUE_BYTES", "GradientQueue"]

# What the viewer lets wait between two frames: 8 MiB is ten or more slabs of a 512x512 CT's
# gradient (0.75 MiB each), more than the loader makes while one frame is drawn, so it seldom
# waits at all (docs/BENCH.md, Memory: the time to the shaded 3D view did not grow).
QUEUE_BYTES = 8 << 20

Part = tuple[int, npt.NDArray[np.int8]]


class GradientQueue:
    """Slabs ``(g0, texels)`` in order, from one producer thread to one consumer thread.

    Parameters
    ----------
    limit_bytes
        Most bytes of texels held (None: no limit).
    wake
        Called (on the producer's thread, under the queue's lock) when the producer must
        wait for the consumer: it should make the consumer take the slabs soon. Not called
        after :meth:`cancel`.
    """

    def __init__(
        self, limit_bytes: int | None = None, wake: Callable[[], None] | None = None
    ) -> None:
        self.limit_bytes = limit_bytes
        self._wake = wake
        self._parts: deque[Part] = deque()
        self._bytes = 0
        self._cancelled = False
        self._closed = False
        self._producer_waits = False
        self._changed = threading.Condition()
        self.waits = 0  # how often the producer had to wait (tests, measurements)
        self.most_bytes = 0  # the most bytes held at once

    @property
    def held_bytes(self) -> int:
        """Bytes of texels waiting now."""
        return self._bytes

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def _full_for(self, nbytes: int) -> bool:
        limit = self.limit_bytes
        return limit is not None and self._bytes > 0 and self._bytes + nbytes > limit

    def put(self, part: Part) -> bool:
        """Queue ``part``, first waiting while it would exceed the limit. False (nothing
        queued) once cancelled."""
        nbytes = int(part[1].nbytes)
        with self._changed:
            if self._full_for(nbytes) and not self._cancelled:
                self.waits += 1
                if self._wake is not None:
                    self._wake()
                self._producer_waits = True
                self._changed.notify_all()  # a consumer waiting in wait_full
                while self._full_for(nbytes) and not self._cancelled:
                    self._changed.wait()
                self._producer_waits = False
            if self._cancelled:
                return False
            self._parts.append(part)
            self._bytes += nbytes
            self.most_bytes = max(self.most_bytes, self._bytes)
            return True

    def take(self) -> list[Part]:
        """Every slab queued so far, in order (the producer may go on)."""
        with self._changed:
            parts = list(self._parts)
            self._parts.clear()
            self._bytes = 0
            self._producer_waits = False  # it may go on now (wait_full waits for the next)
            self._changed.notify_all()
        return parts

    def close(self) -> None:
        """The producer has ended: a consumer's :meth:`wait_full` returns."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def cancel(self) -> None:
        """Nobody takes the slabs any more: drop them, end the producer's wait, refuse more."""
        with self._changed:
            self._cancelled = True
            self._parts.clear()
            self._bytes = 0
            self._changed.notify_all()

    def wait_full(self, timeout: float) -> None:
        """Wait (at most ``timeout`` seconds) until the producer waits for the consumer or
        has ended."""
        with self._changed:
            if self._closed or self._cancelled or self._producer_waits:
                return
            self._changed.wait(timeout)
