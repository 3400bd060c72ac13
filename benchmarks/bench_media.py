"""Benchmark: a 2,000-image disc image and a 2,000-image portal zip, against unzip / xorriso.

Builds, in a temporary folder, a PDI disc of N images (real head-MR slices, 20 series; the
DICOMDIR by dcmtk's dcmmkdir), its ISO image (genisoimage -J -R) and a zip of the same files
(Info-ZIP ``zip``). Then, in one run, on the same warm page cache:

- ``xorriso -osirrox on -extract`` (copies every file out of the image) and ``unzip`` (the
  peers: what a user would do by hand before importing a folder);
- ownscan's importer alone (every item read into memory, nothing written);
- ``ownscan import`` through the library API into a fresh library (read, hash, parse the
  header, store, index).

Prints a table of seconds, MB/s and ratios to the peer. Usage::

    python benchmarks/bench_media.py [--images 2000] [--repeat 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # realdata: the project's own head MR


def _tool(*args: str | Path, cwd: Path | None = None) -> None:
    exe = shutil.which(str(args[0]))
    if exe is None:
        sys.exit(f"bench_media: {args[0]} is not installed")
    subprocess.run([exe, *map(str, args[1:])], cwd=cwd, check=True, capture_output=True)


def build(work: Path, n_images: int) -> tuple[Path, Path, Path, int]:
    """Disc folder, ISO image and zip of ``n_images`` explicit-VR MR images."""
    import pydicom
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid
    from realdata import restore_mr_head

    sources = sorted(restore_mr_head(work / "studyforrest-t1w").iterdir())
    root = work / "CDROM"
    per_series = max(1, n_images // 20)
    study = root / "DICOM" / "ST000000"
    total = 0
    series_uid = ""
    for i in range(n_images):
        s, k = divmod(i, per_series)
        if k == 0:
            series_uid = generate_uid()
            (study / f"SE{s:06d}").mkdir(parents=True)
        ds = pydicom.dcmread(sources[i % len(sources)])
        ds.SeriesInstanceUID = series_uid
        ds.SeriesNumber = 100 + s
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        out = study / f"SE{s:06d}" / f"IM{k:06d}"
        ds.save_as(out, enforce_file_format=True, implicit_vr=False, little_endian=True)
        total += out.stat().st_size
    _tool("dcmmkdir", "+r", "DICOM", cwd=root)
    (root / "AUTORUN.INF").write_text("[autorun]\r\nopen=VIEWER.EXE\r\n")
    iso = work / "disc.iso"
    _tool("genisoimage", "-quiet", "-J", "-R", "-V", "PATIENT_CD", "-o", iso, root)
    zipped = work / "portal.zip"
    _tool("zip", "-q", "-r", zipped, "DICOM", cwd=root)
    return root, iso, zipped, total


def timed(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="build in (and keep) this folder")
    args = parser.parse_args()

    from ownscan.core.library import open_library
    from ownscan.core.plugin_types import ImportOptions
    from ownscan.plugins.disc import DiscImporter
    from ownscan.plugins.portal_zip import PortalZipImporter

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench_media_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        _root, iso, zipped, total = build(work, args.images)
        print(
            f"built {args.images} images, {total / 1e6:.0f} MB; ISO {iso.stat().st_size / 1e6:.0f}"
            f" MB, zip {zipped.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - t0:.0f} s"
        )

        def fresh(name: str) -> Path:
            path = work / name
            shutil.rmtree(path, ignore_errors=True)
            return path

        def read_all(importer: object, source: Path) -> None:
            n = 0
            for item in importer.iter_items(str(source), ImportOptions()):  # type: ignore[attr-defined]
                assert item.problem is None, item.problem
                n += len(item.read_bytes())
            assert n >= total, (n, total)

        def import_all(importer: object, source: Path) -> None:
            with open_library(fresh("lib"), create=True) as lib:
                opts = ImportOptions(known_instance=lib.has_instance)
                items = importer.iter_items(str(source), opts)  # type: ignore[attr-defined]
                rep = lib.import_items(items)
            assert rep.counts.get("imported", 0) == args.images, rep.summary()

        rows: list[tuple[str, str, float]] = []
        disc, zipper = DiscImporter(), PortalZipImporter()
        rows.append(
            (
                "disc",
                "xorriso -osirrox extract (peer)",
                timed(
                    lambda: _tool(
                        "xorriso", "-osirrox", "on", "-indev", iso, "-extract", "/", fresh("x")
                    ),
                    args.repeat,
                ),
            )
        )
        rows.append(
            (
                "disc",
                "ownscan disc importer, read only",
                timed(lambda: read_all(disc, iso), args.repeat),
            )
        )
        rows.append(
            (
                "disc",
                "ownscan import into a library",
                timed(lambda: import_all(disc, iso), args.repeat),
            )
        )
        rows.append(
            (
                "zip",
                "unzip (peer)",
                timed(lambda: _tool("unzip", "-q", zipped, "-d", fresh("u")), args.repeat),
            )
        )
        rows.append(
            (
                "zip",
                "ownscan zip importer, read only",
                timed(lambda: read_all(zipper, zipped), args.repeat),
            )
        )
        rows.append(
            (
                "zip",
                "ownscan import into a library",
                timed(lambda: import_all(zipper, zipped), args.repeat),
            )
        )

        print(f"\n{args.images} images, {total / 1e6:.0f} MB of DICOM; best of {args.repeat}\n")
        print(f"{'source':<6} {'what':<36} {'seconds':>8} {'MB/s':>7} {'x peer':>7}")
        peer = {src: sec for src, what, sec in rows if "(peer)" in what}
        for src, what, sec in rows:
            print(f"{src:<6} {what:<36} {sec:8.2f} {total / 1e6 / sec:7.0f} {sec / peer[src]:7.2f}")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
