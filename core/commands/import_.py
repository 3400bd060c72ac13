"""``ownscan import SOURCE...``: bring scans into the private library.

Each SOURCE goes to the importer plugin that claims it (``--via NAME`` picks one). Importer
options reach the plugin as ``ImportOptions.extra``: ``--option KEY=VALUE`` (repeatable) works
for every plugin; a plugin whose option deserves its own flag adds it through the
``ownscan_addoption`` hook (the zip ``--password``, the DICOMweb filters), and its value
arrives under the same key. An importer may also offer ``notes() -> list[str]``: lines about
its last source, printed after the summary.

A file stored whose image header lies (Rows 0, pixel data shorter than declared...) gets a
``warning`` line in the reader's words, and each series that received new instances has its
``info`` warnings printed once (from the library's assembly of the stored headers as it recorded
the series' stacks after the import, ``ImportReport.series_warnings``: no second assembly, no
pixel decoded).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from ownscan.core.errors import UsageError
from ownscan.core.text import escape_controls, redact_url

if TYPE_CHECKING:
    from ownscan.core.library import SeriesWarnings

NAME = "import"
HELP = "import scans (folders, discs, zips, DICOMweb) into your private library"
ORDER = 10
PLUGIN_OPTIONS = True  # plugins add their flags (ownscan_addoption)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ownscan.core.commands._library_args import add_library_argument

    parser.add_argument("sources", nargs="+", metavar="SOURCE", help="folder, file, disc, URL")
    add_library_argument(parser)
    parser.add_argument("--via", metavar="NAME", help="use this importer (see ownscan plugins)")
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option for the importer plugin (repeatable), e.g. --option password=secret",
    )
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="on a terminal, list every file too"
    )


def _extra(args: argparse.Namespace) -> dict[str, Any]:
    from ownscan.core.plugin_host import plugin_options

    extra: dict[str, Any] = {}
    for text in args.option:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--option {text!r}: expected KEY=VALUE")
        extra[key.strip()] = value
    extra.update(plugin_options(args))  # a plugin's own flag wins over --option
    return extra


def _importer_notes(importer: object) -> list[str]:
    """Lines an importer offers about its last source (optional ``notes()`` method; the
    DICOMweb importer says there which series are complete)."""
    notes = getattr(importer, "notes", None)
    return [str(n) for n in notes()] if callable(notes) else []


def _series_warnings(
    lib: Any, series_uids: dict[str, None], kept: dict[str, list[SeriesWarnings]]
) -> None:
    """Print once, for each series that received new instances, the warnings ``info`` gives
    of it (slices missing, a gantry tilt, untrue spacing...), read from the stored files'
    headers (no pixel is decoded): a patient hears at import what the viewer will show.

    ``kept``: what the library's own assembly of each series said when it recorded its stacks
    after the import (``ImportReport.series_warnings``), so each series is assembled once; a
    series not in it (its source failed before the library recorded its stacks, or the
    library could not assemble it) is assembled here, as before."""
    from ownscan.core.commands._common import report_series_warnings
    from ownscan.core.errors import OwnscanError
    from ownscan.core.library import SeriesWarnings

    for uid in series_uids:
        found = kept.get(uid)
        if found is None:
            try:
                found = [
                    SeriesWarnings(uid, s.label, tuple(s.files), tuple(s.warnings))
                    for s in lib.assemble(uid).series
                ]
            except (OwnscanError, OSError, ValueError):  # said per file already, or by info
                continue
        for s in found:
            # an untrue header value was named on its file's own line as it was stored
            said = {w for w in s.warnings if w.startswith("untrue header value in ")}
            report_series_warnings(NAME, None, s, s.warnings, said)


def run(args: argparse.Namespace) -> int:
    from ownscan.core.commands._library_args import Progress, human_size, open_from_args
    from ownscan.core.errors import OwnscanError
    from ownscan.core.library import (
        CONFLICT,
        DOCUMENT,
        DUPLICATE,
        FAILED,
        IMPORTED,
        SKIPPED,
        ItemResult,
        LibraryError,
    )
    from ownscan.core.plugin_host import get_host
    from ownscan.core.plugin_types import ImportOptions

    extra = _extra(args)
    lib = open_from_args(args, create=True)
    host = get_host()
    known_skipped = 0  # instances an importer did not fetch because the library has them

    def known_instance(sop_instance_uid: str) -> bool:
        nonlocal known_skipped
        held = lib.has_instance(sop_instance_uid)
        known_skipped += held
        return held

    options = ImportOptions(extra=extra, known_instance=known_instance, spool=lib.store.tmp)
    totals: dict[str, int] = {}
    notes: list[str] = []
    source_errors = 0
    nbytes = 0
    progress = Progress("importing")
    quiet_ok = progress.tty and not args.verbose

    warned = 0  # instances stored whose image header lies (said by info/render/export too)

    imported_series: dict[str, None] = {}  # series with new instances, in import order
    fresh: set[str] = set()  # those of the source being imported
    # each series' warnings as the library's assembly of it said them after its last import
    kept: dict[str, list[SeriesWarnings]] = {}

    def on_item(r: ItemResult) -> None:
        nonlocal nbytes, warned
        totals[r.status] = totals.get(r.status, 0) + 1
        if r.status == IMPORTED and r.series_uid:
            imported_series[r.series_uid] = None
            fresh.add(r.series_uid)
        nbytes += r.size
        progress.update(r.size, **{k: v for k, v in totals.items() if v})
        if not quiet_ok or r.status not in (IMPORTED, DUPLICATE, DOCUMENT):
            tail = f": {r.reason}" if r.reason and r.status != IMPORTED else ""
            progress.write(escape_controls(f"{r.status:<9}  {r.origin}{tail}"))
        if r.warning:  # said on a terminal too: the patient sees it now, not at drawing
            warned += 1
            progress.write(escape_controls(f"warning    {r.origin}: {r.warning} (stored as it is)"))

    fatal: LibraryError | None = None
    try:
        for source in args.sources:
            importer = None
            fresh.clear()
            try:
                importer = host.find_importer(source, args.via)
                items = importer.iter_items(source, options)
                rep = lib.import_items(items, report=on_item, sources=[source])
            except LibraryError as exc:  # the library cannot take more (disk full, busy)
                fatal = exc
                if exc.report is not None:  # files read but not written are failures
                    for r in exc.report.results:
                        if r.status == FAILED and r.reason.startswith("could not be written"):
                            totals[FAILED] = totals.get(FAILED, 0) + 1
                            if totals.get(IMPORTED):  # it was reported imported when read
                                totals[IMPORTED] -= 1
                            progress.write(escape_controls(f"failed     {r.origin}: {r.reason}"))
                break
            except UsageError:
                raise  # a bad option or name: the whole command is wrong, not this source
            except OwnscanError as exc:
                source_errors += 1
                progress.write(escape_controls(redact_url(f"failed     {exc}")))
                for uid in fresh:  # what an earlier source's import said of it is not all
                    kept.pop(uid, None)
                continue
            finally:
                notes.extend(_importer_notes(importer))
            notes.extend(rep.notes)
            for uid in fresh:
                kept.pop(uid, None)
            kept.update(rep.series_warnings)
        elapsed = progress.elapsed  # the import's own time (the summary's speed)
        if fatal is None:
            progress.close()  # the warnings go below the per-file lines
            _series_warnings(lib, imported_series, kept)
    finally:
        progress.close()
        lib.close()
    elapsed = max(elapsed, 1e-6)
    order = (IMPORTED, DUPLICATE, CONFLICT, DOCUMENT, SKIPPED, FAILED)
    parts = [f"{totals[s]} {s}" for s in order if totals.get(s)]
    if known_skipped:
        parts.append(f"{known_skipped} already in the library (not fetched again)")
    if warned:
        parts.append(f"{warned} with an image header that is not true (named above)")
    summary = ", ".join(parts) or "no files found"
    print(
        f"ownscan import: {summary} ({human_size(nbytes)} in {elapsed:.1f} s, "
        f"{nbytes / elapsed / 1e6:.1f} MB/s) into {lib.root}"
    )
    for note in notes:
        print(escape_controls(f"ownscan import: note: {note}"))
    if fatal is not None:
        raise fatal
    bad = totals.get(FAILED, 0) + totals.get(CONFLICT, 0) + source_errors
    if bad:
        why = []
        if totals.get(FAILED):
            why.append(f"{totals[FAILED]} file(s) failed")
        if totals.get(CONFLICT):
            why.append(
                f"{totals[CONFLICT]} file(s) conflict with instances already held "
                "(kept aside; see `ownscan list`)"
            )
        if source_errors:
            why.append(f"{source_errors} source(s) could not be read")
        print(f"ownscan import: incomplete: {'; '.join(why)}", file=sys.stderr)
        return 1
    if not (totals.get(IMPORTED) or totals.get(DUPLICATE) or totals.get(DOCUMENT) or known_skipped):
        print("ownscan import: no DICOM images found", file=sys.stderr)
        return 1
    return 0
