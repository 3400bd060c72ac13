"""Generated volumes with known anatomy and geometry, for tests, benchmarks and ``--sample``.

:func:`ct_phantom` is a chest CT in Hounsfield units, axial, in the standard LPS orientation
(``i`` towards the patient's left, ``j`` posterior, ``k`` head): body, fat layer, two lungs,
heart on the patient's **left**, liver on the **right** below it, a contrast-filled aorta,
spine and ribs, with scanner-like noise and partial volume at every in-plane edge (a hard-edged
phantom shows its voxel staircase on shaded surfaces). Left/right mistakes show at a glance.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ownscan.core.volume import SeriesInfo, Volume, WindowPreset

__all__ = ["ct_phantom", "sphere_volume"]


def ct_phantom(
    shape: tuple[int, int, int] = (128, 256, 256),
    spacing: tuple[float, float, float] = (1.4, 1.4, 2.5),
    seed: int = 0,
    noise_hu: float = 12.0,
) -> Volume:
    """A chest CT, int16 HU, ``shape`` = ``(z, y, x)``, ``spacing`` along ``(i, j, k)``.

    The body spans about 330 x 230 mm whatever the shape, so a different shape means a different
    resolution, as with a real scanner.
    """
    nz, ny, nx = shape
    sx, sy, sz = spacing
    out = np.empty(shape, dtype=np.int16)
    rng = np.random.default_rng(seed)
    # mm coordinates, centred: x towards the patient's left, y posterior, z head
    x = (np.arange(nx) - (nx - 1) / 2.0) * sx
    y = (np.arange(ny) - (ny - 1) / 2.0) * sy
    X, Y = np.meshgrid(x, y)
    half_x, half_y = 0.45 * nx * sx, 0.42 * ny * sy
    pixel = (sx, sy)

    def ellipse(cx: float, cy: float, ax: float, ay: float) -> tuple[Any, Any, Any]:
        """``((X - cx) / ax)^2 + ((Y - cy) / ay)^2`` and its derivatives per mm."""
        u, v = (X - cx) / ax, (Y - cy) / ay
        return u**2 + v**2, 2 * u / ax, 2 * v / ay

    body, body_dx, body_dy = ellipse(0.0, 0.0, half_x, half_y)
    lung_r = ellipse(-0.42 * half_x, 0.0, 0.32 * half_x, 0.62 * half_y)
    lung_l = ellipse(0.42 * half_x, 0.0, 0.30 * half_x, 0.62 * half_y)
    heart = ellipse(0.18 * half_x, -0.25 * half_y, 0.3 * half_x, 0.35 * half_y)
    liver = ellipse(-0.3 * half_x, 0.0, 0.5 * half_x, 0.7 * half_y)
    aorta = ellipse(0.06 * half_x, 0.35 * half_y, 0.06 * half_x, 0.06 * half_x)
    spine = ellipse(0.0, 0.62 * half_y, 0.1 * half_x, 0.1 * half_x)
    core = 0.7**2  # the spine's cancellous core: 0.07 of half_x
    below_ribs = _inside((Y, 0.0 * Y, 1.0 + 0.0 * Y), 0.6 * half_y, pixel)
    ribs = np.minimum(
        _inside((-body, -body_dx, -body_dy), -0.78, pixel),
        _inside((body, body_dx, body_dy), 0.83, pixel),
    )
    ribs = np.minimum(ribs, below_ribs)
    covers: dict[tuple[str, float], npt.NDArray[np.float32]] = {}
    regions = {"body": (body, body_dx, body_dy), "lung_r": lung_r, "lung_l": lung_l}
    regions |= {"heart": heart, "liver": liver, "aorta": aorta, "spine": spine}

    def paint(s: npt.NDArray[np.float32], region: str, c: float, value: float) -> None:
        """``value`` over ``s`` where the region's function is below ``c``, edge pixels in
        proportion to their part inside (a scanner gives partial volume at every edge; hard
        edges would show as voxel staircases on shaded surfaces)."""
        key = (region, round(c, 9))
        if key not in covers:
            covers[key] = _inside(regions[region], c, pixel)
        s += (value - s) * covers[key]

    for k in range(nz):
        z = (k - (nz - 1) / 2.0) * sz / (0.5 * nz * sz)  # -1 (feet) .. 1 (head)
        s = np.full((ny, nx), -1000.0, dtype=np.float32)
        paint(s, "body", 1.0, -100.0)  # fat
        paint(s, "body", 0.85, 40.0)  # muscle / soft tissue
        # lungs: upper two thirds of the stack
        if z > -0.35:
            taper = 1.0 - max(0.0, z - 0.6) * 2.0
            paint(s, "lung_r", taper, -850.0)
            paint(s, "lung_l", taper, -850.0)
        # heart: anterior, towards the patient's LEFT
        if -0.3 < z < 0.35:
            paint(s, "heart", 1.0 - (z / 0.35) ** 2, 45.0)
        # liver: the patient's RIGHT, below the heart
        if z < -0.3:
            paint(s, "liver", 1.0, 60.0)
        # aorta with contrast, just left of and in front of the spine
        paint(s, "aorta", 1.0, 300.0)
        # spine: posterior midline, cortical shell and cancellous core
        paint(s, "spine", 1.0, 1100.0)
        paint(s, "spine", core, 350.0)
        # ribs: a thin ring inside the body wall every ~25 mm
        if (k * sz) % 25.0 < 8.0 and z > -0.5:
            s += (900.0 - s) * ribs
        s += rng.normal(0.0, noise_hu, size=s.shape).astype(np.float32)
        out[k] = np.clip(np.rint(s), -1024, 3071).astype(np.int16)
    origin = (-(nx - 1) / 2.0 * sx, -(ny - 1) / 2.0 * sy, -(nz - 1) / 2.0 * sz)
    return Volume(
        voxels=out,
        spacing=spacing,
        origin=origin,
        modality="CT",
        units="HU",
        windows=(WindowPreset("mediastinum", 350.0, 50.0), WindowPreset("lung", 1500.0, -600.0)),
        info=SeriesInfo(series_description="ownscan generated chest phantom", modality="CT"),
    )


def _inside(
    f: tuple[Any, Any, Any], c: float, pixel: tuple[float, float]
) -> npt.NDArray[np.float32]:
    """The fraction of each pixel inside ``f < c`` (``f`` given with its derivatives per mm):
    the signed distance to the edge in pixels, ``(c - f) / |grad f|``, plus 1/2, clipped."""
    value, dx, dy = f
    per_pixel = np.hypot(dx * pixel[0], dy * pixel[1])
    d = (c - value) / np.maximum(per_pixel, 1e-9)
    return np.clip(d + 0.5, 0.0, 1.0).astype(np.float32)


def sphere_volume(
    shape: tuple[int, int, int] = (64, 64, 64),
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
    centre_lps: npt.ArrayLike = (0.0, 0.0, 0.0),
    radius_mm: float = 20.0,
    direction: npt.ArrayLike | None = None,
    inside: int = 1000,
    outside: int = 0,
) -> Volume:
    """A ball of radius ``radius_mm`` around ``centre_lps``, in a volume centred on the LPS
    origin with the given ``spacing`` and ``direction`` (anti-aliased over one voxel)."""
    d = np.eye(3) if direction is None else np.asarray(direction, dtype=np.float64)
    nz, ny, nx = shape
    half = np.array([(nx - 1) / 2.0, (ny - 1) / 2.0, (nz - 1) / 2.0]) * np.asarray(spacing)
    origin = -(d @ half)
    vol = Volume(np.zeros(shape, dtype=np.int16), spacing, tuple(origin), d)
    k, j, i = np.mgrid[:nz, :ny, :nx]
    lps = vol.index_to_lps(np.stack([i, j, k], axis=-1).reshape(-1, 3))
    dist = np.linalg.norm(lps - np.asarray(centre_lps, dtype=np.float64), axis=1)
    edge = np.clip(radius_mm - dist + 0.5, 0.0, 1.0).reshape(shape)
    vol.voxels = np.rint(outside + (inside - outside) * edge).astype(np.int16)
    return vol
