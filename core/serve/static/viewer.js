// The viewer: 2D slices (viewer_slice.glsl) in the three MPR planes with a linked crosshair,
// and the 3D modes (raycast.frag.glsl), drawn by gl.js from the numbers geometry.js ports from
// the desktop. Input follows the desktop viewer (core/viewer): left drag = window/level in 2D
// (right widens, down raises the level), rotate in 3D (0.4 degree per pixel); wheel scrolls
// slices (2D) or zooms (3D); shift+drag or middle drag pans; right drag zooms; a click moves
// the crosshair. Touch: one finger as the left button, a quick vertical swipe scrolls slices,
// two fingers pinch (zoom) and pan. The first picture comes from the preview level; the full
// level replaces it. Without WebGL2 the views show frames rendered on the server (render.png).

import { compareButton } from "./compare.js";
import * as G from "./geometry.js";
import { GLUnavailable, Renderer } from "./gl.js";
import { skipTables, visibleRange } from "./skip.js";
import { escapeControls, formatValue as fmt } from "./text.js";
import { loadLevel } from "./volume.js";

const SHADE = [0.35, 0.65, 0.25, 24.0]; // core/render/_setup.py SHADE, SHADE_GAIN
const SHADE_GAIN = 100.0;
const MODES_3D = ["dvr", "mip", "minip", "xray", "iso"];
const MODE_TITLES = { dvr: "Volume", mip: "MIP", minip: "MinIP", xray: "X-ray", iso: "Surface" };
const DRAG_THRESHOLD = 4;
// core/render/_view.py MINIP_SLAB_MM: `ownscan render --mode minip` looks through a 10 mm slab
// facing the camera by default (through a whole head or chest a MinIP shows only the air)
const MINIP_SLAB_MM = 10;

export class Viewer {
  // root: the element to build into; api: app.js's fetch helpers; uid: the series
  constructor(root, api, uid) {
    this.root = root;
    this.api = api;
    this.uid = uid;
    this.views = {};
    this.gestures = new Map();
    this.notes = [];
    this.dirty = false;
    this.interactive = false;
    this.destroyed = false;
  }

  async open() {
    this.header = await this.api.json(`/api/series/${encodeURIComponent(this.uid)}`);
    const h = this.header;
    // a multi-frame image without slice geometry (an ultrasound cine) is one view of its
    // frames, played by cine.js, never MPR or 3D
    this.is2d = !!h.is_2d || h.kind === "frames";
    this.rgb = (h.components || 1) !== 1;
    this.original = { shape: h.shape, affine: h.affine };
    this.centre = G.volumeCentre(h.shape, h.affine);
    this.cursor = [...this.centre];
    this.window = { width: h.window.width, level: h.window.level, name: h.window.name || "default" };
    this.windowPresets = (h.presets || []).filter((p) => p.kind !== "transfer_function" && p.width !== undefined);
    // the series' default window is always one of the choices (MR has no presets of its own)
    if (!this.windowPresets.some((p) => p.name === this.window.name)) this.windowPresets.unshift({ kind: "window", ...this.window });
    this.tfs = (h.presets || []).filter((p) => p.kind === "transfer_function" || p.points);
    this.tf = this._defaultTf();
    this.mode3d = "dvr";
    // per mode, values of its parameters other than the defaults (Scene.parameters), e.g.
    // {iso: {iso_value: 200}}: value parameters in the volume's units
    this.parameters = {};
    this.camera = { azimuth: 0, elevation: 0, zoom: 1, pan: [0, 0] };
    this.planes = this.is2d ? { image: G.nativePlane(h.affine) } : { axial: G.VIEW_PLANES.axial, coronal: G.VIEW_PLANES.coronal, sagittal: G.VIEW_PLANES.sagittal };
    this.viewState = {};
    for (const name of Object.keys(this.planes)) this.viewState[name] = { zoom: 1, pan: [0, 0, 0] };
    const wide = window.innerWidth >= 900;
    this.layout = this.is2d ? "image" : wide ? "quad" : "axial";
    this._build();
    // cine.js, marks.js (app.js sets them): controls of their own and hooks on the 2D views
    this.attached = (this.extensions || []).map((attach) => attach(this)).filter(Boolean);
    this._bindInput();
    this._startGl();
    await this._loadLevels();
  }

  _defaultTf() {
    const byName = Object.fromEntries(this.tfs.map((t) => [t.name, t]));
    return byName[this.header.modality === "CT" ? "ct-soft-tissue" : "mr-default"] || this.tfs[0] || null;
  }

