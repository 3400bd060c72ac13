"""What the radiologist marked, as records that point at images.

Three kinds of DICOM documents carry it:

* Key Object Selection (KOS): the images flagged ("Of Interest", "For Referring Provider"...),
  with the radiologist's note;
* Grayscale Softcopy Presentation State (GSPS): the window they read with, the zoom (displayed
  area), rotation/flip, and the annotations (text boxes with their anchor lines, polylines,
  points, circles, ellipses, interpolated curves) per image;
* Structured Reports whose measurements carry coordinates (SCOORD on an image, SCOORD3D in
  patient mm; TID 1500 measurement groups).

:func:`read_marks` reads any of them into :class:`Marks`; every record names its images by SOP
Instance UID and frame, and its coordinates as the document writes them (image pixel columns
and rows with (0, 0) the top left corner of the image, or display fractions, or patient mm).
Drawing them is the viewers' part.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ownscan.core.reports._sr import (
    Code,
    ImageRef,
    ReportError,
    ReportItem,
    _first_code,
    _points,
    _refs,
    _text,
    read_dataset_file,
    read_report,
)

__all__ = [
    "GRAYSCALE_SOFTCOPY_PS",
    "Annotation",
    "DisplayedArea",
    "KeyImages",
    "Marks",
    "WindowSetting",
    "read_marks",
]

GRAYSCALE_SOFTCOPY_PS = "1.2.840.10008.5.1.4.1.1.11.1"
_PRESENTATION_STATES = frozenset(
    {
        GRAYSCALE_SOFTCOPY_PS,
        "1.2.840.10008.5.1.4.1.1.11.2",  # colour
        "1.2.840.10008.5.1.4.1.1.11.3",  # pseudo-colour
        "1.2.840.10008.5.1.4.1.1.11.4",  # blending
    }
)


@dataclass(frozen=True)
class KeyImages:
    """Images a Key Object Selection flags: ``title`` (why, e.g. "Of Interest"), the
    radiologist's ``description`` and the images in the document's order."""

    document: str
    title: str
    description: str
    images: tuple[ImageRef, ...]


@dataclass(frozen=True)
class WindowSetting:
    """The window (centre/width, in the image's rescaled values) a presentation state applies
    to ``images`` (empty: every image it references)."""

    document: str
    center: float
    width: float
    explanation: str
    images: tuple[ImageRef, ...]


@dataclass(frozen=True)
class DisplayedArea:
    """The zoom: the part of the image shown, top-left and bottom-right corners in pixels
    (1-based columns, rows), and how it is scaled (``size_mode``: SCALE TO FIT, TRUE SIZE,
    MAGNIFY with ``magnification``)."""

    document: str
    top_left: tuple[float, float]
    bottom_right: tuple[float, float]
    size_mode: str
    magnification: float | None
    pixel_spacing: tuple[float, float] | None
    images: tuple[ImageRef, ...]


@dataclass(frozen=True)
class Annotation:
    """One mark on an image.

    ``shape`` is ``TEXT`` (a text box: ``points`` its top-left and bottom-right corners, and
    ``anchor`` the spot its leader line points to), a DICOM graphic type (POINT, POLYLINE,
    INTERPOLATED, CIRCLE, ELLIPSE, MULTIPOINT, POLYGON) or a compound graphic type (ARROW,
    RULER, CROSSHAIR, RECTANGLE, MULTILINE, INFINITELINE, CUTLINE, RANGELINE, AXIS).
    ``images`` is never empty for a presentation state's marks (an item naming no image
    applies to every image the presentation state references).
    ``units`` is ``PIXEL`` (image columns, rows), ``DISPLAY`` (fractions of the displayed
    area) or ``MM`` (patient coordinates, SCOORD3D). ``source`` says where it came from:
    ``gsps`` or ``sr``; for SR marks ``text`` is the measurement (name and value).
    """

    document: str
    source: str
    shape: str
    units: str
    points: tuple[tuple[float, ...], ...]
    text: str
    images: tuple[ImageRef, ...]
    layer: str = ""
    filled: bool = False
    anchor: tuple[float, float] | None = None
    frame_of_reference: str = ""


@dataclass
class Marks:
    """Everything marked in the documents read (:func:`read_marks`)."""

    key_images: list[KeyImages] = field(default_factory=list)
    windows: list[WindowSetting] = field(default_factory=list)
    displayed_areas: list[DisplayedArea] = field(default_factory=list)
    annotations: list[Annotation] = field(default_factory=list)
    presentation_labels: list[str] = field(default_factory=list)
    rotation: dict[str, tuple[int, bool]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.key_images or self.windows or self.displayed_areas or self.annotations)

    def extend(self, other: Marks) -> None:
        self.key_images += other.key_images
        self.windows += other.windows
        self.displayed_areas += other.displayed_areas
        self.annotations += other.annotations
        self.presentation_labels += other.presentation_labels
        self.rotation.update(other.rotation)

    def for_image(self, sop_instance_uid: str) -> list[Annotation]:
        """The annotations drawn on one image (those naming no image apply to all the
        document references, so they are included)."""
        return [
            a
            for a in self.annotations
            if not a.images or any(r.sop_instance_uid == sop_instance_uid for r in a.images)
        ]


def _pair(values: Any) -> tuple[float, float]:
    v = [float(x) for x in values]
    return (v[0], v[1])


def _presentation_state(ds: Any, document: str) -> Marks:
    marks = Marks()
    label = _text(ds.get("ContentLabel"))
    description = _text(ds.get("ContentDescription"))
    marks.presentation_labels.append(" - ".join(x for x in (label, description) if x))
    # an item naming no image applies to every image the presentation state references
    every = tuple(
        ref
        for series in ds.get("ReferencedSeriesSequence") or ()
        for ref in _refs(series.get("ReferencedImageSequence"))
    )
    for voi in ds.get("SoftcopyVOILUTSequence") or ():
        centers, widths = voi.get("WindowCenter"), voi.get("WindowWidth")
        if centers is None or widths is None:
            continue
        centers = list(centers) if hasattr(centers, "__iter__") else [centers]
        widths = list(widths) if hasattr(widths, "__iter__") else [widths]
        explanation = voi.get("WindowCenterWidthExplanation")
        if explanation is not None and not isinstance(explanation, str):
            explanation = "\\".join(str(e) for e in explanation)
        marks.windows.append(
            WindowSetting(
                document,
                float(centers[0]),
                float(widths[0]),
                _text(explanation),
                _refs(voi.get("ReferencedImageSequence")) or every,
            )
        )
    for area in ds.get("DisplayedAreaSelectionSequence") or ():
        spacing = area.get("PresentationPixelSpacing")
        marks.displayed_areas.append(
            DisplayedArea(
                document,
                _pair(area.DisplayedAreaTopLeftHandCorner),
                _pair(area.DisplayedAreaBottomRightHandCorner),
                _text(area.get("PresentationSizeMode")),
                float(area.PresentationPixelMagnificationRatio)
                if "PresentationPixelMagnificationRatio" in area
                else None,
                _pair(spacing) if spacing else None,
                _refs(area.get("ReferencedImageSequence")) or every,
            )
        )
    for ann in ds.get("GraphicAnnotationSequence") or ():
        images = _refs(ann.get("ReferencedImageSequence")) or every
        layer = _text(ann.get("GraphicLayer"))
        for obj in ann.get("TextObjectSequence") or ():
            corners: tuple[tuple[float, ...], ...] = ()
            units = _text(obj.get("BoundingBoxAnnotationUnits"))
            if "BoundingBoxTopLeftHandCorner" in obj:
                corners = (
                    _pair(obj.BoundingBoxTopLeftHandCorner),
                    _pair(obj.BoundingBoxBottomRightHandCorner),
                )
            anchor = _pair(obj.AnchorPoint) if "AnchorPoint" in obj else None
            if anchor is not None and not units:
                units = _text(obj.get("AnchorPointAnnotationUnits"))
            marks.annotations.append(
                Annotation(
                    document,
                    "gsps",
                    "TEXT",
                    units or "PIXEL",
                    corners,
                    _text(obj.get("UnformattedTextValue")),
                    images,
                    layer=layer,
                    anchor=anchor if _text(obj.get("AnchorPointVisibility")) != "N" else None,
                )
            )
        for obj in ann.get("GraphicObjectSequence") or ():
            marks.annotations.append(
                Annotation(
                    document,
                    "gsps",
                    _text(obj.get("GraphicType")).upper(),
                    _text(obj.get("GraphicAnnotationUnits")) or "PIXEL",
                    _points(obj.get("GraphicData"), int(obj.get("GraphicDimensions") or 2)),
                    "",
                    images,
                    layer=layer,
                    filled=_text(obj.get("GraphicFilled")) == "Y",
                )
            )
        # compound graphics (PS3.3 C.10.5.1.3): arrows, rulers, crosshairs, rectangles...,
        # kept with their points as written; the standard says how each is drawn
        for obj in ann.get("CompoundGraphicSequence") or ():
            marks.annotations.append(
                Annotation(
                    document,
                    "gsps",
                    _text(obj.get("CompoundGraphicType")).upper(),
                    _text(obj.get("CompoundGraphicUnits")) or "PIXEL",
                    _points(obj.get("GraphicData"), int(obj.get("GraphicDimensions") or 2)),
                    _text(obj.get("UnformattedTextValue")),
                    images,
                    layer=layer,
                    filled=_text(obj.get("GraphicFilled")) == "Y",
                )
            )
    rotation = int(ds.get("ImageRotation") or 0)
    flip = _text(ds.get("ImageHorizontalFlip")) == "Y"
    if rotation or flip:
        for series in ds.get("ReferencedSeriesSequence") or ():
            for ref in _refs(series.get("ReferencedImageSequence")):
                marks.rotation[ref.sop_instance_uid] = (rotation, flip)
    return marks


def _sr_marks(items: tuple[ReportItem, ...], document: str) -> Marks:
    """SCOORD/SCOORD3D items with what they measure: the parent NUM's name and value, or the
    nearest measurement group's NUMs."""
    marks = Marks()

    def visit(
        item: ReportItem, parent: ReportItem | None, siblings: tuple[ReportItem, ...]
    ) -> None:
        if item.value_type in ("SCOORD", "SCOORD3D"):
            what: list[str] = []
            if parent is not None and parent.value_type == "NUM":
                what.append(f"{parent.label} {parent.text}".strip())
            else:
                what += [f"{s.label} {s.text}".strip() for s in siblings if s.value_type == "NUM"]
            if item.label and not what:
                what.append(item.label)
            marks.annotations.append(
                Annotation(
                    document,
                    "sr",
                    item.graphic_type,
                    "MM" if item.value_type == "SCOORD3D" else "PIXEL",
                    item.points,
                    "; ".join(what),
                    item.images,
                    frame_of_reference=item.frame_of_reference,
                )
            )
        for child in item.children:
            visit(child, item, item.children)

    for top in items:
        visit(top, None, items)
    return marks


