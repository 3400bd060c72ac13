"""RT Dose: the grid's values are dose, stored value x Dose Grid Scaling, in Dose Units.

PS3.3 C.8.8.3 (RT Dose Module): Dose Grid Scaling (3004,000E) is the "scaling factor that
when multiplied by the dose grid data found in Pixel Data (7FE0,0010) ... yields grid doses in
the dose units as specified by Dose Units (3004,0002)", whose values are GY (gray) and
RELATIVE (dose relative to an implicit reference value the file does not give). A dose grid
seldom has a Rescale Slope; where it did not, ownscan used to show and export the stored
integers (a prescription of 60 Gy as 60,000,000 with a scaling of 1e-6).

The decision (docs/CORE.md, "RT Dose"):

* Modality RTDOSE with a true Dose Grid Scaling (finite, above 0): the frames' slope is the
  scaling and their intercept 0, their units ``Gy`` (GY) or ``relative`` (RELATIVE: no unit
  is invented, and a warning says the reference is not in the file). Another Dose Units
  value (a writer's ``CGY``) is kept as written, with a warning that it is not the
  standard's; none at all: no units, with a warning.
* A Rescale Slope / Intercept (the RT Dose IOD allows the Modality LUT Module, user option)
  or a Modality LUT Sequence is **not** applied: the RT Dose Module defines the dose as the
  stored value times Dose Grid Scaling, and applying both would scale twice (Orthanc Stone
  settled the same way in 2019). Where the rescale is the identity, or the same slope with
  intercept 0 (a writer repeating the scaling), nothing is said; otherwise a warning names
  the rescale not applied.
* No Dose Grid Scaling (it is required wherever there is Pixel Data): the values stay as the
  rescale makes them, without units, and a warning says they are not known to be dose. An
  untrue one (0, negative, not a number, or one that takes the stored values beyond
  float32) is set aside the same way, as an untrue header value.

Never HU: units come from Dose Units only, and the Volume's units are the frames'.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ownscan.core.dicom._frames import Frame

__all__ = ["DOSE_UNITS", "apply_dose_scaling"]

_FLOAT32_MAX = 3.4028234663852886e38

DOSE_UNITS = {"GY": "Gy", "RELATIVE": "relative"}
"""Dose Units (3004,0002) -> the Volume's units."""


def _scaling(raw: Any) -> float | str | None:
    """Dose Grid Scaling as a float, ``"untrue"`` when present but not a scaling, None when
    absent."""
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return "untrue"
    return value if math.isfinite(value) and value > 0 else "untrue"


def apply_dose_scaling(frames: list[Frame], fx: Any) -> list[Frame]:
    """``frames`` of an RTDOSE header ``fx`` (``_Fast`` or ``_ScanFast``) with Dose Grid
    Scaling as their slope and Dose Units as their units (the module's rule); other
    modalities' frames unchanged."""
    if not frames or str(frames[0].info.get("modality", "")).upper() != "RTDOSE":
        return frames
    raw = fx.get("DoseGridScaling")
    scaling = _scaling(raw)
    top = float(2 ** frames[0].bits_stored - 1)
    if isinstance(scaling, float) and scaling * top > _FLOAT32_MAX:
        scaling = "untrue"  # no dose grid holds values beyond float32 (3.4e38 Gy)
    written = str(fx.get("DoseUnits") or "").strip()
    units = DOSE_UNITS.get(written.upper(), written)
    doubts: list[str] = []
    notes: list[str] = []
    if scaling is None or scaling == "untrue":
        said = "no Dose Grid Scaling (3004,000E)"
        if scaling == "untrue":
            notes.append(f"Dose Grid Scaling {raw!s:.40} is not a scaling factor: ignored")
            said = "no usable Dose Grid Scaling"
        doubts.append(
            f"RT Dose with {said}: the values are the stored integers"
            + (" through the rescale" if _rescaled(frames[0]) else "")
            + ", not known to be dose"
            + (f" in {units}" if units else "")
        )
        return [
            dataclasses.replace(
                fr,
                rescale_type="",
                notes=(*fr.notes, *notes),
                doubts=(*fr.doubts, *doubts),
            )
            for fr in frames
        ]
    assert isinstance(scaling, float)
    if not written:
        doubts.append("RT Dose without Dose Units (3004,0002): the dose's unit is unknown")
    elif written.upper() == "RELATIVE":
        doubts.append(
            "Dose Units RELATIVE: the values are dose relative to a reference value the file "
            "does not give (not Gy)"
        )
    elif written.upper() not in DOSE_UNITS:
        doubts.append(
            f"Dose Units {written!r} is not one of the standard's (GY, RELATIVE): the values "
            f"are shown in the units the file names, {written!r}, unchecked"
        )
    out = []
    for fr in frames:
        said = _rescale_not_applied(fr, scaling)
        out.append(
            dataclasses.replace(
                fr,
                slope=scaling,
                intercept=0.0,
                rescale_type=units,
                modality_lut=None,
                doubts=(*fr.doubts, *doubts, *((said,) if said else ())),
            )
        )
    return out


def _rescaled(fr: Frame) -> bool:
    return (fr.slope, fr.intercept) != (1.0, 0.0) or fr.modality_lut is not None


def _rescale_not_applied(fr: Frame, scaling: float) -> str:
    """What is said of a rescale (or Modality LUT) of a dose grid that is not applied:
    nothing where it is the identity or the scaling itself."""
    if fr.modality_lut is not None:
        return (
            "the Modality LUT of this RT Dose is not applied: the values are stored value x "
            f"Dose Grid Scaling {scaling:g} (PS3.3 C.8.8.3)"
        )
    if (fr.slope, fr.intercept) in ((1.0, 0.0), (scaling, 0.0)):
        return ""
    return (
        f"Rescale Slope {fr.slope:g}, Intercept {fr.intercept:g} of this RT Dose is not "
        f"applied: the values are stored value x Dose Grid Scaling {scaling:g} (PS3.3 "
        "C.8.8.3; applying both would scale twice)"
    )
