"""The built-in portal-ZIP importer: what a patient portal or a hospital's download link gives.

Such zips hold nested folders, zips inside the zip, sometimes a DICOMDIR, files with and
without ``.dcm``, and things that are not images (PDF reports, JPEG previews, a viewer
``.exe``, macOS ``__MACOSX/`` and ``.DS_Store`` litter), with names written by Windows (code
page 437/850, no UTF-8 flag), by Info-ZIP (a Unicode Path extra field) or as UTF-8.

How it reads
------------
Streamed: the central directory is read, then one member at a time is decompressed into memory
and yielded as bytes: PDFs as ``application/pdf``, everything else as probable DICOM, so that
the library reads it and lists a JPEG preview or a viewer as "skipped: not DICOM". An inner zip
is opened from memory (it counts against the per-entry size limit) and its members are streamed
the same way. Nothing is written to disk, so nothing can land outside the library whatever the
names say.

Safety (every limit names itself in the message; change it with ``ImportOptions.extra``)
-----------------------------------------------------------------------------------------
- Entries whose path escapes (``../``, an absolute path, a drive letter ``C:``) and symbolic
  links that lead out of the zip (or whose target cannot be read) are refused: each becomes an
  item with ``problem`` set and the rest is imported. A symbolic link that leads to a place
  inside the zip is never followed either, but it is no threat: it becomes an item with
  ``skip`` set, naming its target (whose member, if there is one, is read on its own), so the
  import says it was skipped and why without calling the zip incomplete. Folders, macOS /
  Windows litter (``__MACOSX/``, ``.DS_Store``) and a DICOMDIR (read only as an index) are left
  unsaid, as the folder importer leaves them.
- Zip bombs: ``max_entry_bytes`` (default 1 GiB) per member, ``max_total_bytes`` (default
  20 GiB) for everything the zip would unpack to (checked on the declared sizes before anything
  is read, and again on inner zips), ``max_ratio`` (default 200: uncompressed / compressed, for
  members over 1 MiB; DICOM compresses 2-10x, a zip bomb about 1000x), ``max_nesting`` (default
  3 levels of zips inside zips) and ``max_entries`` (default 200,000). Python's zipfile never
  returns more than a member's declared size (and checks its CRC), so declared sizes bound
  memory. Sizes may be given as numbers of bytes or as ``"500M"``, ``"2G"``.
- Encrypted zips: the password comes from ``extra["password"]``, else it is asked for when
  standard input is a terminal, else the import stops with a message asking for it. A
  password with non-ASCII letters is tried as UTF-8, then code pages 437, 850 and 1252 (what
  Windows zip tools use for ZipCrypto).
  Python's zipfile reads only the old ZipCrypto scheme; the AES scheme (WinZip / 7-Zip
  "AES-256", which is what secure portal downloads use, because ZipCrypto is broken) is read
  with pyzipper, used only for zips that hold AES members.

A DICOMDIR inside the zip is not yielded (it is an index); when the library says which
instances it holds (``ImportOptions.known_instance``), the members a DICOMDIR lists with such
a SOP Instance UID are not even decompressed.

Names: UTF-8 when the zip says so or carries an Info-ZIP Unicode Path field; else UTF-8 when the
bytes are valid UTF-8; else code page 437, or 850 when 437 would give box-drawing characters
(Western European Windows); ``extra["name_encoding"]`` forces one.
"""

from __future__ import annotations

import codecs
import getpass
import io
import logging
import re
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from pathlib import Path, PurePosixPath
from typing import IO, Any

from ownscan.core.dicom import looks_like_dicom
from ownscan.core.errors import ImportFailed, UsageError
from ownscan.core.hookspecs import hookimpl
from ownscan.core.plugin_types import DICOM, ImportOptions, OptionParser, SourceItem
from ownscan.plugins._media import (
    DicomdirError,
    is_litter,
    media_type_for,
    normalise_name,
    read_dicomdir,
)

__all__ = ["PortalZipImporter", "ZipLimits", "decode_entry_name", "parse_size"]

log = logging.getLogger(__name__)

