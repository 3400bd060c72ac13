"""Recovering the readable files of a damaged ISO 9660 image (issue #16).

pycdlib reads an image strictly: one flipped bit in a volume descriptor, a path table or a
directory record and the whole image is refused. A damaged disc copy, or a bad sector, still
holds many good files. :func:`recover` walks the directory trees itself, tolerantly, and keeps
each file whose record is sound and whose extent lies inside the image:

* Volume descriptors are looked for in sectors 16 to 63: the primary one and a Joliet
  supplementary one, each by its ``CD001`` signature (or with one byte of it damaged).
* ISO 9660 stores every extent and length twice (little- and big-endian). A record whose two
  copies differ is damaged; when exactly one of the two values gives an extent inside the image
  that value is used (one flipped bit touches one copy), else the record is skipped.
* A record is skipped, and named in :attr:`Recovered.skipped`, when it is cut, runs past its
  sector, points outside the image or into the volume descriptors, is in several extents, or
  names a folder already walked (a loop).
* Both trees are walked (the primary one with its Rock Ridge names, and Joliet), and the
  folders their path tables list that the walk did not reach (a damaged folder record, or a
  damaged root), so a file whose record is damaged in one place is still found through
  another; a file is known
  by its extent and kept once, with the best name any tree gives it (Rock Ridge, then Joliet,
  then ISO 9660).

Nothing here trusts a size from the image before checking it against the image's own size.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

__all__ = ["Recovered", "RecoveredFile", "recover"]

_SECTOR = 2048
_FIRST_VD, _LAST_VD = 16, 64
_MAX_DEPTH = 64  # ISO 9660 allows 8 levels; Rock Ridge relocates deeper ones
_MAX_DIR = 16 << 20  # a folder's records: ~100,000 entries at most
_JOLIET = (b"%/@", b"%/C", b"%/E")


@dataclass(frozen=True)
class RecoveredFile:
    """A file whose record and extent are sound: where it lies, and its names."""

    parts: tuple[str, ...]
    extent: int
    size: int


@dataclass
class Recovered:
    """What :func:`recover` found: the files, the block size, what it had to skip (one line
    each), and which names it used."""

    files: list[RecoveredFile] = field(default_factory=list)
    block: int = _SECTOR
    skipped: list[str] = field(default_factory=list)
    names: str = "ISO 9660"


def _u32(data: bytes, at: int) -> tuple[int, int]:
    return struct.unpack_from("<I", data, at)[0], struct.unpack_from(">I", data, at + 4)[0]


def _similar(a: bytes, b: bytes) -> bool:
    return sum(x != y for x, y in zip(a, b, strict=True)) <= 1


class _Image:
    def __init__(self, fp: BinaryIO, size: int) -> None:
        self.fp = fp
        self.size = size

    def read(self, offset: int, n: int) -> bytes:
        self.fp.seek(offset)
        return self.fp.read(n)


def _descriptors(img: _Image) -> tuple[bytes | None, bytes | None]:
    """The primary and the Joliet volume descriptors (None where not found)."""
    primary = joliet = None
    for sector in range(_FIRST_VD, _LAST_VD):
        vd = img.read(sector * _SECTOR, _SECTOR)
        if len(vd) < _SECTOR:
            break
        if not _similar(vd[1:6], b"CD001"):
            continue
        if vd[0] == 255 and vd[1:6] == b"CD001":
            break  # the set terminator
        if vd[0] == 1 and primary is None:
            primary = vd
        elif vd[0] == 2 and joliet is None and any(e in vd[88:120] for e in _JOLIET):
            joliet = vd
    return primary, joliet


def _pick(pair: tuple[int, int], fits: object) -> int | None:
    """The value of a both-endian field: the two copies agree, or only one of them fits."""
    le, be = pair
    if le == be:
        return le
    good = [v for v in (le, be) if fits(v)]  # type: ignore[operator]
    return good[0] if len(good) == 1 else None


class _Walker:
    def __init__(self, img: _Image, block: int, joliet: bool, out: Recovered) -> None:
        self.img = img
        self.block = block
        self.joliet = joliet
        self.out = out
        self.found: dict[int, RecoveredFile] = {}
        self.rock_ridge = False
        self.seen: set[int] = set()  # the folders walked, by extent
        self.paths: set[tuple[str, ...]] = set()  # every file and folder found, normalised
        self.skipped: list[tuple[tuple[str, ...], str]] = []  # (where, why)

    def skip(self, parts: tuple[str, ...], why: str) -> None:
        self.skipped.append((parts, why))

    def _fits(self, extent: int, size: int) -> bool:
        start = extent * self.block
        return (extent >= _FIRST_VD + 1 and start + size <= self.img.size) or size == 0

    def _record(self, rec: bytes) -> tuple[int, int] | str:
        """The extent and length of a record, or why it cannot be trusted."""
        blocks = self.img.size // self.block
        extent = _pick(_u32(rec, 2), lambda v: _FIRST_VD < v < blocks)
        if extent is None:
            return "its extent is damaged (its two copies differ)"
        size = _pick(_u32(rec, 10), lambda v: extent * self.block + v <= self.img.size)
        if size is None:
            return "its length is damaged (its two copies differ)"
        if not self._fits(extent, size):
            return "it points outside the image"
        return extent, size

    def _name(self, rec: bytes) -> str:
        n = rec[32]
        raw = rec[33 : 33 + n]
        if self.joliet:
            name = raw.decode("utf-16_be", errors="replace")
        else:
            name = raw.decode("latin-1")
            rr = self._rock_ridge_name(rec[33 + n + (1 - n % 2) :])
            if rr is not None:
                self.rock_ridge = True
                return _clean(rr)
        base, _, version = name.rpartition(";")
        if version.isdigit():
            name = base
        return _clean(name.removesuffix(".") or name)

    @staticmethod
    def _rock_ridge_name(su: bytes) -> str | None:
        """The Rock Ridge NM name in a record's system use area (None without one)."""
        parts: list[bytes] = []
        at = 0
        while at + 4 <= len(su):
            sig, length = su[at : at + 2], su[at + 2]
            if length < 4 or at + length > len(su):
                break
            if sig == b"NM" and length >= 5:
                parts.append(su[at + 5 : at + length])
            at += length
        return b"".join(parts).decode("utf-8", errors="replace") if parts else None

    def walk(self, root: bytes) -> None:
        got = self._record(root)
        if isinstance(got, str):
            self.skip((), f"the root folder's record: {got}")
            return
        self.walk_from(*got, ())

    def walk_from(self, extent: int, size: int, parts: tuple[str, ...]) -> None:
        """Walk the folder at ``extent`` and every folder below it."""
        stack: list[tuple[int, int, tuple[str, ...]]] = [(extent, size, parts)]
        while stack:
            extent, size, parts = stack.pop()
            if extent in self.seen:
                self.skip(parts, "a folder walked already (a loop)")
                continue
            self.seen.add(extent)
            if len(parts) > _MAX_DEPTH or size > _MAX_DIR:
                self.skip(parts, "too deep or too large for a folder")
                continue
            self.paths.add(_key(parts))
            stack.extend(reversed(self._folder(extent, size, parts)))

    def walk_path_table(self, vd: bytes) -> None:
        """Walk the folders that the path tables (the little- and the big-endian one) list
        and the tree did not reach: a folder whose record is damaged, or the whole tree when
        the root's record is."""
        size = _pick(_u32(vd, 132), lambda v: v <= 1 << 20)
        if size is None:
            return
        for at, endian in ((140, "<"), (148, ">")):
            where = struct.unpack_from(f"{endian}I", vd, at)[0]
            if not _FIRST_VD < where < self.img.size // self.block:
                continue
            table = self.img.read(where * self.block, min(size, 1 << 20))
            for extent, parts in _path_table(table, endian, self.joliet):
                if extent in self.seen or not _FIRST_VD < extent < self.img.size // self.block:
                    continue
                dot = self.img.read(extent * self.block, 34)
                length = (
                    _pick(_u32(dot, 10), lambda v: 0 < v <= _MAX_DIR) if len(dot) == 34 else None
                )
                if length is not None and dot[32] == 1 and dot[33] == 0:  # its "." record
                    self.walk_from(extent, length, parts)

    def _folder(
        self, extent: int, size: int, parts: tuple[str, ...]
    ) -> list[tuple[int, int, tuple[str, ...]]]:
        data = self.img.read(extent * self.block, size)
        subdirs = []
        for start in range(0, len(data), _SECTOR):
            for rec, damaged in _records(data[start : start + _SECTOR]):
                if damaged is not None:
                    self.skip((*parts, f"(byte {start + damaged})"), "a damaged record")
                    continue
                if rec[32] == 1 and rec[33] in (0, 1):
                    continue  # "." and ".."
                name = self._name(rec)
                flags = rec[25]
                got = self._record(rec)
                if isinstance(got, str):
                    self.skip((*parts, name), got)
                    continue
                if flags & 0x80:
                    self.skip((*parts, name), "a file in several extents (not recovered)")
                    continue
                if flags & 0x04:
                    continue  # an associated file (Macintosh resource fork)
                if flags & 0x02:
                    subdirs.append((*got, (*parts, name)))
                elif got[1] and got[0] not in self.found:  # (an empty file holds nothing)
                    self.found[got[0]] = RecoveredFile((*parts, name), *got)
                    self.paths.add(_key((*parts, name)))
        return subdirs


