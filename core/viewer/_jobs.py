"""Work on a thread while the window draws: the shape the viewer's background jobs share.

:class:`Job` is the base: a daemon thread running :meth:`Job.work`, a ``stage`` for people
("reading the images"...), the exception it ended with handed to the window's thread
(``error``), and ``done`` / ``elapsed`` / ``wait`` for the window's thread to poll. The series
loader (``_loader.SeriesLoader``) and the comparison (``_compare.CompareJob``) are jobs; the
PDF pages of the report panel and the save dialog use the simpler :class:`ThreadJob` (one
function's result).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Job", "ThreadJob"]

T = TypeVar("T")


class Job:
    """Runs :meth:`work` on a daemon thread named ``name``, once :meth:`start` is called (a
    subclass calls it at the end of its ``__init__``, its attributes set).

    ``stage`` says what it does now (``"done"`` once ended); ``error`` is the exception it
    ended with, for the window's thread to report or raise.
    """

    def __init__(self, name: str, stage: str = "") -> None:
        self.started = time.monotonic()
        self.stage = stage
        self.error: Exception | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def work(self) -> None:
        """The job itself (on the job's thread)."""
        raise NotImplementedError

    def _ended(self) -> None:
        """Called on the job's thread when it ends, before :attr:`done` becomes true."""

    def _run(self) -> None:
        try:
            self.work()
        except Exception as exc:  # handed to the window's thread
            self.error = exc
        finally:
            self.stage = "done"
            self._ended()
            self._done.set()

    @property
    def done(self) -> bool:
        """The job has ended (also after a failure: see :attr:`error`)."""
        return self._done.is_set()

    @property
    def elapsed(self) -> float:
        """Seconds since the job started."""
        return time.monotonic() - self.started

    def wait(self, timeout: float | None = None) -> bool:
        """Block until done (at most ``timeout`` seconds); True when done."""
        return self._done.wait(timeout)


class ThreadJob(Generic[T]):
    """Runs ``work()`` on a daemon thread: ``result`` once ``finished``, or ``error`` (any
    exception, handed to the window's thread, which reports or raises it). Not a :class:`Job`:
    a subclass may count its progress in ``done`` (``_save.SaveJob``)."""

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
