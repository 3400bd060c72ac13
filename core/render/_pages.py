"""Voxels that live in a file instead of anonymous memory, and giving their pages back.

``ownscan render`` draws a volume it needs only while the textures are written. Held in
anonymous memory, the host volume and its texture (which llvmpipe, a software GPU, keeps in
host memory too) would both count for the whole run. Loaded into an unnamed scratch file on
disk instead (:func:`scratch_voxel_file`, :meth:`ownscan.core.assembly.Series.load` with
``out``), the voxels are a read-only shared mapping of that file: every whole-volume pass of
the render path (value range, block bounds, quantised slabs for the upload, the automatic
window) calls :func:`release_pages` behind itself, which drops the pages it read from the
process (``madvise(MADV_DONTNEED)``). The bytes stay in the file, so reading them again gives
the same numbers (the kernel fetches them from its page cache or the disk); what the kernel
keeps cached is clean and can be reclaimed under memory pressure, which anonymous memory
cannot without swap.

A whole-volume copy derived from such a volume (the quantised copy the viewer keeps for its
upload) goes to a scratch file of its own (:func:`scratch_like`) and lets its pages go as it is
written: dropping written pages of a *shared* file mapping keeps what was written (it is in
the file's page cache, written back to the disk by the kernel), only the process's mapping of
them goes. A slab-sized result stays in memory.

Only mappings registered here (made by :func:`map_scratch`) are ever released: dropping the
pages of anonymous or private memory would lose data.

Better than letting pages go is never mapping them: a mapping registered with its file's
descriptor (as :func:`load_file_backed` and :func:`scratch_like` do) is read by the passes
with :func:`read_copy`, ``preadv`` from the file into a buffer of the process, so none of its
pages is mapped even while a slab is being read (the slabs in flight and the page-cache
folios around them were 20-22 MiB of a 512x512x300 CT during its upload).
"""

from __future__ import annotations

import mmap
import os
import tempfile
import threading
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from ownscan.core.assembly import Series
    from ownscan.core.volume import Volume

__all__ = [
    "is_released",
    "load_file_backed",
    "on_disk",
    "read_copy",
    "read_copy_done",
    "register_mapping",
    "release_pages",
    "scratch_file",
    "scratch_like",
]

# read-only views of file mappings that release_pages may drop (shared, file-backed: the
# bytes are in the file)
_FILE_MAPPINGS: weakref.WeakSet[mmap.mmap] = weakref.WeakSet()
# a descriptor of the file under such a mapping (mapped from its byte 0), where the
# registering caller gave one: read_copy reads through it, mapping nothing
_FILE_DESCRIPTORS: weakref.WeakKeyDictionary[mmap.mmap, int] = weakref.WeakKeyDictionary()
_BUFFERS = threading.local()  # read_copy's reused buffer, one per thread
_PAGE = mmap.PAGESIZE
_MEMORY_FILESYSTEMS = {"tmpfs", "ramfs", "hugetlbfs", "devtmpfs"}


