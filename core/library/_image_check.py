"""Whether the image header of a file being imported tells the truth, said at import.

The library keeps every readable instance as it is (nothing is lost: a later ownscan may read
more of it), but a header that lies about its image (Rows 0, Bits Allocated 13, a Number of
Frames the file cannot hold, pixel data shorter than declared, a compressed transfer syntax
over plain bytes) is named when the file arrives, not first when it is drawn. The checks are
the reader's own (:func:`ownscan.core.dicom.read_frames`, header only: no pixel is decoded),
so that import, ``info``, ``render`` and ``export`` say the same words.
"""

from __future__ import annotations

import math

from ownscan.core.dicom import NotDicom, ReadProblem, Scan
from ownscan.core.dicom._frames import _NOT_FAST, MAX_FRAME_BYTES, MAX_MM
from ownscan.core.plugin_types import SourceItem

__all__ = ["IMAGE_TAGS", "image_problem", "plainly_true"]


def image_problem(data: bytes) -> str | None:
    """Why the image of the DICOM instance in ``data`` cannot be drawn as its header says, or
    None when its header holds together (or it has no image: a report, a 1-bit overlay).
    Values the reader sets aside as untrue and replaces (it says so) are named too.

    Parameters
    ----------
    data
        The whole file, already read by the import (its header is read again; the pixel
        data is located and measured, never decoded).
    """
    from ownscan.core.dicom import read_frames

    try:
        frames = read_frames(SourceItem(origin="", data=data))
    except NotDicom:
        return None  # no image to lie about; the import's own header read has judged it
    except (ReadProblem, MemoryError, ValueError, OverflowError) as exc:
        return str(exc) or type(exc).__name__
    # header values the reader set aside as untrue (Samples per Pixel 0, pixel data twice
    # what Rows x Columns need...): the words info gives as "untrue header value in" warnings
    notes = list(dict.fromkeys(n for fr in frames for n in fr.notes))
    return "; ".join(notes) or None


# -- the gate: the usual, truthful file is not read a second time ----------------------------
# The tags the gate reads (all before the pixel data, picked up by the header scan)
IMAGE_TAGS: dict[int, str] = {
    0x00080008: "ImageType",
    0x00200032: "ImagePositionPatient",
    0x00200037: "ImageOrientationPatient",
    0x00280002: "SamplesPerPixel",
    0x00280004: "PhotometricInterpretation",
    0x00280010: "Rows",
    0x00280011: "Columns",
    0x00280030: "PixelSpacing",
    0x00280100: "BitsAllocated",
    0x00280101: "BitsStored",
    0x00280102: "HighBit",
    0x00281053: "RescaleSlope",
    0x00181164: "ImagerPixelSpacing",
    0x00182010: "NominalScannedPixelSpacing",
}
# present anywhere at the top level: the reader takes another road (its own list of what its
# header scan declines: functional groups, mosaic, UIH grid, private scales, diffusion), or
# the values pass through a table (LUTs, ultrasound regions, a real-world mapping): the full
# check decides
_UNUSUAL = frozenset(_NOT_FAST) | {
    0x00283000,  # Modality LUT Sequence
    0x00283010,  # VOI LUT Sequence
    0x00186011,  # Sequence of Ultrasound Regions
    0x00409096,  # Real World Value Mapping Sequence
}
_NATIVE_LE = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1")
_SPACING_TAGS = (0x00280030, 0x00181164, 0x00182010)  # the reader's _SPACINGS


def plainly_true(sc: Scan, number_of_frames: str) -> bool:
    """True when the image header the scanner read (``sc``, scanned with :data:`IMAGE_TAGS`)
    plainly holds together, so that :func:`image_problem` has nothing to say of it: native
    little-endian pixel data of one plain layout whose length is what Rows x Columns x Samples
    x Bits Allocated x frames need, values the reader takes as they are, geometry it uses as
    it is. False for anything else (not necessarily a lie: the full check then decides).
    ``number_of_frames`` is the text of Number of Frames ("" when absent)."""
    try:
        return _plainly_true(sc, number_of_frames)
    except (ValueError, TypeError, OverflowError):
        return False


