"""One rendering core: the GLSL files of ``shaders/`` assembled as GLSL ES 3.00
(core/serve/_webgl.py) compile and link in Chromium's WebGL2, for every mode of the plugin host
(built-in or not), shaded or not, with the gradient texture or without, and the 2D reslice."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ownscan.core.plugin_host import PluginHost
from ownscan.core.render import load_shader
from ownscan.core.serve._webgl import ES_PROLOGUE, mode_sources, raycast_sources, slice_sources

LINK = """(programs) => {
    const gl = document.createElement('canvas').getContext('webgl2');
    if (!gl) return {error: 'no WebGL2'};
    const out = {float_linear: !!gl.getExtension('OES_texture_float_linear')};
    for (const [name, p] of Object.entries(programs)) {
        const prog = gl.createProgram();
        let log = '';
        const stages = [[gl.VERTEX_SHADER, p.vertex], [gl.FRAGMENT_SHADER, p.fragment]];
        for (const [type, src] of stages) {
            const sh = gl.createShader(type);
            gl.shaderSource(sh, src);
            gl.compileShader(sh);
            if (!gl.getShaderParameter(sh, gl.COMPILE_STATUS)) log += gl.getShaderInfoLog(sh);
            gl.attachShader(prog, sh);
        }
        gl.linkProgram(prog);
        if (!gl.getProgramParameter(prog, gl.LINK_STATUS)) log += gl.getProgramInfoLog(prog);
        const uniforms = [];
        for (let i = 0; i < gl.getProgramParameter(prog, gl.ACTIVE_UNIFORMS); i++) {
            uniforms.push(gl.getActiveUniform(prog, i).name);
        }
        out[name] = {log, uniforms};
    }
    return out;
}"""


def _programs() -> dict[str, dict[str, str]]:
    programs: dict[str, dict[str, str]] = {"slice": slice_sources()}
    for mode in PluginHost().modes():
        for shading in (False, True):
            src = mode_sources(mode, shading)
            programs[f"{mode.name}-shading{int(shading)}"] = src
            if src["fragment_gradient"] is not None:
                programs[f"{mode.name}-gradient"] = {
                    "vertex": src["vertex"],
                    "fragment": src["fragment_gradient"],
                }
    return programs


def test_es_sources_are_the_shader_files_with_a_prologue():
    mode = PluginHost().mode("dvr")
    src = raycast_sources(mode.glsl, slab=False, shading=True)
    assert src["fragment"].startswith("#version 300 es\n")
    assert src["vertex"] == ES_PROLOGUE + load_shader("fullscreen.vert.glsl")
    body = src["fragment"].removeprefix(ES_PROLOGUE)
    assert body.startswith("#define SHADING 1\n")
    assert not re.search(r"^\s*#include", body, re.MULTILINE)
    # every line of the skeleton, common.glsl and the mode is there, unchanged
    for name in ("raycast.frag.glsl", "common.glsl", "mode_dvr.glsl"):
        for line in load_shader(name).splitlines():
            if not re.match(r"\s*#include", line):
                assert line in body, f"{name}: {line!r} missing"
    assert slice_sources()["fragment"].startswith(ES_PROLOGUE + "#define FRAGMENT_SHADER\n")


def test_every_program_compiles_and_links_in_webgl2(browser: Any):
    programs = _programs()
    page = browser.new_page()
    page.set_content("<!doctype html><title>webgl</title>")
    result = page.evaluate(LINK, programs)
    page.close()
    assert "error" not in result, result
    # the page's volume texture is R32F filtered linearly: it needs this extension
    assert result["float_linear"]
    for name in programs:
        assert result[name]["log"] == "", f"{name}: {result[name]['log']}"
    # the skeleton's uniforms survive (a program compiled to nothing would pass the above)
    for name in programs:
        if name != "slice":
            assert {"u_volume", "u_lps_to_tex", "u_size"} <= set(result[name]["uniforms"]), name
    assert "u_gradient" in result["dvr-gradient"]["uniforms"]
    assert "u_lut" in result["dvr-shading1"]["uniforms"]
    assert {"u_volume", "u_px_to_tex"} <= set(result["slice"]["uniforms"])


@pytest.mark.parametrize("shading", [False, True])
def test_mode_description(shading: bool) -> None:
    iso = mode_sources(PluginHost().mode("iso"), shading)
    assert iso["parameters"] == {"iso_value": None}  # NaN default: JSON has no NaN
    assert iso["shading"] is False and iso["fragment_gradient"] is None
    dvr = mode_sources(PluginHost().mode("dvr"), shading)
    assert dvr["uses_transfer_function"] and dvr["shading"] is shading
    assert (dvr["fragment_gradient"] is not None) is shading
    assert mode_sources(PluginHost().mode("mpr"))["slab"] is True
    # the desktop's empty-space skipping, defined as core/render/_gl.py defines it
    assert dvr["skip"] == "opacity" and "#define MODE_SKIP_OPACITY 1" in dvr["fragment"]
    assert "#define MODE_SKIP_RUNNING 1" in mode_sources(PluginHost().mode("minip"))["fragment"]
