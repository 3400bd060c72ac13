"""What the radiologist marked, on the viewer's images.

The records come from :mod:`ownscan.core.reports` (:func:`~ownscan.core.reports.read_marks`
for Key Object Selections, presentation states and SR measurements with coordinates;
:func:`~ownscan.core.reports.read_overlays` for overlay planes 60xx). Here they are placed in
the patient: every record names its image by SOP Instance UID and its points in that image's
pixel coordinates, so each referenced image's header (Image Position / Orientation (Patient),
Pixel Spacing) turns them into LPS millimetres. The views then draw a mark where its image
lies in the slice they show (the image's plane parallel to the view and within half a slice of
it), whatever the view's orientation and zoom: the same geometry as the images themselves,
never a guess. An image whose place is not known (no position and orientation in a series of
several images, a multi-frame file) is listed as "not placed" and nothing of it is drawn.

Reading happens on a thread (:class:`MarksLoader`) when a series with documents is shown; the
window keeps drawing meanwhile.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ownscan.core.reports import Annotation, DisplayedArea, Marks, OverlayPlane, WindowSetting
from ownscan.core.viewer._jobs import ThreadJob
from ownscan.core.volume import Volume

__all__ = [
    "ImagePlane",
    "MarkShape",
    "MarksLoader",
    "StudyDocuments",
    "StudyMarks",
    "image_plane",
    "shapes_of",
]

log = logging.getLogger(__name__)

Vec = npt.NDArray[np.float64]


@dataclass(frozen=True)
class StudyDocuments:
    """A study's documents as the viewer needs them.

    ``reports``: ``(kind, title, path)`` of PDFs (``pdf``: a file that came with an import,
    ``dicom-pdf``: an Encapsulated PDF) and DICOM SR / Key Object Selection documents
    (``sr``); ``presentation_states``: paths of the study's presentation states;
    ``images``: a function giving every image of the study as ``{SOP Instance UID:
    (Series Instance UID, path)}`` (called on the loader thread).
    """

    reports: tuple[tuple[str, str, str], ...] = ()
    presentation_states: tuple[str, ...] = ()
    images: Callable[[], dict[str, tuple[str, str]]] | None = None


@dataclass(frozen=True)
class ImagePlane:
    """Where one stored image lies in the patient.

    ``corner`` is the LPS position (mm) of the centre of its top left pixel; ``col_step`` and
    ``row_step`` the LPS vectors (mm) of one column and one row; ``frame_of_reference`` the
    Frame of Reference UID (empty when the file has none).
    """

    sop_instance_uid: str
    series_uid: str
    corner: Vec
    col_step: Vec
    row_step: Vec
    columns: int
    rows: int
    frame_of_reference: str = ""

    def to_lps(self, x: float, y: float) -> Vec:
        """Image coordinates as DICOM writes them for marks (column, row; (0, 0) the top left
        corner of the top left pixel, (1, 1) its bottom right corner) -> LPS mm."""
        return self.corner + (x - 0.5) * self.col_step + (y - 0.5) * self.row_step

    def normal(self) -> Vec:
        n = np.cross(self.col_step, self.row_step)
        return n / float(np.linalg.norm(n))

    def centre(self) -> Vec:
        return self.to_lps(self.columns / 2.0, self.rows / 2.0)


def image_plane(ds: Any, series_uid: str, volume: Volume | None = None) -> ImagePlane | None:
    """The plane of a single-frame image from its header, or None when it does not say.

    An image without Image Position/Orientation (Patient) is placed only when it is the one
    image of ``volume`` (a radiograph, a secondary capture): then its pixels are the volume's.
    """
    from ownscan.core.dicom import image_orientation

    sop = str(ds.get("SOPInstanceUID", ""))
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    ipp, iop, spacing = (
        ds.get("ImagePositionPatient"),
        ds.get("ImageOrientationPatient"),
        ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing"),
    )
    rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    for_uid = str(ds.get("FrameOfReferenceUID", "") or "")
    if frames == 1 and ipp is not None and iop is not None and len(iop) == 6 and rows and cols:
        # Pixel Spacing is (between rows, between columns)
        sr, sc = (float(v) for v in spacing) if spacing else (1.0, 1.0)
        # the orientation as assembly places the image (unit, perpendicular), or none
        iop = image_orientation(iop, (rows, cols), (sr, sc))
    if frames == 1 and ipp is not None and iop is not None and rows and cols:
        row_dir = np.array(iop[:3])
        col_dir = np.array(iop[3:])
        return ImagePlane(
            sop,
            series_uid,
            np.array([float(v) for v in ipp]),
            row_dir * sc,
            col_dir * sr,
            cols,
            rows,
            for_uid,
        )
    if volume is not None and volume.shape[0] == 1 and volume.shape[1:3] == (rows, cols):
        d = volume.direction
        return ImagePlane(
            sop,
            series_uid,
            volume.index_to_lps([0.0, 0.0, 0.0]),
            d[:, 0] * volume.spacing[0],
            d[:, 1] * volume.spacing[1],
            cols,
            rows,
            for_uid,
        )
    return None


@dataclass(frozen=True)
class MarkShape:
    """One mark placed in the patient: polylines, dots and texts in LPS mm.

    ``plane`` is the image it lies on (None for SCOORD3D marks given in patient mm);
    ``kind`` ``sr`` (a measurement of a report) or ``gsps`` (a presentation state's);
    ``document`` the document's SOP Instance UID; ``label`` the measurement or text.
    """

    kind: str
    document: str
    label: str
    plane: ImagePlane | None
    lines: tuple[tuple[Vec, ...], ...] = ()
    closed: tuple[bool, ...] = ()
    dots: tuple[Vec, ...] = ()
    texts: tuple[tuple[Vec, str], ...] = ()
    arrow_heads: tuple[tuple[Vec, Vec], ...] = ()  # (tip, a point of the shaft)
    frame_of_reference: str = ""

    def points(self) -> list[Vec]:
        pts = [p for line in self.lines for p in line] + list(self.dots)
        return pts + [p for p, _ in self.texts]

    def centre(self) -> Vec:
        pts = self.points()
        return np.mean(np.array(pts), axis=0) if pts else np.zeros(3)


def _ring(
    centre: tuple[float, float], rx: tuple[float, float], ry: tuple[float, float], n: int = 64
) -> list[tuple[float, float]]:
    out = []
    for k in range(n):
        t = 2.0 * math.pi * k / n
        out.append(
            (
                centre[0] + rx[0] * math.cos(t) + ry[0] * math.sin(t),
                centre[1] + rx[1] * math.cos(t) + ry[1] * math.sin(t),
            )
        )
    return out


def _outline(
    shape: str, pts: list[tuple[float, float]]
) -> tuple[list[list[tuple[float, float]]], list[bool], list[tuple[float, float]]]:
    """A shape in 2D image coordinates as polylines (and whether each is closed) and dots,
    following PS3.3 C.10.5 (graphic types and compound graphic types) and C.18.6 (SCOORD)."""
    if shape in ("POINT", "MULTIPOINT", "CROSSHAIR") or len(pts) == 1:
        if shape == "CROSSHAIR" and pts:
            return [], [], pts[:1]
        return [], [], pts
    if shape == "CIRCLE" and len(pts) >= 2:
        (cx, cy), (ex, ey) = pts[0], pts[1]
        r = math.hypot(ex - cx, ey - cy)
        return [_ring((cx, cy), (r, 0.0), (0.0, r))], [True], []
    if shape == "ELLIPSE" and len(pts) >= 4:  # major axis end points, then minor axis ones
        (a0, a1, b0, b1) = (np.array(p) for p in pts[:4])
        c = (a0 + a1) / 2.0
        ra, rb = (a1 - a0) / 2.0, (b1 - b0) / 2.0
        return [_ring((c[0], c[1]), (ra[0], ra[1]), (rb[0], rb[1]))], [True], []
    if shape in ("ELLIPSE", "RECTANGLE") and len(pts) == 2:  # compound: bounding box corners
        (x0, y0), (x1, y1) = pts
        if shape == "RECTANGLE":
            return [[(x0, y0), (x1, y0), (x1, y1), (x0, y1)]], [True], []
        c, rx, ry = ((x0 + x1) / 2, (y0 + y1) / 2), ((x1 - x0) / 2, 0.0), (0.0, (y1 - y0) / 2)
        return [_ring(c, rx, ry)], [True], []
    closed = shape == "POLYGON" or (len(pts) > 2 and pts[0] == pts[-1])
    return [pts], [closed], []


def shapes_of(
    annotation: Annotation,
    planes: dict[str, ImagePlane],
    areas: dict[tuple[str, str], DisplayedArea],
) -> list[MarkShape]:
    """Place one annotation on each of its images whose plane is known.

    ``areas`` maps (document, image) to the presentation state's displayed area, which
    DISPLAY units are fractions of (the whole image without one).
    """
    a = annotation
    if a.units == "MM":  # SCOORD3D: already in the patient
        pts3 = [np.array(p[:3], dtype=np.float64) for p in a.points if len(p) >= 3]
        lines: tuple[tuple[Vec, ...], ...] = ()
        dots: tuple[Vec, ...] = ()
        if a.shape in ("POINT", "MULTIPOINT") or len(pts3) == 1:
            dots = tuple(pts3)
        else:
            lines = (tuple(pts3),)
        return [
            MarkShape(
                a.source,
                a.document,
                a.text,
                None,
                lines,
                (a.shape == "POLYGON",) * len(lines),
                dots,
                frame_of_reference=a.frame_of_reference,
            )
        ]
    out = []
    for ref in a.images:
        plane = planes.get(ref.sop_instance_uid)
        if plane is None:
            continue
        to2d = _display_mapping(a, plane, areas.get((a.document, ref.sop_instance_uid)))
        pts = [to2d(p) for p in a.points if len(p) >= 2]
        texts: list[tuple[Vec, str]] = []
        heads: list[tuple[Vec, Vec]] = []
        if a.shape == "TEXT":
            polylines: list[list[tuple[float, float]]] = []
            flags: list[bool] = []
            spots: list[tuple[float, float]] = []
            at = pts[0] if pts else (to2d(a.anchor) if a.anchor else None)
            if at is not None:
                texts.append((plane.to_lps(*at), a.text))
            if a.anchor is not None:
                anchor = to2d(a.anchor)
                if pts:  # the leader line: from the box's nearest corner to the spot
                    corners = [pts[0], pts[-1], (pts[0][0], pts[-1][1]), (pts[-1][0], pts[0][1])]
                    near = min(corners, key=lambda c: math.dist(c, anchor))
                    polylines.append([near, anchor])
                    flags.append(False)
                spots.append(anchor)
        else:
            polylines, flags, spots = _outline(a.shape, pts)
            if a.shape == "ARROW" and len(pts) >= 2:
                # PS3.3 C.10.5.1.3: the arrow points at its first point (its head); the
                # second is the end of its tail. The page (static/marks.js) draws it so too.
                heads.append((plane.to_lps(*pts[0]), plane.to_lps(*pts[1])))
            if a.shape == "RULER" and len(pts) >= 2:
                p, q = plane.to_lps(*pts[0]), plane.to_lps(*pts[-1])
                texts.append((q, f"{float(np.linalg.norm(q - p)):.1f} mm"))
            if a.text and a.source == "gsps" and pts:
                texts.append((plane.to_lps(*pts[-1]), a.text))
        out.append(
            MarkShape(
                a.source,
                a.document,
                a.text,
                plane,
                tuple(tuple(plane.to_lps(*p) for p in line) for line in polylines),
                tuple(flags),
                tuple(plane.to_lps(*p) for p in spots),
                tuple(texts),
                tuple(heads),
                plane.frame_of_reference,
            )
        )
    return out


def _display_mapping(
    a: Annotation, plane: ImagePlane, area: DisplayedArea | None
) -> Callable[[Iterable[float]], tuple[float, float]]:
    """Image coordinates of a point in the annotation's units (PIXEL as is; DISPLAY as
    fractions of the displayed area: 1-based pixel corners, or the whole image)."""
    if a.units != "DISPLAY":

        def pixel(p: Iterable[float]) -> tuple[float, float]:
            x, y = list(p)[:2]
            return (float(x), float(y))

        return pixel
    if area is not None:
        x0, y0 = area.top_left[0] - 1.0, area.top_left[1] - 1.0
        x1, y1 = area.bottom_right
    else:
        x0, y0, x1, y1 = 0.0, 0.0, float(plane.columns), float(plane.rows)

    def f(p: Iterable[float]) -> tuple[float, float]:
        u, v = list(p)[:2]
        return (x0 + float(u) * (x1 - x0), y0 + float(v) * (y1 - y0))

    return f


@dataclass
class PresentationState:
    """One presentation state as the viewer applies it: its label, window, zoom per image and
    marks."""

    document: str
    label: str
    window: tuple[float, float, str] | None  # width, level (centre), explanation
    areas: dict[str, DisplayedArea]
    images: tuple[str, ...]


@dataclass
class StudyMarks:
    """Everything marked for one series' study, placed in the patient (:class:`MarksLoader`).

    ``overlays`` are the overlay planes of the shown series' images, by SOP Instance UID;
    ``not_placed`` the referenced images whose place is unknown.
    """

    marks: Marks = field(default_factory=Marks)
    planes: dict[str, ImagePlane] = field(default_factory=dict)
    shapes: list[MarkShape] = field(default_factory=list)
    presentation_states: list[PresentationState] = field(default_factory=list)
    overlays: dict[str, list[OverlayPlane]] = field(default_factory=dict)
    series_of: dict[str, str] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)
    not_placed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def measurements(self) -> list[MarkShape]:
        """The report measurements with coordinates (what the list shows), in document
        order."""
        return [s for s in self.shapes if s.kind == "sr"]


def read_study_marks(documents: StudyDocuments, series_uid: str, volume: Volume) -> StudyMarks:
    """Read the documents' marks and place them (every referenced image and every image of
    the shown series: the latter for their overlay planes). A document that cannot be read is
    a problem listed by name; the others are still shown."""
    import pydicom

    from ownscan.core.dicom import quiet_pydicom
    from ownscan.core.reports import ReportError, read_marks, read_overlays

    out = StudyMarks()
    for kind, _title, path in documents.reports:
        if kind != "sr":
            continue
        try:
            out.marks.extend(read_marks(path))
        except ReportError as exc:
            out.problems.append(str(exc))
    for path in documents.presentation_states:
        try:
            m = read_marks(path)
        except ReportError as exc:
            out.problems.append(str(exc))
            continue
        out.marks.extend(m)
        records: list[Annotation | WindowSetting | DisplayedArea] = [
            *m.annotations,
            *m.windows,
            *m.displayed_areas,
        ]
        doc = next((x.document for x in records), path)
        label = m.presentation_labels[0] if m.presentation_labels else ""
        win = m.windows[0] if m.windows else None
        # its images in the document's order, the annotated ones first (where "apply" goes)
        refs = dict.fromkeys(r.sop_instance_uid for x in records for r in x.images)
        out.presentation_states.append(
            PresentationState(
                doc,
                label or "presentation state",
                (win.width, win.center, win.explanation) if win else None,
                {r.sop_instance_uid: d for d in m.displayed_areas for r in d.images},
                tuple(refs),
            )
        )
    images = documents.images() if documents.images is not None else {}
    out.series_of = {sop: s for sop, (s, _) in images.items()}
    wanted = {r.sop_instance_uid for k in out.marks.key_images for r in k.images}
    wanted |= {r.sop_instance_uid for a in out.marks.annotations for r in a.images}
    wanted |= {r.sop_instance_uid for w in out.marks.windows for r in w.images}
    shown = {sop for sop, (s, _) in images.items() if s == series_uid}
    single = volume if len(shown) == 1 else None
    with quiet_pydicom():
        for sop in sorted(wanted | shown):
            if sop not in images:
                continue
            s, path = images[sop]
            if sop in wanted:
                out.paths[sop] = path
            try:
                ds = pydicom.dcmread(path, stop_before_pixels=True)
            except Exception as exc:  # a damaged file costs its marks, not the viewer
                out.problems.append(f"{path}: cannot read ({exc})")
                continue
            plane = image_plane(ds, s, single if s == series_uid else None)
            if plane is not None:
                out.planes[sop] = plane
            elif sop in wanted:
                out.not_placed.append(sop)
            if sop in shown:
                try:
                    found = read_overlays(ds)
                except ReportError as exc:
                    out.problems.append(str(exc))
                    found = []
                if found:
                    out.overlays[sop] = found
    out.not_placed += sorted(sop for sop in wanted if sop not in images)
    areas = {
        (d.document, r.sop_instance_uid): d for d in out.marks.displayed_areas for r in d.images
    }
    for a in out.marks.annotations:
        out.shapes += shapes_of(a, out.planes, areas)
    return out


class MarksLoader(ThreadJob[StudyMarks]):
    """Reads a study's marks on a thread (:func:`read_study_marks`); ``result`` once done."""

    def __init__(
        self, key: str, documents: StudyDocuments, series_uid: str, volume: Volume
    ) -> None:
        self.key = key
        super().__init__(
            functools.partial(read_study_marks, documents, series_uid, volume), "ownscan-marks"
        )

    @property
    def done(self) -> bool:
        return self.finished
