// dvr: front-to-back compositing of transfer-function colours, premultiplied by opacity.
// The table's alpha is the opacity of 1 mm; opacity correction turns it into the opacity of one
// step: a = 1 - (1 - alpha)^(step / 1 mm), so the picture does not depend on the sampling rate.
void mode_begin(inout vec4 acc, inout vec4 aux) {
    acc = vec4(0.0);
    aux = vec4(0.0);
}

bool mode_sample(inout vec4 acc, inout vec4 aux, vec3 pos_tex) {
    float value = sample_volume(pos_tex);
    vec4 c = transfer(value);
    if (c.a <= 0.0) {
        return false;
    }
    float a = 1.0 - pow(1.0 - min(c.a, 1.0), u_step_mm);
#ifdef SHADING
    vec3 rgb = shade(c.rgb, gradient_lps(pos_tex), g_ray_dir_lps);
#else
    vec3 rgb = c.rgb;
#endif
    acc.rgb += (1.0 - acc.a) * a * rgb;
    acc.a += (1.0 - acc.a) * a;
    return acc.a >= 0.99;  // early ray termination
}

vec4 mode_end(vec4 acc, vec4 aux, bool hit) {
    return acc;
}
