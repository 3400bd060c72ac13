// Compare a series with a prior (docs/SERVE_PAGE.md, "Comparing"): the "Compare…" button of
// the viewer lists the library's proposed priors (best first) and every other series
// (GET /api/series/UID/priors); #/compare/CURRENT/PRIOR shows PRIOR | CURRENT [| difference,
// flicker or overlay] for one plane. The server registers the pair once (POST /api/compare/...,
// kept in the library) and draws each pane as `ownscan compare -o` draws its panels: the
// current's plane, the prior sampled through the registration. So one pixel is one point of the
// current's patient space in every pane: the crosshair (a point in the current's LPS mm), the
// slice (its coordinate along the plane's axis), zoom, pan and window are one state for all.
// "Linked" off gives the prior's pane a state of its own (its crosshair, slice, zoom, pan and
// window, still on the current's grid through the registration); on again, the prior is back at
// the current's point through the transform. The 3D tab shows the prior and the current drawn by
// the server's renderer (render.png); one camera: the prior's is the current's turned by the
// registration on the server (ownscan.core.compare.linked_camera), so dragging either turns both
// (unlinked, the prior's own camera, in the current's space, is turned the same way).

import { orientationLabel } from "./geometry.js";
import { escapeControls, formatValue } from "./text.js";

const PANE_TITLES = { prior: "PRIOR", current: "CURRENT", difference: "CURRENT − PRIOR", overlay: "OVERLAY", flicker: "FLICKER" };
const MODES = [["side-by-side", "Side by side"], ["difference", "Difference"], ["flicker", "Flicker"], ["overlay", "Overlay"]];
const FLICKER_MS = 600;
const DRAG_THRESHOLD = 4;
const MODES_3D = ["dvr", "mip", "minip", "xray", "iso"];
const WINDOWED_3D = new Set(["mip", "minip", "xray"]); // the others take the preset's colours
const MAX_3D = 640; // the long side of a 3D frame (the server draws it)

// The viewing state one pane acts on: the shared one, or the prior's own while unlinked.
function copyState(s) {
  return { cursor: [...s.cursor], zoom: s.zoom, pan: [...s.pan], window: { ...s.window }, camera: { ...s.camera } };
}

function el(tag, cls, content) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (content !== undefined) e.textContent = escapeControls(content); // text from files
  return e;
}

// A <select> of [value, text] pairs, and a ticked checkbox with its label.
function select(cls, options) {
  const s = el("select", cls);
  for (const [k, t] of options) {
    const o = el("option", "", t);
    o.value = k;
    s.append(o);
  }
  return s;
}

function checkbox(cls, text, onChange) {
  const label = el("label", "select");
  const box = el("input");
  box.type = "checkbox";
  box.checked = true;
  box.className = cls;
  box.addEventListener("change", () => onChange(box.checked));
  label.append(box, el("span", "", text));
  return label;
}

function fmt(v, digits = 1) {
  return Number(v).toFixed(digits);
}

// The viewer's toolbar button: the list of series to compare with, in a panel under it.
export function compareButton(api, uid) {
  const wrap = el("span", "compare-menu");
  const b = el("button", "compare-button", "Compare…");
  b.type = "button";
  const panel = el("div", "compare-list");
  panel.hidden = true;
  b.addEventListener("click", async () => {
    if (!panel.hidden) {
      panel.hidden = true;
      return;
    }
    panel.hidden = false;
    // under the button, within the window (the list is fixed: the toolbar scrolls sideways);
    // placed again once filled, as its width is then the choices' (wider than "Finding
    // priors…": on a phone it ran past the screen's right edge)
    const place = () => {
      const r = b.getBoundingClientRect();
      panel.style.top = `${r.bottom + 2}px`;
      panel.style.left = "4px"; // measured with the whole screen's width to take (a fixed box
      const w = panel.offsetWidth; // shrinks to the room right of its left edge)
      panel.style.left = `${Math.max(4, Math.min(r.left, document.documentElement.clientWidth - w - 4))}px`;
    };
    panel.replaceChildren(el("p", "meta", "Finding priors…"));
    place();
    try {
      const data = await api.json(`/api/series/${encodeURIComponent(uid)}/priors`);
      fillList(panel, uid, data);
    } catch (e) {
      panel.replaceChildren(el("p", "error", `Could not list the series: ${e.message}`));
    }
    place();
  });
  wrap.append(b, panel);
  return wrap;
}

