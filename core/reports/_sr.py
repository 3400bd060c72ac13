"""A DICOM Structured Report (or Key Object Selection) read into plain records, and as text.

The content tree of an SR is a tree of items, each with a concept name (a code whose meaning
is the label: "Findings", "Long axis"), a value type and a value. :func:`read_report` turns it
into :class:`ReportItem` records; :func:`report_lines` walks them into the text a person
reads: containers become headings, measurements "value unit", codes their meaning with the
code in brackets. The same walk feeds the terminal, HTML and PDF (``_render``), the browser
server and the viewer.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ownscan.core.errors import OwnscanError
from ownscan.core.names import display_name

__all__ = [
    "Code",
    "ImageRef",
    "ReportError",
    "ReportItem",
    "StructuredReport",
    "format_date",
    "read_dataset_file",
    "read_report",
    "report_lines",
]

ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
KEY_OBJECT_SELECTION = "1.2.840.10008.5.1.4.1.1.88.59"
_SR_PREFIX = "1.2.840.10008.5.1.4.1.1.88."


class ReportError(OwnscanError):
    """A document that cannot be read as a report; the message names the file and why."""


@dataclass(frozen=True)
class Code:
    """A coded concept: ``meaning`` is what people read; value and scheme identify it."""

    value: str
    scheme: str
    meaning: str

    def __str__(self) -> str:
        return self.meaning or f"{self.scheme}:{self.value}"

    @property
    def label(self) -> str:
        """``meaning (SCHEME value)``, e.g. ``Nodule (SCT 27925004)``."""
        ident = f"{self.scheme} {self.value}".strip()
        return f"{self.meaning} ({ident})" if ident and self.meaning else str(self)


@dataclass(frozen=True)
class ImageRef:
    """An image a document points at: SOP Instance UID, its class, and frames (1-based; empty
    means every frame, or a single-frame image)."""

    sop_instance_uid: str
    sop_class_uid: str = ""
    frames: tuple[int, ...] = ()


@dataclass(frozen=True)
class ReportItem:
    """One content item of an SR.

    ``value_type`` is DICOM's (CONTAINER, TEXT, CODE, NUM, DATE, TIME, DATETIME, PNAME,
    UIDREF, IMAGE, COMPOSITE, WAVEFORM, SCOORD, SCOORD3D, TCOORD), or ``REFERENCE`` for an
    item given by reference to another item of the tree; ``relationship`` how it
    hangs from its parent (CONTAINS, HAS PROPERTIES, INFERRED FROM, HAS OBS CONTEXT...).
    ``text`` is the value as a person reads it. NUM: ``number`` and ``unit`` (the unit's
    meaning, e.g. ``mm``). CODE: ``code``. IMAGE: ``images``. SCOORD: ``graphic_type`` and
    ``points`` (column, row in image pixels; (0, 0) is the top left corner of the top left
    pixel, as DICOM says); SCOORD3D: ``points``
    in patient mm and ``frame_of_reference``.
    """

    value_type: str
    relationship: str
    name: Code | None
    text: str
    children: tuple[ReportItem, ...] = ()
    number: float | None = None
    unit: str = ""
    code: Code | None = None
    images: tuple[ImageRef, ...] = ()
    graphic_type: str = ""
    points: tuple[tuple[float, ...], ...] = ()
    frame_of_reference: str = ""

    @property
    def label(self) -> str:
        return str(self.name) if self.name else ""

    def walk(self, depth: int = 0) -> Iterator[tuple[int, ReportItem]]:
        """This item and all below it, depth first, with their depth."""
        yield depth, self
        for child in self.children:
            yield from child.walk(depth + 1)


@dataclass(frozen=True)
class StructuredReport:
    """An SR document: who, when, its state and its content tree (the root's children)."""

    path: str
    sop_instance_uid: str
    sop_class_uid: str
    title: str
    patient_name: str
    patient_id: str
    study_date: str
    study_description: str
    institution: str
    completion: str
    verification: str
    verifying_observers: tuple[str, ...]
    content_date: str
    items: tuple[ReportItem, ...] = field(default=())

    @property
    def is_key_object_selection(self) -> bool:
        return self.sop_class_uid == KEY_OBJECT_SELECTION

    def walk(self) -> Iterator[tuple[int, ReportItem]]:
        """Every item, depth first (the root's children at depth 0)."""
        for item in self.items:
            yield from item.walk()


def read_dataset_file(path: str | os.PathLike[str]) -> Any:
    """The whole dataset of a DICOM file (pydicom), or a :class:`ReportError` naming it."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    from ownscan.core.dicom import quiet_pydicom

    try:
        with quiet_pydicom():
            return pydicom.dcmread(path)
    except (InvalidDicomError, OSError, ValueError, EOFError, KeyError, TypeError) as exc:
        raise ReportError(f"{path}: not a readable DICOM file ({exc})") from exc


def _text(value: object) -> str:
    return "" if value is None else str(value).replace("\x00", "").strip()


def _code(item: Any) -> Code | None:
    if item is None:
        return None
    value = _text(item.get("CodeValue") or item.get("LongCodeValue") or item.get("URNCodeValue"))
    return Code(value, _text(item.get("CodingSchemeDesignator")), _text(item.get("CodeMeaning")))


def _first_code(ds: Any, keyword: str) -> Code | None:
    seq = ds.get(keyword)
    return _code(seq[0]) if seq else None


def format_date(d: str) -> str:
    """``20240131`` as ``2024-01-31``; anything else as it is."""
    return f"{d[:4]}-{d[4:6]}-{d[6:8]}" if len(d) == 8 and d.isdigit() else d


def _image_refs(item: Any) -> tuple[ImageRef, ...]:
    return _refs(item.get("ReferencedSOPSequence"))


def _refs(seq: Any) -> tuple[ImageRef, ...]:
    """Image references of a Referenced SOP / Referenced Image Sequence."""
    out = []
    for ref in seq or ():
        frames = ref.get("ReferencedFrameNumber")
        if frames is None:
            frame_list: tuple[int, ...] = ()
        elif hasattr(frames, "__iter__") and not isinstance(frames, str):
            frame_list = tuple(int(f) for f in frames)
        else:
            frame_list = (int(frames),)
        out.append(
            ImageRef(
                _text(ref.get("ReferencedSOPInstanceUID")),
                _text(ref.get("ReferencedSOPClassUID")),
                frame_list,
            )
        )
    return tuple(out)


_TEMPORAL_KEYS = ("ReferencedSamplePositions", "ReferencedTimeOffsets", "ReferencedDateTime")


def _values(value: Any) -> list[Any]:
    """A DICOM value as a list (one value, several, or none)."""
    if value is None:
        return []
    if hasattr(value, "__iter__") and not isinstance(value, (str, bytes)):
        return list(value)
    return [value]


def _point_text(points: tuple[tuple[float, ...], ...]) -> str:
    return " ".join("(" + ", ".join(f"{v:g}" for v in p) + ")" for p in points)


def _points(data: Any, size: int) -> tuple[tuple[float, ...], ...]:
    values = [float(v) for v in (data or ())]
    return tuple(tuple(values[i : i + size]) for i in range(0, len(values) - size + 1, size))


def _item(node: Any) -> ReportItem:
    vt = _text(node.get("ValueType")).upper()
    rel = _text(node.get("RelationshipType")).upper()
    name = _first_code(node, "ConceptNameCodeSequence")
    children = tuple(_item(c) for c in node.get("ContentSequence") or ())
    kw: dict[str, Any] = {}
    if vt == "TEXT":
        text = _text(node.get("TextValue"))
    elif vt == "CODE":
        code = _first_code(node, "ConceptCodeSequence")
        kw["code"] = code
        text = code.label if code else ""
    elif vt == "NUM":
        measured = node.get("MeasuredValueSequence")
        if measured:
            m = measured[0]
            raw = _text(m.get("NumericValue"))
            unit = _first_code(m, "MeasurementUnitsCodeSequence")
            # UCUM's "1" is a plain number; show no unit rather than "1"
            unit_text = "" if unit is None or unit.value == "1" else (unit.value or unit.meaning)
            kw["number"] = float(raw) if raw else None
            kw["unit"] = unit_text
            text = f"{raw} {unit_text}".strip()
        else:
            qualifier = _first_code(node, "NumericValueQualifierCodeSequence")
            text = f"(no value: {qualifier})" if qualifier else "(no value)"
    elif vt == "DATE":
        text = format_date(_text(node.get("Date")))
    elif vt == "TIME":
        text = _text(node.get("Time"))
    elif vt == "DATETIME":
        text = _text(node.get("DateTime"))
    elif vt == "PNAME":
        text = _text(node.get("PersonName"))
    elif vt == "UIDREF":
        text = _text(node.get("UID"))
    elif vt in ("IMAGE", "COMPOSITE", "WAVEFORM"):
        refs = _image_refs(node)
        kw["images"] = refs
        text = ", ".join(
            r.sop_instance_uid + (f" frame {', '.join(map(str, r.frames))}" if r.frames else "")
            for r in refs
        )
    elif vt == "SCOORD":
        kw["graphic_type"] = _text(node.get("GraphicType")).upper()
        kw["points"] = _points(node.get("GraphicData"), 2)
        # the image(s) it lies on are its SELECTED FROM children
        kw["images"] = tuple(r for c in children if c.value_type == "IMAGE" for r in c.images)
        text = f"{kw['graphic_type']} at {_point_text(kw['points'])} (image pixels)"
    elif vt == "SCOORD3D":
        kw["graphic_type"] = _text(node.get("GraphicType")).upper()
        kw["points"] = _points(node.get("GraphicData"), 3)
        kw["frame_of_reference"] = _text(node.get("ReferencedFrameOfReferenceUID"))
        text = f"{kw['graphic_type']} at {_point_text(kw['points'])} (patient mm)"
    elif vt == "TCOORD":
        where = next(
            (
                node.get(k)
                for k in (
                    "ReferencedSamplePositions",
                    "ReferencedTimeOffsets",
                    "ReferencedDateTime",
                )
                if k in node
            ),
            None,
        )
        values = ", ".join(
            f"{v:g}" if isinstance(v, (int, float)) else str(v) for v in _values(where)
        )
        text = f"{_text(node.get('TemporalRangeType'))} {values}".strip()
    elif not vt and "ReferencedContentItemIdentifier" in node:
        # by reference: the item is another one of the tree, named by its position
        vt = "REFERENCE"
        position = ".".join(str(v) for v in _values(node.ReferencedContentItemIdentifier))
        text = f"(see content item {position})"
    else:  # CONTAINER and anything unknown: no value of its own
        text = ""
    return ReportItem(vt, rel, name, text, children, **kw)


def read_report(source: str | os.PathLike[str] | Any) -> StructuredReport:
    """Read a Structured Report or Key Object Selection document.

    Parameters
    ----------
    source
        A file path, or a pydicom ``Dataset`` already read.

    Raises
    ------
    ReportError
        Not DICOM, or not an SR document (the message names the file and its class).
    """
    from ownscan.core.dicom import quiet_pydicom

    # pydicom decodes text when it is first touched: its warnings (odd escape sequences in a
    # report's text) must stay as quiet as while reading
    with quiet_pydicom():
        return _read_report(source)


def _read_report(source: str | os.PathLike[str] | Any) -> StructuredReport:
    if isinstance(source, (str, os.PathLike)):
        path = str(source)
        ds = read_dataset_file(path)
    else:
        ds = source
        path = str(getattr(source, "filename", "") or "")
    sop_class = _text(ds.get("SOPClassUID"))
    if not sop_class.startswith(_SR_PREFIX) or "ContentSequence" not in ds:
        raise ReportError(
            f"{path or 'dataset'}: not a Structured Report (SOP Class {sop_class or 'missing'})"
        )
    title = _first_code(ds, "ConceptNameCodeSequence")
    observers = tuple(
        _text(o.get("VerifyingObserverName")) for o in ds.get("VerifyingObserverSequence") or ()
    )
    try:
        items = tuple(_item(c) for c in ds.ContentSequence)
    except (ValueError, TypeError, AttributeError) as exc:
        raise ReportError(f"{path}: damaged report content ({exc})") from exc
    return StructuredReport(
        path=path,
        sop_instance_uid=_text(ds.get("SOPInstanceUID")),
        sop_class_uid=sop_class,
        title=str(title) if title else "Report",
        patient_name=_text(ds.get("PatientName")),
        patient_id=_text(ds.get("PatientID")),
        study_date=_text(ds.get("StudyDate")),
        study_description=_text(ds.get("StudyDescription")),
        institution=_text(ds.get("InstitutionName")),
        completion=_text(ds.get("CompletionFlag")),
        verification=_text(ds.get("VerificationFlag")),
        verifying_observers=observers,
        content_date=_text(ds.get("ContentDate")),
        items=items,
    )


def report_lines(report: StructuredReport) -> list[tuple[int, str, str]]:
    """The report as lines a person reads: ``(depth, kind, text)``.

    ``kind`` is ``"title"``, ``"meta"``, ``"heading"`` (a container: its name), ``"item"``
    (``name: value``) or ``"more"`` (a further line of a multi-line text value). Every content
    item is shown (observation context too: who observed, the tracking identifier), in the
    document's order, so nothing the report says is hidden. The terminal, HTML and PDF writers
    all render these lines.
    """
    out: list[tuple[int, str, str]] = [(0, "title", report.title)]
    meta = [
        f"Patient: {display_name(report.patient_name)}"
        + (f" (ID {report.patient_id})" if report.patient_id else ""),
        f"Study: {format_date(report.study_date) or '(no date)'} {report.study_description}",
    ]
    if report.institution:
        meta.append(f"Hospital: {report.institution}")
    state = ", ".join(x for x in (report.completion, report.verification) if x)
    if state:
        meta.append(f"Status: {state.lower()}")
    if report.verifying_observers:
        names = (display_name(o, empty="(no name)") for o in report.verifying_observers)
        meta.append(f"Verified by: {'; '.join(names)}")
    out += [(0, "meta", m) for m in meta]
    for depth, item in report.walk():
        if item.value_type == "CONTAINER":
            out.append((depth, "heading", item.label or "(section)"))
            continue
        lines = item.text.splitlines() or [""]
        label = item.label
        first = f"{label}: {lines[0]}" if label else lines[0]
        out.append((depth, "item", first))
        out.extend((depth, "more", line) for line in lines[1:])
    return out


def is_structured_report(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a DICOM SR or KOS document (reads the header only)."""
    import pydicom

    from ownscan.core.dicom import quiet_pydicom

    try:
        with quiet_pydicom():
            ds = pydicom.dcmread(Path(path), stop_before_pixels=True, specific_tags=["SOPClassUID"])
    except Exception:
        return False
    return _text(ds.get("SOPClassUID")).startswith(_SR_PREFIX)
