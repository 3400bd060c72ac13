"""What is drawn: the scene (volume, mode, window, transfer function, clipping, slice plane)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from ownscan.core.errors import UsageError
from ownscan.core.volume import Volume, WindowPreset

if TYPE_CHECKING:
    from ownscan.core.render._array import ArrayContext

__all__ = ["ArrayMode", "RenderNote", "Scene", "TransferFunction", "VisualisationMode"]


class RenderNote(UserWarning):
    """Something the user must know about a picture (a volume was downsampled to fit...)."""


@dataclass(frozen=True)
class TransferFunction:
    """Colour and opacity by value, as control points: a preset is data.

    Parameters
    ----------
    name
        What the user picks, e.g. ``"ct-bone"``.
    points
        ``(value, r, g, b, alpha)`` rows, sorted by value; colours in 0..1; ``alpha`` is the
        opacity of 1 mm of tissue of that value (the renderers correct it for their step).
        Between points everything is interpolated linearly; below the first and above the last
        point the end points hold.
    relative
        False: ``value`` is in the volume's units (Hounsfield units for CT). True: ``value`` is
        a fraction of the display window (0 = ``level - width/2``, 1 = ``level + width/2``), for
        data without absolute units such as MR.
    description
        One line for listings.
    """

    name: str
    points: Sequence[tuple[float, float, float, float, float]]
    relative: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        pts = np.asarray(self.points, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != 5 or len(pts) < 2:
            raise ValueError(
                f"transfer function {self.name!r}: points must be at least two "
                f"(value, r, g, b, alpha) rows, got shape {pts.shape}"
            )
        if np.any(np.diff(pts[:, 0]) < 0):
            raise ValueError(f"transfer function {self.name!r}: points must be sorted by value")
        if np.any(pts[:, 1:] < 0) or np.any(pts[:, 1:] > 1):
            raise ValueError(f"transfer function {self.name!r}: colours and alpha must be 0..1")

    def lut(self, value_min: float, value_max: float, window: WindowPreset | None = None) -> Any:
        """The 256 x 4 float32 RGBA table over ``value_min .. value_max``.

        Entry ``e`` holds the colour of the value ``value_min + e / 255 * (value_max -
        value_min)``, which is how the renderers index it (linear interpolation between
        entries).
        """
        pts = np.asarray(self.points, dtype=np.float64)
        xs = pts[:, 0]
        if self.relative:
            if window is None:
                raise ValueError(f"transfer function {self.name!r} is relative to a window")
            xs = window.level - window.width / 2.0 + xs * window.width
        values = value_min + np.arange(256) / 255.0 * (value_max - value_min)
        out = np.empty((256, 4), dtype=np.float32)
        for c in range(4):
            out[:, c] = np.interp(values, xs, pts[:, 1 + c])
        return out


class ArrayMode(Protocol):
    """The array implementation of a mode: the same maths as its GLSL, on many rays at once.

    The state of each ray is two float32 ``(n, 4)`` arrays ``acc`` and ``aux`` (the GLSL's
    ``vec4 acc, aux``). ``idx`` selects the rays being sampled at this step.
    """

    def begin(self, acc: npt.NDArray[np.float32], aux: npt.NDArray[np.float32]) -> None:
        """Initialise the state of all rays (in place)."""
        ...

    def sample(
        self,
        acc: npt.NDArray[np.float32],
        aux: npt.NDArray[np.float32],
        idx: npt.NDArray[np.intp],
        pos_tex: npt.NDArray[np.float32],
        ctx: ArrayContext,
    ) -> npt.NDArray[np.bool_]:
        """Take one sample at ``pos_tex`` ``(len(idx), 3)`` for rays ``idx``; return for each of
        them True when its ray is finished (early termination)."""
        ...

    def end(
        self,
        acc: npt.NDArray[np.float32],
        aux: npt.NDArray[np.float32],
        hit: npt.NDArray[np.bool_],
        ctx: ArrayContext,
    ) -> npt.NDArray[np.float32]:
        """Premultiplied RGBA ``(n, 4)`` in 0..1 for every ray."""
        ...


@dataclass(frozen=True)
class VisualisationMode:
    """A way to turn a volume into a picture, carried by a plugin.

    Parameters
    ----------
    name, description
        What the user picks (``--mode NAME``) and reads in ``ownscan plugins``.
    glsl
        GLSL source defining ``mode_begin``, ``mode_sample`` and ``mode_end`` (see
        ``shaders/raycast.frag.glsl`` for the contract); built-in modes load theirs from
        ``ownscan.shaders`` with :func:`ownscan.core.render.load_shader`.
    array
        The array implementation of the same maths (:class:`ArrayMode`).
    slab
        True for slice modes: rays are cut to the slab around the slice plane (a single sample
        on the plane when the slab is thin) instead of crossing the whole volume.
    uses_transfer_function
        True when the mode colours samples by a :class:`TransferFunction`.
    skip
        Empty-space skipping: ``None`` (never skip), ``"opacity"`` (skip bricks where the
        transfer function is fully transparent) or ``"threshold"`` (skip bricks whose values all
        lie below the iso value). The mode promises that such samples change nothing: the GL
        skeleton then also steps over single samples outside the transfer function's visible
        range (``"opacity"``) or below the iso value (``"threshold"``) without calling
        ``mode_sample``. ``"maximum"`` / ``"minimum"`` (MIP / MinIP): ``acc.x`` is the running
        maximum (minimum) and ``acc.y`` the number of samples taken; once there is one, bricks
        whose values all lie below (above) it are jumped over.
    parameters
        Defaults of the mode's parameters (e.g. ``{"iso_value": 300.0}``), overridable per
        scene through :attr:`Scene.parameters`.
    default_view
        The camera plane (:data:`ownscan.core.render.PLANES`) the mode is usually looked at.
    """

    name: str
    description: str
    glsl: str
    array: ArrayMode
    slab: bool = False
    uses_transfer_function: bool = False
    skip: str | None = None
    parameters: Mapping[str, float] = field(default_factory=dict)
    default_view: str = "anterior"

    def __post_init__(self) -> None:
        if self.skip not in (None, "opacity", "threshold", "maximum", "minimum"):
            raise ValueError(
                f"mode {self.name!r}: skip must be None, 'opacity', 'threshold', 'maximum' or "
                f"'minimum', got {self.skip!r}"
            )
        if not self.name.isidentifier():
            raise ValueError(f"mode name must be an identifier, got {self.name!r}")


@dataclass
class Scene:
    """Everything that decides the picture except the camera and the image size.

    Parameters
    ----------
    volume
        The data; its :attr:`~ownscan.core.volume.Volume.affine` places it in LPS.
    mode
        The visualisation mode.
    window
        Window/level for grey modes; None: the volume's default window.
    transfer_function
        For modes that use one; None: an error for those modes.
    clip_box
        ``((i0, i1), (j0, j1), (k0, k1))``: the part of the volume kept, as fractions of its
        extent along its own ``i``, ``j``, ``k`` axes.
    slice_offset_mm
        Slice modes: the slice plane passes through the volume's centre moved by this many mm
        towards the viewer; the plane faces the camera (so the camera chooses axial, coronal,
        sagittal or any oblique plane).
    slab_mm
        Slice modes: thickness of the slab averaged around the plane; 0 is a thin slice.
    samples_per_mm
        Sampling density along each ray; None: one sample per smallest voxel spacing.
    shading
        Gradient shading for modes that shade (dvr).
    parameters
        Overrides of the mode's parameters (``iso_value`` in volume units...).
    """

    volume: Volume
    mode: VisualisationMode
    window: WindowPreset | None = None
    transfer_function: TransferFunction | None = None
    clip_box: tuple[tuple[float, float], tuple[float, float], tuple[float, float]] = (
        (0.0, 1.0),
        (0.0, 1.0),
        (0.0, 1.0),
    )
    slice_offset_mm: float = 0.0
    slab_mm: float = 0.0
    samples_per_mm: float | None = None
    shading: bool = True
    parameters: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        box = np.asarray(self.clip_box, dtype=np.float64)
        if box.shape != (3, 2) or np.any(box[:, 0] >= box[:, 1]) or box.min() < 0 or box.max() > 1:
            raise UsageError(
                f"clip_box must be three (low, high) fractions with 0 <= low < high <= 1, "
                f"got {self.clip_box!r}"
            )
        if self.slab_mm < 0:
            raise UsageError(f"slab_mm must be >= 0, got {self.slab_mm!r}")
        if self.samples_per_mm is not None and not self.samples_per_mm > 0:
            raise UsageError(f"samples_per_mm must be > 0, got {self.samples_per_mm!r}")
        if self.volume.samples != 1:
            raise UsageError(
                f"cannot render a colour volume ({self.volume.samples} samples per voxel)"
            )
        if self.mode.uses_transfer_function and self.transfer_function is None:
            raise UsageError(f"mode {self.mode.name!r} needs a transfer function")
        unknown = set(self.parameters) - set(self.mode.parameters)
        if unknown:
            raise UsageError(
                f"mode {self.mode.name!r} has no parameter(s) {sorted(unknown)}; "
                f"valid: {sorted(self.mode.parameters) or 'none'}"
            )

    def parameter(self, name: str) -> float:
        """The value of a mode parameter: the scene's override, else the mode's default."""
        return float(self.parameters.get(name, self.mode.parameters[name]))

    def effective_window(self) -> WindowPreset:
        """The window used: the scene's, else the volume's default."""
        return self.window if self.window is not None else self.volume.default_window()