function fillList(panel, uid, data) {
  panel.replaceChildren();
  const section = (title, items) => {
    if (!items.length) return;
    panel.append(el("p", "meta", title));
    for (const it of items) {
      const a = el("a", "compare-choice");
      a.dataset.uid = it.series_uid;
      // a stack of a series of several says which (the one comparable with this view's)
      const line = [it.study_date, it.modality, it.description, it.stack].filter(Boolean).join("  ");
      a.textContent = escapeControls(it.same_patient ? line : `${line}  [different patient]`);
      if (it.reasons) a.title = escapeControls(`score ${it.score}: ${it.reasons.join("; ")}`);
      const target = `#/compare/${encodeURIComponent(uid)}/${encodeURIComponent(it.series_uid)}`;
      if (it.same_patient) {
        a.href = target;
      } else {
        // refused: say why, and compare only on a second, explicit click
        a.href = "#";
        a.addEventListener("click", (e) => {
          e.preventDefault();
          const why = el("p", "error refusal", `Not the same patient: ${it.patient_differences.join("; ")}. `);
          const force = el("a", "force", "Compare anyway");
          force.href = `${target}?force=1`;
          why.append(force);
          a.after(why);
        }, { once: true });
      }
      panel.append(a);
    }
  };
  section("Proposed priors (same patient, modality, earlier), best first", data.proposed);
  section("Other series", data.others);
  if (!data.proposed.length && !data.others.length) panel.append(el("p", "meta", "No other series in the library."));
}

export class CompareView {
  // root: the element to build into; api: app.js's fetch helpers
  constructor(root, api, currentUid, priorUid, force = false) {
    this.root = root;
    this.api = api;
    this.current = currentUid;
    this.prior = priorUid;
    this.force = force;
    this.register = true;
    this.mode = "side-by-side";
    this.plane = "axial";
    this.zoom = 1;
    this.pan = [0, 0]; // CSS pixels, the same for every pane
    this.camera = { azimuth: 0, elevation: 0, zoom: 1 }; // the 3D panes' one camera
    this.mode3d = "dvr";
    this.linked = true;
    this.own = null; // the prior's own state while unlinked (copyState)
    this.gestures = new Map();
    this.destroyed = false;
    this.loading = 0;
  }

  async open() {
    await this._register();
    this.window = { ...this.info.window };
    const c = this.info.planes;
    // the crosshair starts at the middle of the current series
    this.cursor = [0, 1, 2].map((a) => {
      const p = c[["sagittal", "coronal", "axial"][a]];
      return (p.range[0] + p.range[1]) / 2;
    });
    this._build();
    this._timer = setInterval(() => this._flicker(), FLICKER_MS);
    // the panes' size decides the pictures' (square pixels): follow it
    this._resize = new ResizeObserver(() => this.update());
    this._resize.observe(this.panes);
    this.update();
  }

  destroy() {
    this.destroyed = true;
    clearInterval(this._timer);
    this._resize.disconnect();
  }

  async _register() {
    const url = `/api/compare/${encodeURIComponent(this.prior)}/${encodeURIComponent(this.current)}`;
    this.info = await this.api.post(url, { register: this.register, force: this.force });
  }

  // -- DOM ----------------------------------------------------------------------------------
  _build() {
    const r = this.root;
    r.innerHTML = "";
    r.classList.add("viewer", "compare");
    const bar = el("div", "toolbar");
    const tabs = el("div", "tabs");
    for (const p of ["axial", "coronal", "sagittal", "3d"]) {
      const b = el("button", "", p === "3d" ? "3D" : p[0].toUpperCase() + p.slice(1));
      b.type = "button";
      b.dataset.plane = p;
      b.addEventListener("click", () => { this.plane = p; this.update(); });
      tabs.append(b);
    }
    const mode = select("compare-mode", MODES);
    mode.setAttribute("aria-label", "Comparison");
    mode.addEventListener("change", () => { this.mode = mode.value; this.update(); });
    const reg = checkbox("compare-register", "registration (off: scanner coordinates)", async (on) => {
      this.register = on;
      await this._register();
      this.update();
    });
    const mode3d = select("compare-mode3d", MODES_3D.map((k) => [k, k.toUpperCase()]));
    mode3d.setAttribute("aria-label", "3D mode");
    mode3d.addEventListener("change", () => { this.mode3d = mode3d.value; this.update(); });
    const link = checkbox("compare-linked", "linked (off: the prior keeps its own slice, zoom, pan, window, 3D angle)", (on) => this.setLinked(on));
    const reset = el("button", "", "Reset");
    reset.type = "button";
    reset.addEventListener("click", () => {
      this.zoom = 1;
      this.pan = [0, 0];
      this.window = { ...this.info.window };
      this.camera = { azimuth: 0, elevation: 0, zoom: 1 };
      if (this.own) this.own = copyState(this);
      this.update();
    });
    bar.append(tabs, mode, mode3d, link, reg, reset);
    this.mode3dSelect = mode3d;
    this.tabs = tabs;
    this.banners = el("div", "compare-banners");
    this.banners.setAttribute("role", "alert"); // different patients, a poor registration: said
    this.panes = el("div", "compare-panes");
    this.details = el("div", "compare-details meta");
    r.append(bar, this.banners, this.panes, this.details);
    if (this.onToolbar) this.onToolbar(bar); // app.js: the back link joins the toolbar's row
    this._bindInput();
  }

