"""The prior's 3D camera that shows what the current's camera shows, through a registration.

Shared by the desktop viewer's compare view (``ownscan.core.viewer._compare_state``) and the
page's (``ownscan.core.serve._compare``): one place for the maths, so both viewers turn the
prior the same way.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from ownscan.core.render import Camera
    from ownscan.core.volume import Volume

__all__ = ["linked_camera"]


class Orbit(Protocol):
    """What :func:`linked_camera` reads of a camera (a render ``Camera`` or the viewer's)."""

    @property
    def zoom(self) -> float: ...

    @property
    def pan_mm(self) -> tuple[float, float]: ...

    def basis_lps(self) -> npt.NDArray[np.float64]: ...


def _box_centre_lps(volume: Volume) -> npt.NDArray[np.float64]:
    # the point a Camera orbits (the renderer's frame_for): the centre of the voxel grid
    z, y, x = volume.shape
    return np.asarray(
        volume.index_to_lps(np.array([(x - 1) / 2.0, (y - 1) / 2.0, (z - 1) / 2.0])),
        dtype=np.float64,
    )


def linked_camera(
    camera: Orbit,
    current: Volume,
    prior: Volume,
    matrix: npt.ArrayLike,
    size: tuple[int, int],
    mm_per_px: float | None = None,
) -> Camera:
    """The prior's camera that shows what ``camera`` shows of ``current``, through ``matrix``
    (current LPS -> prior LPS, :class:`~ownscan.core.compare.Registration`'s): the view
    directions turned by the matrix's rotation, the same point at the picture's centre and the
    same mm per pixel.

    Parameters
    ----------
    camera
        The current's camera (its pan and zoom included).
    current, prior
        The two volumes; each camera orbits its own volume's centre.
    matrix
        4x4, current LPS mm -> prior LPS mm.
    size
        The picture's (width, height) in pixels.
    mm_per_px
        The current picture's pixel size in mm; by default the renderer's
        (:func:`ownscan.core.render._setup.view_pixel_mm`).

    Returns
    -------
    Camera
        Orthographic, with roll (a rotation has three angles).
    """
    from ownscan.core.render import Camera
    from ownscan.core.render._setup import view_pixel_mm

    m = np.asarray(matrix, dtype=np.float64)
    basis = camera.basis_lps()
    turned = m[:3, :3] @ basis
    back = turned[:, 2]
    # back = (sin az cos el, -cos az cos el, sin el) for Camera's azimuth and elevation
    elevation = math.degrees(math.asin(float(np.clip(back[2], -1.0, 1.0))))
    azimuth = math.degrees(math.atan2(float(back[0]), float(-back[1])))
    plain = Camera(azimuth=azimuth, elevation=elevation).basis_lps()
    r = plain.T @ turned  # what is left is a turn about the viewing axis
    roll = math.degrees(math.atan2(float(r[1, 0]), float(r[0, 0])))
    pan_x, pan_y = camera.pan_mm
    centre = _box_centre_lps(current) + basis[:, 0] * pan_x + basis[:, 1] * pan_y
    mapped = m[:3, :3] @ centre + m[:3, 3]
    offset = mapped - _box_centre_lps(prior)
    unzoomed = Camera(azimuth=azimuth, elevation=elevation, roll=roll)
    if mm_per_px is None:
        mm_per_px = view_pixel_mm(current, camera, size)  # type: ignore[arg-type]
    zoom = view_pixel_mm(prior, unzoomed, size) / mm_per_px
    return Camera(
        azimuth=azimuth,
        elevation=elevation,
        roll=roll,
        zoom=float(zoom),
        pan_mm=(float(offset @ turned[:, 0]), float(offset @ turned[:, 1])),
    )
