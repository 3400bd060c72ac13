"""Peak host memory of one render, measured in a child process (its own peak RSS).

``python -m ownscan.core.bench._memory SPEC MODE BACKEND WxH`` generates the CT of ``SPEC``
(:func:`~ownscan.core.bench._render.bench_volume`), draws one picture as ``ownscan render``
does (:func:`~ownscan.core.render.create_renderer`) and prints one JSON line: the peak RSS, the
RSS before the volume existed (python, imports) and the volume's own bytes.
"""

from __future__ import annotations

import json
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
    spec: str, mode: str, backend: str, size: tuple[int, int], timeout_s: float = 900.0
) -> dict[str, Any]:
    """Run the child and return its measurement: ``peak_mib``, ``base_mib`` (before the
    volume), ``volume_mib``, ``renderer``; ``error`` instead when the child failed."""
    cmd = [sys.executable, "-m", __name__, spec, mode, backend, f"{size[0]}x{size[1]}"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"error": f"no answer within {timeout_s:.0f} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {done.returncode}: {tail}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _child(spec: str, mode: str, backend: str, size_text: str) -> None:
    import warnings

    from ownscan.core.bench._render import _scene, bench_volume
    from ownscan.core.render import RenderNote, create_renderer

    w, h = (int(v) for v in size_text.split("x"))
    renderer = create_renderer(backend, quiet=True)
    _scene(bench_volume("8x8x8"), mode)  # the plugin host and modes: before the baseline
    base = peak_rss_mib()
    volume = bench_volume(spec)
    scene, cam = _scene(volume, mode)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RenderNote)  # in renderer.notes
        renderer.render(scene, cam, (w, h))
    result = {
        "peak_mib": peak_rss_mib(),
        "base_mib": base,
        "volume_mib": volume.nbytes / 2**20,
        "renderer": renderer.name,
        "notes": list(renderer.notes),
    }
    renderer.close()
    print(json.dumps(result))


if __name__ == "__main__":
    _child(*sys.argv[1:5])
