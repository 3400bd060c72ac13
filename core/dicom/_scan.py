"""A small, strict reader of the top level of a DICOM header, without pydicom.

About this technique
--------------------
Importing pydicom costs about 0.15 s and ``dcmread(stop_before_pixels=True)`` about 0.3 ms a
file; a CD of a few hundred slices needs neither. A header is a flat run of elements
``(group, element, [VR,] length, value)``; the top level of an ordinary CT or MR file is a
hundred of them before the pixel data. This module walks them with ``struct.unpack_from``
over one read of the head of the file (reading more only when the header is longer), skips
sequences without building them, stops at the pixel data and returns the raw value bytes of
the tags asked for. It understands Part-10 files (128-byte preamble, ``DICM``, the group 0002
meta information in explicit VR little endian) and raw data sets without preamble, in
Explicit VR Little Endian, Implicit VR Little Endian and the encapsulated (compressed)
syntaxes, whose data set is explicit VR little endian.

It is strict on purpose: whenever it is not sure to see what pydicom sees, it *declines*
(:func:`scan` returns ``None``; :func:`scan_or_reason` says why) and the caller reads the
file with pydicom as before. It declines big endian and deflated files, a transfer syntax it
does not know, implicit VR data whose first element looks explicit (and the reverse: pydicom
switches encoding there), an unknown VR, an odd or undefined length outside a sequence, an
undefined length on anything but a sequence, tags out of order, a command group (0000), an
item or delimiter where none belongs, float pixel data, and any truncation.

API
---
``scan(source, tags=None) -> Scan | None``
    ``source``: a path or the bytes of a whole file. ``tags``: the top-level tags whose values
    are wanted (``None``: all). :class:`Scan` gives the transfer syntax, the group 0002
    elements, the wanted elements as ``{tag: (VR or None when implicit, value bytes or None
    for an undefined-length sequence)}``, every top-level tag seen (``present``), and where
    the pixel data is: ``pixel_tag_offset`` (the file offset of the (7FE0,0010) element),
    ``pixel_offset`` / ``pixel_length`` (its value; the length is ``None`` when undefined,
    i.e. encapsulated) and ``size`` (of the file).
``scan_or_reason(source, tags=None) -> Scan | str``
    The same, with the reason instead of ``None`` when it declines.
``scan_strict(source, tags=None) -> Scan``
    The same, raising :class:`Declined` (:class:`Truncated` for a file cut short).
``check_complete(data, scan)``
    Walk the rest of a file in memory, from the pixel data to its end (encapsulated
    fragments too); :class:`Truncated` when an element runs past the end.
``text_rule(scan) -> TextRule``
    The one rule for text values (character set, control characters): which values a caller
    may decode as Latin-1 itself, and which it leaves to pydicom (see the comment there).
``file_meta(source) -> dict``
    The group 0002 elements alone (``NotDicom`` without ``DICM``), e.g. the Media Storage SOP
    Instance UID of a retrieved file; ``meta_text`` decodes one.
``fast_value(vr, raw, default) -> Any``
    A value decoded the way the frame records always have (DS, IS, UI, CS from ASCII; US, SS
    little endian): one value or a list. Raises :class:`Declined` where that decoding has to
    leave the value to pydicom.
``plain_uid(raw) -> str | None``
    The UID of a value that is plainly one (printable, one value, padding only at the end).
``TransferSyntax``
    A ``str`` (the UID) with pydicom's ``.name``, looked up lazily.

What a scan does not judge is left to its caller: which SOP classes and VRs of the values it
decodes it trusts (``_frames._fast_frames`` declines functional groups and DICOMDIR,
``_index`` documents), and, through :func:`text_rule`, which text. ``scan`` raises
``OSError`` when the file cannot be read.
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from ownscan.core.errors import NotDicom, OwnscanError, ReadProblem

__all__ = [
    "DEFLATED_LE",
    "EXPLICIT_BE",
    "EXPLICIT_LE",
    "FAST_ASCII",
    "IMPLICIT_LE",
    "MEDIA_STORAGE_SOP_CLASS",
    "MEDIA_STORAGE_SOP_INSTANCE",
    "PIXEL_DATA",
    "SPECIFIC_CHARACTER_SET",
    "TRANSFER_SYNTAX",
    "Declined",
    "Scan",
    "TextRule",
    "TransferSyntax",
    "Truncated",
    "check_complete",
    "fast_value",
    "file_meta",
    "meta_text",
    "plain_uid",
    "scan",
    "scan_or_reason",
    "scan_strict",
    "text_rule",
]

log = logging.getLogger(__name__)

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
DEFLATED_LE = "1.2.840.10008.1.2.1.99"
_JPIP_DEFLATE = "1.2.840.10008.1.2.4.95"

PIXEL_DATA = 0x7FE00010
_STOP = frozenset({0x7FE00010, 0x7FE00009, 0x7FE00008})  # where dcmread(stop_before_pixels) stops
_ITEM = 0xFFFEE000
_ITEM_END = 0xFFFEE00D
_SEQ_END = 0xFFFEE0DD
_UNDEFINED = 0xFFFFFFFF

# VRs with a 2-byte reserved field and a 4-byte length in explicit VR (PS3.5 7.1.2)
_LONG = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
_SHORT = frozenset(
    {
        b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FD", b"FL", b"IS", b"LO",
        b"LT", b"PN", b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US",
    }
)  # fmt: skip
_VR_STR = {vr: vr.decode("ascii") for vr in _LONG | _SHORT}
FAST_ASCII = frozenset({"DS", "IS", "UI", "CS"})  # the text VRs fast_value decodes
_PIXEL_LONG = (b"OB", b"OW", b"OF", b"UN", b"OD", b"OL", b"OV")  # as _frames._pixel_element

_UID_CHARS = bytes(b for b in range(0x21, 0x7F) if b != 0x5C)  # printable, no space or "\\"

_CHUNK = 8192  # first read: the header of a CT or MR slice is 1-6 KiB
_O_READ = os.O_RDONLY | getattr(os, "O_BINARY", 0)  # binary on Windows

_u16 = struct.Struct("<H").unpack_from
_s16 = struct.Struct("<h").unpack_from
_u32 = struct.Struct("<L").unpack_from
_tag_len = struct.Struct("<HHL").unpack_from
_tag_vr_len = struct.Struct("<HH2sH").unpack_from
_explicit = struct.Struct("<HH2sHL").unpack_from  # with the 4-byte length of the long VRs

_NAMES = {IMPLICIT_LE: "Implicit VR Little Endian", EXPLICIT_LE: "Explicit VR Little Endian"}


class TransferSyntax(str):
    """A transfer syntax UID (a ``str``) whose ``.name`` is pydicom's, looked up lazily so that
    the common uncompressed syntaxes never import pydicom."""

    __slots__ = ()

    @property
    def name(self) -> str:
        """The UID's name as pydicom gives it (the UID itself when unknown)."""
        known = _NAMES.get(self)
        if known is not None:
            return known
        from pydicom.uid import UID

        from ownscan.core.dicom._pydicom import quiet_pydicom

        with quiet_pydicom():  # pydicom warns and logs of a UID that is not one: it is shown
            return str(UID(str(self)).name)


