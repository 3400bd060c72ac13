"""Where the memory of ``ownscan render`` goes: resident memory at each stage of one render.

``python -m ownscan.core.bench._stages SERIES [MODE] [WxH]`` runs the steps of
``ownscan render SERIES --mode MODE --backend gl`` one by one in this (fresh) process and
prints, after each, the resident memory from ``/proc/self/status``: VmRSS, the high-water mark
VmHWM (what the bench's memory part reports), and VmRSS split into anonymous memory
(``RssAnon``: the heap, numpy arrays, llvmpipe's textures and JIT code), file-backed pages
(``RssFile``: shared libraries' pages read so far, mapped files such as the scratch file of
the voxels) and shared memory (``RssShmem``). At the end the mappings holding the most
resident memory (``/proc/self/smaps``). The peak column is VmHWM within the stage (started
again from VmRSS at the end of the one before: ``/proc/self/clear_refs``). Every figure is
MiB; ``x vol`` is the stage's peak over the volume's bytes. The stages are the command's own,
in its order (docs/BENCH.md, Memory).

``python -m ownscan.core.bench._stages --view SERIES [WxH]`` samples the desktop viewer every
5 ms while it opens, loads (labelled with its loader's stage) and draws: the largest sample
per stage.

Running as ``-m ownscan.core.bench._stages`` imports the bench package first: every row is
some 20 MiB above the command's own (the bench's memory part measures the command itself,
:mod:`ownscan.core.bench._memory`); the differences between rows are the stages'.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

__all__ = ["pss_mib", "reset_peak", "status_mib", "top_mappings"]

_KEYS = ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem")


def status_mib() -> dict[str, float]:
    """``VmRSS``, ``VmHWM``, ``RssAnon``, ``RssFile``, ``RssShmem`` of this process, MiB
    (Linux; an empty dict elsewhere)."""
    out: dict[str, float] = {}
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        key, _, rest = line.partition(":")
        if key in _KEYS:
            out[key] = int(rest.split()[0]) / 1024
    return out


def pss_mib() -> float:
    """This process's proportional set size, MiB (``/proc/self/smaps_rollup``: each shared
    page divided among the processes mapping it; 0 where it is missing). RSS counts a shared
    library's pages in full in every process that maps them (libLLVM's some 50 MiB)."""
    try:
        for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def reset_peak() -> bool:
    """Start VmHWM again from the present VmRSS (``/proc/self/clear_refs``, Linux 4.0+), so
    that the next reading is the peak of what ran in between. False where it cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def top_mappings(n: int = 12) -> list[tuple[str, float, float]]:
    """The ``n`` mappings (summed by file; ``[anon]`` for anonymous ones, ``[heap]``...) with
    the most resident memory: name, Rss MiB, of which anonymous MiB."""
    rss: dict[str, float] = defaultdict(float)
    anon: dict[str, float] = defaultdict(float)
    name = "?"
    try:
        lines = Path("/proc/self/smaps").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        head = line.split()
        if not head:
            continue
        if "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
            name = head[5] if len(head) > 5 else "[anon]"
            name = name.rsplit("/", 1)[-1]
        elif head[0] == "Rss:":
            rss[name] += int(head[1]) / 1024
        elif head[0] == "Anonymous:":
            anon[name] += int(head[1]) / 1024
    top = sorted(rss, key=lambda k: -rss[k])[:n]
    return [(k, rss[k], anon[k]) for k in top]


