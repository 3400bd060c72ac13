// The last pass of a volume drawn brick by brick (segment.glsl): each pixel's acc after the
// last brick its ray met (u_composed) through the mode's own mode_end. With
// fullscreen.vert.glsl; "ownscan/mode" is the mode alone.

#include "ownscan/common"
#include "ownscan/parameters"
#include "ownscan/mode"

uniform sampler2D u_composed;
out vec4 o_color;

void main() {
    vec4 acc = texelFetch(u_composed, ivec2(gl_FragCoord.xy), 0);
    o_color = mode_end(acc, vec4(0.0), true);
}