def _path_table(table: bytes, endian: str, joliet: bool) -> list[tuple[int, tuple[str, ...]]]:
    """The folders a path table lists: extent and path (names from the table itself)."""
    found: list[tuple[int, tuple[str, ...]]] = []
    at = 0
    while at + 8 <= len(table):
        n = table[at]
        if n == 0 or at + 8 + n > len(table):
            break
        extent = struct.unpack_from(f"{endian}I", table, at + 2)[0]
        parent = struct.unpack_from(f"{endian}H", table, at + 6)[0]
        raw = table[at + 8 : at + 8 + n]
        name = raw.decode("utf-16_be", errors="replace") if joliet else raw.decode("latin-1")
        if not found:
            parts: tuple[str, ...] = ()  # the root, first
        elif 1 <= parent <= len(found):
            parts = (*found[parent - 1][1], _clean(name))
        else:
            parts = ("(a folder of a damaged path table)", _clean(name))
        found.append((extent, parts))
        at += 8 + n + n % 2
    return found


def _shaped(sector: bytes, at: int, length: int) -> bool:
    """A record of ``length`` bytes at ``at`` is possible: long enough, inside the sector,
    its name inside it."""
    return length >= 34 and at + length <= len(sector) and 33 + sector[at + 32] <= length


def _sound(sector: bytes, at: int) -> bool:
    """A record at ``at`` whose three both-endian fields (extent, length, volume sequence
    number) agree: what the resynchronisation looks for after damage (random bytes pass with
    a chance of 2**-80; zeros fail on the length byte)."""
    length = sector[at]
    if not (_shaped(sector, at, length) and sector[at + 32] >= 1):
        return False
    rec = sector[at : at + length]
    return (
        rec[2:6] == rec[6:10][::-1]
        and rec[10:14] == rec[14:18][::-1]
        and rec[28:30] == rec[30:32][::-1]
    )


