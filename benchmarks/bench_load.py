"""Benchmark: a DICOM series in each transfer syntax -> uncompressed NIfTI, ownscan beside
dcm2niix and SimpleITK, and in-process loading.

Usage::

    python benchmarks/bench_load.py [--slices 400] [--size 512] [--runs 5]
        [--syntaxes uncompressed,jpeg2000,...] [--keep DIR]

The measuring is the ``load`` part of ``ownscan bench`` (:func:`ownscan.core.bench._suite.
load_rows`, :mod:`ownscan.core.bench._load`); this script runs it on one size and prints its
rows. The generated CT (the HU phantom of ownscan.core.bench._ctgen: body, lungs, spine, noise;
int16 stored values) is written uncompressed once and transcoded by real encoders (gdcmconv:
JPEG 2000, JPEG-LS, JPEG lossless, RLE; ojph_compress: HTJ2K), each checked to carry its
transfer syntax and to decode to the uncompressed series' voxels. For each syntax:

* whole process: ``ownscan export SRC --format nifti --uncompressed``, ``dcm2niix -z n`` and
  SimpleITK's ImageSeriesReader writing NIfTI (``python -m ownscan.core.bench._sitk``),
  alternated, ``--runs`` times each; medians, their peak RSS, ratio best peer / ownscan;
  a tool that cannot read a syntax (dcm2niix: JPEG-LS, HTJ2K) gets a row saying why;
* in process: ``assemble(SRC).series[0].load()`` time (median of ``--runs``), and, in one more
  run under tracemalloc, the peak of Python/numpy memory against the volume (a volume decoded
  by worker processes into shared memory, which tracemalloc misses, is added).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from ownscan.core.bench import SYNTAXES, with_ratios
from ownscan.core.bench._load import generate
from ownscan.core.bench._suite import load_rows, markdown


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slices", type=int, default=400)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--syntaxes", default=",".join(SYNTAXES), help="comma-separated")
    ap.add_argument("--keep", type=Path, help="generate into (or reuse) DIR/raw")
    args = ap.parse_args()
    syntaxes = [s.strip() for s in args.syntaxes.split(",") if s.strip()]
    unknown = set(syntaxes) - set(SYNTAXES)
    if unknown:
        sys.exit(f"bench_load: unknown syntax {sorted(unknown)}; valid: {', '.join(SYNTAXES)}")
    root = args.keep or Path(tempfile.mkdtemp(prefix="ownscan-bench-"))
    spec = f"{args.size}x{args.size}x{args.slices}"
    try:
        if not (root / "raw").is_dir():
            print(f"generating {spec} CT in {root / 'raw'} ...", flush=True)
            generate(root / "raw", args.slices, args.size)
        rows = with_ratios(load_rows(spec, root, args.runs, print, syntaxes))
        print(
            f"\n{spec} CT, medians of {args.runs} runs, {os.cpu_count()} CPU(s), "
            f"load average {os.getloadavg()[0]:.1f}\n"
        )
        print(markdown(rows))
        print(
            "(ratio = best peer's wall time / the row's: above 1 is faster than the best peer; "
            "x volume = tracemalloc peak of the in-process load over the volume's bytes)"
        )
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
