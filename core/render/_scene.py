"""What is drawn: the scene (volume, mode, window, transfer function, clipping, slice plane)."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from ownscan.core.errors import UsageError
from ownscan.core.volume import Volume, WindowPreset

if TYPE_CHECKING:
    from ownscan.core.render._array import ArrayContext

__all__ = [
    "ArrayMode",
    "RenderNote",
    "Scene",
    "SkipRule",
    "TransferFunction",
    "VisualisationMode",
]


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


# per brick: the smallest and largest normalised value (widened by a voxel), the transfer
# function's table (or None) and the mode's parameters as the shader sees them -> per brick,
# whether the mode may see anything there (None: no skipping for this picture)
BlockTest = Callable[
    [npt.NDArray[np.float32], npt.NDArray[np.float32], "npt.NDArray[np.float32] | None",
     Mapping[str, float]],
    "npt.NDArray[np.bool_] | None",
]  # fmt: skip


@dataclass(frozen=True)
class SkipRule:
    """Empty-space skipping as a mode defines it: which samples it cannot see.

    The mode promises that a sample whose value fails ``can_see`` changes nothing, so both
    renderers leave out whole bricks (4³ voxels) where no value can pass, and the GL skeleton
    also single samples that fail, without calling ``mode_sample``. The grid of samples does
    not move, so the picture is the same as without skipping (bit for bit on GL).

    Parameters
    ----------
    name
        For messages, and to tell compiled programs apart.
    glsl
        GLSL defining ``bool can_see(float value)`` for a normalised sample value (0..1 over the
        volume's value range). It may read the mode's parameters (``u_<name>``), the transfer
        function's visible range ``u_visible`` and the uniforms of ``shaders/common.glsl``.
    blocks
        ``blocks(block_min, block_max, lut, parameters)``: per brick, True where some value
        between the brick's normalised minimum and maximum may pass ``can_see``; ``lut`` is the
        256 x 4 transfer-function table (None without one), ``parameters`` the mode's
        parameters as the shader sees them. None: no skipping for this picture.
    """

    name: str
    glsl: str
    blocks: BlockTest

    @classmethod
    def opacity(cls) -> SkipRule:
        """Samples where the transfer function is fully transparent (``dvr``)."""
        return _OPACITY

    @classmethod
    def threshold(cls, parameter: str = "iso_value") -> SkipRule:
        """Samples below the mode's parameter ``parameter`` (``iso``: its ``iso_value``)."""

        def blocks(
            block_min: Any, block_max: Any, lut: Any, parameters: Mapping[str, float]
        ) -> Any:
            return block_max >= parameters[parameter]

        glsl = f"bool can_see(float value) {{\n    return value >= u_{parameter};\n}}\n"
        return cls(f"threshold:{parameter}", glsl, blocks)


def _opacity_blocks(
    block_min: Any, block_max: Any, lut: Any, parameters: Mapping[str, float]
) -> Any:
    """A brick may be seen when any table entry between its min and max has opacity."""
    if lut is None:
        return None
    # entries 0 .. 256 and indices 0 .. 256 in int16, in place: the int64 temporaries of one
    # value per brick (1.2 M bricks for a 512x512x300 CT) took 30-40 MiB at once, which stayed
    # in the heap for the frame (docs/BENCH.md, Memory)
    positive = np.concatenate([[0], np.cumsum(lut[:, 3] > 0)]).astype(np.int16)
    lo = np.floor(block_min * 255.0)
    np.clip(lo, 0, 255, out=lo)
    hi = np.ceil(block_max * 255.0)
    np.clip(hi, 0, 255, out=hi)
    hi += 1
    seen = positive[hi.astype(np.int16)]
    seen -= positive[lo.astype(np.int16)]
    return seen > 0


_OPACITY = SkipRule(
    "opacity",
    # values outside u_visible are transparent; those inside may be too (a transparent gap in
    # the transfer function): mode_sample then ignores them
    "bool can_see(float value) {\n    return value > u_visible.x && value < u_visible.y;\n}\n",
    _opacity_blocks,
)
# skip kinds that follow the mode's running result (acc.x, with acc.y samples taken): MIP/MinIP
RUNNING_SKIPS = ("maximum", "minimum")


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
        The array implementation of the same maths (:class:`ArrayMode`), for the array
        renderer (numpy, cupy). None: the mode draws with OpenGL only, and the array renderer
        says so instead of drawing.
    slab
        True for slice modes: rays are cut to the slab around the slice plane (a single sample
        on the plane when the slab is thin) instead of crossing the whole volume.
    uses_transfer_function
        True when the mode colours samples by a :class:`TransferFunction`.
    skip
        Empty-space skipping: None (never skip); a :class:`SkipRule` (the mode's own: which
        samples it cannot see, in GLSL and per brick); ``"opacity"`` and ``"threshold"``, the
        built-in rules :meth:`SkipRule.opacity` and :meth:`SkipRule.threshold` (samples below
        the ``iso_value`` parameter); ``"maximum"`` / ``"minimum"`` (MIP / MinIP): ``acc.x`` is
        the running maximum (minimum) and ``acc.y`` the number of samples taken; once there is
        one, bricks whose values all lie below (above) it are jumped over.
    parameters
        The mode's parameters and their defaults (e.g. ``{"iso_value": nan}``), overridable per
        scene (:attr:`Scene.parameters`, ``ownscan render --param NAME=VALUE``). Each reaches
        the GLSL as ``uniform float u_<name>`` (declared by the skeleton: do not declare it)
        and the array implementation as ``ctx.parameters[name]``.
    value_parameters
        The parameters given in the volume's units (Hounsfield units for CT): the shader gets
        them normalised as it gets the samples (0..1 over the value range). NaN means unset:
        a quarter of the window below its level (CT W400/L40: -60 HU, the skin).
    default_view
        The camera plane (:data:`ownscan.core.render.PLANES`) the mode is usually looked at.
    jitter
        Start each ray at a fixed per-pixel offset within the first step (a hash of the pixel,
        the same in GL and arrays and on every frame) instead of half a step: the planes of
        equal distance along the rays then no longer show as wood grain (iso) or stripes (dvr);
        a fine, stable grain instead. Not for slab modes (they sample the slab's own plane).
    auto_window
        The window when none is given: ``""`` the volume's (the file's first, else the 1st..99th
        percentile); ``"maximum"`` / ``"average"`` one from the values a maximum / average
        projection shows (``projection_window``; for ``"maximum"`` only where the volume's
        units are not absolute, i.e. not CT, whose stored or preset windows are meant).
    """

    name: str
    description: str
    glsl: str
    array: ArrayMode | None = None
    slab: bool = False
    uses_transfer_function: bool = False
    skip: str | SkipRule | None = None
    parameters: Mapping[str, float] = field(default_factory=dict)
    value_parameters: Collection[str] = frozenset()
    default_view: str = "anterior"
    auto_window: str = ""
    jitter: bool = False

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"mode name must be an identifier, got {self.name!r}")
        kinds = (None, "opacity", "threshold", *RUNNING_SKIPS)
        if not isinstance(self.skip, SkipRule) and self.skip not in kinds:
            raise ValueError(
                f"mode {self.name!r}: skip must be None, a SkipRule, 'opacity', 'threshold', "
                f"'maximum' or 'minimum', got {self.skip!r}"
            )
        if self.auto_window not in ("", "maximum", "average"):
            raise ValueError(
                f"mode {self.name!r}: auto_window must be '', 'maximum' or 'average', "
                f"got {self.auto_window!r}"
            )
        for name in self.parameters:
            if not name.isidentifier():
                raise ValueError(
                    f"mode {self.name!r}: parameter names become GLSL uniforms (u_NAME) and "
                    f"must be identifiers, got {name!r}"
                )
        unknown = set(self.value_parameters) - set(self.parameters)
        if unknown:
            raise ValueError(
                f"mode {self.name!r}: value_parameters {sorted(unknown)} are not parameters"
            )
        if self.skip == "threshold" and "iso_value" not in self.parameters:
            raise ValueError(
                f"mode {self.name!r}: skip='threshold' compares with the parameter iso_value, "
                "which the mode lacks (SkipRule.threshold(NAME) takes another)"
            )

    @property
    def skip_rule(self) -> SkipRule | None:
        """The :class:`SkipRule` of ``skip`` (None for no skipping and the running kinds)."""
        if isinstance(self.skip, SkipRule):
            return self.skip
        if self.skip == "opacity":
            return SkipRule.opacity()
        if self.skip == "threshold":
            return SkipRule.threshold("iso_value")
        return None


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
                f"cannot ray-cast a colour volume ({self.volume.samples} samples per voxel); "
                "`ownscan render` draws it as a colour MPR (ownscan.core.render.colour_mpr)"
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

    def shader_parameters(self, value_min: float, value_max: float) -> dict[str, float]:
        """Every mode parameter as the shader sees it (``u_<name>``): value parameters
        normalised over ``value_min .. value_max`` (NaN: a quarter of the window below its
        level), the others as they are."""
        win = self.effective_window()
        out = {}
        for name in self.mode.parameters:
            value = self.parameter(name)
            if name in self.mode.value_parameters:
                if not math.isfinite(value):
                    value = win.level - win.width / 4.0
                value = (value - value_min) / (value_max - value_min)
            out[name] = float(value)
        return out

    def effective_window(self) -> WindowPreset:
        """The window used: the scene's, else the mode's automatic one, else the volume's."""
        if self.window is not None:
            return self.window
        how = self.mode.auto_window
        if how == "average" or (how == "maximum" and self.volume.modality != "CT"):
            from ownscan.core.render._autowindow import projection_window

            return projection_window(self.volume, how)
        return self.volume.default_window()
