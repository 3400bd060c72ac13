// Series of more than one picture (docs/SERVE_PAGE.md, "4D and cine"):
// - a 4D series (header n_volumes > 1: diffusion directions, fMRI time points, cardiac phases,
//   contrast phases): a volume slider, Play, and what the 4th axis means ("volume 3/5 · b=1000
//   s/mm²"). Each volume is asked for on its own (?volume=N): its header, then its voxels; while
//   playing a large one the preview level is shown, and the full one once it stops;
// - a multi-frame image without slice geometry (header kind "frames": an ultrasound or a
//   secondary-capture clip, grey or colour): every frame is in the one texture already, so a
//   frame is a position of the cursor along the frames' axis; Play at the file's frame rate.
// The stage says what is shown: data-volume (4D) or data-frame (cine), 0-based.

import * as G from "./geometry.js";
import { GLUnavailable } from "./gl.js";
import { escapeControls } from "./text.js";
import { loadLevel } from "./volume.js";

const QUICK_VOXELS = 4e6; // while playing, larger volumes show their preview level
const VOLUMES_PER_SECOND = 4;
const DEFAULT_FPS = 10;

export function attachCine(viewer) {
  const h = viewer.header;
  if ((h.n_volumes || 1) > 1) return new Player(viewer, h.n_volumes, new VolumeSource(viewer), 1000 / VOLUMES_PER_SECOND);
  if (h.kind === "frames" && h.cine && h.cine.frames > 1) return new Player(viewer, h.cine.frames, new FrameSource(viewer), 1000 / (h.cine.fps || DEFAULT_FPS));
  return null;
}

// What the 4th axis of a 4D series means at volume n, e.g. "b=1000 s/mm²", "t=4 s".
export function volumeMeaning(dim, n) {
  if (!dim) return "";
  const value = (dim.values || [])[n];
  const b = (dim.b_values || [])[n];
  const num = (v) => (Math.abs(v) >= 100 ? String(Math.round(v)) : String(+Number(v).toPrecision(4)));
  if (dim.name === "diffusion" && b !== undefined && b !== null) return `b=${num(b)} s/mm²`;
  if (value === null || value === undefined) return dim.name;
  const unit = dim.unit === "s/mm2" ? " s/mm²" : dim.unit ? ` ${dim.unit}` : "";
  if (dim.name === "time") return `t=${num(value)}${unit}`;
  if (dim.name === "cardiac phase") return `trigger ${num(value)}${unit}`;
  return `${dim.name} ${num(value)}${unit}`;
}

class Player {
  constructor(viewer, count, source, interval) {
    this.v = viewer;
    this.count = count;
    this.source = source;
    this.interval = interval;
    this.index = 0;
    this.playing = false;
    const bar = document.createElement("div");
    bar.className = "cine";
    this.button = document.createElement("button");
    this.button.type = "button";
    this.button.className = "cine-play";
    this.button.textContent = "▶ Play";
    this.button.addEventListener("click", () => (this.playing ? this.stop() : this.play()));
    this.slider = document.createElement("input");
    this.slider.type = "range";
    this.slider.className = "cine-slider";
    this.slider.min = "0";
    this.slider.max = String(count - 1);
    this.slider.value = "0";
    this.slider.setAttribute("aria-label", source.noun);
    this.slider.addEventListener("input", () => {
      this.stop(false);
      this.go(Number(this.slider.value));
    });
    this.label = document.createElement("span");
    this.label.className = "cine-label";
    this.label.setAttribute("role", "status");
    bar.append(this.button, this.slider, this.label);
    viewer.root.append(bar);
    this.bar = bar;
    source.start(this);
    this._label();
    // keys: [ and ] step (a clip's frames also with the arrows and PageUp/PageDown: the
    // viewer's scrolling keys, through scroll() below), p plays or pauses
    this.keys = (e) => {
      if (e.target && /INPUT|SELECT|TEXTAREA/.test(e.target.tagName)) return;
      const step = { "]": 1, "[": -1 }[e.key];
      if (step) {
        e.preventDefault();
        this.stop(false);
        this.go(Math.min(Math.max(this.index + step, 0), this.count - 1));
      } else if (e.key === "p") {
        e.preventDefault();
        if (this.playing) this.stop();
        else this.play();
      }
    };
    window.addEventListener("keydown", this.keys);
  }

  _label() {
    const meaning = this.source.meaning(this.index);
    this.label.textContent = escapeControls(`${this.source.noun} ${this.index + 1}/${this.count}${meaning ? ` · ${meaning}` : ""}`);
    this.slider.value = String(this.index);
    // a screen reader's words for the slider (its own value counts from 0)
    this.slider.setAttribute("aria-valuetext", escapeControls(`${this.source.noun} ${this.index + 1} of ${this.count}${meaning ? `, ${meaning}` : ""}`));
  }

