// One brick of a volume drawn brick by brick (ownscan.core.render._outofcore): a volume beyond
// the largest 3D texture or the GPU memory budget is split into a grid of bricks, each drawn
// in a pass of its own with only its texture resident (its own voxels and a halo around them,
// sample_volume in common.glsl). Appended to the mode ("ownscan/mode") with SEGMENT defined
// (and SEGMENT_UNDER for modes composited front to back, whose rays end at opacity 0.99).
//
// Every pass computes the whole ray's samples, t_n = t_entry + (n + o) * u_step_mm on the
// whole ray, exactly as one pass over the whole volume does, and gives the mode only those
// whose position lies in the brick's own box [u_own_lo_tex, u_own_hi_tex) (half-open, in the
// whole volume's texture coordinates; the boxes tile space, the outer ones reaching far past
// the volume). The same position is computed in every pass, so each sample is taken by
// exactly one pass: the samples are those of the unbricked picture and the seams do not show.
// segment_range only bounds the walk (a step of margin each side).
//
// The bricks are drawn front to back along every ray, and each pass carries on the ray where
// the bricks before it left it: acc starts as this pixel's texel of u_segment_prev (what the
// passes before wrote; mode_begin's acc before the first) and the pass writes acc, not the
// mode's picture; segment_finish.frag.glsl ends with the mode's own mode_end. So a ray's
// samples meet the mode in the same order with the same running state as in one pass (early
// termination included). Only the mode's acc is carried: the built-in modes keep their whole
// state there (the renderer draws no other mode so).

uniform vec3 u_own_lo_tex;       // the brick's own box, texture coordinates of the whole volume
uniform vec3 u_own_hi_tex;
vec4 g_segment_prev;             // this pixel's acc after the bricks drawn before this one

vec2 intersect_box(vec3 origin_tex, vec3 inv_dir_tex, vec3 lo_tex, vec3 hi_tex);

// Whether the ray meets the brick's own box; then n_first, a grid sample at or before where
// it enters (never past it), and t_exit cut a step past where it leaves.
bool segment_range(vec3 origin_tex, vec3 inv_dir_tex, float t_entry, float offset,
                   inout float t_exit, out int n_first) {
#ifdef SEGMENT_UNDER
    if (g_segment_prev.a >= 0.99) {  // the ray ended in a brick before (dvr's early end, iso's hit)
        return false;
    }
#endif
    vec2 t_own = intersect_box(origin_tex, inv_dir_tex, u_own_lo_tex, u_own_hi_tex);
    float first = floor((t_own.x - t_entry) / u_step_mm - offset) - 1.0;
    n_first = int(clamp(first, 0.0, 1e9));  // clamped in float: no overflowing int
    t_exit = min(t_exit, t_own.y + u_step_mm);
    return t_own.y > t_own.x;
}

bool segment_sample(inout vec4 acc, inout vec4 aux, vec3 pos_tex) {
    bool own = all(greaterThanEqual(pos_tex, u_own_lo_tex)) && all(lessThan(pos_tex, u_own_hi_tex));
    return own && mode_sample(acc, aux, pos_tex);
}
#define mode_sample segment_sample

uniform sampler2D u_segment_prev;  // per pixel: acc after the bricks drawn before this one

void segment_begin(inout vec4 acc, inout vec4 aux) {
    mode_begin(acc, aux);
    g_segment_prev = texelFetch(u_segment_prev, ivec2(gl_FragCoord.xy), 0);
    acc = g_segment_prev;
}
#define mode_begin segment_begin

vec4 segment_end(vec4 acc, vec4 aux, bool hit) {
    return acc;
}
#define mode_end segment_end