class Declined(OwnscanError):
    """The scanner is not sure to read this header as pydicom would; the message says why.

    (Never shown to a user: whoever scans reads the file with pydicom instead.)"""


class Truncated(Declined):
    """An element's declared length runs past the end of the file: the file was cut short.

    pydicom reads many such files without a word (the pixels cut short), so a caller that must
    refuse them (the library) tells this decline from the others. ``element`` names the
    top-level element that breaks off (``"element (7FE0,0010) of 8192 bytes"``).
    """

    def __init__(self, reason: str, element: str = "") -> None:
        super().__init__(reason)
        self.element = element


def _element(group: int, elem: int, length: int | None = None) -> str:
    """How a message names an element: ``element (GGGG,EEEE)`` and, when known, its length."""
    text = f"element ({group:04X},{elem:04X})"
    return text if length is None else f"{text} of {length} bytes"


@dataclass(frozen=True, slots=True)
class Scan:
    """The top level of one header (see the module docstring)."""

    transfer_syntax: TransferSyntax
    implicit: bool  # the data set's encoding
    meta: dict[int, tuple[str, bytes]]  # group 0002 elements (explicit VR little endian)
    elements: dict[int, tuple[str | None, bytes | None]]  # the wanted top-level elements
    present: frozenset[int]  # every top-level tag before the pixel data
    pixel_tag_offset: int | None  # file offset of the (7FE0,0010) element, None: no pixels
    pixel_offset: int | None  # file offset of its value
    pixel_length: int | None  # its length; None when undefined (encapsulated)
    size: int  # of the whole file


