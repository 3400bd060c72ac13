// Geometry of the pictures, ported line by line from the Python that the desktop renderer and
// viewer use, so the browser draws the same picture from the same numbers:
//   camera basis        <- core/render/_camera.py (Camera.basis_lps)
//   frame uniforms      <- core/render/_setup.py (frame_for, _fit_half_extent)
//   transfer function   <- core/render/_scene.py (TransferFunction.lut), _setup.py (step_lut)
//   2D slice matrix     <- core/viewer/_geometry.py (px_to_tex_matrix, fit_mm_per_px)
//   labels, scale bar   <- core/render/_annotate.py (orientation_label, _nice_length)
// Matrices are arrays of rows (row-major, as numpy prints them); `columnMajor` turns one into
// what WebGL's uniformMatrix wants. LPS: +x patient left, +y posterior, +z superior (head).

const RAD = Math.PI / 180;

export function matMul(a, b) {
  const n = a.length, m = b[0].length, k = b.length;
  const out = [];
  for (let i = 0; i < n; i++) {
    const row = new Array(m).fill(0);
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += a[i][t] * b[t][j];
      row[j] = s;
    }
    out.push(row);
  }
  return out;
}

export function transpose(a) {
  return a[0].map((_, j) => a.map((row) => row[j]));
}

// Inverse of a square matrix by Gauss-Jordan elimination with partial pivoting.
export function inverse(a) {
  const n = a.length;
  const m = a.map((row, i) => [...row, ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
    if (Math.abs(m[p][c]) < 1e-300) throw new Error("singular matrix");
    [m[c], m[p]] = [m[p], m[c]];
    const d = m[c][c];
    for (let j = 0; j < 2 * n; j++) m[c][j] /= d;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r][c];
      if (f !== 0) for (let j = 0; j < 2 * n; j++) m[r][j] -= f * m[c][j];
    }
  }
  return m.map((row) => row.slice(n));
}

export function columnMajor(a) {
  return new Float32Array(transpose(a).flat());
}

export const dot = (a, b) => a.reduce((s, v, i) => s + v * b[i], 0);
export const norm = (a) => Math.sqrt(dot(a, a));
export const add = (a, b) => a.map((v, i) => v + b[i]);
export const scale = (a, s) => a.map((v) => v * s);
export const column = (m, j) => m.map((row) => row[j]);

// voxel index (i, j, k) -> LPS mm through a 4x4 affine (rows)
export function indexToLps(affine, ijk) {
  return [0, 1, 2].map((r) => affine[r][0] * ijk[0] + affine[r][1] * ijk[1] + affine[r][2] * ijk[2] + affine[r][3]);
}

// shape (z, y, x) -> dims (nx, ny, nz)
export const dimsOf = (shape) => [shape[2], shape[1], shape[0]];

// spacing along i, j, k: the lengths of the affine's columns
export function spacingOf(affine) {
  return [0, 1, 2].map((j) => norm([affine[0][j], affine[1][j], affine[2][j]]));
}

function rotX(deg) {
  const c = Math.cos(deg * RAD), s = Math.sin(deg * RAD);
  return [[1, 0, 0], [0, c, -s], [0, s, c]];
}

function rotZ(deg) {
  const c = Math.cos(deg * RAD), s = Math.sin(deg * RAD);
  return [[c, -s, 0], [s, c, 0], [0, 0, 1]];
}

// (azimuth, elevation) of the standard planes (core/render/_camera.py PLANES)
export const CAMERA_PLANES = {
  coronal: [0, 0], anterior: [0, 0], sagittal: [90, 0], axial: [0, -90], posterior: [180, 0],
  left: [90, 0], right: [-90, 0], superior: [0, 90], inferior: [0, -90],
};

// Camera.basis_lps: columns right, up, back
export function cameraBasis(camera) {
  const base = [[1, 0, 0], [0, 0, -1], [0, 1, 0]];
  const roll = camera.roll || 0;
  const c = Math.cos(roll * RAD), s = Math.sin(roll * RAD);
  const r = [[c, -s, 0], [s, c, 0], [0, 0, 1]];
  return matMul(matMul(matMul(rotZ(camera.azimuth), rotX(-camera.elevation)), base), r);
}

function boxCorners(shape, affine) {
  const [x, y, z] = dimsOf(shape);
  const out = [];
  for (const i of [-0.5, x - 0.5]) for (const j of [-0.5, y - 0.5]) for (const k of [-0.5, z - 0.5]) out.push(indexToLps(affine, [i, j, k]));
  return out;
}

const ptp = (v) => Math.max(...v) - Math.min(...v);

// _fit_half_extent: half width and height (mm) of the view that fits the volume, square pixels
export function fitHalfExtent(shape, affine, basis, width, height, zoom) {
  const pts = boxCorners(shape, affine);
  const r = pts.map((p) => dot(p, column(basis, 0)));
  const u = pts.map((p) => dot(p, column(basis, 1)));
  const pixel = (Math.max(ptp(r) / width, ptp(u) / height) * 1.04) / zoom;
  return [(pixel * width) / 2, (pixel * height) / 2];
}

