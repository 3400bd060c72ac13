// A presentation state's displayed area (its zoom, PS3.3 C.10.4) applied to the page's 2D view
// whose plane is its image's, as the desktop viewer's "Apply" (core/viewer/_radiologist.py
// _zoom_to): SCALE TO FIT shows the area whole, MAGNIFY shows its pixels at the ratio, TRUE
// SIZE is shown as SCALE TO FIT (the screen's physical pixel size is not known). The area
// comes placed in the patient (core/serve/_display.py). Rotation and flip are not applied.

import * as G from "./geometry.js";

// Zoom and pan the view showing area's plane so the area fills it; the cursor goes to the
// area's centre. Returns the view's name, or null when no view shows that plane (an oblique
// image: the page's views follow the patient's axes).
export function zoomToArea(v, area) {
  const view = Object.keys(v.planes).find((k) => Math.abs(G.dot(v.planes[k].normal, area.normal)) > 0.999);
  if (!view) return null;
  if (v.layout !== "quad" && v.layout !== view) v.setLayout(view);
  const rect = v.rects()[view];
  const plane = v.planes[view];
  const extent = (d) => {
    const along = area.corners.map((p) => G.dot(p, d));
    return Math.max(...along) - Math.min(...along);
  };
  const want = area.size_mode === "MAGNIFY" && area.magnification
    ? area.pixel_mm / area.magnification
    : Math.max(extent(plane.right) / Math.max(1, rect.w), extent(plane.down) / Math.max(1, rect.h));
  const fit = G.fitMmPerPx(v.original.shape, v.original.affine, plane, rect.w, rect.h);
  const st = v.viewState[view];
  st.zoom = Math.min(Math.max(fit / Math.max(want, 1e-9), 0.1), 50);
  const offset = area.centre.map((x, i) => x - v.centre[i]);
  const along = G.dot(offset, plane.normal);
  st.pan = offset.map((x, i) => x - along * plane.normal[i]);
  v.cursor = [...area.centre];
  v._syncSlider();
  v.redraw();
  return view;
}
