// One triangle that covers the viewport; the fragment shader builds its ray from gl_FragCoord.
void main() {
    vec2 pos_ndc = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2)) * 2.0 - 1.0;
    gl_Position = vec4(pos_ndc, 0.0, 1.0);
}