class _Buffer:
    """The bytes of a file from ``base`` on, read on demand (or the whole file in memory)."""

    __slots__ = ("base", "buf", "fd", "size")

    def __init__(self, fd: int | None, data: bytes, size: int) -> None:
        self.fd = fd
        self.buf = data
        self.base = 0
        self.size = size

    def have(self, end: int, whole: bool = False) -> bool:
        """Make sure the file bytes before absolute offset ``end`` are in ``buf`` (all of them
        from ``base`` on with ``whole``, else at least the last 16); False when the file is
        shorter."""
        if end <= self.base + len(self.buf):
            return True
        if end > self.size or self.fd is None:
            return False
        top = self.base + len(self.buf)
        want = max(end - top, len(self.buf), _CHUNK)
        if not whole and end - top > 1 << 20:  # a long value nobody asked for: jump over it
            os.lseek(self.fd, end - 16, os.SEEK_SET)  # callers need at most 16 bytes before end
            self.buf = os.read(self.fd, _CHUNK)
            self.base = end - 16
            return end <= self.base + len(self.buf)
        os.lseek(self.fd, top, os.SEEK_SET)
        self.buf = self.buf + os.read(self.fd, want)
        return end <= self.base + len(self.buf)


def _uppercase(b0: int, b1: int) -> bool:
    return 0x40 < b0 < 0x5B and 0x40 < b1 < 0x5B


MAX_DEPTH = 32
"""Sequences nested deeper than this are declined (real headers nest 3 or 4 deep)."""


def _skip_sequence(r: _Buffer, p: int, implicit: bool, depth: int = 0) -> int:
    """Skip the items of an undefined-length sequence starting at ``p``; the offset after its
    delimiter.

    pydicom reads such a sequence at once, item by item, each item element by element (a
    defined-length item too: it does not jump to the item's end), detecting the encoding of
    each item from its first element. The walk here does the same and declines anything
    pydicom would read differently or fail on, so that both end at the same byte.
    """
    if depth > MAX_DEPTH:
        raise Declined(f"sequences nested more than {MAX_DEPTH} deep")
    while True:
        if not r.have(p + 8):
            raise Truncated("truncated inside a sequence")
        group, elem, length = _tag_len(r.buf, p - r.base)
        tag = group << 16 | elem
        p += 8
        if tag == _SEQ_END:
            return p
        if tag != _ITEM:
            raise Declined(f"({group:04X},{elem:04X}) where a sequence item belongs")
        item_implicit = implicit
        if not implicit and r.have(p + 6) and length != 0:
            b = r.buf
            q = p - r.base
            item_implicit = not _uppercase(b[q + 4], b[q + 5])  # pydicom's check per item
        p = _skip_item(r, p, item_implicit, None if length == _UNDEFINED else p + length, depth)


