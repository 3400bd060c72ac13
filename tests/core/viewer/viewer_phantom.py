"""Generated test volumes for the viewer tests: a CT-like phantom with side markers."""

from __future__ import annotations

import numpy as np

from ownscan.core.volume import SeriesInfo, Volume, WindowPreset

# Marker values of the phantom (HU): each sits on one side of the patient, so a view that
# shows it on the wrong side of the screen fails the orientation tests.
BODY, SHELL, LEFT_MARK, ANTERIOR_MARK, SUPERIOR_MARK = 40, 700, 1200, 300, 900


def phantom(
    n: int = 48,
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.5),
    direction: np.ndarray | None = None,
    description: str = "phantom",
) -> Volume:
    """A CT-like ellipsoid with a bony shell and three markers, at known LPS positions.

    Markers (in voxel index terms along +i, -j, +k of an identity direction): LEFT_MARK towards
    the patient's left (+x), ANTERIOR_MARK towards anterior (-y), SUPERIOR_MARK towards the head
    (+z). With another ``direction`` the markers move with the voxel axes; tests locate them
    through ``Volume.index_to_lps``.
    """
    z, y, x = np.mgrid[0:n, 0:n, 0:n].astype(np.float32)
    c = (n - 1) / 2.0
    r = ((x - c) / (0.42 * n)) ** 2 + ((y - c) / (0.36 * n)) ** 2 + ((z - c) / (0.45 * n)) ** 2
    v = np.full((n, n, n), -1000, np.int16)
    v[r <= 1.0] = BODY
    v[(r <= 1.0) & (r >= 0.8)] = SHELL
    v[(x - (c + 0.22 * n)) ** 2 + (y - c) ** 2 + (z - c) ** 2 < (0.08 * n) ** 2] = LEFT_MARK
    v[(x - c) ** 2 + (y - (c - 0.2 * n)) ** 2 + (z - c) ** 2 < (0.06 * n) ** 2] = ANTERIOR_MARK
    v[(x - c) ** 2 + (y - c) ** 2 + (z - (c + 0.28 * n)) ** 2 < (0.06 * n) ** 2] = SUPERIOR_MARK
    return Volume(
        v,
        spacing=spacing,
        origin=(-c * spacing[0], -c * spacing[1], -c * spacing[2]),
        direction=np.eye(3) if direction is None else direction,
        modality="CT",
        units="HU",
        windows=(WindowPreset("body", 1600.0, 200.0),),
        info=SeriesInfo(
            patient_name="Phantom^Test",
            study_date="20240102",
            series_description=description,
            modality="CT",
            series_instance_uid=f"1.2.3.{n}.{abs(hash(description)) % 1000}",
        ),
    )


def marker_centre_ijk(n: int, which: str) -> np.ndarray:
    """The voxel index (i, j, k) of a marker's centre in :func:`phantom`."""
    c = (n - 1) / 2.0
    return {
        "left": np.array([c + 0.22 * n, c, c]),
        "anterior": np.array([c, c - 0.2 * n, c]),
        "superior": np.array([c, c, c + 0.28 * n]),
    }[which]