def _key_images(items: tuple[ReportItem, ...], title: Code | None, document: str) -> KeyImages:
    images: list[ImageRef] = []
    notes: list[str] = []
    for item in items:
        for _, node in item.walk():
            if node.value_type == "IMAGE":
                images.extend(node.images)
            elif node.value_type == "TEXT" and node.text:
                notes.append(node.text)
    return KeyImages(
        document, str(title) if title else "Key images", "\n".join(notes), tuple(images)
    )


def read_marks(source: str | os.PathLike[str] | Any) -> Marks:
    """What one document marks: a KOS's key images, a presentation state's window, zoom and
    annotations, an SR's measurements with coordinates.

    Parameters
    ----------
    source
        A file path or a pydicom ``Dataset``.

    Returns
    -------
    Marks
        Empty for documents that mark nothing (an SR without coordinates).

    Raises
    ------
    ReportError
        Not a readable DICOM file, or a presentation state whose required values are
        damaged (the message names the file).
    """
    from ownscan.core.dicom import quiet_pydicom

    with quiet_pydicom():  # text is decoded when first touched (see read_report)
        return _read_marks(source)


def _read_marks(source: str | os.PathLike[str] | Any) -> Marks:
    ds = read_dataset_file(source) if isinstance(source, (str, os.PathLike)) else source
    document = _text(ds.get("SOPInstanceUID"))
    sop_class = _text(ds.get("SOPClassUID"))
    name = str(source) if isinstance(source, (str, os.PathLike)) else document
    try:
        if sop_class in _PRESENTATION_STATES:
            return _presentation_state(ds, document)
        if sop_class.startswith("1.2.840.10008.5.1.4.1.1.88."):
            report = read_report(ds)
            if report.is_key_object_selection:
                title = _first_code(ds, "ConceptNameCodeSequence")
                marks = Marks()
                marks.key_images.append(_key_images(report.items, title, document))
                return marks
            return _sr_marks(report.items, document)
    except (AttributeError, ValueError, TypeError, IndexError) as exc:
        raise ReportError(f"{name}: damaged presentation or report content ({exc})") from exc
    return Marks()
