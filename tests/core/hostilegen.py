"""Hostile variants of real DICOM files, made deterministically (seeded) for the hostile sweep
(tests/core/test_hostile_sweep.py).

Every variant is made from a real file's bytes (a slice of the real head MR, implicit VR; the
same slice rewritten explicit VR; the same slice compressed JPEG lossless by gdcmconv) by one
hostile change, and keeps the donor's study: a damaged file on a disc sits beside good files
of its own study. The classes (``Variant.cls``):

* ``truncated``: cut in the preamble, the meta header, mid-tag, mid-length, mid-value, in the
  pixel data's element header, mid-pixel data, mid-fragment of encapsulated data (one frame
  and the last of three), 0 bytes;
* ``flipped``: seeded bit flips in the file meta group and in its group length;
* ``length``: element lengths that lie (huge, odd, past the end of the file, 0xFFFFFFFF where
  no undefined length is allowed), in implicit and explicit VR and on the pixel data;
* ``sequence``: undefined-length sequences and items without their delimiters, and nesting
  far past any reader's recursion;
* ``values``: Rows, Columns, Number of Frames, Bits Allocated, Samples per Pixel that lie
  (0, 1, 65535, 2^31, 13, 64...), pixel data shorter or longer than declared;
* ``encapsulated``: fragments whose item tag or length lies, a missing delimiter, an offset
  table longer than the data;
* ``syntax``: a transfer syntax UID that is wrong for the bytes, unknown, empty or not a UID.

A variant's file name says its class and name, so a message naming the file names the case.
"""

from __future__ import annotations

import random
import shutil
import struct
import subprocess
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.tag import Tag

__all__ = ["VARIANTS", "Donors", "Variant", "make_variants"]

UNDEFINED = 0xFFFFFFFF


@dataclass(frozen=True)
class Variant:
    """One hostile file: ``cls`` and ``name`` (its file is ``{cls}-{name}.dcm``)."""

    cls: str
    name: str
    path: Path


def _meta_end(data: bytes) -> int:
    return 144 + struct.unpack_from("<L", data, 140)[0]


def _value_at(path: Path, tag: int) -> tuple[int, int]:
    """(offset of the value, its length) of top-level element ``tag`` in ``path``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path, defer_size=0)
    raw = ds._dict[Tag(tag)]
    return raw.value_tell, raw.length  # type: ignore[union-attr]


def _length_at(path: Path, tag: int, explicit: bool) -> tuple[int, int]:
    """(offset of the length field, its size in bytes) of top-level element ``tag``."""
    at, _ = _value_at(path, tag)
    if not explicit:
        return at - 4, 4
    vr = path.read_bytes()[at - 6 : at - 4]
    if vr in (b"OB", b"OW", b"OF", b"OD", b"OL", b"SQ", b"UC", b"UN", b"UR", b"UT", b"OV"):
        return at - 4, 4
    return at - 2, 2


class Donors(dict[str, Path]):
    """The real files one variant is made from, made when first asked for, each from the same
    head MR slice (so a variant's study is the good slices' study, and each variant has its
    own SOP Instance UID): ``implicit`` (the slice as published), ``explicit`` (rewritten
    explicit VR little endian by pydicom), ``jpeg`` (JPEG lossless by gdcmconv), ``jpeg3``
    (its codestream as the 3 frames of one file)."""

    def __init__(self, head_slice: Path, work: Path) -> None:
        super().__init__()
        self.head_slice, self.work = head_slice, work

    def __missing__(self, key: str) -> Path:
        self.work.mkdir(parents=True, exist_ok=True)
        out = self.work / f"{key}.dcm"
        if key == "implicit":
            shutil.copy(self.head_slice, out)
        elif key == "explicit":
            ds = pydicom.dcmread(self.head_slice)
            ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
            ds.save_as(out, enforce_file_format=True)
        elif key == "jpeg":
            subprocess.run(["gdcmconv", "--jpeg", str(self.head_slice), str(out)], check=True)
        elif key == "jpeg3":  # the JPEG slice's codestream as 3 frames of one file
            from pydicom.encaps import encapsulate, generate_frames

            ds = pydicom.dcmread(self["jpeg"])
            frame = next(generate_frames(ds.PixelData, number_of_frames=1))
            ds.PixelData = encapsulate([frame] * 3)
            ds["PixelData"].is_undefined_length = True
            ds.NumberOfFrames = 3
            ds.save_as(out)
        else:
            raise KeyError(key)
        self[key] = out
        return out


Maker = Callable[[dict[str, Path]], bytes]


def _cut(donor: str, where: Callable[[bytes, Path], int]) -> Maker:
    def make(d: dict[str, Path]) -> bytes:
        data = d[donor].read_bytes()
        return data[: where(data, d[donor])]

    return make


def _put(donor: str, where: Callable[[bytes, Path], int], value: bytes) -> Maker:
    def make(d: dict[str, Path]) -> bytes:
        data = bytearray(d[donor].read_bytes())
        at = where(bytes(data), d[donor])
        data[at : at + len(value)] = value
        return bytes(data)

    return make


def _length(donor: str, tag: int, value: Callable[[int, int], int]) -> Maker:
    """Element ``tag``'s length set to ``value(old length, bytes after the length field)``."""

    def make(d: dict[str, Path]) -> bytes:
        data = bytearray(d[donor].read_bytes())
        at, size = _length_at(d[donor], tag, donor != "implicit")
        old = int.from_bytes(data[at : at + size], "little")
        new = value(old, len(data) - at - size) & ((1 << (8 * size)) - 1)
        data[at : at + size] = new.to_bytes(size, "little")
        return bytes(data)

    return make


