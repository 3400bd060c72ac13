// The browser's rendering core: WebGL2 running the same GLSL as the desktop (shaders/, fetched
// from the server as GLSL ES 3.00 by core/serve/_webgl.py). One canvas; the 2D views are drawn
// straight into their rectangle, the 3D view into an offscreen RGBA8 target first (the
// ray-caster derives its rays from gl_FragCoord, which must start at 0) and then copied.
//
// The volume texture is R32F holding q / 65535, q being the uint16 that
// core/render/_setup.prepare_volume makes (see volume.js): exactly the numbers the desktop's
// R16 unorm texture returns, filtered linearly (needs OES_texture_float_linear: R16 unorm is
// not in WebGL2 core, and half floats would round them). Shaded modes read the compact
// gradient texture of core/render/_setup.gradient_texels (one texel per block of up to 2x2x2
// voxels, RGB32F: the same numbers as the desktop's RGB16 unorm, 1.5 bytes per voxel) when it
// fits GRADIENT_BUDGET, else 26 volume fetches per gradient, as the desktop renderer does
// beyond its own budget. The texels come from the volume's worker (volume.js), asked for when a
// shaded program is first drawn (a series never shown shaded costs none); until they arrive
// shaded frames are the quick pass (viewer.js), and `onGradient` is called when they are here
// (the viewer draws again).

import { columnMajor } from "./geometry.js";
import { gradientDims, gradientTexels } from "./volume.js";
import { RUNNING_BRICK, pooledBounds } from "./skip.js";

export class GLUnavailable extends Error {}

function compile(gl, type, source, what) {
  const shader = gl.createShader(type);
  gl.shaderSource(shader, source);
  gl.compileShader(shader);
  if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) {
    const log = gl.getShaderInfoLog(shader);
    gl.deleteShader(shader);
    throw new GLUnavailable(`${what}: ${log}`);
  }
  return shader;
}

function link(gl, sources, what) {
  const program = gl.createProgram();
  gl.attachShader(program, compile(gl, gl.VERTEX_SHADER, sources.vertex, `${what} (vertex)`));
  gl.attachShader(program, compile(gl, gl.FRAGMENT_SHADER, sources.fragment, `${what} (fragment)`));
  gl.linkProgram(program);
  if (!gl.getProgramParameter(program, gl.LINK_STATUS)) {
    throw new GLUnavailable(`${what}: ${gl.getProgramInfoLog(program)}`);
  }
  return program;
}

