"""What the radiologist marked and wrote, for the page's viewer: ``GET /api/series/UID/marks``.

Everything is read by :mod:`ownscan.core.reports` (the one reader of reports and marks); this
module only picks what concerns one series and places it in patient coordinates:

- the study's reports: Structured Reports as :func:`~ownscan.core.reports.report_lines`, PDFs
  as links, and the glossary terms the reports use (:func:`~ownscan.core.reports.explain_terms`);
- Key Object Selections' images of this series (key images), presentation states' windows and
  annotations on its images, SR measurements with image coordinates on its images.

Every mark is given in LPS millimetres, computed from the REFERENCED IMAGE's own header (Image
Position/Orientation (Patient) and Pixel Spacing, per frame for an enhanced multi-frame file),
not from the assembled volume's slice order: a volume resampled onto a regular grid or cut into
stacks still gets each mark where the radiologist put it. An image without patient geometry (a
radiograph, an ultrasound frame) is placed through the volume's own affine (the only picture of
its series, or frame N of a multi-frame file). A mark that cannot be placed is listed without a
position, never guessed.

DICOM pixel coordinates (GSPS graphics, SCOORD) are (column, row) with (0, 0) the top left
CORNER of the top left pixel, so pixel (i, j)'s centre is (i + 0.5, j + 0.5); the volume's
voxel index of that centre is (i, j), hence ``position = IPP + (c - 0.5) dc X + (r - 0.5) dr Y``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ownscan.core.library import Library
    from ownscan.core.reports import Annotation, ImageRef, Marks
    from ownscan.core.volume import Volume

__all__ = ["marks_json"]

log = logging.getLogger("ownscan.serve")

_PRESENTATION_PREFIX = "1.2.840.10008.5.1.4.1.1.11."
_SR_PREFIX = "1.2.840.10008.5.1.4.1.1.88."


@dataclass(frozen=True)
class _Plane:
    """One image's pixel -> LPS map: ``origin + col * dx + row * dy`` for pixel CENTRES."""

    origin: np.ndarray  # LPS of the first pixel's centre (DICOM pixel coordinates 0.5, 0.5)
    dx: np.ndarray  # LPS mm per column
    dy: np.ndarray  # LPS mm per row
    rows: int
    columns: int

    def lps(self, col: float, row: float) -> list[float]:
        """LPS of DICOM pixel coordinates (corner-based, so the first centre is 0.5)."""
        p = self.origin + (col - 0.5) * self.dx + (row - 0.5) * self.dy
        return [round(float(x), 4) for x in p]


