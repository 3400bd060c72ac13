"""What the ``info`` and ``export`` commands share: the source argument and reading it."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ownscan.core.assembly import Assembly, Series

__all__ = [
    "LIBRARY_PREFIX",
    "add_source_arguments",
    "choose_series",
    "read_source",
    "report_problems",
]

LIBRARY_PREFIX = "library:"  # SOURCE "library:UID": a series from the library


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """SOURCE or --sample, and --via."""
    parser.add_argument(
        "source",
        nargs="?",
        metavar="SOURCE",
        help="a folder, file, disc image, zip or URL, or library:UID for a series of your library",
    )
    parser.add_argument(
        "--sample", action="store_true", help="use the bundled sample series instead of SOURCE"
    )
    parser.add_argument("--via", metavar="NAME", help="force the importer NAME (see `plugins`)")
    parser.add_argument(
        "--library",
        metavar="DIR",
        help="the library for a SOURCE written library:UID (a series from `ownscan list`; "
        "a unique start of the UID is enough)",
    )


def source_of(args: argparse.Namespace) -> str:
    if args.sample and args.source:
        raise ValueError("give SOURCE or --sample, not both")
    if args.sample:
        from ownscan.core._sample import sample_path

        return str(sample_path())
    if not args.source:
        raise ValueError("give a SOURCE (folder, file, disc image, zip or URL) or --sample")
    return str(args.source)


def read_source(args: argparse.Namespace) -> tuple[str, Assembly]:
    """Find the importer, read its items and assemble them into series."""
    from ownscan.core.assembly import assemble
    from ownscan.core.plugin_host import get_host
    from ownscan.core.plugin_types import ImportOptions

    source = source_of(args)
    if source.startswith(LIBRARY_PREFIX):
        from ownscan.core.library import open_library

        with open_library(getattr(args, "library", None), create=False) as lib:
            uid = lib.resolve_series(source[len(LIBRARY_PREFIX) :])
            return f"library series {uid}", lib.assemble(uid)
    importer = get_host().find_importer(source, args.via)
    items = importer.iter_items(source, ImportOptions())
    return source, assemble(items)


def report_problems(found: Assembly, command: str, *, skipped: bool = True) -> None:
    """One line per file in error on stderr; skipped files as one summary line (or a line
    each when there are at most three)."""
    for p in found.errors:
        print(f"ownscan {command}: {p}", file=sys.stderr)
    if found.skipped and skipped:
        if len(found.skipped) <= 3:
            for p in found.skipped:
                print(f"ownscan {command}: skipped {p}", file=sys.stderr)
        else:
            first = "; ".join(str(p) for p in found.skipped[:2])
            print(
                f"ownscan {command}: skipped {len(found.skipped)} files that are not DICOM "
                f"images (e.g. {first})",
                file=sys.stderr,
            )


def choose_series(
    found: Assembly,
    source: str,
    command: str,
    number: int | None = None,
    doing: str = "using",
    hint: str = "; choose with --series N",
) -> Series:
    """Series ``number`` (1-based, as `ownscan info` numbers them), else the largest volume
    (saying so on stderr, with ``hint``, when the source holds more than one series)."""
    from ownscan.core.errors import OwnscanError

    if number is not None:
        if not 1 <= number <= len(found.series):
            raise ValueError(f"--series {number}: {source} has series 1..{len(found.series)}")
        return found.series[number - 1]
    candidates = found.volumes() or found.series
    if not candidates:
        raise OwnscanError(f"{source}: no DICOM image series found")
    chosen = max(candidates, key=lambda s: s.n_images)
    if len(found.series) > 1:
        print(
            f"ownscan {command}: {source} has {len(found.series)} series; {doing} the largest "
            f"({chosen.label}){hint}",
            file=sys.stderr,
        )
    return chosen
