"""The built-in folder importer: every file under a folder (recursively), or one file.

It is the fallback: its priority is the lowest, so any importer that recognises a more
specific source (a disc with a DICOMDIR, a zip, a third party's format) is asked first.
The walk (symbolic links followed, each real folder once, litter left out) is core's
:func:`ownscan.core.files.walk_entries` (assembly walks a folder the same way); what it passes
over (a FIFO, a device, a link that leads to no file) is reported as skipped, never opened.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ownscan.core.errors import ImportFailed
from ownscan.core.files import walk_entries
from ownscan.core.hookspecs import hookimpl
from ownscan.core.plugin_types import ImportOptions, SourceItem


class FolderImporter:
    """Reads a folder tree or a single file from the local disk."""

    name = "folder"
    description = "a folder of DICOM files (recursive), or a single file"
    priority = -100

    def claims(self, source: str) -> bool:
        return "://" not in source and Path(source).exists()

    def iter_items(self, source: str, options: ImportOptions) -> Iterator[SourceItem]:
        path = Path(source)
        if path.is_file():
            yield SourceItem(origin=str(path), path=path)
            return
        if not path.is_dir():
            raise ImportFailed(source, "not a file or folder")
        for f, why in walk_entries(path):
            if why is not None:  # a FIFO, a device, a dangling link: named, never opened
                yield SourceItem(origin=str(f), skip=why)
                continue
            media = "application/pdf" if f.suffix.lower() == ".pdf" else "application/dicom"
            yield SourceItem(origin=str(f), path=f, media_type=media)


@hookimpl
def ownscan_importers() -> list[FolderImporter]:
    return [FolderImporter()]
