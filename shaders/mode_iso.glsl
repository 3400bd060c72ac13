// iso: the first place where the value reaches the iso value, refined linearly between the
// previous sample and this one, shaded by the gradient there (headlight Blinn-Phong).
// u_iso_value: the mode's parameter iso_value, normalised as the samples are.
const vec3 ISO_COLOUR = vec3(0.92, 0.86, 0.76);

void mode_begin(inout vec4 acc, inout vec4 aux) {
    acc = vec4(0.0);
    aux = vec4(0.0);
}

bool mode_sample(inout vec4 acc, inout vec4 aux, vec3 pos_tex) {
    float value = sample_volume(pos_tex);
    if (value < u_iso_value) {
        return false;
    }
    vec3 prev_tex = pos_tex - g_ray_dir_tex * u_step_mm;
    float prev = sample_volume(prev_tex);
    float f = prev < u_iso_value ? clamp((u_iso_value - prev) / (value - prev), 0.0, 1.0) : 1.0;
    vec3 hit_tex = mix(prev_tex, pos_tex, f);
    acc = vec4(shade_full(ISO_COLOUR, gradient_lps(hit_tex), g_ray_dir_lps), 1.0);
    return true;
}

vec4 mode_end(vec4 acc, vec4 aux, bool hit) {
    return acc;
}
