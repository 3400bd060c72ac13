"""What plugins hand to ownscan: importers, exporters and the items importers yield.

A plugin author writes a small class with a few attributes and one or two methods; these
Protocols only describe the shape (no base class to inherit from). See docs/PLUGINS.md.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ownscan.core.volume import Volume

__all__ = [
    "DICOM",
    "Exporter",
    "ImportOptions",
    "Importer",
    "SourceItem",
]

DICOM = "application/dicom"


@dataclass(frozen=True)
class SourceItem:
    """One file that an importer found, with where it came from.

    Exactly one of ``path`` (a file on disk, read lazily) and ``data`` (bytes in memory) is set,
    unless ``problem`` says why the item could not be read at all.

    Parameters
    ----------
    origin
        Where it came from, for people: a path, ``disc.iso!DICOM/IM000001``,
        ``export.zip!scans/1.dcm`` or a URL.
    path, data
        The content.
    media_type
        ``application/dicom`` for (probable) DICOM instances; documents that belong with the
        study (``application/pdf``) pass through too. Items that are DICOM by guess only still
        say ``application/dicom``; reading them decides.
    problem
        Set when the importer refused or could not read the item (e.g. a zip entry escaping its
        folder). Such items carry no content and are reported, never imported.
    """

    origin: str
    path: Path | None = None
    data: bytes | None = None
    media_type: str = DICOM
    problem: str | None = None

    def __post_init__(self) -> None:
        if self.problem is None and (self.path is None) == (self.data is None):
            raise ValueError(f"{self.origin}: give exactly one of path and data")

    def open(self) -> BinaryIO:
        """A binary file object over the content."""
        if self.data is not None:
            return io.BytesIO(self.data)
        if self.path is None:
            raise ValueError(f"{self.origin}: no content ({self.problem})")
        return self.path.open("rb")

    def read_bytes(self) -> bytes:
        """The whole content."""
        if self.data is not None:
            return self.data
        if self.path is None:
            raise ValueError(f"{self.origin}: no content ({self.problem})")
        return self.path.read_bytes()


@dataclass(frozen=True)
class ImportOptions:
    """What the user asked for on the command line, passed to the importer that claimed a source.

    Parameters
    ----------
    extra
        Importer-specific options (``password`` for zips, ``study`` for DICOMweb...).
    known_instance
        Given by the library: ``known_instance(sop_instance_uid)`` is True when the library
        already holds that instance, so an importer that can tell the UID before fetching the
        bytes (DICOMweb, a DICOMDIR) may skip it. None outside the library.
    """

    extra: Mapping[str, Any] = field(default_factory=dict)
    known_instance: Callable[[str], bool] | None = None

    def get(self, key: str, default: Any = None) -> Any:
        return self.extra.get(key, default)


@runtime_checkable
class Importer(Protocol):
    """Reads a kind of source (a folder, a disc, a zip, a URL) into :class:`SourceItem` s.

    Attributes
    ----------
    name
        Short unique name, used by ``--via NAME``.
    description
        One line for ``ownscan plugins``.
    priority
        Higher is asked first. Built-in fallbacks (the plain folder importer) use negative
        priorities so that a more specific importer, a third party's included, wins.
    """

    name: str
    description: str
    priority: int

    def claims(self, source: str) -> bool:
        """True if this importer can read ``source`` (a path or URL).

        Must be cheap (a name or a stat, not the content): every importer is asked in turn.
        An exception here is logged as a warning and counts as False.
        """
        ...

    def iter_items(self, source: str, options: ImportOptions) -> Iterator[SourceItem]:
        """Yield every file found in ``source``. Errors about single files become items with
        ``problem`` set; an error about the whole source raises :class:`ImportFailed`."""
        ...


@runtime_checkable
class Exporter(Protocol):
    """Writes series out of ownscan in some format.

    Attributes
    ----------
    name
        The ``--format`` value.
    description
        One line for ``ownscan plugins``.
    writes_folder
        True when one export writes several files and ``--output`` is a folder; False when it
        writes one file and ``--output`` is that file's path.
    """

    name: str
    description: str
    writes_folder: bool

    def export(
        self, volumes: Sequence[Volume], output: Path, options: Mapping[str, Any]
    ) -> list[Path]:
        """Write ``volumes`` to ``output`` and return the paths written."""
        ...