  // -- DOM ----------------------------------------------------------------------------------
  _build() {
    const r = this.root;
    r.innerHTML = "";
    r.classList.add("viewer");
    const bar = el("div", "toolbar");
    if (!this.is2d) {
      const tabs = el("div", "tabs");
      const names = [["quad", "All"], ["axial", "Axial"], ["coronal", "Coronal"], ["sagittal", "Sagittal"], ["3d", "3D"]];
      if (this.rgb) names.pop(); // the ray-caster draws grey volumes only
      for (const [key, title] of names) {
        const b = button(title, () => this.setLayout(key));
        b.dataset.layout = key;
        tabs.append(b);
      }
      bar.append(tabs);
      this.tabs = tabs;
    }
    if (!this.rgb) {
      const wl = select("Window", [...this.windowPresets.map((p) => [p.name, `${p.name} (${fmt(p.width)}/${fmt(p.level)})`])], (name) => {
        const p = this.windowPresets.find((q) => q.name === name);
        if (p) this.setWindow(p.width, p.level, p.name);
      }, true);
      wl.classList.add("window-select");
      bar.append(wl);
      this.windowSelect = wl.querySelector("select");
      this.windowSelect.value = this.windowPresets.some((p) => p.name === this.window.name) ? this.window.name : "";
    }
    if (!this.is2d && !this.rgb) {
      const m = select("3D", MODES_3D.map((k) => [k, MODE_TITLES[k]]), (k) => this.setMode(k));
      m.classList.add("mode-select");
      this.modeSelect = m.querySelector("select");
      this.modeSelect.value = this.mode3d;
      const t = select("Colours", this.tfs.map((x) => [x.name, x.name]), (k) => {
        this.tf = this.tfs.find((x) => x.name === k) || this.tf;
        this.redraw();
      });
      t.classList.add("tf-select");
      if (this.tf) t.querySelector("select").value = this.tf.name;
      bar.append(m, t);
    }
    bar.append(button("Reset", () => this.reset()));
    // the toolbar is one row that scrolls sideways (style.css): a mouse's wheel scrolls it too
    bar.addEventListener("wheel", (e) => {
      if (e.deltaY && bar.scrollWidth > bar.clientWidth && !e.target.closest("select, input")) {
        bar.scrollLeft += e.deltaY;
        e.preventDefault();
      }
    }, { passive: false });
    if (!this.is2d) bar.append(compareButton(this.api, this.uid)); // compare.js
    const stage = el("div", "stage");
    this.canvas = el("canvas", "gl");
    this.canvas.setAttribute("role", "img"); // its words: _describe()
    this.overlay = el("canvas", "overlay");
    this.status = el("div", "status");
    this.status.setAttribute("role", "status");
    stage.append(this.canvas, this.overlay, this.status);
    this.stage = stage;
    const slider = el("input", "slice-slider");
    slider.type = "range";
    slider.min = 0;
    slider.max = 1000;
    slider.setAttribute("aria-label", "slice");
    slider.addEventListener("input", () => this._sliderMoved());
    this.slider = slider;
    r.append(bar, ...stacksEl(this.header), ...warningsEl(this.header.warnings), stage, slider);
    this._markTabs();
    this.resizeObserver = new ResizeObserver(() => this.redraw());
    this.resizeObserver.observe(stage);
  }

  _markTabs() {
    if (this.tabs) for (const b of this.tabs.children) b.classList.toggle("active", b.dataset.layout === this.layout);
    this.slider.hidden = this.layout === "quad" || this.layout === "3d" || this.layout === "image";
    this._syncSlider();
    this._describe();
  }

  // The picture's text alternative (a canvas says nothing to a screen reader): the series and
  // what the view shows of it, its plane or its 3D mode.
  _describe() {
    const mode = MODE_TITLES[this.mode3d] || this.mode3d;
    const shows = { quad: `axial, coronal, sagittal and 3D (${mode}) views`, "3d": `3D view (${mode})`, image: "image" }[this.layout] || `${this.layout} view`;
    const series = this.header.series_description || this.header.modality || "series";
    this.canvas.setAttribute("aria-label", `${series}: ${shows}`);
  }

  setLayout(key) {
    this.layout = key;
    this._markTabs();
    this.redraw();
  }

  async setMode(mode) {
    this.mode3d = mode;
    if (this.modeSelect) this.modeSelect.value = mode;
    if (this.layout !== "quad") this.layout = "3d";
    this._markTabs();
    try {
      await this._ensureProgram(mode);
      if (this.modeFailed) this._say(""); // the server is back: the error is gone
      this.modeFailed = false;
    } catch (e) {
      this._fail(e);
      this.modeFailed = true;
    }
    // another mode chosen while this one's program was on its way (rapid switching): that
    // one's controls, not these
    if (this.mode3d !== mode || this.destroyed) return;
    for (const x of this.attached || []) if (x.modeChanged) x.modeChanged(mode); // params.js
    this.redraw();
  }

  // A promise of the next picture drawn (after any change made before calling it).
  afterDraw() {
    return new Promise((resolve) => {
      this._waiters = this._waiters || [];
      this._waiters.push(resolve);
      this.redraw(this.interactive);
    });
  }

  setWindow(width, level, name = "custom") {
    this.window = { width, level, name };
    if (this.windowSelect) this.windowSelect.value = this.windowPresets.some((p) => p.name === name) ? name : "";
    for (const x of this.attached || []) if (x.windowChanged) x.windowChanged(); // params.js
    this.redraw();
  }

  reset() {
    this.cursor = [...this.centre];
    this.camera = { azimuth: 0, elevation: 0, zoom: 1, pan: [0, 0] };
    for (const s of Object.values(this.viewState)) Object.assign(s, { zoom: 1, pan: [0, 0, 0] });
    const w = this.header.window;
    this.setWindow(w.width, w.level, w.name || "default");
  }

  // -- loading --------------------------------------------------------------------------------
  _startGl() {
    try {
      this.renderer = new Renderer(this.canvas);
      this.renderer.onGradient = () => this.redraw(); // the gradient texels came (volume.js)
    } catch (e) {
      this._fallback(e);
    }
  }

  // A mode's slab thickness in mm (0: the whole depth); params.js sets this.slabs[mode].
  slabMm(mode) {
    const set = (this.slabs || {})[mode];
    if (set !== undefined) return set;
    return mode === "minip" ? MINIP_SLAB_MM : 0;
  }

  // The program of a mode: its own, or built for a slab (MODE_SLAB) when one is asked for.
  programKey(mode) {
    return this.slabMm(mode) > 0 ? `${mode}+slab` : mode;
  }

