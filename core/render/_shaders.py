"""GLSL sources: package data of ``ownscan.shaders``, read with importlib.resources, cached."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ownscan.core.render._scene import VisualisationMode

__all__ = [
    "ProgramSource",
    "expand_includes",
    "include_table",
    "load_shader",
    "raycast_program",
    "segment_finish_program",
    "stage_program",
]

SHADER_PACKAGE = "ownscan.shaders"


@functools.cache
def load_shader(name: str, package: str = SHADER_PACKAGE) -> str:
    """The text of the GLSL file ``name`` (e.g. ``"mode_mip.glsl"``) in ``package``.

    Raises
    ------
    FileNotFoundError
        No such file in the package (the message names both).
    """
    try:
        return resources.files(package).joinpath(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"no shader {name!r} in package {package}") from None


@functools.cache
def include_table() -> dict[str, str]:
    """Every ``*.glsl`` of ``ownscan.shaders`` under its ``#include`` name.

    ``common.glsl`` is ``"ownscan/common"``; ``mode_average.glsl`` is ``"ownscan/average"``.
    """
    table = {}
    for entry in resources.files(SHADER_PACKAGE).iterdir():
        if entry.name.endswith(".glsl"):
            stem = entry.name.removesuffix(".glsl").removeprefix("mode_")
            table[f"ownscan/{stem}"] = entry.read_text(encoding="utf-8")
    return table


_INCLUDE = re.compile(r'^[ \t]*#include[ \t]+"([^"]+)"[ \t]*$', re.MULTILINE)


def expand_includes(source: str, extra: Mapping[str, str] | None = None, depth: int = 0) -> str:
    """``source`` with its ``#include "ownscan/..."`` lines replaced by the files' text.

    ``extra`` adds (or overrides) includes that are no file: the pieces one program generates
    (``ownscan/mode``, ``ownscan/parameters``, ``ownscan/skip``, see :func:`raycast_program`).
    Included text is expanded in turn (a mode file may include a shared piece).

    Raises
    ------
    ValueError
        An unknown include (the message names it and the known ones), or nesting deeper than
        8 (a loop).
    """
    if depth > 8:
        raise ValueError("shader #include nesting deeper than 8 (a loop?)")
    table = include_table() if not extra else {**include_table(), **extra}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in table:
            raise ValueError(f"shader #include {name!r} not found; known: {sorted(table)}")
        return expand_includes(table[name], extra, depth + 1)

    return _INCLUDE.sub(replace, source)


@dataclass(frozen=True)
class ProgramSource:
    """The two stages of a program, every ``#include`` expanded and its ``#define`` lines
    first, without a ``#version`` line: each target puts its own before them (moderngl
    ``#version 330 core``, WebGL2 the GLSL ES 3.00 prologue of ``core.serve._webgl``)."""

    vertex: str
    fragment: str


def _defines(names: Sequence[str]) -> str:
    return "".join(f"#define {d}\n" for d in names)


def stage_program(name: str, defines: Sequence[str] = ()) -> ProgramSource:
    """A program from one file of ``ownscan.shaders`` that holds both stages (e.g.
    ``viewer_slice.glsl``): the file with ``VERTEX_SHADER`` and with ``FRAGMENT_SHADER``
    defined after ``defines`` (e.g. ``"BRICKS 2"``), its includes expanded."""
    src = expand_includes(load_shader(name))
    head = _defines(defines)
    return ProgramSource(
        vertex=head + "#define VERTEX_SHADER\n" + src,
        fragment=head + "#define FRAGMENT_SHADER\n" + src,
    )


def _mode_includes(mode: VisualisationMode) -> dict[str, str]:
    """The generated includes of a program drawing ``mode``: its GLSL and its parameters."""
    return {
        "ownscan/mode": mode.glsl,
        # every mode parameter is a uniform of its own, set by the renderer from
        # Scene.shader_parameters (value parameters normalised as the samples are)
        "ownscan/parameters": "".join(f"uniform float u_{name};\n" for name in mode.parameters),
    }


def segment_finish_program(mode: VisualisationMode) -> ProgramSource:
    """The last pass of ``mode`` drawn brick by brick (see :func:`raycast_program`): each
    pixel's ``acc`` through the mode's own ``mode_end`` (``segment_finish.frag.glsl``)."""
    fragment = expand_includes(load_shader("segment_finish.frag.glsl"), _mode_includes(mode))
    return ProgramSource(
        vertex=expand_includes(load_shader("fullscreen.vert.glsl")),
        fragment=fragment,
    )


def raycast_program(
    mode: VisualisationMode,
    shading: bool,
    bricks: int = 1,
    gradient: bool = False,
    skipping: bool = True,
    segment: str = "",
) -> ProgramSource:
    """The ray-casting program of ``mode``: the one assembly of both targets (the moderngl
    renderer and the browser's WebGL2), so the two never differ but by their ``#version``.

    The skeleton ``raycast.frag.glsl`` with the mode's GLSL as ``ownscan/mode``, one
    ``uniform float u_<name>;`` per mode parameter as ``ownscan/parameters`` and the mode's
    skip rule's ``can_see`` as ``ownscan/skip``; its options as ``#define`` lines.

    Parameters
    ----------
    mode
        The mode drawn.
    shading
        Gradient shading (``SHADING``; only for modes that use a transfer function).
    bricks
        Volume textures along ``k`` (``BRICKS`` when more than one).
    gradient
        Shading reads the precomputed gradient texture (``GRADIENT_TEXTURE``).
    skipping
        The mode's empty-space skipping (``MODE_SKIP`` for a :class:`SkipRule`,
        ``MODE_SKIP_RUNNING`` and ``MODE_SKIP_MAXIMUM`` / ``MODE_SKIP_MINIMUM`` for the running
        kinds). False draws every sample (for a target that cannot compute the rule's skip
        tables): the same picture, slower.
    segment
        One brick's pass of a volume drawn brick by brick (``core.render._outofcore``), the
        mode's composition kind (``"under"``, ``"maximum"``, ``"minimum"``, ``"sum"``):
        ``SEGMENT`` and ``SEGMENT_<KIND>``, ``shaders/segment.glsl`` appended to the mode.
        Empty: the whole volume in one pass.
    """
    from ownscan.core.render._scene import RUNNING_SKIPS

    rule = mode.skip_rule if skipping else None
    defines = []
    if mode.slab:
        defines.append("MODE_SLAB 1")
    if mode.jitter and not mode.slab:  # a stable per-pixel ray start (against wood grain)
        defines.append("MODE_JITTER 1")
    if rule is not None:
        defines.append("MODE_SKIP 1")
    elif skipping and mode.skip in RUNNING_SKIPS:
        defines.append("MODE_SKIP_RUNNING 1")
        defines.append(f"MODE_SKIP_{str(mode.skip).upper()} 1")
    if shading and mode.uses_transfer_function:
        defines.append("SHADING 1")
    if bricks > 1:
        defines.append(f"BRICKS {bricks}")
    if gradient:
        defines.append("GRADIENT_TEXTURE 1")
    generated = _mode_includes(mode)
    if segment:
        defines += ["SEGMENT 1", f"SEGMENT_{segment.upper()} 1"]
        generated["ownscan/mode"] += '\n#include "ownscan/segment"\n'
    generated["ownscan/skip"] = rule.glsl if rule is not None else ""
    return ProgramSource(
        vertex=expand_includes(load_shader("fullscreen.vert.glsl")),
        fragment=_defines(defines) + expand_includes(load_shader("raycast.frag.glsl"), generated),
    )