def _skip_item(r: _Buffer, p: int, implicit: bool, end: int | None, depth: int = 0) -> int:
    """Walk the elements of an item: up to and including its delimiter (``end`` None), or
    exactly up to ``end`` (a defined-length item)."""
    while True:
        if end is not None and p >= end:
            if p != end:
                raise Declined("an element runs past the end of its sequence item")
            return p
        if not r.have(p + 8):
            raise Truncated("truncated inside a sequence item")
        q = p - r.base
        buf = r.buf
        if implicit:
            group, elem, length = _tag_len(buf, q)
            hdr = 8
            vr = None
        else:
            group, elem, vr, length = _tag_vr_len(buf, q)
            hdr = 8
            if group == 0xFFFE:
                length = _u32(buf, q + 4)[0]
            elif vr in _LONG:
                if not r.have(p + 12):
                    raise Truncated("truncated inside a sequence item")
                length = _u32(r.buf, q + 8)[0]
                hdr = 12
            elif vr not in _SHORT:
                raise Declined(f"unknown VR {vr!r} inside a sequence item")
        tag = group << 16 | elem
        if tag == _ITEM_END and end is None:
            return p + 8
        if group == 0xFFFE:
            raise Declined(f"({group:04X},{elem:04X}) inside a sequence item")
        p += hdr
        if length == _UNDEFINED:
            p = _skip_undefined(r, p, implicit, vr, depth + 1)
        else:
            if p + length > r.size:
                raise Truncated("truncated inside a sequence item")
            p += length


def _skip_undefined(r: _Buffer, p: int, implicit: bool, vr: bytes | None, depth: int = 0) -> int:
    """Skip the value of an undefined-length element (a sequence) that starts at ``p``."""
    if implicit:
        # pydicom decides from its dictionary (or, for unknown tags, by peeking at an item);
        # only a value that starts like a sequence is taken for one here
        if not r.have(p + 4):
            raise Truncated("truncated after an undefined length")
        nxt = _u16(r.buf, p - r.base)[0] << 16 | _u16(r.buf, p - r.base + 2)[0]
        if nxt not in (_ITEM, _SEQ_END):
            raise Declined("an undefined-length implicit VR value that is not a sequence")
        return _skip_sequence(r, p, True, depth)
    if vr in (b"SQ", b"UN"):  # UN of undefined length: a sequence (pydicom infers SQ too)
        return _skip_sequence(r, p, False, depth)
    raise Declined(f"undefined length on a {vr!r} value")


def plain_uid(raw: bytes) -> str | None:
    """The UID in value ``raw`` if it is plainly one value: printable ASCII without spaces or
    backslashes, then any NUL / space padding. Such a value reads the same in pydicom and in
    :func:`fast_value` (real files hold some that are not digits and dots, e.g. hashes)."""
    text = raw.rstrip(b"\0 ")
    if not text or text.translate(None, _UID_CHARS):
        return None
    return text.decode("ascii")


def scan(
    source: bytes | str | os.PathLike[str], tags: Collection[int] | None = None
) -> Scan | None:
    """Read the top level of a header without pydicom, or ``None`` where not sure.

    Parameters
    ----------
    source
        A path to the file, or the bytes of the whole file.
    tags
        The top-level tags whose values to return (``None``: all of them).

    Returns
    -------
    Scan or None
        ``None`` when the scanner declines (the reason is logged at debug level).
    """
    got = scan_or_reason(source, tags)
    if isinstance(got, str):
        log.debug("%s: %s", source if not isinstance(source, bytes) else "<bytes>", got)
        return None
    return got


def scan_or_reason(
    source: bytes | str | os.PathLike[str], tags: Collection[int] | None = None
) -> Scan | str:
    """As :func:`scan`, returning the reason (a ``str``) when it declines.

    Raises
    ------
    OSError
        The file cannot be opened or read.
    """
    try:
        return scan_strict(source, tags)
    except Declined as exc:
        return str(exc)


def scan_strict(
    source: bytes | str | os.PathLike[str], tags: Collection[int] | None = None
) -> Scan:
    """As :func:`scan`, raising where it declines.

    Raises
    ------
    Truncated
        An element runs past the end of the file (a :class:`Declined`).
    Declined
        The scanner is not sure to read the header as pydicom would; the message says why.
    OSError
        The file cannot be opened or read.
    """
    try:
        if isinstance(source, bytes | bytearray | memoryview):
            data = bytes(source)
            return _scan(_Buffer(None, data, len(data)), tags)
        fd = os.open(source, _O_READ)  # not open(): no buffered file object for one read
        try:
            size = os.fstat(fd).st_size
            return _scan(_Buffer(fd, os.read(fd, _CHUNK), size), tags)
        finally:
            os.close(fd)
    except (struct.error, IndexError, KeyError, UnicodeDecodeError) as exc:
        # a case the walk does not foresee: never a wrong answer, pydicom reads the file
        raise Declined(f"scanner failed ({type(exc).__name__}: {exc})") from None