  async _ensureProgram(mode) {
    const key = this.programKey(mode);
    if (!this.renderer || this.renderer.programs.has(key)) return;
    const slab = key !== mode ? "&slab=1" : "";
    const narrow = this.renderer.narrow ? "&narrow=1" : ""; // SwiftShader's loops (gl.js)
    const src = await this.api.json(`/api/shaders/raycast?mode=${encodeURIComponent(mode)}${slab}${narrow}`);
    this.modeInfo = this.modeInfo || {};
    this.modeInfo[mode] = this.modeInfo[key] = src;
    try {
      this.renderer.program(key, src);
      if (src.fragment_gradient) this.renderer.program(`${key}+gradient`, { vertex: src.vertex, fragment: src.fragment_gradient });
    } catch (e) {
      this._fallback(e);
    }
  }

  async _loadLevels() {
    const levels = [...(this.header.levels || [])].sort((a, b) => b.level - a.level); // coarse first
    const range = this.header.value_range;
    if (this.renderer) {
      try {
        this.renderer.program("slice", await this.api.json("/api/shaders/slice"));
        if (!this.is2d && !this.rgb) await this._ensureProgram(this.mode3d);
      } catch (e) {
        this._fallback(e);
      }
    }
    if (!this.renderer) {
      this.stage.dataset.level = "0";
      this.redraw();
      return;
    }
    for (const level of levels) {
      if (this.destroyed || !this.renderer) return;
      this._say(level.level > 0 ? "Loading a preview…" : "Loading full resolution…");
      let data;
      try {
        // both levels normalised over the full volume's range: the same window on each
        data = await loadLevel(this.api.fetch, this.header, level, level.level > 0 ? range : null);
      } catch (e) {
        if (!this.destroyed) this._say(`Could not load the images: ${e.message}`, true);
        return;
      }
      // left (back to the library, another series) while the voxels were on their way
      if (this.destroyed || !this.renderer) {
        if (data.release) data.release(); // its worker, keeping q for gradient texels
        return;
      }
      try {
        this.renderer.setVolume(data);
      } catch (e) {
        if (e instanceof GLUnavailable && this.level) {
          this.notes = [`full resolution does not fit this device (${e.message}); showing the preview`];
          break;
        }
        this._fallback(e);
        return;
      }
      // the GPU has the numbers now; keep only the geometry (a CT's float copy is large)
      data.values = data.q = data.rgb = null;
      this.level = data;
      this.valueMin = data.valueMin;
      this.valueMax = data.valueMax;
      this.stage.dataset.level = String(level.level);
      // the order the levels were shown in (preview first): "1 0"
      this.stage.dataset.levelsShown = `${this.stage.dataset.levelsShown || ""} ${level.level}`.trim();
      this.redraw();
    }
    this._say("");
  }

  _fallback(error) {
    if (this.renderer === null && this.fallback) return;
    // left while a program or voxels were on their way: destroy() lost the context on purpose
    if (this.destroyed) return;
    console.warn("ownscan: WebGL2 unavailable, using server frames:", error);
    this.renderer = null;
    this.fallback = true;
    // a canvas that had a WebGL context cannot give a 2D one: a fresh canvas
    const c = el("canvas", "gl");
    this.canvas.replaceWith(c);
    this.canvas = c;
    this._bindCanvas();
    this.stage.dataset.renderer = "server";
    this.notes = ["pictures rendered on the server (this browser's WebGL2 is unavailable)"];
    this.redraw();
  }

  _say(text, error = false) {
    this.status.textContent = escapeControls(text);
    this.status.classList.toggle("error", error);
    this.status.hidden = !text;
  }

  _fail(e) {
    this._say(String(e.message || e), true);
  }

  // -- layout -----------------------------------------------------------------------------------
  // Rectangles of the visible views in CSS pixels: {name: {x, y, w, h}}.
  rects() {
    const W = this.stage.clientWidth, H = this.stage.clientHeight;
    if (this.layout === "quad") {
      const w2 = Math.floor(W / 2), h2 = Math.floor(H / 2);
      return {
        axial: { x: 0, y: 0, w: w2, h: h2 },
        coronal: { x: w2, y: 0, w: W - w2, h: h2 },
        sagittal: { x: 0, y: h2, w: w2, h: H - h2 },
        "3d": { x: w2, y: h2, w: W - w2, h: H - h2 },
      };
    }
    return { [this.layout]: { x: 0, y: 0, w: W, h: H } };
  }

  viewAt(x, y) {
    for (const [name, r] of Object.entries(this.rects())) if (x >= r.x && x < r.x + r.w && y >= r.y && y < r.y + r.h) return [name, r];
    return [null, null];
  }

  // -- 2D view maths (core/viewer/_state.py) ------------------------------------------------------
  mmPerPx(view, w, h) {
    return G.fitMmPerPx(this.original.shape, this.original.affine, this.planes[view], w, h) / this.viewState[view].zoom;
  }

  viewCentre(view) {
    const n = this.planes[view].normal;
    const c = G.add(this.centre, this.viewState[view].pan);
    return G.add(c, G.scale(n, G.dot(this.cursor.map((v, i) => v - c[i]), n)));
  }

  sliceRange(view) {
    const n = this.planes[view].normal;
    const [x, y, z] = G.dimsOf(this.original.shape);
    const proj = [];
    for (const i of [-0.5, x - 0.5]) for (const j of [-0.5, y - 0.5]) for (const k of [-0.5, z - 0.5]) proj.push(G.dot(G.indexToLps(this.original.affine, [i, j, k]), n));
    return [Math.min(...proj), Math.max(...proj)];
  }

