"""A presentation state on the real oblique head MR: its circle is placed where the image's
header says, the view turns to the plane as acquired, and the mark is drawn there."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from ownscan.core.assembly import assemble
from ownscan.core.viewer import Viewer, ViewerOptions, entries_from_assembly
from ownscan.core.viewer._marks import StudyDocuments
from ownscan.core.viewer._radiologist import MARK_COLOURS

GSPS = "1.2.840.10008.5.1.4.1.1.11.1"


def _gsps(image: Dataset, path: Path, centre: tuple[float, float], radius: float) -> None:
    """A presentation state with a circle on one image (pixel units), written with pydicom."""
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = GSPS, generate_uid()
    for kw in ("PatientName", "PatientID", "StudyInstanceUID"):
        setattr(ds, kw, image.get(kw, ""))
    ds.SeriesInstanceUID, ds.Modality, ds.ContentLabel = generate_uid(), "PR", "CIRCLE"
    ref = Dataset()
    ref.ReferencedSOPClassUID = image.SOPClassUID
    ref.ReferencedSOPInstanceUID = image.SOPInstanceUID
    series = Dataset()
    series.SeriesInstanceUID = image.SeriesInstanceUID
    series.ReferencedImageSequence = [ref]
    ds.ReferencedSeriesSequence = [series]
    circle = Dataset()
    circle.GraphicAnnotationUnits, circle.GraphicDimensions = "PIXEL", 2
    circle.NumberOfGraphicPoints, circle.GraphicType, circle.GraphicFilled = 2, "CIRCLE", "N"
    circle.GraphicData = [centre[0], centre[1], centre[0] + radius, centre[1]]
    ann = Dataset()
    ann.GraphicLayer = "MARKS"
    ann.GraphicObjectSequence = [circle]
    ds.GraphicAnnotationSequence = [ann]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = GSPS, ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.save_as(path, enforce_file_format=True)


def test_a_mark_on_the_oblique_head_mr(xvfb: str, mr_head_dir: Path, tmp_path: Path) -> None:
    files = sorted(mr_head_dir.rglob("*"))
    files = [f for f in files if f.is_file()]
    headers = {f: pydicom.dcmread(f, stop_before_pixels=True) for f in files}
    target_file = sorted(files)[len(files) // 2]
    target = headers[target_file]
    centre, radius = (100.5, 120.5), 20.0
    _gsps(target, tmp_path / "pr.dcm", centre, radius)
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