def _scan(r: _Buffer, tags: Collection[int] | None) -> Scan:
    buf = r.buf
    if len(buf) >= 132 and buf[128:132] == b"DICM":
        p = 132
    elif len(buf) >= 8 and _u16(buf, 0)[0] in (0x0002, 0x0008) and _u16(buf, 2)[0] <= 0x20:
        p = 0  # a raw data set, as _pydicom.looks_like_dicom accepts it
    else:
        raise Declined("not a DICOM file")

    meta, p = _read_meta(r, p)
    if not r.have(p + 8):
        raise Declined("no data set after the file meta information")
    buf = r.buf
    q = p - r.base
    vr0 = buf[q + 4 : q + 6]
    vr: bytes | None
    looks_explicit = _uppercase(vr0[0], vr0[1])
    ts_el = meta.get(0x00020010)
    if ts_el is None:
        # pydicom guesses from the first element (and big endian from its group)
        if vr0 in _LONG or vr0 in _SHORT:
            ts = EXPLICIT_LE
            if _u16(buf, q)[0] >= 1024:
                raise Declined("a raw data set in big endian")
        elif looks_explicit:
            raise Declined(f"first element has an unknown VR {vr0!r}")
        else:
            ts = IMPLICIT_LE
    else:
        uid = plain_uid(ts_el[1])
        if uid is None:
            raise Declined(f"transfer syntax UID {ts_el[1]!r} is not plain")
        ts = uid
        if ts in (EXPLICIT_BE, DEFLATED_LE, _JPIP_DEFLATE):
            raise Declined(f"transfer syntax {ts} (big endian or deflated)")
        if ts not in (IMPLICIT_LE, EXPLICIT_LE) and not ts.startswith(
            ("1.2.840.10008.1.2.4.", "1.2.840.10008.1.2.5")
        ):
            raise Declined(f"transfer syntax {ts} is not one the scanner knows")
    implicit = ts == IMPLICIT_LE
    if implicit == looks_explicit:
        raise Declined("the first element's encoding disagrees with the transfer syntax")

    want = None if tags is None else frozenset(tags)
    elements: dict[int, tuple[str | None, bytes | None]] = {}
    present: list[int] = []
    last = -1
    buf = r.buf
    base = r.base
    nbuf = len(buf)
    size = r.size
    while True:
        q = p - base
        if q + 12 > nbuf:  # every element here needs 12 bytes (the pixel data's header too)
            if not r.have(p + 12):
                if p >= size:
                    raise Declined("no pixel data")
                # fewer than 12 bytes left: the file ends inside this element or its header
                r.have(size, whole=True)
                q = p - r.base
                if q >= 0 and size - p >= 4:
                    group, elem = struct.unpack_from("<HH", r.buf, q)
                    raise Truncated("truncated in the data set", _element(group, elem))
                raise Truncated("truncated in the data set", "an element header")
            buf = r.buf
            base = r.base
            nbuf = len(buf)
            q = p - base
        if implicit:
            group, elem, length = _tag_len(buf, q)
            hdr = 8
            vr = None
        else:
            group, elem, vr, length, long_length = _explicit(buf, q)
            if vr in _LONG:
                length = long_length
                hdr = 12
            elif vr in _SHORT:
                hdr = 8
            elif group << 16 | elem in _STOP:
                hdr = 8  # pydicom stops there whatever the VR
            else:
                raise Declined(f"unknown VR {vr!r} at ({group:04X},{elem:04X})")
        tag = group << 16 | elem
        if tag <= last or group == 0 or group == 0xFFFE:
            if tag in _STOP:
                break
            raise Declined(f"({group:04X},{elem:04X}) out of order or out of place")
        if tag >= 0x7FE00008 and tag in _STOP:
            break
        last = tag
        present.append(tag)
        if length == _UNDEFINED:
            try:
                p = _skip_undefined(r, p + hdr, implicit, vr)
            except Truncated as exc:
                raise Truncated(str(exc), _element(group, elem)) from None
            buf = r.buf
            base = r.base
            nbuf = len(buf)
            if want is None or tag in want:
                elements[tag] = (None if vr is None else _VR_STR[vr], None)
            continue
        if length & 1:
            raise Declined(f"odd length {length} at ({group:04X},{elem:04X})")
        end = p + hdr + length
        if want is None or tag in want:
            if end - base > nbuf:
                if not r.have(end, whole=True):
                    raise Truncated("truncated in the data set", _element(group, elem, length))
                buf = r.buf
                base = r.base
                nbuf = len(buf)
            elements[tag] = (
                None if vr is None else _VR_STR[vr],
                buf[p + hdr - base : end - base],
            )
        elif end > size:
            raise Truncated("truncated in the data set", _element(group, elem, length))
        p = end

    if tag != PIXEL_DATA:
        raise Declined("float pixel data")
    # the value offset and length exactly as _frames._pixel_element reads them
    head = r.buf[p - r.base : p - r.base + 12] if r.have(min(p + 12, r.size)) else b""
    if len(head) < 12:  # pydicom may fail on a cut element header: leave it the error
        raise Declined("truncated in the pixel data element")
    off: int | None = None
    plen: int | None = None
    if len(head) >= 8:
        if implicit:
            plen = _u32(head, 4)[0]
            off = p + 8
        elif head[4:6] in _PIXEL_LONG:
            if len(head) >= 12:
                plen = _u32(head, 8)[0]
                off = p + 12
        else:
            plen = _u16(head, 6)[0]
            off = p + 8
    if plen == _UNDEFINED:
        plen = None
    return Scan(
        transfer_syntax=TransferSyntax(ts),
        implicit=implicit,
        meta=meta,
        elements=elements,
        present=frozenset(present),
        pixel_tag_offset=p,
        pixel_offset=off,
        pixel_length=plen,
        size=r.size,
    )