def _us(
    els: dict[int, tuple[str | None, bytes | None]], tag: int, default: int | None
) -> int | None:
    """A US value as the reader takes it (2 bytes, VR US or implicit), the default when
    absent, None when it is anything else."""
    el = els.get(tag)
    if el is None:
        return default
    vr, raw = el
    if raw is None or len(raw) != 2 or vr not in (None, "US"):
        return None
    return raw[0] | raw[1] << 8


def _text(els: dict[int, tuple[str | None, bytes | None]], tag: int) -> str | None:
    el = els.get(tag)
    if el is None:
        return None
    if el[1] is None:
        raise ValueError("undefined length")
    return el[1].decode("latin-1").strip("\x00 ")


def _floats(els: dict[int, tuple[str | None, bytes | None]], tag: int, n: int) -> list[float]:
    """The n finite numbers of a DS value, [] when absent; ValueError for anything else."""
    t = _text(els, tag)
    if t is None:
        return []
    vals = [float(x) for x in t.split("\\")]
    if len(vals) != n or not math.isfinite(sum(vals)):
        raise ValueError("not a value of the reader's")
    return vals


def _plainly_true(sc: Scan, number_of_frames: str) -> bool:
    present = sc.present
    if sc.transfer_syntax not in _NATIVE_LE or not _UNUSUAL.isdisjoint(present):
        return False
    if (
        present
        and max(present) > 0x20051000
        and any(t >> 16 == 0x2005 and t & 0xFF == 0x0E and t & 0xFF00 > 0x1000 for t in present)
    ):
        return False  # Philips private scale slope in a relocated block
    off, length = sc.pixel_offset, sc.pixel_length
    if off is None or length is None or length > sc.size - off:
        return False
    els = sc.elements
    rows, cols, alloc = (
        _us(els, 0x00280010, None),
        _us(els, 0x00280011, None),
        _us(els, 0x00280100, None),
    )
    if rows is None or cols is None or alloc is None:
        return False
    samples, stored = _us(els, 0x00280002, 1), _us(els, 0x00280101, alloc)
    if samples is None or stored is None:
        return False
    if rows <= 0 or cols <= 0 or alloc not in (8, 16, 32) or not 0 < stored <= alloc:
        return False
    if _us(els, 0x00280102, stored - 1) != stored - 1:
        return False
    photometric = (_text(els, 0x00280004) or "").upper()
    if not (
        (samples == 1 and photometric in ("", "MONOCHROME1", "MONOCHROME2"))
        or (samples == 3 and photometric == "RGB")
    ):
        return False
    frames = int(number_of_frames) if number_of_frames else 1
    frame_bytes = rows * cols * samples * alloc // 8
    if not 1 <= frames <= 1_000_000 or frame_bytes > MAX_FRAME_BYTES:
        return False
    need = frame_bytes * frames
    if not need <= length < 2 * need:  # the reader notes twice what is needed, refuses less
        return False
    image_type = els.get(0x00080008)
    if image_type is not None and b"MOSAIC" in (image_type[1] or b"").upper():
        return False
    ipp = _floats(els, 0x00200032, 3)
    if ipp and not max(map(abs, ipp)) <= MAX_MM:
        return False
    iop = _floats(els, 0x00200037, 6)
    if iop:
        r0, r1, r2, c0, c1, c2 = iop
        nr = math.sqrt(r0 * r0 + r1 * r1 + r2 * r2)
        nc = math.sqrt(c0 * c0 + c1 * c1 + c2 * c2)
        if not (0.5 < nr < 2 and 0.5 < nc < 2):
            return False
        if abs(r0 * c0 + r1 * c1 + r2 * c2) > 1e-4 * nr * nc:
            return False  # the reader would turn them, maybe with a word: it decides
    for tag in _SPACING_TAGS:
        sp = _floats(els, tag, 2)
        if sp and not (0 < sp[0] <= MAX_MM and 0 < sp[1] <= MAX_MM):
            return False
    slope = _text(els, 0x00281053)
    return not slope or float(slope.split("\\")[0]) != 0
