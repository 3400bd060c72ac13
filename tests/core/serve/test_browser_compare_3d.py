"""The page's compare view in 3D, against a real ``ownscan serve`` and Debian's Chromium: the
real head MR (the prior) and the same head moved by a known rigid motion (the current, on
another grid, in another frame of reference). The two 3D panes share one camera: the prior's
is the current's turned by the registration on the server (``ownscan.core.compare.
linked_camera``), so both show the same anatomy from the same side, and a drag in either
turns both.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pytest
from browser_support import sign_in, watch_errors
from PIL import Image
from serve_process import ServeProcess

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "compare"))  # ctpair.py, volgen.py

from ctpair import ownscan_import  # noqa: E402
from volgen import moved_copy, rigid, write_volume_series  # noqa: E402

from ownscan.core import load_volume  # noqa: E402
from ownscan.core.volume import Volume  # noqa: E402

# the known motion (current LPS -> prior LPS): 12 degrees about an oblique axis, then 14 mm
AXIS, DEGREES, SHIFT = (0.3, 1.0, 0.5), 12.0, (8.0, -10.0, 6.0)


@pytest.fixture(scope="module")
def head_pair(mr_head_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A library with the head MR at half resolution (the prior, 2024) and that head moved
    (the current, 2025, 2 mm axial grid, a new Frame of Reference UID, intensities x0.6)."""
    root = tmp_path_factory.mktemp("cmp3d")
    head = load_volume(mr_head_dir)
    prior = Volume(
        head.voxels[::2, ::2, ::2].astype(np.float32),
        spacing=tuple(2 * s for s in head.spacing),
        origin=head.origin,
        direction=head.direction,
        info=head.info,
    )
    prior_uid, current_uid = "1.2.826.0.1.3680043.8.498.1901", "1.2.826.0.1.3680043.8.498.1902"
    write_volume_series(
        root / "src" / "prior",
        prior.voxels,
        spacing=prior.spacing,
        origin=prior.origin,
        direction=prior.direction,
        modality="MR",
        info=head.info,
        series_uid=prior_uid,
        study_date="20240110",
        description="head prior",
    )
    centre = prior.index_to_lps((np.asarray(prior.shape[::-1]) - 1) / 2.0)
    truth = rigid(AXIS, DEGREES, SHIFT, centre)
    shape, spacing = (100, 120, 110), (2.0, 2.0, 2.0)
    origin = centre - np.asarray(spacing) * (np.asarray(shape[::-1]) - 1) / 2.0
    write_volume_series(
        root / "src" / "current",
        # another scanner's gain: the intensity match (x0.6) maps the prior's window
        0.6 * moved_copy(prior, truth, shape=shape, spacing=spacing, origin=origin),
        spacing=spacing,
        origin=origin,
        direction=np.eye(3),
        modality="MR",
        info=head.info,
        series_uid=current_uid,
        study_date="20250115",
        description="head moved",
    )
    ownscan_import(root / "src", root / "library")
    return {"library": root / "library", "prior": prior_uid, "current": current_uid}


@pytest.fixture(scope="module")
def served_heads(head_pair: dict[str, Any]) -> Iterator[ServeProcess]:
    server = ServeProcess.start(head_pair["library"])
    yield server
    assert server.stop() == 0, server.log


def _loaded(page: Any) -> None:
    page.wait_for_function(
        "() => { const r = document.querySelector('.compare'); const imgs = [...r.querySelectorAll"
        "('.compare-inner img')]; return r.dataset.loading === '0' && imgs.every(i => i.complete"
        " && i.naturalWidth) }",
        timeout=180_000,
    )


def _pane(page: Any, name: str) -> np.ndarray:
    """The pane's picture as the screen shows it (grey, float)."""
    shot = page.locator(f".compare-pane[data-pane='{name}']").screenshot()
    return np.asarray(Image.open(io.BytesIO(shot)).convert("L")).astype(np.float64)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    h, w = min(a.shape[0], b.shape[0]), min(a.shape[1], b.shape[1])
    a, b = a[:h, :w], b[:h, :w]
    # the title's text sits in the top-left corner: leave the top 40 rows out
    return float(np.corrcoef(a[40:].ravel(), b[40:].ravel())[0, 1])


