"""Peak host memory of ``ownscan render``, measured in a child process (its own peak RSS).

``python -m ownscan.core.bench._memory SERIES MODE BACKEND WxH`` runs the command itself
(``ownscan.core.cli.main(["render", SERIES, ...])``: reading the series, the scratch file its
voxels go to, upload, the picture, the PNG) and prints one JSON line: the peak RSS and the RSS
before the series was read (python and ownscan imported).
``python -m ownscan.core.bench._memory --view SERIES WxH`` does the same for the desktop
viewer (:func:`view_peak`).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["json_child", "peak_rss_mib", "render_peak", "view_peak", "x_display"]


def peak_rss_mib() -> float:
    """This process's peak resident memory so far, MiB: VmHWM where /proc has it (ru_maxrss
    keeps the parent's peak across fork and exec on Linux, so a child would report that)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 1024)


def json_child(
    module: str, args: list[str], timeout_s: float, env: dict[str, str] | None = None
) -> tuple[dict[str, Any], str]:
    """Run ``python -m module args`` in a child: the last JSON line it printed (or
    ``{"error": why}``) and its stderr."""
    cmd = [sys.executable, "-m", module, *args]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"no answer within {timeout_s:.0f} s"}, ""
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {done.returncode}: {tail}"}, done.stderr
    result: dict[str, Any] = json.loads(lines[-1])
    return result, done.stderr


def _measure(
    args: list[str], volume_bytes: int, timeout_s: float, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run this module with ``args`` in a child; its JSON line with ``volume_mib`` and the
    ``notes`` of its stderr, or ``error``."""
    result, stderr = json_child(__name__, args, timeout_s, env)
    if "error" not in result:
        result["volume_mib"] = volume_bytes / 2**20
        result["notes"] = [
            line.split("note: ", 1)[1] for line in stderr.splitlines() if "note: " in line
        ]
    return result


def render_peak(
    series: str | os.PathLike[str],
    volume_bytes: int,
    mode: str,
    backend: str,
    size: tuple[int, int],
    timeout_s: float = 900.0,
) -> dict[str, Any]:
    """Run ``ownscan render SERIES --mode MODE --backend BACKEND`` in a child and return its
    measurement: ``peak_mib``, ``base_mib`` (python and ownscan imported, before the series is
    read), ``volume_mib`` (``volume_bytes``), ``notes`` (its stderr notes); ``error`` instead
    when it failed."""
    args = [os.fspath(series), mode, backend, f"{size[0]}x{size[1]}"]
    return _measure(args, volume_bytes, timeout_s)


def view_peak(
    series: str | os.PathLike[str],
    volume_bytes: int,
    size: tuple[int, int],
    display: str,
    timeout_s: float = 900.0,
) -> dict[str, Any]:
    """Peak RSS of the desktop viewer (``ownscan view``'s :class:`~ownscan.core.viewer.Viewer`)
    showing ``series`` in a ``size`` window on X ``display``, in a child: opened, the series
    loaded (2D views, then the 3D view's shading), two frames drawn, closed. Keys as
    :func:`render_peak`'s, and ``mode``: the 3D view's."""
    args = ["--view", os.fspath(series), f"{size[0]}x{size[1]}"]
    return _measure(args, volume_bytes, timeout_s, dict(os.environ, DISPLAY=display))


@contextlib.contextmanager
def x_display() -> Iterator[str | None]:
    """An X display for the viewer: ``$DISPLAY`` when set, else a private Xvfb (when
    installed) on the first free display from :99 for as long as the block runs; None when
    there is neither."""
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    exe = shutil.which("Xvfb")
    if exe is None:
        yield None
        return
    for n in range(99, 120):
        if Path(f"/tmp/.X{n}-lock").exists() or Path(f"/tmp/.X11-unix/X{n}").exists():
            continue
        args = [exe, f":{n}", "-screen", "0", "1920x1080x24", "-nolisten", "tcp", "-noreset"]
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20.0
        while proc.poll() is None and time.monotonic() < deadline:
            if Path(f"/tmp/.X11-unix/X{n}").exists():
                break
            time.sleep(0.05)
        if proc.poll() is not None:  # taken meanwhile: the next one
            continue
        try:
            yield f":{n}"
        finally:
            proc.terminate()
            proc.wait()
        return
    yield None


def _view_child(series: str, size_text: str) -> None:
    import glfw

    from ownscan.core.assembly import assemble
    from ownscan.core.viewer import Viewer, ViewerOptions, entries_from_assembly

    w, h = (int(v) for v in size_text.split("x"))
    base = peak_rss_mib()
    entries = entries_from_assembly(assemble(series))
    with Viewer(entries, ViewerOptions(size=(w, h))) as viewer:
        viewer.wait_until_loaded(timeout=600)
        viewer.frame()
        viewer.frame()
        mode = viewer.mode
    glfw.terminate()
    print(json.dumps({"peak_mib": peak_rss_mib(), "base_mib": base, "mode": mode}))


def _child(series: str, mode: str, backend: str, size_text: str) -> None:
    import tempfile

    from ownscan.core.cli import main
    from ownscan.core.commands import render  # noqa: F401  (imported before the baseline)

    base = peak_rss_mib()
    with tempfile.TemporaryDirectory() as tmp:
        argv = ["render", series, "-o", os.path.join(tmp, "bench.png"), "--mode", mode]
        rc = main([*argv, "--backend", backend, "--size", size_text])
    if rc != 0:
        raise SystemExit(rc)
    print(json.dumps({"peak_mib": peak_rss_mib(), "base_mib": base}))


if __name__ == "__main__":
    if sys.argv[1] == "--view":
        _view_child(*sys.argv[2:4])
    else:
        _child(*sys.argv[1:5])