  // Show picture n (quick: the preview level of a large volume will do).
  async go(n, quick = false) {
    this.index = ((n % this.count) + this.count) % this.count;
    this._label();
    await this.source.show(this.index, quick);
  }

  // viewer.js: the wheel or a swipe on a clip's one view steps its frames (a 4D series'
  // views scroll their slices, and [ ] step its volumes)
  scroll(steps) {
    if (this.source.noun !== "frame") return;
    this.stop(false);
    this.go(Math.min(Math.max(this.index + steps, 0), this.count - 1));
  }

  async play() {
    if (this.playing) return;
    this.playing = true;
    this.button.textContent = "⏸ Pause";
    this.label.setAttribute("aria-live", "off"); // its status would be said at every frame
    this.v.stage.dataset.playing = "1";
    while (this.playing && !this.v.destroyed) {
      const t0 = performance.now();
      await this.go(this.index + 1, true);
      const wait = this.interval - (performance.now() - t0);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }

  stop(refine = true) {
    if (!this.playing) return;
    this.playing = false;
    this.button.textContent = "▶ Play";
    this.label.removeAttribute("aria-live"); // said again (role status) where it stopped
    delete this.v.stage.dataset.playing;
    if (refine) this.source.show(this.index, false); // the full level of where it stopped
  }

  destroy() {
    this.playing = false;
    window.removeEventListener("keydown", this.keys);
  }
}

// 4D: one volume at a time from the server.
class VolumeSource {
  constructor(viewer) {
    this.v = viewer;
    this.noun = "volume";
    this.seq = 0;
    this.shown = { index: 0, level: 0 };
  }

  start() {
    this.v.stage.dataset.volume = "0";
  }

  meaning(n) {
    return volumeMeaning(this.v.header.dimension, n);
  }

  async show(n, quick) {
    const v = this.v;
    const seq = ++this.seq;
    const h = await v.api.json(`/api/series/${encodeURIComponent(v.uid)}?volume=${n}`);
    if (seq !== this.seq || v.destroyed) return;
    if (!v.renderer) {
      v.header = h;
      v.volumeIndex = n;
      // server frames (no WebGL2): the next frames are asked for with ?volume=n
      await this._drawn(n, seq);
      return;
    }
    const levels = [...h.levels].sort((a, b) => b.level - a.level); // coarse first
    const full = levels[levels.length - 1];
    const big = full.shape.slice(0, 3).reduce((a, b) => a * b, 1) > QUICK_VOXELS;
    const wanted = quick ? [big ? levels[0] : full] : big ? levels : [full];
    for (const level of wanted) {
      let data;
      try {
        data = await loadLevel(v.api.fetch, h, level, level.level > 0 ? h.value_range : null);
      } catch (e) {
        v._say(`Could not load volume ${n + 1}: ${e.message}`, true);
        return;
      }
      if (seq !== this.seq || v.destroyed || !v.renderer) {
        if (data.release) data.release(); // its worker, keeping q for gradient texels
        return;
      }
      try {
        v.renderer.setVolume(data);
      } catch (e) {
        if (e instanceof GLUnavailable) v._say(`Volume ${n + 1} does not fit this device: ${e.message}`, true);
        else v._fallback(e);
        return;
      }
      data.values = data.q = data.rgb = null;
      // the header changes with the voxels, never before them: the controls (window, iso
      // value) read the value range of the volume drawn, not of one still on its way
      v.header = h;
      v.volumeIndex = n;
      v.level = data;
      v.valueMin = data.valueMin;
      v.valueMax = data.valueMax;
      v.stage.dataset.level = String(level.level);
      for (const x of v.attached || []) if (x.volumeChanged) x.volumeChanged(); // params.js
      await this._drawn(n, seq); // the preview of a large one is volume n too
    }
  }

  // The stage says what is shown: volume n once its picture is drawn, and only while it is
  // the latest asked for (a later show's own draw says its own)
  async _drawn(n, seq) {
    await this.v.afterDraw();
    if (seq === this.seq && !this.v.destroyed) this.v.stage.dataset.volume = String(n);
  }
}

// A multi-frame image: frame k is the plane through voxel index k of the one volume.
class FrameSource {
  constructor(viewer) {
    this.v = viewer;
    this.noun = "frame";
  }

  start(player) {
    this.show(0, false).catch(() => {});
    player.index = 0;
  }

  meaning() {
    const fps = this.v.header.cine && this.v.header.cine.fps;
    return fps ? `${+Number(fps).toPrecision(3)} frames/s` : "";
  }

  async show(k) {
    const v = this.v;
    const [nx, ny] = G.dimsOf(v.original.shape);
    v.cursor = G.indexToLps(v.original.affine, [(nx - 1) / 2, (ny - 1) / 2, k]);
    this.latest = k;
    await v.afterDraw();
    // the stage says what is shown: the frame once drawn (a later show's own draw says its)
    if (this.latest === k) v.stage.dataset.frame = String(k);
  }
}
