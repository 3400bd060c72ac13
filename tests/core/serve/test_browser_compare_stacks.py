"""Comparing with a series of several stacks (``UID~N``), against a real ``ownscan serve``,
Debian's Chromium and the real ``ownscan compare``: a lumbar spine's three axial stacks angled
to three discs (-15, 0, +15 degrees, tests/core/stacksgen.py's), scanned in 2023 and again in
2024. A stack's priors are the prior's stacks, the comparable one (the same angle) first and
named; each pair of stacks has its own registration; and the library lists every stack from
its first listing, before any series was read."""

from __future__ import annotations

import json
import math
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from browser_support import sign_in, watch_errors
from serve_process import ServeProcess, served_import

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # stacksgen, ctgen

from stacksgen import write_dated_stacks  # noqa: E402

from ownscan.core.library import open_library  # noqa: E402

PRIOR = "1.2.826.0.1.3680043.8.498.7771001"
CURRENT = "1.2.826.0.1.3680043.8.498.7772001"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both studies in ``src``."""
    root = tmp_path_factory.mktemp("cmpstacks")
    write_dated_stacks(root / "src" / "prior", PRIOR, PRIOR + ".9", "20230301")
    write_dated_stacks(root / "src" / "current", CURRENT, CURRENT + ".9", "20240301")
    return root


@pytest.fixture(scope="module")
def server(root: Path) -> Iterator[ServeProcess]:
    """``ownscan serve`` on the library ``ownscan import`` made of both studies."""
    with served_import(root) as server:
        yield server


@pytest.fixture(scope="module")
def lib_path(root: Path, server: ServeProcess) -> Path:
    return root / "library"


def _tilts(lib_path: Path, uid: str) -> list[float]:
    """The tilt of each stack of ``uid`` as the library numbers them (from its recorded slice
    direction: (0, -sin t, cos t))."""
    with open_library(lib_path, read_only=True) as lib:
        (se,) = [s for s in lib.series() if s.series_uid == uid]
    assert se.stacks is not None
    return [round(math.degrees(math.asin(-s.normal[1]))) for s in se.stacks]


def _same_angle(lib_path: Path, n: int) -> int:
    """The prior's stack at the angle of the current's stack ``n``."""
    return _tilts(lib_path, PRIOR).index(_tilts(lib_path, CURRENT)[n - 1]) + 1


def test_the_first_listing_shows_every_stack(server, desktop):
    """Before any series was read (no thumbnail, no view), each stack is a card."""
    series = server.client().get("/api/library").json()["patients"][0]["studies"]
    ids = [[st["id"] for st in se["stacks"]] for s in series for se in s["series"]]
    assert ids == [[f"{u}~{k}" for k in (1, 2, 3)] for u in (PRIOR, CURRENT)]
    (first,) = series[0]["series"]
    assert {st["plane"] for st in first["stacks"]} == {"axial", "oblique axial"}
    assert all(st["label"].endswith("8 images") for st in first["stacks"])
    # the page: a card per stack, each saying which
    sign_in(desktop, server)
    cards = desktop.locator(".series")
    cards.nth(5).wait_for()
    assert [cards.nth(k).get_attribute("data-uid") for k in range(cards.count())] == [
        f"{u}~{k}" for u in (PRIOR, CURRENT) for k in (1, 2, 3)
    ]
    assert "stack 3 of 3" in cards.nth(5).inner_text()


def test_a_stack_s_priors_put_the_comparable_stack_first(server, lib_path):
    c = server.client()
    for n in (1, 2, 3):
        r = c.get(f"/api/series/{CURRENT}~{n}/priors")
        assert r.status_code == 200, r.text
        data = r.json()
        assert data["series_uid"] == f"{CURRENT}~{n}"
        best = data["proposed"][0]
        m = _same_angle(lib_path, n)
        assert best["series_uid"] == f"{PRIOR}~{m}", data["proposed"]
        assert best["stack"].startswith(f"stack {m} of 3")
        assert any(
            "nearest the current's slice direction (0 degrees)" in w for w in best["reasons"]
        )
        assert [p["series_uid"] for p in data["proposed"]] == [f"{PRIOR}~{m}"]
        # the other stacks of the prior and of the current itself can be chosen too
        others = {o["series_uid"] for o in data["others"]}
        want = {f"{PRIOR}~{k}" for k in (1, 2, 3) if k != m}
        want |= {f"{CURRENT}~{k}" for k in (1, 2, 3) if k != n}
        assert others == want
    # the plain UID is its stack 1, as the page shows it
    plain = c.get(f"/api/series/{CURRENT}/priors").json()
    assert plain["proposed"][0]["series_uid"] == f"{PRIOR}~{_same_angle(lib_path, 1)}"
    assert c.get(f"/api/series/{CURRENT}~4/priors").status_code == 404


def test_each_pair_of_stacks_is_registered_and_kept(server, lib_path):
    c = server.client()
    m = _same_angle(lib_path, 3)
    url = f"/api/compare/{PRIOR}~{m}/{CURRENT}~3"
    r = c.post(url, json={}, headers={"X-Ownscan": "1"})
    assert r.status_code == 200, r.text
    reg = r.json()
    assert reg["prior"]["series_uid"] == f"{PRIOR}~{m}"
    assert reg["current"]["series_uid"] == f"{CURRENT}~3"
    assert reg["prior"]["stack"].startswith(f"stack {m} of 3")
    assert reg["current"]["stack"].startswith("stack 3 of 3")
    # the same anatomy at the same place: the registration is (nearly) the identity
    np.testing.assert_allclose(np.asarray(reg["transform"]), np.eye(4), atol=0.6)
    png = c.get(f"{url}/pane.png?which=difference&plane=axial")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    conn = sqlite3.connect(lib_path / "index.sqlite")
    rows = conn.execute(
        "SELECT prior_series_uid, prior_stack, current_series_uid, current_stack FROM registrations"
    ).fetchall()
    conn.close()
    assert rows == [(PRIOR, m, CURRENT, 3)]


def test_ownscan_compare_takes_a_stack_and_picks_the_prior_s(lib_path):
    exe = str(Path(sys.executable).with_name("ownscan"))
    n = 1
    m = _same_angle(lib_path, n)
    r = subprocess.run(
        [exe, "compare", "--priors", f"library:{CURRENT}~{n}", "--json", "--library", lib_path],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    (best,) = json.loads(r.stdout)
    assert best["series_uid"] == f"{PRIOR}~{m}" and best["stack"].startswith(f"stack {m} of 3")
    r = subprocess.run(
        [exe, "compare", "auto", f"library:{CURRENT}~{n}", "--json", "--library", lib_path],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode in (0, 1), r.stderr
    out = json.loads(r.stdout)
    assert out["prior"]["source"] == f"library:{PRIOR}~{m}"
    assert out["current"]["source"] == f"library:{CURRENT}~{n}"
    assert f"prior: {PRIOR}~{m}" in r.stderr and f"stack {m} of 3" in r.stderr
    with open_library(lib_path, read_only=True) as lib:
        kept = lib.registration(PRIOR, CURRENT, out["method"], prior_stack=m, current_stack=n)
    assert kept is not None
    np.testing.assert_allclose(np.asarray(kept.matrix), np.asarray(out["transform"]), atol=1e-9)
    # a stack the series does not have is refused, naming those it has
    r = subprocess.run(
        [exe, "compare", "auto", f"library:{CURRENT}~7", "--library", lib_path],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode != 0 and "stacks 1..3" in r.stderr


def test_the_page_compares_a_stack_with_the_comparable_prior(server, lib_path, browser, tmp_path):
    ctx = browser.new_context(viewport={"width": 1200, "height": 760}, device_scale_factor=1)
    page = ctx.new_page()
    errors = watch_errors(page)
    sign_in(page, server)
    n = 2
    m = _same_angle(lib_path, n)
    page.locator(f".series[data-uid='{CURRENT}~{n}']").click()
    page.wait_for_selector(".stage[data-level='0'][data-quality='full']", timeout=120_000)
    page.get_by_role("button", name="Compare…").click()
    page.wait_for_selector(".compare-choice")
    first = page.locator(".compare-choice").first
    assert first.get_attribute("data-uid") == f"{PRIOR}~{m}"
    assert f"stack {m} of 3" in first.inner_text()
    page.screenshot(path=str(tmp_path / "choices.png"))
    first.click()
    page.wait_for_selector(".compare .compare-pane[data-pane='prior']", timeout=120_000)
    page.wait_for_function(
        "() => { const r = document.querySelector('.compare'); const imgs = [...r.querySelectorAll"
        "('.compare-inner img')]; return r.dataset.loading === '0' && imgs.length && imgs.every("
        "i => i.complete && i.naturalWidth) }",
        timeout=120_000,
    )
    page.screenshot(path=str(tmp_path / "compare.png"))
    # each pane says which stack it shows
    prior_title = page.locator(".compare-pane[data-pane='prior']").inner_text()
    current_title = page.locator(".compare-pane[data-pane='current']").inner_text()
    assert f"stack {m} of 3" in prior_title and f"stack {n} of 3" in current_title
    assert f"{PRIOR}~{m}" in page.url and f"{CURRENT}~{n}" in page.url
    assert not errors, errors
    ctx.close()
