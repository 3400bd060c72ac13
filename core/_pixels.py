"""Decoding the pixels of a stack of frames into one preallocated array.

Two paths:

* native little-endian pixel data on disk (the common CD case) is read with ``readinto``
  straight into the frame's slot of the output array, then rescaled in place; threads run it
  (file reads and numpy release the GIL);
* everything else goes through pydicom's pixel backends (pylibjpeg's openjpeg / libjpeg / rle
  plugins, pydicom's own RLE and native decoders, pillow). Those decoders hold the GIL, so
  compressed files on disk are decoded by a pool of worker processes (one per core); each
  worker returns a few decoded frames at a time, which the parent rescales into the output.

Either way the output is allocated once in its final dtype and at most a few frames per worker
are alive besides it, so peak memory stays near the size of the volume.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import io
import math
import mmap
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ownscan.core.dicom import DEFLATED_LE, EXPLICIT_BE, NATIVE, NATIVE_LE, Frame, quiet_pydicom
from ownscan.core.errors import ReadProblem, UnsupportedTransferSyntax

if TYPE_CHECKING:  # multiprocessing and the process pool are imported when first used
    import multiprocessing.context
    from concurrent.futures import Future

__all__ = ["DecodePlan", "allocate", "decode_into", "map_file", "plan_for"]

_INT16 = (-32768, 32767)
_GROUP = 4  # native frames gathered per pwrite into a file (measured: 1 -> 4 saves ~15 %)

# What to pip install for each family of transfer syntaxes (pydicom's backends).
_INSTALL = {
    "1.2.840.10008.1.2.4.5": "pip install pylibjpeg pylibjpeg-libjpeg",  # JPEG 4.50, 4.51
    "1.2.840.10008.1.2.4.7": "pip install pylibjpeg pylibjpeg-libjpeg",  # JPEG lossless 4.57/4.70
    "1.2.840.10008.1.2.4.8": "pip install pylibjpeg pylibjpeg-libjpeg (or pyjpegls)",  # JPEG-LS
    "1.2.840.10008.1.2.4.9": "pip install pylibjpeg pylibjpeg-openjpeg",  # JPEG 2000
    "1.2.840.10008.1.2.4.20": "pip install pylibjpeg pylibjpeg-openjpeg",  # HTJ2K 4.201-4.203
    "1.2.840.10008.1.2.5": "pip install pylibjpeg pylibjpeg-rle",  # RLE
}


def install_hint(ts: str) -> str:
    """What to pip install to decode transfer syntax ``ts``."""
    for prefix, hint in _INSTALL.items():
        if ts.startswith(prefix):
            return hint
    return "no Python decoder is known for it (convert the files with gdcmconv --raw)"


@dataclass(frozen=True)
class DecodePlan:
    """The output array of a stack: its dtype and shape and how frames map into it."""

    dtype: np.dtype
    shape: tuple[int, ...]
    colour: bool
    checked: bool  # int16 chosen on hope: check each frame, fall back to int32 if it overflows
    fill: float  # value given to padding voxels (after rescale)


class _Overflow(Exception):
    pass


def _stored_dtype(fr: Frame) -> np.dtype:
    kind = "i" if fr.pixel_representation else "u"
    # packed 12-bit data is unpacked into 16-bit values
    return np.dtype(f"{kind}{max(1, (fr.bits_allocated + 7) // 8)}")


def _stored_range(fr: Frame) -> tuple[int, int]:
    bs = fr.bits_stored
    if fr.pixel_representation:
        return (-(1 << (bs - 1)), (1 << (bs - 1)) - 1)
    return (0, (1 << bs) - 1)


_FLOAT32_MAX = float(np.finfo(np.float32).max)
_INT32 = (float(np.iinfo(np.int32).min), float(np.iinfo(np.int32).max))


def plan_for(frames: Sequence[Frame], modality: str, *, force_int32: bool = False) -> DecodePlan:
    """Choose the compact output dtype for ``frames`` (header values only)."""
    first = frames[0]
    n = len(frames)
    if first.is_colour:
        return DecodePlan(np.dtype(np.uint8), (n, first.rows, first.columns, 3), True, False, 0)
    shape = (n, first.rows, first.columns)
    rescales = {(fr.slope, fr.intercept) for fr in frames}
    stored = {_stored_dtype(fr) for fr in frames}
    fill = -1024.0 if modality == "CT" else 0.0
    if rescales == {(1.0, 0.0)} and len(stored) == 1:
        dt = stored.pop()
        fill = float(np.clip(fill, np.iinfo(dt).min, np.iinfo(dt).max))
        return DecodePlan(dt, shape, False, False, fill)
    lo = hi = 0.0
    for fr in frames:
        a, b = _stored_range(fr)
        vals = (a * fr.slope + fr.intercept, b * fr.slope + fr.intercept)
        if not all(math.isfinite(v) and abs(v) <= _FLOAT32_MAX for v in vals):
            # a header lie (Rescale Slope 1e308): no scan has such values, and no array holds them
            raise ReadProblem(
                f"{fr.where}: Rescale Slope {fr.slope:g} and Intercept {fr.intercept:g} give "
                "values beyond any scan's (and beyond float32)"
            )
        lo, hi = min(lo, *vals), max(hi, *vals)
    integral = all(float(s).is_integer() and float(i).is_integer() for s, i in rescales)
    if not integral or not (_INT32[0] <= lo and hi <= _INT32[1]):
        return DecodePlan(np.dtype(np.float32), shape, False, False, fill)
    if force_int32:
        return DecodePlan(np.dtype(np.int32), shape, False, False, fill)
    if _INT16[0] <= lo and hi <= _INT16[1]:
        return DecodePlan(np.dtype(np.int16), shape, False, False, fill)
    # The header allows values beyond int16 (e.g. 16 stored bits), real CT data rarely has them:
    # try int16 and check every frame.
    return DecodePlan(np.dtype(np.int16), shape, False, True, fill)


# ---------------------------------------------------------------------------------------------
# Reading frames (runs in the parent's threads or in worker processes)
# ---------------------------------------------------------------------------------------------
def _raw_native(fr: Frame, fp: io.BufferedIOBase | io.BytesIO) -> np.ndarray:
    """The stored values of one native little-endian grey frame."""
    assert fr.pixel_offset is not None
    dt = _stored_dtype(fr).newbyteorder("<")
    fp.seek(fr.pixel_offset + fr.frame * fr.frame_bytes)
    buf = fp.read(fr.frame_bytes)
    if len(buf) != fr.frame_bytes:
        raise ValueError(f"pixel data ends early ({len(buf)} of {fr.frame_bytes} bytes)")
    if fr.bits_allocated == 12:
        return _packed12_frame(buf, fr)
    arr = np.frombuffer(buf, dtype=dt).reshape(fr.rows, fr.columns)
    return _fix_bits(arr.astype(dt.newbyteorder("="), copy=False), fr)


def unpack12(data: bytes | memoryview, n: int) -> np.ndarray:
    """``n`` pixels of packed 12-bit data (Bits Allocated 12) as uint16.

    The packing of ACR-NEMA and of PS3.5's retired Bits Allocated 12 (as dcmtk and GDCM read
    it): pixels fill 16-bit little-endian words from the low bit up, so every three bytes
    ``b0 b1 b2`` hold two pixels, ``b0 | (b1 & 0x0F) << 8`` and ``b1 >> 4 | b2 << 4``.
    (dcm2niix v1.0.20220720 reads the bytes in another order and gives other values.)
    """
    groups = (n + 1) // 2
    raw = np.frombuffer(data, np.uint8, count=min(len(data), 3 * groups))
    if len(raw) < 3 * groups - (1 if n % 2 else 0):
        raise ValueError(f"pixel data ends early ({len(raw)} bytes for {n} 12-bit pixels)")
    flat = np.zeros(3 * groups, np.uint16)
    flat[: len(raw)] = raw
    b = flat.reshape(groups, 3)
    out = np.empty(2 * groups, np.uint16)
    out[0::2] = b[:, 0] | ((b[:, 1] & 0x0F) << 8)
    out[1::2] = (b[:, 1] >> 4) | (b[:, 2] << 4)
    return out[:n]


def _packed12_frame(data: bytes | memoryview, fr: Frame) -> np.ndarray:
    """One frame of packed 12-bit data: stored values (uint16, or int16 sign-extended from
    BitsStored for signed data) of shape (rows, columns)."""
    arr = unpack12(data, fr.rows * fr.columns).view(_stored_dtype(fr))
    return _fix_bits(arr.reshape(fr.rows, fr.columns), fr)


def _decode_packed12(frames: Sequence[Frame]) -> list[np.ndarray | str]:
    """Frames of one file of packed 12-bit data held in memory or deflated (pydicom has no
    decoder for Bits Allocated 12): unpacked from the data set's Pixel Data."""
    from pydicom import dcmread

    src = frames[0].source
    try:
        if src.dataset is not None:
            value = src.dataset.PixelData
        else:
            with src.open() as fp:
                value = dcmread(fp).PixelData
    except Exception as exc:  # damaged deflate stream or data set: these frames fail
        return [f"cannot read the pixel data ({exc})"] * len(frames)
    out: list[np.ndarray | str] = []
    for fr in frames:
        start = fr.frame * fr.frame_bytes
        try:
            out.append(_packed12_frame(memoryview(value)[start : start + fr.frame_bytes], fr))
        except ValueError as exc:
            out.append(str(exc))
    return out


