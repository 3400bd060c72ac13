"""SimpleITK, optional: the guarded import and the exact Volume -> ``sitk.Image`` conversion.

About the conventions
---------------------
An ownscan :class:`~ownscan.core.volume.Volume` keeps ``voxels[k, j, i]`` (numpy ``(z, y, x)``)
and maps the index ``(i, j, k)`` to LPS millimetres with ``origin + direction @ (spacing * ijk)``,
``direction``'s columns being the LPS unit vectors of ``i``, ``j`` and ``k``
(:attr:`Volume.affine`). ITK uses the same patient system (LPS) and the same formula, with its
index in ``(x, y, z)`` = ``(i, j, k)`` order and its direction a row-major 3x3 matrix whose
*columns* are the axis directions. ``sitk.GetImageFromArray`` reads a numpy ``(z, y, x)``
array as an image of size ``(x, y, z)``. So the conversion is a copy of the four pieces with
no axis swapped and no sign changed; ``tests/core/compare/test_sitk.py`` pins it point by point
against ``Volume.index_to_lps``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ownscan.core.errors import OwnscanError

if TYPE_CHECKING:
    from ownscan.core.volume import Volume

__all__ = ["INSTALL_HINT", "is_available", "require_sitk", "to_sitk"]

INSTALL_HINT = "pip install ownscan[compare]"


def is_available() -> bool:
    """True when SimpleITK can be imported."""
    try:
        import SimpleITK  # noqa: F401
    except ImportError:
        return False
    return True


def require_sitk() -> Any:
    """The SimpleITK module, or an error that says how to install it."""
    try:
        import SimpleITK as sitk
    except ImportError as exc:
        raise OwnscanError(
            f"registration needs SimpleITK, which is not installed ({exc}); "
            f"run `{INSTALL_HINT}`, or compare in scanner coordinates (--no-register)"
        ) from None
    return sitk


def to_sitk(
    volume: Volume, voxels: np.ndarray | None = None, *, dtype: npt.DTypeLike | None = np.float32
) -> Any:
    """A ``sitk.Image`` with exactly the Volume's geometry (``Volume.affine``).

    Parameters
    ----------
    volume
        A grey (one sample per voxel) Volume.
    voxels
        Other voxels on the same grid (same ``(z, y, x)`` shape) to put in the image instead.
    dtype
        The pixel type (float32 by default; ``None`` keeps the voxels' own type).
    """
    sitk = require_sitk()
    data = volume.voxels if voxels is None else voxels
    if data.ndim != 3:
        raise ValueError(f"registration needs a grey volume, got voxels of shape {data.shape}")
    if data.shape != volume.shape:
        raise ValueError(f"voxels of shape {data.shape} do not fit the grid {volume.shape}")
    image = sitk.GetImageFromArray(np.ascontiguousarray(data, dtype=dtype))
    image.SetSpacing([float(s) for s in volume.spacing])
    image.SetOrigin([float(o) for o in volume.origin])
    # ITK's direction is row-major with the axis directions as columns, like Volume.direction
    image.SetDirection([float(d) for d in np.asarray(volume.direction).ravel()])
    return image
