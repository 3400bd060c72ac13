// Empty-space skipping tables, ported from core/render/_setup.py (_block_minmax, _skip_tables,
// skip_distance, _visible_range) so the browser's ray-caster skips exactly the bricks the
// desktop's does (and so draws the same picture, faster). float32 steps are emulated with
// Math.fround where numpy computes in float32.

export const BRICK = 4; // voxels per side of a brick (core/render/_setup.BRICK)
export const SKIP_DISTANCE_CAP = 32;
// voxels per side of the bricks MIP / MinIP walk (core/render/_setup.RUNNING_BRICK)
export const RUNNING_BRICK = 16;

// core/render/_setup.pooled_bounds: the per-block bound table (shape [nz, ny, nx] of BRICK
// blocks) pooled to bricks of RUNNING_BRICK voxels, the largest (smallest) of the blocks in
// each; a partial brick at the far end pools the blocks it has. Returns { shape, data }.
export function pooledBounds(table, shape, largest) {
  const f = RUNNING_BRICK / BRICK;
  const [nz, ny, nx] = shape;
  const [pz, py, px] = [Math.ceil(nz / f), Math.ceil(ny / f), Math.ceil(nx / f)];
  const out = new Float32Array(pz * py * px).fill(largest ? -Infinity : Infinity);
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      const row = (z * ny + y) * nx;
      const prow = (Math.floor(z / f) * py + Math.floor(y / f)) * px;
      for (let x = 0; x < nx; x++) {
        const v = table[row + x];
        const i = prow + Math.floor(x / f);
        if (largest ? v > out[i] : v < out[i]) out[i] = v;
      }
    }
  }
  return { shape: [pz, py, px], data: out };
}

// Per brick the smallest and largest q / 65535 (float32) over the brick widened by one voxel
// on every side (trilinear sampling inside a brick reads one voxel beyond it).
export function blockMinMax(q, dims) {
  const [nx, ny, nz] = dims;
  const nbx = Math.ceil(nx / BRICK), nby = Math.ceil(ny / BRICK), nbz = Math.ceil(nz / BRICK);
  const lo = (b) => Math.max(BRICK * b - 1, 0);
  // along x: (nz, ny, nbx)
  const ax = new Uint16Array(nz * ny * nbx * 2);
  for (let r = 0; r < nz * ny; r++) {
    const row = r * nx;
    for (let b = 0; b < nbx; b++) {
      let mn = 65535, mx = 0;
      for (let i = lo(b), end = Math.min(BRICK * b + BRICK, nx - 1); i <= end; i++) {
        const v = q[row + i];
        if (v < mn) mn = v;
        if (v > mx) mx = v;
      }
      const o = (r * nbx + b) * 2;
      ax[o] = mn;
      ax[o + 1] = mx;
    }
  }
  // along y: (nz, nby, nbx)
  const ay = new Uint16Array(nz * nby * nbx * 2);
  for (let k = 0; k < nz; k++) for (let b = 0; b < nby; b++) for (let i = 0; i < nbx; i++) {
    let mn = 65535, mx = 0;
    for (let j = lo(b), end = Math.min(BRICK * b + BRICK, ny - 1); j <= end; j++) {
      const o = ((k * ny + j) * nbx + i) * 2;
      if (ax[o] < mn) mn = ax[o];
      if (ax[o + 1] > mx) mx = ax[o + 1];
    }
    const o = ((k * nby + b) * nbx + i) * 2;
    ay[o] = mn;
    ay[o + 1] = mx;
  }
  // along z: (nbz, nby, nbx), as float32 q / 65535
  const n = nbz * nby * nbx;
  const bmin = new Float32Array(n), bmax = new Float32Array(n);
  for (let b = 0; b < nbz; b++) for (let j = 0; j < nby; j++) for (let i = 0; i < nbx; i++) {
    let mn = 65535, mx = 0;
    for (let k = lo(b), end = Math.min(BRICK * b + BRICK, nz - 1); k <= end; k++) {
      const o = ((k * nby + j) * nbx + i) * 2;
      if (ay[o] < mn) mn = ay[o];
      if (ay[o + 1] > mx) mx = ay[o + 1];
    }
    const o = (b * nby + j) * nbx + i;
    bmin[o] = mn / 65535;
    bmax[o] = mx / 65535;
  }
  return { bmin, bmax, shape: [nbz, nby, nbx] };
}

// _visible_range: normalised values outside (lo, hi) are transparent in the table
export function visibleRange(lut) {
  let first = -1, last = -1;
  for (let e = 0; e < 256; e++) {
    if (lut[e * 4 + 3] > 0) {
      if (first < 0) first = e;
      last = e;
    }
  }
  if (first < 0) return [2, -1];
  return [(first - 1.5) / 255, (last + 1.5) / 255];
}

// skip_distance: per brick the Chebyshev distance (bricks, capped) to the nearest occupied one
export function skipDistance(occ, shape) {
  const [nz, ny, nx] = shape;
  const n = occ.length;
  const dist = new Uint8Array(n).fill(SKIP_DISTANCE_CAP);
  let covered = new Uint8Array(n);
  let count = 0;
  for (let i = 0; i < n; i++) if (occ[i]) {
    dist[i] = 0;
    covered[i] = 1;
    count += 1;
  }
  const strides = [nx * ny, nx, 1], sizes = [nz, ny, nx];
  for (let k = 1; k < SKIP_DISTANCE_CAP; k++) {
    if (count === n || count === 0) break;
    const grown = covered.slice();
    for (let axis = 0; axis < 3; axis++) {
      const src = grown.slice();
      const st = strides[axis], size = sizes[axis];
      for (let i = 0; i < n; i++) {
        const c = Math.floor(i / st) % size;
        if ((c > 0 && src[i - st]) || (c < size - 1 && src[i + st])) grown[i] = 1;
      }
    }
    for (let i = 0; i < n; i++) if (grown[i] && !covered[i]) {
      dist[i] = k;
      count += 1;
    }
    covered = grown;
  }
  return dist;
}

// _skip_tables: occupancy (may the mode see something in this brick?) and its skip distance,
// by SkipRule.opacity (from the transfer function's table `lut`) or SkipRule.threshold (the
// brick's largest value reaches `threshold`, the mode's parameter normalised)
export function skipTables(block, skip, lut, threshold) {
  const n = block.bmin.length;
  const occ = new Uint8Array(n);
  if (skip === "opacity") {
    const positive = new Int32Array(257);
    for (let e = 0; e < 256; e++) positive[e + 1] = positive[e] + (lut[e * 4 + 3] > 0 ? 1 : 0);
    const f = Math.fround;
    const clip = (v) => (v < 0 ? 0 : v > 255 ? 255 : v);
    for (let i = 0; i < n; i++) {
      const a = clip(Math.floor(f(block.bmin[i] * 255)));
      const b = clip(Math.ceil(f(block.bmax[i] * 255)));
      occ[i] = positive[b + 1] - positive[a] > 0 ? 1 : 0;
    }
  } else {
    // numpy compares the float32 table with the threshold rounded to float32
    const t = Math.fround(threshold);
    for (let i = 0; i < n; i++) occ[i] = block.bmax[i] >= t ? 1 : 0;
  }
  return { occupancy: occ, distance: skipDistance(occ, block.shape) };
}
