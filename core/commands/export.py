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

from ownscan.core.commands._common import (
    add_source_arguments,
    read_source,
    report_problems,
    report_series_warnings,
    source_name,
)
from ownscan.core.errors import UsageError
from ownscan.core.text import escape_controls

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
    source = source_name(args, source)
    chosen = list(enumerate(found.series, 1))
    if args.series:
        valid = range(1, len(found.series) + 1)
        for n in args.series:
            if n not in valid:
                raise UsageError(f"--series {n}: {source} has series 1..{len(found.series)}")
        chosen = [(n, s) for n, s in chosen if n in args.series]
    if not chosen:
        raise OwnscanError(f"{source}: no DICOM image series found")  # as info, render
    if not exporter.writes_folder and len(chosen) > 1:
        raise UsageError(
            f"--format {args.format} writes one file but {source} has {len(chosen)} series; "
            "choose one with --series N (numbers from `ownscan info`)"
        )
    options = {"uncompressed": args.uncompressed, **plugin_options(args)}
    # what info, render and the viewer say of each series, said here too, once: the doctor
    # who gets the files must hear it (the load may add more: a sign the header got wrong)
    said: dict[int, set[str]] = {n: set() for n, _ in chosen}
    for n, s in chosen:
        report_series_warnings(NAME, n, s, s.warnings, said[n])
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
                vol, *more = s.load_volumes()  # one volume, or every volume of a 4D series
            for p in s.load_errors:
                print(escape_controls(f"ownscan {NAME}: {p}"), file=sys.stderr)
            report_series_warnings(NAME, n, s, s.load_warnings, said[n])
            if written is None and exporter.writes_folder:
                # write as we go, so only one series is held in memory at a time; a series
                # that cannot be written is reported and the others are still exported
                written = exporter.export([vol, *more], args.output, options)
                del vol, more
        except UsageError:
            raise  # the command is wrong (an output that is a file...), not this series
        except (OwnscanError, ValueError, OverflowError, MemoryError) as exc:
            why = "not enough memory" if isinstance(exc, MemoryError) else str(exc)
            line = escape_controls(f"ownscan {NAME}: series {n} ({s.label}): {why}")
            print(line, file=sys.stderr)
            failed += 1
            continue
        if written is not None:
            for path in written:
                print(path)
            continue
        volumes.append(vol)
        volumes.extend(more)  # the other volumes of a 4D series, each a Volume of its own
    if volumes:
        for path in exporter.export(volumes, args.output, options):
            print(path)
    bad = failed or found.errors or any(s.load_errors for _, s in chosen)
    return 1 if bad else 0