def marks_json(lib: Library, series_uid: str, volume: Volume) -> dict[str, Any]:
    """The reports, glossary and marks of the study of ``series_uid`` for the viewer.

    Returns
    -------
    dict
        ``{"documents": [{"id", "kind", "title", "url", "lines"}], "glossary": [{"term",
        "as_written", "text", "sources": [{"name", "url"}]}], "key_images": [{"title",
        "description", "images": [{"sop_instance_uid", "frame", "number", "lps"}]}],
        "windows": [{"center", "width", "explanation"}], "presentation_states": [...]
        (:func:`._display.presentation_states_json`), "annotations": [{"source", "shape",
        "text", "points", "anchor", "filled", "image": {...}}], "problems": [str]}``.
        ``points``/``anchor`` are LPS mm (None where the image cannot be placed); ``number``
        is the image's 1-based position in the series (instance order).
    """
    from ownscan.core.reports import (
        Marks,
        ReportError,
        explain_terms,
        read_marks,
        read_report,
        report_lines,
    )

    row = lib.conn.execute(
        "SELECT study_uid FROM series WHERE series_uid = ?", (series_uid,)
    ).fetchone()
    study_uid = row[0] if row else None
    images = {inst.sop_instance_uid: inst for inst in lib.instances(series_uid)}
    numbers = {uid: n + 1 for n, uid in enumerate(images)}
    problems: list[str] = []
    documents: list[dict[str, Any]] = []
    report_text: list[str] = []
    marks = Marks()
    states: list[Marks] = []
    if study_uid is not None:
        for doc in lib.documents(study_uid):
            from pathlib import Path

            doc_id = Path(doc.path).name
            entry: dict[str, Any] = {
                "id": doc_id,
                "kind": doc.kind,
                "title": doc.title,
                "url": f"/api/documents/{doc_id}",
                "lines": None,
            }
            if doc.kind == "sr":
                try:
                    report = read_report(doc.path)
                except ReportError:
                    problems.append(f"a report ({doc.title or 'untitled'}) could not be read")
                    continue
                if report.is_key_object_selection:
                    continue  # a selection of images, not a report: read as marks below
                lines = report_lines(report)
                entry["lines"] = [[d, kind, text] for d, kind, text in lines]
                report_text += [text for _, kind, text in lines if kind in ("item", "more")]
            elif doc.kind in ("pdf", "dicom-pdf"):  # its words feed the glossary too
                report_text.append(_pdf_words(doc.kind, doc.path))
            documents.append(entry)
        for path in _marking_files(lib, study_uid):
            try:
                found = read_marks(path)
                marks.extend(found)
                states.append(found)  # each presentation state on its own (_display.py)
            except ReportError:
                problems.append("a presentation state or key image note could not be read")

    planes = _Planes(images, volume)

    def place(ref: ImageRef) -> dict[str, Any]:
        frame = ref.frames[0] if ref.frames else 1
        plane = planes.get(ref.sop_instance_uid, frame)
        centre = None if plane is None else plane.lps(plane.columns / 2, plane.rows / 2)
        return {
            "sop_instance_uid": ref.sop_instance_uid,
            "frame": frame,
            "number": numbers.get(ref.sop_instance_uid),
            "lps": centre,
        }

    key_images = []
    for k in marks.key_images:
        mine = [place(r) for r in k.images if r.sop_instance_uid in images]
        if mine:
            key_images.append({"title": k.title, "description": k.description, "images": mine})
    windows = [
        {"center": w.center, "width": w.width, "explanation": w.explanation}
        for w in marks.windows
        if not w.images or any(r.sop_instance_uid in images for r in w.images)
    ]
    annotations = []
    for a in marks.annotations:
        for ref in a.images:
            if ref.sop_instance_uid in images:
                display = _display_area(marks, a.document, ref) if a.units == "DISPLAY" else None
                annotations.append(_annotation(a, ref, place(ref), planes, display))
        if not a.images and a.units == "MM":  # SCOORD3D: patient mm, no image needed
            annotations.append(_annotation(a, None, None, planes))
    from ownscan.core.serve._display import presentation_states_json

    terms = explain_terms("\n".join(report_text))
    return {
        "documents": documents,
        "glossary": [
            {
                "term": e.term,
                "as_written": written,
                "text": e.text,
                "sources": [{"name": s.name, "url": s.url} for s in e.sources],
            }
            for e, written in terms
        ],
        "key_images": key_images,
        "windows": windows,
        "annotations": annotations,
        "presentation_states": presentation_states_json(states, images, place, planes.get),
        "problems": problems,
    }


def _pdf_words(kind: str, path: str) -> str:
    """The text of a kept PDF for the glossary; "" when PDFium cannot read it (the page's
    pages route says so: ``_pages.py``)."""
    from ownscan.core.reports import PdfError, pdf_text, read_pdf

    try:
        return pdf_text(read_pdf(kind, path)[1], "PDF")
    except PdfError:
        return ""


def _marking_files(lib: Library, study_uid: str) -> list[str]:
    """The study's presentation states, Key Object Selections and SRs (any may mark)."""
    paths = []
    for se in lib.series(study_uid):
        for inst in lib.instances(se.series_uid):
            cls = inst.sop_class_uid
            if cls.startswith(_PRESENTATION_PREFIX) or cls.startswith(_SR_PREFIX):
                paths.append(inst.path)
    return paths


def _display_area(
    marks: Marks, document: str, ref: ImageRef
) -> tuple[float, float, float, float] | None:
    """The specified displayed area of an image, as corner-based pixel coordinates
    ``(left, top, right, bottom)``, that a presentation state's DISPLAY units are fractions
    of (PS3.3 C.10.5.1.1); ``(0, 0, 0, 0)`` when the image is rotated or flipped (the display
    space is then turned against the pixels: not placed rather than misplaced); None: no
    displayed area given (the whole image)."""
    if marks.rotation.get(ref.sop_instance_uid, (0, False)) != (0, False):
        return (0.0, 0.0, 0.0, 0.0)
    for area in marks.displayed_areas:
        if area.document != document:
            continue
        if area.images and not any(r.sop_instance_uid == ref.sop_instance_uid for r in area.images):
            continue
        (c1, r1), (c2, r2) = area.top_left, area.bottom_right
        # 1-based pixel numbers: from the left edge of pixel c1 to the right edge of pixel c2
        return (c1 - 1.0, r1 - 1.0, c2, r2)
    return None


