"""The camera: where the eye is, relative to the patient, in LPS millimetres.

Conventions (radiological, as every viewer of the field uses them):

* ``azimuth = elevation = 0`` is the **anterior** view: the eye is in front of the patient,
  looking towards posterior; the patient's left (+x in LPS) is on the image's right and the head
  (+z) is up.
* ``azimuth`` (degrees) turns the eye about the patient's head-feet axis towards the patient's
  left: ``azimuth = 90`` looks from the left (anterior on the image's left, as a sagittal slice
  is shown), ``180`` from behind.
* ``elevation`` (degrees) raises the eye towards the head: ``90`` looks down from above,
  ``-90`` up from the feet (the axial view: anterior up, patient's left on the image's right).

The camera basis is three LPS unit vectors: ``right`` and ``up`` span the image and ``back``
points from the scene towards the eye (OpenGL's view space: x right, y up, z towards the viewer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from ownscan.core.errors import UsageError

__all__ = ["PLANES", "Camera"]

# (azimuth, elevation) of the standard planes, viewed as radiology shows them.
PLANES: dict[str, tuple[float, float]] = {
    "coronal": (0.0, 0.0),  # from the front: patient's left on the right, head up
    "anterior": (0.0, 0.0),
    "sagittal": (90.0, 0.0),  # from the patient's left: anterior on the left, head up
    "axial": (0.0, -90.0),  # from the feet: anterior up, patient's left on the right
    "posterior": (180.0, 0.0),
    "left": (90.0, 0.0),
    "right": (-90.0, 0.0),
    "superior": (0.0, 90.0),
    "inferior": (0.0, -90.0),
}

PROJECTIONS = ("orthographic", "perspective")


def _rot_x(deg: float) -> npt.NDArray[np.float64]:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _rot_z(deg: float) -> npt.NDArray[np.float64]:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


@dataclass(frozen=True)
class Camera:
    """An orbiting camera around the centre of the volume.

    Parameters
    ----------
    azimuth, elevation, roll
        Degrees; see the module docstring. ``roll`` turns the camera about the viewing axis
        (positive: the camera turns counter-clockwise, so the picture turns clockwise).
    zoom
        1 fits the whole volume in the image; 2 shows it twice as large.
    pan_mm
        Shift of the centre of the view, in mm along the image's right and up directions.
    projection
        ``"orthographic"`` (sizes do not depend on depth: measurements, MPR) or
        ``"perspective"``.
    fov_deg
        Vertical field of view of the perspective projection.
    """

    azimuth: float = 0.0
    elevation: float = 0.0
    roll: float = 0.0
    zoom: float = 1.0
    pan_mm: tuple[float, float] = (0.0, 0.0)
    projection: str = "orthographic"
    fov_deg: float = 30.0

    def __post_init__(self) -> None:
        if self.projection not in PROJECTIONS:
            raise UsageError(
                f"unknown projection {self.projection!r}; valid: {', '.join(PROJECTIONS)}"
            )
        if not (self.zoom > 0 and math.isfinite(self.zoom)):
            raise UsageError(f"zoom must be > 0, got {self.zoom!r}")
        if not (1.0 <= self.fov_deg <= 120.0):
            raise UsageError(f"fov_deg must be within 1..120 degrees, got {self.fov_deg!r}")

    @classmethod
    def for_plane(cls, plane: str, **kwargs: float | str | tuple[float, float]) -> Camera:
        """The camera that shows a standard plane as radiology displays it.

        Parameters
        ----------
        plane
            One of :data:`PLANES` (``axial``, ``coronal``, ``sagittal``, ``anterior``...).
        **kwargs
            Other :class:`Camera` fields (zoom, pan_mm...).
        """
        try:
            az, el = PLANES[plane]
        except KeyError:
            raise UsageError(f"unknown plane {plane!r}; valid: {', '.join(PLANES)}") from None
        return cls(azimuth=az, elevation=el, **kwargs)  # type: ignore[arg-type]

    def orbit(self, d_azimuth: float, d_elevation: float) -> Camera:
        """A copy turned by the given degrees (what a mouse drag does)."""
        return replace(
            self, azimuth=self.azimuth + d_azimuth, elevation=self.elevation + d_elevation
        )

    def basis_lps(self) -> npt.NDArray[np.float64]:
        """3x3 matrix whose columns are the LPS unit vectors ``right``, ``up``, ``back``."""
        # The anterior view: right = patient's left (+x), up = head (+z), back = anterior (-y).
        base = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
        # Roll about the viewing axis first (in view space), then raise the eye (about the
        # image's right axis) and turn it about the patient's head-feet axis.
        c, s = math.cos(math.radians(self.roll)), math.sin(math.radians(self.roll))
        roll = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        return _rot_z(self.azimuth) @ _rot_x(-self.elevation) @ base @ roll