def _flip(seed: int, lo: Callable[[bytes], int], hi: Callable[[bytes], int], n: int) -> Maker:
    def make(d: dict[str, Path]) -> bytes:
        data = bytearray(d["explicit"].read_bytes())
        rng = random.Random(seed)
        for _ in range(n):
            data[rng.randrange(lo(data), hi(data))] ^= 1 << rng.randrange(8)
        return bytes(data)

    return make


def _edit(donor: str, **values: object) -> Maker:
    def make(d: dict[str, Path]) -> bytes:
        from pydicom.filebase import DicomBytesIO

        ds = pydicom.dcmread(d[donor])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for k, v in values.items():
                if k == "PixelData" and callable(v):
                    v = v(ds.PixelData)
                setattr(ds, k, v)
            buf = DicomBytesIO()
            ds.save_as(buf, enforce_file_format=False)
        return buf.getvalue()

    return make


def _syntax(donor: str, uid: str) -> Maker:
    """The meta group rewritten to say ``uid``; the data set's bytes are left as they are."""

    def make(d: dict[str, Path]) -> bytes:
        from pydicom.filebase import DicomBytesIO
        from pydicom.filewriter import write_file_meta_info

        data = d[donor].read_bytes()
        ds = pydicom.dcmread(d[donor], stop_before_pixels=True)
        meta = ds.file_meta
        meta.TransferSyntaxUID = uid
        head = DicomBytesIO()
        head.write(b"\0" * 128 + b"DICM")
        write_file_meta_info(head, meta, enforce_standard=False)
        return head.getvalue() + data[_meta_end(data) :]

    return make


def _pixel_tag(data: bytes, _: Path | None = None) -> int:
    return data.rindex(b"\xe0\x7f\x10\x00")


def _fragments(data: bytes) -> list[int]:
    """Offsets of the item tags of the encapsulated pixel data (the offset table first)."""
    p, out = _pixel_tag(data) + 12, []
    while data[p : p + 4] == b"\xfe\xff\x00\xe0":
        out.append(p)
        p += 8 + struct.unpack_from("<L", data, p + 4)[0]
    return out


