"""A volume on the GPU: one object for every program that samples it.

The ray-caster (:class:`~ownscan.core.render.GLRenderer`) and the viewer's 2D views sample the
same textures: the voxels of a :class:`~ownscan.core.render.PreparedVolume` (R16 unorm,
``q / 65535`` over the volume's value range, averaged by whole factors when the volume exceeds
the GPU's limits or the memory budget, split into up to four bricks in i, j and k that overlap
by one voxel when it is larger than the largest 3D texture; written slab by slab, never copied
whole on the host), and, made on first use, the
precomputed gradient and the per-brick value bounds the ray-caster's skipping reads. One
upload, one downsampling rule (:func:`~ownscan.core.render._setup.downsample_factors`), one
window maths (:meth:`PreparedVolume.window`, ``window_level`` in ``shaders/common.glsl``).

A colour volume (ultrasound, secondary capture) is kept as RGB8 for the 2D views; the
ray-caster draws grey volumes only.

Also here: the small GL helpers both users share (a program from one shader file, setting a
uniform the compiler may have dropped, a matrix as GLSL wants it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ownscan.core.render._gradient import GradientLayout
from ownscan.core.render._readback import texture_reader
from ownscan.core.render._setup import (
    PreparedVolume,
    downsample_factors,
    downsampled,
    each_slab,
    gradient_layout,
    gradient_slabs,
    pooled_bounds,
    prepare_volume,
)
from ownscan.core.render._shaders import stage_program
from ownscan.core.render._snorm import SnormRefused, snorm_texture3d
from ownscan.core.volume import Volume

__all__ = [
    "DEFAULT_BUDGET",
    "MAX_BRICKS",
    "GpuVolume",
    "gl_matrix",
    "gradient_fits",
    "program",
    "set_uniform",
    "texture3d",
    "volume_limits",
]

DEFAULT_BUDGET = 2 << 30  # bytes of GPU memory the volume texture may take
_SMALLEST_BUDGET = 1 << 20  # below this a refused volume is an error, not averaged further


_Range = tuple[int, int]  # (first, last) voxel or texel of a brick along an axis
_Grid = tuple[list[_Range], list[_Range], list[_Range]]  # the ranges along i, j and k


class _NoRoom(Exception):
    """The GL refused a texture's storage (GL_OUT_OF_MEMORY): the texture would have none."""


MAX_BRICKS = 4  # in all; shaders/common.glsl samples at most this many volume textures