// TransferFunction.lut: 256 x RGBA over value_min .. value_max (entry e: vmin + e/255 (vmax-vmin))
export function transferLut(tf, vmin, vmax, window) {
  let xs = tf.points.map((p) => p[0]);
  if (tf.relative) xs = xs.map((x) => window.level - window.width / 2 + x * window.width);
  const out = new Float32Array(256 * 4);
  for (let e = 0; e < 256; e++) {
    const v = vmin + (e / 255) * (vmax - vmin);
    for (let c = 0; c < 4; c++) out[e * 4 + c] = interp(v, xs, tf.points.map((p) => p[1 + c]));
  }
  return out;
}

// _setup.step_lut: the table with each entry's opacity of 1 mm turned into the opacity of one
// step of `stepMm` (what the shaders' transfer() returns; computed in double, kept as float32)
export function stepLut(lut, stepMm) {
  const out = Float32Array.from(lut);
  for (let e = 0; e < 256; e++) out[e * 4 + 3] = 1 - Math.pow(1 - Math.min(out[e * 4 + 3], 1), stepMm);
  return out;
}

// numpy.interp: linear between points, the end values outside them
function interp(x, xs, ys) {
  if (x <= xs[0]) return ys[0];
  const n = xs.length;
  if (x >= xs[n - 1]) return ys[n - 1];
  let i = 1;
  while (xs[i] < x) i++;
  if (xs[i] === x) {
    // numpy returns the value of the last point equal to x
    while (i + 1 < n && xs[i + 1] === x) i++;
    return ys[i];
  }
  const t = (x - xs[i - 1]) / (xs[i] - xs[i - 1]);
  return ys[i - 1] + t * (ys[i] - ys[i - 1]);
}

// frame_for: every uniform of one ray-cast picture.
//   level: the volume drawn ({shape, affine}); original: level 0 ({shape, affine}), which
//   decides the framing and the sampling step (so the preview frames as the full volume does)
//   scene: {mode (from /api/shaders/raycast), window {width, level}, tf, parameters (the
//   scene's overrides of the mode's parameters, may be empty), offsetMm, slabMm, valueMin,
//   valueMax, invert}; camera: {azimuth, elevation, zoom, pan: [x, y] mm}.
//   interactive: core/render/_gl.py's quick pass while dragging (twice the step; the caller
//   draws half the rays per side)
export function frameFor(level, original, scene, camera, width, height, interactive = false) {
  const dims = dimsOf(level.shape);
  const spacing = spacingOf(level.affine);
  const basis = cameraBasis(camera);
  const centre = indexToLps(level.affine, dims.map((n) => (n - 1) / 2));
  const half = fitHalfExtent(original.shape, original.affine, basis, width, height, camera.zoom);
  const radius = 0.5 * norm(dims.map((n, a) => n * spacing[a]));
  const eye = radius * 1.5 + 1.0; // orthographic rays start outside the volume
  const toTex = [
    [1 / dims[0], 0, 0, 0.5 / dims[0]],
    [0, 1 / dims[1], 0, 0.5 / dims[1]],
    [0, 0, 1 / dims[2], 0.5 / dims[2]],
    [0, 0, 0, 1],
  ];
  const lpsToTex = matMul(toTex, inverse(level.affine));
  const linear = level.affine.slice(0, 3).map((row) => row.slice(0, 3));
  const gradToLps = transpose(inverse(linear));
  const step = Math.min(...spacingOf(original.affine)) * (interactive ? 2 : 1);
  const maxSteps = Math.ceil((2 * radius) / step) + 2;
  const { valueMin: vmin, valueMax: vmax } = scene;
  const normalise = (v) => (v - vmin) / (vmax - vmin);
  const win = scene.window;
  const back = column(basis, 2);
  return {
    width, height, basis, centre, half,
    pan: camera.pan || [0, 0],
    eye, lpsToTex, gradToLps, step, maxSteps,
    window: [normalise(win.level - win.width / 2), normalise(win.level + win.width / 2)],
    invert: scene.invert ? 1 : 0,
    parameters: shaderParameters(scene.mode, scene.parameters || {}, win, vmin, vmax),
    lut: scene.tf ? stepLut(transferLut(scene.tf, vmin, vmax, win), step) : null,
    slabHalf: (scene.slabMm || 0) / 2,
    plane: add(centre, scale(back, scene.offsetMm || 0)),
    pixelMm: (2 * half[0]) / width,
  };
}