  scroll(view, steps) {
    // a clip's frames are its slices (cine.js): the wheel and a swipe step through them
    if (this.is2d) for (const x of this.attached || []) if (x.scroll) x.scroll(steps);
    if (!this.planes[view] || this.is2d) return;
    const n = this.planes[view].normal;
    const step = G.sliceStepMm(this.original.affine, n);
    const [lo, hi] = this.sliceRange(view);
    const pos = G.dot(this.cursor, n);
    const next = Math.min(Math.max(pos + steps * step, lo + step / 2), hi - step / 2);
    this.cursor = G.add(this.cursor, G.scale(n, next - pos));
    this._syncSlider();
    this.redraw();
  }

  sliceIndex(view) {
    const n = this.planes[view].normal;
    const step = G.sliceStepMm(this.original.affine, n);
    const [lo, hi] = this.sliceRange(view);
    return [Math.round((G.dot(this.cursor, n) - lo - step / 2) / step), Math.round((hi - lo) / step)];
  }

  _syncSlider() {
    if (!this.slider || this.slider.hidden || !this.planes[this.layout]) return;
    const [i, n] = this.sliceIndex(this.layout);
    this.slider.max = String(Math.max(0, n - 1));
    this.slider.value = String(i);
    // said in words: the slice of how many (the input's own value counts from 0)
    this.slider.setAttribute("aria-valuetext", `${this.layout} slice ${i + 1} of ${n}`);
  }

  _sliderMoved() {
    const view = this.layout;
    if (!this.planes[view]) return;
    const [i] = this.sliceIndex(view);
    this.scroll(view, Number(this.slider.value) - i);
  }

  windowDrag(dx, dy) {
    let { width, level } = this.window;
    width = Math.max(width * Math.exp(dx / 150), 1e-3);
    level = level + (dy * width) / 300;
    this.setWindow(width, level, "custom");
  }

  zoom(view, factor) {
    const s = view === "3d" ? this.camera : this.viewState[view];
    if (!s) return;
    s.zoom = Math.min(Math.max(s.zoom * factor, 0.1), 50);
    this.redraw();
  }

  pan(view, rect, dx, dy) {
    if (view === "3d") {
      const basis = G.cameraBasis(this.camera);
      const half = G.fitHalfExtent(this.original.shape, this.original.affine, basis, rect.w, rect.h, this.camera.zoom);
      const s = (2 * half[0]) / rect.w;
      this.camera.pan = [this.camera.pan[0] - dx * s, this.camera.pan[1] + dy * s];
    } else if (this.planes[view]) {
      const p = this.planes[view];
      const s = this.mmPerPx(view, rect.w, rect.h);
      const st = this.viewState[view];
      st.pan = st.pan.map((v, i) => v - dx * s * p.right[i] - dy * s * p.down[i]);
    }
    this.redraw();
  }

  rotate(dx, dy) {
    const c = this.camera;
    c.azimuth = ((c.azimuth - dx * 0.4 + 180) % 360 + 360) % 360 - 180;
    c.elevation = Math.min(Math.max(c.elevation + dy * 0.4, -90), 90);
    this.redraw();
  }

  click(view, rect, px, py) {
    if (!this.planes[view] || this.is2d) return;
    this.cursor = G.pixelToLps(px, py, rect.w, rect.h, this.viewCentre(view), this.planes[view], this.mmPerPx(view, rect.w, rect.h));
    // a click beside the volume (the margin of a narrow series) keeps the other planes on
    // their first or last slice, not past it (blank, "slice 0/n")
    for (const other of Object.keys(this.planes)) {
      const n = this.planes[other].normal;
      const step = G.sliceStepMm(this.original.affine, n);
      const [lo, hi] = this.sliceRange(other);
      const pos = G.dot(this.cursor, n);
      this.cursor = G.add(this.cursor, G.scale(n, Math.min(Math.max(pos, lo + step / 2), hi - step / 2) - pos));
    }
    this._syncSlider();
    this.redraw();
  }

  // -- drawing -------------------------------------------------------------------------------------
  redraw(interactive = false) {
    this.interactive = interactive;
    if (this.dirty) return;
    this.dirty = true;
    requestAnimationFrame(() => {
      this.dirty = false;
      if (!this.destroyed) this._draw();
    });
  }

