"""The maths both renderers share: volume preparation, rays, sampling grid, per-frame constants.

About the ray-casting geometry
------------------------------
Each pixel centre gives a point on the *focal plane*, the plane through the centre of the
volume that faces the camera. An orthographic ray runs through it along ``-back``; a perspective
ray runs from the eye (on the ``back`` axis, at the distance where the vertical field of view
spans the image) through it. Rays are parametrised by ``t`` in millimetres (``dir_lps`` is a unit
vector) and carried into texture space (``tex = ((affine^-1 @ p_lps) + 0.5) / dims``, so the
voxel ``(i, j, k)`` is the texel centre and the volume's outer faces are 0 and 1) by one 4x4
matrix. There the ray is clipped against the clipping box (the slab method) and sampled at
``t_n = t_entry + (n + 1/2) * step_mm`` while ``t_n < t_exit``: the GLSL skeleton and the array
renderer use these very formulas, so their pictures agree to a level or two.

The pixel size is square in millimetres, so anisotropic voxels keep their physical proportions,
and an oblique volume is drawn where its direction cosines put it.
"""

from __future__ import annotations

import math
import os
import threading
import warnings
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from ownscan.core.errors import UsageError
from ownscan.core.render._camera import Camera
from ownscan.core.render._gradient import SHADE_GAIN as SHADE_GAIN
from ownscan.core.render._gradient import GradientLayout, sobel_texels
from ownscan.core.render._pages import (
    is_released,
    read_copy,
    read_copy_done,
    release_pages,
    scratch_like,
)
from ownscan.core.render._scene import RenderNote, Scene, SkipRule
from ownscan.core.volume import Volume

__all__ = [
    "BRICK",
    "RUNNING_BRICK",
    "Frame",
    "PreparedVolume",
    "downsample_factors",
    "downsampled",
    "each_slab",
    "frame_for",
    "gradient_layout",
    "gradient_slabs",
    "normalised_bounds",
    "plane_offsets_mm",
    "pooled_bounds",
    "prepare_volume",
    "skip_distance",
    "step_lut",
    "view_pixel_mm",
]

BRICK = 4  # voxels per side of an empty-space-skipping brick
# Voxels per side of a MIP / MinIP bound brick (a multiple of BRICK): the running-bound skip
# looks at one brick where the ray enters it and then takes its samples in a bare loop, so
# larger bricks pay less per sample (measured on llvmpipe: 16 beats 4 and 8; docs/BENCH.md).
RUNNING_BRICK = 16
# Shading constants (ambient, diffuse, specular, shininess); the same in GLSL and in the
# arrays. How strong a gradient must be to be shaded fully, SHADE_GAIN, is _gradient's (its
# texels' byte steps are made for it).
SHADE = (0.35, 0.65, 0.25, 24.0)


SLAB_VOXELS = 1 << 20  # voxels per slab of slices: bounds every whole-volume pass's temporaries


