// The grey-value preparation of volume.js (decode, value range, quantisation) on a worker
// thread: the page keeps drawing the preview and answering the fingers meanwhile. It answers
// with the grey values ("grey"); when `factors` allows a compact gradient texture, it keeps q
// and makes the gradient texels ("gradient") only when the page asks for them ({kind:
// "gradient"}: at the first shaded 3D view; volume.js), so a series never shown shaded costs
// no gradient (a 512x512x300 CT's texels take seconds, which froze the page on its own thread).

import { gradientTexels, prepareGrey } from "./volume.js";

let kept = null; // {q, dims, factors, scales} until the page asks for the gradient texels

self.onmessage = (e) => {
  if (e.data.kind === "gradient") {
    if (!kept) return;
    const { q, dims, factors, scales } = kept;
    kept = null;
    try {
      const texels = gradientTexels(q, dims, factors, scales);
      self.postMessage({ kind: "gradient", texels }, [texels.buffer]);
    } catch (err) {
      self.postMessage({ error: String(err.message || err) });
    }
    return;
  }
  const { buffer, dtype, encoding, range, dims, factors, scales } = e.data;
  try {
    const r = prepareGrey(buffer, dtype, encoding, range, dims);
    const moved = [r.values.buffer];
    if (r.block) moved.push(r.block.bmin.buffer, r.block.bmax.buffer);
    // q stays here when the gradient may be made here (the page then has no use for it)
    const gradientPending = !!factors && r.n === dims[0] * dims[1] * dims[2];
    if (gradientPending) {
      kept = { q: r.q, dims, factors, scales };
      r.q = null;
    } else moved.push(r.q.buffer);
    self.postMessage({ kind: "grey", ...r, gradientPending }, moved);
  } catch (err) {
    self.postMessage({ error: String(err.message || err) });
  }
};
