"""Bytes on the wire for ``GET /api/series/UID/voxels``: shuffled gzip vs plain gzip vs raw.

For the real head MR (../shared/data/studyforrest-t1w, through ``load_volume``) and a generated
CT (tests/core/ctgen.py's phantom slices: body, lungs, spine, liver, 12 HU noise; 512x512 by
default), both levels (0: full, 1: the 2x preview), prints the gzip stream's size as a fraction
of the raw voxels and the time to make it, for the server's encoding (``encoded_chunks``: byte
shuffle + gzip level 1) and for what it was chosen against (no shuffle; gzip level 6).

Run: ``python benchmarks/bench_serve_wire.py [--ct-slices 300] [--ct-size 512]``.
"""

from __future__ import annotations

import argparse
import sys
import time
import zlib
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "core"))
sys.path.insert(0, str(REPO / "tests"))

from ctgen import ct_phantom_slice  # noqa: E402

from ownscan.core.serve import downsample2, encoded_chunks  # noqa: E402


def _measure(name: str, voxels: np.ndarray) -> None:
    raw = voxels.nbytes
    rows = []
    for label, level, shuffle in (
        ("shuffle + gzip 1 (served)", 1, True),
        ("shuffle + gzip 6", 6, True),
        ("gzip 1, no shuffle", 1, False),
        ("gzip 6, no shuffle", 6, False),
    ):
        t0 = time.perf_counter()
        if shuffle:
            size = sum(len(c) for c in encoded_chunks(voxels, level=level))
        else:
            comp = zlib.compressobj(level, zlib.DEFLATED, 31, 9)
            size = len(comp.compress(np.ascontiguousarray(voxels).tobytes())) + len(comp.flush())
        seconds = time.perf_counter() - t0
        rows.append((label, size, seconds))
    shape = "x".join(str(n) for n in voxels.shape[::-1])
    print(f"\n{name}: {shape} {voxels.dtype}, raw {raw / 1e6:.1f} MB")
    for label, size, seconds in rows:
        print(
            f"  {label:<26} {size / 1e6:8.2f} MB  ratio {size / raw:.3f}  "
            f"{seconds:6.2f} s  ({raw / seconds / 1e6:.0f} MB/s raw)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ct-slices", type=int, default=300)
    parser.add_argument("--ct-size", type=int, default=512)
    args = parser.parse_args()

    import tempfile

    from realdata import restore_mr_head  # the project's own copy of the head MR (tests/data)

    from ownscan.core.assembly import load_volume

    mr = load_volume(restore_mr_head(Path(tempfile.mkdtemp(prefix="bench_serve_")) / "mr"))
    _measure("head MR (real) level 0", mr.voxels)
    _measure("head MR (real) level 1", downsample2(mr.voxels))
    rng = np.random.default_rng(1)
    n = args.ct_slices
    size = args.ct_size
    ct = np.stack([ct_phantom_slice(size, size, k / (n - 1), rng) for k in range(n)])
    _measure("generated CT level 0", ct)
    _measure("generated CT level 1", downsample2(ct))


if __name__ == "__main__":
    main()
