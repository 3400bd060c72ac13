"""Where each view looks: slice planes, screen <-> patient mapping, orientation labels.

About the geometry
------------------
Every position the viewer handles is in the patient's LPS frame (mm), the frame in which a
:class:`~ownscan.core.volume.Volume` places its voxels. A 2D view shows a plane through the
shared cursor point (the crosshair); the plane is spanned by two unit vectors, ``right_lps``
(screen +x) and ``down_lps`` (screen +y, rows go down), and its normal ``normal_lps`` is the
direction in which the wheel scrolls. The radiological convention is used: the patient faces
the viewer, so the patient's left is on the right of the screen in the axial and coronal
views, and anterior is on the left of the sagittal view.

A screen pixel ``(px, py)`` of a view of size ``(w, h)`` (origin top-left, pixel centres at
``+0.5``) maps to::

    p_lps = centre_lps + (px - w/2) * mm_per_px * right_lps + (py - h/2) * mm_per_px * down_lps

and the slice shader turns ``p_lps`` into texture coordinates with the inverse of the Volume's
affine, so any plane through any (oblique) volume is resliced exactly. Orientation labels
are computed from the view's unit vectors (the letters of their dominant LPS components), so
they stay right for oblique planes and for 2D images shown in their own acquisition frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ownscan.core.volume import Volume

__all__ = [
    "PLANES",
    "PlaneAxes",
    "fit_mm_per_px",
    "lps_to_pixel",
    "native_plane",
    "orientation_label",
    "pixel_to_lps",
    "px_to_tex_matrix",
    "slice_step_mm",
    "volume_bounds_lps",
    "volume_centre_lps",
]

Vec = npt.NDArray[np.float64]


@dataclass(frozen=True)
class PlaneAxes:
    """The orientation of a 2D view: screen-right, screen-down and scroll normal in LPS."""

    name: str
    right_lps: tuple[float, float, float]
    down_lps: tuple[float, float, float]
    normal_lps: tuple[float, float, float]

    def right(self) -> Vec:
        return np.asarray(self.right_lps, dtype=np.float64)

    def down(self) -> Vec:
        return np.asarray(self.down_lps, dtype=np.float64)

    def normal(self) -> Vec:
        return np.asarray(self.normal_lps, dtype=np.float64)


# Radiological convention. LPS: +x = patient Left, +y = Posterior, +z = Superior.
PLANES: dict[str, PlaneAxes] = {
    # seen from the feet: patient's left on screen right, anterior up; wheel goes superior
    "axial": PlaneAxes("axial", (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
    # seen from the front: patient's left on screen right, superior up; wheel goes anterior
    "coronal": PlaneAxes("coronal", (1.0, 0.0, 0.0), (0.0, 0.0, -1.0), (0.0, -1.0, 0.0)),
    # seen from the patient's left: anterior on screen left, superior up; wheel goes left
    "sagittal": PlaneAxes("sagittal", (0.0, 1.0, 0.0), (0.0, 0.0, -1.0), (1.0, 0.0, 0.0)),
}

_LETTERS = (("R", "L"), ("A", "P"), ("I", "S"))  # (negative, positive) along LPS x, y, z


def orientation_label(v_lps: npt.ArrayLike, min_component: float = 0.25) -> str:
    """The patient direction of a unit vector as letters, strongest first (``"L"``, ``"LA"``).

    Parameters
    ----------
    v_lps
        A direction in LPS.
    min_component
        Components smaller than this (in absolute value, after normalising) add no letter;
        an oblique direction gets up to three letters, as DICOM viewers show them.
    """
    v = np.asarray(v_lps, dtype=np.float64)
    n = float(np.linalg.norm(v))
    if n == 0.0:
        raise ValueError("orientation_label needs a non-zero vector")
    v = v / n
    order = np.argsort(-np.abs(v), kind="stable")
    out = ""
    for axis in order:
        c = float(v[axis])
        if abs(c) >= min_component:
            out += _LETTERS[axis][1 if c > 0 else 0]
    return out


def native_plane(volume: Volume) -> PlaneAxes:
    """The acquisition plane of ``volume``: screen axes along its rows and columns.

    Used for 2D images (radiographs, secondary captures), which are shown as stored; their
    orientation labels then come from the direction cosines.
    """
    d = volume.direction
    right, down = d[:, 0], d[:, 1]
    normal = np.cross(right, down)
    return PlaneAxes(
        "image",
        (float(right[0]), float(right[1]), float(right[2])),
        (float(down[0]), float(down[1]), float(down[2])),
        (float(normal[0]), float(normal[1]), float(normal[2])),
    )


def volume_bounds_lps(volume: Volume) -> Vec:
    """The 8 corners (LPS, mm) of the volume's box, voxel edges included: shape ``(8, 3)``."""
    z, y, x = volume.shape
    corners = np.array(
        [[i, j, k] for i in (-0.5, x - 0.5) for j in (-0.5, y - 0.5) for k in (-0.5, z - 0.5)]
    )
    return volume.index_to_lps(corners)


