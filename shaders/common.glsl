// Shared pieces of every ray-casting program: uniforms, sampling, transfer function, window,
// shading. Mirrored line by line by ownscan.core.render._array (ArrayContext).

uniform sampler3D u_volume;      // R16 unorm: q / 65535 over the volume's value range
uniform vec3 u_dims;             // (nx, ny, nz) voxels along i, j, k
uniform sampler2D u_lut;         // 256 x 1 RGBA float transfer function over 0..1
uniform vec2 u_window;           // normalised low and high end of the grey ramp
uniform int u_invert;            // MONOCHROME1: low values bright
uniform mat3 u_grad_to_lps;      // per-voxel (i, j, k) differences -> gradient per mm in LPS
uniform float u_step_mm;         // distance between samples along a ray
uniform vec4 u_shade;            // ambient, diffuse, specular, shininess
uniform float u_shade_gain;      // gradient (normalised value per mm) that is shaded fully

// Set by the skeleton for each ray before the first sample (unit vector / per mm).
vec3 g_ray_dir_lps;
vec3 g_ray_dir_tex;

#ifdef BRICKS
// A volume deeper than the largest 3D texture is split along k into BRICKS textures that
// overlap by one slice: brick b holds slices b * u_brick_step .. b * u_brick_step + depth - 1,
// so the two slices a trilinear sample reads always lie in one brick.
uniform sampler3D u_volume1;
uniform sampler3D u_volume2;
uniform sampler3D u_volume3;
uniform float u_brick_step;      // slices between the starts of two bricks
uniform vec4 u_brick_depth;      // slices in each brick

float sample_volume(vec3 pos_tex) {
    float k = pos_tex.z * u_dims.z - 0.5;  // continuous slice index
    int b = clamp(int(floor(k / u_brick_step)), 0, BRICKS - 1);
    vec3 brick_tex = vec3(pos_tex.xy, (k - float(b) * u_brick_step + 0.5) / u_brick_depth[b]);
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
// Central differences one voxel apart along i, j, k, computed once per volume on upload:
// texel (i, j, k) holds 32768 + floor((q[i+1] - q[i-1]) / 2) per axis (indices clamped to the
// volume) as RGB16 unorm, q being the R16 voxels. Sampled trilinearly this equals the six
// fetches below (trilinear interpolation is linear in the texels) except within half a voxel
// of the volume's faces, in one fetch instead of six.
// Bricked like the volume (same slices per brick).
uniform sampler3D u_gradient;

#ifdef BRICKS
uniform sampler3D u_gradient1;
uniform sampler3D u_gradient2;
uniform sampler3D u_gradient3;

vec3 sample_gradient(vec3 pos_tex) {
    float k = pos_tex.z * u_dims.z - 0.5;
    int b = clamp(int(floor(k / u_brick_step)), 0, BRICKS - 1);
    vec3 brick_tex = vec3(pos_tex.xy, (k - float(b) * u_brick_step + 0.5) / u_brick_depth[b]);
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
    return texture(u_gradient, pos_tex).rgb;
}
#endif

vec3 gradient_lps(vec3 pos_tex) {
    vec3 g_ijk = sample_gradient(pos_tex) - 32768.0 / 65535.0;
    return u_grad_to_lps * g_ijk;
}
#else
// Central differences one voxel apart along i, j, k, carried to LPS (anisotropy, obliquity).
vec3 gradient_lps(vec3 pos_tex) {
    vec3 d_tex = 1.0 / u_dims;
    vec3 g_ijk = vec3(
        sample_volume(pos_tex + vec3(d_tex.x, 0.0, 0.0)) - sample_volume(pos_tex - vec3(d_tex.x, 0.0, 0.0)),
        sample_volume(pos_tex + vec3(0.0, d_tex.y, 0.0)) - sample_volume(pos_tex - vec3(0.0, d_tex.y, 0.0)),
        sample_volume(pos_tex + vec3(0.0, 0.0, d_tex.z)) - sample_volume(pos_tex - vec3(0.0, 0.0, d_tex.z))
    ) * 0.5;
    return u_grad_to_lps * g_ijk;
}
#endif

// Entry e of the 256-entry table holds the value e / 255.
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

// Shading weighted by the gradient's strength: homogeneous regions keep their colour.
vec3 shade(vec3 color, vec3 grad_lps, vec3 dir_lps) {
    float w = clamp(length(grad_lps) * u_shade_gain, 0.0, 1.0);
    return mix(color, shade_full(color, grad_lps, dir_lps), w);
}
