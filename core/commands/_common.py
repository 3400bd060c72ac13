"""What the commands that read a source share (``info``, ``export``, ``render``): the source
argument and reading it through the importer that claims it. Each of them takes its plugins'
flags (``PLUGIN_OPTIONS``): a zip's ``--password``, the library importer's ``--library`` for a
SOURCE written ``library:UID``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ownscan.core.errors import UsageError
from ownscan.core.text import escape_controls

if TYPE_CHECKING:
    from ownscan.core.assembly import Assembly, Series
    from ownscan.core.library import SeriesWarnings

__all__ = [
    "add_source_arguments",
    "choose_series",
    "read_source",
    "report_problems",
    "report_series_warnings",
    "source_name",
]


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


def source_of(args: argparse.Namespace) -> str:
    if args.sample and args.source:
        raise UsageError("give SOURCE or --sample, not both")
    if args.sample:
        from ownscan.core._sample import sample_path

        return str(sample_path())
    if not args.source:
        raise UsageError("give a SOURCE (folder, file, disc image, zip or URL) or --sample")
    return str(args.source)


def source_name(args: argparse.Namespace, source: str) -> str:
    """How messages name the source: "the sample" rather than its installed path."""
    return "the sample" if getattr(args, "sample", False) else source


def read_source(args: argparse.Namespace) -> tuple[str, Assembly]:
    """Find the importer, read its items and assemble them into series."""
    from ownscan.core.assembly import assemble
    from ownscan.core.plugin_host import get_host, plugin_options
    from ownscan.core.plugin_types import ImportOptions

    source = source_of(args)
    importer = get_host().find_importer(source, args.via)
    items = importer.iter_items(source, ImportOptions(extra=plugin_options(args)))
    return source, assemble(items)


def report_problems(found: Assembly, command: str, *, skipped: bool = True) -> None:
    """One line per file in error on stderr; skipped files as one summary line (or a line
    each when there are at most three)."""
    for p in found.errors:
        print(escape_controls(f"ownscan {command}: {p}"), file=sys.stderr)
    if found.skipped and skipped:
        if len(found.skipped) <= 3:
            for p in found.skipped:
                print(escape_controls(f"ownscan {command}: skipped {p}"), file=sys.stderr)
        else:
            first = "; ".join(str(p) for p in found.skipped[:2])
            print(
                escape_controls(
                    f"ownscan {command}: skipped {len(found.skipped)} files that are not DICOM "
                    f"images (e.g. {first})"
                ),
                file=sys.stderr,
            )


def report_series_warnings(
    command: str,
    number: int | None,
    series: Series | SeriesWarnings,
    warnings: Sequence[str],
    said: set[str],
) -> None:
    """Print on stderr, once each, the ``warnings`` of series ``number`` (as `ownscan info`
    numbers it; None: a series named by its label alone) that ``said`` does not hold yet,
    naming the series and its files: what ``info``, ``render`` and the viewer show must reach
    whoever gets the exported files, and the patient who imports them (``series``: as series
    assembly made it, or as a library import kept it, :class:`SeriesWarnings`)."""
    files = series.files
    where = (
        files[0]
        if len(files) == 1
        else f"{files[0]} ... {files[-1]}, {len(files)} files"
        if files
        else "no file"
    )
    for w in warnings:
        if w in said:
            continue
        said.add(w)
        name = f"{number} ({series.label}; {where})" if number else f"{series.label} ({where})"
        line = f"ownscan {command}: warning: series {name}: {w}"
        print(escape_controls(line), file=sys.stderr)


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
            raise UsageError(f"--series {number}: {source} has series 1..{len(found.series)}")
        return found.series[number - 1]
    candidates = found.volumes() or found.series
    if not candidates:
        raise OwnscanError(f"{source}: no DICOM image series found")
    chosen = max(candidates, key=lambda s: s.n_images)
    from ownscan.core._stacks import stack_label, stacks_of

    # the 3D stacks of the chosen one's series, then the 2D pictures beside them (a scout, a
    # secondary capture): each is named, so none is silently left out
    same = stacks_of([s for s in found.series if s.uid == chosen.uid])
    if len(same) > 1 and "--series" in hint:  # a command that takes --series
        # several stacks of one series (angled to three discs, a three-plane scout): each is
        # its own picture, never merged; say which exist and how to ask for each
        numbers = {id(s): n for n, s in enumerate(found.series, 1)}
        listed = ", ".join(
            f"--series {numbers[id(s)]} ({stack_label(s, k, len(same))})"
            for k, s in enumerate(same, 1)
        )
        print(
            escape_controls(
                f"ownscan {command}: {source}: this series holds {len(same)} stacks, "
                f"each shown on its own: {listed}; {doing} --series {numbers[id(chosen)]}"
            ),
            file=sys.stderr,
        )
    elif len(found.series) > 1:
        print(
            f"ownscan {command}: {source} has {len(found.series)} series; {doing} the largest "
            f"({chosen.label}){hint}",
            file=sys.stderr,
        )
    return chosen
