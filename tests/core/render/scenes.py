"""Small generated scenes shared by the render tests."""

from __future__ import annotations

import math
from functools import cache

import numpy as np

from ownscan.core.render import TransferFunction
from ownscan.core.render.phantom import ct_phantom
from ownscan.core.volume import Volume

TF = TransferFunction(
    "test",
    [
        (-1000, 0.0, 0.0, 0.0, 0.0),
        (-200, 0.8, 0.5, 0.4, 0.0),
        (0, 0.9, 0.4, 0.35, 0.05),
        (300, 1.0, 0.9, 0.8, 0.4),
        (1200, 1.0, 1.0, 1.0, 0.9),
    ],
)


@cache
def small_ct() -> Volume:
    """A 64^3 chest phantom with anisotropic voxels."""
    return ct_phantom((48, 64, 64), spacing=(5.5, 4.0, 6.0), seed=1)


def rot_z(deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


@cache
def oblique_ct() -> Volume:
    """The same voxels placed obliquely: rotated 25 degrees about z and 10 about x."""
    v = small_ct()
    c, s = math.cos(math.radians(10)), math.sin(math.radians(10))
    rx = np.array([[1.0, 0, 0], [0, c, -s], [0, s, c]])
    return Volume(v.voxels, v.spacing, (-150.0, -120.0, -140.0), rot_z(25) @ rx, modality="CT")