def on_disk(folder: str | os.PathLike[str]) -> bool:
    """Whether ``folder`` is on a file system whose clean pages the kernel can drop (not
    tmpfs or ramfs, which live in memory). False where ``/proc/self/mountinfo`` is missing."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return False
    target = os.path.realpath(folder)
    best, fstype = "", ""
    for line in lines:
        left, _, right = line.partition(" - ")
        fields = left.split()
        if len(fields) < 5 or not right:
            continue
        point = fields[4].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, fstype = point, right.split()[0]
    return bool(best) and fstype not in _MEMORY_FILESYSTEMS


def scratch_file() -> int | None:
    """An unnamed temporary file on disk for a volume's voxels (deleted when closed and
    unmapped), or None when the temporary folder is in memory (tmpfs) or unwritable: the
    volume is then better held in anonymous memory."""
    folder = tempfile.gettempdir()
    if not on_disk(folder):
        return None
    try:
        with tempfile.TemporaryFile(dir=folder) as f:  # O_TMPFILE where there is one
            return os.dup(f.fileno())  # the caller closes it; a mapping keeps its own
    except OSError:
        return None


def _mapping_of(array: npt.NDArray[Any]) -> mmap.mmap | None:
    base: object = array
    while isinstance(base, np.ndarray):
        base = base.base
    if isinstance(base, memoryview):
        base = base.obj
    return base if isinstance(base, mmap.mmap) else None


def register_mapping(array: npt.NDArray[Any], fd: int | None = None) -> bool:
    """Allow :func:`release_pages` on ``array`` (and its views): only for an array that is a
    shared mapping of a file on disk (``Series.load(out=VoxelFile(...))`` into
    :func:`scratch_file`), mapped from the file's first byte. With ``fd``, that file's
    descriptor (a duplicate is kept for as long as the mapping lives): :func:`read_copy`
    then reads the array's bytes through it instead of the mapping. True when it is such a
    mapping."""
    mm = _mapping_of(array)
    if mm is None:
        return False
    _FILE_MAPPINGS.add(mm)
    if fd is not None and mm not in _FILE_DESCRIPTORS:
        own = os.dup(fd)
        _FILE_DESCRIPTORS[mm] = own
        weakref.finalize(mm, os.close, own)
    return True


def read_copy(array: npt.NDArray[Any], reuse: bool = False) -> npt.NDArray[Any]:
    """``array``'s numbers, read from its file with ``preadv`` into an array of this
    process when it is a C-contiguous view of a registered file mapping with a descriptor
    (:func:`register_mapping`): the file's pages are never mapped into the process, so they
    never count in its resident memory (a read through the mapping maps the page-cache
    folios around what it reads, until :func:`release_pages`, and a neighbour's read may
    map them again). Anything else is returned as it is (a view: the same numbers).

    With ``reuse``, the copy is made in a buffer of the calling thread that its next
    ``reuse`` read overwrites (no fresh memory, and no page faults, per slab): for a caller
    done with it before then."""
    mm = _mapping_of(array)
    fd = None if mm is None else _FILE_DESCRIPTORS.get(mm)
    if fd is None or mm is None or not array.flags.c_contiguous or array.size == 0:
        return array
    base = np.frombuffer(mm, np.uint8, count=1).__array_interface__["data"][0]
    offset = array.__array_interface__["data"][0] - base
    if reuse:
        held = getattr(_BUFFERS, "bytes", None)
        if held is None or len(held) < array.nbytes:
            # a mapping of its own, not the heap: given back to the system whole when the
            # thread ends or lets go of it (a heap block of a worker's arena stays resident)
            held = _BUFFERS.bytes = np.frombuffer(mmap.mmap(-1, array.nbytes), np.uint8)
        out = held[: array.nbytes].view(array.dtype).reshape(array.shape)
    else:
        out = np.empty(array.shape, dtype=array.dtype)
    view = out.reshape(-1).view(np.uint8).data  # a writable memoryview of its bytes
    while view:  # a read may stop short (a signal, a huge request): go on from there
        n = os.preadv(fd, [view], offset)
        if n <= 0:
            raise OSError(f"the scratch file of the voxels ended {len(view)} bytes early")
        view, offset = view[n:], offset + n
    return out


def release_pages(array: npt.NDArray[Any]) -> None:
    """Drop the process's pages of the bytes ``array`` spans, when it is a view of a
    registered file mapping (see :func:`register_mapping`); else nothing. The data are
    unchanged: the next read fetches them from the file."""
    mm = _mapping_of(array)
    if mm is None or mm not in _FILE_MAPPINGS or array.size == 0:
        return
    lo = hi = array.__array_interface__["data"][0]
    for n, stride in zip(array.shape, array.strides, strict=True):  # numpy's byte_bounds
        if stride < 0:
            lo += (n - 1) * stride
        else:
            hi += (n - 1) * stride
    hi += array.itemsize
    start = lo - np.frombuffer(mm, np.uint8, count=1).__array_interface__["data"][0]
    first = start - start % _PAGE  # madvise wants a page-aligned start
    mm.madvise(mmap.MADV_DONTNEED, first, min(len(mm), start + (hi - lo)) - first)


def read_copy_done() -> None:
    """Let go of the calling thread's :func:`read_copy` buffer (a slab's bytes, held for its
    next ``reuse`` read): for a thread that reads no more slabs for now. A pool's threads
    let go of theirs as they end."""
    _BUFFERS.bytes = None


def is_released(array: npt.NDArray[Any]) -> bool:
    """Whether :func:`release_pages` can drop ``array``'s pages (a view of a registered file
    mapping)."""
    mm = _mapping_of(array)
    return mm is not None and mm in _FILE_MAPPINGS


def scratch_like(
    source: npt.NDArray[Any], shape: tuple[int, ...], dtype: npt.DTypeLike
) -> npt.NDArray[Any]:
    """An array of ``shape`` and ``dtype`` for a whole-volume result made from ``source``: in
    a new :func:`scratch_file`, registered for :func:`release_pages`, when ``source`` is such
    a file-backed array (so that a derived copy, e.g. the quantised volume the viewer keeps
    for its upload, can let its pages go behind the pass that writes it, as its source
    does); otherwise (or without a scratch file, or on a full disk) ``np.empty`` in memory.
    Its contents are undefined (zeros in a file) until written."""
    if not is_released(source):
        return np.empty(shape, dtype=dtype)
    from ownscan.core import _pixels

    fd = scratch_file()
    if fd is None:
        return np.empty(shape, dtype=dtype)
    try:
        plan = _pixels.DecodePlan(np.dtype(dtype), tuple(shape), False, False, 0)
        out = _pixels.map_file(fd, 0, plan)
        register_mapping(out, fd)
    except OSError:  # no room on the disk: memory
        return np.empty(shape, dtype=dtype)
    finally:
        os.close(fd)  # the mapping keeps the (unnamed) file
    return out


def load_file_backed(series: Series, volume: int = 0) -> Volume:
    """Volume ``volume`` of ``series``, its voxels decoded into a :func:`scratch_file` and
    registered for :func:`release_pages`; in memory as :meth:`Series.load` does when there is
    no such file (tmpfs) or it cannot be written (a full disk)."""
    from ownscan.core.assembly import VoxelFile

    fd = scratch_file()
    if fd is not None:
        try:
            loaded = series.load(volume=volume, out=VoxelFile(fd, 0))
            if register_mapping(loaded.voxels, fd):
                release_pages(loaded.voxels)  # what decoding through the mapping touched
        except OSError:  # no room on the disk: memory, as without a scratch file
            loaded = None
        finally:
            os.close(fd)  # the mapping keeps the (unnamed) file
        if loaded is not None:
            return loaded
    return series.load(volume=volume)