def _records(sector: bytes) -> Iterator[tuple[bytes, int | None]]:
    """The records of one sector of a folder: ``(record, None)`` each, and ``(b"", offset)``
    where a damaged one was passed over.

    Records follow each other by their length byte; a record is taken when it is sound, or
    when what follows it is the sector's end, its padding or a sound record (its own fields
    are then judged by the caller). Where that chain breaks (a length that cannot be, or one
    that leads nowhere) the next sound record is looked for
    (:func:`_sound`), from just after the last record taken: a wrong length that still
    looked possible is caught too. The bytes between are taken as one record when they are
    shaped like one (only its length byte was damaged), else reported as damaged."""
    at = 0
    last = -34  # where the last record taken began
    while at < len(sector):
        length = sector[at]
        if length == 0 and not any(sector[at:]):
            return  # the rest of the sector is padding
        if _shaped(sector, at, length) and (
            _sound(sector, at) or _sound_or_end(sector, at + length)
        ):
            yield sector[at : at + length], None
            last, at = at, at + length
            continue
        nxt = next(
            (q for q in range(last + 34, len(sector) - 33, 2) if q != at and _sound(sector, q)),
            None,
        )
        if nxt is not None and nxt < at:  # the last record's length was wrong: go back
            at = nxt
            continue
        end = len(sector) if nxt is None else nxt
        if _shaped(sector, at, end - at) and _sound_or_end(sector, end):
            yield sector[at:end], None  # only its length byte was damaged
        else:
            yield b"", at
        if nxt is None:
            return
        last, at = at, nxt


