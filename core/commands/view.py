"""``ownscan view [SOURCE]``: the standalone GPU viewer.

Without SOURCE it shows the library (the bundled sample when the library is empty). With
SOURCE (folder, file, disc image, zip, DICOMweb URL) it imports it into the library first and
shows what was imported, or with ``--no-import`` reads it directly and keeps nothing.
``--screenshot PATH`` draws the first full-quality frame, saves what the window shows, exits.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ownscan.core.errors import UsageError
from ownscan.core.text import escape_controls

NAME = "view"
HELP = "open the viewer on your library, the bundled sample, or a SOURCE"
ORDER = 30
DESCRIPTION = (
    "Open the GPU viewer (2x2: axial, coronal, sagittal, 3D; one view for 2D images and "
    "ultrasound films). Without SOURCE: your library, or the bundled sample when it is empty. "
    "Press H, F1 or ? in the window for what the mouse, keys and touch do."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ownscan.core.commands._library_args import add_library_argument

    parser.add_argument(
        "source", nargs="?", metavar="SOURCE", help="folder, file, disc image, zip or URL"
    )
    parser.add_argument(
        "--no-import",
        action="store_true",
        help="read SOURCE directly instead of importing it into the library",
    )
    parser.add_argument("--sample", action="store_true", help="show the bundled sample series")
    parser.add_argument("--via", metavar="NAME", help="force the importer NAME (see `plugins`)")
    parser.add_argument(
        "--series", metavar="UID", help="show this series first (a UID or a unique prefix)"
    )
    add_library_argument(parser)
    parser.add_argument(
        "--screenshot",
        metavar="PATH",
        help="render the first full-quality frame, save the window to PATH (PNG) and exit",
    )
    parser.add_argument(
        "--size",
        default="1280x800",
        metavar="WxH",
        help="window size in screen points (default 1280x800)",
    )


def _size(text: str) -> tuple[int, int]:
    w, sep, h = text.lower().partition("x")
    if not sep or not w.isdigit() or not h.isdigit() or int(w) < 64 or int(h) < 64:
        raise UsageError(f"--size {text!r}: expected WIDTHxHEIGHT, e.g. 1280x800 (at least 64)")
    return (int(w), int(h))


def _direct(source: str, via: str | None, quiet: bool = False) -> list[Any]:
    """Read SOURCE through its importer and series assembly, without the library.

    ``quiet``: do not list the files that are not images (the sample's licence files).
    """
    from ownscan.core.assembly import assemble
    from ownscan.core.commands._common import report_problems
    from ownscan.core.plugin_host import get_host
    from ownscan.core.plugin_types import ImportOptions
    from ownscan.core.viewer import entries_from_assembly

    importer = get_host().find_importer(source, via)
    found = assemble(importer.iter_items(source, ImportOptions()))
    if not quiet:
        report_problems(found, NAME)
    entries = entries_from_assembly(found)
    if not entries:
        raise UsageError(f"{source}: no images found to show")
    return entries


def _import(lib: Any, source: str, via: str | None) -> list[str]:
    """Import SOURCE into the library; the series UIDs it holds (new or already there)."""
    from ownscan.core.library import CONFLICT, FAILED
    from ownscan.core.plugin_host import get_host
    from ownscan.core.plugin_types import ImportOptions

    importer = get_host().find_importer(source, via)
    options = ImportOptions(known_instance=lib.has_instance, spool=lib.store.tmp)
    report = lib.import_items(importer.iter_items(source, options), sources=[source])
    for r in report.results:
        if r.status in (FAILED, CONFLICT):
            print(
                escape_controls(f"ownscan view: {r.status}: {r.origin}: {r.reason}"),
                file=sys.stderr,
            )
    print(f"ownscan view: imported {source}: {report.summary()} (library {lib.root})")
    uids = {r.series_uid for r in report.results if r.series_uid}
    if not uids:
        # an importer that skips what the library holds reports no series: show its studies
        studies = {r.study_uid for r in report.results if r.study_uid}
        uids = {s.series_uid for st in studies for s in lib.series(st)}
    return sorted(uids)


def run(args: argparse.Namespace) -> int:
    from ownscan.core.viewer import Viewer, ViewerOptions, entries_from_library

    size = _size(args.size)
    if args.sample and args.source:
        raise UsageError("give SOURCE or --sample, not both")
    if args.no_import and not args.source:
        raise UsageError("--no-import needs a SOURCE")
    lib = None
    entries_from_lib = False  # the browser lists the library's people too
    try:
        if args.sample:
            from ownscan.core._sample import sample_path

            entries = _direct(str(sample_path()), None, quiet=True)
        elif args.source and args.no_import:
            entries = _direct(str(args.source), args.via)
        else:
            from ownscan.core.commands._library_args import open_from_args
            from ownscan.core.library import LibraryError, default_location

            try:
                lib = open_from_args(args, create=bool(args.source))
            except LibraryError:
                root = Path(args.library).expanduser() if args.library else default_location()
                if args.source or root.exists():
                    raise  # a folder that is not a library, or an index too new: say so
                where = f"no library at {root} yet"
            else:
                where = f"the library {lib.root} is empty"
            uids = _import(lib, str(args.source), args.via) if lib and args.source else None
            entries = entries_from_library(lib, uids) if lib else []
            entries_from_lib = bool(entries)
            if not entries and args.source:
                raise UsageError(f"{args.source}: nothing to show (no image series imported)")
            if not entries:
                from ownscan.core._sample import sample_path

                sample = sample_path()
                if not sample.is_dir():
                    raise UsageError(
                        f"{where} and no sample is installed; "
                        "give a SOURCE (ownscan view FOLDER) or import one first"
                    )
                print(f"ownscan view: {where}: showing the bundled sample")
                entries = _direct(str(sample), None, quiet=True)
        if args.series:
            keys = [e.key for e in entries]
            match = [i for i, k in enumerate(keys) if k.startswith(args.series)]
            if len(match) != 1:
                what = "no" if not match else "more than one"
                raise UsageError(f"--series {args.series!r}: {what} series matches")
            entries.insert(0, entries.pop(match[0]))
        options = ViewerOptions(size=size, library=lib if entries_from_lib else None)
        with Viewer(entries, options) as viewer:
            if args.screenshot:
                path = viewer.screenshot(args.screenshot)
                print(f"ownscan view: saved {path} ({viewer.fb_size[0]}x{viewer.fb_size[1]})")
                return 0
            viewer.run()
    finally:
        if lib is not None:
            lib.close()
    return 0
