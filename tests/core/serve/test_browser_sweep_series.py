"""The page swept over every kind of series in the library (sweepgen.py), on a desktop and on a
phone (390 x 844, touch), as a patient and a radiologist use it: no console error or uncaught
exception (the ``desktop`` / ``phone`` fixtures fail the test on any), a picture that is not
blank, the orientation letters the desktop draws (2D pictures: the letters the DICOM file
gives, Image Orientation or else Patient Orientation), the scale bar or the words that replace
it, the series' warnings shown, every window preset, scrolling to both ends of every plane,
the MPR crosshair and every 3D mode with the letters ``ownscan render --annotate`` draws for
the same camera. One server for the module (SwiftShader is slow)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser_support import canvas_rgb, sign_in
from PIL import Image
from serve_process import ServeProcess
from sweep_support import (
    RECORD_TEXT,
    camera_labels,
    drawn_texts,
    mpr_labels,
    plane_labels,
    view_pixels,
)
from sweepgen import serve_sweep_library

# card text -> kind; each kind is found by a pattern on its card's text
KINDS = {
    "ct": r"CT · 40 images",
    "enhanced": r"^enhanced CT",
    "gap": r"^CT with a gap",
    "dwi": r"^DWI",
    "cr": r"CR · CHEST",
    "us": r"^Series 1\nUS",
    "ot": r"OT · 1 image",
    "mr-slice": r"^marked lesion",
    "cine-grey": r"^cine(?!.*colour)",
    "cine-colour": r"^cine.*colour",
}
VOLUMES = ("ct", "enhanced", "gap", "dwi")
PICTURE_FILE = {"cr": "CR", "us": "US", "ot": "OT", "mr-slice": "MR"}
MODES = ("dvr", "mip", "minip", "xray", "iso")
BAR = re.compile(r"^\d+(\.\d+)? (mm|cm)$")


@pytest.fixture(scope="module")
def sweep_server(
    pydicom_files: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    yield from serve_sweep_library(pydicom_files, tmp_path_factory.mktemp("sweep"))


def _open(page: Any, server: Any, kind: str) -> dict[str, Any]:
    page.add_init_script(RECORD_TEXT)
    sign_in(page, server)
    texts = page.locator(".series").all_inner_texts()
    index = [n for n, t in enumerate(texts) if re.search(KINDS[kind], t, re.S)]
    assert len(index) == 1, (kind, texts)
    page.locator(".series").nth(index[0]).click()
    page.wait_for_selector(".stage[data-level='0'][data-quality='full']", timeout=120_000)
    return page.evaluate(
        """() => {
            const v = window.ownscanViewer;
            return {header: v.header, layout: v.layout, is2d: v.is2d, rgb: v.rgb};
        }"""
    )


def _file_labels(path: Path) -> dict[str, str]:
    """The letters the DICOM file itself gives its edges (never invented: none without)."""
    import pydicom

    ds = pydicom.dcmread(path, stop_before_pixels=True)
    iop = ds.get("ImageOrientationPatient")
    if iop is not None and ds.get("ImagePositionPatient") is not None:
        return plane_labels([float(v) for v in iop[:3]], [float(v) for v in iop[3:]])
    po = ds.get("PatientOrientation")
    if po and len(po) == 2 and all(po):
        word = {"L": "L", "R": "R", "A": "A", "P": "P", "H": "S", "F": "I"}
        flip = {"L": "R", "R": "L", "A": "P", "P": "A", "S": "I", "I": "S"}
        right, down = ("".join(word[c] for c in str(v)) for v in po)
        return {
            "right": right,
            "left": "".join(flip[c] for c in right),
            "bottom": down,
            "top": "".join(flip[c] for c in down),
        }
    return {}


def _check_scale(view: dict[str, Any], header: dict[str, Any]) -> None:
    texts = view["texts"]
    if header.get("spacing_known") is False:
        assert "no scale: pixel size unknown" in texts, texts
        assert not [t for t in texts if BAR.match(t)], texts  # no bar invented
    else:
        assert [t for t in texts if BAR.match(t)], texts


def _not_blank(page: Any, view: str, least: float = 3.0) -> None:
    part = view_pixels(page, canvas_rgb(page), view)
    assert part.size and float(part.std()) > least, f"{view}: blank picture"


def _window_presets(page: Any) -> None:
    values = page.eval_on_selector_all(
        ".window-select select option", "os => os.map(o => o.value).filter(Boolean)"
    )
    assert values
    for value in values:
        page.select_option(".window-select select", value)
        got = page.evaluate(
            "async () => { const v = window.ownscanViewer; await v.afterDraw(); return v.window; }"
        )
        assert got["name"] == value


def _scroll_to_both_ends(page: Any, view: str, phone: bool) -> None:
    """Shift + wheel (desktop) or the slice slider (phone) to the first and last slice; the
    view's own "view i/n" says so."""
    n = page.evaluate(f"() => window.ownscanViewer.sliceIndex({view!r})[1]")
    for end, expect in (("first", 1), ("last", n)):
        if phone:
            value = 0 if end == "first" else n - 1
            page.eval_on_selector(
                ".slice-slider",
                "(s, v) => { s.value = String(v); s.dispatchEvent(new Event('input')); }",
                value,
            )
        else:  # shift + wheel over the view: 10 slices a notch
            rect = page.evaluate(f"() => window.ownscanViewer.rects()[{view!r}]")
            box = page.locator(".stage canvas.overlay").bounding_box()
            page.mouse.move(
                box["x"] + rect["x"] + rect["w"] / 2, box["y"] + rect["y"] + rect["h"] / 2
            )
            page.keyboard.down("Shift")
            for _ in range(n // 10 + 2):
                page.mouse.wheel(0, 100 if end == "first" else -100)
            page.keyboard.up("Shift")
        texts = drawn_texts(page)["views"][view]["texts"]
        assert f"{view} {expect}/{n}" in texts, (end, texts)


def _crosshair(page: Any) -> None:
    """A click in the axial view, left of and above its centre (the patient's right and front,
    radiological): the cursor moves there, and the sagittal and coronal views go to it."""
    before = drawn_texts(page)["views"]
    rect = page.evaluate("() => window.ownscanViewer.rects().axial")
    box = page.locator(".stage canvas.overlay").bounding_box()
    page.mouse.click(
        box["x"] + rect["x"] + rect["w"] * 0.3, box["y"] + rect["y"] + rect["h"] * 0.35
    )
    after = drawn_texts(page)["views"]
    moved = page.evaluate(
        "() => { const v = window.ownscanViewer; return v.cursor.map((c, i) => c - v.centre[i]); }"
    )
    assert moved[0] < -1 and moved[1] < -1, moved  # towards R (x < 0) and A (y < 0) in LPS

    def index(texts: list[str], view: str) -> int:
        return int(next(t for t in texts if t.startswith(view + " ")).split()[1].split("/")[0])

    # the sagittal slice moves towards the right (its normal is +x: a lower number), the
    # coronal towards the front (its normal is -y: a higher number); the axial stays
    assert index(after["sagittal"]["texts"], "sagittal") < index(
        before["sagittal"]["texts"], "sagittal"
    )
    assert index(after["coronal"]["texts"], "coronal") > index(
        before["coronal"]["texts"], "coronal"
    )
    assert index(after["axial"]["texts"], "axial") == index(before["axial"]["texts"], "axial")
    # a click in the corner of the view, beside the volume: every plane stays in the volume
    page.mouse.click(box["x"] + rect["x"] + 3, box["y"] + rect["y"] + 3)
    corner = drawn_texts(page)["views"]
    for view in ("axial", "coronal", "sagittal"):
        text = next(t for t in corner[view]["texts"] if t.startswith(view + " "))
        i, n = (int(x) for x in text.split()[1].split("/"))
        assert 1 <= i <= n, text


def _show_mode(page: Any, mode: str) -> None:
    """Choose the 3D ``mode`` and wait until it is the one shown, its program ready."""
    page.select_option(".mode-select select", mode)
    page.wait_for_function(
        """(mode) => { const v = window.ownscanViewer;
            return v.mode3d === mode && v.renderer.programs.has(v.programKey(mode)); }""",
        arg=mode,
        timeout=60_000,
    )


def _modes_3d(page: Any, phone: bool, out: Path) -> None:
    if phone:
        page.click("button[data-layout='3d']")
    for mode in MODES:
        _show_mode(page, mode)
        views = drawn_texts(page)["views"]
        _not_blank(page, "3d")
        assert views["3d"]["labels"] == camera_labels(0, 0), (mode, views["3d"]["labels"])
        if mode == "xray" and not phone:
            _xray_is_renders(page, views["3d"]["texts"], out)
    # turned a quarter about the head-feet axis: the letters of ownscan render's camera
    page.evaluate(
        "() => { Object.assign(window.ownscanViewer.camera, {azimuth: 90, elevation: 20}); }"
    )
    views = drawn_texts(page)["views"]
    assert views["3d"]["labels"] == camera_labels(90, 20), views["3d"]["labels"]
    _not_blank(page, "3d")


def _xray_is_renders(page: Any, texts: list[str], out: Path, mode: str = "xray") -> None:
    """With the series' default window shown, an X-ray (or an MR's MIP) is drawn as ``ownscan
    render --mode xray`` without ``--window`` draws it: through the projection's own window (a
    CT through its soft-tissue window would be black), and the 3D view says so."""
    from gl_support import assert_same_picture

    how = "average" if mode == "xray" else "maximum"
    assert f"window: auto ({how} projection)" in texts, texts
    shot = page.evaluate(
        """async () => {
            const v = window.ownscanViewer;
            await v.afterDraw();
            const r = v.renderer.readRaycast();
            return {w: r.width, h: r.height, data: Array.from(r.data), uid: v.uid,
                    volume: v.volumeIndex || 0};
        }"""
    )
    w, h = shot["w"], shot["h"]
    mine = np.asarray(shot["data"], dtype=np.uint8).reshape(h, w, 4)[..., :3]
    query = f"mode={mode}&width={w}&height={h}&volume={shot['volume']}"
    url = f"/api/series/{shot['uid']}/render.png?{query}"
    resp = page.context.request.get(page.url.split("/#")[0] + url)
    assert resp.status == 200
    ref = np.asarray(Image.open(io.BytesIO(resp.body())).convert("RGB"))
    assert mine.std() > 5
    assert_same_picture(mine, ref, out, f"sweep-{mode}")


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_every_kind_of_series(
    sweep_server: Any, device: str, kind: str, request: Any, tmp_path: Path
) -> None:
    page = request.getfixturevalue(device)
    phone = device == "phone"
    info = _open(page, sweep_server, kind)
    header = info["header"]
    # the series' warnings are on the page, as text
    warnings = header.get("warnings") or []
    if kind == "gap":
        assert any("missing slices" in w for w in warnings), warnings
    box = page.locator(".viewer details.warnings")
    if warnings:
        assert box.count() == 1
        assert box.locator("summary").inner_text().startswith("Warning: ")
        assert box.locator("li").count() == len(warnings)
    else:
        assert box.count() == 0
    views = drawn_texts(page)["views"]
    page.screenshot(path=str(tmp_path / f"{device}-{kind}.png"))
    if kind in VOLUMES:
        assert not info["is2d"]
        shown = ["axial", "coronal", "sagittal", "3d"] if not phone else ["axial"]
        assert sorted(views) == sorted(shown)
        for name in shown:
            _not_blank(page, name)
            if name != "3d":
                assert views[name]["labels"] == mpr_labels(name), (name, views[name]["labels"])
            _check_scale(views[name], header)
        _window_presets(page)
        for view in ("axial", "coronal", "sagittal"):
            if phone:
                page.click(f"button[data-layout='{view}']")
            _scroll_to_both_ends(page, view, phone)
        # Reset: the cursor back at the centre, the series' own window (an X-ray through a
        # chosen mediastinum window is black, as `ownscan render --window 350 --level 50`)
        page.get_by_role("button", name="Reset").click()
        if not phone:
            _crosshair(page)
        _modes_3d(page, phone, tmp_path)
        return
    assert info["is2d"] and info["layout"] == "image" and list(views) == ["image"]
    _not_blank(page, "image")
    expected = (
        _file_labels(sweep_server.pictures[PICTURE_FILE[kind]]) if kind in PICTURE_FILE else {}
    )
    assert views["image"]["labels"] == expected
    _check_scale(views["image"], header)
    if not info["rgb"]:
        _window_presets(page)
    if kind.startswith("cine"):
        # the last frame and back to the first: the picture moves (a frame is told by where
        # its bright square is)
        first = view_pixels(page, canvas_rgb(page), "image").max(axis=-1)
        n = header["cine"]["frames"]
        page.eval_on_selector(
            ".cine-slider",
            "(s, v) => { s.value = String(v); s.dispatchEvent(new Event('input')); }",
            n - 1,
        )
        page.wait_for_selector(f".stage[data-frame='{n - 1}']")
        last = view_pixels(page, canvas_rgb(page), "image").max(axis=-1)
        assert np.abs(first.astype(int) - last.astype(int)).mean() > 1


@pytest.fixture(scope="module")
def head_server(mr_head_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """``ownscan serve`` on the real oblique head MR (384 images)."""
    import subprocess
    import sys

    library = tmp_path_factory.mktemp("head") / "library"
    exe = Path(sys.executable).with_name("ownscan")
    cmd = [str(exe), "import", str(mr_head_dir), "--library", str(library)]
    r = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    s = ServeProcess.start(library)
    yield s
    assert s.stop() == 0, s.log


def test_the_oblique_head_mr(head_server: Any, desktop: Any, tmp_path: Path) -> None:
    """The real oblique head MR on a desktop: the desktop's letters on the three planes, every
    3D mode drawn with ownscan render's letters, its X-ray and MIP (MR: the projections' own
    windows) as ownscan render draws them, scrolling to both ends."""
    page = desktop
    page.add_init_script(RECORD_TEXT)
    sign_in(page, head_server)
    page.locator(".series").first.click()
    page.wait_for_selector(".stage[data-level='0'][data-quality='full']", timeout=180_000)
    views = drawn_texts(page)["views"]
    for name in ("axial", "coronal", "sagittal"):
        _not_blank(page, name)
        assert views[name]["labels"] == mpr_labels(name), name
        assert [t for t in views[name]["texts"] if BAR.match(t)]
        _scroll_to_both_ends(page, name, phone=False)
    page.get_by_role("button", name="Reset").click()
    for mode in MODES:
        _show_mode(page, mode)
        views = drawn_texts(page)["views"]
        _not_blank(page, "3d")
        assert views["3d"]["labels"] == camera_labels(0, 0)
        if mode in ("xray", "mip"):
            _xray_is_renders(page, views["3d"]["texts"], tmp_path, mode)
    page.screenshot(path=str(tmp_path / "head-mr.png"))
