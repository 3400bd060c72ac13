// minip: minimum intensity projection (airways, lung); acc.x is the smallest value met.
void mode_begin(inout vec4 acc, inout vec4 aux) {
    acc = vec4(1.0, 0.0, 0.0, 0.0);
    aux = vec4(0.0);
}

bool mode_sample(inout vec4 acc, inout vec4 aux, vec3 pos_tex) {
    acc.x = min(acc.x, sample_volume(pos_tex));
    acc.y += 1.0;
    // from the window's low end down the picture is saturated (nothing is below the range)
    return acc.x <= max(u_window.x, 0.0);
}

vec4 mode_end(vec4 acc, vec4 aux, bool hit) {
    if (!hit || acc.y == 0.0) {
        return vec4(0.0);
    }
    float g = window_level(acc.x);
    return vec4(g, g, g, 1.0);
}
