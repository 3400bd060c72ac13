"""Peak host memory of ``ownscan render`` and of the desktop viewer, each a whole process.

:func:`render_peak` runs the ``ownscan render`` command a user runs (the script beside this
Python) under the bench's small starter (``_load._SPAWN``: a fork of ``python -S`` whose
``wait4`` gives the peak RSS of the command alone), so the figure is the command's own:
reading the series, the scratch file its voxels go to, upload, the picture, the PNG. Its base
is a second process that only imports what the command imports before it reads the series.
:func:`view_peak` runs the viewer (:data:`_VIEW_CHILD`, a ``python -c`` program that imports
what ``ownscan view`` imports and nothing of the bench) the same way. (Before, both ran as
``python -m ownscan.core.bench._memory``, whose import of the bench package added some 17 MiB
to every figure.) ``python -m ownscan.core.bench._stages`` splits one render or view into
stages (docs/BENCH.md, Memory).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["json_child", "peak_rss_mib", "render_peak", "view_peak", "whole_process", "x_display"]


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
    return _json_of([sys.executable, "-m", module, *args], timeout_s, env)


def _json_of(
    cmd: list[str], timeout_s: float, env: dict[str, str] | None = None
) -> tuple[dict[str, Any], str]:
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


def whole_process(
    cmd: list[str], timeout_s: float, env: dict[str, str] | None = None
) -> tuple[float, int, str]:
    """Run ``cmd`` under the bench's starter: its peak RSS in MiB (``wait4`` of the program
    alone), exit status and output (stdout and stderr)."""
    from ownscan.core.bench._load import _SPAWN

    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "run"
        spawn = [sys.executable, "-S", "-c", _SPAWN, str(report), *cmd]
        try:
            done = subprocess.run(spawn, capture_output=True, text=True, timeout=timeout_s, env=env)
        except subprocess.TimeoutExpired:
            return 0.0, 124, f"no answer within {timeout_s:.0f} s"
        if not report.exists():
            return 0.0, done.returncode or 1, done.stdout + done.stderr
        maxrss_kib = float(report.read_text().split()[2])
    return maxrss_kib / 1024, done.returncode, done.stdout + done.stderr


def _result(
    peak: float, code: int, out: str, volume_bytes: int, base: dict[str, Any]
) -> dict[str, Any]:
    """The measurement: ``peak_mib``, ``base_mib``, ``volume_mib`` and the ``notes`` in the
    output, or ``error`` (the last line of the output) when the program failed."""
    if code != 0 or peak <= 0:
        tail = (out.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {code}: {tail}"}
    if "error" in base:
        return base
    notes = [line.split("note: ", 1)[1] for line in out.splitlines() if "note: " in line]
    fields = [line for line in out.splitlines() if line.startswith("{")]
    found = json.loads(fields[-1]) if fields else {}
    return {
        **found,
        "peak_mib": peak,
        "base_mib": base["base_mib"],
        "volume_mib": volume_bytes / 2**20,
        "notes": notes,
    }


# what the command has imported before it reads the series: its baseline
_RENDER_BASE = """
import json
from ownscan.core import cli
from ownscan.core.commands import render
import numpy, PIL.Image
from ownscan.core.plugin_host import get_host
from ownscan.core.render import create_renderer
get_host().mode("mip")
with open("/proc/self/status") as f:
    hwm = [int(line.split()[1]) for line in f if line.startswith("VmHWM:")][0]
print(json.dumps({"base_mib": hwm / 1024}))
"""


def render_peak(
    series: str | os.PathLike[str],
    volume_bytes: int,
    mode: str,
    backend: str,
    size: tuple[int, int],
    timeout_s: float = 900.0,
) -> dict[str, Any]:
    """Run ``ownscan render SERIES --mode MODE --backend BACKEND --size WxH`` as a whole
    process and return its measurement: ``peak_mib`` (its peak RSS), ``base_mib`` (a process
    that has imported what the command imports before it reads the series), ``volume_mib``
    (``volume_bytes``), ``notes`` (the command's notes); ``error`` instead when it failed."""
    from ownscan.core.bench._load import ownscan_command

    base, _ = json_child_code(_RENDER_BASE, 120.0)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [*ownscan_command(), "render", os.fspath(series), "-o", f"{tmp}/bench.png"]
        cmd += ["--mode", mode, "--backend", backend, "--size", f"{size[0]}x{size[1]}"]
        peak, code, out = whole_process(cmd, timeout_s)
    return _result(peak, code, out, volume_bytes, base)


def json_child_code(code: str, timeout_s: float) -> tuple[dict[str, Any], str]:
    """Run ``python -c code``: the last JSON line it printed (or ``{"error": why}``) and its
    stderr."""
    return _json_of([sys.executable, "-c", code], timeout_s)


# the viewer as ``ownscan view SERIES`` opens it, closed once the series is shown (its 3D view
# ready) and two more frames are drawn; prints the RSS before the series was read and the
# 3D view's mode. Nothing of the bench is imported.
_VIEW_CHILD = """
import json, sys
from ownscan.core import cli
from ownscan.core._heap import one_arena
one_arena()  # as cli.main does for ownscan view
import glfw
from ownscan.core.assembly import assemble
from ownscan.core.viewer import Viewer, ViewerOptions, entries_from_assembly
with open("/proc/self/status") as f:
    base = [int(line.split()[1]) for line in f if line.startswith("VmHWM:")][0] / 1024
w, h = (int(v) for v in sys.argv[2].split("x"))
entries = entries_from_assembly(assemble(sys.argv[1]))
with Viewer(entries, ViewerOptions(size=(w, h))) as viewer:
    viewer.wait_until_loaded(timeout=600)
    viewer.frame()
    viewer.frame()
    mode = viewer.mode
glfw.terminate()
print(json.dumps({"base_mib": base, "mode": mode}))
"""


def view_peak(
    series: str | os.PathLike[str],
    volume_bytes: int,
    size: tuple[int, int],
    display: str,
    timeout_s: float = 900.0,
) -> dict[str, Any]:
    """Peak RSS of the desktop viewer (``ownscan view``'s :class:`~ownscan.core.viewer.Viewer`)
    showing ``series`` in a ``size`` window on X ``display``, a whole process: opened, the
    series loaded (2D views, then the 3D view's shading), two frames drawn, closed. Keys as
    :func:`render_peak`'s (``base_mib``: its RSS before the series was read), and ``mode``:
    the 3D view's."""
    cmd = [sys.executable, "-c", _VIEW_CHILD, os.fspath(series), f"{size[0]}x{size[1]}"]
    peak, code, out = whole_process(cmd, timeout_s, dict(os.environ, DISPLAY=display))
    fields = [line for line in out.splitlines() if line.startswith("{")]
    base = json.loads(fields[-1]) if fields else {"error": "no output"}
    return _result(peak, code, out, volume_bytes, base)


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
