"""``ownscan serve`` over HTTP: overlay planes (60xx) placed in the patient, PDF reports as
page pictures (cached) and a damaged PDF as one line, and the presentation state's displayed
area (reportpagegen.py's library). pydicom's own ``overlay_array`` is the independent reader of
the overlay bits."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from PIL import Image
from reportpagegen import OVERLAY_BLOCK, OVERLAY_SHAPE, PIXEL_MM, RED, make_library
from serve_process import ServeProcess

from ownscan.core import assemble
from ownscan.core.library import open_library
from ownscan.core.serve._overlays import OVERLAY_RGB, read_series_overlays


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_library(tmp_path_factory.mktemp("pages"))


@pytest.fixture(scope="module")
def server(library: Path) -> Iterator[ServeProcess]:
    s = ServeProcess.start(library)
    yield s
    assert s.stop() == 0, s.log


def _ct_and_documents(client: Any) -> tuple[str, dict[str, str]]:
    study = client.get("/api/library").json()["patients"][0]["studies"][0]
    uid = next(se["series_uid"] for se in study["series"] if se["modality"] == "CT")
    return uid, {d["title"]: d["id"] for d in study["documents"]}


def test_the_overlay_is_listed_where_its_image_puts_it(server, library):
    c = server.client()
    uid, _ = _ct_and_documents(c)
    r = c.get(f"/api/series/{uid}/overlays")
    assert r.status_code == 200, r.text
    listing = r.json()
    assert listing["not_placed"] == [] and listing["problems"] == []
    [ov] = listing["overlays"]
    assert (ov["number"], ov["group"], ov["frame"], ov["kind"]) == (2, "6000", 1, "G")
    assert (ov["rows"], ov["columns"]) == OVERLAY_SHAPE
    # image 2 lies at z = 1 mm, pixel centres at 0.5 mm steps from (0, 0): the overlay's first
    # bit covers pixel (row 16, column 24), whose top left corner is half a pixel before
    assert ov["corner"] == pytest.approx([24 * PIXEL_MM - 0.25, 16 * PIXEL_MM - 0.25, 1.0])
    assert ov["right"] == pytest.approx([PIXEL_MM, 0, 0])
    assert ov["down"] == pytest.approx([0, PIXEL_MM, 0])
    assert ov["normal"] == pytest.approx([0, 0, 1])
    # the picture's bits are pydicom's reading of the file; set bits in the desktop's colour
    png = c.get(ov["url"])
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    rgba = np.asarray(Image.open(io.BytesIO(png.content)).convert("RGBA"))
    with open_library(library) as lib:
        path = next(
            i.path for i in lib.instances(uid) if i.sop_instance_uid == ov["sop_instance_uid"]
        )
    expected = pydicom.dcmread(path).overlay_array(0x6000).astype(bool)
    assert np.array_equal(rgba[..., 3] == 255, expected)
    (r0, r1), (c0, c1) = OVERLAY_BLOCK
    assert expected[r0 : r1 + 1, c0 : c1 + 1].all() and expected.sum() == (r1 - r0 + 1) * (
        c1 - c0 + 1
    )
    assert {tuple(p) for p in rgba[rgba[..., 3] == 255][:, :3]} == {OVERLAY_RGB}
    assert c.get(f"/api/series/{uid}/overlays/1.png").status_code == 404
    assert c.get("/api/series/no-such-series/overlays").status_code == 404


def test_an_overlay_of_an_image_without_a_place_is_not_placed(library, tmp_path):
    with open_library(library) as lib:
        uid = next(s.series_uid for s in lib.series() if s.modality == "CT")
        instances = list(lib.instances(uid))
        volume = assemble(lib.series_items(uid)).series[0].load()
    images = {i.sop_instance_uid: i for i in instances}
    placed = read_series_overlays(images, volume, uid).listing
    assert [o["number"] for o in placed["overlays"]] == [2]

    # the same image without Image Position/Orientation (Patient): its place is unknown (the
    # series has four images, so the volume's affine does not say where this one lies)
    class Copy:
        def __init__(self, sop: str, path: Path) -> None:
            self.sop_instance_uid, self.path = sop, str(path)

    sop = placed["overlays"][0]["sop_instance_uid"]
    ds = pydicom.dcmread(images[sop].path)
    del ds.ImagePositionPatient, ds.ImageOrientationPatient
    lost = tmp_path / "lost.dcm"
    ds.save_as(lost, enforce_file_format=True)
    images[sop] = Copy(sop, lost)
    found = read_series_overlays(images, volume, uid)
    assert found.listing["overlays"] == [] and found.bits == ()
    assert found.listing["not_placed"] == [{"number": 2, "group": "6000", "frame": 1}]


def test_pdf_pages_are_drawn_and_kept(server, library):
    c = server.client()
    _, docs = _ct_and_documents(c)
    doc = docs["Radiology report"]
    info = c.get(f"/api/documents/{doc}/pages").json()
    assert (info["pages"], info["shown"], info["title"]) == (2, 2, "Radiology report")
    assert info["sizes"][0] == pytest.approx([595.28, 841.89], abs=0.01)  # A4 in points
    r = c.get(f"/api/documents/{doc}/page/1.png?width=500")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    first = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGB"))
    assert first.shape[1] == 600  # rounded up to a multiple of 200
    assert first.shape[0] == round(600 * 841.89 / 595.28)
    red = np.all(np.abs(first.astype(int) - RED) < 40, axis=-1).sum()
    assert red > 2000, red
    assert (first[:20, :20] == 255).all()  # white paper
    second = np.asarray(Image.open(io.BytesIO(c.get(f"/api/documents/{doc}/page/2.png").content)))
    assert np.all(np.abs(second[..., :3].astype(int) - RED) < 40, axis=-1).sum() == 0
    # kept: the same bytes again, one file per page and width
    assert c.get(f"/api/documents/{doc}/page/1.png?width=600").content == r.content
    kept = sorted(p.name for p in (library / "serve" / "pdf-pages").iterdir())
    assert len(kept) == 2 and all(n.endswith(("-1-600.png", "-2-800.png")) for n in kept), kept
    assert c.get(f"/api/documents/{doc}/page/3.png").status_code == 404
    assert c.get(f"/api/documents/{doc}/page/1.png?width=wide").status_code == 400
    assert c.get(f"/api/documents/{'0' * 64}/pages").status_code == 404
    # an SR is no PDF
    assert c.get(f"/api/documents/{docs['Imaging Measurement Report']}/pages").status_code == 404


def test_a_damaged_pdf_is_one_line(server, library):
    c = server.client()
    _, docs = _ct_and_documents(c)
    doc = docs["Damaged report"]
    for url in (f"/api/documents/{doc}/pages", f"/api/documents/{doc}/page/1.png"):
        r = c.get(url)
        assert r.status_code == 422, r.text
        message = r.json()["error"]
        assert message.startswith("This PDF cannot be shown: cannot open the PDF"), message
        assert "\n" not in message and str(library) not in message
    # the PDF itself is still given as it is kept (the browser may say more)
    assert c.get(f"/api/documents/{doc}").headers["content-type"] == "application/pdf"


def test_the_presentation_state_carries_its_displayed_area(server):
    c = server.client()
    uid, _ = _ct_and_documents(c)
    [ps] = c.get(f"/api/series/{uid}/marks").json()["presentation_states"]
    assert ps["label"].startswith("MARKS") and not ps["rotated"]
    assert ps["window"] == {"center": -600.0, "width": 1500.0, "explanation": "LUNG"}
    assert ps["image"]["number"] == 2  # the annotated image first
    area = ps["area"]
    # pixels 17..48 (1-based) of image 2: corners from 16 to 48 pixel edges, 0.5 mm each
    lo, hi = 16 * PIXEL_MM - 0.25, 48 * PIXEL_MM - 0.25
    corners = [[lo, lo, 1.0], [hi, lo, 1.0], [hi, hi, 1.0], [lo, hi, 1.0]]
    assert np.allclose(area["corners"], corners)
    assert area["centre"] == pytest.approx([(lo + hi) / 2, (lo + hi) / 2, 1.0])
    assert area["normal"] == pytest.approx([0, 0, 1]) and area["pixel_mm"] == PIXEL_MM
    assert area["size_mode"] in ("SCALE TO FIT", "TRUE SIZE", "MAGNIFY")


def test_a_real_siemens_overlay_is_served_where_its_image_lies(pydicom_files, tmp_path):
    """pydicom's MR-SIEMENS-DICOM-WithOverlays.dcm (484 x 484, one graphics overlay whose bits
    tests/core/reports checks against dcmtk's dcm2pnm) imported and served."""
    path = pydicom_files["MR-SIEMENS-DICOM-WithOverlays.dcm"]
    src = tmp_path / "src"
    src.mkdir()
    (src / "mr.dcm").write_bytes(path.read_bytes())
    exe = Path(sys.executable).with_name("ownscan")
    r = subprocess.run(
        [str(exe), "import", str(src), "--library", str(tmp_path / "lib")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    s = ServeProcess.start(tmp_path / "lib")
    try:
        c = s.client()
        study = c.get("/api/library").json()["patients"][0]["studies"][0]
        uid = study["series"][0]["series_uid"]
        listing = c.get(f"/api/series/{uid}/overlays").json()
        [ov] = listing["overlays"]
        ds = pydicom.dcmread(path)
        ipp = np.array([float(v) for v in ds.ImagePositionPatient])
        row_mm, col_mm = (float(v) for v in ds.PixelSpacing)
        # origin (1, 1): the overlay's corner is the image's, half a pixel before the first
        # pixel's centre along the rows and the columns (IOP 1,0,0 / 0,1,0)
        assert ov["corner"] == pytest.approx(list(ipp - [col_mm / 2, row_mm / 2, 0]), abs=1e-3)
        assert ov["right"] == pytest.approx([col_mm, 0, 0]) and ov["down"] == pytest.approx(
            [0, row_mm, 0]
        )
        assert (ov["group"], ov["rows"], ov["columns"]) == ("6000", 484, 484)
        png = Image.open(io.BytesIO(c.get(ov["url"]).content)).convert("RGBA")
        bits = np.asarray(png)[..., 3] == 255
        assert np.array_equal(bits, ds.overlay_array(0x6000).astype(bool))
    finally:
        assert s.stop() == 0, s.log


def test_the_words_of_a_pdf_report_are_explained(server):
    """ "lesion" is written only in the PDF ("Hypodense lesion"): the glossary reads the PDF's
    text as the desktop's does; the damaged PDF costs nothing else."""
    c = server.client()
    uid, _ = _ct_and_documents(c)
    marks = c.get(f"/api/series/{uid}/marks").json()
    terms = {g["term"]: g["as_written"] for g in marks["glossary"]}
    assert terms.get("lesion") == "lesion", terms
    assert "hypodense" in terms and marks["problems"] == []
