"""The load measurements: a generated CT series to NIfTI (ownscan vs dcm2niix, whole
processes) and in-process loading (time, peak memory against the volume), uncompressed and as
JPEG 2000 lossless (gdcmconv). Used by ``ownscan bench`` and ``benchmarks/bench_load.py``.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ownscan.core.bench._ctgen import write_ct_series

__all__ = ["Run", "generate", "in_process", "timed", "transcode_j2k", "whole_process"]


def generate(folder: Path, slices: int, size: int, cols: int | None = None) -> None:
    """A generated CT series of ``slices`` slices of ``size`` rows (and ``cols`` columns,
    default ``size``) in ``folder``, uncompressed (0.7 x 0.7 x 1 mm)."""
    write_ct_series(
        folder,
        n_slices=slices,
        rows=size,
        cols=cols or size,
        spacing=1.0,
        pixel_spacing=(0.7, 0.7),
        origin=(-180.0, -180.0, -200.0),
        seed=11,
    )


def transcode_j2k(src: Path, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    files = sorted(src.iterdir())

    def one(f: Path) -> None:
        subprocess.run(["gdcmconv", "--j2k", str(f), str(dst / f.name)], check=True)

    with ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        list(pool.map(one, files))


@dataclass
class Run:
    wall: float
    cpu: float  # user + system seconds of the process (and its decoding workers)
    maxrss_mib: float  # peak resident memory of the process itself


def timed(cmd: list[str]) -> Run:
    """Run ``cmd``; its wall time, CPU time and peak RSS from ``wait4`` (this child only)."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed with status {proc.returncode}")
    return Run(wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024)


def whole_process(
    src: Path, work: Path, runs: int, dcm2niix: bool = True
) -> tuple[Run, Run | None]:
    """``ownscan export --format nifti --uncompressed`` and (``dcm2niix``) dcm2niix on ``src``,
    alternated ``runs`` times: their median runs (None for dcm2niix when not run)."""
    ownscan = Path(sys.executable).with_name("ownscan")
    ours: list[Run] = []
    theirs: list[Run] = []
    for r in range(runs):
        o, d = work / f"o{r}", work / f"d{r}"
        cmd = [str(ownscan), "export", str(src), "--format", "nifti", "--output", str(o)]
        ours.append(timed([*cmd, "--uncompressed"]))
        shutil.rmtree(o)
        if dcm2niix:
            d.mkdir(parents=True)
            theirs.append(timed(["dcm2niix", "-z", "n", "-f", "%s_%d", "-o", str(d), str(src)]))
            shutil.rmtree(d)
    return _median(ours), (_median(theirs) if theirs else None)


def _median(runs: list[Run]) -> Run:
    return Run(
        statistics.median(r.wall for r in runs),
        statistics.median(r.cpu for r in runs),
        max(r.maxrss_mib for r in runs),
    )


def in_process(src: Path, runs: int) -> tuple[float, float, int]:
    from ownscan.core import assemble
    from ownscan.core._pixels import _is_shared

    times = []
    for _ in range(runs):  # timed without tracemalloc, which slows the header parsing 10x
        t = time.perf_counter()
        vol = assemble(src).series[0].load()
        times.append(time.perf_counter() - t)
        del vol
    tracemalloc.start()
    vol = assemble(src).series[0].load()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    nbytes = vol.nbytes
    if _is_shared(vol.voxels):  # decoded by forked workers into an mmap tracemalloc misses
        peak += nbytes
    return statistics.median(times), peak / nbytes, nbytes