_AES_METHOD = 99  # WinZip AES (APPNOTE appendix E)
_UNICODE_PATH_EXTRA = 0x7075  # Info-ZIP Unicode Path extra field
_UTF8_FLAG = 0x800
_ENCRYPTED_FLAG = 0x1
# Compression methods Python's zipfile cannot read (APPNOTE 4.4.5), for the message.
_METHOD_NAMES = {1: "Shrink", 6: "Implode", 9: "Deflate64", 93: "Zstandard", 95: "XZ", 98: "PPMd"}
_DICOMDIR_MAX = 64 << 20  # a DICOMDIR larger than this is not read for known_instance
_RATIO_FLOOR = 1 << 20  # members smaller than this are never refused for their ratio
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*$", re.IGNORECASE)
_DRIVE_RE = re.compile(r"^[A-Za-z]:")


def parse_size(value: int | float | str) -> int:
    """Bytes from ``1048576``, ``"500M"``, ``"2G"`` or ``"1.5GiB"`` (powers of 1024).

    Raises
    ------
    UsageError
        The value is not a size; the message shows the accepted forms.
    """
    if isinstance(value, bool):
        raise UsageError(f"not a size: {value!r}")
    if isinstance(value, int | float):
        return int(value)
    m = _SIZE_RE.match(str(value))
    if not m:
        raise UsageError(f"not a size: {value!r} (use bytes, or a number with K, M, G or T)")
    scale = 1024 ** " KMGT".index((m.group(2) or " ").upper())
    return int(float(m.group(1)) * scale)


def _human(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"  # pragma: no cover


@dataclass(frozen=True)
class ZipLimits:
    """The zip-bomb limits (see the module docstring); each is an ``ImportOptions.extra`` key."""

    max_entry_bytes: int = 1 << 30
    max_total_bytes: int = 20 << 30
    max_ratio: float = 200.0
    max_nesting: int = 3
    max_entries: int = 200_000

    @classmethod
    def from_options(cls, extra: Mapping[str, Any]) -> ZipLimits:
        """The defaults, overridden by the keys of ``extra`` that name a limit."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            if extra.get(f.name) is None:
                continue
            raw = extra[f.name]
            try:
                if f.name.endswith("_bytes"):
                    values[f.name] = parse_size(raw)
                elif f.name == "max_ratio":
                    values[f.name] = float(raw)
                else:
                    values[f.name] = int(raw)
            except (TypeError, ValueError) as exc:
                raise UsageError(f"{f.name}={raw!r}: {exc}") from None
            if values[f.name] <= 0:
                raise UsageError(f"{f.name} must be > 0, got {raw!r}")
        return cls(**values)


# ---------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------
def _unicode_path(extra: bytes, raw: bytes) -> str | None:
    """The Info-ZIP Unicode Path (0x7075) name, if present and made for this raw name."""
    i = 0
    while i + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, i)
        body = extra[i + 4 : i + 4 + size]
        i += 4 + size
        if tag == _UNICODE_PATH_EXTRA and len(body) >= 5 and body[0] == 1:
            (crc,) = struct.unpack_from("<I", body, 1)
            if crc == zlib.crc32(raw):
                try:
                    return body[5:].decode("utf-8")
                except UnicodeDecodeError:
                    return None
    return None


def _has_graphics(text: str) -> bool:
    return any(0x2500 <= ord(c) <= 0x25FF or c in "¢¥₧ƒªº¬½¼«»" for c in text)


def decode_entry_name(info: zipfile.ZipInfo, encoding: str | None = None) -> str:
    """A member's name as the person who zipped it saw it (see the module docstring).

    Parameters
    ----------
    info
        The member, as :mod:`zipfile` read it (names without the UTF-8 flag are decoded as
        code page 437 there; this undoes that to look at the raw bytes).
    encoding
        Force this encoding for names without the UTF-8 flag.
    """
    if info.flag_bits & _UTF8_FLAG:
        return info.orig_filename
    raw = info.orig_filename.encode("cp437")
    unicode_path = _unicode_path(info.extra, raw)
    if unicode_path is not None:
        return unicode_path
    if raw.isascii():
        return info.orig_filename
    if encoding:
        return raw.decode(encoding, errors="replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    cp437 = raw.decode("cp437")
    if _has_graphics(cp437):
        cp850 = raw.decode("cp850")
        if not _has_graphics(cp850):
            return cp850
    return cp437


def _unsafe(name: str) -> str | None:
    """Why a member name could escape the folder it is unpacked into, or None."""
    norm = name.replace("\\", "/")
    if norm.startswith("/"):
        return "absolute path"
    if _DRIVE_RE.match(norm):
        return "drive letter"
    if ".." in norm.split("/"):
        return "path climbs out with '..'"
    return None


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return (info.external_attr >> 16) & 0o170000 == 0o120000


_LINK_MAX = 4096  # PATH_MAX: a "link" holding more is not a link's target


def _inside_link(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, parts: tuple[str, ...], keys: set[tuple[str, ...]]
) -> str | None:
    """The ``skip`` reason of a symbolic link member whose target stays inside the zip, or
    None when it leads out of it or cannot be read (refused, as before).

    The target is the member's content (a path relative to the link's folder, as ``zip -y``
    stores it); ``keys``: the zip's members and folders, by :func:`normalise_name` parts."""
    if info.flag_bits & _ENCRYPTED_FLAG or info.file_size > _LINK_MAX or not parts:
        return None
    try:
        target = zf.read(info).decode("utf-8")
    except (zipfile.BadZipFile, zlib.error, RuntimeError, OSError, ValueError, EOFError):
        return None
    if not target or "\0" in target or _unsafe(target) in ("absolute path", "drive letter"):
        return None
    where = list(parts[:-1])
    for p in target.replace("\\", "/").split("/"):
        if p in ("", "."):
            continue
        if p == "..":
            if not where:
                return None  # climbs out of the zip
            where.pop()
        else:
            where.append(p)
    key = tuple(normalise_name(p) for p in where)
    there = "whose member is read on its own" if key in keys else "which is not in the zip"
    return f"a symbolic link (to {target!r}), {there}; not followed"


