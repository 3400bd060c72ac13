"""The names the page gives a series' files: the user's own, never the library's.

A stored file lives in the library as ``objects/ab/abcd...`` (its SHA-256); the desktop and the
command line name it as ``STORED (imported from ORIGIN)``, which helps someone who manages the
library. A patient in the browser must see the file as they imported it: the path they gave
``ownscan import``, the file's name and place in the upload they dropped on the page
(``scans.zip!DICOM/IM0001``), the DICOMweb address (its secrets already removed). So every
series the server assembles (its warnings, its errors) is assembled from items named by their
origin alone (:func:`served_items`), and an upload's files are stored under the names the
browser gave (:func:`renamed_items`, ``_uploads.py``).

Libraries filled by an older server hold uploads under their staging path (the server's
private folder, ``serve/uploads/ID/files/f000001.zip``): that says nothing to the user and names
the server's folders, so it is shown as ``uploaded file`` (with the member inside an archive).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from ownscan.core.plugin_types import SourceItem

__all__ = ["UPLOADED", "renamed_items", "served_items", "shown_origin"]

UPLOADED = "uploaded file"
# ``STORED (imported from ORIGIN)``: a file imported from another library (``library:UID``)
_NESTED = re.compile(r"^.* \(imported from (.*)\)$", re.DOTALL)
# the server's staging of an upload: serve/uploads/<32 hex>/(files|loose)/<name>[!member]
_STAGED = re.compile(r"(?:^|[/\\])serve[/\\]uploads[/\\][0-9a-f]{32}[/\\](?:files|loose)[/\\][^!]*")


def shown_origin(origin: str, library: Path) -> str:
    """The name the user knows a stored file by, from the origin the library recorded.

    Parameters
    ----------
    origin
        The instance's origin as the library holds it.
    library
        The library's folder: a path inside it is the library's, never the user's.

    Returns
    -------
    str
        ``origin`` itself (the user's path, the upload's name, a URL); the original origin of a
        file imported from another library; ``uploaded file[!member]`` for an upload staged
        by an older server; the file name alone for any other path inside the library.
    """
    while (m := _NESTED.match(origin)) is not None:
        origin = m.group(1)
    staged = _STAGED.search(origin)
    if staged is not None:
        return UPLOADED + origin[staged.end() :]
    root = str(library).rstrip("/\\")
    if origin.startswith((root + "/", root + "\\")):
        return origin.replace("\\", "/").rsplit("/", 1)[-1]
    return origin


def served_items(lib: Any, series_uid: str) -> list[SourceItem]:
    """The stored files of a series for the server's assembly, each named by
    :func:`shown_origin` (``lib``: an open library).

    Raises
    ------
    LibraryError
        No such series in the library.
    """
    instances = lib.instances(series_uid)
    if not instances:
        return list(lib.series_items(series_uid))  # its error for a series not held
    return [
        SourceItem(origin=shown_origin(i.origin, lib.root), path=Path(i.path)) for i in instances
    ]


def renamed_items(
    items: Iterable[SourceItem], rename: Callable[[str], str]
) -> Iterator[SourceItem]:
    """``items`` with their origins as ``rename`` gives them (an upload's staging path ->
    the name the browser gave), so that the library records the user's name."""
    for item in items:
        origin = rename(item.origin)
        yield item if origin == item.origin else dataclasses.replace(item, origin=origin)
