// What the radiologist wrote and marked, beside the images (docs/SERVE_PAGE.md, "Report and
// marks"), from GET /api/series/UID/marks (core/serve/_marks.py, read by ownscan.core.reports):
// - the study's reports: Structured Reports as their lines (headings, items), PDFs as links;
//   the glossary of the terms the reports use, with its sources;
// - the key-images strip (Key Object Selection): each chip jumps to its image;
// - presentation states: their window as a button ("Radiologist's window"), their annotations
//   drawn on the image they belong to (text boxes with the line to what they point at,
//   polylines, circles, ellipses, points, arrows);
// - SR measurements with image coordinates, listed; a click jumps there and puts a marker.
// Every mark comes in LPS mm, so it is drawn on whichever plane passes through it (within half
// a slice). All text from files is set as text (text.js), never as HTML.

import { zoomToArea } from "./display.js";
import { clipTo, countDrawn, sliceTools } from "./inslice.js";
import { pdfPages } from "./pdfpages.js";
import { escapeControls, textEl } from "./text.js";

const COLOURS = { gsps: "#ff9f1c", sr: "#3df5a7" };
const MARKER = "#ff3b6b";

export function attachMarks(viewer) {
  return new Marks(viewer);
}

function button(label, cls, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  if (cls) b.className = cls;
  b.textContent = escapeControls(label);
  b.addEventListener("click", onClick);
  return b;
}

class Marks {
  constructor(viewer) {
    this.v = viewer;
    this.data = null;
    this.show = true;
    this.marker = null;
    this.load().catch((e) => console.warn("ownscan: no marks:", e));
  }

  async load() {
    const v = this.v;
    const d = await v.api.json(`/api/series/${encodeURIComponent(v.uid)}/marks`);
    if (v.destroyed) return;
    this.data = d;
    const states = d.presentation_states || [];
    const any = d.documents.length || d.key_images.length || d.windows.length || d.annotations.length || states.length;
    if (!any) return;
    this._build(d);
    v.redraw();
  }

  _build(d) {
    const v = this.v;
    // the stage and the report side by side (one above the other on a phone)
    const row = document.createElement("div");
    row.className = "stage-row";
    v.stage.replaceWith(row);
    const panel = document.createElement("aside");
    panel.className = "report-panel";
    panel.setAttribute("aria-label", "Report and marks");
    row.append(v.stage, panel);
    this.panel = panel;
    const toolbar = v.root.querySelector(".toolbar");
    const toggle = button("Report", "report-toggle", () => this.setPanel(panel.hidden));
    toolbar.append(toggle);
    this.toggle = toggle;
    this.setPanel(window.innerWidth >= 900);

    if (d.key_images.length) {
      const strip = document.createElement("div");
      strip.className = "key-strip";
      strip.append(textEl("span", "key-title", "Key images"));
      for (const k of d.key_images) {
        for (const im of k.images) {
          const chip = button(`★ image ${im.number ?? "?"}`, "key-image", () => this.jump(im.lps));
          chip.title = escapeControls([k.title, k.description].filter(Boolean).join(": "));
          chip.disabled = !im.lps;
          chip.dataset.number = String(im.number ?? "");
          strip.append(chip);
        }
      }
      row.before(strip);
    }

    if (d.windows.length || d.annotations.length || (d.presentation_states || []).length) {
      const sec = section(panel, "What the radiologist marked");
      // a presentation state as the radiologist saw it: window, image and zoom (display.js)
      for (const ps of d.presentation_states || []) {
        const what = [ps.window && `window ${fmt(ps.window.width)}/${fmt(ps.window.center)}`, ps.area && "zoom", ps.image && ps.image.number && `image ${ps.image.number}`].filter(Boolean).join(", ");
        const b = button(`Apply the radiologist's view (${ps.label}): ${what}`, "apply-state", () => this.applyState(ps));
        if (ps.rotated) b.title = "its rotation or flip is not applied";
        sec.append(b);
      }
      for (const w of d.windows) {
        const label = `Radiologist's window${w.explanation ? ` (${w.explanation})` : ""}: ${fmt(w.width)}/${fmt(w.center)}`;
        sec.append(button(label, "apply-window", () => this.applyWindow(w)));
      }
      const show = document.createElement("label");
      show.className = "show-marks";
      const box = document.createElement("input");
      box.type = "checkbox";
      box.checked = true;
      box.addEventListener("change", () => {
        this.show = box.checked;
        v.redraw();
      });
      show.append(box, document.createTextNode(" Show the marks on the images"));
      sec.append(show);
      const list = document.createElement("ul");
      list.className = "mark-list";
      d.annotations.forEach((a, i) => {
        if (!a.points) return;
        const what = a.text || shapeWord(a.shape);
        const where = a.image && a.image.number ? ` · image ${a.image.number}` : "";
        const li = document.createElement("li");
        li.append(button(`${a.source === "sr" ? "Measurement" : "Mark"}: ${what}${where}`, `mark ${a.source}`, () => this.jump(centroid(a.points), i)));
        list.append(li);
      });
      sec.append(list);
    }

    for (const doc of d.documents) {
      const sec = section(panel, doc.title || "Report");
      sec.classList.add("report");
      if (doc.lines) {
        for (const [depth, kind, text] of doc.lines) {
          if (kind === "title") continue;
          const e = textEl(kind === "heading" ? "h5" : "p", `line ${kind}`, text);
          e.style.marginLeft = `${depth * 0.8}rem`;
          sec.append(e);
        }
      } else {
        pdfPages(sec, doc, v.api); // the pages drawn by the server, and the link (pdfpages.js)
      }
    }

    if (d.glossary.length) {
      const sec = section(panel, "Words in the report");
      sec.classList.add("glossary");
      const dl = document.createElement("dl");
      for (const g of d.glossary) {
        dl.append(textEl("dt", "", g.as_written));
        const dd = textEl("dd", "", g.text);
        const src = document.createElement("span");
        src.className = "sources";
        src.append(document.createTextNode(" Sources: "));
        g.sources.forEach((s, i) => {
          if (i) src.append(document.createTextNode("; "));
          const a = document.createElement("a");
          a.href = /^https:\/\//.test(s.url) ? s.url : "#";
          a.target = "_blank";
          a.rel = "noopener noreferrer";
          a.textContent = escapeControls(s.name);
          src.append(a);
        });
        dd.append(src);
        dl.append(dd);
      }
      sec.append(dl);
      sec.append(textEl("p", "meta", "Plain words to help you read; what the report means for you is for your doctor to say."));
    }
    for (const p of d.problems) panel.append(textEl("p", "error", p));
  }