def _length_item(donor: str, k: int, value: Callable[[int], int]) -> Maker:
    """The length of item ``k`` of the encapsulated pixel data (0: the offset table) set to
    ``value(old length)``."""

    def make(d: dict[str, Path]) -> bytes:
        data = bytearray(d[donor].read_bytes())
        at = _fragments(bytes(data))[k] + 4
        old = struct.unpack_from("<L", data, at)[0]
        data[at : at + 4] = struct.pack("<L", value(old) & UNDEFINED)
        return bytes(data)

    return make


def _append(donor: str, tail: bytes) -> Maker:
    return lambda d: d[donor].read_bytes() + tail


def _before_pixels(donor: str, insert: bytes) -> Maker:
    def make(d: dict[str, Path]) -> bytes:
        data = d[donor].read_bytes()
        at = _pixel_tag(data)
        return data[:at] + insert + data[at:]

    return make


_SQ_UNDEF_EXPLICIT = struct.pack("<HH", 0x0009, 0x1010) + b"SQ\0\0" + struct.pack("<L", UNDEFINED)
_SQ_UNDEF_IMPLICIT = struct.pack("<HHL", 0x0009, 0x1010, UNDEFINED)
_ITEM_UNDEF = struct.pack("<HHL", 0xFFFE, 0xE000, UNDEFINED)
_ELEMENT = struct.pack("<HH", 0x0009, 0x1011) + b"LO" + struct.pack("<H", 4) + b"abcd"


def _nested_undelimited(depth: int) -> bytes:
    return (_SQ_UNDEF_EXPLICIT + _ITEM_UNDEF) * depth + _ELEMENT


ROWS, COLUMNS, FRAMES, BITS, SAMPLES = 0x00280010, 0x00280011, 0x00280008, 0x00280100, 0x00280002
NAME = 0x00100010

