// The ray-casting skeleton: one program per mode (the mode is #included, its options are
// #defines: MODE_SLAB, MODE_SKIP, SHADING; its parameters are uniforms u_<name>, declared in
// "ownscan/parameters"; its skip rule's can_see() is "ownscan/skip").
//
// For each pixel: a point on the focal plane (the plane through the volume's centre facing the
// camera), a ray through it (orthographic: along -back; perspective: from the eye), carried into
// texture space, clipped by the clipping box, then sampled at
//     t_n = t_entry + (n + o) * u_step_mm   while t_n < t_exit
// (t in mm along the ray; o = 1/2, or with MODE_JITTER a fixed per-pixel offset in [0, 1) from
// an integer hash of the pixel, so that the planes of equal t do not show as wood grain or
// stripes; the same on every frame and in the array renderer, so pictures stay reproducible). A mode supplies mode_begin / mode_sample / mode_end; mode_sample
// returning true ends the ray (early termination).
//
// With MODE_SKIP (empty-space skipping) the mode promises that samples it cannot see change
// nothing: those for which the mode's skip rule says can_see(value) is false (dvr: where the
// transfer function is transparent; iso: below the iso value). Whole bricks of such samples are jumped over,
// and so are single samples, so mode_sample only runs where something may be seen (the value
// the skip test read there is in g_skip_value, for the mode to use). The grid
// of samples does not move, so the picture is the same as without skipping. The jump uses a
// distance table: a brick d > 0 bricks (Chebyshev) from the nearest occupied one lies in a
// cube of (2d - 1)^3 empty bricks, and the ray jumps to the first grid sample past that cube.
// Two nested loops because software GL (llvmpipe) runs 8 or 16 pixels in lock-step and pays
// for every branch any of them takes: the inner loop walks all of them, cheaply, to their next
// sample worth the mode's work; the outer loop then does that work for all of them together.
// With NARROW_LOCKSTEP (the page, where WebGL2 runs on SwiftShader: 4 pixels, a 2x2 quad, in
// lock-step) the jump is a turn of the loop that finds the next visible sample instead of a
// loop of its own: the same samples, and SwiftShader's unshaded dvr took about 30 % less
// GPU-process CPU a frame; llvmpipe's (16 pixels) took 1.3-1.5x more, so the desktop keeps
// the three loops.
// Mirrored by ownscan.core.render._array.ArrayRenderer.

#include "ownscan/common"
#include "ownscan/parameters"
#include "ownscan/mode"

uniform vec2 u_size;             // image size in pixels
uniform vec3 u_centre_lps;       // centre of the volume
uniform vec3 u_right_lps;
uniform vec3 u_up_lps;
uniform vec3 u_back_lps;         // from the scene towards the eye
uniform vec2 u_half_mm;          // half the view's width and height on the focal plane
uniform vec2 u_pan_mm;
uniform int u_perspective;
uniform float u_eye_mm;          // eye (or orthographic ray start) distance from the centre
uniform mat4 u_lps_to_tex;
uniform vec3 u_box_lo_tex;       // clipping box
uniform vec3 u_box_hi_tex;
uniform int u_max_steps;
uniform float u_slab_half_mm;    // MODE_SLAB: half thickness; 0 is a single sample on the plane
uniform vec3 u_plane_lps;        // MODE_SLAB: a point of the slice plane (normal: u_back_lps)
uniform vec2 u_visible;          // MODE_SKIP_OPACITY: normalised values outside are transparent
uniform sampler3D u_block_bound;  // MODE_SKIP_RUNNING: per brick the largest (MODE_SKIP_MAXIMUM)
                                  // or smallest (MODE_SKIP_MINIMUM) value, widened by a voxel;
                                  // the mode shows acc.x through window_level (u_window)
uniform sampler3D u_skip_distance;  // MODE_SKIP: per brick, distance (bricks) / 255 to the
                                    // nearest brick with something to see (0: this one)
uniform float u_brick;           // MODE_SKIP: voxels per brick side
uniform vec3 u_last_brick;       // MODE_SKIP: index of the last brick along i, j, k

out vec4 o_color;

float g_offset = 0.5;  // where the samples sit in each step: t_n = t_entry + (n + g_offset) * step

#ifdef MODE_JITTER
// The per-pixel start offset in [0, 1): Wellons' lowbias32 hash of the pixel (exact integer
// maths, 24 bits to a float, so the array renderer computes the same number).
float ray_offset() {
    uvec2 p = uvec2(gl_FragCoord.xy);
    uint x = p.x + p.y * 65536u;
    x ^= x >> 16u;
    x *= 0x7feb352du;
    x ^= x >> 15u;
    x *= 0x846ca68bu;
    x ^= x >> 16u;
    return float(x >> 8u) * (1.0 / 16777216.0);
}
#endif

