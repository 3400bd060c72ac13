"""The surface normal's gradient: a Sobel operator on the quantised voxels.

Central differences one voxel apart (the textbook gradient of a ray-caster) follow the voxel
grid: on a smooth surface sampled by a few voxels across its edge, the normal's direction swings
with the surface's position inside each voxel, and a shaded surface shows the slices as
contour lines ("wood grain": ripples on a forehead, rings on an eyeball, stripes along a
staircase of voxels). The Sobel operator (the central difference along an axis, smoothed by
``[1, 2, 1] / 4`` along the two others) gives the gradient of a lightly smoothed field, as
volume renderers do for shading (e.g. VTK's and Voreen's gradient filters).

One gradient, three places that compute it:

- the gradient texture (``GRADIENT_TEXTURE`` in ``shaders/common.glsl``): these texels, one per
  voxel, made on upload (:func:`sobel_texels`);
- GLSL without that texture (``gradient_lps`` in ``common.glsl``) and the array renderer:
  the same weights on the trilinearly interpolated field at the 26 integer offsets around the
  sample. Shifting by whole voxels commutes with trilinear interpolation, so this is the
  interpolated texel except within half a voxel of the volume's faces (clamping) and for the
  texels' rounding;
- the browser (``gradientTexels`` in ``core/serve/static/volume.js``), line by line.

Texel: ``32768 + floor(S / 32)`` per axis, ``S = sum over the 3 x 3 neighbours across the
axis of w (q[+1] - q[-1])``, ``w = (1, 2, 1) x (1, 2, 1)`` (16 in all), indices clamped to
the volume: ``S / 32`` is the smoothed half difference, as ``floor((q[+1] - q[-1]) / 2)`` was.
Computed as ``(S + 2^20) >> 5`` in int32 (never negative, at most 65535).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["SOBEL_OFFSETS", "SOBEL_SCALE", "sobel_texels"]

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


def _texel(s: npt.NDArray[np.int32], dst: Any) -> None:
    # (S + 2^20) >> 5 == (S >> 5) + 2^15 (an arithmetic shift floors): two passes, not three
    np.right_shift(s, 5, out=s)
    np.add(s, 1 << 15, out=dst, casting="unsafe")  # 0 .. 65535: the cast changes nothing


def sobel_texels(
    q: npt.NDArray[np.uint16], first: int, z0: int, z1: int, nz: int
) -> npt.NDArray[np.uint16]:
    """The gradient texels ``(z1 - z0, ny, nx, 3)`` (see the module) of slices ``z0 .. z1 - 1``
    of a volume of ``nz`` slices, from ``q``: its quantised slices ``first ..`` covering
    ``z0 - 1 .. z1`` (where the volume has them)."""
    _, ny, nx = q.shape
    out = np.empty((z1 - z0, ny, nx, 3), dtype=np.uint16)
    # slices z0 - 1 .. z1, the volume's first and last slice repeated beyond its ends (the
    # clamped indices), so that the neighbours along k are whole-array slices
    a = q[max(z0 - 1, 0) - first : min(z1, nz - 1) + 1 - first].astype(np.int32)
    if z0 == 0:
        a = np.concatenate([a[:1], a])
    if z1 == nz:
        a = np.concatenate([a, a[-1:]])

    def along_k(b: npt.NDArray[np.int32]) -> npt.NDArray[np.int32]:  # [1, 2, 1] over k
        s = b[:-2] + b[2:]
        s += 2 * b[1:-1]
        return s

    # The three operators act on one axis each (clamping only along their own), so they
    # commute, exactly in integers: the smoothing along k is made once for the i and j
    # gradients (three whole-slab passes fewer than one per gradient).
    smooth_k = along_k(a)
    # i: difference along i, smoothed along j and k
    _texel(_difference(_smooth(smooth_k, 1), 2), out[..., 0])
    # j: difference along j, smoothed along i and k
    _texel(_difference(_smooth(smooth_k, 2), 1), out[..., 1])
    del smooth_k
    # k: difference along k, smoothed along i and j
    smooth_ij = _smooth(_smooth(a, 2), 1)
    _texel(smooth_ij[2:] - smooth_ij[:-2], out[..., 2])
    return out
