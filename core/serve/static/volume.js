// Voxels from the server (GET /api/series/UID/voxels?level=N, docs/SERVE.md): (z, y, x) C
// order, little endian, 2-byte types byte-shuffled (all low bytes, then all high bytes), sent
// gzip-compressed (the browser inflates natively). Prepared here exactly as
// core/render/_setup.prepare_volume prepares them for the desktop's R16 unorm texture:
//   q = clip(rint(float32(v - vmin) * float32(65535 / (vmax - vmin))), 0, 65535)
// and uploaded as q / 65535 (float32), the value the desktop samples. Shaded modes also get
// the desktop's compact gradient texture (gradientTexels) when it fits GRADIENT_BUDGET, made
// on the worker when the first shaded 3D view asks for it (the page draws meanwhile).

import { dimsOf } from "./geometry.js";
import { blockMinMax } from "./skip.js";

const TYPES = { int16: Int16Array, uint16: Uint16Array, uint8: Uint8Array, float32: Float32Array };

export const GRADIENT_BUDGET = 256 << 20; // bytes of the RGB8 snorm gradient texture (4 per texel, padded)

// The compact gradient texture's size in texels [mx, my, mz] for `dims` and the level's
// `factors` (voxels per texel), or null: no factors (26 fetches per gradient), or over budget.
export function gradientDims(dims, factors) {
  if (!factors) return null;
  const g = [0, 1, 2].map((a) => Math.ceil(dims[a] / factors[a]));
  return 4 * g[0] * g[1] * g[2] <= GRADIENT_BUDGET ? g : null;
}

// The bytes of a response as the typed array of `dtype`, undoing the byte shuffle.
export function decodeVoxels(buffer, dtype, encoding) {
  const Type = TYPES[dtype];
  if (!Type) throw new Error(`unknown voxel type ${dtype}`);
  const bytes = new Uint8Array(buffer);
  const size = Type.BYTES_PER_ELEMENT;
  if (bytes.length % size !== 0) throw new Error(`voxel data of ${bytes.length} bytes is not a whole number of ${dtype}`);
  const n = bytes.length / size;
  const shuffled = encoding && encoding.startsWith("shuffle");
  if (!shuffled || size === 1) return new Type(bytes.buffer, bytes.byteOffset, n);
  const out = new Uint8Array(bytes.length);
  for (let b = 0; b < size; b++) {
    const plane = bytes.subarray(b * n, (b + 1) * n);
    for (let i = 0; i < n; i++) out[i * size + b] = plane[i];
  }
  return new Type(out.buffer);
}

// numpy's rint: round half to even
function rint(x) {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function valueRange(voxels) {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < voxels.length; i++) {
    const v = voxels[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!(hi > lo)) hi = lo + 1;
  return [lo, hi];
}

// prepare_volume's quantisation: the uint16 q of every voxel
export function quantise(voxels, vmin, vmax) {
  const f = Math.fround;
  const s = f(65535 / (vmax - vmin));
  const lo = f(vmin);
  const out = new Uint16Array(voxels.length);
  for (let i = 0; i < voxels.length; i++) {
    const q = rint(f(f(f(voxels[i]) - lo) * s));
    out[i] = q < 0 ? 0 : q > 65535 ? 65535 : q;
  }
  return out;
}

// q / 65535: the numbers the desktop's R16 unorm texture returns
export function unorm(q) {
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) out[i] = q[i] / 65535;
  return out;
}

