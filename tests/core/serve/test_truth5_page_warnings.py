"""The page says a series' warnings wherever it shows its pictures, and a picture taken from it
carries them: the viewer's header (as before), the compare view's banners (each side's, said
of the prior or the current), and the server's ``render.png`` (PNG's ``Warning`` text chunk,
the files named without their folders, as ``ownscan render`` writes it; the compare panes'
``pane.png`` each side's, as ``ownscan compare -o``). A real ``ownscan
serve`` on a library of a tilted CT with two slices missing and a plain CT of the same
patient; the compare view in Debian's Chromium."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import sign_in, watch_errors
from PIL import Image
from serve_process import ServeProcess, write_ct_series

from ownscan.core.library import open_library


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src")
    positions = [k * 2.5 for k in range(10) if k not in (4, 5)]
    write_ct_series(src / "warned", tilt_deg=12.0, positions=positions, description="tilted")
    write_ct_series(src / "plain", n_slices=10, series_number=2, description="plain")
    lib = tmp_path_factory.mktemp("lib") / "library"
    with open_library(lib) as opened:
        from ownscan.core.plugin_host import get_host
        from ownscan.core.plugin_types import ImportOptions

        for name in ("warned", "plain"):
            imp = get_host().find_importer(str(src / name))
            rep = opened.import_items(imp.iter_items(str(src / name), ImportOptions()))
            assert rep.ok, rep.summary()
    return lib


@pytest.fixture(scope="module")
def server(library: Path) -> Iterator[ServeProcess]:
    s = ServeProcess.start(library)
    yield s
    assert s.stop() == 0, s.log


@pytest.fixture(scope="module")
def uids(library: Path) -> dict[str, str]:
    with open_library(library) as lib:
        return {s.description: s.series_uid for s in lib.series() if not s.is_document}


def _no_folders(text: str) -> str:
    return re.sub(r"/\S*/", "", text)


def test_render_png_carries_the_warnings_the_header_shows(
    server: ServeProcess, uids: dict[str, str], library: Path
) -> None:
    c = server.client()
    header = c.get(f"/api/series/{uids['tilted']}")
    assert header.status_code == 200, header.text
    shown = header.json()["warnings"]
    assert len(shown) == 2 and any("gantry tilt" in w for w in shown)
    r = c.get(f"/api/series/{uids['tilted']}/render.png?mode=mip&width=64&height=48")
    assert r.status_code == 200, r.text
    with Image.open(io.BytesIO(r.content)) as im:
        said = im.text["Warning"].splitlines()
    assert [_no_folders(w) for w in said] == [_no_folders(w) for w in shown]
    assert str(library) not in "\n".join(said) and "/" not in "\n".join(said)
    plain = c.get(f"/api/series/{uids['plain']}/render.png?mode=mip&width=64&height=48")
    assert plain.status_code == 200
    with Image.open(io.BytesIO(plain.content)) as im:
        assert "Warning" not in im.text


def test_the_compare_route_gives_each_sides_warnings(
    server: ServeProcess, uids: dict[str, str]
) -> None:
    c = server.client()
    shown = c.get(f"/api/series/{uids['tilted']}").json()["warnings"]
    r = c.post(
        f"/api/compare/{uids['tilted']}/{uids['plain']}",
        json={"register": False},
        headers={"X-Ownscan": "1"},
    )
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["prior"]["warnings"] == shown
    assert data["current"]["warnings"] == []
    # a pane's picture keeps them, each said of its side, as `ownscan compare -o` writes it
    for which in ("prior", "current", "difference"):
        pane = c.get(
            f"/api/compare/{uids['tilted']}/{uids['plain']}/pane.png",
            params={"which": which, "plane": "axial", "register": "0"},
        )
        assert pane.status_code == 200, pane.text
        with Image.open(io.BytesIO(pane.content)) as im:
            said = im.text["Warning"].splitlines()
        assert [_no_folders(w) for w in said] == [_no_folders(f"prior: {w}") for w in shown]


def test_the_compare_view_says_the_priors_warnings(
    server: ServeProcess, uids: dict[str, str], browser: Any, tmp_path: Path
) -> None:
    ctx = browser.new_context(viewport={"width": 1200, "height": 760}, device_scale_factor=1)
    page = ctx.new_page()
    errors = watch_errors(page)
    try:
        sign_in(page, server)
        current, prior = uids["plain"], uids["tilted"]
        page.evaluate(f"() => {{ location.hash = '#/compare/{current}/{prior}' }}")
        page.wait_for_selector(".compare .compare-pane[data-pane='prior']", timeout=120_000)
        page.wait_for_selector(".banner.warn", timeout=60_000)
        banners = page.locator(".banner.warn").all_inner_texts()
        page.screenshot(path=str(tmp_path / "compare.png"))
        said = [b for b in banners if b.startswith("Prior: Warning: ")]
        assert len(said) == 2 and any("gantry tilt of 12.00 degrees" in b for b in said)
        assert not [b for b in banners if b.startswith("Current: ")]
    finally:
        ctx.close()
    assert not errors, errors