# class -> name -> how the variant's bytes are made from the donors
VARIANTS: dict[str, dict[str, Maker]] = {
    "truncated": {
        "empty": lambda d: b"",
        "preamble": _cut("implicit", lambda b, p: 64),
        "in-dicm": _cut("implicit", lambda b, p: 130),
        "meta-group-length": _cut("implicit", lambda b, p: 142),
        "mid-meta": _cut("implicit", lambda b, p: (132 + _meta_end(b)) // 2),
        "after-meta": _cut("implicit", lambda b, p: _meta_end(b)),
        "mid-tag": _cut("implicit", lambda b, p: _meta_end(b) + 2),
        "mid-length": _cut("implicit", lambda b, p: _value_at(p, NAME)[0] - 2),
        "mid-value": _cut("implicit", lambda b, p: _value_at(p, NAME)[0] + 3),
        "explicit-mid-vr": _cut("explicit", lambda b, p: _value_at(p, NAME)[0] - 3),
        "pixel-element-header": _cut("implicit", lambda b, p: _pixel_tag(b) + 6),
        "mid-pixels": _cut(
            "implicit", lambda b, p: _pixel_tag(b) + 8 + (len(b) - _pixel_tag(b)) // 2
        ),
        "last-byte": _cut("implicit", lambda b, p: len(b) - 1),
        "offset-table": _cut("jpeg", lambda b, p: _fragments(b)[0] + 6),
        "fragment-header": _cut("jpeg", lambda b, p: _fragments(b)[-1] + 5),
        "mid-fragment": _cut("jpeg", lambda b, p: (_fragments(b)[-1] + len(b)) // 2),
        "no-delimiter": _cut("jpeg", lambda b, p: len(b) - 8),
        "multiframe-mid-last-frame": _cut("jpeg3", lambda b, p: (_fragments(b)[-1] + len(b)) // 2),
        "multiframe-last-fragment-header": _cut("jpeg3", lambda b, p: _fragments(b)[-1] + 6),
    },
    "flipped": {
        **{f"meta-seed{s}": _flip(s, lambda b: 144, lambda b: _meta_end(b), 3) for s in range(6)},
        "meta-group-length-high": _put("explicit", lambda b, p: 143, b"\x7f"),
        "meta-group-length-low": _put("explicit", lambda b, p: 140, b"\x03"),
        "dicm": _put("explicit", lambda b, p: 128, b"DICX"),
        "data-lengths-seed": _flip(99, lambda b: _meta_end(b), lambda b: _pixel_tag(b), 12),
    },
    "length": {
        "implicit-huge": _length("implicit", NAME, lambda v, rest: 0x7FFFFFF0),
        "implicit-odd": _length("implicit", NAME, lambda v, rest: v + 1),
        "implicit-past-eof": _length("implicit", NAME, lambda v, rest: rest + 10),
        "implicit-undefined-us": _length("implicit", ROWS, lambda v, rest: UNDEFINED),
        "implicit-undefined-pn": _length("implicit", NAME, lambda v, rest: UNDEFINED),
        "explicit-short-odd": _length("explicit", NAME, lambda v, rest: v + 1),
        "explicit-short-max": _length("explicit", NAME, lambda v, rest: 0xFFFF),
        "explicit-us-zero": _length("explicit", ROWS, lambda v, rest: 0),
        "explicit-us-six": _length("explicit", ROWS, lambda v, rest: 6),
        "pixel-huge": _length("implicit", 0x7FE00010, lambda v, rest: 0x7FFFFFF0),
        "pixel-past-eof": _length("implicit", 0x7FE00010, lambda v, rest: rest + 2),
        "pixel-odd": _length("explicit", 0x7FE00010, lambda v, rest: v - 1),
        "pixel-undefined-native": _length("explicit", 0x7FE00010, lambda v, rest: UNDEFINED),
        "pixel-zero": _length("explicit", 0x7FE00010, lambda v, rest: 0),
    },
    "sequence": {
        "undelimited-before-pixels": _before_pixels(
            "explicit", _SQ_UNDEF_EXPLICIT + _ITEM_UNDEF + _ELEMENT
        ),
        "undelimited-at-end": _append("explicit", _SQ_UNDEF_EXPLICIT + _ITEM_UNDEF + _ELEMENT),
        "implicit-undelimited-at-end": _append(
            "implicit",
            _SQ_UNDEF_IMPLICIT + _ITEM_UNDEF + struct.pack("<HHL", 0x0009, 0x1011, 4) + b"abcd",
        ),
        "item-past-eof": _append(
            "explicit", _SQ_UNDEF_EXPLICIT + struct.pack("<HHL", 0xFFFE, 0xE000, 0x7FFFFFF0)
        ),
        "nested-undelimited-20000": _append("explicit", _nested_undelimited(20000)),
        "nested-undelimited-before-pixels-400": _before_pixels(
            "explicit", _nested_undelimited(400)
        ),
        "stray-item-delimiters": _before_pixels(
            "explicit", struct.pack("<HHL", 0xFFFE, 0xE00D, 0) * 3
        ),
    },
    "values": {
        "rows-0": _edit("implicit", Rows=0),
        "rows-1": _edit("implicit", Rows=1),
        "rows-65535": _edit("implicit", Rows=65535),
        "columns-0": _edit("implicit", Columns=0),
        "columns-65535": _edit("implicit", Columns=65535),
        "frames-2e31": _edit("implicit", NumberOfFrames=2**31),
        "frames-2e31-1": _edit("implicit", NumberOfFrames=2**31 - 1),
        "frames-65535": _edit("implicit", NumberOfFrames=65535),
        "frames-text": lambda d: _edit("implicit", NumberOfFrames="7531")(d).replace(
            b"7531", b"many"
        ),
        "bits-0": _edit("implicit", BitsAllocated=0),
        "bits-1": _edit("implicit", BitsAllocated=1),
        "bits-13": _edit("implicit", BitsAllocated=13),
        "bits-64": _edit("implicit", BitsAllocated=64),
        "bits-65535": _edit("implicit", BitsAllocated=65535),
        "bits-stored-0": _edit("implicit", BitsStored=0),
        "high-bit-40": _edit("implicit", HighBit=40),
        "samples-0": _edit("implicit", SamplesPerPixel=0),
        "samples-4": _edit("implicit", SamplesPerPixel=4),
        "samples-65535": _edit("implicit", SamplesPerPixel=65535),
        "pixels-half": _edit("implicit", PixelData=lambda px: px[: len(px) // 2]),
        "pixels-double": _edit("implicit", PixelData=lambda px: px + px),
        "pixels-none": _edit("implicit", PixelData=lambda px: b""),
        "jpeg-rows-65535": _edit("jpeg", Rows=65535, Columns=65535),
        "jpeg-frames-2e31": _edit("jpeg", NumberOfFrames=2**31),
        "jpeg-bits-13": _edit("jpeg", BitsAllocated=13),
    },
    "encapsulated": {
        "fragment-tag-wrong": _put("jpeg", lambda b, p: _fragments(b)[-1], b"\xfe\xff\xdd\xe0"),
        "fragment-length-huge": _length_item("jpeg", -1, lambda v: 0x7FFFFFF0),
        "fragment-length-odd": _length_item("jpeg", -1, lambda v: v - 3),
        "fragment-length-undefined": _length_item("jpeg", -1, lambda v: UNDEFINED),
        "table-length-huge": _length_item("jpeg", 0, lambda v: 0x7FFFFFF0),
        "table-entry-past": _append("jpeg", b""),  # replaced below: needs a table
        "no-fragments": _cut("jpeg", lambda b, p: _fragments(b)[-1]),
        "stream-zeroed": lambda d: (
            lambda b: b[: _fragments(b)[-1] + 8] + b"\0" * (len(b) - _fragments(b)[-1] - 8)
        )(d["jpeg"].read_bytes()),
    },
    "syntax": {
        "explicit-said-of-implicit": _syntax("implicit", "1.2.840.10008.1.2.1"),
        "implicit-said-of-explicit": _syntax("explicit", "1.2.840.10008.1.2"),
        "big-endian-said": _syntax("explicit", "1.2.840.10008.1.2.2"),
        "jpeg-said-of-native": _syntax("explicit", "1.2.840.10008.1.2.4.70"),
        "native-said-of-jpeg": _syntax("jpeg", "1.2.840.10008.1.2.1"),
        "deflated-said": _syntax("explicit", "1.2.840.10008.1.2.1.99"),
        "unknown-uid": _syntax("explicit", "1.2.3.4.5.6.7.8"),
        "empty-uid": _syntax("explicit", ""),
        "not-a-uid": _syntax("explicit", "hello world"),
        "rle-said-of-native": _syntax("explicit", "1.2.840.10008.1.2.5"),
    },
}


def _table_entry_past(d: dict[str, Path]) -> bytes:
    """The JPEG donor with a one-entry offset table pointing far past the data."""
    data = d["jpeg"].read_bytes()
    t = _fragments(data)[0]
    old = struct.unpack_from("<L", data, t + 4)[0]
    table = struct.pack("<HHL", 0xFFFE, 0xE000, 4) + struct.pack("<L", 0x7FFFFFF0)
    return data[:t] + table + data[t + 8 + old :]


VARIANTS["encapsulated"]["table-entry-past"] = _table_entry_past


def make_variants(
    head_slices: list[Path], folder: Path, work: Path, classes: list[str] | None = None
) -> list[Variant]:
    """Write every variant of ``classes`` (all by default) into ``folder``, the k-th made from
    ``head_slices[k]`` (there must be enough); ``work`` holds the donors."""
    folder.mkdir(parents=True, exist_ok=True)
    out: list[Variant] = []
    for cls, makers in VARIANTS.items():
        if classes is not None and cls not in classes:
            continue
        for name, make in makers.items():
            k = len(out)
            path = folder / f"{cls}-{name}.dcm"
            with warnings.catch_warnings():  # pydicom warns of the lies it is asked to write
                warnings.simplefilter("ignore")
                path.write_bytes(make(Donors(head_slices[k], work / str(k))))
            out.append(Variant(cls, name, path))
    return out