# ---------------------------------------------------------------------------------------------
# The importer
# ---------------------------------------------------------------------------------------------
class _Stop(Exception):
    """The total-size limit was reached: stop reading this source."""


@dataclass
class _State:
    source: str
    limits: ZipLimits
    extra: Mapping[str, Any]
    total: int = 0
    entries: int = 0
    password: str | bytes | None = None
    good_password: bytes | None = None
    known_instance: Callable[[str], bool] | None = None


class PortalZipImporter:
    """Reads a zip as downloaded from a patient portal (streamed, with zip-bomb limits)."""

    name = "zip"
    description = "a portal .zip download (nested zips, DICOMDIR, any file names), streamed"
    priority = 40

    def claims(self, source: str) -> bool:
        if "://" in source:
            return False
        path = Path(source)
        if not path.is_file():
            return False
        return path.suffix.lower() == ".zip" or zipfile.is_zipfile(path)

    def iter_items(self, source: str, options: ImportOptions) -> Iterator[SourceItem]:
        state = _State(source, ZipLimits.from_options(options.extra), options.extra)
        state.known_instance = options.known_instance
        encoding = options.get("name_encoding")
        if encoding:
            try:
                codecs.lookup(encoding)
            except LookupError:
                raise UsageError(
                    f"name_encoding {encoding!r} is not an encoding Python knows "
                    "(e.g. cp437, cp850, cp866, cp932, utf-8)"
                ) from None
        pw = options.get("password")
        if pw:
            state.password = pw if isinstance(pw, str) else bytes(pw)
        with open(source, "rb") as fp:
            count = declared_entries(fp)
        if count is not None and count > state.limits.max_entries:
            raise ImportFailed(source, _entries_message(count, state.limits))
        try:
            zf = _open_zip(Path(source), source)
        except (
            zipfile.BadZipFile,
            zipfile.LargeZipFile,
            ValueError,
            EOFError,
            NotImplementedError,  # zipfile: "zip file version 25.5" in a damaged directory
        ) as exc:
            with open(source, "rb") as f:
                starts_like_zip = f.read(4) == b"PK\x03\x04"
            if starts_like_zip and isinstance(exc, zipfile.BadZipFile):
                raise ImportFailed(
                    source,
                    "incomplete or damaged zip: its table of contents (at the end of the file) "
                    "is missing or broken; an interrupted download? download it again",
                ) from exc
            raise ImportFailed(source, f"not a readable zip file ({exc})") from exc
        with zf:
            declared = sum(i.file_size for i in zf.infolist())
            if declared > state.limits.max_total_bytes:
                raise ImportFailed(source, _total_message(declared, state.limits))
            try:
                yield from _iter_zip(zf, source, 0, state)
            except _Stop as stop:
                yield SourceItem(origin=source, problem=str(stop))