  _sizeCanvas(c) {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(this.stage.clientWidth * dpr));
    const h = Math.max(1, Math.round(this.stage.clientHeight * dpr));
    if (c.width !== w || c.height !== h) {
      c.width = w;
      c.height = h;
    }
    return dpr;
  }

  _draw() {
    const dpr = this._sizeCanvas(this.canvas);
    this._sizeCanvas(this.overlay);
    const rects = this.rects();
    const ctx = this.overlay.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.overlay.width, this.overlay.height);
    ctx.scale(dpr, dpr);
    if (this.renderer) {
      if (!this.level) return;
      this.renderer.clear();
    }
    for (const [name, r] of Object.entries(rects)) {
      const px = { x: Math.round(r.x * dpr), y: Math.round(r.y * dpr), w: Math.max(1, Math.round(r.w * dpr)), h: Math.max(1, Math.round(r.h * dpr)) };
      if (name === "3d") this._draw3d(px, r, ctx);
      else this._draw2d(name, px, r, ctx);
    }
    if (this.layout === "quad") {
      ctx.strokeStyle = "#333";
      ctx.lineWidth = 2;
      for (const r of Object.values(rects)) ctx.strokeRect(r.x, r.y, r.w, r.h);
    }
    ctx.fillStyle = "#ffe600";
    ctx.font = "12px system-ui, sans-serif";
    // wrapped to the stage's width (a phone's is 390 px: a note in one line was cut off)
    const W = this.stage.clientWidth - 12;
    this.notes.flatMap((n) => wrap(ctx, n, W)).forEach((line, i) => ctx.fillText(line, 6, 16 + i * 14));
    this.stage.dataset.drawn = String((Number(this.stage.dataset.drawn) || 0) + 1);
    this.stage.dataset.quality = this.interactive || this.pendingQuick ? "quick" : "full";
    this.pendingQuick = false;
    const waiters = this._waiters || [];
    this._waiters = [];
    for (const w of waiters) w();
  }

  _draw2d(view, px, css, ctx) {
    const plane = this.planes[view];
    const centre = this.viewCentre(view);
    const mm = this.mmPerPx(view, px.w, px.h);
    if (this.renderer) {
      const m = G.pxToTex(this.level.shape, this.level.affine, px.w, px.h, centre, plane, mm);
      // PreparedVolume.window: the grey ramp normalised as the voxels are (colour: unused)
      const norm = (v) => (v - this.valueMin) / (this.valueMax - this.valueMin);
      const win = this.rgb ? [0, 1] : [norm(this.window.level - this.window.width / 2), norm(this.window.level + this.window.width / 2)];
      this.renderer.drawSlice(px, m, win, !!this.header.invert);
    } else {
      this._serverFrame(view, px, css, { mode: "mpr", plane: view === "image" ? "axial" : view, offset: this._offsetAlong(view) });
    }
    const mmCss = this.mmPerPx(view, css.w, css.h);
    // never invented: no letters without an orientation, no bar without a pixel size (#15).
    // A 2D picture's letters and scale words are the server's (`edge_labels`: the desktop's,
    // from Patient Orientation where that is all the file says; its affine is a stand-in)
    const edges = view === "image" ? this.header.edge_labels : null;
    if (edges) labels(ctx, css, edges);
    else if (this.header.orientation_known !== false) labels(ctx, css, {
      right: G.orientationLabel(plane.right), left: G.orientationLabel(plane.right.map((v) => -v)),
      top: G.orientationLabel(plane.down.map((v) => -v)), bottom: G.orientationLabel(plane.down),
    });
    scaleBar(ctx, css, this.header.spacing_known !== false ? mmCss : null, this.header.scale_words || "");
    for (const x of this.attached || []) if (x.draw2d) x.draw2d(ctx, view, css, mmCss);
    if (!this.is2d && this.layout === "quad") {
      // the crosshair: where the other planes cut this one
      const [cx, cy] = G.lpsToPixel(this.cursor, css.w, css.h, this.viewCentre(view), plane, mmCss);
      ctx.save();
      ctx.beginPath();
      ctx.rect(css.x, css.y, css.w, css.h);
      ctx.clip();
      ctx.strokeStyle = "rgba(0, 200, 255, 0.7)";
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(css.x, css.y + cy);
      ctx.lineTo(css.x + css.w, css.y + cy);
      ctx.moveTo(css.x + cx, css.y);
      ctx.lineTo(css.x + cx, css.y + css.h);
      ctx.stroke();
      ctx.restore();
    }
    if (!this.is2d) {
      const [i, n] = this.sliceIndex(view);
      cornerNote(ctx, css, `${view} ${i + 1}/${n}`);
    }
  }

  // slice offset (mm towards the render camera's eye) of the plane through the cursor, for
  // server frames: `ownscan render --mode mpr --plane P --offset MM`
  _offsetAlong(view) {
    const [az, el] = G.CAMERA_PLANES[view] || [0, -90];
    const back = G.column(G.cameraBasis({ azimuth: az, elevation: el }), 2);
    return G.dot(this.cursor.map((v, i) => v - this.centre[i]), back);
  }

  // The uniforms of the 3D view's picture (also what the tests compare with render.png).
  frame3d(w, h, interactive = false) {
    const info = this.modeInfo[this.programKey(this.mode3d)];
    const scene = {
      mode: info, window: this.window3d(info), tf: info.uses_transfer_function ? this.tf : null,
      slabMm: info.slab ? this.slabMm(this.mode3d) : 0, offsetMm: 0,
      parameters: this.parameters[this.mode3d] || {},
      valueMin: this.valueMin, valueMax: this.valueMax, invert: !!this.header.invert,
    };
    const f = G.frameFor(this.level, this.original, scene, this.camera, w, h, interactive);
    // empty-space skipping as the desktop's frame_for sets it up (the same picture, faster)
    const skip = info.skip;
    if (skip && !this.level.block) throw new GLUnavailable("no skip tables for this volume");
    if (f.lut) f.visible = visibleRange(f.lut);
    if ((skip === "opacity" && f.lut) || skip === "threshold") {
      // a threshold compares with one of the mode's parameters (iso: iso_value), normalised
      const threshold = skip === "threshold" ? f.parameters[info.skip_parameter] : null;
      let key = `${skip}:`;
      if (skip === "opacity") for (let e = 0; e < 256; e++) key += f.lut[e * 4 + 3] > 0 ? "1" : "0";
      else key += `${info.skip_parameter}=${threshold}`;
      const cache = this.level.skipCache;
      if (!cache || cache.key !== key) this.level.skipCache = { key, ...skipTables(this.level.block, skip, f.lut, threshold) };
      f.skipDistance = this.level.skipCache.distance;
    } else if (skip === "maximum" || skip === "minimum") {
      f.skipBound = skip;
    }
    return f;
  }

  _draw3d(px, css, ctx) {
    if (this.renderer) {
      const key = this.programKey(this.mode3d);
      if (!this.renderer.programs.has(key)) {
        this._ensureProgram(this.mode3d).then(() => this.redraw(), (e) => this._fail(e));
        return;
      }
      // while the gradient texels are on their way (volume.js), a shaded mode's quick pass
      // (26 fetches a gradient); the still frame comes when they arrive (onGradient)
      const quick = this.interactive || this.renderer.gradientPending(key);
      this.pendingQuick = quick && !this.interactive; // data-quality says "quick" meanwhile
      const w = quick ? Math.max(1, px.w >> 1) : px.w, h = quick ? Math.max(1, px.h >> 1) : px.h;
      const f = this.frame3d(w, h, quick);
      this.renderer.drawRaycast(key, f, px, { shade: SHADE, shadeGain: SHADE_GAIN });
    } else {
      // no window while none is chosen: the server's render picks the mode's own, as above
      const chosen = this.windowChosen();
      this._serverFrame("3d", px, css, { window: chosen ? this.window.width : null, level: chosen ? this.window.level : null, mode: this.mode3d, slab: this.mode3d === "minip" ? this.slabMm("minip") : undefined, iso: (this.parameters[this.mode3d] || {}).iso_value, azimuth: this.camera.azimuth, elevation: this.camera.elevation, zoom: this.camera.zoom, preset: this.tf && this._modeUsesTf() ? this.tf.name : undefined });
    }
    const w3 = this.window3d();
    if (w3 !== this.window) {
      // the 3D view's own window, said on it (the toolbar's is the 2D views'), where a 2D
      // view says its slice
      cornerNote(ctx, css, `window: ${w3.name}`);
    }
    const basis = G.cameraBasis(this.camera);
    const right = G.column(basis, 0), up = G.column(basis, 1);
    labels(ctx, css, {
      right: G.orientationLabel(right), left: G.orientationLabel(right.map((v) => -v)),
      top: G.orientationLabel(up), bottom: G.orientationLabel(up.map((v) => -v)),
    });
    const half = G.fitHalfExtent(this.original.shape, this.original.affine, basis, css.w, css.h, this.camera.zoom);
    scaleBar(ctx, css, (2 * half[0]) / css.w);
  }

  // Scene.effective_window: the chosen window, or, while none is chosen (the series' default
  // is shown), the mode's automatic one (a CT's X-ray through the soft-tissue window is black;
  // `ownscan render --mode xray` without --window draws the average projection's window)
  window3d(info = this.modeInfo && this.modeInfo[this.programKey(this.mode3d)]) {
    const how = info && info.auto_window;
    const auto = (this.header.projection_windows || {})[how];
    if (this.windowChosen() || !auto || (how === "maximum" && this.header.modality === "CT")) return this.window;
    return auto;
  }

  // whether a window other than the series' default is shown (a preset, a drag)
  windowChosen() {
    const d = this.header.window;
    return this.window.name !== (d.name || "default") || this.window.width !== d.width || this.window.level !== d.level;
  }

  _modeUsesTf() {
    return this.mode3d === "dvr";
  }

  // the fallback: a frame rendered on the server, drawn when it arrives
  _serverFrame(view, px, css, params) {
    const q = new URLSearchParams({ width: px.w, height: px.h, window: this.window.width, level: this.window.level });
    for (const [k, v] of Object.entries(params)) {
      if (v === null) q.delete(k);
      else if (v !== undefined) q.set(k, v);
    }
    if (this.volumeIndex) q.set("volume", this.volumeIndex); // a 4D series' volume (cine.js)
    // the renderer fits the volume with a 4 % margin, the 2D views with 2 %: this zoom makes
    // the server's frame the picture the overlay (crosshair, scale bar) is drawn for
    if (view !== "3d" && this.viewState[view]) q.set("zoom", (this.viewState[view].zoom * 1.04) / 1.02);
    const url = `/api/series/${encodeURIComponent(this.uid)}/render.png?${q}`;
    this._frames = this._frames || {};
    const key = view;
    const img = new Image();
    this._frames[key] = img;
    img.onload = () => {
      if (this._frames[key] !== img || this.destroyed) return;
      const c = this.canvas.getContext("2d");
      c.drawImage(img, px.x, px.y, px.w, px.h);
      this.stage.dataset.level = "0";
    };
    img.onerror = () => this._say("The server could not draw this view.", true);
    img.src = url;
  }

  // -- input ------------------------------------------------------------------------------------
  _bindInput() {
    this._bindCanvas();
    this.keyHandler = (e) => this._key(e);
    window.addEventListener("keydown", this.keyHandler);
  }

  _bindCanvas() {
    const c = this.overlay; // on top of the GL canvas: it receives the events
    if (c.dataset.bound) return;
    c.dataset.bound = "1";
    c.style.touchAction = "none";
    c.addEventListener("pointerdown", (e) => this._down(e));
    c.addEventListener("pointermove", (e) => this._move(e));
    c.addEventListener("pointerup", (e) => this._up(e));
    c.addEventListener("pointercancel", (e) => this._up(e, true));
    c.addEventListener("wheel", (e) => this._wheel(e), { passive: false });
    c.addEventListener("contextmenu", (e) => e.preventDefault());
  }

  _local(e) {
    const b = this.overlay.getBoundingClientRect();
    return [e.clientX - b.left, e.clientY - b.top];
  }

  _down(e) {
    this.overlay.setPointerCapture(e.pointerId);
    const [x, y] = this._local(e);
    const [view, rect] = this.viewAt(x, y);
    if (!view) return;
    this.gestures.set(e.pointerId, { x, y, x0: x, y0: y, t0: performance.now(), button: e.button, shift: e.shiftKey, view, rect, moved: false, window: { ...this.window } });
    if (this.gestures.size === 2) {
      const [a, b] = [...this.gestures.values()];
      this.pinch = { dist: Math.hypot(a.x - b.x, a.y - b.y), mid: [(a.x + b.x) / 2, (a.y + b.y) / 2], view: a.view, rect: a.rect };
      a.pinched = b.pinched = true;
    }
  }

  _move(e) {
    const g = this.gestures.get(e.pointerId);
    if (!g) return;
    const [x, y] = this._local(e);
    const dx = x - g.x, dy = y - g.y;
    if (!g.moved && Math.hypot(x - g.x0, y - g.y0) < DRAG_THRESHOLD) return;
    g.moved = true;
    g.x = x;
    g.y = y;
    if (this.pinch && this.gestures.size >= 2) {
      const [a, b] = [...this.gestures.values()];
      const dist = Math.hypot(a.x - b.x, a.y - b.y);
      const mid = [(a.x + b.x) / 2, (a.y + b.y) / 2];
      const p = this.pinch;
      if (p.dist > 0 && dist > 0) this.zoom(p.view, dist / p.dist);
      this.pan(p.view, p.rect, mid[0] - p.mid[0], mid[1] - p.mid[1]);
      p.dist = dist;
      p.mid = mid;
      this.redraw(true);
      return;
    }
    if (g.pinched) return; // the finger left after a pinch: no drag
    const view = g.view;
    if (g.button === 1 || (g.button === 0 && g.shift)) this.pan(view, g.rect, dx, dy);
    else if (g.button === 2) this.zoom(view, Math.exp(-dy / 200));
    else if (view === "3d") this.rotate(dx, dy);
    else if (!this.rgb) this.windowDrag(dx, dy);
    this.redraw(view === "3d");
  }

  _up(e, cancelled = false) {
    const g = this.gestures.get(e.pointerId);
    this.gestures.delete(e.pointerId);
    if (this.gestures.size < 2) this.pinch = null;
    if (!g || cancelled) {
      this.redraw();
      return;
    }
    const dt = performance.now() - g.t0;
    const dy = g.y - g.y0, dx = g.x - g.x0;
    if (!g.moved && g.button === 0 && !g.pinched) {
      this.click(g.view, g.rect, g.x - g.rect.x, g.y - g.rect.y);
    } else if (e.pointerType === "touch" && !g.pinched && g.view !== "3d" && dt < 350 && Math.abs(dy) > 40 && Math.abs(dy) > 2 * Math.abs(dx)) {
      // a swipe: scroll slices instead of the window change the drag made on the way
      this.setWindow(g.window.width, g.window.level, g.window.name); // its menu too
      const steps = -Math.sign(dy) * Math.max(1, Math.round(Math.abs(dy) / 20));
      this.scroll(g.view, steps);
    }
    this.redraw();
  }

  _wheel(e) {
    e.preventDefault();
    const [x, y] = this._local(e);
    const [view] = this.viewAt(x, y);
    if (!view) return;
    const dir = e.deltaY < 0 ? 1 : -1;
    if (view === "3d" || e.ctrlKey) this.zoom(view, Math.exp(-e.deltaY / 500));
    else this.scroll(view, dir * (e.shiftKey ? 10 : 1));
  }

  _key(e) {
    if (e.target && /INPUT|SELECT|TEXTAREA/.test(e.target.tagName)) return;
    const view = this.layout === "quad" ? "axial" : this.layout;
    const actions = {
      ArrowUp: () => this.scroll(view, 1), ArrowDown: () => this.scroll(view, -1),
      PageUp: () => this.scroll(view, 10), PageDown: () => this.scroll(view, -10),
      "+": () => this.zoom(view, 1.25), "-": () => this.zoom(view, 0.8),
      r: () => this.reset(),
      ArrowLeft: () => view === "3d" && this.rotate(10, 0), ArrowRight: () => view === "3d" && this.rotate(-10, 0),
    };
    if (actions[e.key]) {
      e.preventDefault();
      actions[e.key]();
    }
  }

  destroy() {
    this.destroyed = true;
    for (const x of this.attached || []) if (x.destroy) x.destroy();
    window.removeEventListener("keydown", this.keyHandler);
    if (this.resizeObserver) this.resizeObserver.disconnect();
    if (this.renderer) {
      this.renderer.dropVolume(); // and its worker (gl.js)
      const lose = this.renderer.gl.getExtension("WEBGL_lose_context");
      if (lose) lose.loseContext();
    }
  }
}

