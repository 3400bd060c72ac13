"""A 4D series whose volumes have disjoint value ranges: the mode controls (params.js: the
surface's threshold, a value parameter) follow the volume drawn. The header changes with the
voxels (cine.js), and with it the slider's range; a threshold set on one volume is kept within
the next one's range, so the slider shows the value drawn and a surface is drawn."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from browser_support import sign_in
from fourdgen import write_4d_series
from serve_process import ServeProcess, served_import

STEP = 10_000  # volume v holds 1000 + STEP v .. about 1000 + STEP v + 100: disjoint ranges


def _value(vol: int, slc: int, rows: int, cols: int) -> np.ndarray:
    r, c = np.mgrid[0:rows, 0:cols]
    return (1000 + STEP * vol + 10 * slc + 3 * r + c).astype(np.uint16)


@pytest.fixture(scope="module")
def server_4d(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    root = tmp_path_factory.mktemp("fourd")
    write_4d_series(
        root / "src", n_vols=3, n_slices=6, rows=16, cols=14, value=_value, description="ranges"
    )
    with served_import(root) as server:
        yield server


SLIDER = """() => {
    const v = window.ownscanViewer;
    const input = document.querySelector(".mode-param input[data-param='iso_value']");
    const r = v.level ? v.renderer.readRaycast() : null;
    let lit = 0;
    if (r) for (let i = 0; i < r.data.length; i += 4) if (r.data[i] || r.data[i + 1]) lit += 1;
    return {min: Number(input.min), max: Number(input.max), value: Number(input.value),
            set: (v.parameters.iso || {}).iso_value, range: v.header.value_range,
            volume: v.volumeIndex || 0, lit};
}"""


def test_the_iso_slider_follows_the_volume_drawn(server_4d: Any, desktop: Any) -> None:
    page = desktop
    sign_in(page, server_4d)
    page.locator(".series", has_text="ranges").first.click()
    page.wait_for_selector(".stage[data-level='0']", timeout=120_000)
    page.click("button[data-layout='3d']")
    page.evaluate("() => window.ownscanViewer.setMode('iso')")
    page.wait_for_selector(".mode-param input[data-param='iso_value']")
    page.evaluate("() => window.ownscanViewer.afterDraw()")
    first = page.evaluate(SLIDER)
    c = server_4d.client()
    uid = page.evaluate("() => window.ownscanViewer.uid")
    ranges = [c.get(f"/api/series/{uid}?volume={n}").json()["value_range"] for n in range(3)]
    assert ranges[0][1] < ranges[1][0] and ranges[1][1] < ranges[2][0], ranges  # disjoint
    assert [first["min"], first["max"]] == ranges[0] and first["volume"] == 0
    # a threshold inside volume 0's range
    want = round(ranges[0][0] + 0.3 * (ranges[0][1] - ranges[0][0]))
    page.locator(".mode-param input[data-param='iso_value']").fill(str(want))
    page.evaluate("() => window.ownscanViewer.afterDraw()")
    assert page.evaluate(SLIDER)["set"] == pytest.approx(want, abs=1)
    for n in (2, 1):
        page.locator(".cine-slider").fill(str(n))
        page.wait_for_selector(f".stage[data-volume='{n}']")
        page.evaluate("() => window.ownscanViewer.afterDraw()")
        got = page.evaluate(SLIDER)
        assert got["volume"] == n and got["range"] == ranges[n], got
        # the slider's range is the volume drawn; the threshold set on another volume is
        # kept within it (its low end from volume 0; its high end going back from volume 2)
        assert [got["min"], got["max"]] == ranges[n], got
        assert got["set"] == (ranges[n][0] if n == 2 else ranges[n][1]), got
        assert got["value"] == pytest.approx(got["set"], abs=(got["max"] - got["min"]) / 1000)
        if n == 2:
            assert got["lit"] > 0, got  # a surface drawn, not a threshold below the volume
