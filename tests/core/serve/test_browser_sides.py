"""Left is left: the page's letters checked against the data's own geometry, not against the
desktop's letters (both could be wrong together, or the picture flipped under right letters).

A phantom is sampled in patient space (LPS): a body sphere with three markers of different
density, one on the patient's left, one in front (anterior), one towards the head (superior).
It is written as four series acquired in different ways: axial, axial with rows and columns
reversed, sagittal and coronal slices. Each is imported and shown in the four-view layout on a
desktop and in single views on a phone; in every 2D view the marker's place on the screen is
found from the pixels and must lie on the side whose letter names it (L, A, S), and the 3D
view's letters must follow its camera the same way (the left marker on the "L" side of a MIP).
The scale bar is checked against the marker spacing: 20 mm between the left marker and the
centre."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser_support import canvas_rgb, sign_in
from pydicom.uid import generate_uid
from serve_process import ServeProcess, served_import
from sweep_support import RECORD_TEXT, drawn_texts, view_pixels

from ownscan.core.bench._ctgen import make_ct_dataset

N = 48  # voxels a side, 1 mm
MARKERS = {  # letter: (LPS centre in mm, HU)
    "L": ((14.0, 0.0, 0.0), 1000),
    "A": ((0.0, -14.0, 0.0), 400),
    "S": ((0.0, 0.0, 14.0), -400),
}
BODY_HU = 0
# the window the views are read with: each marker's plateau its own grey
WINDOW = (2600.0, 0.0)
ACQUISITIONS = {  # series description: ImageOrientationPatient
    "axial": (1, 0, 0, 0, 1, 0),
    "axial reversed": (-1, 0, 0, 0, -1, 0),
    "sagittal": (0, 1, 0, 0, 0, -1),
    "coronal": (1, 0, 0, 0, 0, -1),
}
# which markers a plane through the centre cuts, and along which screen axis their letter lies
IN_VIEW = {"axial": ("L", "A"), "coronal": ("L", "S"), "sagittal": ("A", "S")}


def _phantom(lps: np.ndarray) -> np.ndarray:
    hu = np.full(lps.shape[:-1], -1000.0)
    hu[np.linalg.norm(lps, axis=-1) < 22.0] = BODY_HU
    for centre, value in MARKERS.values():
        hu[np.linalg.norm(lps - np.asarray(centre), axis=-1) < 5.0] = value
    return hu


def _write_series(folder: Path, iop: tuple[int, ...], description: str, study: str) -> None:
    folder.mkdir(parents=True)
    row, col = np.asarray(iop[:3], float), np.asarray(iop[3:], float)
    normal = np.cross(row, col)
    half = (N - 1) / 2
    series, frame = generate_uid(), generate_uid()
    r, c = np.mgrid[0:N, 0:N].astype(float)
    for k in range(N):
        ipp = -half * (row + col + normal) + k * normal
        lps = ipp + c[..., None] * row + r[..., None] * col
        ds = make_ct_dataset(
            np.rint(_phantom(lps)).astype(np.int16),
            ipp=ipp,
            iop=iop,
            pixel_spacing=(1.0, 1.0),
            thickness=1.0,
            series_uid=series,
            study_uid=study,
            frame_uid=frame,
            instance_number=k + 1,
            description=description,
        )
        ds.save_as(folder / f"{k:03d}.dcm", enforce_file_format=True)


@pytest.fixture(scope="module")
def sides_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    root = tmp_path_factory.mktemp("sides")
    study = generate_uid()
    for n, (name, iop) in enumerate(ACQUISITIONS.items()):
        _write_series(root / "src" / str(n), iop, name, study)
    with served_import(root) as server:
        yield server


def _grey(hu: float) -> float:
    width, level = WINDOW
    return 255.0 * (hu - (level - width / 2)) / width


def _marker_at(part: np.ndarray, hu: float) -> tuple[float, float] | None:
    """The centroid (x, y, from the view's centre) of the marker's plateau: pixels of its grey
    whose neighbours two pixels away are of it too (not the ramp of an edge)."""
    g = part[..., 0].astype(float)
    near = np.abs(g - _grey(hu)) <= 4
    core = near.copy()
    core[2:, :] &= near[:-2, :]
    core[:-2, :] &= near[2:, :]
    core[:, 2:] &= near[:, :-2]
    core[:, :-2] &= near[:, 2:]
    core[:2, :] = core[-2:, :] = core[:, :2] = core[:, -2:] = False
    ys, xs = np.nonzero(core)
    if len(xs) < 20:
        return None
    h, w = g.shape
    return float(xs.mean() - (w - 1) / 2), float(ys.mean() - (h - 1) / 2)


def _side(dx: float, dy: float) -> str:
    if abs(dx) > abs(dy):
        return "right" if dx > 0 else "left"
    return "bottom" if dy > 0 else "top"


def _check_view(page: Any, view: str, texts: dict[str, Any], markers: tuple[str, ...]) -> None:
    part = view_pixels(page, canvas_rgb(page), view)
    labels = texts["views"][view]["labels"]
    for letter in markers:
        found = _marker_at(part, MARKERS[letter][1])
        assert found is not None, (view, letter)
        side = _side(*found)
        # the letter on that side names the marker's direction (oblique letters start with it)
        assert labels[side].startswith(letter), (view, letter, found, labels)
        # the scale: 14 mm from the centre, at the view's mm per pixel
        mm = page.evaluate(
            f"""() => {{ const v = window.ownscanViewer, r = v.rects()[{view!r}];
                return v.mmPerPx({view!r}, r.w, r.h); }}"""
        )
        assert np.hypot(*found) * mm == pytest.approx(14.0, abs=1.5), (view, letter, found, mm)


def _open(page: Any, server: Any, name: str) -> None:
    page.add_init_script(RECORD_TEXT)
    sign_in(page, server)
    title = page.locator("strong", has_text=re.compile(f"^{re.escape(name)}$"))
    page.locator(".series", has=title).click()
    page.wait_for_selector(".stage[data-level='0']", timeout=120_000)
    page.evaluate(f"() => window.ownscanViewer.setWindow({WINDOW[0]}, {WINDOW[1]})")


@pytest.mark.parametrize("name", list(ACQUISITIONS))
def test_markers_lie_on_their_letters_side(
    sides_server: Any, desktop: Any, name: str, tmp_path: Path
) -> None:
    page = desktop
    _open(page, sides_server, name)
    assert page.evaluate("() => window.ownscanViewer.layout") == "quad"
    texts = drawn_texts(page)
    for view, markers in IN_VIEW.items():
        _check_view(page, view, texts, markers)
    # 3D, a MIP from the front: the left marker (the brightest) on the "L" side
    page.select_option(".mode-select select", "mip")
    page.wait_for_function(
        "() => window.ownscanViewer.renderer.programs.has('mip')", timeout=120_000
    )
    page.evaluate("() => window.ownscanViewer.afterDraw()")
    texts = drawn_texts(page)
    part = view_pixels(page, canvas_rgb(page), "3d")[..., 0].astype(float)
    ys, xs = np.nonzero(part >= part.max() - 2)
    h, w = part.shape
    side = _side(xs.mean() - (w - 1) / 2, ys.mean() - (h - 1) / 2)
    assert texts["views"]["3d"]["labels"][side] == "L", (side, texts["views"]["3d"])
    page.screenshot(path=str(tmp_path / f"sides-{name}.png"))


def test_a_phones_single_views(sides_server: Any, phone: Any) -> None:
    page = phone
    _open(page, sides_server, "axial reversed")
    for view, markers in IN_VIEW.items():
        page.click(f"button[data-layout='{view}']")
        page.evaluate("() => window.ownscanViewer.afterDraw()")
        _check_view(page, view, drawn_texts(page), markers)
