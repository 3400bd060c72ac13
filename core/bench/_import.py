"""The import measurements: ``ownscan import FOLDER --library LIB`` (a whole process, into a new
library each round) beside ``cp -r`` of the same folder, wall time and peak RSS. Used by
``ownscan bench`` (part ``import``) and ``benchmarks/bench_import.py``.

How the numbers are kept honest on a shared, noisy machine:

* every contender reads the same source files from the page cache (:func:`warm` reads them once
  first) and writes to the same file system;
* the contenders take turns within each round (:func:`interleaved`), so load from elsewhere
  hits them alike; before each one the previous destination is removed and the file system
  synced, untimed, so no contender pays for another one's write-back or deletions;
* ``cp -r``'s time is mostly kernel time and varies several-fold between rounds, so ratios are
  taken between medians over the rounds.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ownscan.core.bench._load import ownscan_command, timed

__all__ = [
    "Sample",
    "contenders",
    "copy",
    "copy_sync",
    "generate_instances",
    "interleaved",
    "library_instances",
    "ownscan_import",
    "source",
    "warm",
]


@dataclass
class Sample:
    """One contender's round: wall seconds and, for a whole process, its peak RSS and CPU
    seconds (user + system, its worker processes included)."""

    wall: float
    rss_mib: float | None = None
    cpu: float | None = None


def generate_instances(folder: Path, n: int) -> int:
    """Write ``n`` small CT slices (64x64 int16), 10 series of one study; return their bytes."""
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
    sub = folder
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


def source(folder: Path, n: int, say: Callable[[str], None] = print) -> int:
    """The :func:`generate_instances` source in ``folder``, made once and reused while its
    marker (``folder`` + ``.complete``) says it is whole; its bytes."""
    marker = folder.parent / f"{folder.name}.complete"
    if marker.exists():
        return int(marker.read_text())
    if folder.exists():
        shutil.rmtree(folder)
    t = time.perf_counter()
    nbytes = generate_instances(folder, n)
    marker.write_text(str(nbytes))
    say(f"generated {n} instances, {nbytes / 1e6:.1f} MB in {time.perf_counter() - t:.1f} s")
    return nbytes


def warm(folder: Path) -> tuple[int, int]:
    """Read every file of ``folder`` once (into the page cache, for every contender alike) and
    sync; the number of files and their bytes."""
    files = nbytes = 0
    for p in folder.rglob("*"):
        if p.is_file():
            nbytes += len(p.read_bytes())
            files += 1
    os.sync()
    return files, nbytes


def copy(src: Path, dest: Path) -> Sample:
    """``cp -r src dest`` (no fsync: the kernel writes later)."""
    run = timed(["cp", "-r", str(src), str(dest)])
    return Sample(run.wall, run.maxrss_mib, run.cpu)


def copy_sync(src: Path, dest: Path) -> Sample:
    """``cp -r`` made durable (``sync`` after it): what the library guarantees."""
    t = time.perf_counter()
    run = timed(["cp", "-r", str(src), str(dest)])
    os.sync()
    return Sample(time.perf_counter() - t, run.maxrss_mib, run.cpu)


def library_instances(library: Path) -> int:
    """The instances in the library at ``library`` (opened read-only)."""
    from ownscan.core.library import open_library

    lib = open_library(library, read_only=True)
    try:
        return sum(s.images for s in lib.series())
    finally:
        lib.close()


def ownscan_import(
    src: Path, library: Path, expect: int | None = None, command: Sequence[str] = ()
) -> Sample:
    """``ownscan import SRC --library LIBRARY`` as a user runs it (Python's start-up included)
    into a new library; ``expect``: the instances it must then hold (checked, untimed);
    ``command``: how to run ownscan (default :func:`ownscan_command`; an A/B runs another
    commit's)."""
    cmd = list(command) or ownscan_command()
    run = timed([*cmd, "import", str(src), "--library", str(library)])
    if expect is not None:
        got = library_instances(library)
        if got != expect:
            raise RuntimeError(f"ownscan import {src}: {got} instances imported, {expect} given")
    return Sample(run.wall, run.maxrss_mib, run.cpu)


def contenders(src: Path, n: int | None = None) -> dict[str, Callable[[Path], Sample]]:
    """The whole-process contenders on ``src`` (``n``: its instances, checked after each
    import): ``cp -r``, ``cp -r + sync`` and ``ownscan-import``."""
    return {
        "cp -r": lambda dest: copy(src, dest),
        "cp -r + sync": lambda dest: copy_sync(src, dest),
        "ownscan-import": lambda dest: ownscan_import(src, dest, n),
    }


def interleaved(
    runs: Mapping[str, Callable[[Path], Sample]], root: Path, rounds: int
) -> dict[str, list[Sample]]:
    """Each contender of ``runs`` once per round, in turn, writing to a new folder under
    ``root`` (removed after); the file system synced before and after each, untimed."""
    samples: dict[str, list[Sample]] = {name: [] for name in runs}
    for r in range(rounds):
        for i, (name, fn) in enumerate(runs.items()):
            dest = root / f"out{r}-{i}"
            os.sync()  # untimed: nobody pays for the previous contender's write-back
            try:
                samples[name].append(fn(dest))
            finally:
                shutil.rmtree(dest, ignore_errors=True)
                os.sync()  # untimed: nor for its deletion
    return samples
