"""Importing 10,000 generated instances into the library, side by side with ``cp -r``.

Run: ``python benchmarks/bench_import.py [N [ROUNDS]]`` (default 10,000 instances of 64x64 CT
slices, 3 rounds; the contenders take turns in each round and the best and median are shown,
because a shared machine's disk is noisy).
All copies read the same source files from the page cache (one warm-up read first) and write
to the same file system. Printed: seconds, files/s, MB/s and the ratio to ``cp -r``.

* ``cp -r``: the plain copy (no fsync; the kernel writes later).
* ``cp -r + sync``: the copy made durable (what the library guarantees).
* ``library API``: ``Library.import_items`` over the folder importer's items (durable: one
  ``syncfs`` per batch before each index commit).
* ``library API, no sync``: the same without the syncs (what a kill -9 alone would need).
* ``ownscan import`` (CLI): the command as a user runs it, Python start-up included.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def generate(folder: Path, n: int) -> int:
    """Write ``n`` small CT slices (64x64 int16), 10 series of one study; return bytes."""
    import numpy as np
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = CTImageStorage
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = "Bench^Mark", "B1", "19700101"
    ds.StudyInstanceUID, ds.StudyDate, ds.StudyDescription = generate_uid(), "20240131", "Bench"
    ds.Modality = "CT"
    ds.Rows = ds.Columns = 64
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit, ds.PixelRepresentation, ds.SamplesPerPixel = 15, 1, 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [0.7, 0.7]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    per_series = max(1, n // 10)
    total = 0
    for i in range(n):
        if i % per_series == 0:
            ds.SeriesInstanceUID = generate_uid()
            ds.SeriesNumber = i // per_series + 1
            sub = folder / f"S{ds.SeriesNumber:03d}"
            sub.mkdir()
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.InstanceNumber = i % per_series + 1
        ds.ImagePositionPatient = [0.0, 0.0, float(i % per_series)]
        ds.PixelData = rng.integers(-1000, 2000, (64, 64), dtype=np.int16).tobytes()
        path = sub / f"IM{i:06d}"
        ds.save_as(path, enforce_file_format=True)
        total += path.stat().st_size
    return total


def _timed(fn) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    from ownscan.core.library import open_library
    from ownscan.core.plugin_types import ImportOptions
    from ownscan.plugins.folder import FolderImporter

    with tempfile.TemporaryDirectory(prefix="ownscan-bench-", dir=os.environ.get("TMPDIR")) as tmp:
        root = Path(tmp)
        src = root / "src"
        t = time.perf_counter()
        nbytes = generate(src, n)
        print(f"generated {n} instances, {nbytes / 1e6:.1f} MB in {time.perf_counter() - t:.1f} s")
        for p in src.rglob("*"):  # warm the page cache for every contender alike
            if p.is_file():
                p.read_bytes()
        os.sync()

        def cp(dest: Path) -> None:
            subprocess.run(["cp", "-r", str(src), str(dest)], check=True)

        def cp_sync(dest: Path) -> None:
            cp(dest)
            os.sync()

        def api(dest: Path, durable: bool = True) -> None:
            with open_library(dest) as lib:
                lib.durable = durable
                items = FolderImporter().iter_items(str(src), ImportOptions())
                rep = lib.import_items(items)
                assert rep.counts["imported"] == n, rep.summary()

        def cli(dest: Path) -> None:
            cmd = [sys.executable, "-m", "ownscan.core.cli", "import", str(src)]
            subprocess.run([*cmd, "--library", str(dest)], check=True, stdout=subprocess.DEVNULL)

        contenders = {
            "cp -r": cp,
            "cp -r + sync": cp_sync,
            "library API": api,
            "library API, no sync": lambda dest: api(dest, durable=False),
            "ownscan import (CLI)": cli,
        }
        times: dict[str, list[float]] = {name: [] for name in contenders}
        for r in range(rounds):  # interleaved, so that load from elsewhere hits all alike
            for i, (name, fn) in enumerate(contenders.items()):
                dest = root / f"out{r}-{i}"
                os.sync()
                times[name].append(_timed(lambda fn=fn, dest=dest: fn(dest)))
                shutil.rmtree(dest)
        rows = [(name, min(t), statistics.median(t)) for name, t in times.items()]
        base = rows[0][1]
        print(f"\n{n} instances, {nbytes / 1e6:.1f} MB, best and median of {rounds} rounds")
        print(f"{'':<22} {'best s':>7} {'median s':>9} {'files/s':>8} {'MB/s':>6} {'vs cp -r':>9}")
        for name, best, med in rows:
            print(
                f"{name:<22} {best:7.2f} {med:9.2f} {n / best:8.0f} {nbytes / best / 1e6:6.1f} "
                f"{best / base:8.2f}x"
            )


if __name__ == "__main__":
    main()
