"""Volumes beyond the GPU's limits, drawn at full resolution brick by brick.

A volume that fits neither the largest 3D texture (in up to :data:`~ownscan.core.render._gpu.
MAX_BRICKS` textures sampled in one pass) nor the GPU memory budget is not averaged down: it is
split into a grid of bricks (:func:`plan_bricks`, any count along any axes), each held in a
texture of its own voxels and a halo around them (:data:`HALO` voxels: trilinear sampling, the
26-fetch Sobel gradient and iso's look one step back), and drawn in one pass per brick.

* Every pass walks the whole ray's grid of samples (as one pass over the whole volume does)
  and gives the mode only the samples inside its brick's own box (``shaders/segment.glsl``):
  the own boxes tile space, and each pass computes the same positions, so every sample is
  taken by exactly one pass and the samples are those of the unbricked picture: no seams.
* The bricks are drawn front to back for the view (:func:`view_order`, orthographic or
  perspective), and each pass carries every ray on where the bricks before it left it: the
  mode's ``acc`` is kept per pixel in a float target between passes (read from a copy of the
  brick's footprint), and a last pass gives it to the mode's own ``mode_end``. The mode thus
  meets a ray's samples in the same order with the same running state as in one pass: dvr's
  and iso's front-to-back compositing and early end, MIP / MinIP's running maximum /
  minimum, xray's and mpr's sums and counts. Only ``acc`` is carried, so only the built-in
  modes, whose whole state it is, are drawn so (:func:`composition`); a mode whose GLSL is
  another (a third party's may keep state of its own) is drawn averaged down, with the note
  that says so, as before.
* A brick that cannot change the picture is not drawn (nor uploaded): outside the clipping box
  or the slab, no opacity in it for dvr (the skip table), nothing reaching the iso value; for
  MIP / MinIP a brick whose values all show as the window's end is drawn from a one-voxel
  texture of its bound.
* When every brick fits the budget they are uploaded once and stay. Otherwise bricks are
  uploaded as each frame needs them, keeping those that fit (the one farthest from its next
  use goes first): a frame then uploads about the volume's bytes less the budget; the
  quantised bricks wait on the host in an unnamed scratch file whose pages are given back
  after each upload (:mod:`~ownscan.core.render._pages`), else in memory.
* Shading takes the 26-fetch Sobel gradient of the voxels themselves (no gradient texture):
  the one-pass program's compact gradient texture is the Sobel gradient of 2x2x2 block means,
  a slightly smoother normal (docs/RENDER.md, "Surface normals").
"""

from __future__ import annotations

import itertools
import logging
import math
import mmap
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ownscan.core.render._camera import Camera
from ownscan.core.render._gpu import _NoRoom, texture3d, volume_limits
from ownscan.core.render._pages import register_mapping, release_pages, scratch_file
from ownscan.core.render._scene import Scene, VisualisationMode
from ownscan.core.render._setup import (
    BRICK,
    Frame,
    PreparedVolume,
    downsample_factors,
    frame_for,
    normalised_bounds,
    pooled_bounds,
    prepare_volume,
    slab_slices,
)
from ownscan.core.render._shaders import load_shader, segment_finish_program
from ownscan.core.volume import Volume

if TYPE_CHECKING:
    from ownscan.core.render._gl import GLRenderer

__all__ = [
    "HALO",
    "Brick",
    "BrickPlan",
    "OutOfCore",
    "accepts_texture",
    "composition",
    "fits_one_pass",
    "plan_bricks",
]

log = logging.getLogger(__name__)

HALO = 4  # voxels held around a brick's own ones: enough for samples up to 2 voxels apart
_SMALLEST_CORE = 8  # voxels of a brick's own along a split axis; fewer: the budget is too small
# the mode files whose state along a ray is acc / aux alone, and how their passes compose
_KINDS = {
    "mode_dvr.glsl": "under",
    "mode_iso.glsl": "under",
    "mode_mip.glsl": "maximum",
    "mode_minip.glsl": "minimum",
    "mode_xray.glsl": "sum",
    "mode_mpr.glsl": "sum",
}
_PROBE_BYTES = 1 << 30  # textures from this size on are asked for before a one-pass upload
_MARGIN_TEX = 1e-4  # texture units: a brick this far outside the clipping box is still drawn
_UPLOAD_BYTES = 64 << 20  # a brick is uploaded in slabs of about this size


