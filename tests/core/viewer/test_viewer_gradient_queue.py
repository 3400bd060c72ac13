"""The viewer's gradient slabs wait in a bounded queue (``_gradient_queue.py``): a series
loads to the same shaded 3D picture however small the bound, the loader never holds more
than it, and a load the viewer drops (another series chosen, the window closed) stops
instead of waiting for ever for a window that no longer takes its slabs. Real windows
(Xvfb, the viewer tests' fixture)."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
from viewer_phantom import phantom

from ownscan.core.errors import OwnscanError
from ownscan.core.viewer import SeriesEntry, Viewer, ViewerOptions, _app, entries_from_volumes
from ownscan.core.viewer._loader import SeriesLoader
from ownscan.core.volume import SeriesInfo, Volume


def _entry(description: str, gate: threading.Event | None = None, n: int = 160) -> SeriesEntry:
    def load() -> Volume:
        if gate is not None and not gate.wait(120):
            raise OwnscanError("the test never let the series load")
        return phantom(n=n, description=description)

    return SeriesEntry(description, SeriesInfo(series_description=description), load)


def _loaders(monkeypatch: pytest.MonkeyPatch) -> list[SeriesLoader]:
    """Every loader the viewer starts, in order."""
    made: list[SeriesLoader] = []
    start = _app.Viewer._start_loading

    def recording(self: Viewer, index: int) -> SeriesLoader:
        made.append(start(self, index))
        return made[-1]

    monkeypatch.setattr(_app.Viewer, "_start_loading", recording)
    return made


def _shaded_picture(limit: int | None, monkeypatch: pytest.MonkeyPatch) -> tuple[np.ndarray, Any]:
    monkeypatch.setattr(_app, "QUEUE_BYTES", limit)
    made = _loaders(monkeypatch)
    with Viewer([_entry("ct")], ViewerOptions(size=(480, 360))) as v:
        assert v.mode == "dvr"  # shaded: the loader computes the gradient
        v.wait_until_loaded(timeout=120)
        v.frame()  # the 3D view's full picture (its first is the quick pass)
        shot = v.frame(capture=True)
        assert shot is not None
        return shot, made[0].gradient_queue


def test_a_one_byte_queue_gives_the_same_picture_one_slab_at_a_time(xvfb, monkeypatch):
    unbounded, q0 = _shaded_picture(None, monkeypatch)
    assert q0.waits == 0 and q0.most_bytes > 0  # the gradient was computed and written
    bounded, q1 = _shaded_picture(1, monkeypatch)
    # every slab after the first waited for the window to take the one before
    assert q1.waits > 0
    assert q1.most_bytes <= max(q0.most_bytes, 1)  # one slab at most (a slab passes alone)
    assert q1.held_bytes == 0
    np.testing.assert_array_equal(bounded, unbounded)


def test_a_dropped_load_stops_instead_of_waiting_for_the_window(xvfb, monkeypatch):
    monkeypatch.setattr(_app, "QUEUE_BYTES", 1)
    made = _loaders(monkeypatch)
    gate = threading.Event()
    entries = [*entries_from_volumes([phantom(n=16)]), _entry("slow", gate)]
    with Viewer(entries, ViewerOptions(size=(480, 360))) as v:
        v.request_series(1)
        job = made[-1]
        gate.set()
        assert job.wait_ready(120)
        job.gradient_queue.wait_full(120)  # no frame drawn: it waits at its second slab
        assert not job.done and job.gradient_queue.waits == 1
        v.select_series(0)  # the user went back: nobody takes its slabs any more
        assert job.wait(60), "the dropped loader still waits for the window"
        assert job.error is None and job.gradient_queue.cancelled
        assert v.current == 0 and not v.loading()


def test_closing_the_window_stops_its_load(xvfb, monkeypatch):
    monkeypatch.setattr(_app, "QUEUE_BYTES", 1)
    made = _loaders(monkeypatch)
    v = Viewer([_entry("ct")], ViewerOptions(size=(480, 360)))
    job = made[-1]
    job.gradient_queue.wait_full(120)
    assert not job.done
    v.close()
    assert job.wait(60), "the loader of a closed window still waits"


def test_selecting_the_series_being_loaded_writes_its_slabs_while_it_waits(xvfb, monkeypatch):
    """``select_series`` of the series the loader is making waits for it on this thread: with
    a one-byte queue the loader waits at every slab, so this must take them as they come."""
    monkeypatch.setattr(_app, "QUEUE_BYTES", 1)
    made = _loaders(monkeypatch)
    gate = threading.Event()
    entries = [*entries_from_volumes([phantom(n=16)]), _entry("slow", gate)]
    with Viewer(entries, ViewerOptions(size=(480, 360))) as v:
        v.request_series(1)
        job = made[-1]
        gate.set()
        v.select_series(1)  # returns once the loader is done: every slab written
        assert job.done and job.error is None and not job.gradient_queue.cancelled
        assert job.gradient_queue.waits > 0 and job.gradient_queue.held_bytes == 0
        assert v.current == 1 and not v.loading()
