// Shared pieces of every ray-casting program: uniforms, sampling, transfer function, window,
// shading. Mirrored line by line by ownscan.core.render._array (ArrayContext).

uniform sampler3D u_volume;      // R16 unorm: q / 65535 over the volume's value range
uniform vec3 u_dims;             // (nx, ny, nz) voxels along i, j, k
uniform sampler2D u_lut;         // 256 x 1 RGBA float transfer function over 0..1, its alpha
                                 // the opacity of one step (of u_step_mm; _setup.step_lut)
uniform vec2 u_window;           // normalised low and high end of the grey ramp
uniform int u_invert;            // MONOCHROME1: low values bright
uniform mat3 u_grad_to_lps;      // per-voxel (i, j, k) differences -> gradient per mm in LPS
uniform float u_step_mm;         // distance between samples along a ray
uniform vec4 u_shade;            // ambient, diffuse, specular, shininess
uniform float u_shade_gain;      // gradient (normalised value per mm) that is shaded fully

#ifdef NARROW_LOCKSTEP
// The page on SwiftShader: its JIT reads a uniform again at every use, and per sample that
// cost more than a copy made once per ray by the skeleton (docs/SERVE_PAGE.md: 9 % of the
// shaded frame). Elsewhere the uniforms themselves (llvmpipe lifts the loads).
mat3 g_grad_to_lps;
vec4 g_shade;
float g_shade_gain;
#else
#define g_grad_to_lps u_grad_to_lps
#define g_shade u_shade
#define g_shade_gain u_shade_gain
#endif
// Set by the skeleton for each ray before the first sample (unit vector / per mm).
vec3 g_ray_dir_lps;
vec3 g_ray_dir_tex;
// With MODE_SKIP: sample_volume(pos_tex) at the position mode_sample is given, already read by
// the skeleton for the skip rule's can_see (a mode may use it instead of reading it again).
float g_skip_value;

#if defined(SEGMENT)
// One brick of a volume drawn brick by brick in several passes (shaders/segment.glsl): the
// resident texture holds voxels u_seg_first .. u_seg_first + u_seg_size - 1 of the whole
// volume (the brick's own voxels and a halo around them); pos_tex stays in the whole volume's
// texture coordinates, so every pass computes the same sample positions.
uniform vec3 u_seg_first;        // first voxel (i, j, k) the texture holds
uniform vec3 u_seg_size;         // voxels it holds along i, j, k

float sample_volume(vec3 pos_tex) {
    return texture(u_volume, (pos_tex * u_dims - u_seg_first) / u_seg_size).r;
}
#elif defined(BRICKS)
// A volume larger than the largest 3D texture is split into a grid of BRICKS textures
// (u_brick_count along i, j, k; i fastest, then j, then k) that overlap by one voxel along
// each split axis: brick b holds voxels b * u_brick_step .. b * u_brick_step + size - 1 there,
// so the two voxels a trilinear sample reads along each axis always lie in one brick.
uniform sampler3D u_volume1;
uniform sampler3D u_volume2;
uniform sampler3D u_volume3;
uniform vec3 u_brick_step;       // voxels between the starts of two bricks, per axis
uniform vec3 u_brick_count;      // bricks along i, j, k
uniform vec3 u_brick_last;       // voxels of the last brick along i, j, k

// The brick of a grid (step, count, last as the uniforms below) holding the texel at
// continuous index u of a texture whose coordinate there is tex, and the coordinates in that
// brick (an axis that is not split keeps tex as it is).
int brick_in(vec3 u, vec3 tex, vec3 step, vec3 count, vec3 last, out vec3 brick_tex) {
    vec3 b = clamp(floor(u / step), vec3(0.0), count - 1.0);
    vec3 size = mix(step + 1.0, last, vec3(equal(b, count - 1.0)));
    brick_tex = mix((u - b * step + 0.5) / size, tex, vec3(equal(count, vec3(1.0))));
    return int(b.x + count.x * (b.y + count.y * b.z) + 0.5);
}

// The brick holding the sample at pos_tex, and the sample's coordinates in it.
int brick_at(vec3 pos_tex, out vec3 brick_tex) {
    vec3 u = pos_tex * u_dims - 0.5;  // continuous voxel index
    return brick_in(u, pos_tex, u_brick_step, u_brick_count, u_brick_last, brick_tex);
}

float sample_volume(vec3 pos_tex) {
    vec3 brick_tex;
    int b = brick_at(pos_tex, brick_tex);
    if (b == 0) {
        return texture(u_volume, brick_tex).r;
    }
    if (b == 1) {
        return texture(u_volume1, brick_tex).r;
    }
    if (b == 2) {
        return texture(u_volume2, brick_tex).r;
    }
    return texture(u_volume3, brick_tex).r;
}
#else
float sample_volume(vec3 pos_tex) {
    return texture(u_volume, pos_tex).r;
}
#endif

#ifdef GRADIENT_TEXTURE
// The compact gradient texture, computed once per volume on upload (core/render/_gradient.py):
// texel t holds, per axis, the Sobel gradient S / (32 B f) (the central difference along the
// axis smoothed by [1, 2, 1] / 4 along the two others: the gradient of a lightly smoothed
// field, so that a surface's normal does not follow the voxel grid as wood grain) of the voxel
// sums A of the blocks of B = f_i f_j f_k voxels (f = u_gradient_step) around it, block
// indices clamped to the volume: the gradient per voxel, q being the R16 voxels. Stored as
// RGB8 snorm (byte / 127), in steps of the same size per mm on every axis, a vector longer
// than 127 steps kept at 127 along its own direction (strong enough to be shaded fully well
// before that); u_gradient_unit takes it back to the gradient per voxel. Texel t is the
// block of voxels f t .. f t + f - 1, centred on voxel f t + (f - 1) / 2; 1/8 of the voxels
// when every axis is halved. Sampled trilinearly, in one fetch instead of 26.
uniform sampler3D u_gradient;
uniform vec3 u_gradient_step;    // f: voxels per texel along i, j, k (1 or 2)
uniform vec3 u_gradient_dims;    // texels along i, j, k: ceil(u_dims / f)
uniform vec3 u_gradient_unit;    // gradient per voxel (normalised) of a texel's 1.0, per axis