def _read_meta(r: _Buffer, p: int) -> tuple[dict[int, tuple[str, bytes]], int]:
    """The file meta information (group 0002, explicit VR little endian) from ``p`` up to the
    first element of another group: ``{tag: (VR, value bytes)}`` and the offset after it."""
    meta: dict[int, tuple[str, bytes]] = {}
    buf = r.buf
    base = r.base
    top = base + len(buf)  # the buffer is asked for more only when it ends too early
    first = True
    while True:
        if p + 12 > top:
            if not r.have(p + 8):
                break  # declined below: no data set
            buf = r.buf
            base = r.base
            top = base + len(buf)
        q = p - base
        group, elem, mvr, length = _tag_vr_len(buf, q)
        if group != 2:
            break
        if first and not _uppercase(mvr[0], mvr[1]):
            raise Declined("file meta information in implicit VR")
        first = False
        hdr = 8
        if mvr in _LONG:
            if p + 12 > top:
                raise Truncated("truncated in the file meta information", _element(group, elem))
            length = _u32(buf, q + 8)[0]
            hdr = 12
        elif mvr not in _SHORT:
            raise Declined(f"unknown VR {mvr!r} in the file meta information")
        if length == _UNDEFINED:
            raise Declined("undefined length in the file meta information")
        end = p + hdr + length
        if end > top:
            if not r.have(end, whole=True):
                raise Truncated(
                    "truncated in the file meta information", _element(group, elem, length)
                )
            buf = r.buf
            base = r.base
            top = base + len(buf)
        meta[0x00020000 | elem] = (_VR_STR[mvr], buf[p + hdr - base : end - base])
        p = end
    return meta, p


