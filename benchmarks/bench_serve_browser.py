"""The page of ``ownscan serve`` in headless Chromium: time to the first picture (the preview
level) and to full resolution, on loopback and through a link throttled to 50 Mbit/s (DevTools
network emulation), bytes on the wire, and the 3D frame time at 512x512 (dvr and mip; still
frames and the quick pass drawn while dragging).

The series is a generated CT (tests/core/ctgen.py's phantom: body, lungs, spine, liver, 12 HU
noise), 512x512xN (N = 300 by default), imported into a temporary library and served by a real
``ownscan serve``. Without a GPU Chromium draws with SwiftShader (a CPU rasteriser like
llvmpipe): its times say how the page behaves on a machine without a GPU, not what a GPU
does; ``--gpu`` leaves Chromium's GPU choice alone.

With ``--niivue FILE`` (NiiVue's ``dist/niivue.umd.js``, e.g. from ``npm install
@niivue/niivue`` in a temporary folder; the product never needs Node) the same volume, exported
to NIfTI by ``ownscan export``, is also drawn by NiiVue on a 512x512 canvas in the same browser,
and the frame times are printed side by side. Like for like (the rule, checked in NiiVue
0.69.0's shaders):

- shading: NiiVue's default 3D render is unshaded (``gradientAmount`` 0: no gradient, no
  lighting); ``setVolumeRenderIllumination(g > 0)`` switches to its gradient-lit shader (a
  gradient texture and a matcap look-up per sample). So our unshaded dvr (the page's
  ``shading=0`` program) is compared with NiiVue's default, and our shaded dvr (the page's
  default) with NiiVue's illuminated render;
- sampling: NiiVue steps one voxel along the ray in voxel-index space (``len / lenVox``),
  i.e. ``1 / |dir / spacing|`` mm; ours steps the smallest spacing. Both cameras orbit at
  elevation 0 (NiiVue's default is 10 degrees), where NiiVue's step is the in-plane spacing
  too: the benchmark computes NiiVue's step from its view and prints both;
- early termination differs and is kept as each ships it (NiiVue 0.95, then it rescales the
  alpha; ours 0.99, the picture ``ownscan render`` draws); so does the framing (the share of
  the canvas each draws is printed);
- same 512x512 canvas, same browser, frames timed to ``readPixels`` of one pixel.

Run: ``python benchmarks/bench_serve_browser.py [--slices 300] [--size 512] [--gpu]
[--niivue node_modules/@niivue/niivue/dist/niivue.umd.js] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "core"))
sys.path.insert(0, str(REPO / "tests" / "core" / "serve"))

from browser_support import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from ctgen import write_ct_series  # noqa: E402
from serve_process import ServeProcess  # noqa: E402

FIRST = """async () => {
    const t0 = performance.now();
    const marks = {};
    await new Promise((resolve) => {
        const stage = () => document.querySelector('.stage');
        const poll = () => {
            const s = stage();
            const shown = s ? (s.dataset.levelsShown || '') : '';
            if (!marks.preview && shown.startsWith('1')) marks.preview = performance.now() - t0;
            if (shown.endsWith('0')) { marks.full = performance.now() - t0; resolve(); return; }
            requestAnimationFrame(poll);
        };
        document.querySelector('.series').click();
        poll();
    });
    return marks;
}"""

PREPARE = """async ([mode, quick, flat]) => {
    const v = window.ownscanViewer;
    Object.assign(v.stage.style, {flex: 'none', width: '512px', height: '512px'});
    await v.setMode(mode);
    if (mode === 'dvr') {
        // the shaded (default) and the unshaded (shading=0) programs of dvr, swapped in
        const r = v.renderer, kept = (v.benchPrograms = v.benchPrograms || {});
        kept.shaded = kept.shaded || [r.programs.get('dvr'), r.programs.get('dvr+gradient')];
        if (flat && !kept.flat) {
            const narrow = r.narrow ? '&narrow=1' : '';  // as the page asks (gl.js)
            const src = await v.api.json('/api/shaders/raycast?mode=dvr&shading=0' + narrow);
            r.programs.delete('dvr+gradient');
            r.programs.delete('dvr');
            r.program('dvr', src);
            kept.flat = [r.programs.get('dvr'), null];
        }
        const [program, gradient] = kept[flat ? 'flat' : 'shaded'];
        r.programs.set('dvr', program);
        if (gradient) r.programs.set('dvr+gradient', gradient);
        else r.programs.delete('dvr+gradient');
    }
    await v.afterDraw();
    v.renderer.gl.readPixels(0, 0, 1, 1, v.renderer.gl.RGBA, v.renderer.gl.UNSIGNED_BYTE,
                             new Uint8Array(4));  // the GPU is done: nothing spills over
    v.interactive = quick;  // afterDraw keeps it: the quick pass of a drag
}"""

FRAMES = """async (n) => {
    const v = window.ownscanViewer;
    const gl = v.renderer.gl, px = new Uint8Array(4);
    const times = [];
    for (let i = 0; i < n; i++) {
        v.camera.azimuth += 2;
        const t = performance.now();
        await v.afterDraw();
        gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, px);  // waits for the GPU
        times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    return {median: times[n >> 1], min: times[0], times};
}"""

FINISH = """async () => {
    const v = window.ownscanViewer;
    const size = [v.renderer.target.w, v.renderer.target.h];
    const shot = v.renderer.readRaycast().data;  // the share of rays that drew something
    let lit = 0;
    for (let i = 0; i < shot.length; i += 4) if (shot[i] || shot[i + 1] || shot[i + 2]) lit += 1;
    await new Promise((resolve) => { v._waiters = [...(v._waiters || []), resolve]; v.redraw(); });
    v.renderer.gl.readPixels(0, 0, 1, 1, v.renderer.gl.RGBA, v.renderer.gl.UNSIGNED_BYTE,
                             new Uint8Array(4));
    return {size, lit: lit / (shot.length / 4),
            gradient: !!(v.renderer.volume && v.renderer.volume.gradient)};
}"""


def _gpu_process_seconds() -> float | None:
    """CPU seconds (user + system) used so far by this benchmark's browser's GPU process, where
    SwiftShader rasterises: on a shared machine a steadier measure of a frame's work than wall
    time. Only GPU processes descending from this Python process count (other browsers on the
    machine, another benchmark's or a test's, are not ours). None when it cannot be read (not
    Linux, no such process)."""
    import os

    if not os.path.isdir("/proc"):
        return None
    parent: dict[int, int] = {}
    gpu: dict[int, float] = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            parent[int(pid)] = int(stat[1])
            if b"--type=gpu-process" in Path(f"/proc/{pid}/cmdline").read_bytes():
                gpu[int(pid)] = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            continue

    def ours(pid: int) -> bool:
        while pid > 1:
            if pid == os.getpid():
                return True
            pid = parent.get(pid, 0)
        return False

    mine = [seconds for pid, seconds in gpu.items() if ours(pid)]
    return sum(mine) if mine else None


NIIVUE_PAGE = """<!doctype html><html><body style="margin:0">
<canvas id="gl" width="512" height="512" style="width:512px;height:512px"></canvas>
<script src="niivue.umd.js"></script>
<script>
(async () => {
  const nv = new niivue.Niivue({isResizeCanvas: false, show3Dcrosshair: false});
  await nv.attachTo("gl");
  await nv.loadVolumes([{url: "volume.nii.gz"}]);
  nv.setSliceType(nv.sliceTypeRender);
  nv.scene.renderElevation = 0;  // as the page's camera: in-plane rays, one step = one voxel
  window.nv = nv;
  window.ready = true;
})();
</script></body></html>"""

NIIVUE_SHADING = """async (amount) => {
    // 0: NiiVue's default (unshaded) render; > 0: its gradient-lit shader
    await window.nv.setVolumeRenderIllumination(amount);
    return window.nv.renderShader === window.nv.renderGradientShader;
}"""

# NiiVue's step (kRenderInit: sliceSize = len / lenVox, one voxel in index space) in mm for its
# current view direction, next to the page's (the smallest spacing)
NIIVUE_STEP = """() => {
    const nv = window.nv, vol = nv.volumes[0];
    const az = (nv.scene.renderAzimuth * Math.PI) / 180;
    const el = (nv.scene.renderElevation * Math.PI) / 180;
    const dir = [Math.cos(el) * Math.sin(az), Math.cos(el) * Math.cos(az), Math.sin(el)];
    const mm = vol.pixDimsRAS.slice(1, 4);
    return 1 / Math.hypot(...dir.map((d, a) => d / mm[a]));
}"""

NIIVUE_FRAMES = """(n) => {
    const nv = window.nv, gl = nv.gl, px = new Uint8Array(4);
    const times = [];
    for (let i = 0; i < n; i++) {
        nv.scene.renderAzimuth += 2;
        const t = performance.now();
        nv.drawScene();
        gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, px);
        times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    return {median: times[n >> 1], min: times[0], times};
}"""

NIIVUE_FINISH = """() => {
    const gl = window.nv.gl;
    const size = [gl.drawingBufferWidth, gl.drawingBufferHeight];
    const shot = new Uint8Array(size[0] * size[1] * 4);
    window.nv.drawScene();  // the canvas keeps no picture between tasks: draw, then read
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    gl.readPixels(0, 0, size[0], size[1], gl.RGBA, gl.UNSIGNED_BYTE, shot);
    let lit = 0;
    for (let i = 0; i < shot.length; i += 4) if (shot[i] || shot[i + 1] || shot[i + 2]) lit += 1;
    return {size, lit: lit / (size[0] * size[1])};
}"""


def _timed(page: Any, script: str, n: int) -> dict[str, Any]:
    """``script``'s ``n`` frames, with the GPU process's CPU seconds per frame (``cpu``)."""
    c0 = _gpu_process_seconds()
    f = dict(page.evaluate(script, n))
    c1 = _gpu_process_seconds()
    f["cpu"] = (c1 - c0) / n if c0 is not None and c1 is not None else None
    return f


@contextlib.contextmanager
def _niivue(browser: Any, umd: Path, volume: Path, folder: Path) -> Iterator[Any]:
    """A page where NiiVue draws ``volume`` (NIfTI) on a 512x512 canvas, served from
    ``folder``; time its frames with ``NIIVUE_FRAMES``."""
    import functools
    import http.server
    import shutil
    import threading

    folder.mkdir()
    shutil.copyfile(umd, folder / "niivue.umd.js")
    shutil.copyfile(volume, folder / "volume.nii.gz")
    (folder / "index.html").write_text(NIIVUE_PAGE)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        ctx = browser.new_context(viewport={"width": 600, "height": 600}, device_scale_factor=1)
        page = ctx.new_page()
        page.goto(f"http://127.0.0.1:{httpd.server_address[1]}/index.html")
        page.wait_for_function("() => window.ready === true", timeout=300_000)
        yield page
        ctx.close()
    finally:
        httpd.shutdown()


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def _wire_bytes(page: Any) -> int:
    """Bytes of the voxel responses as they came over the wire (compressed)."""
    return int(
        page.evaluate(
            """() => performance.getEntriesByType('resource')
                .filter((e) => e.name.includes('/voxels'))
                .reduce((s, e) => s + e.transferSize, 0)"""
        )
    )


def _load(browser: Any, server: ServeProcess, mbit: float | None) -> dict[str, Any]:
    ctx = browser.new_context(viewport={"width": 1000, "height": 800}, device_scale_factor=1)
    page = ctx.new_page()
    page.goto(server.url)
    page.wait_for_selector(".series")
    if mbit is not None:
        cdp = ctx.new_cdp_session(page)
        cdp.send("Network.enable")
        rate = mbit * 1e6 / 8
        cdp.send(
            "Network.emulateNetworkConditions",
            {"offline": False, "latency": 5, "downloadThroughput": rate, "uploadThroughput": rate},
        )
    marks = page.evaluate(FIRST)
    marks["wire"] = _wire_bytes(page)
    ctx.close()
    return marks


def _uid(library: Path) -> str:
    from ownscan.core.library import open_library

    with open_library(library) as lib:
        return str(lib.series()[0].series_uid)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--slices", type=int, default=300)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--gpu", action="store_true", help="do not force SwiftShader")
    ap.add_argument("--niivue", type=Path, help="NiiVue's dist/niivue.umd.js: compare with it")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds of frame times")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "ct"
        t0 = time.perf_counter()
        write_ct_series(
            src, n_slices=args.slices, rows=args.size, cols=args.size, pixel_spacing=(0.7, 0.7)
        )
        exe = Path(sys.executable).with_name("ownscan")
        library = Path(tmp) / "library"
        subprocess.run([str(exe), "import", str(src), "--library", str(library)], check=True)
        print(f"generated and imported in {time.perf_counter() - t0:.1f} s")
        raw = args.size * args.size * args.slices * 2
        server = ServeProcess.start(library)
        flags = [a for a in CHROMIUM_ARGS if not (args.gpu and "swiftshader" in a)]
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=flags, headless=True)
                for label, mbit in (
                    ("loopback (server cache cold)", None),
                    ("loopback", None),
                    ("50 Mbit/s", 50.0),
                ):
                    m = _load(browser, server, mbit)
                    print(
                        f"{label:30s} first picture (preview) {m['preview'] / 1000:6.2f} s, "
                        f"full resolution {m['full'] / 1000:6.2f} s, voxels on the wire "
                        f"{m['wire'] / 1e6:7.1f} MB ({m['wire'] / (raw * 9 / 8):.3f} of raw int16, "
                        "both levels)"
                    )
                ctx = browser.new_context(
                    viewport={"width": 512, "height": 600}, device_scale_factor=1
                )
                page = ctx.new_page()
                page.goto(server.url)
                page.wait_for_selector(".series")
                page.evaluate(FIRST)
                page.click("button[data-layout='3d']")
                renderer = page.evaluate(
                    "() => { const gl = window.ownscanViewer.renderer.gl;"
                    " const e = gl.getExtension('WEBGL_debug_renderer_info');"
                    " return e ? gl.getParameter(e.UNMASKED_RENDERER_WEBGL) : '?' }"
                )
                # (key, mode, quick pass, unshaded, the NiiVue render it is compared with)
                kinds = [
                    ("dvr", "dvr", False, False, "niivue-lit"),
                    ("dvr-unshaded", "dvr", False, True, "niivue"),
                    ("mip", "mip", False, False, "niivue"),
                    ("dvr-quick", "dvr", True, False, "niivue-lit"),
                    ("mip-quick", "mip", True, False, "niivue"),
                ]
                with contextlib.ExitStack() as stack:
                    niivue = None
                    if args.niivue is not None:
                        uid = _uid(library)
                        out = Path(tmp) / "nifti"  # export writes a folder of .nii.gz
                        cmd = [str(exe), "export", f"library:{uid}", "--library", str(library)]
                        subprocess.run([*cmd, "-o", str(out)], check=True)
                        nii = next(out.rglob("*.nii.gz"))
                        folder = Path(tmp) / "niivue"
                        niivue = stack.enter_context(_niivue(browser, args.niivue, nii, folder))
                    # rounds alternate between the two pages so that a change in the shared
                    # machine's load falls on both; a ratio is taken within each round
                    times: dict[str, list[float]] = {}
                    cpu: dict[str, list[float]] = {}
                    ratios: dict[str, list[float]] = {}
                    cpu_ratios: dict[str, list[float]] = {}
                    last: dict[str, Any] = {}
                    for _ in range(args.rounds):
                        nv: dict[str, dict[str, Any]] = {}
                        if niivue is not None:
                            for key, amount in (("niivue", 0.0), ("niivue-lit", 0.5)):
                                lit = niivue.evaluate(NIIVUE_SHADING, amount)
                                assert lit == (amount > 0), "NiiVue's shader is not the one asked"
                                niivue.evaluate(NIIVUE_FRAMES, 1)  # a first frame, not timed
                                nv[key] = _timed(niivue, NIIVUE_FRAMES, 3)
                                last[key] = {
                                    **nv[key],
                                    **niivue.evaluate(NIIVUE_FINISH),
                                    "step": niivue.evaluate(NIIVUE_STEP),
                                }
                                times.setdefault(key, []).extend(nv[key]["times"])
                                if nv[key]["cpu"] is not None:
                                    cpu.setdefault(key, []).append(nv[key]["cpu"])
                        for key, mode, quick, flat, peer in kinds:
                            page.evaluate(PREPARE, [mode, quick, flat])
                            f = _timed(page, FRAMES, 3)
                            last[key] = {**f, **page.evaluate(FINISH)}
                            times.setdefault(key, []).extend(f["times"])
                            if f["cpu"] is not None:
                                cpu.setdefault(key, []).append(f["cpu"])
                            if peer in nv:
                                ratios.setdefault(key, []).append(f["median"] / nv[peer]["median"])
                                if f["cpu"] is not None and nv[peer]["cpu"]:
                                    cpu_ratios.setdefault(key, []).append(
                                        f["cpu"] / nv[peer]["cpu"]
                                    )
                    page.evaluate(PREPARE, ["dvr", False, False])  # the page's own program back
                peers = {k[0]: k[4] for k in kinds}
                titles = {
                    "dvr": "3D dvr  still frame (shaded)",
                    "dvr-unshaded": "3D dvr  still frame (unshaded)",
                    "mip": "3D mip  still frame",
                    "dvr-quick": "3D dvr  quick pass (drag: 2x step)",
                    "mip-quick": "3D mip  quick pass (drag: 2x step)",
                    "niivue": "NiiVue 3D render (its default: unshaded)",
                    "niivue-lit": "NiiVue 3D render (illuminated, gradientAmount 0.5)",
                }
                for key in [*titles]:
                    if key not in last:
                        continue
                    f = last[key]
                    w, h = f["size"]
                    line = (
                        f"{titles[key]} {w}x{h}: median {_median(times[key]):.0f} ms, "
                        f"min {min(times[key]):.0f} ms"
                    )
                    if key in cpu:
                        line += f", GPU process CPU {1000 * _median(cpu[key]):.0f} ms/frame"
                    line += f", {100 * f['lit']:.0f} % of pixels drawn"
                    if "step" in f:
                        line += f", step {f['step']:.2f} mm"
                    if key in ratios:
                        line += f"; / {peers[key]}: wall {_median(ratios[key]):.2f}"
                    if key in cpu_ratios:
                        line += f", CPU {_median(cpu_ratios[key]):.2f}"
                    if key.startswith("dvr") and key != "dvr-unshaded":
                        line += ", shaded from the " + (
                            "gradient texture" if f["gradient"] else "26-fetch gradient"
                        )
                    print(line)
                step = page.evaluate(
                    "() => { const v = window.ownscanViewer; return v.frame3d(8, 8).step; }"
                )
                print(f"(the page's step: {step:.2f} mm for still frames, twice that in a drag)")
                print(
                    f"({renderer}; ratios: median over {args.rounds} rounds alternating between "
                    "the pages of the ratio within the round; dvr and its quick pass are compared "
                    "with NiiVue's illuminated render, the rest with its default)"
                )
                ctx.close()
                browser.close()
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
