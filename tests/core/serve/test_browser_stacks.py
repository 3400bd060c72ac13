"""A series of several stacks through ``ownscan serve`` (core/serve/_stacks.py): three stacks
angled to three discs under one Series Instance UID (tests/core/stacksgen.py). The API gives
each stack as ``UID~N`` (voxels equal to that stack's own), the plain UID shows stack 1 and
says the others are there, and the page names every stack, draws the one chosen and goes to
another when asked."""

from __future__ import annotations

import gzip
import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser_support import canvas_rgb, sign_in
from PIL import Image
from serve_process import ServeProcess, unshuffle
from stacksgen import SERIES_UID, TILTS, write_three_stacks

from ownscan.core.assembly import assemble


@pytest.fixture(scope="module")
def stacks_lib(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any]]:
    """The library of the three-stack series (``ownscan import``) and its assembled stacks."""
    root = tmp_path_factory.mktemp("stacks")
    write_three_stacks(root / "src")
    exe = Path(sys.executable).with_name("ownscan")
    r = subprocess.run(
        [str(exe), "import", str(root / "src"), "--library", str(root / "library")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    return root / "library", assemble(root / "src").volumes()


@pytest.fixture(scope="module")
def stacks_server(stacks_lib: tuple[Path, list[Any]]) -> Iterator[ServeProcess]:
    server = ServeProcess.start(stacks_lib[0])
    yield server
    assert server.stop() == 0, server.log


def _voxels(client: Any, header: dict[str, Any]) -> np.ndarray:
    level0 = header["levels"][0]
    with client.stream("GET", level0["url"]) as r:
        assert r.status_code == 200
        wire = b"".join(r.iter_raw())
    got = unshuffle(gzip.decompress(wire), header["dtype"], r.headers["x-ownscan-encoding"])
    return got.reshape(level0["shape"])


def test_each_stack_has_its_own_header_and_voxels(stacks_server, stacks_lib):
    stacks = stacks_lib[1]
    assert len(stacks) == 3
    c = stacks_server.client()
    labels = []
    seen = set()
    for n in (1, 2, 3):
        h = c.get(f"/api/series/{SERIES_UID}~{n}").json()
        # the stack of the same place (the server's order is the library's assembly's)
        (k,) = [k for k, s in enumerate(stacks) if np.allclose(s.load().affine, h["affine"])]
        seen.add(k)
        stack = stacks[k]
        assert h["stack"]["number"] == n and h["stack"]["id"] == f"{SERIES_UID}~{n}"
        assert h["stack"]["label"].startswith(f"stack {n} of 3, ")
        assert [s["id"] for s in h["stacks"]] == [f"{SERIES_UID}~{k}" for k in (1, 2, 3)]
        vol = stack.load()
        np.testing.assert_array_equal(_voxels(c, h), vol.voxels)
        # assembly's own note (split into 3 stacks) is kept
        assert any("3 stacks" in w for w in h["warnings"]), h["warnings"]
        labels.append((k, h["stack"]["label"]))
        png = c.get(f"/api/series/{SERIES_UID}~{n}/render.png?mode=mpr&plane=axial&width=64")
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        thumb = c.get(f"/api/series/{SERIES_UID}~{n}/thumbnail.png")
        assert thumb.status_code == 200
    assert seen == {0, 1, 2}  # each stack once
    # the tilted stacks (-15 and +15 degrees) are named oblique, the straight one not
    for k, label in labels:
        assert ("oblique axial" in label) == (TILTS[k] != 0), labels


def test_plain_uid_shows_stack_one_and_says_so(stacks_server, stacks_lib):
    c = stacks_server.client()
    h = c.get(f"/api/series/{SERIES_UID}").json()
    assert h["stack"]["number"] == 1 and len(h["stacks"]) == 3
    assert "holds 3 stacks" in h["warnings"][0] and "stack 1 of 3" in h["warnings"][0]
    one = c.get(f"/api/series/{SERIES_UID}~1").json()
    assert h["affine"] == one["affine"]
    np.testing.assert_array_equal(_voxels(c, h), _voxels(c, one))
    # asked twice, said once
    again = c.get(f"/api/series/{SERIES_UID}").json()
    assert sum("holds 3 stacks" in w for w in again["warnings"]) == 1
    assert c.get(f"/api/series/{SERIES_UID}/thumbnail.png").status_code == 200


def test_no_such_stack(stacks_server):
    c = stacks_server.client()
    r = c.get(f"/api/series/{SERIES_UID}~4")
    assert r.status_code == 404 and "stacks 1..3" in r.text
    assert c.get(f"/api/series/{SERIES_UID}~0").status_code == 404  # not a stack name


def _draw_axial(page: Any) -> dict[str, Any]:
    page.wait_for_selector(".stage[data-level='0'][data-quality='full']", timeout=120_000)
    page.click("button[data-layout='axial']")
    return page.evaluate(
        """async () => {
            const v = window.ownscanViewer;
            if (v.renderer) await v.renderer.gradientSettled();
            v.viewState.axial.zoom = 1.02 / 1.04;  // the renderer's margin (test_browser_view)
            await v.afterDraw();
            const c = document.querySelector('.stage canvas.gl');
            return {w: c.width, h: c.height, win: v.window, uid: v.uid,
                    stacks: [...document.querySelectorAll('.stacks a')].map(a => a.textContent),
                    active: document.querySelector('.stacks a.active')?.textContent};
        }"""
    )


def _matches_server(page: Any, base: str, info: dict[str, Any]) -> np.ndarray:
    mine = canvas_rgb(page)
    w, h, win = info["w"], info["h"], info["win"]
    resp = page.context.request.get(
        f"{base}/api/series/{info['uid']}/render.png?mode=mpr&plane=axial&width={w}"
        f"&height={h}&window={win['width']}&level={win['level']}"
    )
    ref = np.asarray(Image.open(io.BytesIO(resp.body())).convert("RGB"))
    assert mine.std() > 10 and ref.std() > 10
    diff = np.abs(mine.astype(int) - ref.astype(int)).max(axis=-1)
    assert (diff > 2).mean() < 0.002, f"{(diff > 2).mean():.4f} of pixels differ"
    return mine


def test_page_names_each_stack_and_draws_the_one_chosen(stacks_server, desktop, tmp_path):
    page = desktop
    sign_in(page, stacks_server)
    # the plain address (a link kept from before) still opens the series: its stack 1
    page.evaluate(f"location.hash = '#/series/{SERIES_UID}'")
    first = _draw_axial(page)
    assert first["uid"] == SERIES_UID
    assert len(first["stacks"]) == 3 and first["active"].startswith("stack 1 of 3")
    assert "holds 3 stacks" in page.locator(".warnings summary").inner_text()
    one = _matches_server(page, stacks_server.base, first)
    page.screenshot(path=str(tmp_path / "stack1.png"))
    page.locator(".stacks a", has_text="stack 3 of 3").click()
    # a function, not an expression: Playwright evaluates a bare expression with eval, which
    # the page's Content Security Policy refuses (as it should)
    page.wait_for_function(f"() => window.ownscanViewer.uid === '{SERIES_UID}~3'")
    third = _draw_axial(page)
    assert third["active"].startswith("stack 3 of 3")
    three = _matches_server(page, stacks_server.base, third)
    page.screenshot(path=str(tmp_path / "stack3.png"))
    assert np.abs(one.astype(int) - three.astype(int)).max() > 50  # another picture


def test_library_lists_each_stack_once_assembled(stacks_server, desktop, tmp_path):
    """The list shows each stack as a card of its own (recorded by the library at import;
    test_browser_compare_stacks.py shows them before anything was read), also once the series
    was assembled (its thumbnail), and a card opens its stack."""
    c = stacks_server.client()
    assert c.get(f"/api/series/{SERIES_UID}/thumbnail.png").status_code == 200
    (series,) = c.get("/api/library").json()["patients"][0]["studies"][0]["series"]
    assert [s["id"] for s in series["stacks"]] == [f"{SERIES_UID}~{k}" for k in (1, 2, 3)]
    assert sum(s["images"] for s in series["stacks"]) == series["images"] == 24
    page = desktop
    sign_in(page, stacks_server)
    cards = page.locator(".series")
    assert cards.count() == 3
    uids = [cards.nth(k).get_attribute("data-uid") for k in range(3)]
    assert uids == [f"{SERIES_UID}~{k}" for k in (1, 2, 3)]
    page.screenshot(path=str(tmp_path / "library.png"))
    words = cards.nth(1).inner_text()
    assert "stack 2 of 3" in words and "8 images" in words
    cards.nth(1).click()
    info = _draw_axial(page)
    assert info["uid"] == f"{SERIES_UID}~2" and info["active"].startswith("stack 2 of 3")
    _matches_server(page, stacks_server.base, info)
    # the plain UID's warning is for the plain address only
    assert "holds 3 stacks" not in page.locator(".warnings").inner_text()
