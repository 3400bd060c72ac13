// The grey-value preparation of volume.js (decode, value range, quantisation) on a worker
// thread: the page keeps drawing the preview and answering the fingers meanwhile.

import { prepareGrey } from "./volume.js";

self.onmessage = (e) => {
  const { buffer, dtype, encoding, range, dims } = e.data;
  try {
    const r = prepareGrey(buffer, dtype, encoding, range, dims);
    const moved = [r.q.buffer, r.values.buffer];
    if (r.block) moved.push(r.block.bmin.buffer, r.block.bmax.buffer);
    self.postMessage(r, moved);
  } catch (err) {
    self.postMessage({ error: String(err.message || err) });
  }
};