def _annotation(
    a: Annotation,
    ref: ImageRef | None,
    image: dict[str, Any] | None,
    planes: _Planes,
    display: tuple[float, float, float, float] | None = None,
) -> dict[str, Any]:
    frame = ref.frames[0] if ref is not None and ref.frames else 1
    plane = None if ref is None else planes.get(ref.sop_instance_uid, frame)

    def to_lps(p: tuple[float, ...]) -> list[float] | None:
        if a.units == "MM":
            return [round(float(x), 4) for x in p[:3]]
        if plane is None or len(p) < 2:
            return None
        col, row = float(p[0]), float(p[1])
        if a.units == "DISPLAY":  # fractions of the specified displayed area
            left, top, right, bottom = display or (0.0, 0.0, plane.columns, plane.rows)
            if right <= left or bottom <= top:
                return None
            col, row = left + col * (right - left), top + row * (bottom - top)
        return plane.lps(col, row)

    points = [to_lps(p) for p in a.points]
    anchor = None if a.anchor is None else to_lps(a.anchor)
    placed = all(p is not None for p in points) and bool(points)
    return {
        "source": a.source,
        "shape": a.shape,
        "text": a.text,
        "points": points if placed else None,
        "anchor": anchor,
        "filled": a.filled,
        "layer": a.layer,
        "image": image,
    }


class _Planes:
    """Pixel -> LPS maps of the images of one series, read from each image's header once."""

    def __init__(self, images: dict[str, Any], volume: Volume) -> None:
        self._images = images
        self._volume = volume
        self._cache: dict[tuple[str, int], _Plane | None] = {}

    def get(self, sop_uid: str, frame: int) -> _Plane | None:
        key = (sop_uid, frame)
        if key not in self._cache:
            inst = self._images.get(sop_uid)
            self._cache[key] = None if inst is None else self._read(inst.path, frame)
        return self._cache[key]

    def _read(self, path: str, frame: int) -> _Plane | None:
        import pydicom

        from ownscan.core.dicom import image_orientation, quiet_pydicom

        try:
            with quiet_pydicom():
                ds = pydicom.dcmread(path, stop_before_pixels=True)
            rows, cols = int(ds.Rows), int(ds.Columns)
            ipp, iop, spacing = _geometry(ds, frame)
        except (OSError, ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
            log.warning("marks: an image header could not be read (%s)", type(exc).__name__)
            return None
        # the orientation as assembly places the image (unit, perpendicular), or none
        used = image_orientation(iop, (rows, cols), spacing) if iop is not None else None
        if ipp is not None and used is not None and spacing is not None:
            x, y = np.asarray(used[:3], float), np.asarray(used[3:], float)
            return _Plane(
                np.asarray(ipp, float),  # the centre of the first pixel
                spacing[1] * x,
                spacing[0] * y,
                rows,
                cols,
            )
        return self._from_volume(frame, rows, cols)

    def _from_volume(self, frame: int, rows: int, cols: int) -> _Plane | None:
        """An image without patient geometry through the volume's affine: the only image of
        a 2D series, or frame N of the one multi-frame file of a ``frames`` stack."""
        v = self._volume
        z, y, x = v.shape[:3]
        if (y, x) != (rows, cols) or len(self._images) != 1:
            return None
        k = 0 if z == 1 else frame - 1
        if not 0 <= k < z:
            return None
        a = np.asarray(v.affine, float)
        return _Plane(a[:3, :3] @ [0.0, 0.0, k] + a[:3, 3], a[:3, 0], a[:3, 1], rows, cols)


def _geometry(
    ds: Any, frame: int
) -> tuple[list[float] | None, list[float] | None, tuple[float, float] | None]:
    """Image Position, Orientation (Patient) and Pixel Spacing of one frame: the classic
    attributes, else the enhanced multi-frame functional groups (per frame, then shared)."""

    def group(name: str, keyword: str) -> Any:
        per = ds.get("PerFrameFunctionalGroupsSequence")
        if per is not None and 0 < frame <= len(per):
            seq = per[frame - 1].get(name)
            if seq and keyword in seq[0]:
                return seq[0].get(keyword)
        shared = ds.get("SharedFunctionalGroupsSequence")
        if shared:
            seq = shared[0].get(name)
            if seq and keyword in seq[0]:
                return seq[0].get(keyword)
        return None

    ipp = ds.get("ImagePositionPatient") or group("PlanePositionSequence", "ImagePositionPatient")
    iop = ds.get("ImageOrientationPatient") or group(
        "PlaneOrientationSequence", "ImageOrientationPatient"
    )
    ps = ds.get("PixelSpacing") or group("PixelMeasuresSequence", "PixelSpacing")
    spacing = None
    if ps is not None and len(ps) == 2 and float(ps[0]) > 0 and float(ps[1]) > 0:
        spacing = (float(ps[0]), float(ps[1]))
    return (
        [float(v) for v in ipp] if ipp is not None and len(ipp) == 3 else None,
        [float(v) for v in iop] if iop is not None and len(iop) == 6 else None,
        spacing,
    )
