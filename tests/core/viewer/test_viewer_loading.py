"""Loading a series off the UI thread: the window keeps drawing (and says what it loads), the
shown series keeps answering input, and the loaded series appears by itself.

The loaders here wait on an event the test sets, so what the window does *while* a series
loads is checked without any timing assumption.
"""

from __future__ import annotations

import threading
import time

import glfw
import numpy as np
import pytest
from PIL import ImageGrab
from viewer_phantom import phantom

from ownscan.core.errors import OwnscanError
from ownscan.core.viewer import SeriesEntry, Viewer, ViewerOptions, entries_from_volumes
from ownscan.core.viewer._panels import LOADING_TRACK
from ownscan.core.volume import SeriesInfo, Volume

# the loading box's progress track in 8 bits, as imgui rounds it (x * 255 + 0.5)
TRACK = tuple(int(c * 255 + 0.5) for c in LOADING_TRACK)


def _track_pixels(img: np.ndarray) -> int:
    return int((img[..., :3] == TRACK).all(axis=-1).sum())


def _gated(gate: threading.Event, description: str, n: int = 24) -> SeriesEntry:
    def load() -> Volume:
        if not gate.wait(120):
            raise OwnscanError("the test never let the series load")
        return phantom(n=n, description=description)

    return SeriesEntry(description, SeriesInfo(series_description=description), load)


def test_another_series_loads_while_the_window_keeps_drawing(xvfb: str) -> None:
    gate = threading.Event()
    entries = [*entries_from_volumes([phantom(n=16)]), _gated(gate, "slow one")]
    with Viewer(entries, ViewerOptions(size=(640, 480))) as v:
        before = v.frame(capture=True)
        assert _track_pixels(before) == 0
        v.request_series(1)
        loading = [v.frame(capture=True) for _ in range(3)]  # frames go on while it loads
        assert v.current == 0 and v.loading()
        for img in loading:  # each says so: the box with its progress track
            assert _track_pixels(img) > 100
        # the shown series still answers: a key scrolls its first view
        position = v.view.slice_position("axial")
        v.on_key(glfw.KEY_UP, glfw.PRESS, 0)
        assert v.view.slice_position("axial") != position
        gate.set()
        v.wait_until_loaded(timeout=120)
        assert v.current == 1 and v.view.volume.info.series_description == "slow one"
        shot = v.frame(capture=True)
        assert _track_pixels(shot) == 0
        lay = v.layout()
        for name in ("axial", "3d"):  # the new series is drawn, 3D included
            r = lay.views[name]
            assert shot[r.y + 40 : r.y + r.h - 40, r.x + 40 : r.x + r.w - 40].std() > 10, name


def test_the_series_asked_for_last_is_the_one_shown(xvfb: str) -> None:
    first, second = threading.Event(), threading.Event()
    entries = [
        *entries_from_volumes([phantom(n=16)]),
        _gated(first, "first asked"),
        _gated(second, "asked last"),
    ]
    with Viewer(entries, ViewerOptions(size=(480, 360))) as v:
        v.request_series(1)
        v.request_series(2)  # while 1 loads: 2 follows, 1 is not shown
        first.set()
        second.set()
        v.wait_until_loaded(timeout=120)
        assert v.current == 2 and v.view.volume.info.series_description == "asked last"


def test_the_first_series_loads_while_the_window_shows_progress(xvfb: str) -> None:
    """The window opens at once and draws the loading box until the first series is ready
    (seen on the X server's screen from inside the loader, while it is still loading)."""
    seen: list[int] = []

    def load() -> Volume:
        deadline = time.monotonic() + 60  # gives up (and the test fails) rather than hang
        while time.monotonic() < deadline:
            count = _track_pixels(np.asarray(ImageGrab.grab(xdisplay=xvfb)))
            if count > 100:
                seen.append(count)
                break
            time.sleep(0.1)
        return phantom(n=24, description="first")

    entry = SeriesEntry("first", SeriesInfo(series_description="first"), load)
    with Viewer([entry], ViewerOptions(size=(480, 360))) as v:
        assert seen, "the window showed no progress while the first series loaded"
        assert v.view.volume.info.series_description == "first"
        v.wait_until_loaded(timeout=120)
        assert _track_pixels(v.frame(capture=True)) == 0


def test_a_first_series_that_fails_to_load_raises(xvfb: str) -> None:
    def broken() -> Volume:
        raise OwnscanError("IM0001: not decodable")

    entry = SeriesEntry("bad", SeriesInfo(series_description="bad"), broken)
    with pytest.raises(OwnscanError, match="not decodable"):
        Viewer([entry], ViewerOptions(size=(320, 240)))