def declared_entries(fp: IO[bytes]) -> int | None:
    """The number of members a zip's end of central directory record declares (its zip64
    record when there is one), read from the last 64 KiB without parsing any entry; None
    when there is no such record (the zip is then refused by zipfile itself)."""
    fp.seek(0, io.SEEK_END)
    size = fp.tell()
    tail_start = max(0, size - (1 << 16) - 22)
    fp.seek(tail_start)
    tail = fp.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        return None
    count = struct.unpack_from("<H", tail, at + 10)[0]
    if count != 0xFFFF:
        return int(count)
    # zip64: the locator (20 bytes) just before the record points at the zip64 record
    loc = at - 20
    if loc < 0 or tail[loc : loc + 4] != b"PK\x06\x07":
        return int(count)
    (offset,) = struct.unpack_from("<Q", tail, loc + 8)
    if offset + 56 > size:
        return None
    fp.seek(offset)
    rec = fp.read(56)
    if rec[:4] != b"PK\x06\x06":
        return None
    return int(struct.unpack_from("<Q", rec, 32)[0])


def _entries_message(count: int, limits: ZipLimits) -> str:
    return (
        f"declares {count:,} members, more than max_entries={limits.max_entries:,}; stopped "
        "before reading any (possible zip bomb; raise the limit with -o max_entries=N if you "
        "trust this file)"
    )


def _total_message(size: int, limits: ZipLimits) -> str:
    return (
        f"would unpack to {_human(size)}, over the total limit max_total_bytes="
        f"{_human(limits.max_total_bytes)}; stopped (possible zip bomb; if you trust this file, "
        "raise the limit with -o max_total_bytes=SIZE)"
    )


def _open_zip(file: Path | IO[bytes], source: str) -> zipfile.ZipFile:
    zf = zipfile.ZipFile(file)
    if any(i.compress_type == _AES_METHOD for i in zf.infolist()):
        zf.close()
        try:
            import pyzipper
        except ImportError as exc:
            raise ImportFailed(
                source, "AES-encrypted zip: install pyzipper (pip install pyzipper) to read it"
            ) from exc
        if not isinstance(file, Path):
            file.seek(0)
        return pyzipper.AESZipFile(file)
    return zf


def _password_candidates(state: _State, origin: str) -> list[bytes | None]:
    if state.good_password is not None:
        return [state.good_password]
    if state.password is None:
        if sys.stdin is not None and sys.stdin.isatty():
            state.password = getpass.getpass(f"Password for {state.source}: ")
        else:
            raise ImportFailed(
                state.source,
                f"the zip is encrypted ({origin}); give its password with --password",
            )
    if isinstance(state.password, bytes):
        return [state.password]
    out: list[bytes | None] = []
    for encoding in ("utf-8", "cp437", "cp850", "cp1252"):
        try:
            raw = state.password.encode(encoding)
        except UnicodeEncodeError:
            continue
        if raw not in out:
            out.append(raw)
    return out


def _parts(name: str) -> tuple[str, ...]:
    return tuple(p for p in name.replace("\\", "/").split("/") if p not in ("", "."))


def _held_by_dicomdir(
    zf: zipfile.ZipFile, names: list[tuple[zipfile.ZipInfo, str]], state: _State
) -> set[tuple[str, ...]]:
    """Members that a DICOMDIR in the zip lists with a SOP Instance UID the library holds."""
    known = state.known_instance
    held: set[tuple[str, ...]] = set()
    if known is None:
        return held
    for info, name in names:
        parts = _parts(name)
        if not parts or normalise_name(parts[-1]) != "DICOMDIR" or _unsafe(name):
            continue
        if info.flag_bits & _ENCRYPTED_FLAG or info.file_size > _DICOMDIR_MAX:
            continue
        try:
            index = read_dicomdir(zf.read(info))
        except (DicomdirError, zipfile.BadZipFile, zlib.error, RuntimeError, OSError):
            continue  # the files are read one by one anyway
        base = tuple(normalise_name(p) for p in parts[:-1])
        for e in index.entries:
            if e.problem is None and e.sop_instance_uid and known(e.sop_instance_uid):
                held.add((*base, *e.key))
    return held