  _paneNames() {
    if (this.plane === "3d" || this.mode === "side-by-side") return ["prior", "current"];
    return ["prior", "current", this.mode];
  }

  // The state a pane shows and its input acts on: the prior's own while unlinked, else the one.
  _state(name) {
    return name === "prior" && !this.linked ? this.own : this;
  }

  // Unlink: the prior starts where the linked panes were. Link: the prior shows the current's
  // point through the transform again (its pane is the current's plane sampled at M p).
  setLinked(on) {
    if (on === this.linked) return;
    this.linked = on;
    this.own = on ? null : copyState(this);
    this.update();
  }

  _geometry(st = this) {
    const g = this.info.planes[this.plane];
    const corner = [...g.corner];
    corner[g.axis] = st.cursor[g.axis];
    return { ...g, corner };
  }

  _url(which, st = this) {
    const q = new URLSearchParams({
      which,
      plane: `${this.plane}:${st.cursor[this._geometry(st).axis]}`,
      width: String(st.window.width),
      level: String(st.window.level),
      register: this.register ? "1" : "0",
      force: this.force ? "1" : "0",
    });
    return `/api/compare/${encodeURIComponent(this.prior)}/${encodeURIComponent(this.current)}/pane.png?${q}`;
  }

  // A 3D frame of `size` pixels. The server turns the prior's camera by the registration; its
  // own camera while unlinked is, like its own slice, one of the current's space (so unlinking
  // changes nothing on the screen until the prior's pane is turned).
  _url3d(which, st, size) {
    const c = st.camera;
    const q = new URLSearchParams({
      mode: this.mode3d,
      azimuth: c.azimuth.toFixed(2),
      elevation: c.elevation.toFixed(2),
      zoom: c.zoom.toFixed(4),
      width: String(size[0]),
      height: String(size[1]),
    });
    if (WINDOWED_3D.has(this.mode3d)) {
      // on the current's scale; the server maps the prior's through the intensity match
      q.set("window", st.window.width.toFixed(3));
      q.set("level", st.window.level.toFixed(3));
    }
    q.set("which", which);
    q.set("register", this.register ? "1" : "0");
    q.set("force", this.force ? "1" : "0");
    return `/api/compare/${encodeURIComponent(this.prior)}/${encodeURIComponent(this.current)}/render.png?${q}`;
  }

