"""What plugins hand to ownscan: importers, exporters and the items importers yield.

A plugin author writes a small class with a few attributes and one or two methods; these
Protocols only describe the shape (no base class to inherit from), and the plugin host checks
every contribution against them (:data:`CONTRACTS`). See docs/PLUGINS.md.
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ownscan.core.volume import Volume

__all__ = [
    "CONTRACTS",
    "DICOM",
    "Exporter",
    "ImportOptions",
    "Importer",
    "Named",
    "OptionParser",
    "SearchResult",
    "SourceItem",
    "WindowPresetLike",
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
    skip
        Set when the importer passes over the item on purpose without opening it (a FIFO or a
        device file, a link that leads to no file found in a folder): reported as skipped
        with this reason, never read.
    temporary
        ``path`` is the importer's own copy in :attr:`ImportOptions.spool` (a DICOMweb answer
        written there as it arrived): the library removes it once it has read it, and when
        the import ends at the latest.
    """

    origin: str
    path: Path | None = None
    data: bytes | None = None
    media_type: str = DICOM
    problem: str | None = None
    temporary: bool = False
    skip: str | None = None

    def __post_init__(self) -> None:
        if self.problem is self.skip is None and (self.path is None) == (self.data is None):
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
    spool
        Given by the library: a folder of its own (on the same disk) where an importer may
        write what it downloads, so that nothing large is held in memory; such files are
        yielded as ``SourceItem(path=..., temporary=True)``. None outside the library.
    """

    extra: Mapping[str, Any] = field(default_factory=dict)
    known_instance: Callable[[str], bool] | None = None
    spool: Path | None = None

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


@runtime_checkable
class Named(Protocol):
    """What every contribution has: a name (modes and transfer functions are checked for no
    more; their fields are documented in :mod:`ownscan.core.render`)."""

    name: str


@runtime_checkable
class WindowPresetLike(Protocol):
    """The shape of a window preset (:class:`ownscan.core.volume.WindowPreset` has it)."""

    name: str
    width: float
    level: float


# hook -> the Protocol each contributed object must satisfy (members and simple types are
# derived from the Protocol by the plugin host; nothing here repeats them)
CONTRACTS: dict[str, type] = {
    "ownscan_importers": Importer,
    "ownscan_exporters": Exporter,
    "ownscan_modes": Named,
    "ownscan_window_presets": WindowPresetLike,
    "ownscan_transfer_functions": Named,
}


@dataclass(frozen=True)
class SearchResult:
    """What an importer's optional ``search(source, options)`` returns (``ownscan search``).

    Parameters
    ----------
    source
        The source as the importer names it for people (no credentials).
    studies
        One mapping per study: ``study_uid``, ``patient_id``, ``patient_name``, ``date``
        (``YYYY-MM-DD``), ``description``, ``modalities`` (a list), ``series_count`` and
        ``instance_count`` (None when unknown). JSON-ready.
    """

    source: str
    studies: Sequence[Mapping[str, Any]]


class OptionParser:
    """What ``ownscan_addoption`` receives: ``add_argument`` for one command's options.

    A plugin adds the command-line flags its importer (or exporter) understands; the value the
    user gives reaches it as ``ImportOptions.extra[key]`` (the exporter: its ``options``), where
    ``key`` is the option's ``dest`` (``--password`` -> ``password``). Flags are long options
    only. An option the user did not give is absent from ``extra`` (the plugin's own default
    applies), unless the plugin gives it a ``default``.

    The flags are checked when added (as :meth:`argparse.ArgumentParser.add_argument` does) and
    against those the command and earlier plugins already have: a clash makes the later plugin
    broken, as a clashing importer name does.

    Parameters
    ----------
    command
        The subcommand being set up (``"import"``, ``"search"``...), also passed to the hook.
    """

    def __init__(self, command: str) -> None:
        self.command = command
        # (flags, keyword arguments with dest and default filled in), in the order added
        self.options: list[tuple[tuple[str, ...], dict[str, Any]]] = []
        self._check = argparse.ArgumentParser(add_help=False, prog=f"ownscan {command}")

    def add_argument(self, *flags: str, **kwargs: Any) -> None:
        """Add a flag, with the keyword arguments of :meth:`argparse.ArgumentParser.add_argument`.

        Raises
        ------
        ValueError
            A flag is not a long option (``--name``), or argparse refuses the arguments.
        """
        if not flags or not all(f.startswith("--") and len(f) > 2 for f in flags):
            raise ValueError(f"plugin options are long flags (--name), got {flags!r}")
        kwargs = dict(kwargs)
        kwargs.setdefault("dest", flags[0][2:].replace("-", "_"))
        kwargs.setdefault("default", None)
        try:
            self._check.add_argument(*flags, **kwargs)
        except (argparse.ArgumentError, TypeError) as exc:
            raise ValueError(f"option {flags[0]}: {exc}") from None
        self.options.append((flags, kwargs))

    @property
    def flags(self) -> list[str]:
        """Every flag added so far."""
        return [f for flags, _ in self.options for f in flags]
