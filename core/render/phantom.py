"""Generated volumes with known anatomy and geometry, for tests, benchmarks and ``--sample``.

:func:`ct_phantom` is a chest CT in Hounsfield units, axial, in the standard LPS orientation
(``i`` towards the patient's left, ``j`` posterior, ``k`` head): body, fat layer, two lungs,
heart on the patient's **left**, liver on the **right** below it, a contrast-filled aorta,
spine and ribs, with scanner-like noise. Left/right mistakes show at a glance.
"""

from __future__ import annotations

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
    for k in range(nz):
        z = (k - (nz - 1) / 2.0) * sz / (0.5 * nz * sz)  # -1 (feet) .. 1 (head)
        s = np.full((ny, nx), -1000.0, dtype=np.float32)
        body = (X / half_x) ** 2 + (Y / half_y) ** 2
        s[body < 1.0] = -100.0  # fat
        s[body < 0.85] = 40.0  # muscle / soft tissue
        # lungs: upper two thirds of the stack
        lung_r = ((X + 0.42 * half_x) / (0.32 * half_x)) ** 2 + (Y / (0.62 * half_y)) ** 2
        lung_l = ((X - 0.42 * half_x) / (0.30 * half_x)) ** 2 + (Y / (0.62 * half_y)) ** 2
        if z > -0.35:
            taper = 1.0 - max(0.0, z - 0.6) * 2.0
            s[(lung_r < taper) | (lung_l < taper)] = -850.0
        # heart: anterior, towards the patient's LEFT
        heart = ((X - 0.18 * half_x) / (0.3 * half_x)) ** 2 + (
            (Y + 0.25 * half_y) / (0.35 * half_y)
        ) ** 2
        if -0.3 < z < 0.35:
            s[heart < 1.0 - (z / 0.35) ** 2] = 45.0
        # liver: the patient's RIGHT, below the heart
        liver = ((X + 0.3 * half_x) / (0.5 * half_x)) ** 2 + (Y / (0.7 * half_y)) ** 2
        if z < -0.3:
            s[liver < 1.0] = 60.0
        # aorta with contrast, just left of and in front of the spine
        aorta = (X - 0.06 * half_x) ** 2 + (Y - 0.35 * half_y) ** 2
        s[aorta < (0.06 * half_x) ** 2] = 300.0
        # spine: posterior midline, cortical shell and cancellous core
        spine = X**2 + (Y - 0.62 * half_y) ** 2
        s[spine < (0.1 * half_x) ** 2] = 1100.0
        s[spine < (0.07 * half_x) ** 2] = 350.0
        # ribs: a thin ring inside the body wall every ~25 mm
        if (k * sz) % 25.0 < 8.0 and z > -0.5:
            ring = body
            s[(ring > 0.78) & (ring < 0.83) & (0.6 * half_y > Y)] = 900.0
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