  // Rebuild the panes when their set changed, then point every image at the current state.
  update() {
    if (this.destroyed) return;
    for (const b of this.tabs.children) b.classList.toggle("active", b.dataset.plane === this.plane);
    this.mode3dSelect.hidden = this.plane !== "3d";
    this._details(); // first: its text takes the room the panes do not get
    const names = this._paneNames();
    if (this.plane === "3d") {
      this._update3d(names);
      return;
    }
    if (this.panes.dataset.names !== names.join(",")) {
      this.panes.replaceChildren();
      this.paneEls = {};
      for (const name of names) {
        const pane = el("div", "compare-pane");
        pane.dataset.pane = name;
        const inner = el("div", "compare-inner");
        const imgs = name === "flicker" ? ["prior", "current"] : [name];
        for (const which of imgs) {
          const img = el("img");
          img.alt = "";
          img.dataset.which = which;
          img.draggable = false;
          inner.append(img);
        }
        const h = el("div", "cross-h");
        const v = el("div", "cross-v");
        inner.append(h, v);
        const title = el("div", "compare-title");
        // the orientation letters of the plane, as the desktop's compare panes have them
        const edges = {};
        for (const side of ["left", "right", "top", "bottom"]) edges[side] = el("span", `compare-edge edge-${side}`);
        pane.append(inner, ...Object.values(edges), title);
        this.panes.append(pane);
        this.paneEls[name] = { pane, inner, title, h, v, edges };
      }
      this.panes.dataset.names = names.join(",");
    }
    const i = this.info;
    for (const name of names) {
      const p = this.paneEls[name];
      const st = this._state(name);
      const g = this._geometry(st);
      const pos = st.cursor[g.axis];
      p.h.hidden = p.v.hidden = false;
      for (const img of p.inner.querySelectorAll("img")) this._load(img, this._url(img.dataset.which, st));
      const series = name === "prior" ? i.prior : i.current;
      let title = `${PANE_TITLES[name]}  ${name === "prior" || name === "current" ? `${series.study_date}  ${escapeControls(series.description || "")}${series.stack ? `  ${series.stack}` : ""}` : ""}`;
      if (name === "difference") title += ` red +, blue −, full at ${fmt(i.difference_full_scale, 0)} ${i.difference_units}`;
      if (name === "overlay") title += " current magenta, prior green";
      if (name === "prior" && !this.linked) title += " [unlinked]";
      p.title.textContent = `${title}\n${this.plane} ${"xyz"[g.axis]} = ${fmt(pos)} mm (current's coordinates)  W ${formatValue(st.window.width)} L ${formatValue(st.window.level)}`;
      // every pane is the current's plane (the prior sampled on it): the current's letters,
      // the top one under the title
      const minus = (u) => u.map((c) => -c);
      const letters = { left: minus(g.right), right: g.right, top: minus(g.down), bottom: g.down };
      for (const [side, u] of Object.entries(letters)) p.edges[side].textContent = orientationLabel(u);
      p.edges.top.style.top = `${p.title.offsetTop + p.title.offsetHeight + 2}px`;
      p.inner.style.transform = `translate(calc(-50% + ${st.pan[0]}px), calc(-50% + ${st.pan[1]}px)) scale(${st.zoom})`;
      // the picture fits its pane with square pixels (never stretched)
      const fit = Math.min(p.pane.clientWidth / g.size[0], p.pane.clientHeight / g.size[1]);
      p.inner.style.width = `${g.size[0] * fit}px`;
      p.inner.style.height = `${g.size[1] * fit}px`;
      // the crosshair: the cursor's pixel on this plane, as a fraction of the picture
      const d = [0, 1, 2].map((a) => st.cursor[a] - g.corner[a]);
      const col = (d[0] * g.right[0] + d[1] * g.right[1] + d[2] * g.right[2]) / g.pixel_mm;
      const row = (d[0] * g.down[0] + d[1] * g.down[1] + d[2] * g.down[2]) / g.pixel_mm;
      p.h.style.top = `${((row + 0.5) / g.size[1]) * 100}%`;
      p.v.style.left = `${((col + 0.5) / g.size[0]) * 100}%`;
    }
    this._flicker(true);
    this._data();
  }

  _data() {
    const r = this.root.dataset;
    r.cursor = this.cursor.map((v) => v.toFixed(3)).join(",");
    r.mode = this.mode;
    r.plane = this.plane;
    r.linked = String(this.linked);
    r.camera = [this.camera.azimuth, this.camera.elevation, this.camera.zoom].map((v) => v.toFixed(2)).join(",");
  }

  _load(img, src) {
    if (img.getAttribute("src") === src) return;
    this.loading += 1;
    const done = () => { this.loading -= 1; this._status(); };
    img.addEventListener("load", done, { once: true });
    img.addEventListener("error", done, { once: true });
    img.src = src;
  }

