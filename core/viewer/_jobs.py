"""Work on a thread while the window draws: the shape the viewer's background jobs share."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["ThreadJob"]

T = TypeVar("T")


class ThreadJob(Generic[T]):
    """Runs ``work()`` on a daemon thread: ``result`` once ``finished``, or ``error`` (any
    exception, handed to the window's thread, which reports or raises it)."""

    def __init__(self, work: Callable[[], T], name: str) -> None:
        self.result: T | None = None
        self.error: BaseException | None = None
        self._finished = threading.Event()
        self._work = work
        self._thread = threading.Thread(target=self._run, daemon=True, name=name)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.result = self._work()
        except BaseException as exc:  # handed to the window's thread
            self.error = exc
        finally:
            self._finished.set()

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until finished (at most ``timeout`` seconds); True when it is."""
        return self._finished.wait(timeout)
