"""The GLSL of ``shaders/`` assembled as GLSL ES 3.00 for the browser's WebGL2.

One source, two targets: the programs are assembled once, by
``core.render._shaders.raycast_program`` (the ray-caster: includes, the mode's parameters as
uniforms, its skip rule, the defines) and ``stage_program`` (the 2D reslice), exactly as the
moderngl renderer and viewer compile them; moderngl puts ``#version 330 core`` before them,
here the ES prologue goes there instead. The prologue only adds what ES 3.00 requires and
desktop GLSL does not: default precisions (ES has none for ``float`` in fragment shaders and
none for 3D samplers). Everything is ``highp``: the ray-caster's texture coordinates and sums
need 32-bit floats, as on the desktop.

The page uploads the volume as an R32F texture holding exactly the numbers the desktop's R16
unorm texture returns (``q / 65535`` with ``q`` the prepared uint16 value, see
core.render._setup.prepare_volume), filtered linearly (``OES_texture_float_linear``), so both
targets sample the same values.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Any

from ownscan.core.render._scene import RUNNING_SKIPS, SkipRule
from ownscan.core.render._shaders import raycast_program, stage_program

if TYPE_CHECKING:
    from ownscan.core.render import VisualisationMode

__all__ = ["ES_PROLOGUE", "NARROW_LOCKSTEP", "mode_sources", "raycast_sources", "slice_sources"]

ES_PROLOGUE = (
    "#version 300 es\n"
    "precision highp float;\n"
    "precision highp int;\n"
    "precision highp sampler2D;\n"
    "precision highp sampler3D;\n"
)

# After the prologue, for a rasteriser that runs few pixels in lock-step (SwiftShader: a 2x2
# quad; the page asks for it, gl.js): the ray-caster's empty-space jump as a turn of the loop
# that finds the next visible sample (shaders/raycast.frag.glsl). The same samples, the same
# picture; only the loops' shape differs.
NARROW_LOCKSTEP = "#define NARROW_LOCKSTEP 1\n"


def _page_skip(mode: VisualisationMode) -> tuple[str | None, str | None]:
    """The mode's empty-space skipping as the page computes it (``static/skip.js``): the kind
    (``"opacity"``, ``"threshold"``, ``"maximum"``, ``"minimum"``) and, for a threshold, its
    parameter; ``(None, None)`` for no skipping, and for a third party's rule whose per-brick
    test only Python knows (the page then draws every sample: the same picture).

    A rule is recognised by its GLSL ``can_see``: the page's tables are exact for that test
    (``SkipRule.opacity`` from the transfer function's table, ``SkipRule.threshold(NAME)``
    as ``block_max >= u_NAME``), whatever Python function the rule carries."""
    if mode.skip in RUNNING_SKIPS:
        return str(mode.skip), None
    rule = mode.skip_rule
    if rule is None:
        return None, None
    if rule.glsl == SkipRule.opacity().glsl:
        return "opacity", None
    for name in mode.parameters:
        if rule.glsl == SkipRule.threshold(name).glsl:
            return "threshold", name
    return None, None


def raycast_sources(
    mode: VisualisationMode,
    shading: bool,
    gradient: bool = False,
    skipping: bool = True,
    narrow: bool = False,
) -> dict[str, str]:
    """Vertex and fragment source of the ray-casting program of ``mode``, as GLSL ES 3.00:
    :func:`ownscan.core.render._shaders.raycast_program` (the moderngl renderer's own assembly;
    its parameters mean the same here) behind the ES prologue instead of ``#version 330
    core``. One volume texture (no ``BRICKS``: the page draws the preview of a volume deeper
    than its largest 3D texture); ``skipping`` False for a skip rule the page cannot compute
    tables for; ``narrow`` for a rasteriser running few pixels in lock-step
    (:data:`NARROW_LOCKSTEP` after the prologue).

    Returns
    -------
    dict
        ``{"vertex": ..., "fragment": ...}``.
    """
    src = raycast_program(mode, shading, gradient=gradient, skipping=skipping)
    prologue = ES_PROLOGUE + (NARROW_LOCKSTEP if narrow else "")
    return {"vertex": ES_PROLOGUE + src.vertex, "fragment": prologue + src.fragment}


@functools.cache
def slice_sources() -> dict[str, str]:
    """Vertex and fragment source of the 2D reslice (``viewer_slice.glsl``) as GLSL ES 3.00:
    the program the viewer compiles (:func:`~ownscan.core.render._shaders.stage_program`),
    one volume texture (no bricks)."""
    src = stage_program("viewer_slice.glsl")
    return {"vertex": ES_PROLOGUE + src.vertex, "fragment": ES_PROLOGUE + src.fragment}


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(float(value)) else None


def mode_sources(
    mode: VisualisationMode, shading: bool = True, narrow: bool = False
) -> dict[str, Any]:
    """What the page needs to draw ``mode``, as JSON-ready data.

    The GLSL ES sources (:func:`raycast_sources`; shading applies only to modes that use a
    transfer function, as in the moderngl renderer; a shaded mode also gets
    ``fragment_gradient``, the variant that reads the gradient texture), ``skip`` (the kind of
    skipping the page computes tables for, see :func:`_page_skip`; None: none) and
    ``skip_parameter`` (a threshold's parameter), and the mode's description: ``slab``,
    ``uses_transfer_function``, ``parameters`` (defaults; non-finite ones as None, JSON has no
    NaN), ``value_parameters`` (those in volume units, which the page normalises as
    ``Scene.shader_parameters`` does) and ``default_view``. ``narrow``: the programs for a
    rasteriser running few pixels in lock-step (:func:`raycast_sources`).
    """
    shade = bool(shading and mode.uses_transfer_function)
    skip, skip_parameter = _page_skip(mode)
    skipping = skip is not None
    return {
        **raycast_sources(mode, shade, skipping=skipping, narrow=narrow),
        "fragment_gradient": (
            raycast_sources(mode, shade, gradient=True, skipping=skipping, narrow=narrow)[
                "fragment"
            ]
            if shade
            else None
        ),
        "skip": skip,
        "skip_parameter": skip_parameter,
        "mode": mode.name,
        "description": mode.description,
        "slab": mode.slab,
        "uses_transfer_function": mode.uses_transfer_function,
        "shading": shade,
        "parameters": {k: _finite(v) for k, v in mode.parameters.items()},
        "value_parameters": sorted(mode.value_parameters),
        "default_view": mode.default_view,
        # "maximum" / "average": the window the mode draws with when none is chosen
        # (Scene.effective_window; the header's projection_windows hold its numbers)
        "auto_window": mode.auto_window,
    }