  // The presentation state's window, also offered in the window menu under its own name.
  applyWindow(w) {
    const v = this.v;
    const name = `radiologist${w.explanation ? `: ${w.explanation}` : ""}`;
    if (v.windowSelect && !v.windowPresets.some((p) => p.name === name)) {
      v.windowPresets.push({ kind: "window", name, width: w.width, level: w.center });
      const o = document.createElement("option");
      o.value = name;
      o.textContent = escapeControls(`${name} (${fmt(w.width)}/${fmt(w.center)})`);
      v.windowSelect.append(o);
    }
    v.setWindow(w.width, w.center, name);
  }

  // A presentation state applied: its window, then its image's displayed area (zoom) on the
  // view of that plane, else the cursor to its image. Rotation and flip are not applied.
  applyState(ps) {
    const v = this.v;
    if (ps.window) this.applyWindow(ps.window);
    const view = ps.area ? zoomToArea(v, ps.area) : null;
    if (!view && ps.image && ps.image.lps) {
      v.cursor = [...ps.image.lps];
      v._syncSlider();
    }
    v.stage.dataset.applied = view ? `${view}:${v.viewState[view].zoom.toFixed(4)}` : "no zoom";
    v.redraw();
  }

  setPanel(open) {
    if (!this.panel) return;
    this.panel.hidden = !open;
    this.toggle.classList.toggle("active", open);
  }

  // Move the cursor (every plane) to lps; a 3D-only layout shows the slices instead.
  jump(lps, index = null) {
    if (!lps) return;
    const v = this.v;
    v.cursor = [...lps];
    this.marker = lps;
    this.selected = index;
    if (v.layout === "3d") v.setLayout(window.innerWidth >= 900 ? "quad" : "axial");
    v.stage.dataset.jumped = lps.map((x) => x.toFixed(2)).join(",");
    v._syncSlider();
    v.redraw();
  }

  // Marks of this plane (within half a slice of it), on the 2D view `view` (viewer.js hook).
  draw2d(ctx, view, css, mmPerPx) {
    const v = this.v;
    if (!v.planes[view] || !this.data) return;
    const { near, px } = sliceTools(v, view, css, mmPerPx);
    clipTo(ctx, css);
    let drawn = 0;
    if (this.show) {
      this.data.annotations.forEach((a, i) => {
        if (!a.points || !a.points.every(near)) return;
        drawMark(ctx, a, a.points.map(px), a.anchor && near(a.anchor) ? px(a.anchor) : null, i === this.selected);
        drawn++;
      });
    }
    if (this.marker && near(this.marker)) {
      const [x, y] = px(this.marker);
      ctx.strokeStyle = MARKER;
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.arc(x, y, 14, 0, 2 * Math.PI);
      ctx.moveTo(x - 20, y);
      ctx.lineTo(x - 8, y);
      ctx.moveTo(x + 8, y);
      ctx.lineTo(x + 20, y);
      ctx.moveTo(x, y - 20);
      ctx.lineTo(x, y - 8);
      ctx.moveTo(x, y + 8);
      ctx.lineTo(x, y + 20);
      ctx.stroke();
      drawn++;
    }
    ctx.restore();
    countDrawn(this, v, view, drawn, "marksDrawn"); // for the tests: "axial:6 coronal:1 sagittal:1"
  }