def fast_value(vr: str, raw: bytes | bytearray, default: Any = None) -> Any:
    """Decode ``raw`` of value representation ``vr`` as ownscan's header reader does.

    DS and IS give floats and ints, UI and CS strings (ASCII, padding and the spaces around
    each value stripped), US and SS ints (little endian); a value with several parts gives a
    list. An empty ASCII value gives ``default``, an empty binary one ``None``.

    Raises
    ------
    Declined
        ``vr`` is not one of these, the text does not parse, or the length of a binary value
        is odd: pydicom has to decode it.
    """
    if vr == "US" or vr == "SS":
        n = len(raw)
        if n == 2:
            return (_u16 if vr == "US" else _s16)(raw)[0]
        if n & 1:
            raise Declined(f"odd length of a {vr} value")
        if not n:
            return None
        n //= 2
        ints = struct.unpack("<" + ("H" if vr == "US" else "h") * n, raw)
        return ints[0] if n == 1 else list(ints)
    if vr not in FAST_ASCII:
        raise Declined(f"{vr} values are decoded by pydicom")
    text = raw.decode("latin-1").strip("\x00 ")
    if not text:
        return default
    try:
        if "\\" not in text:  # one value (the common case)
            if vr == "DS":
                return float(text)
            if vr == "IS":
                return int(float(text))
            return text
        parts = [p.strip(" \x00") for p in text.split("\\")]
        if vr == "DS":
            vals: list[Any] = [float(p) for p in parts]
        elif vr == "IS":
            vals = [int(float(p)) for p in parts]
        else:
            vals = parts
    except ValueError:
        raise Declined(f"{vr} value {text!r} does not parse") from None
    return vals[0] if len(vals) == 1 else vals


# -- text -----------------------------------------------------------------------------------------
# The one rule for which text the scanner's callers decode themselves (the frame records and the
# library's index) and which they leave to pydicom. It is the stricter of the two rules ownscan
# had (the library decoded UTF-8 itself, with errors replaced), and it is the correct one:
#
# * Specific Character Set absent, ISO_IR 6 or ISO_IR 100: pydicom decodes every value as
#   Latin-1, so bytes decoded as Latin-1 here are exactly pydicom's text.
# * ISO_IR 192 (UTF-8): pydicom applies the character set only to some VRs (PN, LO, SH, LT, ST,
#   UC, UT) and decodes the others (CS, DA, UI, IS...) as Latin-1, and replaces bytes that are
#   not UTF-8 in its own way. Only while every text byte is ASCII are all those decodings the
#   same; beyond ASCII pydicom decodes.
# * Any other character set, or several (ISO 2022 code extensions): pydicom decodes.
# * Control characters (C0, DEL, C1) anywhere but in the trailing padding: pydicom decodes.
#   Readers differ on them (an interior NUL, an ESC that switches character sets).
_LATIN1_TEXT = bytes(range(0x20, 0x7F)) + bytes(range(0xA0, 0x100))
_LATIN1_SETS = (b"", b"ISO_IR 6", b"ISO_IR 100")
_UTF8_SET = b"ISO_IR 192"
SPECIFIC_CHARACTER_SET = 0x00080005


class TextRule:
    """Whether the text values of one header may be decoded as Latin-1 here (see
    :func:`text_rule`)."""

    __slots__ = ("ascii_only",)

    def __init__(self, ascii_only: bool) -> None:
        self.ascii_only = ascii_only

    def check(self, body: bytes, what: str) -> None:
        """Raise :class:`Declined` unless ``body`` (a value without its trailing padding)
        decodes as Latin-1 to exactly the text pydicom gives; ``what`` names it in the
        reason."""
        if body.translate(None, _LATIN1_TEXT):
            raise Declined(f"{what} holds control characters")
        if self.ascii_only and not body.isascii():
            raise Declined(f"{what} holds UTF-8 beyond ASCII")


_LATIN1_RULE = TextRule(False)
_ASCII_RULE = TextRule(True)


def text_rule(sc: Scan) -> TextRule:
    """The rule for the text values of the header ``sc`` (its Specific Character Set must be
    among the scanned elements).

    Raises
    ------
    Declined
        A character set that only pydicom decodes.
    """
    el = sc.elements.get(SPECIFIC_CHARACTER_SET)
    if el is None:
        return _LATIN1_RULE
    charset = (el[1] or b"").rstrip(b"\0 ")
    if charset in _LATIN1_SETS:
        return _LATIN1_RULE
    if charset == _UTF8_SET:
        return _ASCII_RULE
    raise Declined(f"character set {el[1]!r}")


