"""GLSL sources: package data of ``ownscan.shaders``, read with importlib.resources, cached."""

from __future__ import annotations

import functools
import re
from importlib import resources

__all__ = ["expand_includes", "include_table", "load_shader"]

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


def expand_includes(source: str, depth: int = 0) -> str:
    """``source`` with its ``#include "ownscan/..."`` lines replaced by the files' text.

    moderngl resolves ``#include`` one level deep only; a mode file that includes a shared
    piece is expanded here before it becomes ``ownscan/mode``.
    """
    if depth > 8:
        raise ValueError("shader #include nesting deeper than 8 (a loop?)")
    table = include_table()

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in table:
            raise ValueError(f"shader #include {name!r} not found; known: {sorted(table)}")
        return expand_includes(table[name], depth + 1)

    return _INCLUDE.sub(replace, source)