def _fix_bits(arr: np.ndarray, fr: Frame) -> np.ndarray:
    """Clear bits above BitsStored (unsigned) or sign-extend from BitsStored (signed)."""
    # the container's width: Bits Allocated, except for packed 12-bit data unpacked into 16
    shift = arr.dtype.itemsize * 8 - fr.bits_stored
    if shift <= 0:
        return arr
    if not arr.flags.writeable:
        arr = arr.copy()
    if fr.pixel_representation:
        np.left_shift(arr, shift, out=arr)
        np.right_shift(arr, shift, out=arr)
    else:
        np.bitwise_and(arr, (1 << fr.bits_stored) - 1, out=arr)
    return arr


def _to_uint8_rgb(arr: np.ndarray, fr: Frame) -> np.ndarray:
    if arr.ndim == 2:  # grey decoded where colour was declared: replicate
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.dtype != np.uint8:
        bits = fr.bits_stored if fr.photometric != "PALETTE COLOR" else 16
        arr = (arr.astype(np.uint32) >> max(0, bits - 8)).astype(np.uint8)
    return arr


_PALETTE = ("Red", "Green", "Blue", "Alpha")


def _palette_luts(ds: Any, fr: Frame) -> Any:
    """``ds``, or for a big-endian file a data set of its palette's descriptors and data with
    16-bit entries in the machine's order. pydicom 3.0 reads a (not segmented) Palette Color
    LUT Data as native-order words whatever the file's byte order, so each entry of a
    big-endian file came out byte-swapped (OBXXXX1A_expb.dcm: a black picture where the
    little-endian copy, GDCM and dcmtk show the ultrasound)."""
    from pydicom import Dataset

    if fr.transfer_syntax != EXPLICIT_BE or "RedPaletteColorLookupTableData" not in ds:
        return ds
    luts = Dataset()
    for colour in _PALETTE:
        desc, data = (
            f"{colour}PaletteColorLookupTableDescriptor",
            f"{colour}PaletteColorLookupTableData",
        )
        if desc in ds:
            setattr(luts, desc, ds[desc].value)
        if data in ds and desc in ds:
            value = bytes(ds[data].value)
            entries = ds[desc].value[0] or 1 << 16
            if len(value) == 2 * entries:  # 16-bit entries (8-bit ones have no byte order)
                value = np.frombuffer(value, ">u2").astype("<u2").tobytes()
            setattr(luts, data, value)
    return luts