def test_the_3d_panes_share_one_camera_turned_by_the_registration(
    served_heads, head_pair, browser, tmp_path
) -> None:
    prior_uid, current_uid = head_pair["prior"], head_pair["current"]
    ctx = browser.new_context(viewport={"width": 1100, "height": 700}, device_scale_factor=1)
    page = ctx.new_page()
    errors = watch_errors(page)
    sign_in(page, served_heads)
    page.evaluate(f"() => {{ location.hash = '#/compare/{current_uid}/{prior_uid}' }}")
    page.wait_for_selector(".compare .compare-pane[data-pane='prior']", timeout=300_000)
    _loaded(page)
    assert page.locator(".banner.bad").count() == 0  # a good registration
    reg = page.evaluate("() => window.ownscanCompare.info")
    assert reg["rotation_degrees"] == pytest.approx(DEGREES, abs=0.5)
    assert reg["intensity_match"]["scale"] == pytest.approx(0.6, rel=0.05)

    page.locator(".tabs button[data-plane='3d']").click()
    page.select_option(".compare-mode3d", "mip")  # a MIP: every voxel of the head counts
    _loaded(page)
    page.screenshot(path=str(tmp_path / "3d-front.png"))
    prior0, current0 = _pane(page, "prior"), _pane(page, "current")
    linked0 = _corr(prior0, current0)
    # the same brightness: the prior's window is the current's through the intensity match
    # (the current's window on the prior's values would be 1/0.6 too bright)
    brightness = prior0[40:].mean() / current0[40:].mean()
    print("3D front: brightness prior/current", brightness)
    assert abs(brightness - 1.0) < 0.1, brightness

    # the same prior drawn with the current's camera NOT turned: the registration matters
    box = page.locator(".compare-pane[data-pane='prior'] img").bounding_box()
    assert box is not None
    size = (round(box["width"]), round(box["height"]))
    src = page.locator(".compare-pane[data-pane='prior'] img").get_attribute("src")
    q = dict(parse_qsl(urlsplit(src).query))
    match = reg["intensity_match"]  # the prior's window, as the server maps it
    q["window"] = str(float(q["window"]) / match["scale"])
    q["level"] = str((float(q["level"]) - match["offset"]) / match["scale"])
    for k in ("which", "register", "force"):
        q.pop(k)
    plain_png = served_heads.client().get(f"/api/series/{prior_uid}/render.png", params=q).content
    plain = np.asarray(Image.open(io.BytesIO(plain_png)).convert("L")).astype(np.float64)
    assert plain.shape == (size[1], size[0])
    unturned = _corr(plain, current0)
    print("3D front: linked", linked0, "camera not turned", unturned)
    assert linked0 > 0.93, linked0
    assert linked0 > unturned + 0.03, (linked0, unturned)
    # DVR (MR's window-relative colours: the prior gets the current's window through the
    # intensity match)
    page.select_option(".compare-mode3d", "dvr")
    _loaded(page)
    page.screenshot(path=str(tmp_path / "3d-dvr.png"))
    dvr = _corr(_pane(page, "prior"), _pane(page, "current"))
    print("3D DVR: linked", dvr)
    assert dvr > 0.9, dvr
    page.select_option(".compare-mode3d", "mip")
    _loaded(page)

    # a drag in the PRIOR pane turns both panes' one camera
    pb = page.locator(".compare-pane[data-pane='prior']").bounding_box()
    x, y = pb["x"] + pb["width"] / 2, pb["y"] + pb["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for k in range(1, 11):
        page.mouse.move(x - 15 * k, y + 4 * k)
    page.mouse.up()
    page.wait_for_function(
        "() => document.querySelector('.compare').dataset.camera.startsWith('60.00,16.00')"
    )
    page.wait_for_timeout(200)  # the frame is asked for once the drag pauses
    _loaded(page)
    page.screenshot(path=str(tmp_path / "3d-turned.png"))
    prior1, current1 = _pane(page, "prior"), _pane(page, "current")
    assert _corr(current0, current1) < 0.9 and _corr(prior0, prior1) < 0.9  # both turned
    linked1 = _corr(prior1, current1)
    print("3D turned: linked", linked1)
    assert linked1 > 0.93, linked1

    # unlinked: a drag in the CURRENT pane turns the current only; linked again, the prior
    # follows the current's camera through the registration
    page.locator(".compare-linked").uncheck()
    cb = page.locator(".compare-pane[data-pane='current']").bounding_box()
    x, y = cb["x"] + cb["width"] / 2, cb["y"] + cb["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for k in range(1, 11):
        page.mouse.move(x + 20 * k, y)
    page.mouse.up()
    page.wait_for_function(
        "() => document.querySelector('.compare').dataset.camera.startsWith('-20.00,16.00')"
    )
    page.wait_for_timeout(200)
    _loaded(page)
    page.screenshot(path=str(tmp_path / "3d-unlinked.png"))
    prior2, current2 = _pane(page, "prior"), _pane(page, "current")
    assert _corr(prior2, prior1) > 0.99 and _corr(current2, current1) < 0.9
    page.locator(".compare-linked").check()
    page.wait_for_timeout(200)
    _loaded(page)
    prior3, current3 = _pane(page, "prior"), _pane(page, "current")
    relinked = _corr(prior3, current3)
    print("3D relinked", relinked)
    assert _corr(current3, current2) > 0.99 and relinked > 0.93, relinked
    ctx.close()
    assert not errors, errors
    # the route names what it draws
    bad = served_heads.client().get(
        f"/api/compare/{prior_uid}/{current_uid}/render.png?which=difference&mode=mip"
    )
    assert bad.status_code == 404 and "prior, current" in bad.json()["error"]