// -- small DOM helpers -------------------------------------------------------------------------
export function el(tag, cls) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  return e;
}

function button(text, onClick) {
  const b = el("button");
  b.type = "button";
  b.textContent = text;
  b.addEventListener("click", onClick);
  return b;
}

function select(label, options, onChange, custom = false) {
  const wrap = el("label", "select");
  const span = el("span");
  span.textContent = label;
  const s = el("select");
  s.setAttribute("aria-label", label); // its title is hidden on a phone (style.css)
  if (custom) {
    // what a drag makes: a window that is none of the presets
    const none = el("option");
    none.value = "";
    none.textContent = "custom";
    s.append(none);
  }
  for (const [value, text] of options) {
    const o = el("option");
    o.value = value;
    o.textContent = escapeControls(text); // preset names come from files
    s.append(o);
  }
  s.addEventListener("change", () => onChange(s.value));
  wrap.append(span, s);
  return wrap;
}

// A series of several stacks (core/serve/_stacks.py): which stack this is, of how many, and
// the way to each other one (never merged, never left out)
function stacksEl(h) {
  if (!h.stacks || h.stacks.length < 2) return [];
  const nav = el("nav", "stacks");
  nav.setAttribute("aria-label", "stacks of this series");
  for (const s of h.stacks) {
    const a = el("a", "stack");
    a.href = `#/series/${encodeURIComponent(s.id)}`;
    a.textContent = escapeControls(s.label);
    if (h.stack && s.id === h.stack.id) {
      a.classList.add("active");
      a.setAttribute("aria-current", "page");
    }
    nav.append(a);
  }
  return [nav];
}