def composition(mode: VisualisationMode) -> str | None:
    """How ``mode``'s rays add up over bricks: ``"under"`` (front to back, ending at opacity
    0.99: dvr, iso), ``"maximum"`` (MIP), ``"minimum"`` (MinIP), ``"sum"`` (xray, mpr); None
    when the mode cannot be drawn brick by brick (its GLSL is not a built-in mode's: a third
    party's mode may keep state of its own along the ray)."""
    for name, kind in _KINDS.items():
        if mode.glsl == load_shader(name):
            return kind
    return None


def fits_one_pass(volume: Volume, max_texture: int, memory_budget: int) -> bool:
    """Whether :class:`~ownscan.core.render.GpuVolume` holds ``volume`` at full resolution
    (within the largest 3D texture in up to four bricks, and the budget): drawn in one pass."""
    limits = volume_limits(max_texture, volume.shape)
    return downsample_factors(volume, limits, memory_budget) == (1, 1, 1)


def accepts_texture(ctx: Any, volume: Volume, max_texture: int) -> bool:
    """Whether the GL gives storage to the largest texture one pass over ``volume`` makes (the
    whole volume, or its largest brick along axes beyond ``max_texture``). Asked only above
    1 GiB: llvmpipe refuses more than about 1.6 GiB, and a one-pass volume found refused only
    while uploading would be averaged down."""
    z, y, x = volume.shape[:3]
    size = (min(x, max_texture), min(y, max_texture), min(z, max_texture))
    if 2 * math.prod(size) < _PROBE_BYTES:
        return True
    try:
        texture3d(ctx, size, 1, None, "nu2").release()
    except _NoRoom:
        return False
    return True


@dataclass(frozen=True)
class Brick:
    """One brick: ``own`` voxels ``(first, end)`` along i, j, k (the samples it draws lie in
    them), and the ``first`` voxel and ``size`` of what its texture holds (own and halo)."""

    index: int
    own: tuple[tuple[int, int], tuple[int, int], tuple[int, int]]
    first: tuple[int, int, int]
    size: tuple[int, int, int]

    @property
    def nbytes(self) -> int:
        """Bytes of its R16 texture."""
        return 2 * math.prod(self.size)


@dataclass(frozen=True)
class BrickPlan:
    """How a volume is split: per axis the own ranges' boundaries ``cuts`` (from 0 to the
    size), the halo, and whether all bricks fit the budget at once (``resident``)."""

    dims: tuple[int, int, int]
    cuts: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]
    halo: int
    resident: bool

    @property
    def bricks(self) -> list[Brick]:
        """Every brick, ``i`` fastest, then ``j``, then ``k``."""
        axes = [list(itertools.pairwise(c)) for c in self.cuts]
        out: list[Brick] = []
        for own_k in axes[2]:
            for own_j in axes[1]:
                for own_i in axes[0]:
                    own = (own_i, own_j, own_k)
                    lo = [max(0, a - self.halo) for a, _ in own]
                    hi = [min(n, b + self.halo) for (_, b), n in zip(own, self.dims, strict=True)]
                    first = (lo[0], lo[1], lo[2])
                    size = (hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2])
                    out.append(Brick(len(out), own, first, size))
        return out

    @property
    def nbytes(self) -> int:
        """Bytes of all bricks' textures."""
        return sum(b.nbytes for b in self.bricks)


def _even_cuts(n: int, count: int) -> tuple[int, ...]:
    return tuple(round(n * c / count) for c in range(count + 1))


def _held(n: int, count: int, halo: int) -> int:
    """The largest extent a brick's texture holds along an axis of ``n`` split ``count`` ways."""
    cuts = _even_cuts(n, count)
    return max(min(n, b + halo) - max(0, a - halo) for a, b in itertools.pairwise(cuts))


