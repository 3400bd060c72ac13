"""Benchmark: 4D series -> one 4D NIfTI, ownscan vs dcm2niix (wall time and peak RSS).

Usage::

    python benchmarks/bench_4d.py [--size 96] [--slices 60] [--volumes 100] [--runs 3]

Generates an fMRI-like series with ``tests/core/fourdgen.py`` (one file per slice and volume,
volumes told apart by AcquisitionTime only, as many scanners write them), then runs
``ownscan export SRC --format nifti --uncompressed`` and ``dcm2niix -z n -f %s_%d``
alternately, ``--runs`` times each, each under ``/usr/bin/time -f %M`` for the peak resident
memory; prints the medians and their ratio. The issue's sizes are 96x96x60x100 (6,000 files)
and, for a multi-phase CT, ``--size 512 --slices 300 --volumes 3``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "core"))


def _timed(cmd: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of ``cmd``."""
    t0 = time.perf_counter()
    r = subprocess.run(
        ["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed:\n{r.stdout}\n{r.stderr}")
    return wall, int(r.stderr.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--slices", type=int, default=60)
    ap.add_argument("--volumes", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    from fourdgen import write_4d_series

    tmp = Path(tempfile.mkdtemp(prefix="bench4d-"))
    try:
        src = tmp / "src"
        write_4d_series(
            src, n_vols=args.volumes, n_slices=args.slices, rows=args.size, cols=args.size
        )
        ownscan = str(Path(sys.executable).with_name("ownscan"))
        res: dict[str, list[tuple[float, int]]] = {"ownscan": [], "dcm2niix": []}
        for n in range(args.runs):
            for name in ("ownscan", "dcm2niix"):
                out = tmp / f"{name}{n}"
                out.mkdir()
                if name == "ownscan":
                    cmd = [ownscan, "export", str(src), "--format", "nifti", "--uncompressed",
                           "-o", str(out)]  # fmt: skip
                else:
                    cmd = ["dcm2niix", "-z", "n", "-f", "%s_%d", "-o", str(out), str(src)]
                res[name].append(_timed(cmd))
                shutil.rmtree(out)
        shape = f"{args.size}x{args.size}x{args.slices}x{args.volumes}"
        print(f"{shape} ({args.slices * args.volumes} files), medians of {args.runs} runs")
        med = {k: (statistics.median(w for w, _ in v), statistics.median(m for _, m in v))
               for k, v in res.items()}  # fmt: skip
        for k, (w, m) in med.items():
            print(f"  {k:9s} {w:7.2f} s  peak RSS {m / 1024:7.1f} MiB")
        print(
            f"  ownscan / dcm2niix: time {med['ownscan'][0] / med['dcm2niix'][0]:.2f}, "
            f"memory {med['ownscan'][1] / med['dcm2niix'][1]:.2f}"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