def _keys(zf: zipfile.ZipFile, encoding: str | None) -> set[tuple[str, ...]]:
    """Every member of the zip and every folder above one, as :func:`normalise_name` parts
    (what a link inside the zip may lead to)."""
    keys: set[tuple[str, ...]] = set()
    for info in zf.infolist():
        key = tuple(normalise_name(p) for p in _parts(decode_entry_name(info, encoding)))
        keys.update(key[:n] for n in range(1, len(key) + 1))
    return keys


def _iter_zip(zf: zipfile.ZipFile, prefix: str, depth: int, state: _State) -> Iterator[SourceItem]:
    limits = state.limits
    name_encoding = state.extra.get("name_encoding")
    names = [(i, decode_entry_name(i, name_encoding)) for i in zf.infolist() if not i.is_dir()]
    held = _held_by_dicomdir(zf, names, state)
    skipped_known = 0
    keys: set[tuple[str, ...]] | None = None  # made when a link is met
    for info, name in names:
        origin = f"{prefix}!{name}"
        if held and tuple(normalise_name(p) for p in _parts(name)) in held:
            skipped_known += 1  # listed in a DICOMDIR, already in the library: not read
            continue
        state.entries += 1
        if state.entries > limits.max_entries:
            raise _Stop(
                f"more than max_entries={limits.max_entries} members; stopped "
                "(possible zip bomb; raise the limit if you trust this file)"
            )
        why = _unsafe(name)
        if why is not None:
            yield SourceItem(origin=origin, problem=f"refused: {why} would escape the archive")
            continue
        parts = _parts(name)
        if _is_symlink(info):
            if keys is None:
                keys = _keys(zf, name_encoding)
            inside = _inside_link(zf, info, parts, keys)
            if inside is not None:
                yield SourceItem(origin=origin, skip=inside)
            else:
                yield SourceItem(origin=origin, problem="refused: symbolic link")
            continue
        if not parts or is_litter(parts):
            continue
        if normalise_name(parts[-1]) == "DICOMDIR":
            log.debug("%s: a DICOMDIR index, not an image; its files are read directly", origin)
            continue
        if info.file_size > limits.max_entry_bytes:
            yield SourceItem(
                origin=origin,
                problem=f"refused: {_human(info.file_size)} uncompressed, over the per-entry "
                f"limit max_entry_bytes={_human(limits.max_entry_bytes)} (possible zip bomb; "
                "-o max_entry_bytes=SIZE raises it)",
            )
            continue
        if info.file_size > _RATIO_FLOOR and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            ratio = info.file_size / max(info.compress_size, 1)
            yield SourceItem(
                origin=origin,
                problem=f"refused: compressed {ratio:.0f}:1, over the compression-ratio limit "
                f"max_ratio={limits.max_ratio:g} (possible zip bomb; -o max_ratio=N raises it)",
            )
            continue
        if state.total + info.file_size > limits.max_total_bytes:
            raise _Stop(_total_message(state.total + info.file_size, limits))
        try:
            data = _read_member(zf, info, origin, state)
        except _MemberError as exc:
            yield SourceItem(origin=origin, problem=str(exc))
            continue
        state.total += len(data)
        if PurePosixPath(parts[-1]).suffix.lower() == ".zip" and data[:2] == b"PK":
            yield from _iter_inner(data, origin, depth + 1, state)
            continue
        yield SourceItem(origin=origin, data=data, media_type=media_type_for(parts[-1], data[:132]))
    if skipped_known:
        log.info("%s: %d member(s) already in the library, not read", prefix, skipped_known)


class _MemberError(Exception):
    pass


