// The viewer's 2D views: one plane resliced from the 3D texture, with window/level.
//
// Technique: a quad covers the view; each fragment knows its view pixel (top-left origin,
// pixel centres at +0.5) and one matrix takes that pixel to texture coordinates
// (view pixel -> LPS mm on the plane -> voxel index through the inverse of the Volume's
// affine -> texel centre). So oblique volumes are resliced into true patient planes, and the
// geometry lives in one matrix computed (and tested) in Python: ownscan.core.viewer._geometry.
// The loader prepends "#version 330" and "#define VERTEX_SHADER" or "#define FRAGMENT_SHADER".

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

in vec2 v_px_view;
out vec4 o_colour;

uniform sampler3D u_volume;
uniform mat4 u_px_to_tex;       // view pixel (x, y, 0, 1) -> texture (s, t, r)
uniform float u_value_scale;    // stored value = texel * scale + offset
uniform float u_value_offset;
uniform float u_window_lo;      // level - width / 2, in stored units (HU for CT)
uniform float u_window_hi;      // level + width / 2
uniform bool u_invert;          // MONOCHROME1: low values bright
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
    float value = texture(u_volume, p_tex).r * u_value_scale + u_value_offset;
    float grey = clamp((value - u_window_lo) / (u_window_hi - u_window_lo), 0.0, 1.0);
    if (u_invert) grey = 1.0 - grey;
    o_colour = vec4(vec3(grey), 1.0);
}

#endif
