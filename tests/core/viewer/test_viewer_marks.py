"""What the radiologist saw, in the viewer: key images, presentation states, SR measurements,
overlay planes, PDF pages and plain words beside a real window (Xvfb).

The documents are written by highdicom (measurement report, key objects, presentation state)
and pydicom (a text report, an overlay plane, an encapsulated PDF made by fpdf2) and imported
with a generated CT series into a library, as a CD would bring them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "reports"))
sys.path.insert(0, str(Path(__file__).parent.parent / "library"))

from library_dicomgen import ct_series
from library_dicomgen import encapsulated_pdf as write_dicom_pdf
from reportgen import (
    key_objects,
    measurement_report,
    presentation_state,
    text_report,
)

from ownscan.core.viewer import Viewer, ViewerOptions, entries_from_library
from ownscan.core.viewer._radiologist import MARK_COLOURS

SIZE = 64


def _images(folder: Path) -> list[Any]:
    """A 4-slice CT (64x64, 0.5 mm pixels, 1 mm apart) with what highdicom needs; an overlay
    plane (a 10x6 block at rows 40.., columns 30..) on the second image."""
    out = []
    study = pydicom.uid.generate_uid()
    for n, path in enumerate(ct_series(folder, 4, study=study, size=SIZE)):
        ds = pydicom.dcmread(path)
        ds.Manufacturer = "ownscan tests"
        ds.ReferringPhysicianName = "Who^Sent"
        ds.FrameOfReferenceUID = "1.2.3.4"
        ds.StudyID = "1"
        ds.InstitutionName = "St Anne"
        ds.PixelData = np.zeros((SIZE, SIZE), np.int16).tobytes()  # air: marks stand out
        if n == 1:
            bits = np.zeros((6, 10), np.uint8)
            bits[:, :] = 1
            ds.add_new(0x60000010, "US", 6)
            ds.add_new(0x60000011, "US", 10)
            ds.add_new(0x60000040, "CS", "G")
            ds.add_new(0x60000050, "SS", [41, 31])
            ds.add_new(0x60000100, "US", 1)
            ds.add_new(0x60000102, "US", 0)
            ds.add_new(
                0x60003000, "OW", np.packbits(bits.ravel(), bitorder="little").tobytes() + b"\0"
            )
        ds.save_as(path, enforce_file_format=True)
        out.append(pydicom.dcmread(path))
    return out


def _red_pdf() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=28)
    pdf.set_text_color(220, 0, 0)
    pdf.multi_cell(0, 14, text="IMPRESSION\nA hypodense lesion, unremarkable otherwise.")
    data = bytes(pdf.output())
    return data + (b"\0" if len(data) % 2 else b"")


@pytest.fixture(scope="module")
def marked_library(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A library holding the CT with its SR, KOS, GSPS, text report and PDF."""
    from ownscan.core.library import open_library
    from ownscan.core.plugin_host import get_host
    from ownscan.core.plugin_types import ImportOptions

    root = tmp_path_factory.mktemp("marks")
    images = _images(root / "ct")
    docs = root / "docs"
    docs.mkdir()
    measurement_report(images, docs / "sr.dcm")
    key_objects(images, docs / "ko.dcm")
    presentation_state(images, docs / "pr.dcm")
    text_report(
        images,
        docs / "text.dcm",
        findings="A 23 mm hypodense nodule in the left lobe.",
        impression="Unremarkable otherwise.",
    )
    pdf_path = write_dicom_pdf(docs / "pdf.dcm", images[0].StudyInstanceUID)
    ds = pydicom.dcmread(pdf_path)
    ds.EncapsulatedDocument = _red_pdf()
    ds.save_as(pdf_path, enforce_file_format=True)
    lib = open_library(root / "lib")
    for src in (root / "ct", docs):
        imp = get_host().find_importer(str(src))
        assert lib.import_items(imp.iter_items(str(src), ImportOptions())).ok
    yield lib, images
    lib.close()


def _colour_mask(img: np.ndarray, colour: tuple[float, float, float]) -> np.ndarray:
    want = np.array(colour) * 255.0
    return np.all(np.abs(img.astype(np.float64) - want) < 40, axis=-1)


def _marks_shown(v: Viewer) -> tuple[Any, Any]:
    """The viewer's marks once read, after a first frame."""
    marks = v.radiologist.wait()
    assert marks is not None
    v.frame()
    return v.radiologist, marks


