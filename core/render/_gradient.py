"""The surface normal's gradient: a Sobel operator on the quantised voxels, in one compact texture.

Central differences one voxel apart (the textbook gradient of a ray-caster) follow the voxel
grid: on a smooth surface sampled by a few voxels across its edge, the normal's direction swings
with the surface's position inside each voxel, and a shaded surface shows the slices as
contour lines ("wood grain": ripples on a forehead, rings on an eyeball, stripes along a
staircase of voxels). The Sobel operator (the central difference along an axis, smoothed by
``[1, 2, 1] / 4`` along the two others) gives the gradient of a lightly smoothed field, as
volume renderers do for shading (e.g. VTK's and Voreen's gradient filters).

The compact layout (:class:`GradientLayout`)
--------------------------------------------
Shaded dvr reads the gradient from a precomputed texture. One texel per voxel of RGB16 cost 6
bytes per voxel (llvmpipe pads it to RGBA16: 4x the int16 volume), the largest part of a shaded
picture's memory. So the gradient is the Sobel gradient of the volume
*averaged over blocks* of ``f_i x f_j x f_k`` voxels (``f`` = 2 along every axis whose spacing
is at most 1.5x the finest and that has at least 16 voxels, else 1: a 2.5 mm axis beside
0.5 mm ones keeps its resolution, :func:`gradient_factors`), one texel per block, sampled
trilinearly at the block's centre (texel ``t`` holds voxels ``f t .. f t + f - 1``; an odd last
block repeats the last voxel, as the indices are clamped). Isotropic: 1/8 of the texels, RGB8
padded to 4 bytes: 0.5 bytes per voxel (0.25x the volume). A normal is a direction: what
the texture loses is detail finer than two voxels in where the surface turns, never a value,
a colour or an opacity (the transfer function reads the full-resolution volume). And it is
8x cheaper to compute.

The Sobel value of block ``t``: ``v = floor(S / (32 B f_axis))`` per axis, ``S = sum over the
3 x 3 neighbouring blocks across the axis of w (A[+1] - A[-1])``, ``w = (1, 2, 1) x (1, 2, 1)``
(16 in all), ``A`` the blocks' voxel sums (``B = f_i f_j f_k`` voxels each: exact integers,
never rounded), block indices clamped to the volume: the smoothed half difference of the block
means ``2 f`` voxels apart, per voxel, in q units (``q`` the R16 voxels, 0 .. 65535). Every
divisor is a power of two: ``S >> shift`` in int32 (an arithmetic shift floors).

The texel: RGB8 signed normalised (``RGB8_SNORM``), 3 bytes (4 with llvmpipe's padding: 0.5
bytes per voxel, 0.25x the int16 volume; it was RGB16, 0.5x). Signed rather than unsigned with
an offset: llvmpipe filters unsigned 8-bit textures in 8-bit fixed point (the filtered value
rounded to a byte step), signed ones in float as it did RGB16; with unsigned texels GL and the
array renderer's float filtering differed by 4 levels, past the GL-vs-arrays bound of 3.

A byte cannot hold ``v``'s 16 bits, and shading needs neither: ``shade`` in common.glsl
weighs the lit colour by ``w = clamp(|g_lps| SHADE_GAIN, 0, 1)`` (``g_lps`` the gradient per
mm) and lights it by the direction. So each texel holds the gradient *vector* in units where
:data:`FULL_BYTE` (127) steps are a gradient of ``FULL_SCALE / SHADE_GAIN`` per mm: per axis
``h = v * scales[axis]`` (float32, ``scales = 127 / (65535 FULL_SCALE / SHADE_GAIN s_axis)``,
``s`` the spacing, so that byte steps are the same per mm along every axis), a vector longer
than 127 shortened to 127 along its own direction, stored as ``floor(h + 0.5)``
(:func:`encode_texels`, -127 .. 127). The shader reads ``t = byte / 127`` and decodes
``t * units`` (``units = 127 / (65535 scales)``: the gradient per voxel, normalised, as
before), then carries it to LPS as before.

Why a vector and not a unit normal with its magnitude in a fourth byte: trilinear filtering
of the vector is the interpolated gradient, as it was with 16 bits (where two neighbours point
opposite ways, as across a thin plate, they cancel, as they did); interpolating unit normals
would weigh a texel of noise as much as an edge's. What the byte gives up:

- weak gradients round to steps of ``FULL_SCALE / 127`` of the shading weight (w moves by at
  most half a step, 3 % with ``FULL_SCALE`` 8, and the colour by that share of the difference
  between lit and unlit);
- gradients beyond ``FULL_SCALE`` times the one that shades fully (bone, contrast, the air
  around the body) are stored at that length in their own direction: their own shading is
  unchanged (w is 1 from ``1 / FULL_SCALE`` of that length on), but between two such texels
  the filtered direction weighs them alike rather than by strength.

The same bytes from the same float32 operations everywhere (:func:`encode_texels`).

One gradient, the places that compute it:

- the gradient texture (``GRADIENT_TEXTURE`` in ``shaders/common.glsl``, ``GpuVolume``): these
  texels, made slab by slab (:func:`sobel_texels`, ``gradient_slabs`` in ``_setup``);
- the array renderer: the same texels, sampled at the same coordinates (``ArrayContext``);
- the browser (``gradientTexels`` in ``core/serve/static/volume.js``, on its worker), line by
  line, with the factors and scales the server gives per level (:func:`gradient_factors`,
  :func:`gradient_scales`).

Without the texture (over the memory budget; iso's hit normal, read once per ray) GLSL and the
array renderer take the full-resolution Sobel gradient: the same weights on the trilinearly
interpolated field at the 26 whole-voxel offsets around the sample (:data:`SOBEL_OFFSETS`),
which equals the interpolated one-texel-per-voxel gradient except within half a voxel of the
faces. It is a little finer than the texture's (more detail and noise in the shading; the
same opacities and colours before shading): 26 fetches at two-voxel offsets, which would give
the block gradient at the blocks' centres, alias between them (they showed wood grain).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "FULL_BYTE",
    "FULL_SCALE",
    "HALVE_UP_TO",
    "SHADE_GAIN",
    "SHORTEST_HALVED",
    "SOBEL_OFFSETS",
    "SOBEL_SCALE",
    "GradientLayout",
    "encode_texels",
    "gradient_factors",
    "gradient_scales",
    "sobel_gradient",
    "sobel_texels",
]

# How strongly a gradient (normalised value per mm) is shaded: fully from 1 / SHADE_GAIN on
# (``shade`` in common.glsl; ``_setup`` hands it to the programs).
SHADE_GAIN = 100.0
# The texel's byte steps: 0 is a gradient of 0, +-FULL_BYTE one of FULL_SCALE / SHADE_GAIN per
# mm along the axis (the module). FULL_SCALE was chosen by the picture: against the 16-bit
# texels, shaded dvr of a 512x512x300 CT and of the head MR at 512x512 differ by at most 9 and
# 13 of 255 (means 0.11 and 0.06). In a trial (unsigned texels) 4 gave up to 30 and 27 (the
# directions between shortened texels), 16 means twice those of 8 (coarser weak gradients).
# docs/RENDER.md.
FULL_BYTE = 127
FULL_SCALE = 8.0

# An axis is halved when its spacing is at most this many times the finest (with a relative
# tolerance far above float noise and far below any real spacing ratio, so that a spacing
# computed from an affine decides as the stored one does): isotropic and mildly anisotropic
# volumes (0.7 x 0.7 x 1.0 mm CT, 1 x 1 x 1.5 mm) are halved along every axis, while a
# 0.5 x 0.5 x 2.5 mm series keeps its 2.5 mm axis (halved, its normals would follow 5 mm).
HALVE_UP_TO = 1.5
# ...and has at least this many voxels: a shorter axis would keep too few texels for a
# gradient with an inside (and halving it saves little).
SHORTEST_HALVED = 16

# The 26 offsets around a sample with their weight on the gradient along i, j, k:
# offset o (voxels) contributes o_axis * (2 - |o_other1|) * (2 - |o_other2|) to that axis.
# GLSL (common.glsl) and the array renderer walk them in this order (k, then j, then i).
SOBEL_OFFSETS: tuple[tuple[tuple[int, int, int], tuple[float, float, float]], ...] = tuple(
    (
        (i, j, k),
        (
            float(i * (2 - abs(j)) * (2 - abs(k))),
            float(j * (2 - abs(i)) * (2 - abs(k))),
            float(k * (2 - abs(i)) * (2 - abs(j))),
        ),
    )
    for k in (-1, 0, 1)
    for j in (-1, 0, 1)
    for i in (-1, 0, 1)
    if (i, j, k) != (0, 0, 0)
)
SOBEL_SCALE = 1.0 / 32.0  # weights sum to 16 per side; a half difference: 1 / (2 * 16)


def gradient_scales(spacing: Sequence[float]) -> tuple[float, float, float]:
    """Per axis the float32 factor from the Sobel value ``v`` (per voxel, q units) to the
    texel's byte steps, for a volume of ``spacing`` ``(sx, sy, sz)`` mm (see the module):
    ``127 / (65535 FULL_SCALE / SHADE_GAIN s)``. Float32 values, so that the page computes
    with the very same numbers."""
    c = [
        float(np.float32(FULL_BYTE * SHADE_GAIN / (65535.0 * FULL_SCALE * float(s))))
        for s in spacing
    ]
    return (c[0], c[1], c[2])


def gradient_factors(dims: Sequence[int], spacing: Sequence[float]) -> tuple[int, int, int]:
    """Voxels per gradient texel along ``(i, j, k)`` (1 or 2) of a volume of ``dims``
    ``(nx, ny, nz)`` voxels with ``spacing`` ``(sx, sy, sz)`` mm (see the module)."""
    finest = min(float(s) for s in spacing)
    limit = HALVE_UP_TO * finest * (1.0 + 1e-6)
    f = [
        2 if int(n) >= SHORTEST_HALVED and float(s) <= limit else 1
        for n, s in zip(dims, spacing, strict=True)
    ]
    return (f[0], f[1], f[2])


@dataclass(frozen=True)
class GradientLayout:
    """Where the compact gradient's texels lie (see the module).

    Attributes
    ----------
    dims
        The volume's voxels along ``(i, j, k)``.
    factors
        Voxels per texel along ``(i, j, k)``: 1 or 2.
    spacing
        The volume's spacing along ``(i, j, k)``, mm: the texels' byte steps
        (:func:`gradient_scales`).
    """

    dims: tuple[int, int, int]
    factors: tuple[int, int, int]
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)

    @classmethod
    def of(cls, dims: Sequence[int], spacing: Sequence[float]) -> GradientLayout:
        """The layout of a volume of ``dims`` ``(nx, ny, nz)`` and ``spacing`` (mm)."""
        d = (int(dims[0]), int(dims[1]), int(dims[2]))
        s = (float(spacing[0]), float(spacing[1]), float(spacing[2]))
        return cls(d, gradient_factors(d, s), s)

    @property
    def scales(self) -> tuple[float, float, float]:
        """From the Sobel value per voxel to the texel's byte steps, per axis
        (:func:`gradient_scales`)."""
        return gradient_scales(self.spacing)

    @property
    def units(self) -> tuple[float, float, float]:
        """What a texel read as snorm (``byte / 127``) is per axis in the gradient per voxel,
        normalised (q / 65535): ``127 / (65535 scales)``; ``u_gradient_unit``."""
        u = [FULL_BYTE / (65535.0 * c) for c in self.scales]
        return (u[0], u[1], u[2])

    @property
    def texel_dims(self) -> tuple[int, int, int]:
        """Texels along ``(i, j, k)``: ``ceil(dims / factors)``."""
        m = [-(-n // f) for n, f in zip(self.dims, self.factors, strict=True)]
        return (m[0], m[1], m[2])

    @property
    def texels(self) -> int:
        """Texels in all."""
        mx, my, mz = self.texel_dims
        return mx * my * mz

    @property
    def scale(self) -> tuple[float, float, float]:
        """``dims / (factors * texel_dims)`` per axis: the gradient texture's coordinate of a
        sample is its volume texture coordinate times this (1 unless an odd axis was halved:
        the texture then reaches half a voxel beyond the volume). ``gradient_tex`` in GLSL."""
        s = [n / (f * m) for n, f, m in zip(self.dims, self.factors, self.texel_dims, strict=True)]
        return (s[0], s[1], s[2])

    def slices_for(self, g0: int, g1: int) -> tuple[int, int]:
        """The volume's slices ``k0 .. k1 - 1`` that texel slices ``g0 .. g1 - 1`` are made
        from: their blocks and the neighbouring block on each side (the halo), within the
        volume."""
        fk, nz, mz = self.factors[2], self.dims[2], self.texel_dims[2]
        return fk * max(g0 - 1, 0), min(nz, fk * (min(g1, mz - 1) + 1))


def _along(axis: int, part: slice | int) -> tuple[Any, ...]:
    """An index taking ``part`` along ``axis`` (and everything along the others)."""
    return (slice(None),) * axis + (part,)


def _smooth(a: npt.NDArray[np.int32], axis: int) -> npt.NDArray[np.int32]:
    """``[1, 2, 1]`` along ``axis`` (indices clamped), by whole-array slices."""
    n = a.shape[axis]
    out = a + a
    out[_along(axis, slice(1, None))] += a[_along(axis, slice(None, n - 1))]
    out[_along(axis, 0)] += a[_along(axis, 0)]
    out[_along(axis, slice(None, n - 1))] += a[_along(axis, slice(1, None))]
    out[_along(axis, n - 1)] += a[_along(axis, n - 1)]
    return out


def _difference(a: npt.NDArray[np.int32], axis: int) -> npt.NDArray[np.int32]:
    """``a[+1] - a[-1]`` along ``axis`` (indices clamped: one-sided at the ends)."""
    n = a.shape[axis]
    out = np.empty_like(a)
    np.subtract(
        a[_along(axis, slice(2, None))],
        a[_along(axis, slice(None, n - 2))],
        out=out[_along(axis, slice(1, n - 1))],
    )
    out[_along(axis, 0)] = a[_along(axis, min(1, n - 1))] - a[_along(axis, 0)]
    out[_along(axis, n - 1)] = a[_along(axis, n - 1)] - a[_along(axis, max(n - 2, 0))]
    return out


def _pairs(a: npt.NDArray[Any], axis: int) -> npt.NDArray[np.int32]:
    """Sums of the voxel pairs ``2 t, 2 t + 1`` along ``axis``, as int32 (``a`` uint16 or
    int32); an odd last voxel counts twice (the index clamped to the volume). Reads ``a``
    once and writes half of it: no int32 copy of the whole of ``a`` first."""
    n = a.shape[axis]
    shape = list(a.shape)
    shape[axis] = (n + 1) // 2
    out = np.empty(shape, dtype=np.int32)
    even, odd = a[_along(axis, slice(0, n - 1, 2))], a[_along(axis, slice(1, n, 2))]
    whole = out[_along(axis, slice(0, n // 2))]
    if a.dtype == np.int32:
        np.add(even, odd, out=whole)
    else:  # a widening copy, then an add in int32: 3x faster than one casting add
        np.copyto(whole, even)
        whole += odd
    if n % 2:
        last = out[_along(axis, n // 2)]
        np.copyto(last, a[_along(axis, n - 1)])
        last *= 2
    return out


def _to_units(s: npt.NDArray[np.int32], shift: int, scale: float, dst: Any) -> None:
    """``dst = float32(S >> shift) * scale``: the texel's axis in byte steps, unclipped (an
    arithmetic shift floors; ``|S >> shift| < 2^16``, so exact as float32 before the one
    rounded product, as ``Math.fround(v * c)`` on the page)."""
    np.right_shift(s, shift, out=s)
    np.multiply(s, np.float32(scale), out=dst, dtype=np.float32, casting="unsafe")


def encode_texels(h: npt.NDArray[np.float32], out: npt.NDArray[np.int8]) -> None:
    """The RGB8 snorm texels ``out`` (``(..., 3)`` int8) of the gradients ``h`` (``(..., 3)``
    float32 in byte steps: ``v * scales``, see the module): a vector longer than
    :data:`FULL_BYTE` is shortened to it along its own direction, then each axis is
    ``floor(h + 0.5)`` (-127 .. 127). ``h`` is overwritten. Every step is one float32
    operation in this order (``encodeTexels`` in core/serve/static/volume.js repeats it with
    ``Math.fround``: the same bytes)."""
    n2 = h[..., 0] * h[..., 0]
    n2 += h[..., 1] * h[..., 1]
    n2 += h[..., 2] * h[..., 2]
    over = n2 > np.float32(FULL_BYTE * FULL_BYTE)
    if over.any():
        shorten = np.float32(FULL_BYTE) / np.sqrt(n2[over])
        h[over] *= shorten[:, None]
    h += np.float32(0.5)
    np.floor(h, out=h)
    np.copyto(out, h, casting="unsafe")  # -127 .. 127: whole numbers, the cast changes nothing


def sobel_gradient(
    q: npt.NDArray[np.uint16], first: int, g0: int, g1: int, layout: GradientLayout
) -> npt.NDArray[np.float32]:
    """The gradients ``(g1 - g0, my, mx, 3)`` of texel slices ``g0 .. g1 - 1`` of ``layout``
    before their encoding: per axis ``floor(S / (32 B f_axis)) * scales[axis]`` (float32;
    the Sobel gradient per voxel in q units, in the texel's byte steps; see the module), from
    ``q``: the volume's quantised slices ``first ..`` covering ``layout.slices_for(g0, g1)``."""
    fi, fj, fk = layout.factors
    mx, my, mz = layout.texel_dims
    ci, cj, ck = layout.scales
    k0, k1 = layout.slices_for(g0, g1)
    out = np.empty((g1 - g0, my, mx, 3), dtype=np.float32)
    # the block sums of texel slices g0 - 1 .. g1 (exact integers: at most 8 x 65535)
    a: npt.NDArray[Any] = q[k0 - first : k1 - first]
    for axis, f in ((0, fk), (1, fj), (2, fi)):  # the contiguous axes first: less to stride
        if f == 2:
            a = _pairs(a, axis)
    if a.dtype != np.int32:  # no axis halved
        a = a.astype(np.int32)
    # the first and last block slice repeated beyond the volume's ends (the clamped indices),
    # so that the neighbours along k are whole-array slices
    if g0 == 0:
        a = np.concatenate([a[:1], a])
    if g1 == mz:
        a = np.concatenate([a, a[-1:]])
    # S / (32 B f_axis) = S >> shift: B = fi fj fk voxels per block, f_axis the block's length
    # along the axis (the difference spans 2 f_axis voxels)
    block = (fi * fj * fk).bit_length() - 1
    shift_i, shift_j, shift_k = (5 + block + f.bit_length() - 1 for f in (fi, fj, fk))

    def along_k(b: npt.NDArray[np.int32]) -> npt.NDArray[np.int32]:  # [1, 2, 1] over k
        s = b[:-2] + b[2:]
        s += 2 * b[1:-1]
        return s

    # The three operators act on one axis each (clamping only along their own), so they
    # commute, exactly in integers: the smoothing along k is made once for the i and j
    # gradients (three whole-slab passes fewer than one per gradient).
    smooth_k = along_k(a)
    # i: difference along i, smoothed along j and k
    _to_units(_difference(_smooth(smooth_k, 1), 2), shift_i, ci, out[..., 0])
    # j: difference along j, smoothed along i and k
    _to_units(_difference(_smooth(smooth_k, 2), 1), shift_j, cj, out[..., 1])
    del smooth_k
    # k: difference along k, smoothed along i and j
    smooth_ij = _smooth(_smooth(a, 2), 1)
    _to_units(smooth_ij[2:] - smooth_ij[:-2], shift_k, ck, out[..., 2])
    return out


def sobel_texels(
    q: npt.NDArray[np.uint16], first: int, g0: int, g1: int, layout: GradientLayout
) -> npt.NDArray[np.int8]:
    """The RGB8 snorm gradient texels ``(g1 - g0, my, mx, 3)`` (see the module) of texel slices
    ``g0 .. g1 - 1`` of ``layout``: :func:`sobel_gradient` through :func:`encode_texels`."""
    h = sobel_gradient(q, first, g0, g1, layout)
    out = np.empty(h.shape, dtype=np.int8)
    encode_texels(h, out)
    return out