// Slab method: the parameter range [t_near, t_far] of a ray inside the box [lo, hi].
vec2 intersect_box(vec3 origin_tex, vec3 inv_dir_tex, vec3 lo_tex, vec3 hi_tex) {
    vec3 t_a = (lo_tex - origin_tex) * inv_dir_tex;
    vec3 t_b = (hi_tex - origin_tex) * inv_dir_tex;
    vec3 t_min = min(t_a, t_b);
    vec3 t_max = max(t_a, t_b);
    return vec2(max(max(t_min.x, t_min.y), t_min.z), min(min(t_max.x, t_max.y), t_max.z));
}

#if defined(MODE_SKIP) || defined(MODE_SKIP_RUNNING)
// Per ray, not per sample (SwiftShader's JIT does not lift uniform expressions out of loops):
// a brick's size in texture units (u_brick / u_dims) and 1 / u_step_mm.
vec3 g_brick_tex;
float g_inv_step;

// Where a ray leaves the cube of bricks reaching d - 1 bricks around ``brick`` (d = 1: the
// brick itself), through the face its direction points to (exit_side: 1 where it leaves via
// the high face: brick + d; else brick + 1 - d, whole numbers either way), as t in mm along
// the ray.
float t_leave(vec3 brick, float d, vec3 exit_side, vec3 origin_tex, vec3 inv_dir_tex) {
    vec3 face_tex = (brick + (1.0 - d) + exit_side * (2.0 * d - 1.0)) * g_brick_tex;
    vec3 t_face = (face_tex - origin_tex) * inv_dir_tex;
    return min(min(t_face.x, t_face.y), t_face.z);
}

// The first grid sample at or past t_out (t_n = t_entry + (n + g_offset) * u_step_mm), at
// least the one after n: where a jump lands, on the grid, so the picture does not change
// (the 0.01 of a step it keeps in hand is far above the rounding of g_inv_step).
int sample_after(float t_out, float t_entry, int n) {
    return max(n + 1, int(ceil((t_out - t_entry) * g_inv_step - g_offset - 0.01)));
}
#endif

#ifdef MODE_SKIP
// bool can_see(float value): whether the mode may see a sample of this value (its skip rule).
// A test on the value alone, no table look-up: a value it passes may still change nothing
// (a transparent gap in a transfer function), mode_sample then ignores it.
#include "ownscan/skip"
#endif

