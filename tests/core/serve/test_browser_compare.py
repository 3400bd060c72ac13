"""Comparing in the page (compare.js) and its routes, against a real ``ownscan serve`` and
Debian's Chromium: the CT phantom pair of tests/core/compare (a prior chest and, a year later,
the same chest moved with a new 8 mm lesion) and a series of another patient.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser_support import sign_in, watch_errors
from PIL import Image
from serve_process import ServeProcess

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "compare"))  # ctpair.py, volgen.py


from ctpair import LESION, ownscan_import, write_ct_pair  # noqa: E402
from volgen import write_volume_series  # noqa: E402

from ownscan.core.volume import SeriesInfo  # noqa: E402


@pytest.fixture(scope="module")
def pair_library(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A library with the CT pair (two studies of one patient) and a CT of another patient."""
    root = tmp_path_factory.mktemp("cmplib")
    pair = write_ct_pair(root / "src")
    prior = pair["prior"]
    other = SeriesInfo(patient_name="ROE^RICHARD", patient_id="X-9", patient_birth_date="19600101")
    write_volume_series(
        root / "src" / "other",
        prior.voxels[::4],  # type: ignore[attr-defined]
        spacing=(prior.spacing[0], prior.spacing[1], 4 * prior.spacing[2]),  # type: ignore[attr-defined]
        origin=prior.origin,  # type: ignore[attr-defined]
        direction=prior.direction,  # type: ignore[attr-defined]
        modality="CT",
        info=other,
    )
    ownscan_import(root / "src", root / "library")
    return {**pair, "library": root / "library"}


@pytest.fixture(scope="module")
def served_pair(pair_library: dict[str, Any]) -> Iterator[ServeProcess]:
    server = ServeProcess.start(pair_library["library"])
    yield server
    assert server.stop() == 0, server.log


def _uids(pair_library: dict[str, Any]) -> tuple[str, str]:
    return (
        pair_library["prior"].info.series_instance_uid,
        pair_library["current"].info.series_instance_uid,
    )


def test_routes_priors_registration_refusal(served_pair, pair_library) -> None:
    prior_uid, current_uid = _uids(pair_library)
    c = served_pair.client()
    r = c.get(f"/api/series/{current_uid}/priors")
    assert r.status_code == 200, r.text
    data = r.json()
    assert [p["series_uid"] for p in data["proposed"]] == [prior_uid]
    assert data["proposed"][0]["same_patient"] and data["proposed"][0]["reasons"]
    other = [o for o in data["others"] if not o["same_patient"]]
    assert len(other) == 1 and any("X-9" in d for d in other[0]["patient_differences"])

    r = c.post(f"/api/compare/{prior_uid}/{current_uid}", json={}, headers={"X-Ownscan": "1"})
    assert r.status_code == 200, r.text
    reg = r.json()
    assert reg["method"] == "rigid-mattes-mi-v1" and not reg["poor"]
    m = np.asarray(reg["transform"])
    truth = pair_library["truth"]
    expected = truth[:3, :3] @ LESION + truth[:3, 3]
    assert np.linalg.norm(m[:3, :3] @ LESION + m[:3, 3] - expected) < 0.6
    assert (
        reg["prior"]["study_date"] == "2024-01-10" and reg["current"]["study_date"] == "2025-01-15"
    )
    # kept in the library: a new server reads it back instead of registering again
    lib = pair_library["library"]
    again = ServeProcess.start(lib, log_dir=lib.parent)
    try:
        r2 = again.client().post(
            f"/api/compare/{prior_uid}/{current_uid}", json={}, headers={"X-Ownscan": "1"}
        )
        assert r2.status_code == 200 and r2.json()["reused"] is True
        np.testing.assert_allclose(r2.json()["transform"], reg["transform"], atol=1e-9)
    finally:
        assert again.stop() == 0

    other_uid = other[0]["series_uid"]
    r = c.post(f"/api/compare/{other_uid}/{current_uid}", json={}, headers={"X-Ownscan": "1"})
    assert r.status_code == 409 and "X-9" in r.json()["error"] and "force" in r.json()["error"]
    r = c.post(
        f"/api/compare/{other_uid}/{current_uid}",
        json={"force": True, "register": False},
        headers={"X-Ownscan": "1"},
    )
    assert r.status_code == 200 and r.json()["patient_differences"]
    # a pane through the lesion, the difference: red at the lesion (the pane's own geometry)
    g = reg["planes"]["axial"]
    url = (
        f"/api/compare/{prior_uid}/{current_uid}/pane.png?which=difference&plane=axial:{LESION[2]}"
    )
    png = np.asarray(Image.open(io.BytesIO(c.get(url).content)).convert("RGB")).astype(int)
    corner = np.asarray(g["corner"])
    corner[2] = LESION[2]
    col = (LESION - corner) @ np.asarray(g["right"]) / g["pixel_mm"]
    row = (LESION - corner) @ np.asarray(g["down"]) / g["pixel_mm"]
    at = png[round(row) - 1 : round(row) + 2, round(col) - 1 : round(col) + 2]
    assert (at[..., 0] > 100).all() and (at[..., 0] > 2 * at[..., 2]).all()


