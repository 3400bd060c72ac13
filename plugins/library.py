"""The built-in library importer: ``library:UID`` names a series of your library.

``ownscan info library:1.2.840...`` (a unique start of the Series Instance UID is enough) reads
the stored files of that series (``library:UID~N``: of its stack N, for a series of several
stacks, as ``ownscan list`` names them), so every command that reads a source (``info``, ``export``,
``render``) takes a series of the library exactly as it takes a folder. The library is the one
``--library DIR`` names (a flag this plugin adds to those commands), else ``$OWNSCAN_LIBRARY``,
else the user data folder. It is registered through the ``ownscan`` entry-point group, as every
importer is, and uses only the public library API (:mod:`ownscan.core.library`).
"""

from __future__ import annotations

from collections.abc import Iterator

from ownscan.core.hookspecs import hookimpl
from ownscan.core.plugin_types import ImportOptions, OptionParser, SourceItem

__all__ = ["PREFIX", "LibraryImporter"]

PREFIX = "library:"


class LibraryImporter:
    """The stored files of one series of the library (``library:UID``)."""

    name = "library"
    description = "a series of your library: library:UID (a unique prefix of the UID is enough)"
    priority = 100  # the prefix is unambiguous: asked before any importer of paths or URLs

    def claims(self, source: str) -> bool:
        return source.startswith(PREFIX)

    def iter_items(self, source: str, options: ImportOptions) -> Iterator[SourceItem]:
        """Every stored file of the series, ``origin`` naming the file and where it was
        imported from.

        Raises
        ------
        LibraryError
            No library there, or no (or more than one) series starting with that UID.
        """
        from ownscan.core.library import open_library

        with open_library(options.get("library"), create=False, read_only=True) as lib:
            # one stack of a series of several is library:UID~N (its files alone)
            uid = lib.resolve_stack(source[len(PREFIX) :])
            items = lib.series_items(uid)
        yield from items


@hookimpl
def ownscan_importers() -> list[LibraryImporter]:
    return [LibraryImporter()]


@hookimpl
def ownscan_addoption(parser: OptionParser, command: str) -> None:
    if command in ("info", "export", "render"):
        parser.add_argument(
            "--library",
            metavar="DIR",
            help="the library for a SOURCE written library:UID (a series from `ownscan list`; "
            "a unique start of the UID is enough)",
        )