  destroy() {}
}

function section(panel, title) {
  const sec = document.createElement("section");
  sec.append(textEl("h4", "", title));
  panel.append(sec);
  return sec;
}

const fmt = (x) => (Math.abs(x) >= 100 ? Math.round(x) : +Number(x).toPrecision(3));

function shapeWord(shape) {
  return { TEXT: "text", POLYLINE: "line", INTERPOLATED: "curve", CIRCLE: "circle", ELLIPSE: "ellipse", POINT: "point", MULTIPOINT: "points", ARROW: "arrow", RULER: "ruler", RECTANGLE: "rectangle", POLYGON: "outline" }[shape] || shape.toLowerCase();
}

function centroid(points) {
  const n = points.length;
  return [0, 1, 2].map((i) => points.reduce((s, p) => s + p[i], 0) / n);
}

// One mark in view pixels: pts (projected points), anchor (a text box's leader target).
function drawMark(ctx, a, pts, anchor, selected) {
  ctx.strokeStyle = ctx.fillStyle = COLOURS[a.source] || COLOURS.gsps;
  ctx.lineWidth = selected ? 3 : 2;
  ctx.font = "bold 13px system-ui, sans-serif";
  ctx.textBaseline = "top";
  ctx.beginPath();
  const line = (ps, close) => {
    ps.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    if (close) ctx.closePath();
  };
  switch (a.shape) {
    case "TEXT": {
      // the box's top-left corner holds the text; the line points at the anchor
      const [x, y] = pts[0];
      if (anchor) {
        ctx.moveTo(x, y);
        ctx.lineTo(anchor[0], anchor[1]);
        ctx.stroke();
      }
      ctx.lineWidth = 3;
      ctx.strokeStyle = "#000";
      ctx.strokeText(escapeControls(a.text), x + 2, y + 2);
      ctx.fillText(escapeControls(a.text), x + 2, y + 2);
      return;
    }
    case "CIRCLE": {
      const [c, e] = pts;
      ctx.arc(c[0], c[1], Math.hypot(e[0] - c[0], e[1] - c[1]), 0, 2 * Math.PI);
      break;
    }
    case "ELLIPSE": {
      // major axis end points, then minor axis end points (PS3.3 C.10.5.1.2)
      const [a0, a1, b0, b1] = pts;
      const c = [(a0[0] + a1[0]) / 2, (a0[1] + a1[1]) / 2];
      const u = [(a1[0] - a0[0]) / 2, (a1[1] - a0[1]) / 2];
      const w = [(b1[0] - b0[0]) / 2, (b1[1] - b0[1]) / 2];
      const ring = [];
      for (let k = 0; k <= 48; k++) {
        const t = (k / 48) * 2 * Math.PI;
        ring.push([c[0] + Math.cos(t) * u[0] + Math.sin(t) * w[0], c[1] + Math.cos(t) * u[1] + Math.sin(t) * w[1]]);
      }
      line(ring, true);
      break;
    }
    case "POINT":
    case "MULTIPOINT":
    case "CROSSHAIR":
      for (const [x, y] of pts) {
        ctx.moveTo(x - 5, y);
        ctx.lineTo(x + 5, y);
        ctx.moveTo(x, y - 5);
        ctx.lineTo(x, y + 5);
      }
      break;
    case "ARROW": {
      // PS3.3 C.10.5.1.3: the arrow points at its first point
      const [tip, tail] = pts;
      line([tail, tip]);
      const ang = Math.atan2(tip[1] - tail[1], tip[0] - tail[0]);
      for (const s of [-1, 1]) {
        ctx.moveTo(tip[0], tip[1]);
        ctx.lineTo(tip[0] - 10 * Math.cos(ang + s * 0.45), tip[1] - 10 * Math.sin(ang + s * 0.45));
      }
      break;
    }
    case "POLYGON":
    case "RECTANGLE":
      line(pts, true);
      break;
    default:
      line(pts, false);
  }
  if (a.filled) ctx.fill();
  ctx.stroke();
  if (a.text && a.source === "sr") {
    const [x, y] = pts[0];
    ctx.lineWidth = 3;
    ctx.strokeStyle = "#000";
    ctx.strokeText(escapeControls(a.text), x + 4, y + 4);
    ctx.fillText(escapeControls(a.text), x + 4, y + 4);
  }
}
