"""Header reading: the pydicom-free scanner against pydicom, per file and at start-up.

Run: ``python benchmarks/bench_header.py [FOLDER ...] [--runs N]`` (default: a 400-slice
generated CT in a temporary folder; ``bench_load.py --keep DIR`` leaves ``DIR/raw`` and
``DIR/j2k``, 400 slices uncompressed and JPEG 2000). For each folder, every file's header is read

* ``pydicom``: ``dcmread(stop_before_pixels=True)`` and the frame records, as before the
  scanner (``_frames._frames_of``, pydicom already imported; the descriptive fields of the
  series cached across files, as ``assemble`` does);
* ``scanner``: ``ownscan.core.dicom.read_frames``, the scanner and the same frame records;
* ``scan only``: ``ownscan.core.dicom.scan`` of the tags the records need, no records;
* ``index``: the library's ``read_header`` of the file's bytes (read beforehand, as an import
  has them for hashing), the same scanner and the index's fields;

the four taking turns N times; the table gives the median per file and files per second, and
the ratio to pydicom. Then the start-up: fresh processes that import ``ownscan.core.assembly``
and read one header, with the scanner and with pydicom (``import pydicom`` added), medians.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "core"))


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file())


def _per_file_us(fn: Callable[[Path], object], files: list[Path]) -> float:
    t0 = time.perf_counter()
    for f in files:
        fn(f)
    return (time.perf_counter() - t0) / len(files) * 1e6


def bench_folder(folder: Path, runs: int) -> None:
    from ownscan.core.dicom import _frames, quiet_pydicom, read_frames, scan
    from ownscan.core.library._header import read_header

    files = _files(folder)

    # one cache of the series' descriptive fields for all files, as assemble() has
    old_cache: dict[Any, Any] = {}
    new_cache: dict[Any, Any] = {}

    def old(p: Path) -> object:
        with quiet_pydicom():
            return _frames._frames_of(_frames._source_of(p, 0), old_cache)

    def new(p: Path) -> object:
        return read_frames(p, 0, new_cache)

    def scan_only(p: Path) -> object:
        return scan(p, _frames._SCAN_TAGS)

    data = {p: p.read_bytes() for p in files}

    def index(p: Path) -> object:
        return read_header(data[p])

    declined = [
        f for f in files if isinstance(_frames._fast_frames(_frames._source_of(f, 0), {}), str)
    ]
    rows: dict[str, list[float]] = {"pydicom": [], "scanner": [], "scan only": [], "index": []}
    fns = {"pydicom": old, "scanner": new, "scan only": scan_only, "index": index}
    for fn in fns.values():  # warm the page cache and pydicom's imports
        _per_file_us(fn, files[:20])
    for _ in range(runs):
        for name, fn in fns.items():
            rows[name].append(_per_file_us(fn, files))
    base = statistics.median(rows["pydicom"])
    print(f"\n{folder} ({len(files)} files, {len(declined)} declined by the scanner)")
    print(f"{'reader':<10} {'us/file':>9} {'files/s':>9} {'vs pydicom':>11}")
    for name, vals in rows.items():
        med = statistics.median(vals)
        print(f"{name:<10} {med:>9.1f} {1e6 / med:>9.0f} {med / base:>10.2f}x")


def bench_startup(file: Path, runs: int) -> None:
    code = (
        "from ownscan.core.assembly import assemble\n"
        "from ownscan.core.dicom import read_frames\n"
        f"read_frames({str(file)!r})\n"
    )
    variants = {"scanner": code, "with pydicom": "import pydicom\n" + code}
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(runs):
        for name, src in variants.items():
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", src], check=True)
            times[name].append(time.perf_counter() - t0)
    print(f"\nstart-up: import ownscan.core.assembly and read one header ({runs} runs each)")
    for name, vals in times.items():
        print(f"{name:<14} {statistics.median(vals) * 1000:7.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="*", type=Path)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    folders = list(args.folders)
    tmp = None
    if not folders:
        from ctgen import write_ct_series

        tmp = tempfile.TemporaryDirectory()
        folder = Path(tmp.name) / "ct"
        write_ct_series(folder, n_slices=400, rows=512, cols=512)
        folders = [folder]
    for folder in folders:
        bench_folder(folder, args.runs)
    bench_startup(_files(folders[0])[0], args.runs)
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