# -- after the header -----------------------------------------------------------------------------
def check_complete(data: bytes, sc: Scan) -> None:
    """Walk the elements of ``data`` (the bytes of the whole file that ``sc`` scanned) from the
    pixel data to the end of the file, and raise if one runs past the end.

    A scan stops at the pixel data; a file cut short in (or after) it reads without a word in
    pydicom, its pixels cut short. Whoever keeps files (the library) refuses them. Encapsulated
    (compressed) pixel data is walked fragment by fragment.

    Raises
    ------
    Truncated
        An element (or fragment) runs past the end; ``element`` names the top-level element.
    Declined
        Something after the pixel data that this walk does not know (pydicom then reads it).
    """
    p = sc.pixel_tag_offset
    if p is None:
        return
    size = len(data)
    r = _Buffer(None, data, size)
    while p + 8 <= size:
        vr: bytes | None
        if sc.implicit:
            group, elem, length = _tag_len(data, p)
            hdr = 8
            vr = None
        else:
            group, elem, vr, length = _tag_vr_len(data, p)
            hdr = 8
            if vr in _LONG:
                if p + 12 > size:
                    raise Truncated("truncated after the pixel data", _element(group, elem))
                length = _u32(data, p + 8)[0]
                hdr = 12
            elif vr not in _SHORT:
                raise Declined(f"unknown VR {vr!r} at ({group:04X},{elem:04X})")
        if length == _UNDEFINED:
            try:
                if group << 16 | elem == PIXEL_DATA:
                    p = _skip_fragments(data, p + hdr)
                else:
                    p = _skip_undefined(r, p + hdr, sc.implicit, vr)
            except Truncated as exc:
                raise Truncated(str(exc), _element(group, elem)) from None
            continue
        p += hdr + length
        if p > size:
            raise Truncated("truncated in the pixel data", _element(group, elem, length))


def _skip_fragments(data: bytes, p: int) -> int:
    """The offset after the sequence delimiter of encapsulated pixel data starting at ``p``."""
    size = len(data)
    while True:
        if p + 8 > size:
            raise Truncated("truncated in the pixel data fragments")
        group, elem, length = _tag_len(data, p)
        tag = group << 16 | elem
        p += 8
        if tag == _SEQ_END:
            return p
        if tag != _ITEM or length == _UNDEFINED:
            raise Declined(f"({group:04X},{elem:04X}) where a pixel data fragment belongs")
        p += length
        if p > size:
            raise Truncated("truncated in a pixel data fragment")


# -- the file meta information alone ------------------------------------------------------------
MEDIA_STORAGE_SOP_CLASS = 0x00020002
MEDIA_STORAGE_SOP_INSTANCE = 0x00020003
TRANSFER_SYNTAX = 0x00020010


def file_meta(source: bytes | str | os.PathLike[str]) -> dict[int, tuple[str, bytes]]:
    """The file meta information (group 0002) of a Part-10 file, without the data set after it:
    ``{tag: (VR, value bytes)}``, in microseconds.

    Parameters
    ----------
    source
        A path, or the bytes of the file (its first bytes are enough).

    Raises
    ------
    NotDicom
        No ``DICM`` marker after the 128-byte preamble.
    ReadProblem
        The meta information is cut short or not explicit VR little endian.
    OSError
        The file cannot be read.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        return _file_meta(_Buffer(None, data, len(data)))
    fd = os.open(source, _O_READ)
    try:
        return _file_meta(_Buffer(fd, os.read(fd, _CHUNK), os.fstat(fd).st_size))
    finally:
        os.close(fd)


def _file_meta(r: _Buffer) -> dict[int, tuple[str, bytes]]:
    if len(r.buf) < 132 or r.buf[128:132] != b"DICM":
        raise NotDicom("no DICM marker after the 128-byte preamble")
    try:
        return _read_meta(r, 132)[0]
    except Declined as exc:
        raise ReadProblem(str(exc)) from None


def meta_text(meta: dict[int, tuple[str, bytes]], tag: int) -> str:
    """A text value of the file meta information (UIDs: ASCII), padding stripped; ``""`` when
    absent."""
    el = meta.get(tag)
    return "" if el is None else el[1].rstrip(b"\0 ").decode("latin-1").strip()
