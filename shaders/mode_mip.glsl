// mip: maximum intensity projection; acc.x is the largest value met, acc.y counts samples.
void mode_begin(inout vec4 acc, inout vec4 aux) {
    acc = vec4(0.0);
    aux = vec4(0.0);
}

bool mode_sample(inout vec4 acc, inout vec4 aux, vec3 pos_tex) {
    acc.x = max(acc.x, sample_volume(pos_tex));
    acc.y += 1.0;
    // from the window's top on the picture is saturated (and nothing is above the range's top)
    return acc.x >= min(u_window.y, 1.0);
}

vec4 mode_end(vec4 acc, vec4 aux, bool hit) {
    if (!hit || acc.y == 0.0) {
        return vec4(0.0);
    }
    float g = window_level(acc.x);
    return vec4(g, g, g, 1.0);
}