// What the user must know about the series (the header's warnings: a slice missing and
// resampled, no pixel size, ...), as the desktop shows them in orange: the first in the summary
// line, all of them when opened. Text from files: escaped, never HTML.
function warningsEl(warnings) {
  if (!warnings || !warnings.length) return [];
  const box = el("details", "warnings");
  const more = warnings.length > 1 ? ` (+${warnings.length - 1} more)` : "";
  const summary = el("summary");
  summary.textContent = escapeControls(`Warning: ${warnings[0]}${more}`);
  const list = el("ul");
  for (const w of warnings) {
    const li = el("li");
    li.textContent = escapeControls(w);
    list.append(li);
  }
  box.append(summary, list);
  // they appear after the page loaded: announced (a details may take no role of its own)
  const alert = el("div");
  alert.setAttribute("role", "alert");
  alert.append(box);
  return [alert];
}

// `text` in lines no wider than `width` pixels of ctx's font, broken between words
function wrap(ctx, text, width) {
  const lines = [];
  let line = "";
  for (const word of text.split(" ")) {
    const next = line ? `${line} ${word}` : word;
    if (line && ctx.measureText(next).width > width) {
      lines.push(line);
      line = word;
    } else line = next;
  }
  return line ? [...lines, line] : lines;
}


// the size of a view's orientation letters and their margin, by the view's size (labels(),
// scaleBar() and cornerNote() lay their text out around them)
function letterSize(r) {
  const size = Math.max(10, Math.floor(Math.min(r.w, r.h) / 28));
  return { size, pad: Math.max(3, Math.floor(size / 3)) };
}

