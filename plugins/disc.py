"""The built-in CD / DVD importer: a disc with a DICOMDIR, the DICOMDIR itself, or an ISO image.

What hospitals burn follows IHE PDI (Portable Data for Imaging): a DICOMDIR at the root, the
images in nested folders with 8-character upper-case names without extensions
(``DICOM/ST000000/SE000000/IM000000``), often beside a Windows viewer, ``AUTORUN.INF``, HTML
pages and PDF reports. This importer takes:

- a mounted disc or a copied folder with a DICOMDIR at its root;
- the path of the DICOMDIR file itself (its folder is the disc);
- an ISO 9660 image (``.iso``, or any file with the ISO 9660 signature), read in place with
  pycdlib: members are read one at a time into memory and yielded as bytes, in the order they
  lie in the image; nothing is extracted to disk. Rock Ridge names are used when present, else
  Joliet, else plain ISO 9660 names (``IM000001.;1`` is read as ``IM000001``).

What it yields
--------------
With a readable DICOMDIR: every file the DICOMDIR references, in DICOMDIR order (patient,
study, series), skipping instances that :attr:`ImportOptions.known_instance` says the library
already holds; then any other file on the disc that is DICOM by its preamble (a disc that
forgot to list some images); then PDF files, as ``application/pdf``. The viewer and its web
pages are not yielded. A referenced file that is absent becomes an item with ``problem`` set.

What it deliberately does not read is yielded with ``skip`` set, so the import says what and
why: on a disc folder, an entry that is not a regular file (a FIFO, a device, a link that leads
to no file; core's walk, as the folder importer); in an image, a Rock Ridge symbolic link (never
followed) and a Rock Ridge FIFO, device or socket. A DICOMDIR listing such an entry gets its
``skip`` item, not a "missing" problem. The disc's own software (below) and macOS / Windows
litter are left unsaid, as everywhere: a viewer of a thousand files would bury the patient's.

Without a DICOMDIR, or with one that cannot be read, it logs a warning saying so and scans:
every file is yielded except the disc's software (files with a known non-DICOM suffix such as
``.exe`` or ``.htm`` that do not start with the DICOM preamble), and reading decides. Record
matching is case-free and ignores ISO 9660 version suffixes, because mounted discs show names
in either case.
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any

from ownscan.core.errors import ImportFailed
from ownscan.core.hookspecs import hookimpl
from ownscan.core.plugin_types import ImportOptions, SourceItem
from ownscan.plugins._media import (
    DICOM,
    NON_DICOM_SUFFIXES,
    PDF,
    DicomdirEntry,
    DicomdirError,
    DicomdirIndex,
    is_litter,
    media_type_for,
    normalise_name,
    read_dicomdir,
)

__all__ = [
    "DicomdirEntry",
    "DicomdirError",
    "DicomdirIndex",
    "DiscImporter",
    "is_iso_image",
    "read_dicomdir",
]

log = logging.getLogger(__name__)

_ISO_MAGIC_OFFSET = 0x8001  # "CD001" of the first volume descriptor (sector 16, byte 1)
_HEAD = 132  # preamble (128) + "DICM"
_DICOMDIR_MAX = 256 << 20


def is_iso_image(path: Path) -> bool:
    """True when ``path`` is a file with the ISO 9660 signature (reads 5 bytes)."""
    try:
        with path.open("rb") as f:
            f.seek(_ISO_MAGIC_OFFSET)
            return f.read(5) == b"CD001"
    except OSError:
        return False


def _find_dicomdir_in(folder: Path) -> Path | None:
    try:
        with os.scandir(folder) as it:
            for entry in it:
                if normalise_name(entry.name) == "DICOMDIR" and entry.is_file():
                    return Path(entry.path)
    except OSError:
        return None
    return None


# ---------------------------------------------------------------------------------------------
# Media: a folder on disk or an ISO image, seen as a list of files
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _File:
    parts: tuple[str, ...]  # names as shown, relative to the medium's root
    ref: Any  # a Path (folder) or the path inside the image (ISO)
    extent: int = 0  # where the data lies in an image (read in this order)
    size: int = 0  # its length in an image (pycdlib's, shortened where the image is cut)

    @cached_property
    def key(self) -> tuple[str, ...]:
        return tuple(normalise_name(p) for p in self.parts)

    @property
    def name(self) -> str:
        return self.parts[-1]


@dataclass(frozen=True)
class _Passed:
    """An entry of the medium that is deliberately not read, and why (``SourceItem.skip``)."""

    file: _File
    why: str


class _FolderMedium:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.label = str(root)
        self._passed: list[_Passed] = []

    def files(self) -> list[_File]:
        from ownscan.core.files import walk_entries

        out = []
        self._passed = []
        for p, why in walk_entries(self.root):
            f = _File(p.relative_to(self.root).parts, p)
            if why is None:
                out.append(f)
            else:  # a FIFO, a device, a dangling link: named, never opened
                self._passed.append(_Passed(f, why))
        return out

    def passed_over(self) -> list[_Passed]:
        """What :meth:`files` found and did not list, with why (never opened)."""
        return list(self._passed)

    def origin(self, parts: tuple[str, ...]) -> str:
        return str(self.root.joinpath(*parts))

    def head(self, f: _File) -> bytes:
        with Path(f.ref).open("rb") as fp:
            return fp.read(_HEAD)

    def read(self, f: _File) -> bytes:
        return Path(f.ref).read_bytes()

    def size(self, f: _File) -> int:
        return Path(f.ref).stat().st_size

    def item(self, f: _File, media_type: str) -> SourceItem:
        return SourceItem(origin=str(f.ref), path=Path(f.ref), media_type=media_type)

    def close(self) -> None:
        pass


class _IsoMedium:
    """An ISO 9660 image read in place with pycdlib (Rock Ridge > Joliet > ISO 9660 names)."""

    def __init__(self, path: Path) -> None:
        import pycdlib

        self.label = str(path)
        self.iso = pycdlib.PyCdlib()
        self.fp = path.open("rb")
        self._listed: list[_File] | None = None
        self._passed: list[_Passed] = []
        try:
            self.iso.open_fp(self.fp)
        except _pycdlib_errors() as exc:
            self.fp.close()
            raise _Refused(str(exc)) from exc
        if self.iso.has_rock_ridge():
            self.namespace, self.encoding = "rr_path", "utf-8"
        elif self.iso.has_joliet():
            self.namespace, self.encoding = "joliet_path", "utf-16_be"
        else:
            self.namespace, self.encoding = "iso_path", "latin-1"
        self.names = {"rr_path": "Rock Ridge", "joliet_path": "Joliet", "iso_path": "ISO 9660"}[
            self.namespace
        ]
        # An interrupted download: the volume is larger than the file. pycdlib then shortens
        # the files that run past the end, so those are found by where they end.
        self.block = int(self.iso.logical_block_size)
        self.file_size = path.stat().st_size
        declared = int(self.iso.pvd.space_size) * int(self.iso.pvd.log_block_size)
        self.truncated = declared > self.file_size
        if self.truncated:
            log.warning(
                "%s: the image is incomplete (%d of %d bytes); files past its end are reported",
                self.label,
                self.file_size,
                declared,
            )

    def _name(self, rec: Any) -> str:
        raw = rec.file_identifier()
        if self.namespace == "rr_path" and rec.rock_ridge is not None:
            raw = rec.rock_ridge.name()
        return bytes(raw).decode(self.encoding, errors="replace")

    def files(self) -> list[_File]:
        if self._listed is None:
            try:
                self._listed = self._files()
            except _pycdlib_errors() as exc:
                raise _Refused(str(exc)) from exc
        return list(self._listed)

    def passed_over(self) -> list[_Passed]:
        """What :meth:`files` found and did not list, with why (never read)."""
        return list(self._passed)

    def _files(self) -> list[_File]:
        out: list[_File] = []
        self._passed = []
        stack: list[tuple[str, tuple[str, ...]]] = [("/", ())]
        seen: set[int] = set()
        while stack:
            path, parts = stack.pop()
            children = list(self.iso.list_children(**{self.namespace: path}))
            subdirs = []
            for rec in children:
                if rec is None or rec.is_dot() or rec.is_dotdot():
                    continue
                name = self._name(rec)
                child = f"{path.rstrip('/')}/{name}"
                if self.namespace == "iso_path":  # show IM000001, not IM000001.;1
                    base, _, version = name.rpartition(";")
                    name = (base if version.isdigit() else name).removesuffix(".") or name
                if rec.is_dir():
                    if rec.extent_location() not in seen:  # hard-linked folders, once
                        seen.add(rec.extent_location())
                        subdirs.append((child, (*parts, name)))
                elif rec.is_symlink():  # (pycdlib: asked first, a link is a file too)
                    why = f"a symbolic link on the disc{_link_target(rec)}; not followed"
                    self._passed.append(_Passed(_File((*parts, name), child), why))
                elif (kind := _special(rec)) is not None:
                    why = f"not a regular file ({kind}); not read"
                    self._passed.append(_Passed(_File((*parts, name), child), why))
                elif rec.is_file():
                    size = rec.get_data_length()
                    out.append(_File((*parts, name), child, rec.extent_location(), size))
            stack.extend(reversed(subdirs))
        return out

    def origin(self, parts: tuple[str, ...]) -> str:
        return f"{self.label}!{'/'.join(parts)}"

    def _open(self, f: _File) -> Any:
        return self.iso.open_file_from_iso(**{self.namespace: f.ref})

    def head(self, f: _File) -> bytes:
        try:
            with self._open(f) as fp:
                return bytes(fp.read(_HEAD))
        except _pycdlib_errors():
            return self._extent(f, _HEAD)

    def read(self, f: _File) -> bytes:
        try:
            with self._open(f) as fp:
                return bytes(fp.read())
        except _pycdlib_errors():
            return self._extent(f, f.size)

    def _extent(self, f: _File, n: int) -> bytes:
        """The first ``n`` bytes of ``f`` read from its extent, without pycdlib (which lists
        a file of a damaged image that it then cannot find again)."""
        start = f.extent * self.block
        if f.extent <= 16 or start + f.size > self.file_size:
            raise OSError(f"its extent ({f.extent}, {f.size} bytes) lies outside the image")
        self.fp.seek(start)
        return self.fp.read(min(n, f.size))

    def size(self, f: _File) -> int:
        return f.size

    def item(self, f: _File, media_type: str) -> SourceItem:
        origin = self.origin(f.parts)
        try:
            data = self.read(f)
        except (OSError, ValueError) as exc:
            return SourceItem(origin=origin, media_type=media_type, problem=f"unreadable: {exc}")
        if self.truncated and f.extent * self.block + max(f.size, 0) >= self.file_size:
            return SourceItem(
                origin=origin,
                media_type=media_type,
                problem="truncated: the image ends inside this file (an incomplete copy or "
                "download of the disc)",
            )
        return SourceItem(origin=origin, data=data, media_type=media_type)

    def close(self) -> None:
        try:
            self.iso.close()
        except Exception as exc:  # closing must not hide what happened before
            log.debug("closing %s: %s", self.label, exc)
        finally:
            self.fp.close()


def _link_target(rec: Any) -> str:
    """`` (to 'TARGET')`` for a Rock Ridge symbolic link, or "" where it cannot be read."""
    try:
        target = bytes(rec.rock_ridge.symlink_path()).decode("utf-8", errors="replace")
    except Exception:  # pycdlib's own errors and a damaged SL record alike: said without it
        return ""
    return f" (to {target!r})"


def _special(rec: Any) -> str | None:
    """What a Rock Ridge entry that is not a regular file is (a FIFO, a device, a socket),
    from its POSIX mode; None for a regular file, or where the image gives no mode (plain
    ISO 9660 and Joliet know only files and folders). Its extent holds nothing to read."""
    import stat

    if rec.rock_ridge is None:
        return None
    try:
        mode = int(rec.rock_ridge.get_file_mode())
    except Exception:  # no PX record: nothing says it is not a file
        return None
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return None


class _Refused(Exception):
    """pycdlib refused the image (its strict checks): recovery is tried."""


def _pycdlib_errors() -> tuple[type[BaseException], ...]:
    from pycdlib.pycdlibexception import PyCdlibException

    return (PyCdlibException, OSError, ValueError, IndexError, KeyError, struct.error)


class _RecoveredIso(_IsoMedium):
    """A damaged ISO image that pycdlib refuses: the files whose records and extents are
    sound (:func:`ownscan.plugins._iso.recover`), read from their extents."""

    def __init__(self, path: Path, why: str) -> None:
        from ownscan.plugins._iso import recover

        self.label = str(path)
        self.fp = path.open("rb")
        self.file_size = path.stat().st_size
        self.truncated = False
        self._passed = []  # (what the recovery could not read is logged: damage, not a skip)
        try:
            found = recover(self.fp, self.file_size)
        except (OSError, struct.error) as exc:
            found = None
            why = f"{why}; {exc}"
        if found is None:
            self.fp.close()
            raise ImportFailed(str(path), f"not a readable ISO 9660 image ({why})")
        self.block = found.block
        self.names = found.names
        self.recovered = [_File(f.parts, f.parts, f.extent, f.size) for f in found.files]
        shown = "; ".join(found.skipped[:10])
        more = f"; and {len(found.skipped) - 10} more" if len(found.skipped) > 10 else ""
        log.warning(
            "%s: the image is damaged (%s): %d file(s) recovered whose records and extents "
            "are sound%s",
            self.label,
            why,
            len(self.recovered),
            f"; skipped: {shown}{more}" if found.skipped else "",
        )

    def files(self) -> list[_File]:
        return list(self.recovered)

    def head(self, f: _File) -> bytes:
        return self._extent(f, _HEAD)

    def read(self, f: _File) -> bytes:
        return self._extent(f, f.size)

    def close(self) -> None:
        self.fp.close()


def _open_iso(path: Path) -> _IsoMedium:
    """The image read by pycdlib, or, where its strict checks refuse it, recovered."""
    try:
        medium = _IsoMedium(path)
    except _Refused as exc:
        return _RecoveredIso(path, str(exc))
    try:
        medium.files()  # pycdlib reads folders when listed: damage may show only now
    except _Refused as exc:
        medium.close()
        return _RecoveredIso(path, str(exc))
    return medium


_Medium = _FolderMedium | _IsoMedium


# ---------------------------------------------------------------------------------------------
# The importer
# ---------------------------------------------------------------------------------------------
class DiscImporter:
    """Reads a CD / DVD: a folder with a DICOMDIR, a DICOMDIR file, or an ISO image."""

    name = "disc"
    description = "a CD/DVD: folder with a DICOMDIR, the DICOMDIR file, or an .iso image"
    priority = 50

    def claims(self, source: str) -> bool:
        if "://" in source:
            return False
        path = Path(source)
        if path.is_dir():
            return _find_dicomdir_in(path) is not None
        if not path.is_file():
            return False
        if normalise_name(path.name) == "DICOMDIR":
            return True
        return path.suffix.lower() == ".iso" or is_iso_image(path)

    def iter_items(self, source: str, options: ImportOptions) -> Iterator[SourceItem]:
        path = Path(source)
        medium: _Medium
        if path.is_dir():
            medium = _FolderMedium(path)
        elif path.is_file() and normalise_name(path.name) == "DICOMDIR":
            medium = _FolderMedium(path.parent)
        elif path.is_file():
            medium = _open_iso(path)
            log.debug("%s: reading %s names", source, medium.names)
        else:
            raise ImportFailed(source, "not a folder, DICOMDIR or disc image")
        try:
            yield from _iter_medium(medium, options)
        finally:
            medium.close()


def _iter_medium(medium: _Medium, options: ImportOptions) -> Iterator[SourceItem]:
    files = [f for f in medium.files() if not is_litter(f.parts)]
    passed = {p.file.key: p for p in medium.passed_over() if not is_litter(p.file.parts)}
    for p in passed.values():  # said first, whatever the DICOMDIR lists: never read
        yield SourceItem(origin=medium.origin(p.file.parts), skip=p.why)
    dicomdirs = sorted(
        (f for f in files if f.key[-1] == "DICOMDIR"), key=lambda f: (len(f.parts), f.parts)
    )
    if not dicomdirs:
        log.warning("%s: no DICOMDIR on this disc; scanning every file instead", medium.label)
        yield from _scan(medium, files)
        return
    by_key = {f.key: f for f in files}
    referenced: set[tuple[str, ...]] = {d.key for d in dicomdirs}
    indexes: list[tuple[_File, DicomdirIndex]] = []
    for d in dicomdirs:
        where = f"{medium.label}: {'/'.join(d.parts)}"
        try:
            if medium.size(d) > _DICOMDIR_MAX:  # ~1 kB per image: this is not a DICOMDIR
                raise DicomdirError(f"{medium.size(d)} bytes is far too large for a DICOMDIR")
            index = read_dicomdir(medium.read(d))
        except (DicomdirError, OSError) as exc:
            log.warning("%s cannot be used (%s); scanning every file instead", where, exc)
            yield from _scan(medium, [f for f in files if f.key not in referenced])
            return
        for note in index.notes:
            log.warning("%s: %s", where, note)
        indexes.append((d, index))

    # Resolve every record to a file first: a DICOMDIR none of whose files is there is broken.
    resolved: list[tuple[DicomdirEntry, _File]] = []
    missing: list[SourceItem] = []
    relocated = 0
    suffixes: dict[int, dict[tuple[str, ...], _File | None]] = {}
    for d, index in indexes:
        base = d.key[:-1]
        for entry in index.entries:
            shown = medium.origin((*d.parts[:-1], *entry.file_id))
            if entry.problem is not None:
                missing.append(SourceItem(origin=shown, problem=entry.problem))
                continue
            found = by_key.get((*base, *entry.key))
            if found is None and (*base, *entry.key) in passed:
                continue  # there, but not a file to read: its skip item said so
            if found is None:  # IDs relative to another folder (a DICOMDIR moved or misbuilt)
                found = _by_suffix(files, suffixes, entry.key)
                relocated += found is not None
            if found is None:
                missing.append(
                    SourceItem(origin=shown, problem="listed in the DICOMDIR but not on the disc")
                )
            elif found.key not in referenced:  # a file listed twice is read once
                referenced.add(found.key)
                resolved.append((entry, found))
    if not resolved and missing:
        log.warning(
            "%s: none of the %d files its DICOMDIR lists is on the disc; "
            "scanning every file instead",
            medium.label,
            len(missing),
        )
        yield from _scan(medium, [f for f in files if f.key[-1] != "DICOMDIR"])
        return
    if relocated:
        log.warning(
            "%s: %d file(s) found in another folder than the DICOMDIR says "
            "(its file IDs are not relative to its own folder)",
            medium.label,
            relocated,
        )

    known = options.known_instance
    wanted: list[_File] = []
    skipped_known = 0
    for entry, found in resolved:
        if known is not None and entry.sop_instance_uid and known(entry.sop_instance_uid):
            skipped_known += 1
            continue
        wanted.append(found)
    if skipped_known:
        log.info("%s: %d instance(s) already in the library, not read", medium.label, skipped_known)
    if missing:
        log.warning(
            "%s: %d file(s) listed in the DICOMDIR are missing or refused; "
            "looking for DICOM files the DICOMDIR does not list",
            medium.label,
            len(missing),
        )
    if isinstance(medium, _IsoMedium):
        wanted.sort(key=lambda f: f.extent)  # one sequential pass over the image
    for f in wanted:
        yield medium.item(f, DICOM)
    yield from missing

    # Files the DICOMDIR does not list: DICOM by preamble, and PDF reports.
    extra = 0
    for f in files:
        if f.key in referenced:
            continue
        suffix = PurePosixPath(f.key[-1]).suffix.lower()
        if suffix == ".pdf":
            yield medium.item(f, PDF)
            continue
        if suffix in NON_DICOM_SUFFIXES:
            continue
        try:
            head = medium.head(f)
        except (OSError, ValueError) as exc:
            log.warning("%s: unreadable (%s)", medium.origin(f.parts), exc)
            continue
        kind = media_type_for(f.name, head)
        if head[128:132] == b"DICM" or kind == PDF:
            if kind == DICOM:
                extra += 1
            yield medium.item(f, kind)
    if extra:
        log.warning(
            "%s: %d DICOM file(s) on the disc are not listed in its DICOMDIR; imported too",
            medium.label,
            extra,
        )


def _by_suffix(
    files: list[_File],
    cache: dict[int, dict[tuple[str, ...], _File | None]],
    key: tuple[str, ...],
) -> _File | None:
    """The one file whose path ends with ``key`` (None when there is none, or several)."""
    n = len(key)
    if n not in cache:
        table: dict[tuple[str, ...], _File | None] = {}
        for f in files:
            if len(f.key) >= n:
                tail = f.key[-n:]
                table[tail] = None if tail in table else f  # ambiguous: never guess
        cache[n] = table
    return cache[n].get(key)


def _scan(medium: _Medium, files: list[_File]) -> Iterator[SourceItem]:
    """Fallback without a usable DICOMDIR: everything but the disc's own software."""
    for f in files:
        suffix = PurePosixPath(f.key[-1]).suffix.lower()
        if suffix in NON_DICOM_SUFFIXES and suffix != ".pdf":
            try:
                head = medium.head(f)
            except (OSError, ValueError):
                continue
            if head[128:132] != b"DICM":
                continue
            yield medium.item(f, DICOM)
            continue
        if suffix == ".pdf":
            yield medium.item(f, PDF)
            continue
        try:
            head = medium.head(f)
        except (OSError, ValueError) as exc:
            yield SourceItem(origin=medium.origin(f.parts), problem=f"unreadable: {exc}")
            continue
        yield medium.item(f, media_type_for(f.name, head))


@hookimpl
def ownscan_importers() -> list[DiscImporter]:
    return [DiscImporter()]
