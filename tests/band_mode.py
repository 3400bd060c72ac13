"""A third party's visualisation mode for tests: its own parameters (two of them in volume
units), its own skip rule, OpenGL only (no array implementation). Used by the plugin tests
(tests/plugins/test_modes_presets.py) and the browser's (tests/core/serve)."""

from __future__ import annotations

from typing import Any

from ownscan.core.render import SkipRule, VisualisationMode

BAND_GLSL = """
// band: the first sample whose value lies in [u_low, u_high] (value parameters, normalised);
// colour (u_gain, u_low, 0.25) there: the parameters come back in the picture
void mode_begin(inout vec4 acc, inout vec4 aux) { acc = vec4(0.0); aux = vec4(0.0); }
bool mode_sample(inout vec4 acc, inout vec4 aux, vec3 pos_tex) {
    float v = sample_volume(pos_tex);
    if (v >= u_low && v <= u_high) { acc = vec4(u_gain, u_low, 0.25, 1.0); return true; }
    return false;
}
vec4 mode_end(vec4 acc, vec4 aux, bool hit) { return acc; }
"""

# can_see of the band's own skip rule
BAND_RULE = "bool can_see(float value) { return value >= u_low && value <= u_high; }\n"


def band_mode(rule_glsl: str = BAND_RULE, high: float = 5000.0) -> VisualisationMode:
    """The band mode (parameters ``low`` = 300 HU, ``high``, ``gain`` = 0.5), skipping by a
    :class:`SkipRule` with the GLSL ``rule_glsl`` and the per-brick test of the band."""

    def blocks(block_min: Any, block_max: Any, lut: Any, parameters: Any) -> Any:
        return (block_max >= parameters["low"]) & (block_min <= parameters["high"])

    return VisualisationMode(
        "band",
        "first value inside a band",
        BAND_GLSL,  # no array implementation: OpenGL only
        skip=SkipRule("band", rule_glsl, blocks),
        parameters={"low": 300.0, "high": high, "gain": 0.5},
        value_parameters={"low", "high"},
    )