def plan_bricks(
    dims: Sequence[int],
    max_texture: int,
    memory_budget: int,
    halo: int = HALO,
    largest_brick: int | None = None,
) -> BrickPlan:
    """The fewest bricks (most even along each axis) of a volume of ``dims`` ``(nx, ny, nz)``
    whose textures fit ``max_texture`` per side and, each, ``memory_budget`` bytes (and
    ``largest_brick``: what the GL accepts in one texture, when known); all of them stay on the
    GPU when together they fit the budget.

    Raises
    ------
    ValueError
        The budget or the texture side is too small for bricks of at least 8 own voxels per
        side with their halo.
    """
    n = [int(d) for d in dims]
    counts = [1, 1, 1]

    def grow(axis: int) -> None:
        counts[axis] += 1
        if n[axis] // counts[axis] < _SMALLEST_CORE:
            raise ValueError(
                f"a {n[0]}x{n[1]}x{n[2]} volume cannot be split into bricks within "
                f"{max_texture} voxels a side and {memory_budget / 2**20:.3g} MiB with "
                f"{halo} voxels of halo"
            )

    for axis in range(3):
        while _held(n[axis], counts[axis], halo) > max_texture:
            grow(axis)

    def largest() -> int:
        return 2 * math.prod(_held(n[a], counts[a], halo) for a in range(3))

    def plan(resident: bool) -> BrickPlan:
        cuts = (
            _even_cuts(n[0], counts[0]),
            _even_cuts(n[1], counts[1]),
            _even_cuts(n[2], counts[2]),
        )
        return BrickPlan((n[0], n[1], n[2]), cuts, halo, resident)

    cap = memory_budget if largest_brick is None else min(memory_budget, largest_brick)
    if plan(True).nbytes <= memory_budget and largest() <= cap:
        return plan(True)
    while largest() > cap:  # split the longest held side: bricks near cubes
        grow(int(np.argmax([_held(n[a], counts[a], halo) for a in range(3)])))
    whole = plan(True)
    return whole if whole.nbytes <= memory_budget else plan(False)


