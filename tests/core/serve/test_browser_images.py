"""2D images in the browser: a radiograph (CR, MONOCHROME1) and a colour secondary capture,
real files of pydicom's test data, shown as 2D (one view, as stored)."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser_support import canvas_rgb, open_series, sign_in
from PIL import Image
from serve_process import ServeProcess

FILES = {"cr": "RG1_UNCR.dcm", "rgb": "SC_rgb.dcm"}


@pytest.fixture(scope="module")
def image_server(pydicom_files: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root = tmp_path_factory.mktemp("images")
    library = str(root / "library")
    exe = Path(sys.executable).with_name("ownscan")
    for name in FILES.values():
        r = subprocess.run(
            [
                str(exe),
                "import",
                str(pydicom_files[name]),
                "--library",
                str(library),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert r.returncode == 0, r.stderr
    server = ServeProcess.start(Path(library))
    yield server
    assert server.stop() == 0, server.log


def _open(page: Any, modality: str) -> str:
    texts = page.locator(".series").all_inner_texts()
    return open_series(page, next(n for n, t in enumerate(texts) if modality in t))


def test_radiograph_is_one_2d_view_as_the_server_draws_it(image_server, desktop, tmp_path):
    page = desktop
    sign_in(page, image_server)
    uid = _open(page, "CR")
    info = page.evaluate(
        """async () => {
            const v = window.ownscanViewer;
            v.viewState.image.zoom = 1.02 / 1.04;  // the renderer's margin (see test_browser_view)
            await v.afterDraw();
            const c = document.querySelector('.stage canvas.gl');
            return {layout: v.layout, tabs: document.querySelectorAll('.tabs button').length,
                    w: c.width, h: c.height, win: v.window, invert: v.header.invert};
        }"""
    )
    assert info["layout"] == "image" and info["tabs"] == 0  # no MPR, no 3D for one image
    assert info["invert"]  # MONOCHROME1
    mine = canvas_rgb(page)
    page.screenshot(path=str(tmp_path / "radiograph.png"))
    w, h, win = info["w"], info["h"], info["win"]
    resp = page.context.request.get(
        f"{image_server.base}/api/series/{uid}/render.png?mode=mpr&plane=axial&width={w}"
        f"&height={h}&window={win['width']}&level={win['level']}"
    )
    ref = np.asarray(Image.open(io.BytesIO(resp.body())).convert("RGB"))
    assert mine.std() > 10 and ref.std() > 10
    diff = np.abs(mine.astype(int) - ref.astype(int)).max(axis=-1)
    assert (diff > 2).mean() < 0.002, f"{(diff > 2).mean():.4f} of pixels differ"


def test_colour_image_is_shown_as_stored(image_server, desktop, pydicom_files):
    import pydicom

    page = desktop
    sign_in(page, image_server)
    _open(page, "OT")
    # one screen pixel per image pixel on a view of even size (pixel centres on texel centres),
    # so the picture is the stored image, pixel for pixel
    info = page.evaluate(
        """async () => {
            const v = window.ownscanViewer;
            Object.assign(v.stage.style, {flex: 'none', width: '400px', height: '300px'});
            await v.afterDraw();
            const c = document.querySelector('.stage canvas.gl');
            v.viewState.image.zoom = v.mmPerPx('image', c.width, c.height);
            await v.afterDraw();
            return {w: c.width, h: c.height, window: !!document.querySelector('.window-select')};
        }"""
    )
    assert not info["window"]  # colour has no window/level
    stored = pydicom.dcmread(pydicom_files[FILES["rgb"]]).pixel_array
    rows, cols = stored.shape[:2]
    mine = canvas_rgb(page)
    y0, x0 = info["h"] // 2 - rows // 2, info["w"] // 2 - cols // 2
    crop = mine[y0 : y0 + rows, x0 : x0 + cols]
    assert stored.std() > 10
    assert np.abs(crop.astype(int) - stored.astype(int)).max() <= 1
