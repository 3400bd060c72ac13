"""The built-in presets: transfer functions and window/level settings, as data.

Transfer-function points are ``(value, r, g, b, alpha)``; ``alpha`` is the opacity of 1 mm.
CT presets are in Hounsfield units; the MR preset is relative to the display window (MR has no
absolute scale). Window presets are the usual radiology ones (width / level in HU); the windows
stored in a series come with its :class:`~ownscan.core.volume.Volume` (``Volume.windows``).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from ownscan.core.hookspecs import hookimpl

if TYPE_CHECKING:
    from ownscan.core.render import TransferFunction
    from ownscan.core.volume import WindowPreset

    TRANSFER_FUNCTIONS: tuple[TransferFunction, ...]
    WINDOW_PRESETS: tuple[WindowPreset, ...]

__all__ = ["TRANSFER_FUNCTIONS", "WINDOW_PRESETS"]

# The preset objects are built on first use, not when the plugin host loads this module: every
# command loads the host, and the objects' classes import numpy (about 60 ms of start-up for
# commands such as `ownscan import` that never draw). ``TRANSFER_FUNCTIONS`` and
# ``WINDOW_PRESETS`` stay importable names (module ``__getattr__`` below).


@functools.cache
def _transfer_functions() -> tuple[TransferFunction, ...]:
    from ownscan.core.render import TransferFunction

    return (
        TransferFunction(
            "ct-bone",
            [
                (-1024, 0.0, 0.0, 0.0, 0.0),
                (150, 0.55, 0.25, 0.15, 0.0),
                (300, 0.9, 0.75, 0.55, 0.25),
                (700, 1.0, 0.95, 0.85, 0.6),
                (3000, 1.0, 1.0, 1.0, 0.8),
            ],
            description="CT: bone opaque, soft tissue and air transparent",
        ),
        TransferFunction(
            "ct-soft-tissue",
            [
                (-1024, 0.0, 0.0, 0.0, 0.0),
                (-500, 0.55, 0.3, 0.2, 0.0),
                (-100, 0.75, 0.45, 0.3, 0.02),
                (40, 0.85, 0.35, 0.3, 0.05),
                (200, 0.95, 0.85, 0.75, 0.2),
                (1000, 1.0, 1.0, 0.95, 0.6),
                (3000, 1.0, 1.0, 1.0, 0.8),
            ],
            description="CT: skin and muscle faint, bone bright",
        ),
        TransferFunction(
            "ct-lung",
            [
                (-1024, 0.0, 0.0, 0.0, 0.0),
                (-950, 0.3, 0.4, 0.6, 0.0),
                (-800, 0.55, 0.65, 0.85, 0.08),
                (-500, 0.8, 0.55, 0.5, 0.12),
                (-300, 0.9, 0.5, 0.45, 0.0),
                (150, 0.9, 0.5, 0.45, 0.0),
                (400, 1.0, 0.95, 0.85, 0.3),
                (3000, 1.0, 1.0, 1.0, 0.5),
            ],
            description="CT: lung parenchyma and airways, soft tissue hidden",
        ),
        TransferFunction(
            "ct-vessels",
            [
                (-1024, 0.0, 0.0, 0.0, 0.0),
                (120, 0.6, 0.05, 0.05, 0.0),
                (200, 0.85, 0.15, 0.1, 0.35),
                (400, 1.0, 0.6, 0.45, 0.6),
                (1000, 1.0, 0.95, 0.9, 0.8),
                (3000, 1.0, 1.0, 1.0, 0.8),
            ],
            description="CT angiography: contrast-filled vessels red, bone white",
        ),
        TransferFunction(
            "mr-default",
            [
                (0.0, 0.0, 0.0, 0.0, 0.0),
                (0.25, 0.45, 0.3, 0.25, 0.0),
                (0.5, 0.85, 0.7, 0.6, 0.05),
                (0.8, 1.0, 0.9, 0.8, 0.2),
                (1.0, 1.0, 1.0, 1.0, 0.4),
            ],
            relative=True,
            description="MR: relative to the display window, brighter is more opaque",
        ),
    )


@functools.cache
def _window_presets() -> tuple[WindowPreset, ...]:
    from ownscan.core.volume import WindowPreset

    return (
        WindowPreset("brain", 80.0, 40.0),
        WindowPreset("lung", 1500.0, -600.0),
        WindowPreset("bone", 2000.0, 300.0),
        WindowPreset("abdomen", 400.0, 40.0),
        WindowPreset("mediastinum", 350.0, 50.0),
    )


def __getattr__(name: str) -> object:
    if name == "TRANSFER_FUNCTIONS":
        return _transfer_functions()
    if name == "WINDOW_PRESETS":
        return _window_presets()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@hookimpl
def ownscan_transfer_functions() -> list[TransferFunction]:
    return list(_transfer_functions())


@hookimpl
def ownscan_window_presets() -> list[WindowPreset]:
    return list(_window_presets())
