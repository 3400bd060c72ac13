// The grey-value preparation of volume.js (decode, value range, quantisation) on a worker
// thread: the page keeps drawing the preview and answering the fingers meanwhile. Two
// messages: the grey values ("grey"), then, when `factors` asks for it, the compact gradient
// texels ("gradient"), made here after the grey values left (the page uploads and draws them
// meanwhile; a 512x512x300 CT's texels take seconds, which froze the page on its own thread).

import { gradientTexels, prepareGrey } from "./volume.js";

self.onmessage = (e) => {
  const { buffer, dtype, encoding, range, dims, factors } = e.data;
  let q;
  try {
    const r = prepareGrey(buffer, dtype, encoding, range, dims);
    const moved = [r.values.buffer];
    if (r.block) moved.push(r.block.bmin.buffer, r.block.bmax.buffer);
    q = r.q;
    // q stays here when the gradient is made here (the page then has no use for it)
    const gradientPending = !!factors && r.n === dims[0] * dims[1] * dims[2];
    if (gradientPending) r.q = null;
    else moved.push(r.q.buffer);
    self.postMessage({ kind: "grey", ...r, gradientPending }, moved);
    if (!gradientPending) return;
  } catch (err) {
    self.postMessage({ error: String(err.message || err) });
    return;
  }
  try {
    const texels = gradientTexels(q, dims, factors);
    self.postMessage({ kind: "gradient", texels }, [texels.buffer]);
  } catch (err) {
    self.postMessage({ error: String(err.message || err) });
  }
};