  // The 3D pair: each pane one server frame of the pane's size (so one frame pixel is one
  // screen pixel and the two panes' pixels are the same mm), panned by CSS like the 2D panes.
  _update3d(names) {
    const i = this.info;
    for (const name of names) {
      const p = this.paneEls[name];
      const st = this._state(name);
      p.h.hidden = p.v.hidden = true;
      for (const e of Object.values(p.edges)) e.textContent = ""; // a 2D plane's letters (the desktop's 3D panes have none)
      const k = Math.min(1, MAX_3D / Math.max(p.pane.clientWidth, p.pane.clientHeight, 1));
      const size = [Math.max(8, Math.round(p.pane.clientWidth * k)), Math.max(8, Math.round(p.pane.clientHeight * k))];
      for (const img of p.inner.querySelectorAll("img")) this._load(img, this._url3d(name, st, size));
      p.inner.style.width = `${p.pane.clientWidth}px`;
      p.inner.style.height = `${p.pane.clientHeight}px`;
      p.inner.style.transform = `translate(calc(-50% + ${st.pan[0]}px), calc(-50% + ${st.pan[1]}px))`;
      const series = name === "prior" ? i.prior : i.current;
      const c = st.camera;
      const how = name === "current" ? "" : `  (camera turned by the registration)${this.linked ? "" : " [unlinked]"}`;
      p.title.textContent = `${PANE_TITLES[name]}  ${series.study_date}  ${escapeControls(series.description || "")}${series.stack ? `  ${series.stack}` : ""}${how}\n3D ${this.mode3d.toUpperCase()}  azimuth ${fmt(c.azimuth)}° elevation ${fmt(c.elevation)}° zoom ${fmt(c.zoom, 2)}`;
    }
    this._data();
  }

  _status() {
    this.root.dataset.loading = String(this.loading);
  }

  _flicker(keep = false) {
    const p = this.paneEls && this.paneEls.flicker;
    if (!p) return;
    if (!keep) this.flickerPrior = !this.flickerPrior;
    for (const img of p.inner.querySelectorAll("img")) img.hidden = (img.dataset.which === "prior") !== !!this.flickerPrior;
    p.pane.dataset.showing = this.flickerPrior ? "prior" : "current";
  }

  _details() {
    const i = this.info;
    const banners = [];
    if (i.patient_differences.length) banners.push(["bad", `DIFFERENT PATIENTS (forced): ${i.patient_differences.join("; ")}`]);
    if (i.poor) banners.push(["bad", `POOR REGISTRATION (quality ${i.quality === null ? "?" : fmt(i.quality, 2)}, overlap ${i.overlap === null ? "?" : Math.round(i.overlap * 100) + "%"}): the panes may not show the same anatomy`]);
    for (const n of i.notes) if (!/poor/.test(n)) banners.push(["warn", n]);
    // each series' own warnings (uneven spacing, a tilt...), as the viewer's header says them
    for (const side of ["prior", "current"]) {
      const title = side === "prior" ? "Prior" : "Current";
      for (const w of i[side].warnings || []) banners.push(["warn", `${title}: Warning: ${w}`]);
    }
    // only when they change: each replacement would be announced again (every slice scrolled)
    const said = JSON.stringify(banners);
    if (this.banners.dataset.said !== said) {
      this.banners.dataset.said = said;
      this.banners.replaceChildren(...banners.map(([cls, t]) => el("p", `banner ${cls}`, t)));
    }
    const m = i.transform.slice(0, 3).map((row) => `[${row.map((v) => v.toFixed(3)).join(" ")}]`).join(" ");
    this.details.replaceChildren(
      el("div", "", `Prior ${i.prior.study_date} ${i.prior.description || ""}${i.prior.stack ? ` (${i.prior.stack})` : ""} → current ${i.current.study_date} ${i.current.description || ""}${i.current.stack ? ` (${i.current.stack})` : ""}`),
      el("div", i.poor ? "error" : "", `${i.method}: rotation ${fmt(i.rotation_degrees, 2)}°, translation ${fmt(i.translation_mm)} mm${i.quality === null ? "" : `, quality ${fmt(i.quality, 2)}`}${i.overlap === null ? "" : `, overlap ${Math.round(i.overlap * 100)}%`}${i.reused ? " (kept in the library)" : ""}`),
      el("div", "", `M (current → prior, mm): ${m}${i.intensity_match.note ? `; ${i.intensity_match.note}` : ""}`),
    );
  }

  // -- input: one state for every pane --------------------------------------------------------
  _pixel(e, pane) {
    // the picture's pixel under the pointer (the inner element is the picture, transformed)
    const r = pane.querySelector(".compare-inner").getBoundingClientRect();
    const g = this._geometry();
    return [((e.clientX - r.left) / r.width) * g.size[0] - 0.5, ((e.clientY - r.top) / r.height) * g.size[1] - 0.5];
  }

