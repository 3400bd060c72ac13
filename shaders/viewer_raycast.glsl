// The viewer's built-in 3D view: an orthographic ray-caster, one program per mode.
//
// Technique: every fragment of the view is one ray. The camera is orthographic: the ray
// starts on the near plane at u_ndc_to_lps * (x_ndc, y_ndc, -1, 1) and runs along the unit
// direction u_dir_lps (LPS, mm). Start and direction are moved into texture space with
// u_lps_to_tex (inverse of the Volume's affine, then voxel index -> texel centre), the ray is
// clipped against the unit box, and sampled every u_step_mm millimetres. Exactly one of
// MODE_MIP, MODE_MINIP, MODE_XRAY, MODE_DVR, MODE_ISO is defined by the loader, so no run-time
// branch on the mode costs anything on software GL.
//
// This is the viewer's fallback; the viewer uses ownscan.core.render when it is installed.

#if defined(VERTEX_SHADER)

in vec2 a_pos_ndc;
out vec2 v_pos_ndc;

void main() {
    v_pos_ndc = a_pos_ndc;
    gl_Position = vec4(a_pos_ndc, 0.0, 1.0);
}

#elif defined(FRAGMENT_SHADER)

in vec2 v_pos_ndc;
out vec4 f_color;

uniform sampler3D u_volume;
uniform sampler2D u_tf;           // 256 x 1 RGBA over [u_window_lo, u_window_hi] (DVR)
uniform mat4 u_ndc_to_lps;        // orthographic camera: NDC -> LPS mm
uniform mat4 u_lps_to_tex;        // LPS mm -> texture coordinates
uniform mat3 u_grad_ijk_to_lps;   // direction * diag(1 / spacing): index gradient -> LPS
uniform vec3 u_dir_lps;           // unit viewing direction
uniform vec3 u_voxel_tex;         // one voxel in texture units, for central differences
uniform float u_step_mm;
uniform float u_value_scale;
uniform float u_value_offset;
uniform float u_window_lo;
uniform float u_window_hi;
uniform float u_iso_value;
uniform bool u_invert;

const int MAX_STEPS = 4096;

float value_at(vec3 p_tex) {
    return texture(u_volume, p_tex).r * u_value_scale + u_value_offset;
}

float windowed(float value) {
    return clamp((value - u_window_lo) / (u_window_hi - u_window_lo), 0.0, 1.0);
}

// Lambert shading with a head light, from the value gradient (two-sided).
float shade(vec3 p_tex) {
    vec3 g_ijk = vec3(
        value_at(p_tex + vec3(u_voxel_tex.x, 0.0, 0.0)) - value_at(p_tex - vec3(u_voxel_tex.x, 0.0, 0.0)),
        value_at(p_tex + vec3(0.0, u_voxel_tex.y, 0.0)) - value_at(p_tex - vec3(0.0, u_voxel_tex.y, 0.0)),
        value_at(p_tex + vec3(0.0, 0.0, u_voxel_tex.z)) - value_at(p_tex - vec3(0.0, 0.0, u_voxel_tex.z)));
    vec3 g_lps = u_grad_ijk_to_lps * g_ijk;
    float len = length(g_lps);
    if (len < 1e-6) return 1.0;
    return 0.25 + 0.75 * abs(dot(g_lps / len, u_dir_lps));
}

void main() {
    vec3 start_lps = (u_ndc_to_lps * vec4(v_pos_ndc, -1.0, 1.0)).xyz;
    vec3 start_tex = (u_lps_to_tex * vec4(start_lps, 1.0)).xyz;
    vec3 dir_tex = (u_lps_to_tex * vec4(u_dir_lps, 0.0)).xyz;     // texture units per mm
    vec3 safe_dir = mix(dir_tex, vec3(1e-12), lessThan(abs(dir_tex), vec3(1e-12)));
    vec3 t0 = (vec3(0.0) - start_tex) / safe_dir;
    vec3 t1 = (vec3(1.0) - start_tex) / safe_dir;
    vec3 tmin = min(t0, t1);
    vec3 tmax = max(t0, t1);
    float t_near_mm = max(max(tmin.x, tmin.y), max(tmin.z, 0.0));
    float t_far_mm = min(min(tmax.x, tmax.y), tmax.z);
    f_color = vec4(0.0, 0.0, 0.0, 1.0);
    if (t_far_mm <= t_near_mm) return;
    int n = min(int(ceil((t_far_mm - t_near_mm) / u_step_mm)), MAX_STEPS);

#if defined(MODE_MIP) || defined(MODE_MINIP) || defined(MODE_XRAY)
#if defined(MODE_MIP)
    float acc = -1e30;
#elif defined(MODE_MINIP)
    float acc = 1e30;
#else
    float acc = 0.0;
#endif
    for (int s = 0; s < n; ++s) {
        vec3 p_tex = start_tex + dir_tex * (t_near_mm + (float(s) + 0.5) * u_step_mm);
        float v = value_at(p_tex);
#if defined(MODE_MIP)
        acc = max(acc, v);
#elif defined(MODE_MINIP)
        acc = min(acc, v);
#else
        acc += v;
#endif
    }
#if defined(MODE_XRAY)
    acc /= float(max(n, 1));
#endif
    float grey = windowed(acc);
    if (u_invert) grey = 1.0 - grey;
    f_color = vec4(vec3(grey), 1.0);

#elif defined(MODE_DVR)
    // front-to-back compositing; opacity corrected to the step length (reference 1 mm).
    // The first sample is jittered per pixel so sharp edges do not show wood-grain rings.
    float jitter = fract(sin(dot(gl_FragCoord.xy, vec2(12.9898, 78.233))) * 43758.5453);
    vec3 colour = vec3(0.0);
    float alpha = 0.0;
    for (int s = 0; s < n; ++s) {
        vec3 p_tex = start_tex + dir_tex * (t_near_mm + (float(s) + jitter) * u_step_mm);
        vec4 c = texture(u_tf, vec2(windowed(value_at(p_tex)), 0.5));
        if (c.a > 0.002) {
            float a = 1.0 - pow(1.0 - c.a, u_step_mm);
            colour += (1.0 - alpha) * a * c.rgb * shade(p_tex);
            alpha += (1.0 - alpha) * a;
            if (alpha > 0.98) break;
        }
    }
    f_color = vec4(colour, 1.0);

#elif defined(MODE_ISO)
    // first crossing of u_iso_value, refined by bisection, shaded
    float prev_t = t_near_mm;
    for (int s = 0; s < n; ++s) {
        float t = t_near_mm + (float(s) + 0.5) * u_step_mm;
        if (value_at(start_tex + dir_tex * t) >= u_iso_value) {
            float lo = prev_t;
            float hi = t;
            for (int b = 0; b < 6; ++b) {
                float mid = 0.5 * (lo + hi);
                if (value_at(start_tex + dir_tex * mid) >= u_iso_value) hi = mid; else lo = mid;
            }
            vec3 c = texture(u_tf, vec2(0.75, 0.5)).rgb;
            f_color = vec4(c * shade(start_tex + dir_tex * hi), 1.0);
            return;
        }
        prev_t = t;
    }
#endif
}

#endif
