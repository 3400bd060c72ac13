"""The GLSL of ``shaders/`` assembled as GLSL ES 3.00 for the browser's WebGL2.

One source, two targets: moderngl compiles the files with ``#version 330 core`` and resolves
``#include`` itself (core.render._gl, core.viewer._gpu); here the same files are expanded and
given the ES prologue instead. The prologue only adds what ES 3.00 requires and desktop GLSL
does not: default precisions (ES has none for ``float`` in fragment shaders and none for 3D
samplers). Everything is ``highp``: the ray-caster's texture coordinates and sums need 32-bit
floats, as on the desktop.

The page uploads the volume as an R32F texture holding exactly the numbers the desktop's R16
unorm texture returns (``q / 65535`` with ``q`` the prepared uint16 value, see
core.render._setup.prepare_volume), filtered linearly (``OES_texture_float_linear``), so both
targets sample the same values.
"""

from __future__ import annotations

import functools
import math
import re
from typing import TYPE_CHECKING, Any

from ownscan.core.render._shaders import expand_includes, load_shader

if TYPE_CHECKING:
    from ownscan.core.render import VisualisationMode

__all__ = ["ES_PROLOGUE", "mode_sources", "raycast_sources", "slice_sources"]

ES_PROLOGUE = (
    "#version 300 es\n"
    "precision highp float;\n"
    "precision highp int;\n"
    "precision highp sampler2D;\n"
    "precision highp sampler3D;\n"
)

_MODE_INCLUDE = re.compile(r'^[ \t]*#include[ \t]+"ownscan/mode"[ \t]*$', re.MULTILINE)


def _defines(names: list[str]) -> str:
    return "".join(f"#define {d}\n" for d in names)


@functools.cache
def raycast_sources(
    mode_glsl: str,
    slab: bool,
    shading: bool,
    gradient: bool = False,
    skip: str | None = None,
) -> dict[str, str]:
    """Vertex and fragment source of the ray-casting program of one mode, as GLSL ES 3.00.

    Parameters
    ----------
    mode_glsl
        The mode's GLSL (``VisualisationMode.glsl``: ``mode_begin`` / ``mode_sample`` /
        ``mode_end``).
    slab
        The mode is a slice mode (``MODE_SLAB``).
    shading
        Gradient shading (``SHADING``; only for modes that use a transfer function).
    gradient
        Shading reads the precomputed gradient texture (``GRADIENT_TEXTURE``, see
        ``core.render._setup.gradient_texels``) instead of six volume fetches, as the moderngl
        renderer does when the texture fits its memory budget.
    skip
        The mode's empty-space skipping (``VisualisationMode.skip``), defined as the moderngl
        renderer defines it; the page then supplies the skip tables it computes as
        ``core.render._setup`` does (the picture is the same as without skipping).

    Returns
    -------
    dict
        ``{"vertex": ..., "fragment": ...}``. The bricks of very deep volumes are left out
        (the page draws the preview of a volume deeper than its largest 3D texture).
    """
    names = []
    if slab:
        names.append("MODE_SLAB 1")
    if shading:
        names.append("SHADING 1")
    if gradient:
        names.append("GRADIENT_TEXTURE 1")
    if skip in ("opacity", "threshold"):
        names.append("MODE_SKIP 1")
    elif skip in ("maximum", "minimum"):
        names.append("MODE_SKIP_RUNNING 1")
    if skip:
        names.append(f"MODE_SKIP_{skip.upper()} 1")
    skeleton = load_shader("raycast.frag.glsl")
    mode = expand_includes(mode_glsl)
    fragment = expand_includes(_MODE_INCLUDE.sub(lambda _m: mode, skeleton))
    return {
        "vertex": ES_PROLOGUE + load_shader("fullscreen.vert.glsl"),
        "fragment": ES_PROLOGUE + _defines(names) + fragment,
    }


@functools.cache
def slice_sources() -> dict[str, str]:
    """Vertex and fragment source of the 2D reslice (``viewer_slice.glsl``) as GLSL ES 3.00."""
    src = load_shader("viewer_slice.glsl")
    return {
        "vertex": ES_PROLOGUE + _defines(["VERTEX_SHADER"]) + src,
        "fragment": ES_PROLOGUE + _defines(["FRAGMENT_SHADER"]) + src,
    }


def mode_sources(mode: VisualisationMode, shading: bool = True) -> dict[str, Any]:
    """What the page needs to draw ``mode``: the GLSL ES sources (:func:`raycast_sources`;
    shading applies only to modes that use a transfer function, as in the moderngl renderer;
    a shaded mode also gets ``fragment_gradient``, the variant that reads the gradient texture)
    and the mode's description (``slab``, ``uses_transfer_function``, ``parameters`` with
    non-finite defaults as None, ``default_view``), as JSON-ready data."""
    shade = bool(shading and mode.uses_transfer_function)
    return {
        **raycast_sources(mode.glsl, mode.slab, shade, skip=mode.skip),
        "fragment_gradient": (
            raycast_sources(mode.glsl, mode.slab, shade, gradient=True, skip=mode.skip)["fragment"]
            if shade
            else None
        ),
        "skip": mode.skip,
        "mode": mode.name,
        "description": mode.description,
        "slab": mode.slab,
        "uses_transfer_function": mode.uses_transfer_function,
        "shading": shade,
        "parameters": {
            k: (float(v) if math.isfinite(float(v)) else None) for k, v in mode.parameters.items()
        },
        "default_view": mode.default_view,
    }
