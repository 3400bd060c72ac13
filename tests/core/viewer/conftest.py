"""Fixtures of the viewer tests: a private Xvfb display and small generated volumes.

The Xvfb server is started by the tests themselves (``-noreset``: without it the server resets
when its last client leaves and the next ``glfw.init()`` can fail) on a free display number,
and killed at the end. A missing Xvfb fails the tests: CI installs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from viewer_phantom import phantom

from ownscan.core.volume import Volume

DISPLAYS = range(70, 80)


def _start_xvfb(exe: str) -> tuple[subprocess.Popen[bytes], int]:
    """Start Xvfb on the first display of DISPLAYS that is free (another run may take one
    between the check and the start: then the next is tried)."""
    for n in DISPLAYS:
        if Path(f"/tmp/.X{n}-lock").exists() or Path(f"/tmp/.X11-unix/X{n}").exists():
            continue
        proc = subprocess.Popen(
            [exe, f":{n}", "-screen", "0", "1280x1024x24", "-nolisten", "tcp", "-noreset"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        socket = Path(f"/tmp/.X11-unix/X{n}")
        deadline = time.monotonic() + 20.0
        while proc.poll() is None and not socket.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if proc.poll() is None and socket.exists():
            return proc, n
        proc.kill()
        proc.wait()
    pytest.fail(f"Xvfb could not start on any display :{DISPLAYS.start}..:{DISPLAYS.stop - 1}")


@pytest.fixture(scope="session")
def xvfb() -> Iterator[str]:
    """A running Xvfb; yields its DISPLAY (also set in the environment while it runs)."""
    exe = shutil.which("Xvfb")
    if exe is None:
        pytest.fail("Xvfb is not installed (Debian package xvfb; see .ci/system-packages.txt)")
    proc, n = _start_xvfb(exe)
    old = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = f":{n}"
    try:
        yield f":{n}"
    finally:
        if old is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = old
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def phantom_ct() -> Volume:
    return phantom()