// Scene.shader_parameters: every mode parameter as the shader sees it (u_<name>): value
// parameters normalised over vmin .. vmax (unset, NaN: a quarter of the window below its
// level), the others as they are. `mode`: /api/shaders/raycast's answer (defaults, with null
// for a non-finite one, and value_parameters); `overrides`: the scene's values.
export function shaderParameters(mode, overrides, win, vmin, vmax) {
  const out = {};
  const valueParameters = new Set(mode.value_parameters || []);
  for (const [name, fallback] of Object.entries(mode.parameters || {})) {
    let value = name in overrides ? overrides[name] : fallback;
    if (value === null || value === undefined) value = NaN;
    if (valueParameters.has(name)) {
      if (!Number.isFinite(value)) value = win.level - win.width / 4;
      value = (value - vmin) / (vmax - vmin);
    }
    out[name] = value;
  }
  return out;
}

// Radiological planes of the 2D views (core/viewer/_geometry.py PLANES): right, down, normal
export const VIEW_PLANES = {
  axial: { right: [1, 0, 0], down: [0, 1, 0], normal: [0, 0, 1] },
  coronal: { right: [1, 0, 0], down: [0, 0, -1], normal: [0, -1, 0] },
  sagittal: { right: [0, 1, 0], down: [0, 0, -1], normal: [1, 0, 0] },
};

// native_plane: a 2D image shown as stored, its axes from the direction cosines
export function nativePlane(affine) {
  const sp = spacingOf(affine);
  const right = [0, 1, 2].map((r) => affine[r][0] / sp[0]);
  const down = [0, 1, 2].map((r) => affine[r][1] / sp[1]);
  const normal = [right[1] * down[2] - right[2] * down[1], right[2] * down[0] - right[0] * down[2], right[0] * down[1] - right[1] * down[0]];
  return { right, down, normal };
}

export function volumeCentre(shape, affine) {
  return indexToLps(affine, dimsOf(shape).map((n) => (n - 1) / 2));
}

// fit_mm_per_px
export function fitMmPerPx(shape, affine, plane, w, h) {
  const pts = boxCorners(shape, affine);
  const r = ptp(pts.map((p) => dot(p, plane.right)));
  const d = ptp(pts.map((p) => dot(p, plane.down)));
  return Math.max(r / Math.max(1, w), d / Math.max(1, h), 1e-6) * 1.02;
}

// slice_step_mm: spacing of the voxel axis most aligned with the normal, projected on it
export function sliceStepMm(affine, normal) {
  const sp = spacingOf(affine);
  let best = 0, bestC = -1;
  for (let a = 0; a < 3; a++) {
    const c = Math.abs(dot([affine[0][a], affine[1][a], affine[2][a]], normal)) / sp[a];
    if (c > bestC) { bestC = c; best = a; }
  }
  return sp[best] * bestC;
}

// px_to_tex_matrix: view pixel (px, py, 0, 1), top-left origin -> texture (s, t, r)
export function pxToTex(shape, affine, w, h, centre, plane, mmPerPx) {
  const s2l = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]];
  for (let r = 0; r < 3; r++) {
    s2l[r][0] = mmPerPx * plane.right[r];
    s2l[r][1] = mmPerPx * plane.down[r];
    s2l[r][2] = plane.normal[r];
    s2l[r][3] = centre[r] - (w / 2) * mmPerPx * plane.right[r] - (h / 2) * mmPerPx * plane.down[r];
  }
  const [x, y, z] = dimsOf(shape);
  const ijkToTex = [[1 / x, 0, 0, 0.5 / x], [0, 1 / y, 0, 0.5 / y], [0, 0, 1 / z, 0.5 / z], [0, 0, 0, 1]];
  return matMul(matMul(ijkToTex, inverse(affine)), s2l);
}

// pixel_to_lps / lps_to_pixel of a 2D view
export function pixelToLps(px, py, w, h, centre, plane, mmPerPx) {
  return [0, 1, 2].map((r) => centre[r] + (px - w / 2) * mmPerPx * plane.right[r] + (py - h / 2) * mmPerPx * plane.down[r]);
}

export function lpsToPixel(p, w, h, centre, plane, mmPerPx) {
  const d = p.map((v, i) => v - centre[i]);
  return [dot(d, plane.right) / mmPerPx + w / 2, dot(d, plane.down) / mmPerPx + h / 2];
}

const LETTERS = [["R", "L"], ["A", "P"], ["I", "S"]];

// orientation_label: the patient directions a vector points to, strongest first
export function orientationLabel(v, minComponent = 0.25) {
  const n = norm(v);
  const u = v.map((c) => c / n);
  const order = [0, 1, 2].sort((a, b) => Math.abs(u[b]) - Math.abs(u[a]) || a - b);
  return order.filter((a) => Math.abs(u[a]) >= minComponent).map((a) => LETTERS[a][u[a] > 0 ? 1 : 0]).join("");
}

// _nice_length: the largest 1-2-5 x 10^n length not above maxMm
export function niceLength(maxMm) {
  const exp = 10 ** Math.floor(Math.log10(maxMm));
  for (const m of [5, 2, 1]) if (m * exp <= maxMm) return m * exp;
  return exp;
}