def volume_centre_lps(volume: Volume) -> Vec:
    """LPS of the centre of the volume's box."""
    z, y, x = volume.shape
    return volume.index_to_lps(np.array([(x - 1) / 2.0, (y - 1) / 2.0, (z - 1) / 2.0]))


def slice_step_mm(volume: Volume, normal_lps: npt.ArrayLike) -> float:
    """Distance (mm) between neighbouring slices when scrolling along ``normal_lps``.

    The voxel axis most aligned with the normal decides: its spacing projected on the normal.
    For a plane aligned with the acquisition this is the slice spacing exactly.
    """
    n = np.asarray(normal_lps, dtype=np.float64)
    n = n / np.linalg.norm(n)
    c = np.abs(volume.direction.T @ n)  # |cos| between each voxel axis and the normal
    axis = int(np.argmax(c))
    return float(volume.spacing[axis] * c[axis])


def fit_mm_per_px(volume: Volume, plane: PlaneAxes, size_px: tuple[int, int]) -> float:
    """The scale (mm per screen pixel) at which the volume's box fits the view."""
    w, h = max(1, size_px[0]), max(1, size_px[1])
    corners = volume_bounds_lps(volume)
    ext_r = float(np.ptp(corners @ plane.right()))
    ext_d = float(np.ptp(corners @ plane.down()))
    return max(ext_r / w, ext_d / h, 1e-6) * 1.02


def pixel_to_lps(
    px: float,
    py: float,
    size_px: tuple[int, int],
    centre_lps: npt.ArrayLike,
    plane: PlaneAxes,
    mm_per_px: float,
) -> Vec:
    """LPS of the point under screen pixel ``(px, py)`` (top-left origin) of a 2D view."""
    w, h = size_px
    c = np.asarray(centre_lps, dtype=np.float64)
    return (
        c + (px - w / 2.0) * mm_per_px * plane.right() + (py - h / 2.0) * mm_per_px * plane.down()
    )


def lps_to_pixel(
    p_lps: npt.ArrayLike,
    size_px: tuple[int, int],
    centre_lps: npt.ArrayLike,
    plane: PlaneAxes,
    mm_per_px: float,
) -> tuple[float, float]:
    """Screen pixel of the projection of ``p_lps`` onto a 2D view (inverse of pixel_to_lps)."""
    w, h = size_px
    d = np.asarray(p_lps, dtype=np.float64) - np.asarray(centre_lps, dtype=np.float64)
    return (
        float(d @ plane.right()) / mm_per_px + w / 2.0,
        float(d @ plane.down()) / mm_per_px + h / 2.0,
    )


def px_to_tex_matrix(
    volume: Volume,
    size_px: tuple[int, int],
    centre_lps: npt.ArrayLike,
    plane: PlaneAxes,
    mm_per_px: float,
    lps_map: npt.ArrayLike | None = None,
) -> Vec:
    """4x4 matrix taking ``(px, py, 0, 1)`` of a view to 3D texture coordinates ``(s, t, r)``.

    Texture coordinates are ``(i + 0.5) / nx`` etc.: texel centres, as GL samples them.
    ``lps_map`` (4x4), when given, takes the plane's LPS points into ``volume``'s LPS first:
    a registered prior drawn on the current's plane.
    """
    w, h = size_px
    c = np.asarray(centre_lps, dtype=np.float64)
    # screen pixel -> LPS: p = c + (px - w/2) s r + (py - h/2) s d
    screen_to_lps = np.eye(4)
    screen_to_lps[:3, 0] = mm_per_px * plane.right()
    screen_to_lps[:3, 1] = mm_per_px * plane.down()
    screen_to_lps[:3, 2] = plane.normal()
    screen_to_lps[:3, 3] = c - (w / 2.0) * mm_per_px * plane.right()
    screen_to_lps[:3, 3] -= (h / 2.0) * mm_per_px * plane.down()
    # LPS -> voxel index (i, j, k): inverse of the Volume's affine
    lps_to_ijk = np.linalg.inv(volume.affine)
    if lps_map is not None:
        lps_to_ijk = lps_to_ijk @ np.asarray(lps_map, dtype=np.float64)
    # voxel index -> texture coordinate of the texel centre
    z, y, x = volume.shape
    ijk_to_tex = np.diag([1.0 / x, 1.0 / y, 1.0 / z, 1.0])
    ijk_to_tex[:3, 3] = 0.5 / np.array([x, y, z], dtype=np.float64)
    return ijk_to_tex @ lps_to_ijk @ screen_to_lps
