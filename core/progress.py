"""How long work tells who is waiting how it goes, besides the terminal.

An exporter (built in or a third party's) counts its items through
``ownscan.plugins._output.progress`` or calls :func:`reporter` itself; whoever runs the export
(the viewer's Save on its thread) sets a callback with :func:`report_progress`. A context
variable carries it, so one export's progress never reaches another's, and the core needs no
import of any plugin to listen (tests/test_layering.py).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator

__all__ = ["ProgressCallback", "report_progress", "reporter"]

ProgressCallback = Callable[[int, int], None]
"""``callback(done, total)``: called with 0 first, then after each item."""

_reporter: contextvars.ContextVar[ProgressCallback | None] = contextvars.ContextVar(
    "ownscan_progress", default=None
)


@contextlib.contextmanager
def report_progress(callback: ProgressCallback) -> Iterator[None]:
    """While inside, work that counts its items calls ``callback(done, total)``."""
    token = _reporter.set(callback)
    try:
        yield
    finally:
        _reporter.reset(token)


def reporter() -> ProgressCallback | None:
    """The callback set by the innermost :func:`report_progress` of this context, or None."""
    return _reporter.get()