def test_marks_are_placed_on_their_images(xvfb: str, marked_library: Any) -> None:
    lib, images = marked_library
    entries = entries_from_library(lib)
    # the presentation state's series is not an image series to show
    assert [e.info.modality for e in entries] == ["CT"]
    with Viewer(entries, ViewerOptions(size=(1100, 700))) as v:
        marks = v.radiologist.wait()
        assert marks is not None and not marks.problems and not marks.not_placed
        key = marks.marks.key_images[0]
        assert [r.sop_instance_uid for r in key.images] == [
            images[0].SOPInstanceUID,
            images[2].SOPInstanceUID,
        ]
        # the header's geometry and the assembled volume's agree: pixel centre (i+0.5, j+0.5)
        # of image k is voxel (i, j, k)
        vol = v.view.volume
        for k, ds in enumerate(images):
            plane = marks.planes[ds.SOPInstanceUID]
            for i, j in ((0, 0), (63, 0), (10, 50)):
                assert np.allclose(plane.to_lps(i + 0.5, j + 0.5), vol.index_to_lps([i, j, k]))
        measured = marks.measurements()
        assert len(measured) == 1 and "12.5 mm" in measured[0].label
        assert measured[0].plane is not None
        assert measured[0].plane.sop_instance_uid == images[1].SOPInstanceUID
        assert len(marks.presentation_states) == 1
        assert set(marks.overlays) == {images[1].SOPInstanceUID}


def test_key_image_jump_measurement_marker_and_overlay(
    xvfb: str, marked_library: Any, tmp_path: Path
) -> None:
    lib, images = marked_library
    with Viewer(entries_from_library(lib), ViewerOptions(size=(1100, 700))) as v:
        rv, marks = _marks_shown(v)
        # a key image: the crosshair goes to its slice (z = 2 mm for the third image)
        assert rv.jump_to_image(images[2].SOPInstanceUID)
        assert v.view.slice_position("axial") == pytest.approx(2.0)
        # the measurement: its image's slice, the polyline drawn in the "picked" colour
        shape = marks.measurements()[0]
        rv.jump_to_mark(shape)
        assert v.view.slice_position("axial") == pytest.approx(1.0)
        img = v.frame(capture=True)
        assert img is not None
        lay = v.layout()
        ax = lay.views["axial"]
        view_px = img[ax.y : ax.y + ax.h, ax.x : ax.x + ax.w]
        picked = _colour_mask(view_px, MARK_COLOURS["picked"])
        assert picked.sum() > 50
        # where it is drawn: around the screen position of the polyline's points
        ys, xs = np.nonzero(picked)
        first = v.view.lps_to_pixel("axial", ax.size, shape.lines[0][0])
        assert np.min(np.hypot(xs - first[0], ys - first[1])) < 3
        # the overlay plane of image 2: a block of 10 x 6 image pixels
        overlay = _colour_mask(view_px, MARK_COLOURS["overlay"])
        oys, oxs = np.nonzero(overlay)
        assert overlay.sum() > 100
        plane = marks.planes[images[1].SOPInstanceUID]
        tl = v.view.lps_to_pixel("axial", ax.size, plane.to_lps(30, 40))
        br = v.view.lps_to_pixel("axial", ax.size, plane.to_lps(40, 46))
        assert abs(oxs.min() - tl[0]) <= 2 and abs(oys.min() - tl[1]) <= 2
        assert abs(oxs.max() - br[0]) <= 2 and abs(oys.max() - br[1]) <= 2
        # the overlay and the marks are not in another slice
        rv.jump_to_image(images[3].SOPInstanceUID)
        img = v.frame(capture=True)
        assert img is not None
        other = img[ax.y : ax.y + ax.h, ax.x : ax.x + ax.w]
        assert _colour_mask(other, MARK_COLOURS["overlay"]).sum() == 0
        assert _colour_mask(other, MARK_COLOURS["sr"]).sum() == 0
        rv.jump_to_mark(shape)
        v.screenshot(tmp_path / "marks.png")


def test_presentation_state_applied(xvfb: str, marked_library: Any, tmp_path: Path) -> None:
    lib, images = marked_library
    with Viewer(entries_from_library(lib), ViewerOptions(size=(1100, 700))) as v:
        rv, marks = _marks_shown(v)
        ax = v.layout().views["axial"]
        img = v.frame(capture=True)
        assert img is not None
        assert _colour_mask(img, MARK_COLOURS["gsps"]).sum() == 0  # not applied yet
        rv.apply(marks.presentation_states[0])
        assert v.view.window == (1500.0, -600.0)
        # it goes to the image it annotates
        assert v.view.slice_position("axial") == pytest.approx(1.0)
        img = v.frame(capture=True)
        assert img is not None
        view_px = img[ax.y : ax.y + ax.h, ax.x : ax.x + ax.w]
        green = _colour_mask(view_px, MARK_COLOURS["gsps"])
        assert green.sum() > 100
        # the circle: centre (8, 8), radius 3 image pixels (0.5 mm): drawn around there
        plane = marks.planes[images[1].SOPInstanceUID]
        cx, cy = v.view.lps_to_pixel("axial", ax.size, plane.to_lps(8.0, 8.0))
        ys, xs = np.nonzero(green)
        r_px = 3 * 0.5 / v.view.mm_per_px("axial", ax.size)
        d = np.hypot(xs - cx, ys - cy)
        assert np.sum(np.abs(d - r_px) < 2) > 20
        v.screenshot(tmp_path / "gsps.png")
        rv.apply(None)
        img = v.frame(capture=True)
        assert img is not None
        assert _colour_mask(img, MARK_COLOURS["gsps"]).sum() == 0


