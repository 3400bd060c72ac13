"""Voxels on the wire: the preview level, byte shuffling and gzip.

Why shuffle: CT and MR voxels are 16-bit numbers whose high bytes are nearly constant (a few
values around 0x00, 0x03, 0xFC for HU) and whose low bytes are noisy. Interleaved, deflate sees
every other byte change and finds few repeats; sent as all low bytes and then all high bytes
(the HDF5/Blosc "shuffle" filter), the high-byte half compresses to almost nothing. The page
un-shuffles in JavaScript with two typed-array passes. float32 volumes are shuffled in four
planes the same way; 1-byte data goes as it is.

Why gzip: it is the one compression every browser undoes natively (``Content-Encoding:
gzip``), in its network thread, while the bytes arrive, with no JavaScript decoder to ship.
The stream is produced chunk by chunk in a worker thread, so the first bytes leave long before
the whole volume is compressed.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "CHUNK",
    "GZIP_LEVEL",
    "downsample2",
    "encoded_chunks",
    "encoding_of",
    "level_affine",
    "preview_shape",
]

CHUNK = 1 << 20  # bytes of shuffled voxels per piece (compressed on its own, in parallel)
GZIP_LEVEL = 1  # measured in docs/SERVE.md: level 6 saves ~4% more bytes at ~3x the CPU


def encoding_of(dtype: np.dtype) -> str:
    """The ``X-Ownscan-Encoding`` of voxels of this dtype: ``raw``, ``shuffle16`` or
    ``shuffle32``."""
    size = np.dtype(dtype).itemsize
    return {1: "raw", 2: "shuffle16", 4: "shuffle32"}[size]


def _planes(voxels: npt.NDArray[np.generic], chunk: int) -> Iterator[bytes | memoryview]:
    """The voxels in C order, little endian, byte-shuffled, in pieces of about ``chunk``."""
    flat = np.ascontiguousarray(voxels).reshape(-1)
    flat = flat.astype(flat.dtype.newbyteorder("<"), copy=False)  # no copy on little endian
    dt = flat.dtype
    raw = flat.view(np.uint8)
    size = dt.itemsize
    if size == 1:
        view = memoryview(raw.data)
        for start in range(0, len(raw), chunk):
            yield view[start : start + chunk]
        return
    bytes_ = raw.reshape(-1, size)
    n = bytes_.shape[0]
    for plane in range(size):  # plane 0: the lowest byte of every voxel
        column = bytes_[:, plane]
        for start in range(0, n, chunk):
            yield np.ascontiguousarray(column[start : start + chunk]).tobytes()


def encoded_chunks(
    voxels: npt.NDArray[np.generic],
    level: int = GZIP_LEVEL,
    chunk: int = CHUNK,
    workers: int | None = None,
) -> Iterator[bytes]:
    """The gzip stream (RFC 1952) of the shuffled voxels, piece by piece, in order.

    The pieces are compressed in parallel the way pigz does it: each piece is a raw deflate
    stream of its own, ended by a sync flush (an empty stored block, so the next piece starts
    on a byte boundary) and the last by the final block; one after the other they are one valid
    deflate stream, framed by the gzip header and the trailer (CRC-32 and size of the whole).
    zlib releases the GIL while it compresses, so threads use the cores. Pieces of 1 MiB lose
    less than 0.1% of the ratio to the lost history between them.

    Parameters
    ----------
    voxels
        Any array; sent in C order.
    level
        zlib compression level.
    chunk
        Voxel bytes per piece.
    workers
        Threads compressing at once (default: the usable cores, at most 8).
    """
    from concurrent.futures import Future, ThreadPoolExecutor

    n_workers = workers or max(1, min(8, len(_usable_cpus())))
    # gzip header: magic, deflate, no flags, no mtime, no extra flags, OS unknown (255)
    yield b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    crc = 0
    size = 0
    pieces = _planes(voxels, chunk)

    def deflate(data: bytes | memoryview, last: bool) -> bytes:
        comp = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS, 9)
        return comp.compress(data) + comp.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)

    with ThreadPoolExecutor(n_workers, thread_name_prefix="ownscan-gzip") as pool:
        pending: list[Future[bytes]] = []
        current = next(pieces, None)
        if current is None:
            pending.append(pool.submit(deflate, b"", True))
        while current is not None:
            following = next(pieces, None)
            crc = zlib.crc32(current, crc)
            size += len(current)
            pending.append(pool.submit(deflate, current, following is None))
            current = following
            while len(pending) > 2 * n_workers:  # bounded memory: a few pieces in flight
                yield pending.pop(0).result()
        for fut in pending:
            yield fut.result()
    yield struct.pack("<II", crc & 0xFFFFFFFF, size & 0xFFFFFFFF)


def _usable_cpus() -> set[int]:
    import os

    try:
        return os.sched_getaffinity(0)
    except AttributeError:  # not on Linux
        return set(range(os.cpu_count() or 1))


def downsample2(voxels: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
    """The preview level: the mean of each 2x2x2 block, in the same dtype (integers rounded
    half to even, as ``np.rint``).

    An axis of odd length loses its last plane (so every preview voxel is the mean of whole
    blocks and :func:`level_affine` places it exactly); an axis of length 1 is kept as is.
    Slabs of slices are summed in threads (numpy releases the GIL): pairs along z, then y, then
    x, each a contiguous add, which is several times faster than one reshape-and-sum.
    """
    from concurrent.futures import ThreadPoolExecutor

    v = voxels
    fz, fy, fx = (2 if n >= 2 else 1 for n in v.shape[:3])
    z, y, x = v.shape[0] // fz, v.shape[1] // fy, v.shape[2] // fx
    out = np.empty((z, y, x, *v.shape[3:]), dtype=v.dtype)
    # sums of at most 8 values: int32 holds them, and float32 holds them exactly (< 2**24 for
    # 16-bit data), so the mean (a division by a power of two) is exact before rounding
    acc = np.float64 if v.dtype.itemsize > 2 or v.dtype == np.float32 else np.int32
    scale = 1.0 / (fz * fy * fx)

    def slab(k0: int, k1: int) -> None:
        s: npt.NDArray[Any] = v[k0 * fz : k1 * fz : fz, : y * fy, : x * fx].astype(acc)
        if fz == 2:
            s += v[k0 * fz + 1 : k1 * fz : 2, : y * fy, : x * fx]
        if fy == 2:
            s = s[:, 0::2] + s[:, 1::2]
        if fx == 2:
            s = s[:, :, 0::2] + s[:, :, 1::2]
        mean: npt.NDArray[Any] = s.astype(np.float64 if acc is np.float64 else np.float32)
        mean *= scale
        if np.issubdtype(v.dtype, np.integer):
            np.rint(mean, out=mean)
        out[k0:k1] = mean.astype(v.dtype)

    step = 8  # output slices per slab: small temporaries, many slabs to share out
    with ThreadPoolExecutor(max(1, min(8, len(_usable_cpus())))) as pool:
        for f in [pool.submit(slab, k, min(z, k + step)) for k in range(0, z, step)]:
            f.result()
    return out


def preview_shape(shape: tuple[int, ...]) -> list[int]:
    """The shape :func:`downsample2` gives for voxels of ``shape``."""
    return [n // 2 if n >= 2 else n for n in shape[:3]] + list(shape[3:])


def level_affine(
    affine: npt.NDArray[np.float64], shape: tuple[int, ...]
) -> npt.NDArray[np.float64]:
    """The voxel -> LPS matrix of the preview of a volume of ``shape`` ``(z, y, x, ...)``.

    Preview voxel ``i'`` is the mean of full voxels ``2 i'`` and ``2 i' + 1``: its centre is at
    full index ``2 i' + 0.5`` (on axes that were halved).
    """
    fi, fj, fk = (2.0 if n >= 2 else 1.0 for n in (shape[2], shape[1], shape[0]))
    scale = np.array(
        [
            [fi, 0.0, 0.0, (fi - 1.0) / 2.0],
            [0.0, fj, 0.0, (fj - 1.0) / 2.0],
            [0.0, 0.0, fk, (fk - 1.0) / 2.0],
            [0.0, 0.0, 0.0, 1.0],
        ]
    )
    return np.asarray(affine, dtype=np.float64) @ scale
