"""Files on the user's disk: the one walk of a folder that assembly and the importers share.

Public API::

    from ownscan.core.files import walk_files, is_litter

    for path in walk_files(folder):   # every regular file, sorted per folder, no litter
        ...

Core reads a folder itself (``assemble(folder)``) and so do the built-in importers (the
folder importer; the disc importer for a disc copied to a folder): one walk, one rule for
litter, so that the same folder gives the same files whichever way it is read.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

__all__ = ["is_litter", "walk_files"]

_LITTER_NAMES = frozenset({".ds_store", "thumbs.db", "desktop.ini", "ehthumbs.db"})


def is_litter(parts: tuple[str, ...]) -> bool:
    """True for macOS / Windows litter: ``__MACOSX/``, ``.DS_Store``, ``._x``, ``Thumbs.db``.

    Parameters
    ----------
    parts
        The path components of a file, the file's name last.
    """
    if any(p == "__MACOSX" for p in parts[:-1]):
        return True
    last = parts[-1]
    return last.lower() in _LITTER_NAMES or last.startswith("._")


def walk_files(root: Path) -> Iterator[Path]:
    """Every regular file under ``root``, sorted per folder, each real folder once.

    Symbolic links to folders are followed, but each real folder is visited once, so a link
    loop (``a/loop -> ..``) ends instead of running forever. Folders and files that cannot be
    read are passed over; litter (:func:`is_litter`) is left out.

    Parameters
    ----------
    root
        The folder to walk.

    Yields
    ------
    Path
        Each file, depth first, in name order within a folder.
    """
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
