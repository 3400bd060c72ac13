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


def _clamped(n: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Indices of the previous and the next voxel along an axis of ``n``, clamped."""
    idx = np.arange(n)
    return np.maximum(idx - 1, 0), np.minimum(idx + 1, n - 1)


def _smooth(a: npt.NDArray[np.int32], axis: int) -> npt.NDArray[np.int32]:
    """``[1, 2, 1]`` along ``axis`` (indices clamped)."""
    down, up = _clamped(a.shape[axis])
    out = np.take(a, down, axis=axis)
    out += np.take(a, up, axis=axis)
    out += 2 * a
    return out


def _difference(a: npt.NDArray[np.int32], axis: int) -> npt.NDArray[np.int32]:
    """``a[+1] - a[-1]`` along ``axis`` (indices clamped: one-sided at the ends)."""
    down, up = _clamped(a.shape[axis])
    out = np.take(a, up, axis=axis)
    out -= np.take(a, down, axis=axis)
    return out


def _texel(s: npt.NDArray[np.int32], dst: Any) -> None:
    s += 1 << 20
    np.right_shift(s, 5, out=s)
    dst[...] = s


def sobel_texels(
    q: npt.NDArray[np.uint16], first: int, z0: int, z1: int, nz: int
) -> npt.NDArray[np.uint16]:
    """The gradient texels ``(z1 - z0, ny, nx, 3)`` (see the module) of slices ``z0 .. z1 - 1``
    of a volume of ``nz`` slices, from ``q``: its quantised slices ``first ..`` covering
    ``z0 - 1 .. z1`` (where the volume has them)."""
    _, ny, nx = q.shape
    out = np.empty((z1 - z0, ny, nx, 3), dtype=np.uint16)
    zs = np.arange(z0, z1)
    up = np.minimum(zs + 1, nz - 1) - first
    down = np.maximum(zs - 1, 0) - first
    mid = zs - first
    a = q[min(down) : max(up) + 1].astype(np.int32)
    base = min(down)
    up, down, mid = up - base, down - base, mid - base

    def along_k(b: npt.NDArray[np.int32]) -> npt.NDArray[np.int32]:  # [1, 2, 1] over k
        s = b[down] + b[up]
        s += 2 * b[mid]
        return s

    # i: difference along i, smoothed along j and k
    _texel(along_k(_smooth(_difference(a, 2), 1)), out[..., 0])
    # j: difference along j, smoothed along i and k
    _texel(along_k(_smooth(_difference(a, 1), 2)), out[..., 1])
    # k: difference along k, smoothed along i and j
    smooth_ij = _smooth(_smooth(a, 2), 1)
    d = smooth_ij[up] - smooth_ij[down]
    _texel(d, out[..., 2])
    return out