def _axis_bricks(n: int, max_texture: int) -> int:
    """Bricks along an axis of ``n`` voxels (they overlap by one voxel)."""
    return 1 if n <= max_texture else -(-(n - 1) // (max_texture - 1))


def brick_ranges(n: int, max_texture: int) -> list[tuple[int, int]]:
    """``(first, last)`` voxel of each brick along an axis of ``n`` voxels (one of overlap)."""
    if n <= max_texture:
        return [(0, n - 1)]
    step = max_texture - 1
    return [(a, min(a + step, n - 1)) for a in range(0, n - 1, step)]


def volume_limits(max_texture: int, shape: Sequence[int] | None = None) -> tuple[int, int, int]:
    """Largest volume along ``(i, j, k)`` for 3D textures of ``max_texture`` per side.

    A volume within the limits is split into at most :data:`MAX_BRICKS` bricks in all, along
    whichever axes exceed ``max_texture`` (``shape`` ``(nz, ny, nx)``: the volume's, when
    known). When its own split would need more bricks, or without ``shape``: bricks along
    ``k`` only (the limits a volume is averaged down to)."""
    deep = (max_texture, max_texture, MAX_BRICKS * (max_texture - 1) + 1)
    if shape is None:
        return deep
    z, y, x = (int(n) for n in shape[:3])
    counts = [_axis_bricks(n, max_texture) for n in (x, y, z)]
    if counts[0] * counts[1] * counts[2] > MAX_BRICKS:
        return deep
    lim = [c * (max_texture - 1) + 1 if c > 1 else max_texture for c in counts]
    return (lim[0], lim[1], lim[2])


def gradient_fits(prepared: PreparedVolume, memory_budget: int) -> bool:
    """Whether the precomputed gradient (RGB8 snorm, which the GL pads to 4 bytes per texel
    of its compact layout: about 0.5 bytes per voxel) fits the budget with the volume (2 bytes
    per voxel)."""
    return gradient_fits_dims(prepared.dims, prepared.volume.spacing, memory_budget)


def gradient_fits_dims(
    dims: tuple[int, int, int], spacing: Sequence[float], memory_budget: int
) -> bool:
    """:func:`gradient_fits` of a volume drawn at ``dims`` ``(nx, ny, nz)`` and ``spacing``."""
    nx, ny, nz = dims
    return 2 * nx * ny * nz + 4 * GradientLayout.of(dims, spacing).texels <= memory_budget


def gl_matrix(m: npt.ArrayLike) -> bytes:
    """A numpy matrix as GLSL wants it: column-major float32 (for ``uniform.write``)."""
    return np.asarray(m, dtype=np.float32).T.tobytes()


def set_uniform(prog: Any, name: str, value: object) -> None:
    """Set a uniform if the compiler kept it (moderngl raises KeyError for removed ones)."""
    if name in prog:
        prog[name].value = value


def program(ctx: Any, name: str, defines: Sequence[str] = ()) -> Any:
    """A moderngl program from one file of ``ownscan.shaders`` holding both stages.

    The file is compiled twice, with ``VERTEX_SHADER`` and with ``FRAGMENT_SHADER`` defined
    (and ``defines``, e.g. ``"BRICKS 2"``); its ``#include "ownscan/..."`` lines are expanded
    (:func:`~ownscan.core.render._shaders.stage_program`, which the browser's page compiles
    too).
    """
    src = stage_program(name, defines)
    return ctx.program(
        vertex_shader="#version 330 core\n" + src.vertex,
        fragment_shader="#version 330 core\n" + src.fragment,
    )


def texture3d(
    ctx: Any,
    size: tuple[int, int, int],
    components: int,
    data: npt.NDArray[Any] | None,
    dtype: str,
) -> Any:
    """A linearly filtered 3D texture, clamped to its edges (``data`` None: written later).
    moderngl's ``'u2'`` would be an integer texture that a ``sampler3D`` reads as 0, hence
    the normalised ``'nu2'``. Raises _NoRoom when the GL refuses its storage.

    moderngl holds the GIL through ``glTexImage3D`` (llvmpipe clears the storage: 80 ms for
    150 MiB). Making the storage through ctypes, with the GIL let go, was tried and measured
    no faster on this 2-core machine; it needed moderngl's private constructor, so it was
    not kept (docs/RENDER.md)."""
    import moderngl

    buf = None if data is None else np.ascontiguousarray(data).data
    tex = ctx.texture3d(size, components, buf, dtype=dtype, alignment=1)
    if ctx.error == "GL_OUT_OF_MEMORY":  # a texture without storage samples garbage
        tex.release()
        raise _NoRoom(f"{size[0]}x{size[1]}x{size[2]} x {components} x {dtype}")
    tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
    tex.repeat_x = tex.repeat_y = tex.repeat_z = False  # clamp to edge
    return tex


class GpuVolume:
    """A Volume's voxels as 3D textures, shared by the ray-caster and the viewer's 2D views.

    Parameters
    ----------
    ctx
        The moderngl context the textures live in.
    volume
        The data. Grey volumes are prepared (quantised, cached per volume) with
        :func:`~ownscan.core.render.prepare_volume`; colour volumes are kept as RGB8.
    max_texture
        Largest 3D texture side; None: the context's ``GL_MAX_3D_TEXTURE_SIZE``.
    memory_budget
        Largest volume texture in bytes; a bigger volume is averaged by whole factors
        (geometry kept exact) with a note in :attr:`notes`.

    Attributes
    ----------
    source
        The volume given.
    prepared
        What the textures hold (None for a colour volume).
    volume
        The volume on the GPU: ``source``, or its downsampled version.
    textures
        One texture per brick (one unless larger than ``max_texture`` along an axis), ``i``
        fastest, then ``j``, then ``k``.
    brick_grid
        Along ``i``, ``j`` and ``k``: the ``(first, last)`` voxel of each brick.
    brick_ranges
        ``(first, last)`` slice of each brick along ``k``.
    notes
        What the user must know (the volume was downsampled).
    """

    def __init__(
        self,
        ctx: Any,
        volume: Volume,
        max_texture: int | None = None,
        memory_budget: int = DEFAULT_BUDGET,
    ) -> None:
        self.ctx = ctx
        self.source = volume
        self.max_texture = int(max_texture or ctx.info["GL_MAX_3D_TEXTURE_SIZE"])
        self.memory_budget = int(memory_budget)
        self.rgb = volume.samples != 1
        self.prepared: PreparedVolume | None = None
        self._gradients: list[Any] | None = None
        self._gradient_partial: list[Any] | None = None  # being written by write_gradient_slab
        self._gradient_next = 0  # the texel slice write_gradient_slab expects next
        self._gradient_refused = False  # the GL had no room for the gradient textures
        self._bounds: dict[str, Any] = {}
        if self.rgb:
            self.volume, self.notes = self._fit_colour(volume)
            v = self.volume.voxels
            rgb = v[..., :3] if v.shape[-1] >= 3 else np.repeat(v[..., :1], 3, axis=-1)
            data = np.ascontiguousarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8))
            z, y, x = self.volume.shape
            self.brick_grid = ([(0, x - 1)], [(0, y - 1)], [(0, z - 1)])
            try:
                self.textures = [self._texture3d((x, y, z), 3, data, "nu1")]
            except _NoRoom as exc:
                raise MemoryError(f"the GPU cannot hold this volume: {exc}") from None
            return
        budget = self.memory_budget
        written: list[int] = []  # slices the preparation wrote into the textures
        while True:
            try:
                self._prepare_grey(volume, budget, written)
                break
            except _NoRoom as exc:
                # the GL refused the storage (llvmpipe: a texture of more than about 1.6
                # GiB): averaged down by the one rule, to half of what was refused
                nx, ny, nz = self._dims
                budget = min(budget, 2 * nx * ny * nz) // 2
                if budget < _SMALLEST_BUDGET:
                    raise MemoryError(f"the GPU cannot hold this volume: {exc}") from None
                self.memory_budget = budget
                written.clear()
        if self.memory_budget != memory_budget:
            self.notes.append(
                f"the GPU refused a texture of the volume's size: drawn within "
                f"{self.memory_budget / 2**20:.0f} MiB"
            )
        p = self.prepared
        assert p is not None
        nz = p.dims[2]
        if sum(written) != nz:  # prepared before (cached): written from its slabs
            # slab by slab (quantised on other threads): no second host copy of the volume
            each_slab(p, lambda z0, q: self._write_bricks(self.textures, z0, q))

    def _prepare_grey(self, volume: Volume, budget: int, written: list[int]) -> None:
        """Prepare ``volume`` within ``budget`` and make its textures. A volume kept at full
        size gets its textures' storage while the preparation's first pass (the block bounds)
        runs on other threads, and each quantised slab written as the preparation makes it
        (one quantisation pass, not two; ``written`` collects the slices); otherwise they are
        made after. Raises _NoRoom when the GL refuses a texture."""
        factors = downsample_factors(volume, self.limits, budget)
        full = factors == (1, 1, 1)
        self.textures = []
        if full:
            z, y, x = volume.shape[:3]
            self._set_grid((x, y, z))

            def storage() -> None:  # while the block bounds are made on other threads
                self.textures = self._textures(1)

            def write(k0: int, q: npt.NDArray[np.uint16]) -> None:
                self._write_bricks(self.textures, k0, q)
                written.append(len(q))

        self.prepared = prepare_volume(
            volume,
            self.limits,
            budget,
            on_slab=write if full else None,
            meanwhile=storage if full else None,
        )
        self.volume = self.prepared.volume
        self.notes = list(self.prepared.notes)
        if not self.textures:  # downsampled, or prepared before (cached)
            self._set_grid(self.prepared.dims)
            self.textures = self._textures(1)

    def _set_grid(self, dims: tuple[int, int, int]) -> None:
        """The bricks of a volume of ``dims`` ``(nx, ny, nz)``."""
        self._dims = dims
        t = self.max_texture
        self.brick_grid = (
            brick_ranges(dims[0], t),
            brick_ranges(dims[1], t),
            brick_ranges(dims[2], t),
        )

    @property
    def limits(self) -> tuple[int, int, int]:
        """Largest size along ``(i, j, k)`` (see :func:`volume_limits`)."""
        return volume_limits(self.max_texture, self.source.shape)

    @property
    def brick_ranges(self) -> list[tuple[int, int]]:
        """``(first, last)`` slice of each brick along ``k``."""
        return list(self.brick_grid[2])

    def _bricks(self, grid: _Grid | None = None) -> list[tuple[_Range, _Range, _Range]]:
        """The voxel (texel) ranges along i, j, k of each brick of ``grid`` (the volume's
        when None), in the textures' order."""
        gi, gj, gk = grid or self.brick_grid
        return [(ri, rj, rk) for rk in gk for rj in gj for ri in gi]

    def _brick_sizes(self, grid: _Grid | None = None) -> list[tuple[int, int, int]]:
        return [
            (i1 - i0 + 1, j1 - j0 + 1, k1 - k0 + 1)
            for (i0, i1), (j0, j1), (k0, k1) in self._bricks(grid)
        ]

    @property
    def gradient_grid(self) -> _Grid:
        """Along i, j and k: the ``(first, last)`` texel of each brick of the gradient
        texture, split by the volume's rule on its own (compact) size: never more bricks
        along an axis than the volume has."""
        assert self.prepared is not None, "colour volumes have no gradient"
        t = self.max_texture
        mx, my, mz = gradient_layout(self.prepared).texel_dims
        return (brick_ranges(mx, t), brick_ranges(my, t), brick_ranges(mz, t))

    def _fit_colour(self, volume: Volume) -> tuple[Volume, list[str]]:
        """A colour volume averaged (by the one rule) to fit one 3D texture of RGB8."""
        limits = (self.max_texture,) * 3
        factors = downsample_factors(volume, limits, self.memory_budget, bytes_per_voxel=3)
        if factors == (1, 1, 1):
            return volume, []
        small, note = downsampled(volume, factors, limits, self.memory_budget, "the GPU")
        return small, [note]

    def _write_bricks(
        self, textures: list[Any], z0: int, slab: npt.NDArray[Any], grid: _Grid | None = None
    ) -> None:
        """Write slices ``z0 ..`` (``slab``, ``(n, ny, nx[, c])``) into every brick of
        ``grid`` (the volume's when None) holding them (bricks overlap by one voxel)."""
        z1 = z0 + len(slab)
        for tex, ((i0, i1), (j0, j1), (k0, k1)) in zip(textures, self._bricks(grid), strict=True):
            a, b = max(z0, k0), min(z1, k1 + 1)
            if a < b:
                part = np.ascontiguousarray(slab[a - z0 : b - z0, j0 : j1 + 1, i0 : i1 + 1])
                viewport = (0, 0, a - k0, i1 - i0 + 1, j1 - j0 + 1, b - a)
                tex.write(part.data, viewport=viewport, alignment=1)

    def _textures(self, components: int, grid: _Grid | None = None) -> list[Any]:
        """One empty R16 (``components`` 1: the voxels) or RGB8 snorm (3: the gradient,
        ``_gradient``, ``_snorm``) texture per brick of ``grid`` (the volume's when None);
        raises _NoRoom (after releasing those made) when the GL refuses one, or makes no
        signed textures."""
        made: list[Any] = []
        try:
            for size in self._brick_sizes(grid):
                if components == 1:
                    made.append(self._texture3d(size, components, None, "nu2"))
                    continue
                try:
                    tex = snorm_texture3d(self.ctx, size)
                except SnormRefused as exc:
                    raise _NoRoom(str(exc)) from exc
                if tex is None:  # this GL makes no signed textures: 26 fetches per gradient
                    raise _NoRoom("no RGB8_SNORM 3D textures")
                made.append(tex)
        except _NoRoom:
            for tex in made:
                tex.release()
            raise
        return made

    def _texture3d(
        self,
        size: tuple[int, int, int],
        components: int,
        data: npt.NDArray[Any] | None,
        dtype: str,
    ) -> Any:
        """See :func:`texture3d`."""
        return texture3d(self.ctx, size, components, data, dtype)

    def gradient_textures(self) -> list[Any]:
        """The precomputed Sobel gradient in its compact layout (RGB8 snorm, one texel per
        block of voxels, see ``_gradient`` and ``gradient_texels``), bricked by
        :attr:`gradient_grid`, made on first use (slab by slab: the whole texel array is
        never held) unless :meth:`write_gradient_slab` brought them; empty when volume and
        gradient would not fit the budget together, or the GL refused their storage (the
        shaders then take 26 volume fetches per gradient)."""
        if self._gradients is None:
            self._gradients = []
            p = self.prepared
            assert p is not None, "colour volumes have no gradient"
            if gradient_fits(p, self.memory_budget) and not self._gradient_refused:
                grid = self.gradient_grid
                try:
                    self._gradients = self._textures(3, grid)
                except _NoRoom:  # 26 fetches per gradient, as over the budget
                    self._gradient_refused = True
                else:
                    slab, here = self._gradient_source()
                    for g0, part in gradient_slabs(gradient_layout(p), slab, here):
                        self._write_bricks(self._gradients, g0, part, grid)
            self._release_partial_gradient()
        return self._gradients

    def _gradient_source(self) -> tuple[Callable[[int, int], npt.NDArray[np.uint16]], bool]:
        """Where the gradient reads the quantised voxels, and whether on the calling thread:
        the volume's own texture read back (``_readback``: the same numbers, a copy rather
        than a second quantisation) when it is one texture and this GL can read it; else
        :meth:`PreparedVolume.slab` (a view of the kept copy, or quantised again) on the
        gradient's threads."""
        p = self.prepared
        assert p is not None
        if p.materialised or len(self.textures) != 1:
            return p.slab, False
        reader = texture_reader(self.ctx)
        if reader is None:
            return p.slab, False
        tex = self.textures[0]
        return (lambda k0, k1: reader(tex, k0, k1)), True

    def write_gradient_slab(self, g0: int, texels: npt.NDArray[np.int8]) -> bool:
        """Write texel slices ``g0 ..`` of the precomputed gradient, computed elsewhere (the
        viewer's loader thread streams ``gradient_slabs``): slabs in order from slice 0; the
        textures serve :meth:`gradient_textures` once the last slab is in. False (nothing
        written) when the gradient does not fit the budget or is made already.

        Raises
        ------
        ValueError
            A slab out of order (a gap would leave part of the gradient unwritten), or of
            another layout than this volume's.
        """
        p = self.prepared
        assert p is not None, "colour volumes have no gradient"
        if self._gradients is not None or not gradient_fits(p, self.memory_budget):
            return False
        if self._gradient_refused:
            return False
        if g0 != self._gradient_next:
            raise ValueError(f"gradient slab at slice {g0}, expected {self._gradient_next}")
        mx, my, mz = gradient_layout(p).texel_dims
        if texels.shape[1:] != (my, mx, 3) or g0 + len(texels) > mz:
            raise ValueError(
                f"gradient slab of {texels.shape[:3]} texels at slice {g0}: this volume's "
                f"gradient is {mz}x{my}x{mx} texels"
            )
        grid = self.gradient_grid
        if self._gradient_partial is None:
            try:
                self._gradient_partial = self._textures(3, grid)
            except _NoRoom:  # 26 fetches per gradient, as over the budget
                self._gradient_refused = True
                return False
        self._write_bricks(self._gradient_partial, g0, texels, grid)
        self._gradient_next = g0 + len(texels)
        if self._gradient_next >= mz:  # complete
            self._gradients, self._gradient_partial = self._gradient_partial, None
        return True

    def gradient_uniforms(self) -> dict[str, Any]:
        """The uniforms with which ``sample_gradient`` (shaders/common.glsl) reads the compact
        gradient texture: voxels per texel, texels, and its own bricks."""
        p = self.prepared
        assert p is not None, "colour volumes have no gradient"
        layout = gradient_layout(p)
        values: dict[str, Any] = {
            "u_gradient_step": tuple(float(f) for f in layout.factors),
            "u_gradient_dims": tuple(float(m) for m in layout.texel_dims),
            "u_gradient_unit": layout.units,
        }
        if len(self.textures) > 1:
            grid = self.gradient_grid
            values["u_gradient_brick_step"] = (float(self.max_texture - 1),) * 3
            values["u_gradient_brick_count"] = tuple(float(len(g)) for g in grid)
            values["u_gradient_brick_last"] = tuple(float(g[-1][1] - g[-1][0] + 1) for g in grid)
        return values

    def _release_partial_gradient(self) -> None:
        for tex in self._gradient_partial or []:
            tex.release()
        self._gradient_partial = None

    def bound_texture(self, kind: str) -> Any:
        """Per RUNNING_BRICK brick the largest (``kind`` "maximum") or smallest ("minimum")
        normalised value (``block_max`` / ``block_min`` pooled, R32F), for MIP / MinIP
        skipping; made on first use."""
        if kind not in self._bounds:
            import moderngl

            p = self.prepared
            assert p is not None, "colour volumes have no value bounds"
            largest = kind == "maximum"
            table = pooled_bounds(p.block_hi if largest else p.block_lo, largest)
            nbz, nby, nbx = table.shape
            data = table.tobytes()
            tex = self.ctx.texture3d((nbx, nby, nbz), 1, data, dtype="f4")
            tex.filter = (moderngl.NEAREST, moderngl.NEAREST)
            self._bounds[kind] = tex
        return self._bounds[kind]

    def volume_uniforms(self) -> dict[str, Any]:
        """The uniforms with which ``sample_volume`` (shaders/common.glsl) reads the bricks."""
        z, y, x = self.volume.shape
        values: dict[str, Any] = {"u_dims": (float(x), float(y), float(z))}
        if len(self.textures) > 1:
            step = float(self.max_texture - 1)
            values["u_brick_step"] = (step, step, step)
            values["u_brick_count"] = tuple(float(len(g)) for g in self.brick_grid)
            values["u_brick_last"] = tuple(float(g[-1][1] - g[-1][0] + 1) for g in self.brick_grid)
        return values

    def texture_units(self) -> dict[str, Any]:
        """``u_volume``, ``u_volume1``...: the sampler names of the bricks and their textures."""
        return {f"u_volume{b or ''}": tex for b, tex in enumerate(self.textures)}

    def window(self, width: float, level: float) -> tuple[float, float]:
        """The normalised grey ramp of ``width`` / ``level`` in the volume's units."""
        assert self.prepared is not None, "colour volumes are shown without a window"
        return self.prepared.window(width, level)

    def release(self) -> None:
        """Release every texture (the prepared arrays stay cached with the volume)."""
        for tex in [*self.textures, *(self._gradients or []), *self._bounds.values()]:
            tex.release()
        self._release_partial_gradient()
        self.textures = []
        self._gradients = None
        self._gradient_next = 0
        self._bounds = {}
