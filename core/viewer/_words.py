"""Words a patient understands for the viewer's controls; the technical names go in tooltips.

A patient does not know "DVR", "MIP", "ct-bone" or "window/level". Each control shows a plain
word ("3D", "Lifelike", "Brightest", "Bones", "Brightness/contrast") and, when the mouse rests
on it, the technical name and what it does, so a radiologist's vocabulary is one hover away. Modes,
colour presets and window presets from third-party plugins keep their own names (made
readable), with their descriptions as tooltips.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BRIGHTNESS",
    "BRIGHTNESS_TIP",
    "COLOURS",
    "COLOUR_AS_STORED",
    "mode_tip",
    "mode_word",
    "preset_tip",
    "preset_word",
    "window_text",
    "window_word",
]

BRIGHTNESS = "Brightness/contrast"
BRIGHTNESS_TIP = (
    "window/level: which values are shown from black to white (W). "
    "Drag with the left button on a slice to adjust it."
)
COLOURS = "Colours"

# mode name -> (word on the control, technical name; the plugin's description follows it)
_MODES: dict[str, tuple[str, str]] = {
    "dvr": ("Lifelike", "DVR"),
    "mip": ("Brightest", "MIP"),
    "iso": ("Surface", "isosurface"),
    "minip": ("Darkest", "MinIP"),
    "xray": ("X-ray", "average intensity projection"),
    "mpr": ("Cut", "MPR"),
}

# transfer function name -> word
_PRESETS: dict[str, str] = {
    "ct-bone": "Bones",
    "ct-soft-tissue": "Skin and muscle",
    "ct-lung": "Lungs",
    "ct-vessels": "Vessels",
    "mr-default": "Standard",
}

# window preset name -> word ("auto": computed from the image itself)
_WINDOWS: dict[str, str] = {
    "auto": "Automatic",
    "custom": "Your own",
    "mediastinum": "Chest",
}


def _readable(name: str) -> str:
    """``"ct-soft_tissue"`` -> ``"Ct soft tissue"``: a plugin's name, as words."""
    words = name.replace("-", " ").replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else name


def mode_word(name: str) -> str:
    """The word on the control for the 3D mode ``name``."""
    return _MODES[name][0] if name in _MODES else _readable(name)


def mode_tip(mode: Any) -> str:
    """The tooltip of a 3D mode: its technical name and the plugin's description."""
    name = str(getattr(mode, "name", mode))
    tech = _MODES[name][1] if name in _MODES else name
    what = str(getattr(mode, "description", "") or "")
    return f"{tech}: {what}" if what else tech


def preset_word(name: str) -> str:
    """The word for the 3D colour preset (transfer function) ``name``."""
    return _PRESETS.get(name) or _readable(name)


def preset_tip(preset: Any) -> str:
    """The tooltip of a colour preset: the technical name and the plugin's description."""
    name = str(getattr(preset, "name", preset))
    what = str(getattr(preset, "description", "") or "")
    return f"3D colours (transfer function {name}; T): {what}" if what else f"3D colours ({name})"


def window_word(name: str) -> str:
    """The word for the window preset ``name`` ("brain" -> "Brain", "auto" -> "Automatic")."""
    return _WINDOWS.get(name) or _readable(name)


def _number(x: float) -> str:
    """A window value as the data hold it: whole numbers for HU-sized values, three
    significant figures for small ones (a dose grid's 0.46 Gy is not "0")."""
    return f"{x:.0f}" if abs(x) >= 100 or float(x).is_integer() else f"{x:.3g}"


# said where a window would be for a colour image, which is drawn as stored
COLOUR_AS_STORED = "colour, as stored"


def window_text(width: float, level: float, units: str = "") -> str:
    """The corner's ``W 400  L 40`` in the volume's units: ``W 0.459  L 1.02 relative``
    for a relative dose grid, ``W 30  L 15 Gy``; CT's HU are the default and not named."""
    unit = f" {units}" if units and units != "HU" else ""
    return f"W {_number(width)}  L {_number(level)}{unit}"