def _sound_or_end(sector: bytes, at: int) -> bool:
    """Where a record ends: the sector's end, its zero padding, or a sound record."""
    return at >= len(sector) or not any(sector[at:]) or _sound(sector, at)


def _key(parts: tuple[str, ...]) -> tuple[str, ...]:
    """A path as the trees of one image all name it: ISO 9660 names are upper case, and
    Rock Ridge and Joliet names may be longer, so compare case-free."""
    return tuple(p.upper() for p in parts)


def _clean(name: str) -> str:
    """A name that cannot act as a path: no separators, no NUL, not "." or ".."."""
    name = name.replace("/", "_").replace("\0", "_")
    return "_" if name in ("", ".", "..") else name


def recover(fp: BinaryIO, size: int) -> Recovered | None:
    """The sound files of the ISO 9660 image in ``fp`` (``size`` bytes), walking both of its
    trees tolerantly; None when no volume descriptor is found at all (not an ISO image)."""
    img = _Image(fp, size)
    primary, joliet = _descriptors(img)
    if primary is None and joliet is None:
        return None
    out = Recovered()
    vd = primary if primary is not None else joliet
    assert vd is not None
    block = _pick(
        (struct.unpack_from("<H", vd, 128)[0], struct.unpack_from(">H", vd, 130)[0]),
        lambda v: v in (512, 1024, 2048),
    )
    out.block = block if block in (512, 1024, 2048) else _SECTOR
    walkers = []
    for desc, is_joliet in ((primary, False), (joliet, True)):
        if desc is None:
            continue
        walker = _Walker(img, out.block, is_joliet, out)
        walker.walk(desc[156:190])
        walker.walk_path_table(desc)
        walkers.append(walker)
    # the best names first: Rock Ridge, then Joliet, then ISO 9660
    walkers.sort(key=lambda w: 0 if w.rock_ridge else 1 if w.joliet else 2)
    out.names = (
        "Rock Ridge" if walkers[0].rock_ridge else "Joliet" if walkers[0].joliet else "ISO 9660"
    )
    merged: dict[int, RecoveredFile] = {}
    for walker in walkers:
        for extent, f in walker.found.items():
            merged.setdefault(extent, f)
    out.files = sorted(merged.values(), key=lambda f: f.extent)
    # what one walk had to skip but another found (the other tree, a path table) is not lost
    for walker in walkers:
        for parts, why in walker.skipped:
            if not any(_key(parts) in w.paths for w in walkers):
                out.skipped.append(f"{'/'.join(parts) or 'the root folder'}: {why}")
    return out
