"""The names the page gives a series' files: the user's own, never the library's.

A stored file lives in the library as ``objects/ab/abcd...`` (its SHA-256); the library names
it by the origin it recorded (``Library.series_items``: the path given to ``ownscan import``, a
DICOMweb address with its secrets removed), the stored copy only where no origin was recorded.
A patient in the browser must see the file as they imported it, and never a path inside the
library or the server's own folders: every series the server assembles (its warnings, its
errors) is assembled from the library's items with their names made the page's
(:func:`served_items`, :func:`shown_origin`), and an upload's files are stored under the names
the browser gave (:func:`renamed_items`, ``_uploads.py``), ``scans.zip!DICOM/IM0001``.

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
    return [
        dataclasses.replace(item, origin=shown_origin(item.origin, lib.root))
        for item in lib.series_items(series_uid)
    ]


def renamed_items(
    items: Iterable[SourceItem], rename: Callable[[str], str]
) -> Iterator[SourceItem]:
    """``items`` with their origins as ``rename`` gives them (an upload's staging path ->
    the name the browser gave), so that the library records the user's name."""
    for item in items:
        origin = rename(item.origin)
        yield item if origin == item.origin else dataclasses.replace(item, origin=origin)