export class Renderer {
  constructor(canvas) {
    const gl = canvas.getContext("webgl2", {
      alpha: false, antialias: false, depth: false, preserveDrawingBuffer: true,
    });
    if (!gl) throw new GLUnavailable("this browser has no WebGL2");
    if (!gl.getExtension("OES_texture_float_linear")) {
      throw new GLUnavailable("WebGL2 without linear filtering of float textures");
    }
    this.gl = gl;
    this.canvas = canvas;
    this.maxTexture = gl.getParameter(gl.MAX_3D_TEXTURE_SIZE);
    // SwiftShader (WebGL2 on the CPU) runs 4 pixels in lock-step: the ray-caster's loops are
    // shaped for that (NARROW_LOCKSTEP, core/serve/_webgl.py; the same samples and picture)
    const info = gl.getExtension("WEBGL_debug_renderer_info");
    this.narrow = /swiftshader/i.test(info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER));
    this.programs = new Map();
    this.locations = new Map(); // program -> (uniform name -> location)
    this.lut = null; // {tex, values}: the transfer function's table (_lutTexture)
    this.volume = null;
    this.vao = gl.createVertexArray(); // the ray-caster needs no attributes
    this.quad = gl.createVertexArray();
    gl.bindVertexArray(this.quad);
    const buf = gl.createBuffer();
    gl.bindBuffer(gl.ARRAY_BUFFER, buf);
    gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, -1, 1, 1, -1, 1, 1]), gl.STATIC_DRAW);
    this.quadBuffer = buf;
    gl.bindVertexArray(null);
    this.dummy2d = this._texture2d(1, 1, new Float32Array(4));
    this.dummy3d = gl.createTexture();
    gl.bindTexture(gl.TEXTURE_3D, this.dummy3d);
    gl.texImage3D(gl.TEXTURE_3D, 0, gl.R8, 1, 1, 1, 0, gl.RED, gl.UNSIGNED_BYTE, new Uint8Array([255]));
    this.target = null;
    this.onGradient = null; // called when a volume's gradient texels arrive from its worker
  }

  // Compile (once) the program of a mode; `sources` as /api/shaders/raycast answers.
  program(key, sources) {
    if (!this.programs.has(key)) {
      this.programs.set(key, link(this.gl, sources, key));
      if (key === "slice") {
        const gl = this.gl;
        const p = this.programs.get(key);
        gl.bindVertexArray(this.quad);
        gl.bindBuffer(gl.ARRAY_BUFFER, this.quadBuffer);
        const loc = gl.getAttribLocation(p, "a_pos_ndc");
        gl.enableVertexAttribArray(loc);
        gl.vertexAttribPointer(loc, 2, gl.FLOAT, false, 0, 0);
        gl.bindVertexArray(null);
      }
    }
    return this.programs.get(key);
  }

  _texture2d(w, h, data) {
    const gl = this.gl;
    const t = gl.createTexture();
    gl.bindTexture(gl.TEXTURE_2D, t);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA32F, w, h, 0, gl.RGBA, gl.FLOAT, data);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.LINEAR);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.LINEAR);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
    return t;
  }

  // Upload a prepared volume (volume.js): {dims: [nx, ny, nz], values: Float32Array} or, for
  // colour, {dims, rgb: Uint8Array}. Throws GLUnavailable when the GPU refuses it.
  setVolume(prepared) {
    const gl = this.gl;
    const [nx, ny, nz] = prepared.dims;
    if (Math.max(nx, ny, nz) > this.maxTexture) {
      if (prepared.release) prepared.release();
      throw new GLUnavailable(`volume ${nx}x${ny}x${nz} exceeds this GPU's 3D texture limit ${this.maxTexture}`);
    }
    this.dropVolume();
    const t = gl.createTexture();
    gl.bindTexture(gl.TEXTURE_3D, t);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
    while (gl.getError() !== gl.NO_ERROR); // start from a clean error state
    if (prepared.rgb) {
      gl.texImage3D(gl.TEXTURE_3D, 0, gl.RGB8, nx, ny, nz, 0, gl.RGB, gl.UNSIGNED_BYTE, prepared.rgb);
    } else {
      gl.texImage3D(gl.TEXTURE_3D, 0, gl.R32F, nx, ny, nz, 0, gl.RED, gl.FLOAT, prepared.values);
    }
    const err = gl.getError();
    if (err !== gl.NO_ERROR) {
      gl.deleteTexture(t);
      if (prepared.release) prepared.release();
      throw new GLUnavailable(`the GPU refused a ${nx}x${ny}x${nz} volume texture (GL error ${err})`);
    }
    gl.texParameteri(gl.TEXTURE_3D, gl.TEXTURE_MIN_FILTER, gl.LINEAR);
    gl.texParameteri(gl.TEXTURE_3D, gl.TEXTURE_MAG_FILTER, gl.LINEAR);
    for (const p of [gl.TEXTURE_WRAP_S, gl.TEXTURE_WRAP_T, gl.TEXTURE_WRAP_R]) gl.texParameteri(gl.TEXTURE_3D, p, gl.CLAMP_TO_EDGE);
    // the gradient texture's texels: from the worker (prepared.gradientTexels, a function
    // asking for them), or made here from q at first use when no worker could (q is kept only
    // when that would fit); a level without gradient factors, or over budget, gets no texture
    // (26 fetches)
    const factors = prepared.gradientFactors || null;
    const gdims = gradientDims(prepared.dims, factors);
    const q = gdims ? prepared.q || null : null;
    const ask = gdims ? prepared.gradientTexels || null : null;
    const v = { texture: t, dims: prepared.dims, rgb: !!prepared.rgb, q, ask, release: prepared.release || null, texels: null, pending: null, gradient: null, gradientFactors: factors, gradientScales: prepared.gradientScales || null, gradientDims: gdims, block: prepared.block || null, bound: null, skip: null };
    this.volume = v;
  }

  // Whether the program `key` shades with gradient texels still on their way. The first time a
  // shaded program asks, the volume's worker is asked to make them (volume.js).
  gradientPending(key) {
    const v = this.volume;
    if (!v || !this.programs.has(`${key}+gradient`)) return false;
    if (v.ask) {
      const ask = v.ask;
      v.ask = null;
      v.pending = ask().then((texels) => {
        v.pending = null;
        if (this.volume !== v || !texels) return; // another volume, or none made
        v.texels = texels;
        if (this.onGradient) this.onGradient();
      });
    }
    return !!v.pending;
  }

  // A promise settled once the current volume's gradient texels are here (or will not come,
  // or were never asked for: no shaded view drawn yet).
  gradientSettled() {
    return (this.volume && this.volume.pending) || Promise.resolve();
  }

  // Let the current volume go (its textures, and its worker, still keeping q for gradient
  // texels never asked for).
  dropVolume() {
    const v = this.volume;
    this.volume = null;
    if (!v) return;
    if (v.release) v.release();
    for (const tex of [v.texture, v.gradient, v.bound && v.bound.tex, v.skip && v.skip.tex]) if (tex) this.gl.deleteTexture(tex);
  }

  // The gradient texture of the current volume, uploaded at first use once its texels are
  // here; null while they are on their way, and when over budget.
  gradient() {
    const v = this.volume;
    if (v && v.gradient) return v.gradient;
    if (!v || !(v.texels || v.q)) return null;
    const [nx, ny, nz] = v.gradientDims;
    const gl = this.gl;
    const t = gl.createTexture();
    gl.bindTexture(gl.TEXTURE_3D, t);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
    while (gl.getError() !== gl.NO_ERROR);
    const texels = v.texels || gradientTexels(v.q, v.dims, v.gradientFactors, v.gradientScales);
    v.texels = v.q = null;
    // RGB8 snorm, as the desktop's (core/render/_gradient.py)
    gl.texImage3D(gl.TEXTURE_3D, 0, gl.RGB8_SNORM, nx, ny, nz, 0, gl.RGB, gl.BYTE, texels);
    if (gl.getError() !== gl.NO_ERROR) {
      gl.deleteTexture(t);
      return null; // does not fit: 26 fetches from now on
    }
    gl.texParameteri(gl.TEXTURE_3D, gl.TEXTURE_MIN_FILTER, gl.LINEAR);
    gl.texParameteri(gl.TEXTURE_3D, gl.TEXTURE_MAG_FILTER, gl.LINEAR);
    for (const p of [gl.TEXTURE_WRAP_S, gl.TEXTURE_WRAP_T, gl.TEXTURE_WRAP_R]) gl.texParameteri(gl.TEXTURE_3D, p, gl.CLAMP_TO_EDGE);
    v.gradient = t;
    return t;
  }

  _table3d(shape, internal, format, type, data) {
    const gl = this.gl;
    const [nz, ny, nx] = shape;
    const t = gl.createTexture();
    gl.bindTexture(gl.TEXTURE_3D, t);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
    gl.texImage3D(gl.TEXTURE_3D, 0, internal, nx, ny, nz, 0, format, type, data);
    gl.texParameteri(gl.TEXTURE_3D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
    gl.texParameteri(gl.TEXTURE_3D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
    for (const p of [gl.TEXTURE_WRAP_S, gl.TEXTURE_WRAP_T, gl.TEXTURE_WRAP_R]) gl.texParameteri(gl.TEXTURE_3D, p, gl.CLAMP_TO_EDGE);
    return t;
  }

  // The skip-distance table as an R8 texture (distance / 255, as the desktop's 'f1'), kept
  // while frames bring the same table.
  _skipTexture(distance) {
    const v = this.volume;
    if (v.skip && v.skip.distance === distance) return v.skip.tex;
    if (v.skip) this.gl.deleteTexture(v.skip.tex);
    const gl = this.gl;
    v.skip = { distance, tex: this._table3d(v.block.shape, gl.R8, gl.RED, gl.UNSIGNED_BYTE, distance) };
    return v.skip.tex;
  }

  // Per brick of RUNNING_BRICK voxels the largest ("maximum") or smallest ("minimum") value,
  // R32F, for MIP / MinIP, which walk their rays brick by brick (as the desktop: the bound
  // table pooled from the 4^3 blocks, pooled_bounds).
  _boundTexture(kind) {
    const v = this.volume;
    if (v.bound && v.bound.kind === kind) return v.bound;
    if (v.bound) this.gl.deleteTexture(v.bound.tex);
    const gl = this.gl;
    const largest = kind === "maximum";
    const pooled = pooledBounds(largest ? v.block.bmax : v.block.bmin, v.block.shape, largest);
    v.bound = { kind, shape: pooled.shape, tex: this._table3d(pooled.shape, gl.R32F, gl.RED, gl.FLOAT, pooled.data) };
    return v.bound;
  }

  // A uniform's location, looked up once per program (a lookup is a string search in the
  // driver; a frame sets some 30 uniforms)
  _location(program, name) {
    let locations = this.locations.get(program);
    if (!locations) this.locations.set(program, (locations = new Map()));
    if (!locations.has(name)) locations.set(name, this.gl.getUniformLocation(program, name));
    return locations.get(name);
  }

  // The transfer function's 256 x 1 table, one texture kept and refilled only when the table
  // changes (not a new texture every frame)
  _lutTexture(lut) {
    const gl = this.gl;
    if (this.lut && this.lut.values.length === lut.length && this.lut.values.every((v, i) => v === lut[i])) return this.lut.tex;
    if (!this.lut) this.lut = { tex: this._texture2d(256, 1, lut), values: null };
    else {
      gl.bindTexture(gl.TEXTURE_2D, this.lut.tex);
      gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, 256, 1, gl.RGBA, gl.FLOAT, lut);
    }
    this.lut.values = Float32Array.from(lut);
    return this.lut.tex;
  }

  _uniforms(program, values) {
    const gl = this.gl;
    for (const [name, [kind, v]] of Object.entries(values)) {
      const loc = this._location(program, name);
      if (loc === null) continue; // the compiler drops what a mode does not use
      if (kind === "f") gl.uniform1f(loc, v);
      else if (kind === "i") gl.uniform1i(loc, v);
      else if (kind === "2f") gl.uniform2f(loc, v[0], v[1]);
      else if (kind === "3f") gl.uniform3f(loc, v[0], v[1], v[2]);
      else if (kind === "4f") gl.uniform4f(loc, v[0], v[1], v[2], v[3]);
      else if (kind === "m3") gl.uniformMatrix3fv(loc, false, columnMajor(v));
      else if (kind === "m4") gl.uniformMatrix4fv(loc, false, columnMajor(v));
    }
  }

  _bind(program, units) {
    const gl = this.gl;
    let unit = 0;
    for (const [name, target, tex] of units) {
      const loc = this._location(program, name);
      if (loc === null) continue;
      gl.activeTexture(gl.TEXTURE0 + unit);
      gl.bindTexture(target, tex);
      gl.uniform1i(loc, unit);
      unit += 1;
    }
  }

  _ensureTarget(w, h) {
    const gl = this.gl;
    if (this.target && this.target.w === w && this.target.h === h) return this.target;
    if (this.target) {
      gl.deleteFramebuffer(this.target.fbo);
      gl.deleteTexture(this.target.tex);
    }
    const tex = gl.createTexture();
    gl.bindTexture(gl.TEXTURE_2D, tex);
    gl.texStorage2D(gl.TEXTURE_2D, 1, gl.RGBA8, w, h);
    const fbo = gl.createFramebuffer();
    gl.bindFramebuffer(gl.FRAMEBUFFER, fbo);
    gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, tex, 0);
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    this.target = { w, h, tex, fbo };
    return this.target;
  }

  // One ray-cast picture of `frame` (geometry.frameFor) into the offscreen target, then copied
  // to `rect` = {x, y, w, h} of the canvas (CSS-pixel rect times devicePixelRatio, top-left
  // origin); a target smaller than rect (a quick pass while dragging) is enlarged.
  drawRaycast(programKey, frame, rect, constants) {
    const gl = this.gl;
    // (a shaded draw asks for the texels, if the viewer's gradientPending did not yet)
    const gradient = this.programs.has(`${programKey}+gradient`) && !this.gradientPending(programKey) ? this.gradient() : null;
    const program = this.programs.get(gradient ? `${programKey}+gradient` : programKey);
    const target = this._ensureTarget(frame.width, frame.height);
    gl.bindFramebuffer(gl.FRAMEBUFFER, target.fbo);
    gl.viewport(0, 0, frame.width, frame.height);
    gl.disable(gl.BLEND);
    gl.useProgram(program);
    const [nx, ny, nz] = this.volume.dims;
    const b = frame.basis;
    const col = (j) => [b[0][j], b[1][j], b[2][j]];
    const bound = frame.skipBound ? this._boundTexture(frame.skipBound) : null;
    const bricks = bound ? bound.shape : this.volume.block ? this.volume.block.shape : null;
    this._uniforms(program, {
      u_size: ["2f", [frame.width, frame.height]],
      u_centre_lps: ["3f", frame.centre],
      u_right_lps: ["3f", col(0)],
      u_up_lps: ["3f", col(1)],
      u_back_lps: ["3f", col(2)],
      u_half_mm: ["2f", frame.half],
      u_pan_mm: ["2f", frame.pan],
      u_perspective: ["i", 0],
      u_eye_mm: ["f", frame.eye],
      u_box_lo_tex: ["3f", [0, 0, 0]],
      u_box_hi_tex: ["3f", [1, 1, 1]],
      u_max_steps: ["i", frame.maxSteps],
      u_slab_half_mm: ["f", frame.slabHalf],
      u_plane_lps: ["3f", frame.plane],
      u_dims: ["3f", [nx, ny, nz]],
      u_window: ["2f", frame.window],
      u_invert: ["i", frame.invert],
      u_step_mm: ["f", frame.step],
      u_visible: ["2f", frame.visible || [-1, 2]],
      // the skip tables' bricks: 4^3 blocks, or RUNNING_BRICK^3 for MIP / MinIP's bound table
      u_brick: ["f", bound ? RUNNING_BRICK : 4],
      u_last_brick: ["3f", bricks ? [bricks[2] - 1, bricks[1] - 1, bricks[0] - 1] : [0, 0, 0]],
      u_shade: ["4f", constants.shade],
      u_shade_gain: ["f", constants.shadeGain],
      u_lps_to_tex: ["m4", frame.lpsToTex],
      u_grad_to_lps: ["m3", frame.gradToLps],
      // the compact gradient texture's layout (sample_gradient in common.glsl)
      u_gradient_step: ["3f", this.volume.gradientFactors || [1, 1, 1]],
      u_gradient_dims: ["3f", this.volume.gradientDims || [nx, ny, nz]],
      // a texel's 1.0 (byte 127) in the gradient per voxel (GradientLayout.units)
      u_gradient_unit: ["3f", (this.volume.gradientScales || [1, 1, 1]).map((c) => 127 / (65535 * c))],
    });
    // the mode's parameters: one uniform u_<name> each (declared by the skeleton)
    this._uniforms(program, Object.fromEntries(Object.entries(frame.parameters).map(([name, v]) => [`u_${name}`, ["f", v]])));
    const lut = frame.lut ? this._lutTexture(frame.lut) : null;
    this._bind(program, [
      ["u_volume", gl.TEXTURE_3D, this.volume.texture],
      ["u_lut", gl.TEXTURE_2D, lut || this.dummy2d],
      ["u_skip_distance", gl.TEXTURE_3D, frame.skipDistance ? this._skipTexture(frame.skipDistance) : this.dummy3d],
      ["u_block_bound", gl.TEXTURE_3D, bound ? bound.tex : this.dummy3d],
      ["u_gradient", gl.TEXTURE_3D, gradient || this.dummy3d],
    ]);
    gl.bindVertexArray(this.vao);
    gl.drawArrays(gl.TRIANGLES, 0, 3);
    gl.bindVertexArray(null);
    // copy into the view's rectangle (GL rows go up: flip the rect's top-left origin)
    gl.bindFramebuffer(gl.READ_FRAMEBUFFER, target.fbo);
    gl.bindFramebuffer(gl.DRAW_FRAMEBUFFER, null);
    const y0 = this.canvas.height - rect.y - rect.h;
    const filter = frame.width === rect.w && frame.height === rect.h ? gl.NEAREST : gl.LINEAR;
    gl.blitFramebuffer(0, 0, frame.width, frame.height, rect.x, y0, rect.x + rect.w, y0 + rect.h, gl.COLOR_BUFFER_BIT, filter);
    gl.bindFramebuffer(gl.READ_FRAMEBUFFER, null);
  }

  // The last ray-cast picture as RGBA bytes, top row first (what `ownscan render` writes).
  readRaycast() {
    const gl = this.gl;
    const { w, h, fbo } = this.target;
    gl.bindFramebuffer(gl.FRAMEBUFFER, fbo);
    const px = new Uint8Array(w * h * 4);
    gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, px);
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    const out = new Uint8Array(w * h * 4);
    for (let r = 0; r < h; r++) out.set(px.subarray((h - 1 - r) * w * 4, (h - r) * w * 4), r * w * 4);
    return { width: w, height: h, data: out };
  }

  // A 2D view: viewer_slice.glsl with the px -> tex matrix (geometry.pxToTex), sampled and
  // windowed as the ray-caster does (common.glsl's sample_volume and window_level): `window`
  // is the normalised [low, high] of the grey ramp (PreparedVolume.window), `invert` for
  // MONOCHROME1; a colour volume is drawn as stored.
  drawSlice(rect, pxToTex, window, invert) {
    const gl = this.gl;
    const program = this.programs.get("slice");
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    gl.viewport(rect.x, this.canvas.height - rect.y - rect.h, rect.w, rect.h);
    gl.useProgram(program);
    this._uniforms(program, {
      u_size_px: ["2f", [rect.w, rect.h]],
      u_px_to_tex: ["m4", pxToTex],
      u_dims: ["3f", this.volume.dims],
      u_window: ["2f", window],
      u_invert: ["i", invert ? 1 : 0],
      u_rgb: ["i", this.volume.rgb ? 1 : 0],
    });
    this._bind(program, [["u_volume", gl.TEXTURE_3D, this.volume.texture]]);
    gl.bindVertexArray(this.quad);
    gl.drawArrays(gl.TRIANGLES, 0, 6);
    gl.bindVertexArray(null);
  }

  clear() {
    const gl = this.gl;
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    gl.viewport(0, 0, this.canvas.width, this.canvas.height);
    gl.clearColor(0, 0, 0, 1);
    gl.clear(gl.COLOR_BUFFER_BIT);
  }
}