def _decode_group(frames: Sequence[Frame]) -> list[np.ndarray | str]:
    """Decode frames that all come from one file (through pydicom). Errors come back as text."""
    tile = frames[0].tile
    if tile is not None:  # slices of a Siemens mosaic: the whole image once, cut into tiles
        whole = dataclasses.replace(frames[0], tile=None, rows=tile[2], columns=tile[3])
        got = _decode_group([whole])[0]
        if isinstance(got, str):
            return [got] * len(frames)
        out: list[np.ndarray | str] = []
        for fr in frames:
            assert fr.tile is not None
            k, side = fr.tile[0], fr.tile[1]
            r0, c0 = (k // side) * fr.rows, (k % side) * fr.columns
            out.append(np.ascontiguousarray(got[r0 : r0 + fr.rows, c0 : c0 + fr.columns]))
        return out
    if frames[0].bits_allocated == 12:
        return _decode_packed12(frames)
    with quiet_pydicom():
        return _decode_group_quiet(frames)


# JPEG-LS: pydicom picks pylibjpeg's libjpeg first when both are installed; CharLS (pyjpegls,
# the reference JPEG-LS codec, a dependency) decodes the same stream about 2.5-3.5x faster
# (0.8 vs 2.0 ms a 64x64 MR frame, 10 vs 35 ms a 512x512 CT frame).
_JPEG_LS = ("1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81")


def _preferred_plugin(ts: str) -> str:
    """The pydicom decoding plugin to ask for syntax ``ts`` ("" = pydicom's own choice)."""
    if ts not in _JPEG_LS:
        return ""
    from pydicom.pixels import get_decoder

    return "pyjpegls" if "pyjpegls" in get_decoder(ts).available_plugins else ""


def _decode_group_quiet(frames: Sequence[Frame]) -> list[np.ndarray | str]:
    from pydicom import dcmread
    from pydicom.pixels import apply_color_lut, iter_pixels
    from pydicom.uid import UID

    first = frames[0]
    src = first.source
    out: list[np.ndarray | str] = []
    if first.fragments is not None and first.photometric != "PALETTE COLOR":
        return _decode_fragments(frames)
    try:
        if first.photometric == "PALETTE COLOR":
            if src.dataset is not None:
                ds = src.dataset
            else:
                # force: the header reader took it as DICOM (e.g. no preamble and no file
                # meta, as OT-PAL-8-face.dcm), so pydicom must not refuse it here
                with src.open() as fp:
                    ds = dcmread(fp, force=True)
                if "TransferSyntaxUID" not in ds.file_meta:  # no file meta: the one found
                    ds.file_meta.TransferSyntaxUID = UID(str(first.transfer_syntax))
            full = apply_color_lut(ds.pixel_array, _palette_luts(ds, first))
            if first.n_frames == 1:
                full = full[None]
            return [_to_uint8_rgb(full[fr.frame], fr) for fr in frames]
        if src.dataset is not None:
            target: object = src.dataset
        elif first.transfer_syntax == DEFLATED_LE:
            with src.open() as fp:  # pydicom decodes deflated data only from a dataset
                target = dcmread(fp)
        else:
            target = src.open()
        indices = [fr.frame for fr in frames]
        opts: dict[str, Any] = {"indices": indices} if first.n_frames > 1 else {}
        if first.samples > 1 and first.transfer_syntax in NATIVE:
            # Planar Configuration is required for colour, yet some writers leave it out:
            # 0 (interleaved, the header reader's default) as dcm2niix and dcmtk read it
            opts["planar_configuration"] = first.planar_configuration
        plugin = _preferred_plugin(first.transfer_syntax)
        if plugin:
            opts["decoding_plugin"] = plugin
        arrays: Any = iter_pixels(target, **opts)  # type: ignore[arg-type]
        try:
            for fr, arr in zip(frames, arrays, strict=False):
                if fr.is_colour:
                    out.append(_to_uint8_rgb(arr, fr))
                else:
                    out.append(np.ascontiguousarray(arr))
        finally:
            arrays.close()  # before the file: the generator seeks it back when closed
            if isinstance(target, io.IOBase):
                target.close()
    except Exception as exc:  # a damaged stream: report the frame, keep the others
        reason = _decode_failure(exc, first)
        return out + [reason] * (len(frames) - len(out))
    if len(out) < len(frames):
        out += ["fewer frames in the pixel data than NumberOfFrames says"] * (
            len(frames) - len(out)
        )
    return out


def _decode_fragments(frames: Sequence[Frame]) -> list[np.ndarray | str]:
    """Decode frames of one file whose fragments the header reader found itself
    (``Frame.fragments``: the offset table is untrue or absent), each from its own bytes."""
    from pydicom.encaps import encapsulate
    from pydicom.pixels import get_decoder

    first = frames[0]
    decoder = get_decoder(first.transfer_syntax)
    opts: dict[str, Any] = {
        "rows": first.rows,
        "columns": first.columns,
        "number_of_frames": 1,
        "samples_per_pixel": first.samples,
        "bits_allocated": first.bits_allocated,
        "bits_stored": first.bits_stored,
        "pixel_representation": first.pixel_representation,
        "photometric_interpretation": first.photometric,
    }
    if first.samples > 1:
        opts["planar_configuration"] = first.planar_configuration
    plugin = _preferred_plugin(first.transfer_syntax)
    if plugin:
        opts["decoding_plugin"] = plugin
    out: list[np.ndarray | str] = []
    try:
        with contextlib.ExitStack() as stack:
            ds = first.source.dataset
            if ds is not None:
                value = ds.PixelData
                fp: Any = None
            else:
                fp = stack.enter_context(first.source.open())
            for fr in frames:
                assert fr.fragments is not None
                parts = []
                for offset, length in fr.fragments:
                    if fp is None:
                        parts.append(bytes(value[offset : offset + length]))
                    else:
                        fp.seek(offset)
                        parts.append(fp.read(length))
                got, declared = sum(map(len, parts)), sum(n for _, n in fr.fragments)
                if got < declared:  # the file is cut short in this frame: never half a picture
                    out.append(
                        f"file truncated: the frame's compressed data declares {declared} "
                        f"bytes, only {got} present"
                    )
                    continue
                try:
                    arr, _ = decoder.as_array(encapsulate([b"".join(parts)]), **opts)
                except Exception as exc:  # a damaged stream: this frame only
                    out.append(_decode_failure(exc, fr))
                    continue
                out.append(_to_uint8_rgb(arr, fr) if fr.is_colour else np.ascontiguousarray(arr))
    except OSError as exc:
        return out + [f"cannot read: {exc.strerror or exc}"] * (len(frames) - len(out))
    return out


def _decode_failure(exc: BaseException, fr: Frame) -> str:
    """One line: which syntax failed and what each decoder said."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    if len(lines) > 1 and "all available plugins" in lines[0]:
        lines = lines[1:]
    if any("parsing the Basic Offset Table item" in ln for ln in lines):
        # pydicom's words for plain bytes where fragments should be: say it in the reader's
        return (
            f"the pixel data is stored as plain bytes, not in fragments as its transfer "
            f"syntax ({fr.transfer_syntax.name}) requires: the file's transfer syntax is untrue"
        )
    detail = "; ".join(lines) or type(exc).__name__
    return f"cannot decode the {fr.transfer_syntax.name} pixel data ({detail[:300]})"


def _decode_native_group(frames: Sequence[Frame]) -> list[np.ndarray | str]:
    out: list[np.ndarray | str] = []
    try:
        with frames[0].source.open() as fp:
            for fr in frames:
                try:
                    out.append(_raw_native(fr, fp))
                except (OSError, ValueError) as exc:
                    out.append(str(exc))
    except OSError as exc:
        return [f"cannot read: {exc.strerror or exc}"] * len(frames)
    return out


def _decode_task(frames: Sequence[Frame]) -> list[np.ndarray | str]:
    """Worker entry point: decode frames, one run of frames of the same file at a time."""
    out: list[np.ndarray | str] = []
    start = 0
    for end in range(1, len(frames) + 1):
        if end == len(frames) or frames[end].source is not frames[start].source:
            run = frames[start:end]
            out += _decode_native_group(run) if _native_ok(run[0]) else _decode_group(run)
            start = end
    return out


def _native_ok(fr: Frame) -> bool:
    return (
        fr.tile is None
        and fr.pixel_offset is not None
        and fr.transfer_syntax in NATIVE_LE
        and fr.samples == 1
        and fr.photometric in ("MONOCHROME1", "MONOCHROME2")
        and fr.bits_allocated in (8, 12, 16, 32)
        and fr.source.dataset is None
    )


# ---------------------------------------------------------------------------------------------
# Writing frames into the output
# ---------------------------------------------------------------------------------------------
def _store(slot: np.ndarray, raw: np.ndarray, fr: Frame, plan: DecodePlan) -> None:
    """Rescale the stored values ``raw`` of one frame into its output ``slot``."""
    if not raw.dtype.isnative:  # big endian data as pydicom decodes it: native order first
        raw = raw.astype(raw.dtype.newbyteorder("="))
    if plan.colour:
        if raw.shape != slot.shape:
            raise ValueError(f"decoded shape {raw.shape} is not {slot.shape}")
        slot[...] = raw
        return
    if raw.shape != slot.shape:
        raise ValueError(f"decoded {raw.shape[::-1]} pixels, header says {slot.shape[::-1]}")
    pad_mask = None
    if fr.padding is not None:
        pad_mask = (raw >= fr.padding[0]) & (raw <= fr.padding[1])
        if not pad_mask.any():
            pad_mask = None
    if plan.dtype.kind == "f":
        np.multiply(raw, np.float32(fr.slope), out=slot, dtype=np.float32, casting="unsafe")
        if fr.intercept:
            slot += np.float32(fr.intercept)
    elif fr.slope == 1.0 and fr.intercept == 0.0 and raw.dtype == plan.dtype:
        slot[...] = raw
    elif raw.dtype.itemsize == plan.dtype.itemsize and raw.dtype.kind in "iu":
        # modular arithmetic in the output type (exact when the result fits: see _store_direct)
        slope, intercept = int(fr.slope), int(fr.intercept)
        if plan.checked:
            a, b = int(raw.min()) * slope + intercept, int(raw.max()) * slope + intercept
            info = np.iinfo(plan.dtype)
            if min(a, b) < info.min or max(a, b) > info.max:
                raise _Overflow
        src = raw.view(plan.dtype)
        if slope != 1:
            src = np.multiply(src, np.array(slope, dtype=np.int64).astype(plan.dtype))
        np.add(src, np.array(intercept, dtype=np.int64).astype(plan.dtype), out=slot)
    else:
        tmp: np.ndarray = raw.astype(np.int64 if plan.dtype.itemsize >= 4 else np.int32)
        if fr.slope != 1.0:
            np.multiply(tmp, int(fr.slope), out=tmp)
        if fr.intercept:
            np.add(tmp, int(fr.intercept), out=tmp)
        if plan.checked:
            lo, hi = np.iinfo(plan.dtype).min, np.iinfo(plan.dtype).max
            if tmp.min() < lo or tmp.max() > hi:
                raise _Overflow
        slot[...] = tmp
    if pad_mask is not None:
        slot[pad_mask] = plan.fill


def _store_direct(slot: np.ndarray, fr: Frame, plan: DecodePlan, fp: io.BufferedIOBase) -> None:
    """Read a native frame straight into its slot and rescale it in place.

    The slot has the stored item size; integer arithmetic in the output dtype wraps modulo
    2**bits, so the result is exact whenever the final values fit the output dtype, which the
    plan guarantees from the header, or (for a ``checked`` plan) this frame's range confirms.
    """
    assert fr.pixel_offset is not None
    fp.seek(fr.pixel_offset + fr.frame * fr.frame_bytes)
    view = memoryview(slot).cast("B")  # type: ignore[arg-type]
    got = fp.readinto(view)
    if got != fr.frame_bytes:
        raise ValueError(f"pixel data ends early ({got} of {fr.frame_bytes} bytes)")
    stored = slot.view(_stored_dtype(fr))
    _fix_bits(stored, fr)
    slope, intercept = int(fr.slope), int(fr.intercept)
    if plan.checked:
        a, b = int(stored.min()) * slope + intercept, int(stored.max()) * slope + intercept
        info = np.iinfo(plan.dtype)
        if min(a, b) < info.min or max(a, b) > info.max:
            raise _Overflow
    pad_mask = None
    if fr.padding is not None:
        pad_mask = (stored >= fr.padding[0]) & (stored <= fr.padding[1])
        if not pad_mask.any():
            pad_mask = None
    if slope != 1:
        np.multiply(slot, np.array(slope, dtype=np.int64).astype(plan.dtype), out=slot)
    if intercept:
        np.add(slot, np.array(intercept, dtype=np.int64).astype(plan.dtype), out=slot)
    if pad_mask is not None:
        slot[pad_mask] = plan.fill


def _direct_ok(fr: Frame, plan: DecodePlan) -> bool:
    """Can this frame be read straight into its slot? Native grey data whose stored item size
    equals the integer output's (see :func:`_store_direct` for why that is exact)."""
    if not _native_ok(fr) or plan.colour or plan.dtype.kind not in "iu":
        return False
    if fr.bits_allocated == 12:  # packed: unpacked first (_raw_native)
        return False
    return _stored_dtype(fr).itemsize == plan.dtype.itemsize


def default_workers() -> int:
    """The CPU cores this process may use."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _mp_context() -> multiprocessing.context.BaseContext:
    import multiprocessing

    # fork is cheapest (nothing to re-import), but unsafe once the process runs other threads
    # (a viewer's event loop); forkserver then.
    if os.name == "posix" and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver" if os.name == "posix" else "spawn")


def _groups(n: int, max_group: int) -> Iterator[list[int]]:
    """Indices ``0..n-1`` in consecutive chunks of at most ``max_group``."""
    for start in range(0, n, max_group):
        yield list(range(start, min(n, start + max_group)))


def check_decodable(fr: Frame) -> None:
    """Raise :class:`UnsupportedTransferSyntax` if no installed backend decodes ``fr``."""
    if fr.is_native:
        return
    from pydicom.pixels import get_decoder

    ts = fr.transfer_syntax
    with quiet_pydicom():  # pydicom warns of a UID that is not one ("hello world")
        try:
            dec = get_decoder(ts)
        except NotImplementedError:
            dec = None
        name = ts.name
    if dec is None or not dec.is_available:
        raise UnsupportedTransferSyntax(fr.source.origin, f"{name} ({ts})", install_hint(ts))


def _pool_wanted(frames: Sequence[Frame], plan: DecodePlan, workers: int) -> bool:
    """Will :func:`decode_into` decode some of ``frames`` in worker processes?"""
    if workers == 1:
        return False
    rest = [fr for fr in frames if not _direct_ok(fr, plan)]
    if len(rest) <= 8 or any(fr.source.dataset is not None for fr in rest):
        return False
    return not all(_native_ok(fr) for fr in rest)


def allocate(
    frames: Sequence[Frame], plan: DecodePlan, *, workers: int | None = None
) -> np.ndarray:
    """The output array for :func:`decode_into`, uninitialised.

    When the frames will be decoded by forked worker processes, the array lives in anonymous
    shared memory (``mmap``, ``MAP_SHARED``): the workers then rescale their frames straight
    into it, instead of sending each decoded frame back through a pipe to be copied. Otherwise
    (and always for native data, read by threads) it is an ordinary ``numpy.empty``.
    """
    workers = default_workers() if workers is None else max(1, workers)
    nbytes = int(np.prod(plan.shape)) * plan.dtype.itemsize
    where = frames[0].where if frames else "the series"
    phys = _physical_memory()
    if phys and nbytes > phys:
        raise ReadProblem(
            f"{where}: the series needs {nbytes / 2**30:.1f} GiB of memory, more than this "
            f"computer has ({phys / 2**30:.1f} GiB)"
        )
    forked = _pool_wanted(frames, plan, workers) and _mp_context().get_start_method() == "fork"
    try:
        if nbytes and forked:
            return np.frombuffer(mmap.mmap(-1, nbytes), dtype=plan.dtype).reshape(plan.shape)
        return np.empty(plan.shape, dtype=plan.dtype)
    except (MemoryError, OSError) as exc:  # OSError: ENOMEM from mmap
        if isinstance(exc, OSError) and exc.errno != errno.ENOMEM:
            raise
        raise ReadProblem(
            f"{where}: not enough memory for the series ({nbytes / 2**30:.2f} GiB)"
        ) from None


def _physical_memory() -> int:
    """Bytes of physical memory (0 where the system does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 0


def map_file(fd: int, offset: int, plan: DecodePlan) -> np.ndarray:
    """The output array of ``plan`` as a shared mapping of bytes ``offset..`` of file ``fd``.

    The file is resized to end exactly where the voxels end (the bytes before ``offset`` are
    kept; new bytes read as zeros until written). What is written to the array lands in the
    file's page cache, and forked decoding workers write into it like into anonymous shared
    memory (:func:`_is_shared` is true). The mapping stays valid after ``fd`` is closed.
    """
    nbytes = int(np.prod(plan.shape)) * plan.dtype.itemsize
    os.ftruncate(fd, offset + nbytes)
    if hasattr(os, "posix_fallocate"):
        # reserve the blocks now: a full disk is an OSError here, not a SIGBUS on a store
        os.posix_fallocate(fd, offset, nbytes)
    mm = mmap.mmap(fd, offset + nbytes)  # from 0: an mmap offset must be page aligned
    count = nbytes // plan.dtype.itemsize
    return np.frombuffer(mm, dtype=plan.dtype, count=count, offset=offset).reshape(plan.shape)


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    while data:
        n = os.pwrite(fd, data, offset)
        data, offset = data[n:], offset + n


def _is_shared(arr: np.ndarray) -> bool:
    """Is ``arr`` a view of an anonymous shared mapping (see :func:`allocate`)?"""
    base: object = arr
    while isinstance(base, np.ndarray):
        base = base.base
    if isinstance(base, memoryview):
        base = base.obj
    return isinstance(base, mmap.mmap)


# What forked workers write into: set in the parent just before the pool forks, inherited.
_SHARED: tuple[np.ndarray, Sequence[Frame], DecodePlan] | None = None


def _decode_shared_task(ks: list[int]) -> list[tuple[int, str]]:
    """Worker entry point (fork): decode frames ``ks`` into the shared output. Returns the
    frames that failed, with the reason; :class:`_Overflow` propagates to the parent."""
    assert _SHARED is not None
    out, frames, plan = _SHARED
    failed: list[tuple[int, str]] = []
    for k, res in zip(ks, _decode_task([frames[k] for k in ks]), strict=True):
        if isinstance(res, str):
            failed.append((k, res))
            continue
        try:
            _store(out[k], res, frames[k], plan)
        except ValueError as exc:
            failed.append((k, str(exc)))
    return failed


def _decode_in_workers(
    out: np.ndarray,
    frames: Sequence[Frame],
    plan: DecodePlan,
    rest: list[int],
    workers: int,
    ctx: multiprocessing.context.BaseContext,
    fail: Callable[[int, str], None],
) -> None:
    """Decode frames ``rest`` in forked workers that write into the shared ``out`` themselves.

    Only frame indices travel to the workers (the frames are inherited) and only failures
    come back, so tasks can be small (two frames), which keeps both cores busy to the end.
    """
    from concurrent.futures import ProcessPoolExecutor

    global _SHARED
    _SHARED = (out, frames, plan)
    try:
        with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            futures = [pool.submit(_decode_shared_task, g) for g in _chunks(rest, 2)]
            try:
                for fut in futures:
                    for k, reason in fut.result():
                        fail(k, reason)
            except BaseException:
                for fut in futures:
                    fut.cancel()
                raise
    finally:
        _SHARED = None


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def decode_into(
    out: np.ndarray,
    frames: Sequence[Frame],
    plan: DecodePlan,
    *,
    workers: int | None = None,
    on_error: Callable[[int, str], None],
    file: tuple[int, int] | None = None,
) -> None:
    """Decode ``frames[k]`` into ``out[k]`` for every k.

    A frame that fails to decode is reported through ``on_error(k, reason)`` and its slot is
    left filled with ``plan.fill``. Raises :class:`_Overflow` when a checked int16 plan does
    not fit (the caller retries with int32).

    ``file = (fd, offset)`` says that ``out`` is :func:`map_file`'s mapping of that file: then
    native frames are read into a per-thread buffer of a few frames, rescaled there and
    written to the file with one ``pwrite`` per run of consecutive frames (the page cache is
    the mapping's, so ``out`` sees them), which avoids a page fault per 4 KiB of the mapping.
    """
    workers = default_workers() if workers is None else max(1, workers)
    # A file whose transfer syntax no decoder handles (an unknown or damaged UID) fails alone,
    # as any frame that does not decode: one such file on a disc must not cost the series
    # beside it. Only when no file can be decoded is it the series' error.
    sources = {id(f.source): f for f in frames}
    cannot: dict[int, UnsupportedTransferSyntax] = {}
    for key, fr in sources.items():
        try:
            check_decodable(fr)
        except UnsupportedTransferSyntax as exc:
            cannot[key] = exc
    if cannot and len(cannot) == len(sources):
        raise next(iter(cannot.values()))
    skipped = {k for k, fr in enumerate(frames) if id(fr.source) in cannot}

    direct = [k for k, fr in enumerate(frames) if k not in skipped and _direct_ok(fr, plan)]
    direct_set = set(direct) | skipped
    rest = [k for k in range(len(frames)) if k not in direct_set]

    def fail(k: int, reason: str) -> None:
        out[k] = plan.fill
        on_error(k, reason)

    for k in sorted(skipped):  # the caller names the file
        syntax = cannot[id(frames[k].source)].syntax
        hint = install_hint(frames[k].transfer_syntax)
        fail(k, f"cannot decode transfer syntax {syntax}; {hint}")

    # 1. direct reads, in threads
    if direct:
        to_file = file is not None and hasattr(os, "pwrite")
        slot_bytes = out[0].nbytes

        def run_direct(ks: list[int]) -> None:
            fp = None
            src = None
            # into a file: up to _GROUP consecutive frames gathered in a buffer, one pwrite
            buf = np.empty((_GROUP, *out.shape[1:]), out.dtype) if to_file else None
            held: list[int] = []  # the frames in buf, consecutive

            def flush() -> None:  # an error here is the output's: it propagates
                if held and buf is not None and file is not None:
                    view = memoryview(buf[: len(held)]).cast("B")  # type: ignore[arg-type]
                    _pwrite_all(file[0], view, file[1] + held[0] * slot_bytes)
                held.clear()

            def bad(k: int, slot: np.ndarray, reason: str) -> None:
                if buf is None:
                    fail(k, reason)
                else:
                    slot[...] = plan.fill
                    on_error(k, reason)
                    held.append(k)

            try:
                for k in ks:
                    if held and (k != held[-1] + 1 or len(held) == _GROUP):
                        flush()
                    slot = out[k] if buf is None else buf[len(held)]
                    fr = frames[k]
                    if fr.source is not src:
                        if fp is not None:
                            fp.close()
                        src = fr.source
                        try:
                            fp = src.open()
                        except OSError as exc:
                            fp = None
                            bad(k, slot, f"cannot read: {exc.strerror or exc}")
                            continue
                    if fp is None:
                        bad(k, slot, "cannot read")
                        continue
                    try:
                        _store_direct(slot, fr, plan, fp)
                    except (OSError, ValueError) as exc:
                        bad(k, slot, str(exc))
                        continue
                    if buf is not None:
                        held.append(k)
                flush()
            finally:
                if fp is not None:
                    fp.close()

        # contiguous runs per thread: sequential reads, and consecutive slots to write together
        n = len(direct)
        chunks = [direct[i * n // workers : (i + 1) * n // workers] for i in range(workers)]
        chunks = [c for c in chunks if c]
        if len(chunks) == 1:
            run_direct(chunks[0])
        else:
            with ThreadPoolExecutor(len(chunks)) as tpool:
                for tfut in [tpool.submit(run_direct, c) for c in chunks]:
                    tfut.result()

    if not rest:
        return

    # 2. everything else through pydicom, in processes where the bytes are reachable from one
    rest_frames = [frames[k] for k in rest]
    groups = [[rest[i] for i in g] for g in _groups(len(rest_frames), 8)]
    in_memory = any(frames[g[0]].source.dataset is not None for g in groups)
    cheap = all(_native_ok(frames[g[0]]) for g in groups)

    def take(g: list[int], results: list[np.ndarray | str]) -> None:
        for k, res in zip(g, results, strict=True):
            if isinstance(res, str):
                fail(k, res)
                continue
            try:
                _store(out[k], res, frames[k], plan)
            except _Overflow:
                raise
            except ValueError as exc:
                fail(k, str(exc))

    if workers == 1 or len(groups) == 1 or in_memory or cheap:
        for g in groups:
            take(g, _decode_task([frames[k] for k in g]))
        return
    ctx = _mp_context()
    if ctx.get_start_method() == "fork" and _is_shared(out):
        _decode_in_workers(out, frames, plan, rest, workers, ctx, fail)
        return
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        pending: list[tuple[list[int], Future[list[np.ndarray | str]]]] = []
        it = iter(groups)
        limit = 2 * workers
        for g in it:
            pending.append((g, pool.submit(_decode_task, [frames[k] for k in g])))
            if len(pending) >= limit:
                g0, fut = pending.pop(0)
                take(g0, fut.result())
        for g0, fut in pending:
            take(g0, fut.result())
