// dvr: front-to-back compositing of transfer-function colours, premultiplied by opacity.
// The transfer function's alpha is the opacity of 1 mm; the table u_lut already holds the
// opacity of one step, 1 - (1 - alpha)^(step / 1 mm) (corrected once on the CPU,
// ownscan.core.render._setup.step_lut), so the picture does not depend on the sampling rate
// and no sample pays for a pow.
void mode_begin(inout vec4 acc, inout vec4 aux) {
    acc = vec4(0.0);
    aux = vec4(0.0);
}

bool mode_sample(inout vec4 acc, inout vec4 aux, vec3 pos_tex) {
#ifdef MODE_SKIP
    float value = g_skip_value;  // the skeleton read it at pos_tex for the skip test
#else
    float value = sample_volume(pos_tex);
#endif
    vec4 c = transfer(value);
    // no early return where c.a is 0 (a transparent gap inside the skip rule's visible range):
    // it then adds exactly nothing, and the branch cost every sample on software rasterisers
    float a = c.a;
#ifdef SHADING
    vec3 rgb = shade(c.rgb, gradient_lps(pos_tex), g_ray_dir_lps);
#else
    vec3 rgb = c.rgb;
#endif
    float weight = (1.0 - acc.a) * a;  // once (SwiftShader's JIT would compute it twice)
    acc.rgb += weight * rgb;
    acc.a += weight;
    return acc.a >= 0.99;  // early ray termination
}

vec4 mode_end(vec4 acc, vec4 aux, bool hit) {
    return acc;
}
