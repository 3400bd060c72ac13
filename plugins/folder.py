"""The built-in folder importer: every file under a folder (recursively), or one file.

It is the fallback: its priority is the lowest, so any importer that recognises a more
specific source (a disc with a DICOMDIR, a zip, a third party's format) is asked first.
Symbolic links to folders are followed, but each real folder is visited once, so a link loop
(``a/loop -> ..``) ends instead of running forever.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from ownscan.core.errors import ImportFailed
from ownscan.core.hookspecs import hookimpl
from ownscan.core.plugin_types import ImportOptions, SourceItem
from ownscan.plugins._media import is_litter


def walk_files(root: Path) -> Iterator[Path]:
    """Every regular file under ``root``, sorted per folder, each real folder once."""
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = folder.stat()
        except OSError:
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:
            continue
        seen.add(key)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        subdirs = []
        for entry in entries:
            # macOS / Windows litter is never DICOM and only clutters reports: the same rule as
            # the disc and zip importers (a __MACOSX folder, .DS_Store, ._x, Thumbs.db...)
            if entry.name == "__MACOSX" or is_litter((entry.name,)):
                continue
            try:
                if entry.is_dir(follow_symlinks=True):
                    subdirs.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=True):
                    yield Path(entry.path)
            except OSError:
                continue
        stack.extend(reversed(subdirs))


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
        for f in walk_files(path):
            media = "application/pdf" if f.suffix.lower() == ".pdf" else "application/dicom"
            yield SourceItem(origin=str(f), path=f, media_type=media)


@hookimpl
def ownscan_importers() -> list[FolderImporter]:
    return [FolderImporter()]