// core/render/_setup.gradient_texels (core/render/_gradient.py): the compact gradient texture.
// `factors` [fi, fj, fk] (1 or 2; the server's `gradient_factors` of the level): texel t is the
// block of voxels f t .. f t + f - 1 (indices clamped: an odd last block counts its last voxel
// twice); A its voxel sum (B = fi fj fk voxels). Per texel and axis the Sobel sum S = sum over
// the 26 neighbouring blocks of o_axis * (2 - |o_other1|) * (2 - |o_other2|) * A[+o] (block
// indices clamped), v = floor(S / (32 B f_axis)) = S >> shift (exact integers all along,
// |S| < 2^24), encoded as the desktop's RGB8 snorm texels (encodeTexels, with the level's `scales`,
// the server's `gradient_scales`): the same bytes, RGB interleaved, for GRADIENT_TEXTURE.
// Block sums, then separable passes over the texels (a 512x512x300 CT in node at load 10-11
// on the 2-core machine: 2.5-4.2 s, against 6.6 s for the 26 neighbours of each texel).
export function gradientTexels(q, dims, factors, scales) {
  if (!scales || scales.length !== 3) throw new Error("the level gives no gradient scales");
  const [nx, ny, nz] = dims;
  const [fi, fj, fk] = factors;
  const mx = Math.ceil(nx / fi), my = Math.ceil(ny / fj), mz = Math.ceil(nz / fk);
  const a = new Int32Array(mx * my * mz);
  const cols = new Int32Array(mx * fi); // the voxel columns of each block, clamped
  for (let c = 0; c < cols.length; c++) cols[c] = Math.min(c, nx - 1);
  for (let k = 0; k < mz; k++) {
    for (let dk = 0; dk < fk; dk++) {
      const kk = Math.min(k * fk + dk, nz - 1) * nx * ny;
      for (let j = 0; j < my; j++) {
        for (let dj = 0; dj < fj; dj++) {
          const row = kk + Math.min(j * fj + dj, ny - 1) * nx;
          const o = (k * my + j) * mx;
          for (let i = 0; i < mx; i++) {
            let s = 0;
            for (let di = 0; di < fi; di++) s += q[row + cols[i * fi + di]];
            a[o + i] += s;
          }
        }
      }
    }
  }
  // the Sobel sums by separable passes, as _gradient.py makes them (the operators act on one
  // axis each, so they commute exactly in integers): [1, 2, 1] along the two axes across,
  // then the difference along the axis
  const block = Math.log2(fi * fj * fk);
  const shifts = [fi, fj, fk].map((f) => 5 + block + Math.log2(f));
  const g = [mx, my, mz];
  const h = new Float32Array(mx * my * mz * 3);
  const b = new Int32Array(a.length), c = new Int32Array(a.length), d = new Int32Array(a.length);
  alongAxis(a, b, g, 2, false); // smoothed along k: shared by the i and j sums
  alongAxis(b, c, g, 1, false);
  texelsAlong(c, d, h, 0, g, shifts[0], scales[0]);
  alongAxis(b, c, g, 0, false);
  texelsAlong(c, d, h, 1, g, shifts[1], scales[1]);
  alongAxis(a, b, g, 0, false);
  alongAxis(b, c, g, 1, false);
  texelsAlong(c, d, h, 2, g, shifts[2], scales[2]);
  return encodeTexels(h);
}

// core/render/_gradient.encode_texels, float32 operation for float32 operation (Math.fround
// after each: the same bytes): per texel the vector h (in byte steps) shortened to 127 along
// its own direction when longer, then floor(h + 0.5) per axis (-127 .. 127).
export function encodeTexels(h) {
  const out = new Int8Array(h.length);
  const f = Math.fround;
  for (let t = 0; t < h.length; t += 3) {
    let x = h[t], y = h[t + 1], z = h[t + 2];
    const n2 = f(f(f(x * x) + f(y * y)) + f(z * z));
    if (n2 > 16129) {
      const shorten = f(127 / f(Math.sqrt(n2)));
      x = f(x * shorten);
      y = f(y * shorten);
      z = f(z * shorten);
    }
    out[t] = Math.floor(f(x + 0.5));
    out[t + 1] = Math.floor(f(y + 0.5));
    out[t + 2] = Math.floor(f(z + 0.5));
  }
  return out;
}

// One pass along `axis` (0: i, 1: j, 2: k) of a grid of `dims` texels, indices clamped:
// [1, 2, 1] (diff false) or the difference src[+1] - src[-1] (true), into dst.
function alongAxis(src, dst, dims, axis, diff) {
  const [mx, my, mz] = dims;
  const stride = axis === 0 ? 1 : axis === 1 ? mx : mx * my;
  const last = dims[axis] - 1;
  let t = 0;
  for (let k = 0; k < mz; k++) {
    for (let j = 0; j < my; j++) {
      for (let i = 0; i < mx; i++, t++) {
        const p = axis === 0 ? i : axis === 1 ? j : k;
        const lo = p > 0 ? t - stride : t, hi = p < last ? t + stride : t;
        dst[t] = diff ? src[hi] - src[lo] : src[lo] + 2 * src[t] + src[hi];
      }
    }
  }
}

// One axis (channel) of the gradients from its smoothed sums: S = the difference along the
// axis (into s), floor(S / 2^shift) (an arithmetic shift floors) times the axis's scale, one
// float32 product (the Float32Array rounds it), as _gradient.sobel_gradient.
function texelsAlong(sums, s, h, channel, dims, shift, scale) {
  alongAxis(sums, s, dims, channel, true);
  for (let t = 0; t < s.length; t++) h[t * 3 + channel] = (s[t] >> shift) * scale;
}

// The grey-value work of one level (decode, range, quantisation): on a worker thread when the
// browser can start one (the page stays responsive while a large CT is prepared), else here.
export function prepareGrey(buffer, dtype, encoding, range, dims) {
  const voxels = decodeVoxels(buffer, dtype, encoding);
  const [vmin, vmax] = range || valueRange(voxels);
  const q = quantise(voxels, vmin, vmax);
  const n = voxels.length;
  // the empty-space skipping bricks (skip.js), when the size is right (else the caller fails)
  const block = n === dims[0] * dims[1] * dims[2] ? blockMinMax(q, dims) : null;
  return { q, values: unorm(q), vmin, vmax, n, block };
}

