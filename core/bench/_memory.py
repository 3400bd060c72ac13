"""Peak host memory of ``ownscan render``, measured in a child process (its own peak RSS).

``python -m ownscan.core.bench._memory SERIES MODE BACKEND WxH`` runs the command itself
(``ownscan.core.cli.main(["render", SERIES, ...])``: reading the series, the scratch file its
voxels go to, upload, the picture, the PNG) and prints one JSON line: the peak RSS and the RSS
before the series was read (python and ownscan imported).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from typing import Any

__all__ = ["peak_rss_mib", "render_peak"]


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
    cmd = [sys.executable, "-m", __name__, os.fspath(series), mode, backend]
    cmd.append(f"{size[0]}x{size[1]}")
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"error": f"no answer within {timeout_s:.0f} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {done.returncode}: {tail}"}
    result: dict[str, Any] = json.loads(lines[-1])
    result["volume_mib"] = volume_bytes / 2**20
    result["notes"] = [
        line.split("note: ", 1)[1] for line in done.stderr.splitlines() if "note: " in line
    ]
    return result


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
    _child(*sys.argv[1:5])
