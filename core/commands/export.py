"""``ownscan export SOURCE --format NAME --output PATH``: write series out (NIfTI, ...).

An exporter may offer ``export_series(series, output, options) -> list[Path] | None``: it is
asked first for each series and may decode it straight into its output (the NIfTI exporter
does for uncompressed grey series); None means "not for this one", and the series is loaded
and handed to ``export`` as before. Errors and ``Series.load_errors`` are reported the same way
on both paths.

An exporter that rewrites the original DICOM files (``dicom-anon``, ``share``) offers
``export_sources(series, output, options) -> list[Path]`` instead: it gets every chosen series
at once (so that one export maps UIDs and dates consistently across them) and reads their files
through :attr:`Series.sources`; nothing is decoded here.

``options`` holds ``uncompressed`` and the values of every plugin flag the user gave
(``ownscan_addoption``; an exporter's own flags such as ``--threshold``, keyed by ``dest``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ownscan.core.commands._common import add_source_arguments, read_source, report_problems
from ownscan.core.errors import UsageError

NAME = "export"
HELP = "write the series of a source in another format (e.g. NIfTI)"
ORDER = 40
PLUGIN_OPTIONS = True  # plugins add their flags (ownscan_addoption)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_source_arguments(parser)
    parser.add_argument(
        "--format", default="nifti", metavar="NAME", help="output format (default: nifti)"
    )
    parser.add_argument(
        "--output",
        "-o",
        required=True,
        type=Path,
        metavar="PATH",
        help="a folder for formats that write several files, else the file to write",
    )
    parser.add_argument("--uncompressed", action="store_true", help="write .nii instead of .nii.gz")
    parser.add_argument(
        "--series",
        type=int,
        action="append",
        metavar="N",
        help="export only series N as numbered by `ownscan info` (repeatable)",
    )


def run(args: argparse.Namespace) -> int:
    from ownscan.core.errors import OwnscanError
    from ownscan.core.plugin_host import get_host, plugin_options

    exporter = get_host().exporter(args.format)
    source, found = read_source(args)
    report_problems(found, NAME, skipped=not args.sample)
    chosen = list(enumerate(found.series, 1))
    if args.series:
        valid = range(1, len(found.series) + 1)
        for n in args.series:
            if n not in valid:
                raise UsageError(f"--series {n}: {source} has series 1..{len(found.series)}")
        chosen = [(n, s) for n, s in chosen if n in args.series]
    if not chosen:
        print(f"ownscan {NAME}: no DICOM images found in {source}", file=sys.stderr)
        return 1
    if not exporter.writes_folder and len(chosen) > 1:
        raise UsageError(
            f"--format {args.format} writes one file but {source} has {len(chosen)} series; "
            "choose one with --series N (numbers from `ownscan info`)"
        )
    options = {"uncompressed": args.uncompressed, **plugin_options(args)}
    export_sources = getattr(exporter, "export_sources", None)
    if export_sources is not None:
        for path in export_sources([s for _, s in chosen], args.output, options):
            print(path)
        return 1 if found.errors else 0
    failed = 0
    volumes = []
    # optional exporter capability: decode a series straight into its output (None: declined)
    export_series = getattr(exporter, "export_series", None)
    for n, s in chosen:
        written = None
        try:
            if export_series is not None:
                written = export_series(s, args.output, options)
            if written is None:
                vol = s.load()
        except (OwnscanError, ValueError) as exc:
            print(f"ownscan {NAME}: series {n} ({s.label}): {exc}", file=sys.stderr)
            failed += 1
            continue
        for p in s.load_errors:
            print(f"ownscan {NAME}: {p}", file=sys.stderr)
        if written is not None:
            for path in written:
                print(path)
            continue
        volumes.append(vol)
        if len(volumes) >= 1 and exporter.writes_folder:
            # write as we go, so only one volume is held in memory at a time
            for path in exporter.export(volumes, args.output, options):
                print(path)
            volumes.clear()
    if volumes:
        for path in exporter.export(volumes, args.output, options):
            print(path)
    bad = failed or found.errors or any(s.load_errors for _, s in chosen)
    return 1 if bad else 0
