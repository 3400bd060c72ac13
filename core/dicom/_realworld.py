"""Real World Value Mapping (0040,9096): which mapping a volume's numbers are in.

The decision (docs/CORE.md, "Real World Value Mapping"):

* A header has two ways to give stored values a meaning: the Modality LUT stage (Rescale
  Slope/Intercept, or a Modality LUT Sequence: what a radiologist's viewer shows) and Real
  World Value Mapping (a slope and intercept, or a LUT, with units: what quantitative tools
  use, e.g. Philips' MR and PET). ownscan's volumes hold **one** of them, never a mix.
* Where the Modality LUT stage is the identity (no rescale, or slope 1 and intercept 0, and no
  Modality LUT) and a linear Real World Value Mapping is present, the mapping is the only
  quantitative one: it is **applied** (its slope and intercept become the frame's), its units
  become the volume's, and a warning says so.
* Where both are present and agree, the rescale is applied (it is the same) and the mapping's
  units name the values.
* Where they differ, the rescale is applied (the display values, as every viewer shows them)
  and a warning says which mapping was not applied and in which units it would have been.
* A mapping given only as a LUT is not applied; a warning says so.
* CT keeps Hounsfield units from its rescale, and an RT Dose grid its dose (Dose Grid
  Scaling, ``_dose``): a mapping is only ever reported there.

The per-frame functional group of an enhanced file wins over the shared group, which wins
over the top level (as for the rescale).
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ownscan.core.dicom._frames import Frame

__all__ = ["apply_real_world"]

_SEQ = "RealWorldValueMappingSequence"


def _items(ds: Any, frame: int) -> Any:
    """The mapping items that hold for ``frame`` of ``ds`` (possibly none)."""
    for groups in ("PerFrameFunctionalGroupsSequence", "SharedFunctionalGroupsSequence"):
        seq = ds.get(groups) if groups in ds else None
        if not seq:
            continue
        item = seq[frame] if groups.startswith("Per") and frame < len(seq) else seq[0]
        if _SEQ in item and item[_SEQ].value:
            return item[_SEQ].value
    return ds.get(_SEQ) if _SEQ in ds else None


def _units(item: Any) -> str:
    units = item.get("MeasurementUnitsCodeSequence") if item is not None else None
    if not units:
        return ""
    code = units[0]
    return str(code.get("CodeValue", "") or code.get("CodeMeaning", "")).strip()


def _linear(items: Any) -> tuple[float, float, str] | str | None:
    """The first linear mapping ``(slope, intercept, units)``; ``"lut"`` when the only ones
    are LUTs; None when there is none."""
    lut = False
    for item in items or ():
        slope = item.get("RealWorldValueSlope")
        if slope is None:
            lut = lut or "RealWorldValueLUTData" in item
            continue
        try:
            a = float(slope)
            b = float(item.get("RealWorldValueIntercept", 0.0) or 0.0)
        except (TypeError, ValueError):
            continue
        if math.isfinite(a) and math.isfinite(b) and a != 0:
            return a, b, _units(item)
    return "lut" if lut else None


def apply_real_world(frames: list[Frame], ds: Any, modality: str) -> list[Frame]:
    """``frames`` of ``ds`` with their Real World Value Mapping decided (the module's rule):
    applied where it is the only quantitative mapping, else reported where it differs."""
    if _SEQ not in ds and not any(
        g in ds for g in ("PerFrameFunctionalGroupsSequence", "SharedFunctionalGroupsSequence")
    ):
        return frames
    out = []
    for fr in frames:
        found = _linear(_items(ds, fr.frame))
        if found is None:
            out.append(fr)
            continue
        if found == "lut":
            out.append(
                dataclasses.replace(
                    fr,
                    doubts=(
                        *fr.doubts,
                        "Real World Value Mapping given as a LUT is not applied: the values "
                        "are the stored values through the rescale",
                    ),
                )
            )
            continue
        assert not isinstance(found, str)
        a, b, units = found
        said = f"slope {a:g}, intercept {b:g}" + (f", units {units}" if units else "")
        identity = fr.slope == 1.0 and fr.intercept == 0.0 and fr.modality_lut is None
        fixed = modality in ("CT", "RTDOSE")  # HU, dose: what the modality defines
        if not fixed and identity and (a, b) != (1.0, 0.0):
            fr = dataclasses.replace(
                fr,
                slope=a,
                intercept=b,
                rescale_type=units or fr.rescale_type,
                doubts=(
                    *fr.doubts,
                    f"the values are the Real World Value Mapping's ({said}), the only "
                    "quantitative mapping in the header (no rescale)",
                ),
            )
        elif (a, b) == (fr.slope, fr.intercept) and fr.modality_lut is None:
            if units and not fixed and fr.rescale_type.upper() in ("", "US"):
                fr = dataclasses.replace(fr, rescale_type=units)
        else:
            rescale = (
                "the Modality LUT"
                if fr.modality_lut is not None
                else f"Dose Grid Scaling {fr.slope:g}"
                if modality == "RTDOSE"
                else f"Rescale Slope {fr.slope:g}, Intercept {fr.intercept:g}"
            )
            fr = dataclasses.replace(
                fr,
                doubts=(
                    *fr.doubts,
                    f"Real World Value Mapping ({said}) is not applied: the values are those "
                    f"of {rescale} (what a viewer shows), not the mapping's",
                ),
            )
        out.append(fr)
    return out