// the view's note at its bottom right (the slice, the 3D view's own window), right-aligned.
// Where it would reach the bottom letter (a phone's 390 px view and "window: auto (maximum
// projection)" did: "winIow"), it goes one line up, above the letters' line, so both are read.
function cornerNote(ctx, r, text) {
  ctx.save();
  ctx.fillStyle = "#ddd";
  ctx.font = "12px system-ui, sans-serif";
  ctx.textAlign = "right";
  const { size, pad } = letterSize(r); // labels()' letters
  const right = r.x + r.w - 6;
  // the bottom letter takes the middle: at most two letters of `size` (e.g. "IR"), and a gap
  const clear = ctx.measureText(text).width <= right - (r.x + r.w / 2 + size + pad);
  ctx.fillText(text, right, r.y + r.h - 8 - (clear ? 0 : size + pad));
  ctx.restore();
}

// orientation labels at the middle of the four edges (core/render/_annotate.py's layout)
function labels(ctx, r, text) {
  const { size, pad } = letterSize(r);
  ctx.save();
  ctx.font = `bold ${size}px system-ui, sans-serif`;
  ctx.fillStyle = "#ffe600";
  ctx.strokeStyle = "#000";
  ctx.lineWidth = 2;
  const put = (t, x, y, align, base) => {
    ctx.textAlign = align;
    ctx.textBaseline = base;
    ctx.strokeText(t, x, y);
    ctx.fillText(t, x, y);
  };
  if (text.top) put(text.top, r.x + r.w / 2, r.y + pad, "center", "top");
  if (text.bottom) put(text.bottom, r.x + r.w / 2, r.y + r.h - pad, "center", "bottom");
  if (text.left) put(text.left, r.x + pad, r.y + r.h / 2, "left", "middle");
  if (text.right) put(text.right, r.x + r.w - pad, r.y + r.h / 2, "right", "middle");
  ctx.restore();
}

// a 1-2-5 scale bar, a quarter of the width at most, bottom left (as `ownscan render --annotate`);
// `words` (the header's scale_words: "at detector", ...) follow its length, or stand alone
// where mmPerPx is null (no pixel size: no bar)
function scaleBar(ctx, r, mmPerPx, words = "") {
  const { size, pad } = letterSize(r);
  if (mmPerPx === null) {
    if (!words) return;
    ctx.save();
    ctx.fillStyle = "#fff";
    ctx.font = `${size}px system-ui, sans-serif`;
    ctx.textBaseline = "middle";
    ctx.fillText(words, r.x + 2 * pad + size, r.y + r.h - 2 * pad - size);
    ctx.restore();
    return;
  }
  const lengthMm = G.niceLength(0.25 * r.w * mmPerPx);
  const lengthPx = lengthMm / mmPerPx;
  const x0 = r.x + 2 * pad + size, y0 = r.y + r.h - 2 * pad - size;
  ctx.save();
  ctx.strokeStyle = "#fff";
  ctx.fillStyle = "#fff";
  ctx.lineWidth = 2;
  ctx.beginPath();
  ctx.moveTo(x0, y0);
  ctx.lineTo(x0 + lengthPx, y0);
  for (const x of [x0, x0 + lengthPx]) {
    ctx.moveTo(x, y0 - pad);
    ctx.lineTo(x, y0 + pad);
  }
  ctx.stroke();
  ctx.font = `${size}px system-ui, sans-serif`;
  ctx.textAlign = "center";
  ctx.textBaseline = "bottom";
  const length = lengthMm < 10 ? `${lengthMm} mm` : `${lengthMm / 10} cm`;
  if (words) {
    ctx.textAlign = "left"; // a longer text: from the bar's left end
    ctx.fillText(`${length} ${words}`, x0, y0 - pad - 1);
  } else ctx.fillText(length, x0 + lengthPx / 2, y0 - pad - 1);
  ctx.restore();
}
