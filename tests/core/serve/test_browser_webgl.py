"""One rendering core: the GLSL files of ``shaders/`` assembled as GLSL ES 3.00
(core/serve/_webgl.py) compile and link in Chromium's WebGL2, for every mode of the plugin host
(built-in or not), shaded or not, with the gradient texture or without, and the 2D reslice;
they are the moderngl renderer's own programs (one assembly) behind the ES prologue."""

from __future__ import annotations

import re
from typing import Any

import pytest
from band_mode import BAND_RULE, band_mode

from ownscan.core.plugin_host import PluginHost
from ownscan.core.render import SkipRule, load_shader
from ownscan.core.render._shaders import raycast_program, stage_program
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
    for mode in [*PluginHost().modes(), band_mode(BAND_RULE, high=float("nan"))]:
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
    src = raycast_sources(mode, shading=True)
    assert src["fragment"].startswith("#version 300 es\n")
    assert src["vertex"] == ES_PROLOGUE + load_shader("fullscreen.vert.glsl")
    body = src["fragment"].removeprefix(ES_PROLOGUE)
    # dvr's options: a jittered ray start, skipping, shading (the desktop's own #defines)
    assert body.startswith("#define MODE_JITTER 1\n#define MODE_SKIP 1\n#define SHADING 1\n")
    assert not re.search(r"^\s*#include", body, re.MULTILINE)
    # every line of the skeleton, common.glsl and the mode is there, unchanged
    for name in ("raycast.frag.glsl", "common.glsl", "mode_dvr.glsl"):
        for line in load_shader(name).splitlines():
            if not re.match(r"\s*#include", line):
                assert line in body, f"{name}: {line!r} missing"
    # the skip rule's can_see is there (the desktop's, from the mode)
    assert SkipRule.opacity().glsl in body
    assert slice_sources()["fragment"].startswith(ES_PROLOGUE + "#define FRAGMENT_SHADER\n")
    # the reslice samples and windows as the ray-caster does: common.glsl is expanded into it
    assert "float window_level(float value)" in slice_sources()["fragment"]
    assert "#include" not in slice_sources()["fragment"]


@pytest.mark.parametrize("shading", [False, True])
def test_the_page_compiles_the_desktops_programs(shading: bool) -> None:
    """One assembly (core.render._shaders): the ES sources are the moderngl renderer's
    programs with the ES prologue where moderngl has ``#version 330 core``."""
    for mode in [*PluginHost().modes(), band_mode(BAND_RULE, high=float("nan"))]:
        src = mode_sources(mode, shading)
        skipping = src["skip"] is not None or mode.skip_rule is None
        desktop = raycast_program(mode, shading, skipping=skipping)
        assert src["vertex"] == ES_PROLOGUE + desktop.vertex
        assert src["fragment"] == ES_PROLOGUE + desktop.fragment, mode.name
        if src["fragment_gradient"] is not None:
            gradient = raycast_program(mode, shading, gradient=True, skipping=skipping)
            assert src["fragment_gradient"] == ES_PROLOGUE + gradient.fragment
    slice_program = stage_program("viewer_slice.glsl")
    assert slice_sources() == {
        "vertex": ES_PROLOGUE + slice_program.vertex,
        "fragment": ES_PROLOGUE + slice_program.fragment,
    }


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
    assert {"u_volume", "u_px_to_tex", "u_window", "u_invert"} <= set(result["slice"]["uniforms"])
    # every mode parameter is a uniform u_<name>
    assert "u_iso_value" in result["iso-shading0"]["uniforms"]
    assert {"u_low", "u_high", "u_gain"} <= set(result["band-shading0"]["uniforms"])


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
    assert dvr["skip"] == "opacity" and "#define MODE_SKIP 1" in dvr["fragment"]
    minip = mode_sources(PluginHost().mode("minip"))
    assert minip["skip"] == "minimum" and "#define MODE_SKIP_RUNNING 1" in minip["fragment"]
    assert "#define MODE_SKIP_MINIMUM 1" in minip["fragment"]
    # iso: its threshold rule on iso_value, a value parameter the page normalises
    assert (iso["skip"], iso["skip_parameter"]) == ("threshold", "iso_value")
    assert iso["value_parameters"] == ["iso_value"] and "#define MODE_SKIP 1" in iso["fragment"]
    assert "uniform float u_iso_value;" in iso["fragment"]


def test_a_rule_the_page_cannot_compute_draws_without_skipping() -> None:
    """A third party's skip rule: the page has no tables for it, so its program has no
    MODE_SKIP (every sample drawn: the same picture); one the page knows by its GLSL (a
    threshold on one of the mode's parameters) keeps skipping."""
    band = mode_sources(band_mode(BAND_RULE, high=float("nan")))
    assert band["skip"] is None and band["skip_parameter"] is None
    assert not re.search(r"^#define MODE_SKIP", band["fragment"], re.MULTILINE)
    assert BAND_RULE not in band["fragment"]
    assert band["parameters"] == {"low": 300.0, "high": None, "gain": 0.5}
    assert band["value_parameters"] == ["high", "low"]
    for line in ("uniform float u_low;", "uniform float u_high;", "uniform float u_gain;"):
        assert line in band["fragment"]
    low = mode_sources(band_mode(SkipRule.threshold("low").glsl))
    assert (low["skip"], low["skip_parameter"]) == ("threshold", "low")
    assert "#define MODE_SKIP 1" in low["fragment"]