def _pane_box(page: Any, name: str) -> dict[str, float]:
    box = page.locator(f".compare-pane[data-pane='{name}'] .compare-inner").bounding_box()
    assert box is not None
    return box


def _loaded(page: Any) -> None:
    page.wait_for_function(
        "() => { const r = document.querySelector('.compare'); const imgs = [...r.querySelectorAll"
        "('.compare-inner img')]; return r.dataset.loading === '0' && imgs.every(i => i.complete"
        " && i.naturalWidth) }",
        timeout=120_000,
    )


def _shot(page: Any) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(page.screenshot())).convert("RGB")).astype(int)


def _patch(img: np.ndarray, box: dict[str, float], fx: float, fy: float, r: int = 30) -> Any:
    x, y = round(box["x"] + fx * box["width"]), round(box["y"] + fy * box["height"])
    return img[y - r : y + r, x - r : x + r].mean(axis=-1)


def _signed_in(browser: Any, server: ServeProcess) -> tuple[Any, Any, list[str]]:
    """A 1200x760 page signed in to ``server``: its context, the page and its errors."""
    ctx = browser.new_context(viewport={"width": 1200, "height": 760}, device_scale_factor=1)
    page = ctx.new_page()
    errors = watch_errors(page)
    sign_in(page, server)
    return ctx, page, errors


def test_the_page_compares_linked_with_difference_and_flicker(
    served_pair, pair_library, browser, tmp_path
) -> None:
    prior_uid, current_uid = _uids(pair_library)
    ctx, page, errors = _signed_in(browser, served_pair)
    page.locator(f".series[data-uid='{current_uid}']").click()
    page.wait_for_selector(".stage[data-level='0'][data-quality='full']", timeout=120_000)
    page.get_by_role("button", name="Compare…").click()
    page.wait_for_selector(".compare-choice")
    choices = page.locator(".compare-choice")
    assert choices.first.get_attribute("data-uid") == prior_uid  # the proposed prior first
    different = page.locator(".compare-choice", has_text="different patient")
    assert different.count() == 1
    different.click()  # refused first, saying why
    assert "X-9" in page.locator(".refusal").inner_text()
    choices.first.click()
    page.wait_for_selector(".compare .compare-pane[data-pane='prior']", timeout=120_000)
    _loaded(page)
    page.screenshot(path=str(tmp_path / "side.png"))
    assert page.locator(".banner").count() == 0  # same patient, a good registration

    # a click in the PRIOR pane moves the one crosshair; the current's pane shows it at the
    # same place, on the same anatomy (the prior's pane is sampled through the registration)
    pb, cb = _pane_box(page, "prior"), _pane_box(page, "current")
    fx, fy = 0.3, 0.42
    page.mouse.click(pb["x"] + fx * pb["width"], pb["y"] + fy * pb["height"])
    _loaded(page)
    cursor = np.asarray(
        [float(v) for v in page.locator(".compare").get_attribute("data-cursor").split(",")]
    )
    info = page.evaluate("() => window.ownscanCompare.info.planes.axial")
    corner = np.asarray(info["corner"])
    corner[2] = cursor[2]
    col = (cursor - corner) @ np.asarray(info["right"]) / info["pixel_mm"]
    assert abs((col + 0.5) / info["size"][0] - fx) < 0.01  # the clicked pixel
    for name, box in (("prior", pb), ("current", cb)):
        v = page.locator(f".compare-pane[data-pane='{name}'] .cross-v").bounding_box()
        h = page.locator(f".compare-pane[data-pane='{name}'] .cross-h").bounding_box()
        assert abs((v["x"] - box["x"]) / box["width"] - fx) < 0.01
        assert abs((h["y"] - box["y"]) / box["height"] - fy) < 0.01
    img = _shot(page)
    a, b = _patch(img, pb, fx, fy), _patch(img, cb, fx, fy)
    linked = float(np.corrcoef(a.ravel(), b.ravel())[0, 1])
    assert linked > 0.8, linked

    # difference through the lesion: a red blob there and nowhere else
    page.select_option(".compare-mode", "difference")
    page.evaluate(
        "([x, y, z]) => { const v = window.ownscanCompare; v.cursor = [x, y, z]; v.update() }",
        [float(LESION[0] + 40), float(LESION[1] + 40), float(LESION[2])],
    )
    _loaded(page)
    page.screenshot(path=str(tmp_path / "difference.png"))
    db = _pane_box(page, "difference")
    img = _shot(page)
    pane = img[
        round(db["y"]) : round(db["y"] + db["height"]),
        round(db["x"]) : round(db["x"] + db["width"]),
    ]
    red = ((pane[..., 0] > 120) & (pane[..., 1] < 100) & (pane[..., 2] < 90)).astype(float)
    corner[2] = LESION[2]
    scale = db["width"] / info["size"][0]  # screen pixels per picture pixel
    lx = ((LESION - corner) @ np.asarray(info["right"]) / info["pixel_mm"] + 0.5) * scale
    ly = ((LESION - corner) @ np.asarray(info["down"]) / info["pixel_mm"] + 0.5) * scale
    k = max(3, round(8.0 / info["pixel_mm"] * scale))
    c = np.cumsum(np.cumsum(np.pad(red, ((1, 0), (1, 0))), 0), 1)
    box = (c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]) / k**2
    peak = np.unravel_index(np.argmax(box), box.shape)
    found = (peak[1] + (k - 1) / 2, peak[0] + (k - 1) / 2)
    mm = info["pixel_mm"] / scale
    assert np.hypot(found[0] - lx, found[1] - ly) * mm < 3.0 and box[peak] > 0.5
    rows, cols = np.indices(box.shape)
    far = np.hypot(cols + (k - 1) / 2 - lx, rows + (k - 1) / 2 - ly) * mm > 10.0
    assert box[far].max() < 0.4 * box[peak]

    # flicker: the third pane alternates prior and current
    page.select_option(".compare-mode", "flicker")
    _loaded(page)
    pane = page.locator(".compare-pane[data-pane='flicker']")
    first = pane.get_attribute("data-showing")
    page.wait_for_function(
        f"() => document.querySelector(\".compare-pane[data-pane='flicker']\").dataset.showing"
        f" !== '{first}'",
        timeout=10_000,
    )

    # scanner coordinates: the same click lands on other anatomy in the prior's pane
    page.select_option(".compare-mode", "side-by-side")
    page.locator(".compare-register").uncheck()
    page.wait_for_selector(".banner.warn")  # different frames of reference: said
    page.mouse.click(pb["x"] + fx * pb["width"], pb["y"] + fy * pb["height"])
    _loaded(page)
    img = _shot(page)
    a, b = _patch(img, pb, fx, fy), _patch(img, cb, fx, fy)
    scanner = float(np.corrcoef(a.ravel(), b.ravel())[0, 1])
    print("correlations linked", linked, "scanner", scanner)
    assert scanner < linked - 0.1, (scanner, linked)
    ctx.close()
    assert not errors, errors


