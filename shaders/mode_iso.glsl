// iso: the first place where the value reaches the iso value, shaded by the gradient there
// (headlight Blinn-Phong). The crossing is refined between the last sample below the iso value
// and the first at or above it by ISO_REFINE steps of regula falsi on the interpolated field
// (one linear step put the hit off the surface by an amount that follows the voxel grid).
// u_iso_value: the mode's parameter iso_value, normalised as the samples are.
const vec3 ISO_COLOUR = vec3(0.92, 0.86, 0.76);
const int ISO_REFINE = 4;

void mode_begin(inout vec4 acc, inout vec4 aux) {
    acc = vec4(0.0);
    aux = vec4(0.0);
}

bool mode_sample(inout vec4 acc, inout vec4 aux, vec3 pos_tex) {
    float value = sample_volume(pos_tex);
    if (value < u_iso_value) {
        return false;
    }
    vec3 a_tex = pos_tex - g_ray_dir_tex * u_step_mm;  // the previous sample
    float fa = sample_volume(a_tex) - u_iso_value;
    vec3 b_tex = pos_tex;
    float fb = value - u_iso_value;
    vec3 hit_tex = pos_tex;
    if (fa < 0.0) {
        for (int r = 0; r < ISO_REFINE; r++) {
            vec3 m_tex = mix(a_tex, b_tex, clamp(fa / (fa - fb), 0.0, 1.0));
            float fm = sample_volume(m_tex) - u_iso_value;
            if (fm < 0.0) {
                a_tex = m_tex;
                fa = fm;
            } else {
                b_tex = m_tex;
                fb = fm;
            }
        }
        hit_tex = mix(a_tex, b_tex, clamp(fa / (fa - fb), 0.0, 1.0));
    }
    acc = vec4(shade_full(ISO_COLOUR, gradient_lps(hit_tex), g_ray_dir_lps), 1.0);
    return true;
}

vec4 mode_end(vec4 acc, vec4 aux, bool hit) {
    return acc;
}