void main() {
#ifdef MODE_JITTER
    g_offset = ray_offset();
#endif
#ifdef GRADIENT_TEXTURE
    g_gradient_scale = u_dims / (u_gradient_step * u_gradient_dims);
    g_gradient_to_lps = mat3(u_grad_to_lps[0] * u_gradient_unit.x,
                             u_grad_to_lps[1] * u_gradient_unit.y,
                             u_grad_to_lps[2] * u_gradient_unit.z);
#endif
#ifdef NARROW_LOCKSTEP
    g_grad_to_lps = u_grad_to_lps;  // copies once per ray (common.glsl)
    g_shade = u_shade;
    g_shade_gain = u_shade_gain;
#endif
#if defined(MODE_SKIP) || defined(MODE_SKIP_RUNNING)
    g_brick_tex = u_brick / u_dims;
    g_inv_step = 1.0 / u_step_mm;
#endif
    vec2 pos_ndc = gl_FragCoord.xy / u_size * 2.0 - 1.0;
    vec3 focal_lps = u_centre_lps
        + u_right_lps * (u_pan_mm.x + pos_ndc.x * u_half_mm.x)
        + u_up_lps * (u_pan_mm.y + pos_ndc.y * u_half_mm.y);
    vec3 origin_lps;
    vec3 dir_lps;
    if (u_perspective != 0) {
        origin_lps = u_centre_lps + u_right_lps * u_pan_mm.x + u_up_lps * u_pan_mm.y
            + u_back_lps * u_eye_mm;
        dir_lps = normalize(focal_lps - origin_lps);
    } else {
        origin_lps = focal_lps + u_back_lps * u_eye_mm;
        dir_lps = -u_back_lps;
    }
    vec3 origin_tex = (u_lps_to_tex * vec4(origin_lps, 1.0)).xyz;
    vec3 dir_tex = mat3(u_lps_to_tex) * dir_lps;  // texture units per mm
    g_ray_dir_lps = dir_lps;
    g_ray_dir_tex = dir_tex;
    vec3 safe_dir_tex = mix(dir_tex, vec3(1e-12), equal(dir_tex, vec3(0.0)));
    vec3 inv_dir_tex = 1.0 / safe_dir_tex;
    vec2 t_range = intersect_box(origin_tex, inv_dir_tex, u_box_lo_tex, u_box_hi_tex);
    float t_entry = max(t_range.x, 0.0);
    float t_exit = t_range.y;

    vec4 acc;
    vec4 aux;
    mode_begin(acc, aux);
    bool hit = t_exit > t_entry;
#ifdef MODE_SLAB
    // cut the ray to the slab |dot(p - plane, back)| <= half thickness
    float dn = dot(dir_lps, u_back_lps);
    hit = hit && abs(dn) > 1e-6;
    float t_plane = hit ? dot(u_plane_lps - origin_lps, u_back_lps) / dn : 0.0;
    if (hit && u_slab_half_mm <= 0.0) {
        hit = t_plane >= t_entry && t_plane < t_exit;
        if (hit) {
            mode_sample(acc, aux, origin_tex + t_plane * dir_tex);
        }
        o_color = mode_end(acc, aux, hit);
        return;
    }
    if (hit) {
        float half_t = u_slab_half_mm / abs(dn);
        t_entry = max(t_entry, t_plane - half_t);
        t_exit = min(t_exit, t_plane + half_t);
        hit = t_exit > t_entry;
    }
#endif
    int n_first = 0;  // the first sample of the grid this program walks
#ifdef SEGMENT
    // one brick of a volume drawn in several passes (shaders/segment.glsl): only the part of
    // the ray about the brick's own box is walked, on the whole ray's grid of samples
    hit = hit && segment_range(origin_tex, inv_dir_tex, t_entry, g_offset, t_exit, n_first);
#endif
    if (hit) {
        int n = n_first;
#ifdef MODE_SKIP
        vec3 brick_scale = u_dims / u_brick;  // texture -> brick coordinates
        vec3 exit_side = vec3(greaterThanEqual(dir_tex, vec3(0.0)));  // 1: leaves via the high face
#ifdef NARROW_LOCKSTEP
        // per ray, not read from the uniforms per sample (SwiftShader: common.glsl)
        float step_mm = u_step_mm;
        int max_steps = u_max_steps;
        vec3 last_brick = u_last_brick;
#endif
        while (true) {
            // advance to the next sample the mode can see, or leave the volume
            bool found = false;
            vec3 pos_tex;
#ifdef NARROW_LOCKSTEP
            while (n < max_steps) {
                float t = t_entry + (float(n) + g_offset) * step_mm;
                // a jump is a turn of this loop (SwiftShader: see the top)
                if (t >= t_exit) {
                    break;
                }
                pos_tex = origin_tex + t * dir_tex;
                vec3 brick = clamp(floor(pos_tex * brick_scale), vec3(0.0), last_brick);
                float d = floor(texelFetch(u_skip_distance, ivec3(brick), 0).r * 255.0 + 0.5);
                if (d > 0.0) {
                    // past the cube of empty bricks around this one (no volume fetch)
                    n = sample_after(t_leave(brick, d, exit_side, origin_tex, inv_dir_tex),
                                     t_entry, n);
                    continue;
                }
#else
            while (n < u_max_steps) {
                float t = t_entry + (float(n) + g_offset) * u_step_mm;
                // jump over empty bricks without touching the volume (a loop of its own, so
                // that rays jumping together do not also pay for a volume fetch)
                while (t < t_exit) {
                    pos_tex = origin_tex + t * dir_tex;
                    vec3 brick = clamp(floor(pos_tex * brick_scale), vec3(0.0), u_last_brick);
                    float d = floor(texelFetch(u_skip_distance, ivec3(brick), 0).r * 255.0 + 0.5);
                    if (d <= 0.0) {
                        break;
                    }
                    // past the cube of empty bricks around this one: the first grid sample
                    // beyond the face the ray leaves it through
                    float t_out = t_leave(brick, d, exit_side, origin_tex, inv_dir_tex);
                    n = sample_after(t_out, t_entry, n);
                    t = t_entry + (float(n) + g_offset) * u_step_mm;
                }
                if (t >= t_exit) {
                    break;
                }
#endif
                g_skip_value = sample_volume(pos_tex);
                if (can_see(g_skip_value)) {
                    found = true;
                    break;
                }
                n += 1;
            }
            if (!found || mode_sample(acc, aux, pos_tex)) {
                break;
            }
            n += 1;
        }
#elif defined(MODE_SKIP_RUNNING)
        // Brick by brick (u_block_bound's bricks, u_brick voxels a side), in three walks:
        // (1) the ray's bricks, bound looks only, to find the brick whose bound could raise the
        // picture most (the highest for a MIP, the lowest for a MinIP); (2) that brick's samples
        // first, so that the running maximum (minimum) is high (low) from the start; (3) every
        // brick in order, one bound look where the ray enters it, then its samples in a loop of
        // their own with no test but the ray's end (llvmpipe pays for every branch any pixel of
        // a lock-step group takes, so the per-sample loop is kept bare), jumping over the
        // bricks whose values cannot change the picture. Max and min do not care about order,
        // so the picture is the one of the plain loop; walk (2) only makes walk (3) skip more
        // (a bone met first hides the soft tissue in front of it). Early termination is tested
        // once per brick: max and min are monotone, and window_level shows every value past
        // the window's end alike, so the samples taken after it was met change nothing.
        vec3 brick_scale = u_dims / u_brick;  // texture -> brick coordinates
        vec3 exit_side = vec3(greaterThanEqual(dir_tex, vec3(0.0)));  // 1: leaves via the high face
#ifdef MODE_SKIP_MAXIMUM
        float sign = 1.0;  // bounds compared as sign * bound: larger is brighter for a MIP
#else
        float sign = -1.0;  // ... and darker for a MinIP
#endif
        int n0 = n;  // 0, or a brick's first grid sample (SEGMENT)
        float t = t_entry + (float(n0) + g_offset) * u_step_mm;
        // the first sample alone: a MinIP ray starting in air ends at once
        bool stop = t < t_exit && mode_sample(acc, aux, origin_tex + t * dir_tex);
        float best = -2.0;  // sign * the best bound met
        int best_n = 0;     // that brick's samples: best_n .. best_end - 1
        int best_end = 0;
        while (!stop && n < u_max_steps && t < t_exit) {
            vec3 brick = clamp(floor((origin_tex + t * dir_tex) * brick_scale), vec3(0.0),
                               u_last_brick);
            float t_out = t_leave(brick, 1.0, exit_side, origin_tex, inv_dir_tex);
            int n_next = min(sample_after(t_out, t_entry, n), u_max_steps);
            float bound = sign * texelFetch(u_block_bound, ivec3(brick), 0).r;
            if (bound > best) {
                best = bound;
                best_n = n;
                best_end = n_next;
            }
            n = n_next;
            t = t_entry + (float(n) + g_offset) * u_step_mm;
        }
        // the window's low end (MinIP: top) as sign * value: a brick not past it is shown as
        // black (white) whatever its values, like every lower one (a margin far above float
        // rounding keeps the test on the safe side)
#ifdef MODE_SKIP_MAXIMUM
        float shown = u_window.x;
#else
        float shown = -u_window.y;
#endif
        if (best + 1e-5 < max(sign * acc.x, shown)) {
            best_end = best_n;  // nothing in the ray can change the picture
        }
        for (n = best_n; n < best_end; n++) {
            t = t_entry + (float(n) + g_offset) * u_step_mm;
            if (t >= t_exit) {
                break;
            }
            stop = mode_sample(acc, aux, origin_tex + t * dir_tex) || stop;
        }
        n = n0;
        t = t_entry + (float(n0) + g_offset) * u_step_mm;
        // (past the best bound nothing left can change the picture)
        while (!stop && best + 1e-5 >= max(sign * acc.x, shown) && n < u_max_steps
               && t < t_exit) {
            vec3 brick = clamp(floor((origin_tex + t * dir_tex) * brick_scale), vec3(0.0),
                               u_last_brick);
            float t_out = t_leave(brick, 1.0, exit_side, origin_tex, inv_dir_tex);
            int n_next = min(sample_after(t_out, t_entry, n), u_max_steps);
            // jump over bricks whose values cannot change the picture: not above the running
            // maximum (below the minimum), nor above the window's low end (below its top); and
            // over the one walk (2) took, when it is the very same run of samples
            float bound = sign * texelFetch(u_block_bound, ivec3(brick), 0).r;
            bool skip = bound + 1e-5 < max(sign * acc.x, shown)
                || (n == best_n && n_next == best_end);
            if (skip) {
                n = n_next;
            } else {
                for (; n < n_next; n++) {
                    t = t_entry + (float(n) + g_offset) * u_step_mm;
                    if (t >= t_exit) {
                        break;
                    }
                    stop = mode_sample(acc, aux, origin_tex + t * dir_tex) || stop;
                }
            }
            t = t_entry + (float(n) + g_offset) * u_step_mm;
        }
#else
        while (n < u_max_steps) {
            float t = t_entry + (float(n) + g_offset) * u_step_mm;
            if (t >= t_exit) {
                break;
            }
            if (mode_sample(acc, aux, origin_tex + t * dir_tex)) {
                break;
            }
            n += 1;
        }
#endif
    }
    o_color = mode_end(acc, aux, hit);
}
