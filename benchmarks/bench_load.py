"""Benchmark: DICOM series -> uncompressed NIfTI, ownscan vs dcm2niix, and in-process loading.

Usage::

    python benchmarks/bench_load.py [--slices 400] [--size 512] [--runs 5] [--keep DIR]

The measuring is :mod:`ownscan.core.bench._load` (also a part of ``ownscan bench``).
Generates a realistic CT series (the HU phantom of ownscan.core.bench._ctgen: body, lungs, spine,
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
import sys
import tempfile
from pathlib import Path

from ownscan.core.bench._load import generate, in_process, transcode_j2k, whole_process


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
                ours, maybe = whole_process(src, work, args.runs)
                assert maybe is not None  # dcm2niix is checked for above
                theirs = maybe
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