def _stages(series: str, mode_name: str, size: tuple[int, int]) -> None:
    rows: list[tuple[str, dict[str, float], float]] = []
    t0 = time.perf_counter()

    def mark(stage: str) -> None:
        rows.append((stage, status_mib(), time.perf_counter() - t0))
        reset_peak()  # the next row's VmHWM: the peak within its own stage

    mark("python started")
    from ownscan.core import cli  # noqa: F401
    from ownscan.core.commands import render as render_command  # noqa: F401

    mark("CLI imported (the bench's base)")
    import numpy as np
    from PIL import Image

    from ownscan.core.plugin_host import get_host
    from ownscan.core.render import create_renderer, view_from_options

    mark("render's imports")
    host = get_host()
    mode = host.mode(mode_name)
    mark("plugins")
    renderer = create_renderer("gl")
    mark("GL context")
    from ownscan.core.assembly import assemble
    from ownscan.core.render._pages import load_file_backed

    found = assemble(series)
    chosen = max(found.series, key=lambda s: s.shape[0] * s.shape[1] * s.shape[2])
    mark("series read (headers)")
    volume = load_file_backed(chosen, 0)
    nbytes = volume.voxels.nbytes
    mark("voxels loaded")
    args = {"mode": mode.name}
    scene, camera = view_from_options(volume, args, host)
    mark("scene (window)")
    renderer.upload(volume)  # type: ignore[attr-defined]
    mark("uploaded")
    image = renderer.render(scene, camera, size)
    mark("first frame")
    Image.fromarray(np.ascontiguousarray(image[..., :3]), "RGB").save("/dev/null", format="PNG")
    mark("PNG written")
    print(f"{series}: {volume.describe()}, {nbytes / 2**20:.0f} MiB of voxels, {mode.name}")
    print("VmRSS and its split at the end of each stage; peak: VmHWM within the stage")
    print(f"{'stage':34} {'VmRSS':>7} {'peak':>7} {'anon':>7} {'file':>7} {'shmem':>6} x vol   s")
    for stage, st, sec in rows:
        print(
            f"{stage:34} {st.get('VmRSS', 0):7.0f} {st.get('VmHWM', 0):7.0f} "
            f"{st.get('RssAnon', 0):7.0f} {st.get('RssFile', 0):7.0f} "
            f"{st.get('RssShmem', 0):6.0f} {st.get('VmHWM', 0) * 2**20 / nbytes:5.2f} {sec:5.2f}"
        )
    peak = max(st.get("VmHWM", 0) for _, st, _ in rows)
    print(f"peak {peak:.0f} MiB, {peak * 2**20 / nbytes:.2f}x the volume; Pss now {pss_mib():.0f}")
    print("largest mappings now (MiB: resident, of which anonymous):")
    for name, rss, anon in top_mappings():
        print(f"  {name:40} {rss:7.1f} {anon:7.1f}")
    renderer.close()


def _view_stages(series: str, size: tuple[int, int]) -> None:
    """The viewer's stages: resident memory sampled every 5 ms on a thread while the window
    opens, the series loads (labelled by the loader's stage) and two frames are drawn; per
    stage the largest VmRSS seen, and the split of that sample."""
    import threading

    rows: dict[str, dict[str, float]] = {}
    label = ["python started"]
    jobs: list[Any] = []  # the viewer's loaders, to label samples with their stage
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            st = status_mib()
            now = label[0]
            if jobs and not jobs[-1].done:
                now = f"loader: {jobs[-1].stage}"
            best = rows.setdefault(now, st)
            if st.get("VmRSS", 0) > best.get("VmRSS", 0):
                rows[now] = st
            stop.wait(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    time.sleep(0.02)
    label[0] = "imports"
    import glfw

    from ownscan.core.assembly import assemble
    from ownscan.core.viewer import Viewer, ViewerOptions, _app, entries_from_assembly

    class Loader(_app.SeriesLoader):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            jobs.append(self)
            super().__init__(*args, **kwargs)

    _app.SeriesLoader = Loader  # type: ignore[misc]
    label[0] = "series read (headers)"
    entries = entries_from_assembly(assemble(series))
    label[0] = "window, upload, first frames"
    with Viewer(entries, ViewerOptions(size=size)) as viewer:
        viewer.wait_until_loaded(timeout=600)
        label[0] = "two frames"
        viewer.frame()
        viewer.frame()
        label[0] = "closing"
    glfw.terminate()
    stop.set()
    sampler.join()
    volume = entries[viewer.current].volume()
    nbytes = volume.voxels.nbytes
    print(f"{series}: {volume.describe()}, {nbytes / 2**20:.0f} MiB of voxels, ownscan view")
    print(f"{'stage (largest sample)':34} {'VmRSS':>7} {'VmHWM':>7} {'anon':>7} {'file':>7} x vol")
    for stage, st in rows.items():
        print(
            f"{stage:34} {st.get('VmRSS', 0):7.0f} {st.get('VmHWM', 0):7.0f} "
            f"{st.get('RssAnon', 0):7.0f} {st.get('RssFile', 0):7.0f} "
            f"{st.get('VmHWM', 0) * 2**20 / nbytes:5.2f}"
        )
    print(f"peak (VmHWM) {status_mib().get('VmHWM', 0):.0f} MiB")


if __name__ == "__main__":
    from ownscan.core._heap import one_arena

    one_arena()  # as cli.main does for render and view (core/_heap.py)
    argv = sys.argv[1:]
    if not argv:
        raise SystemExit(__doc__)
    if argv[0] == "--view":
        w, h = (int(v) for v in (argv[2] if len(argv) > 2 else "1280x800").split("x"))
        _view_stages(argv[1], (w, h))
        raise SystemExit(0)
    w, h = (int(v) for v in (argv[2] if len(argv) > 2 else "512x512").split("x"))
    _stages(argv[0], argv[1] if len(argv) > 1 else "mip", (w, h))