def _plane_of(page: Any, name: str) -> str:
    src = page.locator(f".compare-pane[data-pane='{name}'] img").get_attribute("src")
    return str(dict(p.split("=", 1) for p in src.split("?", 1)[1].split("&"))["plane"])


def test_unlinked_panes_scroll_alone_and_relink_at_the_current_point(
    served_pair, pair_library, browser, tmp_path
) -> None:
    prior_uid, current_uid = _uids(pair_library)
    ctx, page, errors = _signed_in(browser, served_pair)
    page.evaluate(f"() => {{ location.hash = '#/compare/{current_uid}/{prior_uid}' }}")
    page.wait_for_selector(".compare .compare-pane[data-pane='prior']", timeout=120_000)
    _loaded(page)
    pb, cb = _pane_box(page, "prior"), _pane_box(page, "current")
    before = _shot(page)
    plane = _plane_of(page, "current")
    assert _plane_of(page, "prior") == plane  # linked: one slice

    page.locator(".compare-linked").uncheck()
    assert page.locator(".compare").get_attribute("data-linked") == "false"
    page.mouse.move(pb["x"] + pb["width"] / 2, pb["y"] + pb["height"] / 2)
    for _ in range(8):
        page.mouse.wheel(0, -100)  # up: 8 slices on in the PRIOR pane only
    _loaded(page)
    page.screenshot(path=str(tmp_path / "unlinked.png"))
    after = _shot(page)
    assert _plane_of(page, "current") == plane
    assert _plane_of(page, "prior") != plane
    crop = {
        k: (round(b["y"]), round(b["y"] + b["height"]), round(b["x"]), round(b["x"] + b["width"]))
        for k, b in (("prior", pb), ("current", cb))
    }

    def region(img: np.ndarray, k: str) -> np.ndarray:
        y0, y1, x0, x1 = crop[k]
        return img[y0 + 40 : y1, x0:x1]  # below the title's text

    assert np.abs(region(after, "prior") - region(before, "prior")).mean() > 2.0
    assert np.abs(region(after, "current") - region(before, "current")).mean() < 0.5
    # its own window: a drag in the prior pane leaves the current's window alone
    w0 = page.evaluate("() => window.ownscanCompare.window.width")
    page.mouse.move(pb["x"] + pb["width"] / 2, pb["y"] + pb["height"] / 2)
    page.mouse.down()
    page.mouse.move(pb["x"] + pb["width"] / 2 + 60, pb["y"] + pb["height"] / 2)
    page.mouse.up()
    own = page.evaluate("() => window.ownscanCompare.own.window.width")
    assert page.evaluate("() => window.ownscanCompare.window.width") == w0 and own > w0 * 1.3

    # linked again: the prior is back at the current's point through the transform
    page.locator(".compare-linked").check()
    _loaded(page)
    assert _plane_of(page, "prior") == _plane_of(page, "current") == plane
    relinked = _shot(page)
    assert np.abs(region(relinked, "prior") - region(before, "prior")).mean() < 0.5
    ctx.close()
    assert not errors, errors