def slab_slices(shape: tuple[int, ...]) -> int:
    """Slices per slab of a volume of ``shape`` ``(nz, ny, nx, ...)``: about
    :data:`SLAB_VOXELS` voxels, at least one slice."""
    return max(1, SLAB_VOXELS // max(1, int(shape[1]) * int(shape[2])))


# Threads for the whole-volume passes of prepare_volume and the gradient (numpy lets go of
# the GIL in its loops), one CPU left to the calling thread (it writes the slabs into the
# GL's textures meanwhile) and the rest of the machine; 0: all on the calling thread. (The
# calling thread writes only a tenth of the time: one worker per CPU may serve a quiet 2-core
# machine better; not measurable under this project's shared load, where two workers were
# slower: docs/BENCH.md.)
WORKERS = max(1, min(4, (os.cpu_count() or 2) - 1))


def _quantise_chunk(
    chunk: npt.NDArray[Any], vmin: float, scale: float, out: npt.NDArray[np.uint16]
) -> None:
    """``out = rint((chunk - vmin) * scale)`` clipped to 0..65535, in float32: the one
    quantisation maths. Monotone (never decreasing) in the value, each float32 step rounding
    to nearest, so it commutes with min and max: the quantised bound of a block is the bound
    of its voxels, quantised (what :func:`prepare_volume` relies on)."""
    f = chunk.astype(np.float32)
    np.subtract(f, vmin, out=f)  # in place, the same float32 maths
    np.multiply(f, scale, out=f)
    np.rint(f, out=f)
    np.clip(f, 0, 65535, out=f)
    np.copyto(out, f, casting="unsafe")


def _quantise(voxels: npt.NDArray[Any], vmin: float, scale: float) -> npt.NDArray[np.uint16]:
    """:func:`_quantise_chunk` of ``voxels``, a slab at a time (no float copy of the whole
    volume; a file-backed volume's pages let go behind the pass)."""
    return _quantise_into(voxels, vmin, scale, np.empty(voxels.shape, dtype=np.uint16))


def _quantise_into(
    voxels: npt.NDArray[Any], vmin: float, scale: float, out: npt.NDArray[np.uint16]
) -> npt.NDArray[np.uint16]:
    """:func:`_quantise` into ``out``; a file-backed ``out``'s pages are let go behind the
    pass too (written: in its file, not in this process)."""
    step = slab_slices(voxels.shape)
    for k0 in range(0, voxels.shape[0], step):
        # a file-backed volume is read from its file, not through its mapping (read_copy)
        _quantise_chunk(read_copy(voxels[k0 : k0 + step], True), vmin, scale, out[k0 : k0 + step])
        release_pages(voxels[k0 : k0 + step])  # a file-backed volume: read, then let go
        release_pages(out[k0 : k0 + step])
    return out


@dataclass
class PreparedVolume:
    """The voxels as the renderers sample them: uint16, ``0..65535`` spanning the value range.

    Both renderers read ``q / 65535`` with trilinear interpolation, so they sample identical
    numbers. ``volume`` is the one that was prepared (downsampled if it had to be).

    The whole quantised copy (:attr:`data`) is made on first use and kept: the array renderer
    samples it. The GL renderer does not need it: it uploads :meth:`slab` after slab (each
    quantised from ``volume`` when :attr:`data` was never made), so the host holds no second
    copy of the volume.
    """

    volume: Volume
    value_min: float
    value_max: float
    # per BRICK^3 block, dilated by one block, the smallest and largest quantised voxel: in
    # the R16 texels' own units (half the bytes of float32; block_min / block_max normalise)
    block_lo: npt.NDArray[np.uint16]
    block_hi: npt.NDArray[np.uint16]
    notes: list[str]
    # the last skip tables made by frame_for: (key, occupancy, distance)
    last_skip: tuple[Any, ...] | None = field(default=None, repr=False)
    _data: npt.NDArray[np.uint16] | None = field(default=None, repr=False)

    @property
    def block_min(self) -> npt.NDArray[np.float32]:
        """The smallest normalised value per BRICK^3 block widened by one voxel (``0..1``, as
        the renderers sample ``q / 65535``): a new float32 array made from
        :attr:`block_lo` on each use."""
        return normalised_bounds(self.block_lo)

    @property
    def block_max(self) -> npt.NDArray[np.float32]:
        """The largest normalised value per block, as :attr:`block_min`."""
        return normalised_bounds(self.block_hi)

    @property
    def scale(self) -> float:
        """Quantisation steps per volume unit: ``q = rint((v - value_min) * scale)``."""
        return 65535.0 / (self.value_max - self.value_min)

    @property
    def data(self) -> npt.NDArray[np.uint16]:
        """The whole quantised volume ``(nz, ny, nx)``, made on first use and kept."""
        if self._data is None:
            vox = self.volume.voxels
            if is_released(vox):  # file-backed: so is the copy, its pages let go as written
                out = scratch_like(vox, vox.shape, np.uint16)
                self._data = _quantise_into(vox, self.value_min, self.scale, out)
                read_copy_done()  # the slab buffer of this thread (the viewer's loader)
            else:
                self._data = _quantise(vox, self.value_min, self.scale)
        return self._data

    @property
    def materialised(self) -> bool:
        """Whether :attr:`data` was made (and is kept)."""
        return self._data is not None

    def release_data(self) -> None:
        """Forget :attr:`data` (made again on next use): for a holder that has uploaded it
        and samples the GPU's copy (the viewer after its upload)."""
        self._data = None

    def release_data_pages(self) -> None:
        """Let go of the process's pages of :attr:`data` where it is held and file-backed
        (:func:`~ownscan.core.render._pages.release_pages`); never makes it. (Reading
        :attr:`data` to let its pages go would quantise the whole volume again, into a new
        scratch file, once :meth:`release_data` has forgotten it.)"""
        data = self._data  # read once: another thread may release it meanwhile
        if data is not None:
            release_pages(data)

    def slab(self, k0: int, k1: int) -> npt.NDArray[np.uint16]:
        """Quantised slices ``k0 .. k1 - 1``: a view of :attr:`data` when it exists, else
        quantised from the volume (the same numbers)."""
        data = self._data  # read once: another thread may release it meanwhile
        if data is not None:
            return read_copy(data[k0:k1])  # file-backed: read from the file, mapping nothing
        return _quantise(read_copy(self.volume.voxels[k0:k1], True), self.value_min, self.scale)

    def box(
        self, first: tuple[int, int, int], size: tuple[int, int, int]
    ) -> npt.NDArray[np.uint16]:
        """Quantised voxels ``first`` .. ``first + size - 1`` along ``(i, j, k)``, as ``(nk, nj,
        ni)``: cut from :attr:`data` when it exists, else quantised from the volume (the same
        numbers)."""
        (i0, j0, k0), (ni, nj, nk) = first, size
        cut = (slice(k0, k0 + nk), slice(j0, j0 + nj), slice(i0, i0 + ni))
        data = self._data
        if data is not None:
            return np.ascontiguousarray(data[cut])
        return _quantise(self.volume.voxels[cut], self.value_min, self.scale)

    @property
    def dims(self) -> tuple[int, int, int]:
        """``(nx, ny, nz)``: the sizes along ``i``, ``j``, ``k``."""
        z, y, x = self.volume.shape
        return (x, y, z)

    def normalise(self, value: float) -> float:
        """A value in volume units as the renderers see it (0..1 over the value range)."""
        return (value - self.value_min) / (self.value_max - self.value_min)

    def window(self, width: float, level: float) -> tuple[float, float]:
        """The grey ramp ``level -+ width / 2`` normalised: the one window maths of the ray
        casters and the viewer's 2D views (``window_level`` in shaders/common.glsl)."""
        return (
            float(self.normalise(level - width / 2.0)),
            float(self.normalise(level + width / 2.0)),
        )


def _downsampled(volume: Volume, factors: tuple[int, int, int]) -> Volume:
    """Average ``factors`` = ``(fi, fj, fk)`` voxel blocks; geometry adjusted exactly.

    The last block along an axis may be partial: it is completed by repeating the edge voxels,
    so nothing of the volume is cut off. Colour samples (a trailing axis) are averaged each.
    """
    fi, fj, fk = factors
    z, y, x = volume.voxels.shape[:3]
    channels = volume.voxels.shape[3:]
    nz, ny, nx = -(-z // fk), -(-y // fj), -(-x // fi)
    pad = ((0, nz * fk - z), (0, ny * fj - y), (0, nx * fi - x), *((0, 0) for _ in channels))
    v = np.pad(volume.voxels, pad, mode="edge") if any(p[1] for p in pad) else volume.voxels
    acc = np.zeros((nz, ny, nx, *channels), dtype=np.float32)
    for dk in range(fk):
        for dj in range(fj):
            for di in range(fi):
                acc += v[dk : nz * fk : fk, dj : ny * fj : fj, di : nx * fi : fi]
    acc /= fi * fj * fk
    # the new voxel (0, 0, 0) is the centre of the old block of voxels 0..f-1
    origin = volume.index_to_lps([(fi - 1) / 2.0, (fj - 1) / 2.0, (fk - 1) / 2.0])
    sx, sy, sz = volume.spacing
    return Volume(
        voxels=acc,
        spacing=(sx * fi, sy * fj, sz * fk),
        origin=tuple(float(o) for o in origin),  # type: ignore[arg-type]
        direction=volume.direction,
        modality=volume.modality,
        units=volume.units,
        windows=volume.windows,
        info=volume.info,
        warnings=[*volume.warnings],
        invert=volume.invert,
    )


def _reduce_blocks(a: npt.NDArray[Any], op: Any, axis: int, size: int = BRICK) -> npt.NDArray[Any]:
    """``op`` over consecutive runs of ``size`` along ``axis`` (the last run may be shorter),
    as ``op.reduceat`` but as ``size`` whole-array passes over strided slices (much
    faster)."""
    n = a.shape[axis]
    first: list[Any] = [slice(None)] * a.ndim
    first[axis] = slice(0, n, size)
    r = a[tuple(first)].copy()
    for off in range(1, size):
        src: list[Any] = [slice(None)] * a.ndim
        src[axis] = slice(off, n, size)
        dst: list[Any] = [slice(None)] * a.ndim
        dst[axis] = slice(0, len(range(off, n, size)))
        op(r[tuple(dst)], a[tuple(src)], out=r[tuple(dst)])
    return r


def _widened_reduce(a: npt.NDArray[np.uint16], op: Any, axes: tuple[int, ...]) -> Any:
    """``op`` over BRICK-runs widened by one voxel on each side, along each of ``axes``."""
    for axis in axes:
        n = a.shape[axis]
        nb = -(-n // BRICK)
        r = _reduce_blocks(a, op, axis)
        if nb > 1:
            cut: list[Any] = [slice(None)] * a.ndim
            cut[axis] = slice(1, None)
            prev: list[Any] = [slice(None)] * a.ndim
            prev[axis] = slice(BRICK - 1, BRICK * (nb - 1), BRICK)  # voxel before block b
            op(r[tuple(cut)], a[tuple(prev)], out=r[tuple(cut)])
            cut[axis] = slice(None, -1)
            nxt: list[Any] = [slice(None)] * a.ndim
            nxt[axis] = slice(BRICK, BRICK * (nb - 1) + 1, BRICK)  # voxel after block b
            op(r[tuple(cut)], a[tuple(nxt)], out=r[tuple(cut)])
        a = r
    return a


def _block_minmax_slabs(
    shape: tuple[int, int, int], slab: Any
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Min and max per BRICK^3 block, normalised to 0..1, over the block widened by one voxel
    on every side (trilinear sampling inside a block reads one voxel beyond it), of the
    quantised volume of ``shape`` whose slices ``k0 .. k1 - 1`` ``slab(k0, k1)`` gives.

    The box is separable: each slab is reduced along ``i`` and ``j`` (each pass shrinking it by
    BRICK), then the per-slice results, 1/16 of the volume, along ``k``. Per axis: the block's
    own voxels (:func:`_reduce_blocks`), then the voxel just before it and the one just after
    it where the volume has them. Min and max commute, so the order of the axes changes
    nothing."""
    nz, ny, nx = shape
    nby, nbx = -(-ny // BRICK), -(-nx // BRICK)
    lo = np.empty((nz, nby, nbx), dtype=np.uint16)
    hi = np.empty((nz, nby, nbx), dtype=np.uint16)
    step = slab_slices(shape)
    for k0 in range(0, nz, step):
        q = slab(k0, min(nz, k0 + step))
        lo[k0 : k0 + len(q)] = _widened_reduce(q, np.minimum, (1, 2))
        hi[k0 : k0 + len(q)] = _widened_reduce(q, np.maximum, (1, 2))
        del q
    scale = np.float32(65535.0)
    return (
        _widened_reduce(lo, np.minimum, (0,)).astype(np.float32) / scale,
        _widened_reduce(hi, np.maximum, (0,)).astype(np.float32) / scale,
    )


def _bounds_pass(
    voxels: npt.NDArray[Any],
    pool: ThreadPoolExecutor | None,
    meanwhile: Callable[[], None] | None = None,
) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """The first pass over ``voxels``: per slab of whole blocks along ``k`` the min and max
    per BRICK^3 block widened by one voxel (:func:`_slab_bounds`, in the voxels' own type),
    every slab on ``pool`` at once (inline without one), a file-backed volume's pages let go
    behind it. ``meanwhile()`` runs on the calling thread as the pool works (the GL's
    texture storage: see :func:`prepare_volume`); without a pool, before the pass. The
    smallest and the largest voxel are the tables' (every voxel is in a block): no pass of
    its own for the value range."""
    nz, ny, nx = voxels.shape[:3]
    lo = np.empty(tuple(-(-n // BRICK) for n in (nz, ny, nx)), dtype=voxels.dtype)
    hi = np.empty_like(lo)
    step = -(-slab_slices((nz, ny, nx)) // BRICK) * BRICK  # whole blocks along k

    def work(k0: int) -> None:
        k1 = min(nz, k0 + step)
        b = slice(k0 // BRICK, k0 // BRICK + -(-(k1 - k0) // BRICK))
        # the slab with the slice on each side of it, a file-backed volume's read from its
        # file (read_copy: none of its pages mapped); the same slices as a view otherwise
        h0, h1 = max(0, k0 - 1), min(nz, k1 + 1)
        v = read_copy(voxels[h0:h1], True)  # done with before this thread's next read
        lo[b] = _slab_bounds(v, k0 - h0, k1 - h0, np.minimum)
        hi[b] = _slab_bounds(v, k0 - h0, k1 - h0, np.maximum)
        release_pages(voxels[k0:k1])  # a file-backed volume read through its mapping: let go

    starts = range(0, nz, step)
    if pool is None:
        if meanwhile is not None:
            meanwhile()
        for k0 in starts:
            work(k0)
        return lo, hi
    tasks = [pool.submit(work, k0) for k0 in starts]
    try:
        if meanwhile is not None:
            meanwhile()
        for task in tasks:
            task.result()
    finally:  # meanwhile or a slab failed: nothing more is started
        for task in tasks:
            task.cancel()
    return lo, hi


def _slab_bounds(voxels: npt.NDArray[Any], k0: int, k1: int, op: Any) -> npt.NDArray[Any]:
    """``op`` (np.minimum / np.maximum) per BRICK^3 block over the block widened by one voxel
    on every side where ``voxels`` (the volume, or a slab of it with its halo) has one, of
    slices ``k0 .. k1 - 1`` (``k0`` a block's first slice, ``k1`` the next block's unless
    it is the end): ``(blocks, ny / BRICK, nx / BRICK)``.
    Along ``k`` first, in whole-slice passes (contiguous, the cheapest), so that the strided
    passes along ``j`` and ``i`` see a quarter of the voxels."""
    nz = voxels.shape[0]
    v = voxels[k0:k1]
    r = _reduce_blocks(v, op, 0)
    nb = len(r)
    if nb > 1:  # the slice before each block and the one after it, inside the slab
        op(r[1:], v[BRICK - 1 : BRICK * (nb - 1) : BRICK], out=r[1:])
        op(r[:-1], v[BRICK : BRICK * (nb - 1) + 1 : BRICK], out=r[:-1])
    for edge, k in ((0, k0 - 1), (nb - 1, k1)):  # ... and beyond it, from its neighbours
        if 0 <= k < nz:
            op(r[edge], voxels[k], out=r[edge])
            release_pages(voxels[k : k + 1])
    return _widened_reduce(r, op, (1, 2))


def _slab_pass(
    prepared: PreparedVolume,
    pool: ThreadPoolExecutor | None,
    on_slab: Callable[[int, npt.NDArray[np.uint16]], None],
) -> None:
    """``on_slab(k0, slab)`` for each slab of ``prepared`` quantised
    (:meth:`PreparedVolume.slab`), in order on the calling thread, the slabs made on ``pool``
    (inline without one) a few ahead of ``on_slab`` (no more are held besides the volume),
    and by the calling thread too while it would wait for them."""
    voxels = prepared.volume.voxels
    nz = voxels.shape[0]
    step = slab_slices(voxels.shape[:3])

    def work(k0: int) -> npt.NDArray[np.uint16]:
        k1 = min(nz, k0 + step)
        q = prepared.slab(k0, k1)
        # a file-backed volume: read, then let go, from the start: a read beside a slab
        # maps the page-cache folio around it, which stayed resident every few slices
        # (18 MiB of a 512x512x300 CT after its upload)
        release_pages(voxels[:k1])
        return q

    for k0, q in _in_order(pool, work, range(0, nz, step), 2 * WORKERS, helps=True):
        on_slab(k0, q)
        release_pages(q)  # a view of a file-backed quantised volume: let go once written
    release_pages(voxels)  # what a slab made out of order read back behind another's release


_T = TypeVar("_T")


def _in_order(
    pool: ThreadPoolExecutor | None,
    work: Callable[[int], _T],
    starts: Sequence[int],
    depth: int,
    helps: bool = False,
    before: Callable[[int], None] | None = None,
) -> Iterator[tuple[int, _T]]:
    """``(start, work(start))`` for each of ``starts``, in order, the works run on ``pool`` at
    most ``depth`` ahead of the one given (inline without a pool): what the calling thread
    does with each result (writing it into a texture) overlaps the next ones' making.

    With ``helps``, the calling thread, rather than wait for the next result, takes the works
    behind it that no worker has started yet and does them itself (no more are held than
    ``depth``; no thread is added): a 2-core machine's second CPU quantises too while the
    one worker makes the next slab, and a loaded machine runs no more threads than before.

    ``before(start)``, when given, runs on the calling thread as each work is queued (before
    any thread may start it): what only that thread can do for it (read a GL texture)."""
    if pool is None:
        for start in starts:
            if before is not None:
                before(start)
            yield start, work(start)
        return
    ahead: deque[tuple[int, Future[_T]]] = deque()
    todo = iter(starts)

    def submit() -> None:
        start = next(todo, None)
        if start is not None:
            if before is not None:
                before(start)
            ahead.append((start, pool.submit(work, start)))

    def done_here(start: int) -> Future[_T]:
        made: Future[_T] = Future()
        try:
            made.set_result(work(start))
        except BaseException as exc:  # raised in its turn, as a worker's would be
            made.set_exception(exc)
        return made

    try:
        for _ in range(max(1, depth)):
            submit()
        while ahead:
            start, task = ahead.popleft()
            submit()
            if helps:
                if task.cancel():  # not started: this thread would only wait for it
                    task = done_here(start)
                for i, (later, queued) in enumerate(list(ahead)):
                    if task.done():
                        break
                    if queued.cancel():
                        ahead[i] = (later, done_here(later))
            yield start, task.result()
    finally:  # stopped early: nothing more is started (the caller shuts the pool down)
        for _, task in ahead:
            task.cancel()


def _slab_pool(nz: int, step: int) -> ThreadPoolExecutor | None:
    """Threads for a pass over ``nz`` slices ``step`` at a time (None: one slab, or
    :data:`WORKERS` 0)."""
    slabs = -(-nz // step)
    return ThreadPoolExecutor(min(WORKERS, slabs)) if WORKERS > 0 and slabs > 1 else None


def each_slab(
    prepared: PreparedVolume, on_slab: Callable[[int, npt.NDArray[np.uint16]], None]
) -> None:
    """``on_slab(k0, slab)`` for each quantised slab of ``prepared``
    (:meth:`PreparedVolume.slab`) in order, on the calling thread, the slabs made a few ahead
    on up to :data:`WORKERS` threads: for writing a prepared volume into textures."""
    nz = prepared.volume.shape[0]
    pool = _slab_pool(nz, slab_slices(prepared.volume.shape))
    try:
        _slab_pass(prepared, pool, on_slab)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


def pooled_bounds(table: npt.NDArray[Any], largest: bool) -> npt.NDArray[np.float32]:
    """A per-BRICK bound table (``block_max`` or ``block_hi`` when ``largest``, else
    ``block_min`` or ``block_lo``; the latter normalised after pooling) over bricks
    of RUNNING_BRICK voxels: the largest (smallest) of the BRICK blocks in each. Each BRICK
    bound covers its block widened by one voxel, so the pooled one covers the larger brick
    widened by one voxel too. A partial brick at the far end pools the blocks it has. Axis
    by axis in strided whole-array passes (0.3 ms for a 512x512x300 CT's table, where one
    reduction over a 6-axis reshape took 12)."""
    op = np.maximum if largest else np.minimum
    pooled = np.asarray(table)
    for axis in range(3):
        pooled = _reduce_blocks(pooled, op, axis, RUNNING_BRICK // BRICK)
    if pooled.dtype == np.uint16:  # block_lo / block_hi: normalised after pooling, the same
        return normalised_bounds(pooled)  # numbers (min and max commute with a monotone map)
    return np.ascontiguousarray(pooled, dtype=np.float32)


def normalised_bounds(table: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """Quantised block bounds (:attr:`PreparedVolume.block_lo`, ``block_hi``) as the
    normalised values the renderers sample: ``q / 65535`` in float32."""
    return np.asarray(table).astype(np.float32) / np.float32(65535.0)


def _block_minmax(
    data: npt.NDArray[np.uint16],
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """:func:`_block_minmax_slabs` of a whole quantised volume."""
    nz, ny, nx = data.shape
    return _block_minmax_slabs((nz, ny, nx), lambda k0, k1: data[k0:k1])


_CACHE: weakref.WeakKeyDictionary[Volume, dict[tuple[Any, int], PreparedVolume]] = (
    weakref.WeakKeyDictionary()
)
_CACHE_LOCK = threading.Lock()  # the viewer prepares the next series on a loader thread


def downsample_factors(
    volume: Volume, limits: tuple[int, int, int], max_bytes: int, bytes_per_voxel: int = 2
) -> tuple[int, int, int]:
    """Whole factors along ``(i, j, k)`` by which ``volume`` is averaged so that no axis
    exceeds ``limits`` and ``bytes_per_voxel`` per voxel stay within ``max_bytes``: the one
    downsampling rule of everything that puts a volume on the GPU. ``(1, 1, 1)``: fits."""
    return factors_for(volume.shape, volume.spacing, limits, max_bytes, bytes_per_voxel)


def factors_for(
    shape: Sequence[int],
    spacing: Sequence[float],
    limits: tuple[int, int, int],
    max_bytes: int,
    bytes_per_voxel: int = 2,
) -> tuple[int, int, int]:
    """:func:`downsample_factors` of a volume of ``shape`` ``(nz, ny, nx)`` and ``spacing``
    (along ``i``, ``j``, ``k``) known before its voxels are (a series' header)."""
    z, y, x = (int(n) for n in shape[:3])
    factors = [max(1, -(-n // lim)) for n, lim in zip((x, y, z), limits, strict=True)]
    while -(-x // factors[0]) * -(-y // factors[1]) * -(-z // factors[2]) * bytes_per_voxel > (
        max_bytes
    ) or any(-(-n // f) > lim for n, f, lim in zip((x, y, z), factors, limits, strict=True)):
        # halve the finest axis (in mm) first, so the voxels become more isotropic
        sizes = [spacing[a] * factors[a] for a in range(3)]
        factors[int(np.argmin(sizes))] *= 2
    return (factors[0], factors[1], factors[2])


def downsampled(
    volume: Volume,
    factors: tuple[int, int, int],
    limits: tuple[int, ...],
    max_bytes: int,
    what: str,
) -> tuple[Volume, str]:
    """``volume`` averaged by ``factors`` (see :func:`downsample_factors`) and the note that
    says so (``what`` names the consumer, e.g. "the renderer")."""
    z, y, x = volume.shape
    src = _downsampled(volume, factors)
    nz, ny, nx = src.shape
    note = (
        f"volume {x}x{y}x{z} exceeds {what}'s limits (largest "
        f"{'x'.join(str(v) for v in limits)}, budget {max_bytes / 2**20:.3g} MiB): "
        f"drawn downsampled by "
        f"{factors[0]}x{factors[1]}x{factors[2]} to {nx}x{ny}x{nz}"
    )
    return src, note


def prepare_volume(
    volume: Volume,
    max_size: int | tuple[int, int, int] = 1 << 30,
    max_bytes: int = 1 << 62,
    on_slab: Callable[[int, npt.NDArray[np.uint16]], None] | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> PreparedVolume:
    """Quantise ``volume`` for rendering (cached per volume).

    Slab by slab on up to :data:`WORKERS` threads (numpy lets go of the GIL in its loops):
    a first pass takes the block bounds of the voxels themselves, and with them the value
    range (the smallest block minimum, the largest block maximum); the bounds are quantised
    once, after: the quantisation is monotone, so they equal the bounds of the quantised
    voxels, to the bit. With ``on_slab``, a second pass quantises the slabs for it.

    Parameters
    ----------
    volume
        The data.
    max_size
        Largest size along any axis, or along ``(i, j, k)`` (the GL renderer allows more along
        ``k``, where it splits the volume into bricks).
    max_bytes
        Memory budget for the uint16 copy.
    on_slab
        Called with ``(k0, slab)`` for each quantised slab of slices as the block bounds are
        made, in order (a :class:`~ownscan.core.render.GpuVolume` writes it into its texture:
        no second host copy of the volume), on the calling thread (where a GL context is
        current); not called when the result comes from the cache.
    meanwhile
        Called once on the calling thread while the first pass runs on the worker threads
        (a :class:`~ownscan.core.render.GpuVolume` makes its texture storage then, the
        GL's own page faults and clearing); not called when the result comes from the cache.

    Warns
    -----
    RenderNote
        When the volume had to be downsampled to fit; the note is also in ``notes``.
    """
    limits = (max_size,) * 3 if isinstance(max_size, int) else tuple(max_size)
    key = (limits, max_bytes)
    with _CACHE_LOCK:
        per_volume = _CACHE.setdefault(volume, {})
        if key in per_volume:
            return per_volume[key]
    notes: list[str] = []
    factors = downsample_factors(volume, (limits[0], limits[1], limits[2]), max_bytes)
    src = volume
    if factors != (1, 1, 1):
        src, note = downsampled(volume, factors, limits, max_bytes, "the renderer")
        notes.append(note)
        warnings.warn(note, RenderNote, stacklevel=3)
    nz, ny, nx = src.shape
    pool = _slab_pool(nz, slab_slices((nz, ny, nx)))
    try:
        lo, hi = _bounds_pass(src.voxels, pool, meanwhile)
        vmin, vmax = float(lo.min()), float(hi.max())  # NaN as the whole volume's min/max
        if not vmax > vmin:
            vmax = vmin + 1.0
        empty = np.empty((0, 0, 0), np.uint16)
        prepared = PreparedVolume(src, vmin, vmax, empty, empty, notes)
        if on_slab is not None:
            _slab_pass(prepared, pool, on_slab)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        read_copy_done()  # this thread helped with the slabs: its buffer goes
    for name, table in (("block_lo", lo), ("block_hi", hi)):
        q = np.empty(table.shape, np.uint16)
        _quantise_chunk(table, vmin, prepared.scale, q)  # monotone: the bounds of q
        setattr(prepared, name, q)
    with _CACHE_LOCK:
        per_volume[key] = prepared
    return prepared


@dataclass
class Frame:
    """Every constant of one picture, computed once on the CPU for both renderers."""

    width: int
    height: int
    centre_lps: npt.NDArray[np.float64]
    basis_lps: npt.NDArray[np.float64]  # columns right, up, back
    half_mm: tuple[float, float]  # half the image's width and height on the focal plane
    pan_mm: tuple[float, float]
    perspective: bool
    eye_distance_mm: float
    lps_to_tex: npt.NDArray[np.float64]  # 4x4
    grad_to_lps: npt.NDArray[np.float64]  # 3x3: per-voxel (i, j, k) differences -> per mm
    box_lo_tex: npt.NDArray[np.float64]
    box_hi_tex: npt.NDArray[np.float64]
    step_mm: float
    max_steps: int
    window: tuple[float, float]  # normalised low and high end of the grey ramp
    invert: bool
    # the mode's parameters as the shaders see them (u_<name>; value parameters normalised)
    parameters: dict[str, float]
    # the transfer function's 256 x RGBA table with its opacity corrected for step_mm
    # (step_lut): what the shaders' transfer() returns
    lut: npt.NDArray[np.float32] | None
    occupancy: npt.NDArray[np.uint8] | None  # per block: 1 when the mode may see something
    # per block: Chebyshev distance (in blocks, capped) to the nearest block with occupancy 1
    skip_distance: npt.NDArray[np.uint8] | None
    # normalised values outside (lo, hi) are transparent in the transfer function
    visible_range: tuple[float, float]
    slab_half_mm: float
    plane_lps: npt.NDArray[np.float64]  # a point of the slice plane (normal: back)
    shading: bool

    @property
    def pixel_mm(self) -> float:
        """Size of a pixel on the focal plane (square), in mm."""
        return 2.0 * self.half_mm[0] / self.width


def _fit_half_extent(
    volume: Volume, basis: npt.NDArray[np.float64], width: int, height: int, zoom: float
) -> tuple[float, float]:
    """Half width and height (mm) of the view that fits the volume's projection, square pixels."""
    z, y, x = volume.shape
    corners = np.array(
        [[i, j, k] for i in (-0.5, x - 0.5) for j in (-0.5, y - 0.5) for k in (-0.5, z - 0.5)]
    )
    pts = volume.index_to_lps(corners)
    r = pts @ basis[:, 0]
    u = pts @ basis[:, 1]
    pixel = max((r.max() - r.min()) / width, (u.max() - u.min()) / height) * 1.04 / zoom
    return (pixel * width / 2.0, pixel * height / 2.0)


def plane_offsets_mm(volume: Volume, camera: Camera) -> tuple[float, float]:
    """The slice offsets (mm along the camera's back vector, from the volume's centre, as
    ``Scene.slice_offset_mm``) between which a plane facing ``camera`` meets the volume."""
    z, y, x = volume.shape
    corners = np.array(
        [(i, j, k) for i in (-0.5, x - 0.5) for j in (-0.5, y - 0.5) for k in (-0.5, z - 0.5)]
    )
    centre = volume.index_to_lps([(x - 1) / 2.0, (y - 1) / 2.0, (z - 1) / 2.0])
    along = (volume.index_to_lps(corners) - centre) @ camera.basis_lps()[:, 2]
    return (float(along.min()), float(along.max()))


def view_pixel_mm(volume: Volume, camera: Camera, size: tuple[int, int]) -> float:
    """Size in mm of a pixel of a ``size`` = (w, h) picture of ``volume`` seen by ``camera``
    (``Frame.pixel_mm`` without preparing the volume: for a scale bar)."""
    width, height = int(size[0]), int(size[1])
    half = _fit_half_extent(volume, camera.basis_lps(), width, height, camera.zoom)
    return 2.0 * half[0] / width


def frame_for(
    prepared: PreparedVolume,
    scene: Scene,
    camera: Camera,
    size: tuple[int, int],
    interactive: bool = False,
) -> Frame:
    """The constants of one picture of ``scene`` seen by ``camera`` at ``size`` = (w, h)."""
    width, height = int(size[0]), int(size[1])
    if width < 1 or height < 1:
        raise UsageError(f"image size must be at least 1x1, got {width}x{height}")
    vol = prepared.volume
    nx, ny, nz = prepared.dims
    dims = np.array([nx, ny, nz], dtype=np.float64)
    basis = camera.basis_lps()
    centre = vol.index_to_lps([(nx - 1) / 2.0, (ny - 1) / 2.0, (nz - 1) / 2.0])
    # fit the original volume (not the downsampled one) so the framing does not change
    half = _fit_half_extent(scene.volume, basis, width, height, camera.zoom)
    radius = 0.5 * float(np.linalg.norm(dims * np.asarray(vol.spacing)))
    if camera.projection == "perspective":
        eye = half[1] / math.tan(math.radians(camera.fov_deg) / 2.0)
    else:
        eye = radius * 1.5 + 1.0  # where orthographic rays start: outside the volume
    # LPS -> texture: inverse affine, then (ijk + 0.5) / dims
    to_tex = np.diag([*(1.0 / dims), 1.0]) @ np.array(
        [[1, 0, 0, 0.5], [0, 1, 0, 0.5], [0, 0, 1, 0.5], [0, 0, 0, 1.0]]
    )
    lps_to_tex = to_tex @ np.linalg.inv(vol.affine)
    linear = vol.direction * np.asarray(vol.spacing)[None, :]
    grad_to_lps = np.linalg.inv(linear).T
    box = np.asarray(scene.clip_box, dtype=np.float64)
    # one sample per smallest voxel spacing of the data (also when drawn downsampled)
    step = 1.0 / scene.samples_per_mm if scene.samples_per_mm else min(scene.volume.spacing)
    if interactive:
        step *= 2.0
    max_steps = math.ceil(2.0 * radius / step) + 2
    win = scene.effective_window()
    lo, hi = prepared.window(win.width, win.level)
    parameters = scene.shader_parameters(prepared.value_min, prepared.value_max)
    lut = None
    if scene.transfer_function is not None:
        # the table holds the opacity of one step: no per-sample correction in the shaders
        lut = scene.transfer_function.lut(prepared.value_min, prepared.value_max, win)
        lut = step_lut(lut, step)
    visible_range = (-1.0, 2.0)
    if lut is not None:
        visible_range = _visible_range(lut)
    occupancy = distance = None
    rule = scene.mode.skip_rule
    if rule is not None:
        occupancy, distance = _skip_tables(prepared, rule, lut, parameters)
    plane = np.asarray(centre) + basis[:, 2] * scene.slice_offset_mm
    return Frame(
        width=width,
        height=height,
        centre_lps=np.asarray(centre, dtype=np.float64),
        basis_lps=basis,
        half_mm=half,
        pan_mm=(float(camera.pan_mm[0]), float(camera.pan_mm[1])),
        perspective=camera.projection == "perspective",
        eye_distance_mm=float(eye),
        lps_to_tex=lps_to_tex,
        grad_to_lps=grad_to_lps,
        box_lo_tex=box[:, 0].copy(),
        box_hi_tex=box[:, 1].copy(),
        step_mm=float(step),
        max_steps=max_steps,
        window=(float(lo), float(hi)),
        invert=bool(vol.invert),
        parameters=parameters,
        lut=lut,
        occupancy=occupancy,
        skip_distance=distance,
        visible_range=visible_range,
        slab_half_mm=float(scene.slab_mm) / 2.0,
        plane_lps=plane,
        shading=bool(scene.shading),
    )


def step_lut(lut: npt.NDArray[np.float32], step_mm: float) -> npt.NDArray[np.float32]:
    """The transfer function's table with each entry's opacity of 1 mm turned into the opacity
    of one step of ``step_mm``: ``1 - (1 - min(alpha, 1)) ** step_mm`` (colours unchanged).

    Made once per picture on the CPU (in float64, kept as float32, the texture's format), so
    that the ray-casters composite ``transfer(value).a`` as it is instead of correcting every
    sample with a ``pow`` (an exp2 and a log2 per sample, a tenth of a dvr frame in a CPU
    rasteriser). Interpolating the corrected entries differs from correcting the interpolated
    opacity only between two entries of a table whose opacity bends there, by far less than a
    level of the picture for the presets (``tests/core/render/test_step_lut.py``). A zero
    opacity stays exactly zero, so the skip tables and visible range are unchanged.

    Parameters
    ----------
    lut
        ``(256, 4)`` RGBA, alpha the opacity of 1 mm (``TransferFunction.lut``).
    step_mm
        Distance between two samples along a ray.

    Returns
    -------
    numpy.ndarray
        ``(256, 4)`` float32, alpha the opacity of one step.
    """
    out = np.array(lut, dtype=np.float32, copy=True)
    alpha = np.minimum(out[:, 3].astype(np.float64), 1.0)
    out[:, 3] = 1.0 - (1.0 - alpha) ** float(step_mm)
    return out


def _visible_range(lut: npt.NDArray[np.float32]) -> tuple[float, float]:
    """Normalised values ``(lo, hi)`` outside which the table's interpolated opacity is 0.

    Entry ``e`` holds the value ``e / 255``, so a value reads entries ``floor(255 v)`` and the
    next one: below ``(first - 1) / 255`` (``first``: the first entry with opacity) both are
    transparent. Half an entry of margin on each side keeps this true under any rounding of
    the texture coordinate. No opacity at all: an empty range.
    """
    seen = np.nonzero(lut[:, 3] > 0)[0]
    if len(seen) == 0:
        return (2.0, -1.0)
    return ((float(seen[0]) - 1.5) / 255.0, (float(seen[-1]) + 1.5) / 255.0)


SKIP_DISTANCE_CAP = 32  # blocks; a larger distance is stored as this (still true: all empty)


def skip_distance(occupancy: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Per block, the Chebyshev distance in blocks to the nearest occupied block (0: occupied
    itself), capped at ``SKIP_DISTANCE_CAP``.

    A block at distance ``d > 0`` has only empty blocks within ``d - 1`` of it along every axis,
    so a ray there may jump past that whole cube of ``(2d - 1)^3`` empty blocks at once (the GL
    skeleton's empty-space skipping).

    The occupied blocks are grown by one block along each axis per step (a 3x3x3 dilation);
    a block first reached at step ``d`` is at distance ``d``, so the distance is the cap less
    the number of the cap's steps ``0 .. cap - 1`` at which the block is covered: one add per
    step rather than a masked store (a third less time).
    """
    covered = np.asarray(occupancy) > 0
    count = covered.astype(np.uint8)  # steps so far at which each block was covered
    if covered.any():
        for k in range(1, SKIP_DISTANCE_CAP):
            if covered.all():  # covered at every step from here on
                count += np.uint8(SKIP_DISTANCE_CAP - k)
                break
            for axis in range(3):  # one more block of a 3x3x3 dilation, axis by axis
                lo = [slice(None)] * 3
                hi = [slice(None)] * 3
                lo[axis], hi[axis] = slice(1, None), slice(None, -1)
                src = covered.copy()
                covered[tuple(lo)] |= src[tuple(hi)]
                covered[tuple(hi)] |= src[tuple(lo)]
            count += covered
    return np.uint8(SKIP_DISTANCE_CAP) - count


def _skip_tables(
    prepared: PreparedVolume,
    rule: SkipRule,
    lut: npt.NDArray[np.float32] | None,
    parameters: dict[str, float],
) -> tuple[npt.NDArray[np.uint8] | None, npt.NDArray[np.uint8] | None]:
    """Occupancy and skip distance per block by the mode's skip ``rule`` (both None when the
    rule skips nothing in this picture), kept on ``prepared`` for the last rule and inputs
    seen: they change with the transfer function, window or parameters, not with the camera,
    so a turning view reuses them (and the GL renderer its texture of them)."""
    seen = None if lut is None else (lut[:, 3] > 0).tobytes()
    key: tuple[Any, ...] = (rule.name, rule.glsl, seen, tuple(sorted(parameters.items())))
    cached = prepared.last_skip
    if cached is not None and cached[0] == key:
        return cached[1], cached[2]
    visible = rule.blocks(prepared.block_min, prepared.block_max, lut, parameters)
    if visible is None:
        return None, None
    occupancy = np.asarray(visible).astype(np.uint8)
    if occupancy.shape != prepared.block_hi.shape:
        raise ValueError(
            f"skip rule {rule.name!r}: blocks() gave shape {occupancy.shape}, expected one "
            f"value per brick {prepared.block_hi.shape}"
        )
    distance = skip_distance(occupancy)
    prepared.last_skip = (key, occupancy, distance)
    return occupancy, distance


def gradient_layout(prepared: PreparedVolume) -> GradientLayout:
    """Where the compact gradient texture of ``prepared``'s voxels lies: one texel per block
    of 1 or 2 voxels along each axis, by the volume drawn's spacing (``_gradient``)."""
    return GradientLayout.of(prepared.dims, prepared.volume.spacing)


def gradient_slabs(
    layout: GradientLayout, slab: Any, read_here: bool = False
) -> Iterator[tuple[int, npt.NDArray[np.int8]]]:
    """``(g0, texels)`` of the gradient texture (:func:`gradient_texels`) of ``layout``, slab
    after slab of texel slices, from the quantised volume whose slices ``k0 .. k1 - 1``
    ``slab(k0, k1)`` gives (each slab read with its halo: the blocks beside it): the whole
    texel array is never held. The slabs are made on up to :data:`WORKERS` threads, a few
    ahead of the one given (numpy lets go of the GIL in its loops; ``slab`` must be safe to
    call from them, as :meth:`PreparedVolume.slab` is).

    With ``read_here``, ``slab`` is called on the calling thread instead, as each slab's
    texels are queued (the volume's GL texture read back: ``_readback``; its context is
    current there only)."""
    nx, ny, nz = layout.dims
    mz = layout.texel_dims[2]
    chunk = max(1, slab_slices((nz, ny, nx)) // layout.factors[2])
    read: dict[int, npt.NDArray[np.uint16]] = {}  # read_here: each queued slab's voxels

    def fetch(g0: int) -> None:
        read[g0] = slab(*layout.slices_for(g0, min(mz, g0 + chunk)))

    def texels(g0: int) -> npt.NDArray[np.int8]:
        g1 = min(mz, g0 + chunk)
        k0, k1 = layout.slices_for(g0, g1)
        q = read.pop(g0) if read_here else slab(k0, k1)
        return sobel_texels(q, k0, g0, g1, layout)

    starts = range(0, mz, chunk)
    pool = _slab_pool(len(starts), 1)
    try:
        # read_here: one slab queued per worker (each read as it is queued and held until a
        # worker takes it: more would hold more voxels than quantising them there did)
        depth = WORKERS if read_here else 2 * WORKERS
        yield from _in_order(pool, texels, starts, depth, before=fetch if read_here else None)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


def gradient_texels(data: npt.NDArray[np.uint16], layout: GradientLayout) -> npt.NDArray[np.int8]:
    """The whole RGB8 snorm gradient texture ``(mz, my, mx, 3)`` of ``layout`` from the
    quantised volume ``data``: per block of voxels the Sobel gradient along i, j, k of the
    block means (``_gradient.sobel_texels``; indices clamped to the volume), which the shaded
    GL programs sample instead of 26 volume fetches per gradient (``GRADIENT_TEXTURE`` in
    shaders/common.glsl), made a slab at a time."""
    mx, my, mz = layout.texel_dims
    out = np.empty((mz, my, mx, 3), dtype=np.int8)
    for g0, texels in gradient_slabs(layout, lambda k0, k1: data[k0:k1]):
        out[g0 : g0 + len(texels)] = texels
    return out


def to_uint8(rgba: npt.NDArray[np.float32]) -> npt.NDArray[np.uint8]:
    """Premultiplied float RGBA (bottom row first, as GL stores it) -> uint8, top row first."""
    # one temporary, in place: the same rint / clip as before, read bottom row last
    out = np.multiply(np.asarray(rgba, dtype=np.float32)[::-1], np.float32(255.0))
    np.rint(out, out=out)
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)