// The grey values of one level from the worker (volume-worker.js), and with them `gradient`:
// null when no gradient texture can be made there, else a function that asks the worker for
// the compact gradient texels and returns a promise of them (null: none made), the same
// promise on every call. The worker makes them only when asked (at the first shaded 3D view,
// gl.js), keeping q until then; `release()` ends it when the texels will never be asked for
// (another volume drawn). Rejects when no worker could start (the bytes are then still here).
function prepareOffThread(buffer, dtype, encoding, range, dims, factors, scales) {
  return new Promise((resolve, reject) => {
    let worker;
    try {
      worker = new Worker(new URL("./volume-worker.js", import.meta.url), { type: "module" });
    } catch (e) {
      reject(e);
      return;
    }
    let settle = null; // the gradient promise's resolve, once the grey values came
    let asked = null; // that promise, once the page asked for the texels
    const done = (texels) => {
      worker.terminate();
      if (settle) settle(texels);
      settle = () => {}; // settled once; a later release() changes nothing
    };
    worker.onmessage = (e) => {
      if (e.data.error) {
        // after the grey values: no gradient texture (26 fetches per gradient); before: failed
        if (settle) done(null);
        else {
          worker.terminate();
          reject(new Error(e.data.error));
        }
      } else if (e.data.kind === "grey") {
        const promise = new Promise((r) => (settle = r));
        const gradient = e.data.gradientPending
          ? () => {
              if (!asked) {
                asked = promise;
                worker.postMessage({ kind: "gradient" });
              }
              return asked;
            }
          : null;
        resolve({ ...e.data, gradient, release: () => done(null) });
        if (!gradient) done(null);
      } else {
        done(e.data.texels);
      }
    };
    worker.onerror = (e) => {
      if (settle) done(null);
      else {
        worker.terminate();
        reject(new Error(e.message || "the worker failed"));
      }
    };
    worker.postMessage({ buffer, dtype, encoding, range, dims, factors, scales }, [buffer]);
  });
}

// One level of a series, ready for Renderer.setVolume. `range`: [vmin, vmax] to normalise
// with (null: this level's own, as prepare_volume does for the volume it draws).
export async function loadLevel(fetcher, header, level, range) {
  const resp = await fetcher(level.url);
  const encoding = resp.headers.get("X-Ownscan-Encoding") || "raw";
  const buffer = await resp.arrayBuffer();
  const dims = dimsOf(level.shape);
  const components = header.components || 1;
  const expected = dims[0] * dims[1] * dims[2] * components;
  const out = { level: level.level, shape: level.shape, affine: level.affine, dims };
  if (components !== 1) {
    const voxels = decodeVoxels(buffer, header.dtype, encoding);
    if (voxels.length !== expected) throw new Error(`voxels: got ${voxels.length} values, expected ${expected}`);
    // colour: RGB bytes as stored (a 2D image is shown as stored, no window)
    const rgb = new Uint8Array(dims[0] * dims[1] * dims[2] * 3);
    for (let i = 0, n = rgb.length / 3; i < n; i++) for (let c = 0; c < 3; c++) {
      const v = voxels[i * components + Math.min(c, components - 1)];
      rgb[i * 3 + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
    out.rgb = rgb;
    out.valueMin = 0;
    out.valueMax = 255;
    return out;
  }
  // voxels per texel of the compact gradient texture and its texels' byte steps: the
  // desktop's rule, from the server
  const scales = level.gradient_scales || null;
  const factors = scales ? level.gradient_factors || null : null;
  const withGradient = gradientDims(dims, factors) ? factors : null;
  let grey;
  try {
    grey = await prepareOffThread(buffer, header.dtype, encoding, range, dims, withGradient, scales);
  } catch (e) {
    // no worker could start (the bytes are still here): the same work on this thread, and
    // the gradient texture made from q on this thread at its first use (gl.js); a worker
    // that failed after it took the bytes (now detached, length 0) is an error
    if (buffer.byteLength === 0 && expected !== 0) throw e;
    grey = prepareGrey(buffer, header.dtype, encoding, range, dims);
  }
  if (grey.n !== expected) throw new Error(`voxels: got ${grey.n} values, expected ${expected}`);
  out.q = grey.q || null;
  // the gradient texels, asked of the worker at first use (a function returning a promise)
  out.gradientTexels = grey.gradient || null;
  out.release = grey.release || null;
  out.values = grey.values;
  out.gradientFactors = factors;
  out.gradientScales = scales;
  out.block = grey.block;
  out.valueMin = grey.vmin;
  out.valueMax = grey.vmax;
  return out;
}
