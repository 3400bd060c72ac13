// Overlay planes (60xx) of the series' images (docs/SERVE_PAGE.md, "Overlays"), from
// GET /api/series/UID/overlays (core/serve/_overlays.py: read by ownscan.core.reports, each
// placed in the patient from its own image's header). Each overlay is drawn on the 2D view
// whose plane is its image's plane (parallel) and only in the slice its image lies in (within
// half a slice, as marks.js), one overlay bit per image pixel, unsmoothed, in the desktop's
// overlay colour (the PNG the server makes). An overlay whose image has no known place comes
// as "not placed" and is never drawn. "Overlays" in the toolbar hides or shows them.

import * as G from "./geometry.js";
import { clipTo, countDrawn, sliceTools } from "./inslice.js";
import { escapeControls } from "./text.js";

export function attachOverlays(viewer) {
  return new Overlays(viewer);
}

class Overlays {
  constructor(viewer) {
    this.v = viewer;
    this.list = [];
    this.images = new Map(); // n -> HTMLImageElement (fetched when first needed)
    this.show = true;
    this.load().catch((e) => console.warn("ownscan: no overlays:", e));
  }

  async load() {
    const v = this.v;
    const d = await v.api.json(`/api/series/${encodeURIComponent(v.uid)}/overlays`);
    if (v.destroyed) return;
    // a 4D series repeats its positions in every volume: whose overlay is whose is not known
    // here, so none is drawn rather than every volume's at once
    const fourD = (v.header.n_volumes || 1) > 1;
    this.list = fourD ? [] : d.overlays;
    const notes = [...d.problems];
    if (d.not_placed.length) notes.push(`${d.not_placed.length} overlay(s) not shown: their image's place in the patient is not known`);
    if (fourD && d.overlays.length) notes.push("overlays of a 4D series are not shown");
    if (!d.overlays.length && !notes.length) return;
    const b = document.createElement("button");
    b.type = "button";
    b.className = "overlay-toggle active";
    b.textContent = "Overlays";
    b.title = escapeControls(["Overlay planes stored in the images (60xx): show or hide", ...notes].join("\n"));
    b.setAttribute("aria-pressed", "true");
    b.addEventListener("click", () => this.setShown(!this.show));
    v.root.querySelector(".toolbar").append(b);
    this.button = b;
    v.stage.dataset.overlays = String(this.list.length);
    v.stage.dataset.overlaysNotPlaced = String(d.not_placed.length);
    v.redraw();
  }

  setShown(show) {
    this.show = show;
    this.button.classList.toggle("active", show);
    this.button.setAttribute("aria-pressed", String(show));
    this.v.redraw();
  }

  _image(ov) {
    let img = this.images.get(ov.n);
    if (!img) {
      img = new Image();
      img.onload = () => this.v.redraw();
      img.src = ov.url;
      this.images.set(ov.n, img);
    }
    return img.complete && img.naturalWidth ? img : null;
  }

  // viewer.js hook: the overlays of this view's slice
  draw2d(ctx, view, css, mmPerPx) {
    const v = this.v;
    let drawn = 0;
    if (v.planes[view] && this.show && this.list.length) {
      const { plane, near, px } = sliceTools(v, view, css, mmPerPx);
      clipTo(ctx, css);
      for (const ov of this.list) {
        if (Math.abs(G.dot(ov.normal, plane.normal)) < 0.999 || !near(ov.corner)) continue; // not this slice
        const img = this._image(ov);
        if (!img) continue;
        // the overlay's grid onto the view: one bit = one image pixel (an affine map)
        const p0 = px(ov.corner);
        const p1 = px(G.add(ov.corner, ov.right));
        const p2 = px(G.add(ov.corner, ov.down));
        ctx.save();
        ctx.transform(p1[0] - p0[0], p1[1] - p0[1], p2[0] - p0[0], p2[1] - p0[1], p0[0], p0[1]);
        ctx.imageSmoothingEnabled = false;
        ctx.drawImage(img, 0, 0);
        ctx.restore();
        drawn++;
      }
      ctx.restore();
    }
    countDrawn(this, v, view, drawn, "overlaysDrawn"); // for the tests: "axial:1 coronal:0 ..."
  }

  destroy() {}
}
