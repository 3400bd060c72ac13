// Draws an image texture over the whole viewport: the 3D view's picture, the ray-caster's own
// float texture (premultiplied over black, bottom row first) left on the GPU, no read-back.
// The loader prepends "#version 330 core" and "#define VERTEX_SHADER" or "#define FRAGMENT_SHADER".

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
uniform vec2 u_size_px;     // the viewport's size in pixels

void main() {
    // Pixel (x, y) of the view (y from the top) shows texel (x * tw / w, y * th / h) in
    // integers: 1:1 at full quality, and the interactive pass (half the rays per side)
    // enlarged by repeating pixels exactly as the renderer's upscale_nearest does.
    ivec2 out_size = ivec2(u_size_px);
    ivec2 src = textureSize(u_image, 0);
    ivec2 px = min(ivec2(floor(v_uv_tex * u_size_px)), out_size - 1);
    int col = px.x * src.x / out_size.x;
    int row_top = (out_size.y - 1 - px.y) * src.y / out_size.y;
    o_colour = vec4(texelFetch(u_image, ivec2(col, src.y - 1 - row_top), 0).rgb, 1.0);
}

#endif
