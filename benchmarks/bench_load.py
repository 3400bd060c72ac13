"""Benchmark: DICOM series -> uncompressed NIfTI, ownscan vs dcm2niix, and in-process loading.

Usage::

    python benchmarks/bench_load.py [--slices 400] [--size 512] [--runs 5] [--keep DIR]

Generates a realistic CT series (the HU phantom of tests/core/ctgen.py: body, lungs, spine,
noise; int16 stored values) once uncompressed and once as JPEG 2000 lossless (gdcmconv --j2k,
two processes), then for each:

* whole process: ``ownscan export SRC --format nifti --uncompressed`` and
  ``dcm2niix -z n -f %s_%d``, alternated, ``--runs`` times each; medians;
* in process: ``assemble(SRC).series[0].load()`` time (median of ``--runs // 2``), and, in one
  more run under tracemalloc, the peak of Python/numpy memory (this process; decoding workers
  hold a frame or two each) against the volume;
  a volume decoded by worker processes lives in shared memory (an mmap tracemalloc does not
  see), so its bytes are added to that peak.

Prints a table with the ratios ownscan / dcm2niix and peak / volume.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "core"))


def generate(folder: Path, slices: int, size: int) -> None:
    from ctgen import write_ct_series

    write_ct_series(
        folder,
        n_slices=slices,
        rows=size,
        cols=size,
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


def whole_process(src: Path, work: Path, runs: int) -> tuple[Run, Run]:
    ownscan = Path(sys.executable).with_name("ownscan")
    ours: list[Run] = []
    theirs: list[Run] = []
    for r in range(runs):
        o, d = work / f"o{r}", work / f"d{r}"
        d.mkdir(parents=True)
        ours.append(
            timed(
                [
                    str(ownscan),
                    "export",
                    str(src),
                    "--format",
                    "nifti",
                    "--output",
                    str(o),
                    "--uncompressed",
                ]
            )
        )
        theirs.append(timed(["dcm2niix", "-z", "n", "-f", "%s_%d", "-o", str(d), str(src)]))
        shutil.rmtree(o)
        shutil.rmtree(d)
    return _median(ours), _median(theirs)


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slices", type=int, default=400)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--keep", type=Path, help="generate into (or reuse) this folder")
    args = ap.parse_args()
    for tool in ("dcm2niix", "gdcmconv"):
        if not shutil.which(tool):
            sys.exit(f"bench_load: {tool} is not installed")
    root = args.keep or Path(tempfile.mkdtemp(prefix="ownscan-bench-"))
    raw, j2k = root / "raw", root / "j2k"
    try:
        if not raw.is_dir():
            print(f"generating {args.size}x{args.size}x{args.slices} CT in {raw} ...", flush=True)
            generate(raw, args.slices, args.size)
        if not j2k.is_dir():
            print("transcoding to JPEG 2000 lossless (gdcmconv --j2k) ...", flush=True)
            transcode_j2k(raw, j2k)
        rows = []
        for name, src in (("uncompressed", raw), ("JPEG 2000 lossless", j2k)):
            work = Path(tempfile.mkdtemp(prefix="ownscan-bench-out-"))
            try:
                ours, theirs = whole_process(src, work, args.runs)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            load_t, peak, nbytes = in_process(src, max(1, args.runs // 2))
            rows.append((name, ours, theirs, load_t, peak, nbytes))
        print()
        print(
            f"{args.size}x{args.size}x{args.slices} CT, medians of {args.runs} runs, "
            f"{os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f}"
        )
        head = (
            f"{'data':<19} {'ownscan wall':>12} {'dcm2niix':>9} {'ratio':>6} "
            f"{'ownscan cpu':>11} {'dcm2niix':>9} {'RSS MiB o/d':>12} "
            f"{'load()':>8} {'peak/vol':>8}"
        )
        print(head)
        print("-" * len(head))
        for name, ours, theirs, load_t, peak, _ in rows:
            print(
                f"{name:<19} {ours.wall:>10.2f} s {theirs.wall:>7.2f} s "
                f"{ours.wall / theirs.wall:>6.2f} {ours.cpu:>9.2f} s {theirs.cpu:>7.2f} s "
                f"{ours.maxrss_mib:>6.0f}/{theirs.maxrss_mib:<5.0f} {load_t:>6.2f} s "
                f"{peak:>8.2f}"
            )
        print(
            f"(volume {rows[0][5] / 2**20:.0f} MiB int16. ratio = ownscan / dcm2niix wall "
            "time; targets: uncompressed <= 1.0, JPEG 2000 <= 0.6, peak/volume < 1.5. "
            "load() = assemble + Series.load in process; peak/vol = tracemalloc peak of "
            "that call over the volume's bytes)"
        )
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