def test_pdf_pages_and_plain_words(xvfb: str, marked_library: Any, tmp_path: Path) -> None:
    from ownscan.core.reports import explain_terms

    lib, _ = marked_library
    with Viewer(entries_from_library(lib), ViewerOptions(size=(1100, 900))) as v:
        v.radiologist.wait()
        v.frame()  # the PDF starts rendering on a thread
        v.panels.report.wait_for_pdfs()
        v.screenshot(tmp_path / "report.png")
        img = v.frame(capture=True)
        assert img is not None
        r = v.layout().report
        assert r is not None
        panel = img[r.y : r.y + r.h, r.x : r.x + r.w]
        # the first view is at z = 1.5 mm, which the header counts as slice 3 (z = 2 mm): the
        # marks and overlay of image 2 (z = 1 mm) are not drawn there
        ax = v.layout().views["axial"]
        assert v.view.slice_position("axial") == pytest.approx(1.5)
        view_px = img[ax.y : ax.y + ax.h, ax.x : ax.x + ax.w]
        assert _colour_mask(view_px, MARK_COLOURS["overlay"]).sum() == 0
        assert _colour_mask(view_px, MARK_COLOURS["sr"]).sum() == 0
        red = (panel[..., 0] > 150) & (panel[..., 1] < 90) & (panel[..., 2] < 90)
        white = np.all(panel > 245, axis=-1)
        assert white.sum() > 2000  # the page's paper
        assert red.sum() > 30  # its red text, rendered by PDFium
        text = v.panels.report.text()
        assert "hypodense lesion" in text  # the PDF's text
        assert "23 mm hypodense nodule" in text  # the SR's text
        terms = {e.term.casefold() for e, _ in explain_terms(text)}
        assert {"hypodense", "nodule", "unremarkable"} <= terms


def test_the_panel_controls_act_on_clicks(xvfb: str, marked_library: Any) -> None:
    """Clicks through the handlers glfw's callbacks call, on the panel's controls."""
    from viewer_ui import click_place

    lib, _ = marked_library
    with Viewer(entries_from_library(lib), ViewerOptions(size=(1100, 700))) as v:
        rv, marks = _marks_shown(v)
        v.frame()
        places = v.panels.report.places

        def click(name: str) -> None:
            click_place(v, places[name])

        click("key:0:1")  # the second key image: the third slice
        assert v.view.slice_position("axial") == pytest.approx(2.0)
        click("measure:0")
        assert rv.picked is marks.measurements()[0]
        assert v.view.slice_position("axial") == pytest.approx(1.0)
        click("apply:0")
        assert rv.applied is marks.presentation_states[0] and v.view.window == (1500.0, -600.0)
        click("apply:0")  # now "Remove"
        assert rv.applied is None


def test_a_key_image_of_another_series_opens_it(xvfb: str, tmp_path: Path) -> None:
    """The key images are in the study's second series: a click shows that series (loaded on
    a thread) and then goes to the image."""
    from ownscan.core.library import open_library
    from ownscan.core.plugin_host import get_host
    from ownscan.core.plugin_types import ImportOptions

    first = _images(tmp_path / "first")
    second = []
    for n, path in enumerate(
        ct_series(
            tmp_path / "second",
            4,
            study=first[0].StudyInstanceUID,
            size=SIZE,
            series_number=3,
            description="second",
            prefix="SE",
        )
    ):
        ds = pydicom.dcmread(path)
        for kw in ("Manufacturer", "ReferringPhysicianName", "FrameOfReferenceUID", "StudyID"):
            setattr(ds, kw, first[n].get(kw))
        ds.ImagePositionPatient = [0.0, 0.0, 10.0 + n]  # further up
        ds.save_as(path, enforce_file_format=True)
        second.append(pydicom.dcmread(path))
    (tmp_path / "docs").mkdir()
    key_objects(second, tmp_path / "docs" / "ko.dcm")
    with open_library(tmp_path / "lib") as lib:
        for src in ("first", "second", "docs"):
            imp = get_host().find_importer(str(tmp_path / src))
            assert lib.import_items(imp.iter_items(str(tmp_path / src), ImportOptions())).ok
        entries = entries_from_library(lib)
        assert [e.info.series_description for e in entries] == ["Axial 1mm", "second"]
        with Viewer(entries, ViewerOptions(size=(1000, 640))) as v:
            rv, _ = _marks_shown(v)
            assert v.current == 0
            assert rv.jump_to_image(second[2].SOPInstanceUID)
            v.wait_until_loaded(timeout=60)
            v.frame()
            assert v.current == 1
            assert v.view.slice_position("axial") == pytest.approx(12.0)
