// Draws an image texture over the whole viewport (the 3D view's offscreen render, scaled).
// The loader prepends "#version 330" and "#define VERTEX_SHADER" or "#define FRAGMENT_SHADER".

#if defined(VERTEX_SHADER)

in vec2 a_pos_ndc;
out vec2 v_uv_tex;

void main() {
    v_uv_tex = a_pos_ndc * 0.5 + 0.5;
    gl_Position = vec4(a_pos_ndc, 0.0, 1.0);
}

#elif defined(FRAGMENT_SHADER)

in vec2 v_uv_tex;
out vec4 o_colour;
uniform sampler2D u_image;

void main() {
    o_colour = vec4(texture(u_image, v_uv_tex).rgb, 1.0);
}

#endif