  clickAt(pane, col, row) {
    if (this.plane === "3d") return;
    const st = this._state(pane);
    const g = this._geometry(st);
    st.cursor = [0, 1, 2].map((a) => g.corner[a] + col * g.pixel_mm * g.right[a] + row * g.pixel_mm * g.down[a]);
    this.update();
  }

  // Scroll the slices of `pane` (every pane while linked).
  scroll(steps, pane = "current") {
    if (this.plane === "3d") return;
    const st = this._state(pane);
    const g = this._geometry(st);
    const lo = g.range[0], hi = g.range[1];
    st.cursor[g.axis] = Math.min(hi, Math.max(lo, st.cursor[g.axis] + steps * g.step));
    this.update();
  }

  // Turn the 3D camera of `pane` (both while linked) by a drag of (dx, dy) pixels: the
  // desktop's 0.4 degrees per pixel, the elevation kept within +-89 degrees.
  rotate(dx, dy, pane = "current") {
    const c = this._state(pane).camera;
    c.azimuth = ((c.azimuth - dx * 0.4 + 540) % 360) - 180;
    c.elevation = Math.min(89, Math.max(-89, c.elevation + dy * 0.4));
    clearTimeout(this._rotTimer); // one frame per pause of the drag
    this._rotTimer = setTimeout(() => this.update(), 60);
    this._data();
  }

  _bindInput() {
    const panes = this.panes;
    panes.addEventListener("contextmenu", (e) => e.preventDefault());
    const paneOf = (e) => { const p = e.target.closest(".compare-pane"); return p ? p.dataset.pane : "current"; };
    const zoomBy = (st, f) => {
      if (this.plane === "3d") st.camera.zoom = Math.min(20, Math.max(0.2, st.camera.zoom * f));
      else st.zoom = Math.min(20, Math.max(0.2, st.zoom * f));
    };
    panes.addEventListener("wheel", (e) => {
      e.preventDefault();
      const dy = e.deltaY < 0 ? 1 : -1;
      if (e.ctrlKey || this.plane === "3d") {
        zoomBy(this._state(paneOf(e)), 1.15 ** dy);
        this.update();
      } else {
        this.scroll(dy * (e.shiftKey ? 10 : 1), paneOf(e));
      }
    }, { passive: false });
    panes.addEventListener("pointerdown", (e) => {
      const pane = e.target.closest(".compare-pane");
      if (!pane) return;
      panes.setPointerCapture(e.pointerId);
      this.gestures.set(e.pointerId, { x: e.clientX, y: e.clientY, x0: e.clientX, y0: e.clientY, button: e.button, shift: e.shiftKey, pane, moved: false });
    });
    panes.addEventListener("pointermove", (e) => {
      const g = this.gestures.get(e.pointerId);
      if (!g) return;
      const dx = e.clientX - g.x, dy = e.clientY - g.y;
      if (!g.moved && Math.hypot(e.clientX - g.x0, e.clientY - g.y0) < DRAG_THRESHOLD) return;
      g.moved = true;
      g.x = e.clientX;
      g.y = e.clientY;
      const st = this._state(g.pane.dataset.pane);
      if (g.button === 1 || (g.button === 0 && g.shift)) {
        st.pan = [st.pan[0] + dx, st.pan[1] + dy];
        this.update();
      } else if (g.button === 2) {
        zoomBy(st, Math.exp(-dy / 200));
        this.update();
      } else if (g.button === 0 && this.plane === "3d") {
        this.rotate(dx, dy, g.pane.dataset.pane);
      } else if (g.button === 0) {
        // the desktop's window drag: right widens, down raises the level
        const w = Math.max(st.window.width * Math.exp(dx / 150), 1e-3);
        st.window = { width: w, level: st.window.level + (dy * w) / 300 };
        clearTimeout(this._wlTimer); // ask the server once the drag pauses
        this._wlTimer = setTimeout(() => this.update(), 120);
      }
    });
    const end = (e) => {
      const g = this.gestures.get(e.pointerId);
      this.gestures.delete(e.pointerId);
      if (!g || g.moved || g.button !== 0) return;
      const [col, row] = this._pixel(e, g.pane);
      this.clickAt(g.pane.dataset.pane, col, row);
    };
    panes.addEventListener("pointerup", end);
    panes.addEventListener("pointercancel", (e) => this.gestures.delete(e.pointerId));
  }
}
