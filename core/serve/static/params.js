// The 3D mode's own parameters as controls (docs/SERVE_PAGE.md, "Mode parameters"): every
// parameter a mode declares (/api/shaders/raycast: `parameters`, `value_parameters`) gets a
// slider in the toolbar while that mode is shown, e.g. the surface's threshold (iso_value, in
// the volume's units: HU for CT). A value parameter's range is the volume's value range, and its
// unset default is the renderer's (a quarter of the window below its level); other parameters
// (a third party's mode) get a number field; a MinIP gets its slab thickness (10 mm by default,
// as `ownscan render`; 0: the whole depth). The values go into viewer.parameters[mode], which
// the WebGL frame (geometry.js shaderParameters) and the server frames (iso=) already read.

import { escapeControls } from "./text.js";

const WORDS = { iso_value: "Surface at" }; // plain words; the technical name is the tooltip

export function attachParams(viewer) {
  if (viewer.is2d || viewer.rgb) return null;
  return new ModeParameters(viewer);
}

class ModeParameters {
  constructor(viewer) {
    this.v = viewer;
    this.box = document.createElement("span");
    this.box.className = "mode-params";
    this.box.hidden = true;
    // beside the mode's menu (the toolbar is one row that scrolls: near where the mode is chosen)
    const toolbar = viewer.root.querySelector(".toolbar");
    const menu = toolbar.querySelector(".mode-select");
    if (menu) menu.after(this.box);
    else toolbar.append(this.box);
  }

  // cine.js calls this when another volume of a 4D series is drawn: a value parameter's
  // slider takes that volume's value range (its header came with its voxels); a value set on
  // another volume is kept within it, so that the slider shows the value drawn
  volumeChanged() {
    const v = this.v;
    const [lo, hi] = v.header.value_range;
    if (!this.mode || `${lo},${hi}` === this.range) return;
    const info = v.modeInfo && v.modeInfo[this.mode];
    const set = v.parameters[this.mode];
    for (const name of (info && info.value_parameters) || []) {
      if (set && Number.isFinite(set[name])) set[name] = Math.min(hi, Math.max(lo, set[name]));
    }
    this.modeChanged(this.mode);
  }

  // viewer.js calls this when the window changes (a preset, a drag, Reset): an unset value
  // parameter is drawn at a quarter of the window below its level, and its slider says so
  windowChanged() {
    for (const f of this.follow || []) f();
  }

  // viewer.js calls this once the mode's program (and so its description) is there
  modeChanged(mode) {
    const v = this.v;
    this.mode = mode;
    this.range = v.header.value_range.join();
    const info = v.modeInfo && v.modeInfo[mode];
    this.box.replaceChildren();
    this.follow = []; // value parameters left unset: they follow the window (windowChanged)
    const params = info ? Object.entries(info.parameters || {}) : [];
    this.box.hidden = !params.length && mode !== "minip";
    if (mode === "minip") this.box.append(slabControl(this.v, mode));
    const values = new Set(info ? info.value_parameters || [] : []);
    for (const [name, fallback] of params) {
      const wrap = document.createElement("label");
      wrap.className = "select mode-param";
      wrap.title = `${mode}: ${name}`;
      const span = document.createElement("span");
      span.textContent = escapeControls(WORDS[name] || name);
      const input = document.createElement("input");
      input.dataset.param = name;
      const out = document.createElement("output");
      const unit = values.has(name) && v.header.units ? ` ${v.header.units}` : "";
      const current = () => {
        const set = (v.parameters[mode] || {})[name];
        if (set !== undefined) return set;
        // the renderer's default (geometry.js shaderParameters), of the 3D view's window
        if (values.has(name) && (fallback === null || !Number.isFinite(fallback))) {
          const w = v.window3d();
          return w.level - w.width / 4;
        }
        return fallback ?? 0;
      };
      if (values.has(name)) {
        const [lo, hi] = v.header.value_range;
        input.type = "range";
        input.min = String(lo);
        input.max = String(hi);
        input.step = String((hi - lo) / 1000 || 1);
      } else {
        input.type = "number";
        input.step = "any";
      }
      input.value = String(current());
      out.textContent = `${fmt(current())}${unit}`;
      const apply = (final) => {
        const x = Number(input.value);
        if (!Number.isFinite(x)) return;
        v.parameters[mode] = { ...(v.parameters[mode] || {}), [name]: x };
        out.textContent = `${fmt(x)}${unit}`;
        v.redraw(!final);
      };
      input.addEventListener("input", () => apply(false));
      input.addEventListener("change", () => apply(true));
      this.follow.push(() => {
        if ((v.parameters[mode] || {})[name] !== undefined) return; // the user's own value
        input.value = String(current());
        out.textContent = `${fmt(current())}${unit}`;
      });
      wrap.append(span, input, out);
      this.box.append(wrap);
    }
    // a phone's toolbar is one row that scrolls sideways: the new controls into sight
    if (!this.box.hidden && this.box.scrollIntoView) this.box.scrollIntoView({ block: "nearest", inline: "nearest" });
  }
}

// The slab a MinIP looks through (`ownscan render --slab`): 0 is the whole depth.
function slabControl(v, mode) {
  const wrap = document.createElement("label");
  wrap.className = "select mode-param";
  wrap.title = `${mode}: slab thickness in mm (0: the whole depth)`;
  const span = document.createElement("span");
  span.textContent = "Slab";
  const input = document.createElement("input");
  input.type = "range";
  input.dataset.param = "slab";
  input.min = "0";
  const [ax, ay, az] = [0, 1, 2].map((c) => Math.hypot(...[0, 1, 2].map((r) => v.header.affine[r][c])) * v.header.shape[2 - c]);
  input.max = String(Math.ceil(Math.hypot(ax, ay, az)));
  input.step = "1";
  input.value = String(v.slabMm(mode));
  const out = document.createElement("output");
  const say = (x) => (out.textContent = x > 0 ? `${fmt(x)} mm` : "whole depth");
  say(v.slabMm(mode));
  const apply = async (final) => {
    const x = Number(input.value);
    v.slabs = { ...(v.slabs || {}), [mode]: x };
    say(x);
    await v._ensureProgram(mode);
    v.redraw(!final);
  };
  input.addEventListener("input", () => apply(false));
  input.addEventListener("change", () => apply(true));
  wrap.append(span, input, out);
  return wrap;
}

const fmt = (x) => (Math.abs(x) >= 100 ? String(Math.round(x)) : String(+Number(x).toPrecision(3)));
