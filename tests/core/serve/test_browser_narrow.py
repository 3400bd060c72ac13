"""The ray-caster's loops shaped for a rasteriser running few pixels in lock-step
(``NARROW_LOCKSTEP``, shaders/raycast.frag.glsl): what the page asks for on SwiftShader. The
programs are the desktop's with one define after the ES prologue, they compile and link in
WebGL2 for every mode that skips empty space, the page asks for them on SwiftShader, and they
draw the picture ``ownscan render`` draws (dvr and iso, whose empty-space skipping the define
reshapes, in test_browser_view.py's ``test_3d_mode_matches_ownscan_render``, which runs on
SwiftShader and so on these programs)."""

from __future__ import annotations

from typing import Any

import pytest
from browser_support import sign_in
from test_browser_webgl import LINK

from ownscan.core.plugin_host import PluginHost
from ownscan.core.render._shaders import raycast_program
from ownscan.core.serve._webgl import ES_PROLOGUE, NARROW_LOCKSTEP, mode_sources


@pytest.mark.parametrize("shading", [False, True])
def test_narrow_programs_are_the_desktops_with_one_define(shading: bool) -> None:
    for mode in PluginHost().modes():
        src = mode_sources(mode, shading, narrow=True)
        skipping = src["skip"] is not None or mode.skip_rule is None
        desktop = raycast_program(mode, shading, skipping=skipping)
        assert src["vertex"] == ES_PROLOGUE + desktop.vertex
        assert src["fragment"] == ES_PROLOGUE + NARROW_LOCKSTEP + desktop.fragment, mode.name
        if src["fragment_gradient"] is not None:
            gradient = raycast_program(mode, shading, gradient=True, skipping=skipping)
            assert src["fragment_gradient"] == ES_PROLOGUE + NARROW_LOCKSTEP + gradient.fragment
        # the rest of the description does not depend on it
        wide = mode_sources(mode, shading)
        for key in ("skip", "skip_parameter", "parameters", "shading", "slab"):
            assert src[key] == wide[key], (mode.name, key)


def test_narrow_programs_compile_and_link_in_webgl2(browser: Any) -> None:
    programs: dict[str, dict[str, str]] = {}
    for mode in PluginHost().modes():
        src = mode_sources(mode, True, narrow=True)
        if src["skip"] not in ("opacity", "threshold"):
            continue  # the define shapes only MODE_SKIP's loops
        programs[mode.name] = src
        if src["fragment_gradient"] is not None:
            programs[f"{mode.name}-gradient"] = {
                "vertex": src["vertex"],
                "fragment": src["fragment_gradient"],
            }
    assert {"dvr", "dvr-gradient", "iso"} <= set(programs)
    page = browser.new_page()
    page.set_content("<!doctype html><title>webgl</title>")
    result = page.evaluate(LINK, programs)
    page.close()
    assert "error" not in result, result
    for name in programs:
        assert result[name]["log"] == "", f"{name}: {result[name]['log']}"
        assert {"u_skip_distance", "u_volume", "u_size"} <= set(result[name]["uniforms"]), name


def test_the_page_asks_for_them_on_swiftshader(served: Any, desktop: Any) -> None:
    sign_in(desktop, served)
    got = desktop.evaluate(
        """async () => {
            const { Renderer } = await import('/static/gl.js');
            const r = new Renderer(document.createElement('canvas'));
            const e = r.gl.getExtension('WEBGL_debug_renderer_info');
            return {narrow: r.narrow, name: r.gl.getParameter(e.UNMASKED_RENDERER_WEBGL)};
        }"""
    )
    assert "SwiftShader" in got["name"] and got["narrow"] is True, got
    dvr = served.client().get("/api/shaders/raycast?mode=dvr&narrow=1").json()
    assert dvr["fragment"].startswith(ES_PROLOGUE + NARROW_LOCKSTEP)
    plain = served.client().get("/api/shaders/raycast?mode=dvr").json()
    assert NARROW_LOCKSTEP not in plain["fragment"]