def _read_once(zf: zipfile.ZipFile, info: zipfile.ZipInfo, pwd: bytes | None, name: str) -> bytes:
    """The member's bytes; for a member that is neither DICOM (by its first 132 bytes, core's
    one test) nor a PDF nor a zip, only those first bytes: they are all that is needed to
    report it as "not DICOM", and a 600 MiB video in a portal zip is then never inflated."""
    with zf.open(info, pwd=pwd) as f:
        head = f.read(_HEAD)
        if (
            pwd is None  # a wrong ZipCrypto password can pass its check: only the CRC tells
            and len(head) == _HEAD
            and media_type_for(name, head) == DICOM
            and PurePosixPath(name).suffix.lower() != ".zip"
            and looks_like_dicom(head) is False
        ):
            return head
        chunks = [head]
        left = info.file_size + 1 - len(head)  # zipfile stops at the declared size
        while left > 0 and (chunk := f.read(min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)


_HEAD = 132  # the preamble and "DICM": what decides DICOM or not


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, origin: str, state: _State) -> bytes:
    encrypted = bool(info.flag_bits & _ENCRYPTED_FLAG)
    # Windows tools encode ZipCrypto passwords in the OEM or ANSI code page, 7-Zip's AES in
    # UTF-8: a password with non-ASCII letters is tried in each until one opens the zip.
    candidates = _password_candidates(state, origin) if encrypted else [None]
    damaged: Exception | None = None
    try:
        for pwd in candidates:
            try:
                data = _read_once(zf, info, pwd, origin)
            except RuntimeError as exc:  # zipfile: "Bad password for file"
                if isinstance(exc, NotImplementedError) or "password" not in str(exc).lower():
                    raise
                continue
            except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                if not encrypted:
                    raise
                # ZipCrypto checks a password by one byte of its header: one wrong password
                # in 256 passes it and then inflates garbage (a bad CRC or a zlib error). So
                # the next encoding of the password is still tried; only when none reads the
                # member is it damaged (or every password wrong)
                damaged = exc
                continue
            if pwd is not None:
                state.good_password = pwd
            return data
        if damaged is not None:
            raise damaged
        raise ImportFailed(state.source, f"wrong password for the encrypted zip ({origin})")
    except NotImplementedError as exc:
        method = info.compress_type
        named = _METHOD_NAMES.get(method, "unknown")
        raise _MemberError(
            f"unreadable: compression method {named} ({method}) is not supported; extract the "
            "zip with 7-Zip or Windows and import the folder"
        ) from exc
    except RuntimeError as exc:
        raise _MemberError(f"unreadable: {exc}") from exc
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        hint = " (wrong password?)" if encrypted else ""
        raise _MemberError(f"damaged member: {exc}{hint}") from exc


def _iter_inner(data: bytes, origin: str, depth: int, state: _State) -> Iterator[SourceItem]:
    if depth > state.limits.max_nesting:
        yield SourceItem(
            origin=origin,
            problem=f"refused: zips nested deeper than max_nesting={state.limits.max_nesting}",
        )
        return
    count = declared_entries(io.BytesIO(data))
    if count is not None and state.entries + count > state.limits.max_entries:
        raise _Stop(_entries_message(state.entries + count, state.limits))
    try:
        inner = _open_zip(io.BytesIO(data), origin)
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        ValueError,
        EOFError,
        NotImplementedError,
    ) as exc:
        yield SourceItem(origin=origin, problem=f"unreadable inner zip: {exc}")
        return
    with inner:
        declared = sum(i.file_size for i in inner.infolist())
        if state.total + declared > state.limits.max_total_bytes:
            raise _Stop(_total_message(state.total + declared, state.limits))
        yield from _iter_zip(inner, origin, depth, state)


# the commands that read a source through an importer (and so may meet an encrypted zip)
_READING_COMMANDS = frozenset({"import", "info", "export", "render"})


@hookimpl
def ownscan_importers() -> list[PortalZipImporter]:
    return [PortalZipImporter()]


@hookimpl
def ownscan_addoption(parser: OptionParser, command: str) -> None:
    if command in _READING_COMMANDS:
        parser.add_argument(
            "--password",
            metavar="PASSWORD",
            help="password of an encrypted zip (asked for on a terminal when not given)",
        )
