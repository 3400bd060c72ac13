"""The GLSL files: package data, includes, naming, one compiled program per mode."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from ownscan.core.plugin_host import PluginHost
from ownscan.core.render import load_shader
from ownscan.core.render._shaders import expand_includes, include_table

FILES = sorted(
    e.name for e in resources.files("ownscan.shaders").iterdir() if e.name.endswith(".glsl")
)


def test_shaders_are_package_data():
    assert {"common.glsl", "raycast.frag.glsl", "fullscreen.vert.glsl"} <= set(FILES)
    for mode in ("mpr", "mip", "minip", "xray", "dvr", "iso"):
        assert f"mode_{mode}.glsl" in FILES
    assert load_shader("common.glsl") is load_shader("common.glsl")  # cached
    with pytest.raises(
        FileNotFoundError, match=r"no shader 'nope\.glsl' in package ownscan\.shaders"
    ):
        load_shader("nope.glsl")


@pytest.mark.parametrize("name", FILES)
def test_glsl_naming(name):
    text = load_shader(name)
    for decl in re.findall(r"^\s*uniform\s+\w+\s+(\w+)", text, re.MULTILINE):
        assert decl.startswith("u_"), f"{name}: uniform {decl} must start with u_"
    for decl in re.findall(r"^\s*(?:in|out)\s+\w+\s+(\w+)\s*;", text, re.MULTILINE):
        assert decl[:2] in ("v_", "o_", "a_"), f"{name}: {decl} needs a v_/a_/o_ prefix"
    # positions and directions carry their coordinate system
    for var in re.findall(r"\bvec3\s+(\w*(?:pos|dir|origin|centre|plane)\w*)", text):
        assert re.search(r"_(ijk|tex|lps|view|ndc)$", var), f"{name}: {var} lacks a space suffix"


def test_includes_expand():
    assert "ownscan/common" in include_table() and "ownscan/average" in include_table()
    assert "#include" not in expand_includes(load_shader("mode_mpr.glsl"))
    with pytest.raises(ValueError, match="not found"):
        expand_includes('#include "ownscan/nothing"\n')


def test_one_program_per_mode_compiles(gl_renderer, gl_check):
    for mode in PluginHost().modes():
        for shading in (False, True):
            program, _ = gl_renderer._program(mode, shading)
            assert "u_volume" in program
