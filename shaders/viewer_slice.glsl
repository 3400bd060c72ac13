// The viewer's 2D views: one plane resliced from the 3D texture, with window/level.
//
// Technique: a quad covers the view; each fragment knows its view pixel (top-left origin,
// pixel centres at +0.5) and one matrix takes that pixel to texture coordinates
// (view pixel -> LPS mm on the plane -> voxel index through the inverse of the Volume's
// affine -> texel centre). So oblique volumes are resliced into true patient planes, and the
// geometry lives in one matrix computed (and tested) in Python: ownscan.core.viewer._geometry.
// The texture is the ray-caster's (ownscan.core.render.GpuVolume), sampled and windowed with
// the same functions (common.glsl). The loader (ownscan.core.render._gpu.program) prepends
// "#version 330 core" and "#define VERTEX_SHADER" or "#define FRAGMENT_SHADER".

#if defined(VERTEX_SHADER)

in vec2 a_pos_ndc;          // quad corner, -1..1
uniform vec2 u_size_px;     // view size in pixels
out vec2 v_px_view;         // view pixel, origin top-left (rows go down, GL's y goes up)

void main() {
    v_px_view = vec2((a_pos_ndc.x * 0.5 + 0.5) * u_size_px.x,
                     (0.5 - a_pos_ndc.y * 0.5) * u_size_px.y);
    gl_Position = vec4(a_pos_ndc, 0.0, 1.0);
}

#elif defined(FRAGMENT_SHADER)

// The ray-caster's sampling and window: sample_volume (bricks included), window_level,
// u_volume (R16 unorm, q / 65535 over the value range), u_window (normalised), u_invert.
#include "ownscan/common"

in vec2 v_px_view;
out vec4 o_colour;

uniform mat4 u_px_to_tex;       // view pixel (x, y, 0, 1) -> texture (s, t, r)
uniform bool u_rgb;             // a colour image: its RGB as stored, no window

void main() {
    vec3 p_tex = (u_px_to_tex * vec4(v_px_view, 0.0, 1.0)).xyz;
    if (any(lessThan(p_tex, vec3(0.0))) || any(greaterThan(p_tex, vec3(1.0)))) {
        o_colour = vec4(0.0, 0.0, 0.0, 1.0);   // outside the volume's box
        return;
    }
    if (u_rgb) {
        o_colour = vec4(texture(u_volume, p_tex).rgb, 1.0);
        return;
    }
    o_colour = vec4(vec3(window_level(sample_volume(p_tex))), 1.0);
}

#endif