// u_dims / (u_gradient_step * u_gradient_dims), and u_grad_to_lps with its columns times
// u_gradient_unit (a texel straight to LPS), set once per ray by the skeleton:
// SwiftShader's JIT (the page without a GPU) does not lift a uniform expression out of the
// sample loop.
vec3 g_gradient_scale;
mat3 g_gradient_to_lps;

// The texture coordinate of the sample at pos_tex: texel index pos_tex * u_dims / f - 0.5 (not
// pos_tex itself when an odd axis was halved: the last texel's block reaches past the volume).
vec3 gradient_tex(vec3 pos_tex) {
    return pos_tex * g_gradient_scale;
}

#ifdef BRICKS
// Bricked on its own grid (its size is the volume's / f, so never more bricks along an axis).
uniform sampler3D u_gradient1;
uniform sampler3D u_gradient2;
uniform sampler3D u_gradient3;
uniform vec3 u_gradient_brick_step;
uniform vec3 u_gradient_brick_count;
uniform vec3 u_gradient_brick_last;

vec3 sample_gradient(vec3 pos_tex) {
    vec3 g = gradient_tex(pos_tex);
    vec3 brick_tex;
    int b = brick_in(g * u_gradient_dims - 0.5, g, u_gradient_brick_step, u_gradient_brick_count,
                     u_gradient_brick_last, brick_tex);
    if (b == 0) {
        return texture(u_gradient, brick_tex).rgb;
    }
    if (b == 1) {
        return texture(u_gradient1, brick_tex).rgb;
    }
    if (b == 2) {
        return texture(u_gradient2, brick_tex).rgb;
    }
    return texture(u_gradient3, brick_tex).rgb;
}
#else
vec3 sample_gradient(vec3 pos_tex) {
    return texture(u_gradient, gradient_tex(pos_tex)).rgb;
}
#endif

vec3 gradient_lps(vec3 pos_tex) {
    return g_gradient_to_lps * sample_gradient(pos_tex);
}
#else
// The full-resolution Sobel gradient from the interpolated field at the 26 whole-voxel offsets
// around the sample (offset o weighs o_axis * (2 - |o_other1|) * (2 - |o_other2|) on each axis;
// the weights sum to 16 per side), carried to LPS (anisotropy, obliquity): iso's hit normal,
// and shaded dvr beyond the memory budget (finer than the texture's block gradient: a little
// more detail and noise in the shading, the same colours and opacities). Same order of
// offsets as the array renderer (k, then j, then i).
vec3 gradient_lps(vec3 pos_tex) {
    vec3 d_tex = 1.0 / u_dims;
    vec3 g_ijk = vec3(0.0);
    for (int k = -1; k <= 1; k++) {
        for (int j = -1; j <= 1; j++) {
            for (int i = -1; i <= 1; i++) {
                if (i == 0 && j == 0 && k == 0) {
                    continue;
                }
                vec3 o = vec3(float(i), float(j), float(k));
                vec3 w = 2.0 - abs(o);
                float v = sample_volume(pos_tex + o * d_tex);
                g_ijk += v * (o * vec3(w.y * w.z, w.x * w.z, w.x * w.y));
            }
        }
    }
    return u_grad_to_lps * (g_ijk * (1.0 / 32.0));
}
#endif

// Entry e of the 256-entry table holds the value e / 255; alpha: the opacity of one step.
vec4 transfer(float value) {
    return texture(u_lut, vec2(value * (255.0 / 256.0) + 0.5 / 256.0, 0.5));
}

float window_level(float value) {
    float g = clamp((value - u_window.x) / (u_window.y - u_window.x), 0.0, 1.0);
    return u_invert != 0 ? 1.0 - g : g;
}

// Headlight Blinn-Phong (light and eye along the ray: half vector = light), two-sided.
vec3 shade_full(vec3 color, vec3 grad_lps, vec3 dir_lps) {
    float g = length(grad_lps);
    if (g <= 0.0) {
        return color * (u_shade.x + u_shade.y);
    }
    float d = abs(dot(grad_lps / g, -dir_lps));
    return color * (u_shade.x + u_shade.y * d) + vec3(u_shade.z * pow(d, u_shade.w));
}

// Shading weighted by the gradient's strength: homogeneous regions keep their colour. The same
// sums as mix(color, shade_full(color, grad_lps, dir_lps), clamp(|grad| * gain, 0, 1)), with
// one inverse square root for both the length and the normal and no branch: a gradient of 0
// has w = 0, so the colour as it is, as shade_full's flat case under w = 0 (dvr shades every
// visible sample: on SwiftShader this took 7 % off the page's shaded frame, docs/SERVE_PAGE.md).
vec3 shade(vec3 color, vec3 grad_lps, vec3 dir_lps) {
    float g2 = dot(grad_lps, grad_lps);
    float inv = inversesqrt(max(g2, 1e-30));  // 1 / |grad| (finite where grad is 0)
    float w = clamp(g2 * inv * g_shade_gain, 0.0, 1.0);
    float d = abs(dot(grad_lps, dir_lps)) * inv;
    vec3 lit = color * (g_shade.x + g_shade.y * d) + vec3(g_shade.z * pow(d, g_shade.w));
    return mix(color, lit, w);
}
