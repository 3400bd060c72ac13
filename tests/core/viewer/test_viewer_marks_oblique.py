"""A presentation state on the real oblique head MR: its circle is placed where the image's
header says, the view turns to the plane as acquired, and the mark is drawn there."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from marksgen import circle_gsps

from ownscan.core.assembly import assemble
from ownscan.core.viewer import Viewer, ViewerOptions, entries_from_assembly
from ownscan.core.viewer._marks import StudyDocuments
from ownscan.core.viewer._radiologist import MARK_COLOURS


def test_a_mark_on_the_oblique_head_mr(xvfb: str, mr_head_dir: Path, tmp_path: Path) -> None:
    files = sorted(mr_head_dir.rglob("*"))
    files = [f for f in files if f.is_file()]
    headers = {f: pydicom.dcmread(f, stop_before_pixels=True) for f in files}
    target_file = sorted(files)[len(files) // 2]
    target = headers[target_file]
    centre, radius = (100.5, 120.5), 20.0
    circle_gsps(target, tmp_path / "pr.dcm", centre, radius)
    (entry,) = entries_from_assembly(assemble(mr_head_dir))
    uid = target.SeriesInstanceUID
    assert entry.info.series_instance_uid == uid
    entry.documents = StudyDocuments(
        presentation_states=(str(tmp_path / "pr.dcm"),),
        images=lambda: {h.SOPInstanceUID: (uid, str(f)) for f, h in headers.items()},
    )
    with Viewer([entry], ViewerOptions(size=(1000, 800))) as v:
        v.wait_until_loaded(timeout=300)
        rv = v.radiologist
        marks = rv.wait(timeout=300)
        assert marks is not None and not marks.problems
        vol = v.view.volume
        plane = marks.planes[target.SOPInstanceUID]
        # the header's plane is one of the volume's slices: pixel centre (i+0.5, j+0.5) of the
        # image is voxel (i, j, k) of the assembled volume, k from the image's position
        k = vol.lps_to_index(plane.to_lps(0.5, 0.5))
        assert np.allclose(k[:2], 0.0, atol=1e-4) and abs(k[2] - round(k[2])) < 1e-4
        for i, j in ((0, 0), (100, 120), (200, 30)):
            lps = plane.to_lps(i + 0.5, j + 0.5)
            assert np.allclose(lps, vol.index_to_lps([i, j, round(k[2])]), atol=1e-3)
        # no standard view is parallel to the oblique images ...
        normals = [pv.plane.normal() for pv in v.view.views.values()]
        assert max(abs(float(n @ plane.normal())) for n in normals) < 0.999
        rv.apply(marks.presentation_states[0])
        # ... so one view turned to the plane as acquired, at the image's slice
        name = rv._view_of(plane)
        assert name is not None and v.view.views[name].plane.name.endswith("as acquired")
        img = v.frame(capture=True)
        img = v.frame(capture=True)
        assert img is not None
        rect = v.layout().views[name]
        view_px = img[rect.y : rect.y + rect.h, rect.x : rect.x + rect.w]
        want = np.array(MARK_COLOURS["gsps"]) * 255.0
        green = np.all(np.abs(view_px.astype(np.float64) - want) < 40, axis=-1)
        ys, xs = np.nonzero(green)
        assert green.sum() > 100
        cx, cy = v.view.lps_to_pixel(name, rect.size, plane.to_lps(*centre))
        r_px = radius * float(np.linalg.norm(plane.col_step)) / v.view.mm_per_px(name, rect.size)
        d = np.hypot(xs - cx, ys - cy)
        assert np.median(np.abs(d - r_px)) < 1.5  # a circle of that radius around that spot
        v.screenshot(tmp_path / "oblique.png")
        v.reset()  # R: the standard planes again
        assert all(not pv.plane.name.endswith("as acquired") for pv in v.view.views.values())


def test_a_mark_on_a_radiograph_without_position(xvfb: str, tmp_path: Path) -> None:
    """A CR has no Image Position: its one image is the volume's, and the circle is drawn
    around the bright block the image holds at the circle's centre (the picture and the
    mark agree on screen)."""
    sys.path.insert(0, str(Path(__file__).parent.parent / "render"))
    from test_image2d import write_2d

    pixels = np.full((120, 100), 200, np.uint16)
    pixels[58:62, 38:42] = 4000  # image pixels 38..41, 58..61: centre (40, 60) in DICOM terms
    folder = tmp_path / "cr"
    folder.mkdir()
    path = write_2d(
        folder / "cr.dcm",
        "CR",
        pixels,
        ImagerPixelSpacing=[0.2, 0.2],
        PatientOrientation=["L", "F"],
    )
    image = pydicom.dcmread(path, stop_before_pixels=True)
    # shown: pixels 21..60 x 41..80 (40 x 40 pixels, 8 mm), centred on the block
    circle_gsps(image, tmp_path / "pr.dcm", (40.0, 60.0), 15.0, area=((21, 41), (60, 80)))
    (entry,) = entries_from_assembly(assemble(folder))
    uid = image.SeriesInstanceUID
    entry.documents = StudyDocuments(
        presentation_states=(str(tmp_path / "pr.dcm"),),
        images=lambda: {image.SOPInstanceUID: (uid, str(path))},
    )
    with Viewer([entry], ViewerOptions(size=(700, 600))) as v:
        marks = v.radiologist.wait()
        assert marks is not None and image.SOPInstanceUID in marks.planes
        v.radiologist.apply(marks.presentation_states[0])
        v.show_overlays = False  # O: no text over the image (the marks stay)
        v.frame()
        img = v.frame(capture=True)
        assert img is not None
        rect = v.layout().views["image"]
        view_px = img[rect.y : rect.y + rect.h, rect.x : rect.x + rect.w].astype(np.float64)
        green = np.all(np.abs(view_px - np.array(MARK_COLOURS["gsps"]) * 255.0) < 40, axis=-1)
        bright = np.all(view_px > 200, axis=-1)
        ys, xs = np.nonzero(green)
        by, bx = np.nonzero(bright)
        assert green.sum() > 50 and bright.sum() > 4
        # the circle's centre is the bright block's centre, within a screen pixel
        assert abs((xs.min() + xs.max()) / 2 - bx.mean()) < 1.5
        assert abs((ys.min() + ys.max()) / 2 - by.mean()) < 1.5
        # the displayed area fills the view: 8 mm across its smaller side, centred
        assert v.view.mm_per_px("image", rect.size) == pytest.approx(8.0 / min(rect.size))
        assert abs(bx.mean() - rect.w / 2) < 1.5 and abs(by.mean() - rect.h / 2) < 1.5
        v.screenshot(tmp_path / "radiograph.png")