def _own_blocks(brick: Brick) -> tuple[slice, slice, slice]:
    """The BRICK^3 skip blocks (``(k, j, i)`` slices of the block tables) holding the brick's
    own samples: a sample at voxel coordinate u lies in block ``floor((u + 0.5) / BRICK)``."""
    (i0, i1), (j0, j1), (k0, k1) = brick.own
    return (
        slice(k0 // BRICK, (k1 - 1) // BRICK + 1),
        slice(j0 // BRICK, (j1 - 1) // BRICK + 1),
        slice(i0 // BRICK, (i1 - 1) // BRICK + 1),
    )


def _own_box_tex(brick: Brick, plan: BrickPlan) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The brick's own box in texture coordinates: voxel ``c`` starts at ``c / n``; the outer
    faces of the outer bricks lie far outside the volume (the boxes tile space)."""
    lo, hi = [], []
    for (a, b), n in zip(brick.own, plan.dims, strict=True):
        lo.append(-1.0 if a == 0 else a / n)
        hi.append(2.0 if b == n else b / n)
    return tuple(lo), tuple(hi)


def _ranks(plan: BrickPlan, frame: Frame) -> list[list[int]]:
    """Per axis, per own range: how many own-range boundaries lie between it and where the
    frame's rays start (perspective: the eye's range; orthographic: the side they come
    from)."""
    linear = frame.lps_to_tex[:3, :3]
    b = frame.basis_lps
    ranks = []
    for axis, cuts in enumerate(plan.cuts):
        count = len(cuts) - 1
        if frame.perspective:
            eye_lps = (
                frame.centre_lps
                + b[:, 0] * frame.pan_mm[0]
                + b[:, 1] * frame.pan_mm[1]
                + b[:, 2] * frame.eye_distance_mm
            )
            eye_voxel = float(linear[axis] @ eye_lps + frame.lps_to_tex[axis, 3]) * plan.dims[axis]
            # the eye's range (the first or last when outside: the order stays the same)
            eye = min(count - 1, int(np.searchsorted(cuts[1:-1], eye_voxel, side="right")))
            ranks.append([abs(r - eye) for r in range(count)])
        else:
            along = float(linear[axis] @ -b[:, 2])  # the rays' direction along this axis
            ranks.append(
                [r if along > 0 else count - 1 - r if along < 0 else 0 for r in range(count)]
            )
    return ranks


def view_order(bricks: Sequence[Brick], plan: BrickPlan, frame: Frame) -> list[Brick]:
    """``bricks`` front to back for ``frame``'s rays. Along each axis a ray moves away from
    its start (perspective: the eye; orthographic: along its one direction), so the number of
    own-range boundaries between a brick and the start (:func:`_ranks`) grows along every ray,
    axis by axis, and strictly in their sum where the ray passes into the next brick."""
    ranks = _ranks(plan, frame)

    def rank(brick: Brick) -> int:
        return sum(ranks[axis][plan.cuts[axis].index(brick.own[axis][0])] for axis in range(3))

    return sorted(bricks, key=rank)


def _corners_lps(brick: Brick, volume: Volume) -> npt.NDArray[np.float64]:
    """The 8 corners (LPS) of the brick's own voxels."""
    (i0, i1), (j0, j1), (k0, k1) = brick.own
    ijk = [(i - 0.5, j - 0.5, k - 0.5) for i in (i0, i1) for j in (j0, j1) for k in (k0, k1)]
    return np.asarray(volume.index_to_lps(np.asarray(ijk, dtype=np.float64)), dtype=np.float64)


def _footprint(brick: Brick, volume: Volume, frame: Frame) -> tuple[int, int, int, int] | None:
    """The pixels (``x, y, w, h``, bottom row first) whose rays may meet the brick's own
    voxels, with two pixels of margin; None: it may be anywhere (a corner behind the eye)."""
    b = frame.basis_lps
    rel = _corners_lps(brick, volume) - frame.centre_lps
    right = rel @ b[:, 0] - frame.pan_mm[0]
    up = rel @ b[:, 1] - frame.pan_mm[1]
    if frame.perspective:  # where the ray from the eye through the corner meets the focal plane
        depth = rel @ b[:, 2]
        if (depth >= frame.eye_distance_mm * 0.999).any():
            return None
        scale = frame.eye_distance_mm / (frame.eye_distance_mm - depth)
        right, up = right * scale, up * scale
    x = (right / frame.half_mm[0] + 1.0) * 0.5 * frame.width
    y = (up / frame.half_mm[1] + 1.0) * 0.5 * frame.height
    x0 = max(0, math.floor(x.min()) - 2)
    y0 = max(0, math.floor(y.min()) - 2)
    x1 = min(frame.width, math.ceil(x.max()) + 2)
    y1 = min(frame.height, math.ceil(y.max()) + 2)
    return (x0, y0, max(0, x1 - x0), max(0, y1 - y0))


def _slab_parts(
    bricks: Sequence[Brick], z0: int, slab: npt.NDArray[np.uint16]
) -> Iterator[tuple[Brick, int, npt.NDArray[np.uint16]]]:
    """For quantised slices ``z0 ..`` of the whole volume (``(n, ny, nx)``), each brick holding
    some of them, the first of those slices in the brick's own numbering, and their voxels
    within the brick (a view of ``slab``)."""
    z1 = z0 + len(slab)
    for brick in bricks:
        (i0, j0, k0), (ni, nj, nk) = brick.first, brick.size
        a, b = max(z0, k0), min(z1, k0 + nk)
        if a < b:
            yield brick, a - k0, slab[a - z0 : b - z0, j0 : j0 + nj, i0 : i0 + ni]


class _Store:
    """The quantised bricks on the host, each contiguous, for bricks uploaded again and again:
    in an unnamed scratch file whose pages are given back after each use, else in memory."""

    def __init__(self, bricks: Sequence[Brick]) -> None:
        self._offsets = list(itertools.accumulate((b.nbytes for b in bricks), initial=0))
        total = max(self._offsets[-1], 1)
        fd = scratch_file()
        self._map: mmap.mmap | None = None
        if fd is not None:
            try:
                os.ftruncate(fd, total)
                self._map = mmap.mmap(fd, total, mmap.MAP_SHARED)
            except OSError:  # no room on the disk: in memory
                self._map = None
            finally:
                os.close(fd)  # the mapping keeps the (unnamed) file
        self._buffer: Any = self._map if self._map is not None else bytearray(total)
        if self._map is not None:
            register_mapping(np.frombuffer(self._map, np.uint8, count=1))
        self._bricks = list(bricks)
        self._next = 0  # the slice write() expects next
        self.filled = False

    def write(self, z0: int, slab: npt.NDArray[np.uint16]) -> None:
        """Write quantised slices ``z0 ..`` (``(n, ny, nx)``, in order from slice 0) into every
        brick holding them, giving the written pages back (they are in the file)."""
        if z0 == 0:
            self._next = 0
        if z0 != self._next:  # a slab out of order: the store stays unfilled
            return
        for brick, k, part in _slab_parts(self._bricks, z0, slab):
            stored = self.array(brick)[k : k + len(part)]
            stored[...] = part
            release_pages(stored)
        self._next = z0 + len(slab)
        self.filled = self._next >= max(b.first[2] + b.size[2] for b in self._bricks)

    def array(self, brick: Brick) -> npt.NDArray[np.uint16]:
        """The brick's voxels ``(nk, nj, ni)`` (written or to be written)."""
        ni, nj, nk = brick.size
        start = self._offsets[brick.index]
        flat = np.frombuffer(self._buffer, np.uint16, count=ni * nj * nk, offset=start)
        return flat.reshape(nk, nj, ni)

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None
        self._buffer = bytearray()


class OutOfCore:
    """A grey volume drawn brick by brick at full resolution (see the module's docstring).

    Parameters
    ----------
    ctx
        The moderngl context.
    volume
        The volume.
    max_texture
        Largest 3D texture side.
    memory_budget
        Bytes the bricks' textures may take on the GPU at once.
    largest_brick
        Bytes of the largest texture the GL accepts, when known (it refused a larger one).

    Attributes
    ----------
    prepared
        The volume quantised at full resolution (its block bounds drive the skipping).
    plan
        The bricks.
    uploaded_bytes
        Bytes of voxels uploaded so far (all bricks once when they stay resident).
    last_passes
        The last frame's bricks: ``"draw"`` (drawn from their voxels), ``"constant"`` (from
        their bound) and ``"skip"`` (not drawn).
    """

    def __init__(
        self,
        ctx: Any,
        volume: Volume,
        max_texture: int,
        memory_budget: int,
        largest_brick: int | None = None,
    ) -> None:
        self.ctx = ctx
        self.source = volume
        self.max_texture = int(max_texture)
        self.memory_budget = int(memory_budget)
        self.largest_brick = largest_brick
        self.uploaded_bytes = 0
        self.last_passes: dict[str, int] = {}
        self._textures: dict[int, Any] = {}  # brick index -> its texture, while resident
        self._store: _Store | None = None
        self._bounds: dict[str, Any] = {}
        self._constants: list[Any] = []
        self._targets: dict[str, tuple[tuple[int, int], Any, Any]] = {}
        z, y, x = volume.shape[:3]
        # the bricks are written (into their textures when they all stay, else into the
        # host store) as the preparation quantises the volume: one pass, a slab at a time
        while True:
            self._plan((x, y, z), HALO)
            try:
                self.prepared: PreparedVolume = prepare_volume(volume, on_slab=self._write_slab)
                break
            except _NoRoom:  # the GL refused a brick's texture: bricks of half its size
                self.largest_brick = max(b.nbytes for b in self._bricks) // 2

    def _write_slab(self, z0: int, slab: npt.NDArray[np.uint16]) -> None:
        """Quantised slices ``z0 ..`` (in order from 0) into the store, or into the textures
        of all bricks (made here) when they all stay on the GPU."""
        if self._store is not None:
            self._store.write(z0, slab)
            return
        for brick, k, part in _slab_parts(self._bricks, z0, slab):
            tex = self._textures.get(brick.index)
            if tex is None:
                tex = self._textures[brick.index] = texture3d(self.ctx, brick.size, 1, None, "nu2")
                self.uploaded_bytes += brick.nbytes
            ni, nj, _ = brick.size
            data = np.ascontiguousarray(part)
            tex.write(data.data, viewport=(0, 0, k, ni, nj, len(part)), alignment=1)

    def _plan(self, dims: tuple[int, int, int], halo: int) -> None:
        self.release_bricks()
        self.plan = plan_bricks(
            dims, self.max_texture, self.memory_budget, halo, self.largest_brick
        )
        self._bricks = self.plan.bricks
        if not self.plan.resident:
            self._store = _Store(self._bricks)
        largest = max(b.nbytes for b in self._bricks)
        kept = self.memory_budget // largest  # bricks that fit at once
        log.info(
            "volume %dx%dx%d drawn in %d bricks (%s); %s",
            *dims,
            len(self._bricks),
            "x".join(str(len(c) - 1) for c in self.plan.cuts),
            "all resident"
            if self.plan.resident
            else f"{kept} kept at once, the others uploaded each frame (up to "
            f"{(self.plan.nbytes - max(0, kept - 1) * largest) / 2**20:.0f} MiB)",
        )

    # -- frames --------------------------------------------------------------------------------
    def frame(
        self, scene: Scene, camera: Camera, size: tuple[int, int], interactive: bool
    ) -> Frame:
        """The frame's constants, the bricks re-planned when its steps need a wider halo."""
        frame = frame_for(self.prepared, scene, camera, size, interactive)
        # the samples a pass reads: trilinear (+1), the 26-fetch gradient (+1), iso's step back
        steps = frame.step_mm / min(self.prepared.volume.spacing)
        halo = max(HALO, math.ceil(steps) + 2)
        if halo > self.plan.halo:
            self._plan(self.plan.dims, halo)
        return frame

    def _visible(self, brick: Brick, frame: Frame, mode: VisualisationMode, kind: str) -> str:
        """``"draw"``, ``"skip"`` (nothing of it can change the picture) or ``"constant"``
        (MIP / MinIP: all its values show as the window's end; drawn from its bound)."""
        lo_tex, hi_tex = _own_box_tex(brick, self.plan)
        for a in range(3):
            if hi_tex[a] < frame.box_lo_tex[a] - _MARGIN_TEX:
                return "skip"
            if lo_tex[a] > frame.box_hi_tex[a] + _MARGIN_TEX:
                return "skip"
        if mode.slab:  # rays cut to the slab around the plane
            along = (_corners_lps(brick, self.prepared.volume) - frame.plane_lps) @ frame.basis_lps[
                :, 2
            ]
            reach = frame.slab_half_mm + 1e-3
            if along.min() > reach or along.max() < -reach:
                return "skip"
        blocks = _own_blocks(brick)
        if kind == "under" and frame.occupancy is not None and not frame.occupancy[blocks].any():
            return "skip"
        if kind == "maximum" and self._bound(brick, kind) + 1e-5 < frame.window[0]:
            return "constant"
        if kind == "minimum" and self._bound(brick, kind) - 1e-5 > frame.window[1]:
            return "constant"
        return "draw"

    def _bound(self, brick: Brick, kind: str) -> float:
        """The largest (``kind`` "maximum") or smallest value the brick's own samples read."""
        blocks = _own_blocks(brick)
        if kind == "maximum":
            return float(normalised_bounds(self.prepared.block_hi[blocks].max()))
        return float(normalised_bounds(self.prepared.block_lo[blocks].min()))

    # -- textures ------------------------------------------------------------------------------
    def _voxels(self, brick: Brick) -> npt.NDArray[np.uint16]:
        """The brick's quantised voxels: from the store (filled on first use when the
        preparation did not fill it), else quantised from the volume."""
        store = self._store
        if store is None:  # all bricks stay, the preparation was cached: made once
            return self.prepared.box(brick.first, brick.size)
        if not store.filled:
            nz, ny, nx = self.prepared.volume.shape
            step = slab_slices((nz, ny, nx))
            for z0 in range(0, nz, step):
                store.write(z0, self.prepared.slab(z0, min(nz, z0 + step)))
        return store.array(brick)

    def _texture(self, brick: Brick, future: Sequence[int]) -> Any:
        """The brick's texture, uploaded unless resident; when the budget is full the
        resident brick needed farthest ahead (``future``: the brick indices to come) goes."""
        tex = self._textures.get(brick.index)
        if tex is not None:
            return tex
        held = sum(self._bricks[i].nbytes for i in self._textures)
        tex = None
        while self._textures and held + brick.nbytes > self.memory_budget:

            def next_use(index: int) -> int:
                return future.index(index) if index in future else len(future)

            gone = max(self._textures, key=next_use)
            old = self._textures.pop(gone)
            held -= self._bricks[gone].nbytes
            if tex is None and old.size == brick.size:
                tex = old  # written over: a texture released while a draw still reads it
                # may keep its storage meanwhile (llvmpipe), a new one would add its own
            else:
                old.release()
        data = self._voxels(brick)
        if tex is None:
            tex = texture3d(self.ctx, brick.size, 1, None, "nu2")
        ni, nj, nk = brick.size
        step = max(1, _UPLOAD_BYTES // (2 * ni * nj))
        for k0 in range(0, nk, step):  # slab by slab, each slab's pages given back after
            part = data[k0 : k0 + step]
            tex.write(part.data, viewport=(0, 0, k0, ni, nj, len(part)), alignment=1)
            release_pages(part)
        self.uploaded_bytes += brick.nbytes
        self._textures[brick.index] = tex
        return tex

    def _constant(self, value: float) -> Any:
        q = np.array([round(value * 65535.0)], dtype=np.uint16)
        tex = texture3d(self.ctx, (1, 1, 1), 1, q, "nu2")
        self._constants.append(tex)
        return tex

    def bound_texture(self, kind: str) -> Any:
        """The whole volume's MIP / MinIP bound table (see ``GpuVolume.bound_texture``)."""
        if kind not in self._bounds:
            import moderngl

            p = self.prepared
            largest = kind == "maximum"
            table = pooled_bounds(p.block_hi if largest else p.block_lo, largest)
            nbz, nby, nbx = table.shape
            tex = self.ctx.texture3d((nbx, nby, nbz), 1, table.tobytes(), dtype="f4")
            tex.filter = (moderngl.NEAREST, moderngl.NEAREST)
            self._bounds[kind] = tex
        return self._bounds[kind]

    def _scratch(self, name: str, size: tuple[int, int]) -> tuple[Any, Any]:
        """A float RGBA texture of ``size`` and its framebuffer, kept by ``name``."""
        kept = self._targets.get(name)
        if kept is None or kept[0] != size:
            if kept is not None:
                kept[2].release()
                kept[1].release()
            colour = self.ctx.texture(size, 4, dtype="f4")
            kept = (size, colour, self.ctx.framebuffer(color_attachments=[colour]))
            self._targets[name] = kept
        return kept[1], kept[2]

    # -- drawing -------------------------------------------------------------------------------
    def draw(
        self, renderer: GLRenderer, mode: VisualisationMode, frame: Frame, read: bool
    ) -> bytes:
        """Draw ``frame`` into ``renderer``'s float target (as its one-pass drawing does):
        premultiplied RGBA, bottom row first; its bytes when ``read``. When the GL refuses a
        brick's texture (llvmpipe: more than about 1.6 GiB), the bricks are planned again
        within half of what was refused and the frame drawn again.

        Raises
        ------
        MemoryError
            The GL refuses even the smallest bricks.
        """
        while True:
            try:
                return self._draw(renderer, mode, frame, read)
            except _NoRoom as exc:
                self.largest_brick = max(b.nbytes for b in self._bricks) // 2
                try:
                    self._plan(self.plan.dims, self.plan.halo)
                except ValueError:
                    raise MemoryError(
                        f"the GPU cannot hold a brick of this volume: {exc}"
                    ) from None

    def _draw(
        self, renderer: GLRenderer, mode: VisualisationMode, frame: Frame, read: bool
    ) -> bytes:
        import moderngl as mgl

        kind = composition(mode)
        assert kind is not None, f"mode {mode.name!r} cannot be drawn brick by brick"
        program, vao = renderer._program(mode, frame.shading, segment=kind)
        plan = self.plan
        todo = []
        for brick in view_order(self._bricks, plan, frame):
            what = self._visible(brick, frame, mode, kind)
            rect = _footprint(brick, self.prepared.volume, frame)
            if what != "skip" and (rect is None or rect[2] * rect[3] > 0):  # out of the view
                todo.append((brick, what, rect))
        self.last_passes = {
            "draw": sum(what == "draw" for _, what, _ in todo),
            "constant": sum(what == "constant" for _, what, _ in todo),
            "skip": len(self._bricks) - len(todo),
        }
        future = [b.index for b, what, _ in todo if what == "draw"]
        future += future  # the next frame most likely needs them again, in this order
        lut = renderer.lut_texture(frame)
        previous = self.ctx.fbo
        size = (frame.width, frame.height)
        try:
            target, fbo = renderer._target(size)
            # each ray's acc between passes: for "under" modes acc is their picture (mode_end
            # gives it back as it is), so it is kept in the renderer's target itself
            state, state_fbo = (target, fbo) if kind == "under" else self._scratch("state", size)
            before, before_fbo = self._scratch("before", size)
            state_fbo.use()
            state_fbo.scissor = None
            state_fbo.viewport = (0, 0, frame.width, frame.height)
            state_fbo.clear(1.0 if kind == "minimum" else 0.0, 0.0, 0.0, 0.0)  # mode_begin's acc
            self.ctx.disable(mgl.BLEND | mgl.DEPTH_TEST)
            tables = (self.prepared, self.bound_texture, lut)
            for brick, what, rect in todo:
                held = brick.size
                if what == "constant":
                    tex = self._constant(self._bound(brick, kind))
                    held = (1, 1, 1)
                else:
                    future.pop(0)
                    tex = self._texture(brick, future)
                lo_tex, hi_tex = _own_box_tex(brick, plan)
                uniforms = {
                    "u_dims": tuple(float(n) for n in plan.dims),
                    "u_seg_first": tuple(float(f) for f in brick.first),
                    "u_seg_size": tuple(float(n) for n in held),
                    "u_own_lo_tex": lo_tex,
                    "u_own_hi_tex": hi_tex,
                }
                units = {"u_volume": tex, "u_segment_prev": before}
                renderer.bind_frame(program, frame, mode, tables, uniforms, units)
                # the rays' acc so far, read by the pass (a texture is not read where it is
                # drawn): copied within the brick's footprint (the scissor holds for the copy)
                before_fbo.scissor = rect
                before_fbo.use()
                self.ctx.copy_framebuffer(before_fbo, state_fbo)
                state_fbo.scissor = rect
                state_fbo.use()
                vao.render(mgl.TRIANGLES, vertices=3)
            state_fbo.scissor = before_fbo.scissor = None
            if kind != "under":
                finish, finish_vao = self._finish_program(renderer, mode)
                renderer.bind_frame(finish, frame, mode, tables, {}, {"u_composed": state})
                fbo.use()
                fbo.viewport = (0, 0, frame.width, frame.height)
                finish_vao.render(mgl.TRIANGLES, vertices=3)
            data = fbo.read(components=4, dtype="f4") if read else b""
        finally:
            if lut is not None:
                lut.release()
            for tex in self._constants:
                tex.release()
            self._constants = []
            renderer.rebind(previous)
        return bytes(data)

    def _finish_program(self, renderer: GLRenderer, mode: VisualisationMode) -> Any:
        """The last pass: each pixel's acc through the mode's ``mode_end``."""
        key = ("segment-finish", mode.name, mode.glsl, tuple(mode.parameters))
        return renderer.kept_program(key, lambda: segment_finish_program(mode))

    def release_bricks(self) -> None:
        """Release the bricks' textures and host store (made again as frames need them)."""
        for tex in self._textures.values():
            tex.release()
        self._textures = {}
        if self._store is not None:
            self._store.close()
            self._store = None

    def release(self) -> None:
        """Release every GL object and the host store."""
        self.release_bricks()
        for tex in self._bounds.values():
            tex.release()
        self._bounds = {}
        for _, colour, fbo in self._targets.values():
            fbo.release()
            colour.release()
        self._targets = {}
