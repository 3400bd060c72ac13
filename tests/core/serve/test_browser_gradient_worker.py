"""The compact gradient texture is made on the volume's worker, not on the page's thread: the
worker sends the grey values first and the gradient texels after them (static/volume.js,
volume-worker.js); the texels are those the page would have made itself (which equal the
desktop's, test_browser_gradient.py), the page's thread stays free while they are made, and
the shaded picture drawn with them is the one ``ownscan render`` draws (test_browser_view)."""

from __future__ import annotations

from typing import Any

from browser_support import open_series, sign_in

# every level of the first series through loadLevel (the worker), against the same level
# prepared on this thread with prepareGrey and gradientTexels
LEVELS = """async () => {
    const { loadLevel, prepareGrey, gradientTexels } = await import('/static/volume.js');
    const { dimsOf } = await import('/static/geometry.js');
    const v = window.ownscanViewer;
    const out = [];
    for (const level of v.header.levels) {
        const range = level.level > 0 ? v.header.value_range : null;
        const got = await loadLevel(v.api.fetch, v.header, level, range);
        const pending = got.gradientTexels instanceof Promise;
        const texels = pending ? await got.gradientTexels : null;
        const resp = await v.api.fetch(level.url);
        const encoding = resp.headers.get('X-Ownscan-Encoding') || 'raw';
        const dims = dimsOf(level.shape);
        const grey = prepareGrey(await resp.arrayBuffer(), v.header.dtype, encoding, range, dims);
        const want = gradientTexels(grey.q, dims, level.gradient_factors);
        let same = texels !== null && texels.length === want.length;
        for (let i = 0; same && i < want.length; i++) same = texels[i] === want[i];
        let values = got.values.length === grey.values.length;
        for (let i = 0; values && i < grey.values.length; i++) {
            values = got.values[i] === grey.values[i];
        }
        out.push({level: level.level, pending, same, values, q: got.q, n: want.length});
    }
    return out;
}"""

# a volume of random values on a worker, the page's thread counting its free moments
# (setTimeout turns) from the grey values' arrival to the gradient texels'
FREE = """async ([nx, ny, nz]) => {
    const q = new Uint16Array(nx * ny * nz);
    let x = 12345;
    for (let i = 0; i < q.length; i++) { x = (x * 1103515245 + 12345) >>> 0; q[i] = x >>> 16; }
    const worker = new Worker('/static/volume-worker.js', {type: 'module'});
    let turns = 0, grey = null, ticking = true;
    const tick = () => { if (ticking) { turns += 1; setTimeout(tick, 0); } };
    const result = await new Promise((resolve) => {
        worker.onmessage = (e) => {
            if (e.data.kind === 'grey') { grey = e.data; setTimeout(tick, 0); }
            else { ticking = false; resolve(e.data); }
        };
        worker.postMessage({buffer: q.buffer, dtype: 'uint16', encoding: 'raw', range: [0, 65535],
                            dims: [nx, ny, nz], factors: [2, 2, 2]}, [q.buffer]);
    });
    worker.terminate();
    return {kind: result.kind, texels: result.texels.length, greyQ: grey.q,
            pending: grey.gradientPending, turns};
}"""


def test_the_worker_makes_the_gradient_texels_after_the_grey_values(
    served: Any, desktop: Any
) -> None:
    sign_in(desktop, served)
    open_series(desktop)
    levels = desktop.evaluate(LEVELS)
    assert {lv["level"] for lv in levels} == {0, 1}
    for lv in levels:
        # a promise of texels, equal to the page's own; the grey values the same; q stayed on
        # the worker (the page has no use for it)
        assert lv["pending"] and lv["same"] and lv["values"], lv
        assert lv["q"] is None and lv["n"] > 0, lv


def test_the_pages_thread_is_free_while_the_gradient_is_made(served: Any, desktop: Any) -> None:
    sign_in(desktop, served)
    got = desktop.evaluate(FREE, [256, 256, 96])
    assert got["kind"] == "gradient" and got["pending"] and got["greyQ"] is None
    assert got["texels"] == 128 * 128 * 48 * 3
    # the page ran its own tasks while the worker made 0.8 M texels (on the page's thread
    # there would have been no turn at all between the two messages)
    assert got["turns"] > 0, got


def test_the_shaded_dvr_uses_the_workers_texels(served: Any, desktop: Any) -> None:
    sign_in(desktop, served)
    open_series(desktop)
    desktop.click("button[data-layout='3d']")
    got = desktop.evaluate(
        """async () => {
            const v = window.ownscanViewer;
            await v.setMode('dvr');
            await v.renderer.gradientSettled();
            await v.afterDraw();
            const r = v.renderer.volume;
            const px = v.rects()['3d'];
            return {gradient: !!r.gradient, q: r.q, texels: r.texels,
                    program: v.renderer.programs.has('dvr+gradient'),
                    quality: v.stage.dataset.quality,
                    full: v.renderer.target.w === Math.round(px.w * (devicePixelRatio || 1))};
        }"""
    )
    # the texture was made from the worker's texels (no q kept to make them here), which
    # were then let go; the still frame (not the quick pass drawn while they were on their
    # way) at full size
    want = {"gradient": True, "q": None, "texels": None, "program": True}
    assert got == {**want, "quality": "full", "full": True}
