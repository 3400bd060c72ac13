// What lies in a 2D view's slice and where it falls on the view, for what is drawn over the
// slices (marks.js, overlays.js): a point is in the slice when it lies within half a slice of
// the view's plane; and, for the tests, how many things each view drew in its last frame.

import * as G from "./geometry.js";

export function sliceTools(v, view, css, mmPerPx) {
  const plane = v.planes[view];
  const centre = v.viewCentre(view);
  const half = G.sliceStepMm(v.original.affine, plane.normal) / 2 + 1e-3;
  return {
    plane,
    near: (p) => Math.abs(G.dot(p.map((x, i) => x - centre[i]), plane.normal)) <= half,
    px: (p) => {
      const [x, y] = G.lpsToPixel(p, css.w, css.h, centre, plane, mmPerPx);
      return [css.x + x, css.y + y];
    },
  };
}

// ctx.save() and a clip to the view's rectangle (the caller restores)
export function clipTo(ctx, css) {
  ctx.save();
  ctx.beginPath();
  ctx.rect(css.x, css.y, css.w, css.h);
  ctx.clip();
}

// stage.dataset[key] = "axial:6 coronal:1 sagittal:0"
export function countDrawn(owner, v, view, drawn, key) {
  owner.drawnBy = { ...(owner.drawnBy || {}), [view]: drawn };
  v.stage.dataset[key] = Object.entries(owner.drawnBy).map(([k, n]) => `${k}:${n}`).join(" ");
}
