"""The tar importer: DICOM files read straight out of a ``.tar`` / ``.tar.gz`` / ``.tgz``.

Some hospital portals and research archives hand out scans as tar archives; ownscan's built-in
importers take folders, discs, zips and DICOMweb, not tars. This plugin adds them, and is the
model to copy for a plugin of your own: one small class with three attributes and two methods,
and one ``@hookimpl`` function that returns it. There is no base class to inherit.

What it does, and why:

- the archive is *streamed* (``tarfile`` mode ``r|*``): members are read in order, each once, so
  a compressed archive is decompressed once, front to back, and never extracted to disk;
- each regular file becomes a ``SourceItem(data=...)`` whose ``origin`` says where it came from,
  ``archive.tar.gz!path/in/archive``, so reports name the member, not just the archive;
- members that could be an attack or a surprise are *refused, not skipped silently*: a path
  that escapes the archive (``../x``, ``/etc/x``), a symbolic or hard link, a device or FIFO, or
  a member larger than the limit come out as items with ``problem`` set, which ownscan reports;
- a damaged archive raises ``ImportFailed`` after the members read so far were yielded, so what
  could be read is not lost.
"""

from __future__ import annotations

import posixpath
import tarfile
from collections.abc import Iterator
from pathlib import Path

# ownscan's public plugin API: everything a plugin needs comes from ownscan.core.
from ownscan.core import ImportFailed, ImportOptions, SourceItem, hookimpl
from ownscan.core.plugin_types import OptionParser

__all__ = ["DEFAULT_MAX_MEMBER_BYTES", "TarImporter", "ownscan_addoption", "ownscan_importers"]

# The suffixes this importer claims. tarfile also reads .tar.bz2 / .tar.xz; add them if needed.
SUFFIXES = (".tar", ".tar.gz", ".tgz")

# One member is held in memory at a time; refuse members larger than this (a CT or MR
# instance is rarely above a few hundred MB, a whole multi-frame study can be ~1 GB).
# Importer-specific options reach iter_items in ImportOptions.extra; this one is
# "tar_max_member_bytes" (the flag --tar-max-member-bytes, added by ownscan_addoption below).
DEFAULT_MAX_MEMBER_BYTES = 2 * 1024**3

# Clutter that archivers add and that is never a scan: macOS resource forks ("._name" and the
# "__MACOSX" folder) and desktop files.
_JUNK_NAMES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})


class TarImporter:
    """Reads the DICOM files inside a tar archive, compressed or not.

    The three attributes are what ownscan needs to list and choose importers.
    """

    name = "tar"  # what `--via tar` takes
    description = "DICOM files inside a .tar, .tar.gz or .tgz archive (streamed, not extracted)"
    # Above the built-in folder importer (-100), which would otherwise claim the archive as
    # "a single file" and fail to read it as DICOM.
    priority = 10

    def claims(self, source: str) -> bool:
        """True for an existing local file named like a tar archive.

        Must be cheap: ownscan asks every importer in turn. Only the name is looked at; whether
        the file really is a tar archive shows when it is read.
        """
        if "://" in source:
            return False
        path = Path(source)
        return path.name.lower().endswith(SUFFIXES) and path.is_file()

    def iter_items(self, source: str, options: ImportOptions) -> Iterator[SourceItem]:
        """Yield one item per regular file in the archive, in archive order.

        Raises
        ------
        ImportFailed
            The file is not a tar archive, or it is damaged (after yielding the members that
            came before the damage).
        """
        max_bytes = int(options.get("tar_max_member_bytes", DEFAULT_MAX_MEMBER_BYTES))
        try:
            # "r|*": a stream (no seeking), compression detected from the content, not the name
            archive = tarfile.open(source, mode="r|*")  # noqa: SIM115 (closed by the with below)
        except (tarfile.TarError, OSError) as exc:
            raise ImportFailed(source, f"not a readable tar archive ({exc})") from exc
        done = 0
        with archive:
            try:
                for member in archive:
                    item = self._item(source, archive, member, max_bytes)
                    done += 1
                    if item is not None:
                        yield item
            except (tarfile.TarError, EOFError, OSError) as exc:
                # gzip and zlib errors are OSError / EOFError; tar header errors are TarError
                raise ImportFailed(
                    source, f"archive is damaged after {done} members: {exc}"
                ) from exc

    @staticmethod
    def _item(
        source: str, archive: tarfile.TarFile, member: tarfile.TarInfo, max_bytes: int
    ) -> SourceItem | None:
        """The item for one member, an item with ``problem`` for a refused one, or None."""
        origin = f"{source}!{member.name}"
        if member.isdir() or _is_junk(member.name):
            return None
        problem = _refusal(member, max_bytes)
        if problem is not None:
            return SourceItem(origin=origin, problem=problem)
        handle = archive.extractfile(member)
        if handle is None:  # cannot happen for a regular file; kept for the type checker
            return SourceItem(origin=origin, problem="has no content")
        data = handle.read()
        media = "application/pdf" if member.name.lower().endswith(".pdf") else "application/dicom"
        return SourceItem(origin=origin, data=data, media_type=media)


def _refusal(member: tarfile.TarInfo, max_bytes: int) -> str | None:
    """Why a member is refused, or None when it is a regular file that stays inside."""
    if member.issym() or member.islnk():
        kind = "symbolic" if member.issym() else "hard"
        return f"is a {kind} link (to {member.linkname!r}); links in archives are not followed"
    if not member.isfile():
        return "is not a regular file (device, FIFO or other special member)"
    if _escapes(member.name):
        return "path escapes the archive (absolute, or '..' leads outside); refused"
    if member.size > max_bytes:
        return f"is {member.size} bytes, more than the limit of {max_bytes}; refused"
    return None


def _escapes(name: str) -> bool:
    """True if ``name`` would land outside a folder the archive were extracted into.

    Backslashes count as separators too: archives made on Windows may use them.
    """
    name = name.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):  # /abs or C:/abs
        return True
    normal = posixpath.normpath(name)
    return normal == ".." or normal.startswith("../")


def _is_junk(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    base = parts[-1]
    return base in _JUNK_NAMES or base.startswith("._") or "__MACOSX" in parts


# The hook: ownscan calls it once and asks the returned importers for every source.
@hookimpl
def ownscan_importers() -> list[TarImporter]:
    """The importers this plugin adds to ownscan."""
    return [TarImporter()]


# The command-line flags of this plugin: added to the commands that read a source, only when
# one of them runs. The value reaches iter_items as options.get("tar_max_member_bytes").
@hookimpl
def ownscan_addoption(parser: OptionParser, command: str) -> None:
    """Add --tar-max-member-bytes to the commands that read sources."""
    if command in ("import", "info", "export", "render"):
        parser.add_argument(
            "--tar-max-member-bytes",
            type=int,
            metavar="N",
            help=f"tar: refuse members larger than N bytes (default {DEFAULT_MAX_MEMBER_BYTES})",
        )
