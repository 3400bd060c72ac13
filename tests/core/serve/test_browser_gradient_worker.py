"""The compact gradient texture is made on the volume's worker, not on the page's thread, and
only when a shaded 3D view first needs it: the worker sends the grey values, keeps q, and makes
the gradient texels when the page asks (static/volume.js, volume-worker.js, gl.js
``gradientPending``); the texels are those the page would have made itself (which equal the
desktop's, test_browser_gradient.py), the page's thread stays free while they are made, a
series shown only in 2D or as a MIP never has them made, and the shaded picture drawn with
them is the one ``ownscan render`` draws (test_browser_view)."""

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
        const pending = typeof got.gradientTexels === 'function';
        const texels = pending ? await got.gradientTexels() : null;
        const resp = await v.api.fetch(level.url);
        const encoding = resp.headers.get('X-Ownscan-Encoding') || 'raw';
        const dims = dimsOf(level.shape);
        const grey = prepareGrey(await resp.arrayBuffer(), v.header.dtype, encoding, range, dims);
        const want = gradientTexels(grey.q, dims, level.gradient_factors, level.gradient_scales);
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

# the same volume of random values on two workers: the page asks one for the gradient texels
# once its grey values came, counting its free moments (setTimeout turns) until they come; the
# other is never asked and must send nothing, not even in twice the time the first took
FREE = """async ([nx, ny, nz]) => {
    const volume = () => {
        const q = new Uint16Array(nx * ny * nz);
        let x = 12345;
        for (let i = 0; i < q.length; i++) { x = (x * 1103515245 + 12345) >>> 0; q[i] = x >>> 16; }
        return q;
    };
    const start = (w) => {
        const q = volume();
        w.postMessage({buffer: q.buffer, dtype: 'uint16', encoding: 'raw', range: [0, 65535],
                       dims: [nx, ny, nz], factors: [2, 2, 2], scales: [0.02, 0.02, 0.02]},
                      [q.buffer]);
    };
    const asked = new Worker('/static/volume-worker.js', {type: 'module'});
    const idle = new Worker('/static/volume-worker.js', {type: 'module'});
    const unasked = [];
    let idleGrey = null;
    idle.onmessage = (e) => {
        if (e.data.kind === 'grey') idleGrey = e.data;
        else unasked.push(e.data);
    };
    let turns = 0, grey = null, ticking = true, t0 = 0;
    const tick = () => { if (ticking) { turns += 1; setTimeout(tick, 0); } };
    const result = await new Promise((resolve) => {
        asked.onmessage = (e) => {
            if (e.data.kind === 'grey') {
                grey = e.data;
                t0 = performance.now();
                asked.postMessage({kind: 'gradient'});
                setTimeout(tick, 0);
            } else { ticking = false; resolve(e.data); }
        };
        start(asked);
        start(idle);
    });
    const took = performance.now() - t0;
    while (!idleGrey) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 2 * took + 100));
    asked.terminate();
    idle.terminate();
    return {kind: result.kind, texels: result.texels.length, greyQ: grey.q,
            pending: grey.gradientPending, turns, unasked: unasked.length,
            idlePending: idleGrey.gradientPending};
}"""


def test_the_worker_makes_the_gradient_texels_after_the_grey_values(
    served: Any, desktop: Any
) -> None:
    sign_in(desktop, served)
    open_series(desktop)
    levels = desktop.evaluate(LEVELS)
    assert {lv["level"] for lv in levels} == {0, 1}
    for lv in levels:
        # texels when asked for, equal to the page's own; the grey values the same; q stayed
        # on the worker (the page has no use for it)
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
    # the worker never asked made none (it could have, and keeps q for it)
    assert got["idlePending"] and got["unasked"] == 0, got


def test_the_shaded_dvr_uses_the_workers_texels(served: Any, desktop: Any) -> None:
    sign_in(desktop, served)
    open_series(desktop)
    desktop.click("button[data-layout='3d']")
    got = desktop.evaluate(
        """async () => {
            const v = window.ownscanViewer;
            await v.setMode('dvr');
            await v.afterDraw();  // the first shaded frame asks for the texels
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


# the phone's one view: what the volume's gradient texels are doing
GRADIENT_STATE = """() => {
    const v = window.ownscanViewer, g = v.renderer.volume;
    return {asked: g.ask === null, pending: !!g.pending, texture: !!g.gradient,
            quality: v.stage.dataset.quality, layout: v.layout};
}"""


def test_the_texels_are_made_only_for_a_shaded_view(served: Any, phone: Any) -> None:
    sign_in(phone, served)
    open_series(phone)  # a phone opens on the axial slice: no 3D view
    idle = {"asked": False, "pending": False, "texture": False}
    assert phone.evaluate(GRADIENT_STATE) == {**idle, "quality": "full", "layout": "axial"}
    # a MIP (unshaded) in the 3D view does not ask for them either
    phone.evaluate(
        "async () => { const v = window.ownscanViewer; await v.setMode('mip');"
        " await v.afterDraw(); }"
    )
    assert phone.evaluate(GRADIENT_STATE) == {**idle, "quality": "full", "layout": "3d"}
    # the first shaded frame asks for them and is the quick pass while they come; the still
    # frame with the gradient texture follows
    first = phone.evaluate(
        "async () => { const v = window.ownscanViewer; await v.setMode('dvr');"
        f" await v.afterDraw(); return ({GRADIENT_STATE})(); }}"
    )
    assert first["asked"] and first["quality"] == "quick" and not first["texture"], first
    phone.evaluate(
        "async () => { const v = window.ownscanViewer; await v.renderer.gradientSettled();"
        " await v.afterDraw(); }"
    )
    got = phone.evaluate(GRADIENT_STATE)
    assert got == {
        "asked": True,
        "pending": False,
        "texture": True,
        "quality": "full",
        "layout": "3d",
    }, got
