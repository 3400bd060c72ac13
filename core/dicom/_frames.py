"""Reading DICOM headers (never the pixels) into one record per image frame.

A single-frame file gives one :class:`Frame`; an enhanced multi-frame file gives one per frame,
with the position, orientation, spacing and rescale of each frame taken from its per-frame
functional groups (falling back to the shared ones), so that the rest of the assembly cannot
tell the two apart.

For native (uncompressed, little endian) pixel data on disk or in memory the file offset of the
pixel data value is recorded, so loading can read each frame straight into its slot of the
volume without parsing the file again.
"""

from __future__ import annotations

import io
import logging
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ownscan.core.dicom._pydicom import damaged, is_dataset, quiet_pydicom, read_dataset
from ownscan.core.dicom._scan import (
    DEFLATED_LE,
    EXPLICIT_BE,
    EXPLICIT_LE,
    FAST_ASCII,
    IMPLICIT_LE,
    PIXEL_DATA,
    Declined,
    Scan,
    TextRule,
    TransferSyntax,
    fast_value,
    plain_uid,
    scan_or_reason,
    text_rule,
)
from ownscan.core.errors import NotDicom, ReadProblem
from ownscan.core.plugin_types import SourceItem

if TYPE_CHECKING:  # pydicom is imported only where a header needs it (see _scan)
    from pydicom.dataset import Dataset

__all__ = ["NATIVE", "NATIVE_LE", "Frame", "read_frames"]

log = logging.getLogger(__name__)

NATIVE_LE = frozenset({IMPLICIT_LE, EXPLICIT_LE})
NATIVE = NATIVE_LE | {EXPLICIT_BE, DEFLATED_LE}

# SOP classes that carry pixel data but are not images a patient looks at as a scan.
_NOT_IMAGES = {
    "1.2.840.10008.5.1.4.1.1.66.4": "segmentation",
    "1.2.840.10008.5.1.4.1.1.104.1": "encapsulated PDF",
}


@dataclass(frozen=True)
class Source:
    """Where the bytes of one file are: a path, bytes in memory, or a dataset in memory."""

    origin: str
    path: Path | None = None
    data: bytes | None = None
    dataset: Dataset | None = None

    def open(self) -> io.BufferedIOBase | io.BytesIO:
        if self.path is not None:
            return self.path.open("rb")
        if self.data is not None:
            return io.BytesIO(self.data)
        raise ValueError(f"{self.origin}: a dataset in memory has no file to open")


@dataclass
class Frame:
    """One image frame as the header describes it (all geometry in LPS mm)."""

    source: Source
    frame: int  # index within its file (0 for single-frame files)
    n_frames: int  # frames in its file
    transfer_syntax: TransferSyntax
    sop_class: str
    sop_instance_uid: str
    series_uid: str
    rows: int
    columns: int
    samples: int
    photometric: str
    bits_allocated: int
    bits_stored: int
    pixel_representation: int
    planar_configuration: int
    iop: tuple[float, ...] | None
    ipp: tuple[float, float, float] | None
    pixel_spacing: tuple[float, float] | None  # (between rows, between columns)
    slice_thickness: float | None
    spacing_between_slices: float | None
    slope: float
    intercept: float
    rescale_type: str
    image_type: tuple[str, ...]
    instance_number: int | None
    echo_number: float | None
    windows: list[tuple[str, float, float]]
    padding: tuple[int, int] | None  # inclusive stored-value range that is padding
    pixel_offset: int | None  # file offset of the native pixel data value (little endian)
    pixel_length: int | None
    gantry_tilt: float
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def is_native(self) -> bool:
        return self.transfer_syntax in NATIVE

    @property
    def frame_bytes(self) -> int:
        return self.rows * self.columns * self.samples * self.bits_allocated // 8

    @property
    def is_colour(self) -> bool:
        return self.samples > 1 or self.photometric == "PALETTE COLOR"

    @property
    def is_localizer(self) -> bool:
        return "LOCALIZER" in self.image_type

    @property
    def where(self) -> str:
        """The file (and frame, for multi-frame files) for messages."""
        if self.n_frames > 1:
            return f"{self.source.origin} frame {self.frame + 1}"
        return self.source.origin


def _source_of(item: SourceItem | Dataset | str | Path, n: int) -> Source:
    if is_dataset(item):
        name = getattr(item, "filename", None)
        origin = str(name) if isinstance(name, str) and name else f"<dataset {n + 1}>"
        return Source(origin, dataset=item)
    if isinstance(item, SourceItem):
        return Source(item.origin, path=item.path, data=item.data)
    p = Path(item)
    return Source(str(p), path=p)


def _read_dataset(src: Source) -> tuple[Dataset, int | None, int, bytes]:
    """Parse the header with pydicom. Returns the dataset, the file offset of the PixelData
    element (or None when unknown), the total size of the file and the 12 bytes at that
    offset (the element's header, read while the file is open)."""
    if src.dataset is not None:
        return src.dataset, None, 0, b""
    with src.open() as fp:
        return read_dataset(fp)


def _pixel_element(head: bytes, pos: int, little: bool, implicit: bool) -> tuple:
    """Parse the PixelData element header ``head`` found at ``pos``: (value offset, length or
    None)."""
    if len(head) < 8:
        return (None, None)
    order = "<" if little else ">"
    group, elem = struct.unpack(order + "HH", head[:4])
    if (group << 16 | elem) != PIXEL_DATA:
        return (None, None)
    if implicit:
        (length,) = struct.unpack(order + "L", head[4:8])
        off = pos + 8
    else:
        vr = head[4:6]
        if vr in (b"OB", b"OW", b"OF", b"UN", b"OD", b"OL", b"OV"):
            if len(head) < 12:
                return (None, None)
            (length,) = struct.unpack(order + "L", head[8:12])
            off = pos + 12
        else:
            (length,) = struct.unpack(order + "H", head[6:8])
            off = pos + 8
    if length == 0xFFFFFFFF:
        return (off, None)
    return (off, length)


_BINARY_INTS = {"US": "H", "SS": "h"}  # struct codes; "US or SS" (ambiguous) goes to pydicom

# Every keyword read from the top level of a header: (tag, VR of pydicom's dictionary).
# tests/core/test_dcmscan.py checks the table against pydicom's dictionary.
_TAG_VR: dict[str, tuple[int, str]] = {
    "DirectoryRecordSequence": (0x00041220, "SQ"),
    "SpecificCharacterSet": (0x00080005, "CS"),
    "ImageType": (0x00080008, "CS"),
    "SOPClassUID": (0x00080016, "UI"),
    "SOPInstanceUID": (0x00080018, "UI"),
    "StudyDate": (0x00080020, "DA"),
    "StudyTime": (0x00080030, "TM"),
    "AccessionNumber": (0x00080050, "SH"),
    "Modality": (0x00080060, "CS"),
    "Manufacturer": (0x00080070, "LO"),
    "InstitutionName": (0x00080080, "LO"),
    "StudyDescription": (0x00081030, "LO"),
    "SeriesDescription": (0x0008103E, "LO"),
    "PatientName": (0x00100010, "PN"),
    "PatientID": (0x00100020, "LO"),
    "PatientBirthDate": (0x00100030, "DA"),
    "PatientSex": (0x00100040, "CS"),
    "BodyPartExamined": (0x00180015, "CS"),
    "SliceThickness": (0x00180050, "DS"),
    "EchoNumbers": (0x00180086, "IS"),
    "SpacingBetweenSlices": (0x00180088, "DS"),
    "GantryDetectorTilt": (0x00181120, "DS"),
    "ImagerPixelSpacing": (0x00181164, "DS"),
    "NominalScannedPixelSpacing": (0x00182010, "DS"),
    "StudyInstanceUID": (0x0020000D, "UI"),
    "SeriesInstanceUID": (0x0020000E, "UI"),
    "SeriesNumber": (0x00200011, "IS"),
    "InstanceNumber": (0x00200013, "IS"),
    "ImagePositionPatient": (0x00200032, "DS"),
    "ImageOrientationPatient": (0x00200037, "DS"),
    "FrameOfReferenceUID": (0x00200052, "UI"),
    "SamplesPerPixel": (0x00280002, "US"),
    "PhotometricInterpretation": (0x00280004, "CS"),
    "PlanarConfiguration": (0x00280006, "US"),
    "NumberOfFrames": (0x00280008, "IS"),
    "Rows": (0x00280010, "US"),
    "Columns": (0x00280011, "US"),
    "PixelSpacing": (0x00280030, "DS"),
    "BitsAllocated": (0x00280100, "US"),
    "BitsStored": (0x00280101, "US"),
    "PixelRepresentation": (0x00280103, "US"),
    "PixelPaddingValue": (0x00280120, "US or SS"),
    "PixelPaddingRangeLimit": (0x00280121, "US or SS"),
    "WindowCenter": (0x00281050, "DS"),
    "WindowWidth": (0x00281051, "DS"),
    "RescaleIntercept": (0x00281052, "DS"),
    "RescaleSlope": (0x00281053, "DS"),
    "RescaleType": (0x00281054, "LO"),
    "WindowCenterWidthExplanation": (0x00281055, "LO"),
    "SharedFunctionalGroupsSequence": (0x52009229, "SQ"),
    "PerFrameFunctionalGroupsSequence": (0x52009230, "SQ"),
}
_SCAN_TAGS = frozenset(tag for tag, _ in _TAG_VR.values())


def _tag_vr(kw: str) -> tuple[int, str]:
    tv = _TAG_VR.get(kw)
    if tv is None:
        from pydicom.datadict import dictionary_VR, tag_for_keyword

        tag = tag_for_keyword(kw)
        assert tag is not None, kw
        tv = _TAG_VR[kw] = (tag, dictionary_VR(tag))
    return tv


class _Fast:
    """``ds.get`` that parses the ASCII value types (DS, IS, UI, CS) and US / SS straight from
    the raw bytes. pydicom's conversion (validated DSfloat objects) costs about 50 us per
    element, which dominated reading headers; other types go through pydicom."""

    def __init__(self, ds: Dataset) -> None:
        self.ds = ds

    def __contains__(self, kw: str) -> bool:
        return kw in self.ds

    def get(self, kw: str, default: Any = None) -> Any:
        tag, vr = _tag_vr(kw)
        if vr in _BINARY_INTS:
            el = self.ds.get_item(tag)
            if el is None:
                return default
            raw = el.value
            little = getattr(el, "is_little_endian", None)
            if (
                not isinstance(raw, bytes | bytearray)
                or little is None
                or getattr(el, "VR", None) not in (None, vr)
                or len(raw) % 2
            ):
                return self.ds.get(kw, default)
            if not raw:
                return None  # what pydicom gives for an empty binary value
            n = len(raw) // 2
            ints = struct.unpack(("<" if little else ">") + _BINARY_INTS[vr] * n, raw)
            return ints[0] if n == 1 else list(ints)
        if vr not in FAST_ASCII:
            return self.ds.get(kw, default)
        el = self.ds.get_item(tag)
        if el is None:
            return default
        raw = el.value
        if not isinstance(raw, bytes | bytearray):
            return default if raw is None else raw
        try:
            return fast_value(vr, raw, default)  # the scanner's parse of the same bytes
        except Declined:  # the text does not parse: pydicom's value (or its error)
            return self.ds.get(kw, default)


def _raw(ds: Dataset, kw: str) -> object:
    """The value of ``kw`` as stored (bytes when pydicom has not converted it yet), for keys."""
    el = ds.get_item(_tag_vr(kw)[0])
    if el is None:
        return None
    value = el.value
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return None if value is None else str(value)


_PYDICOM_TEXT = frozenset({"LO", "SH", "CS", "DA", "TM", "PN", "UI", "IS"})
_CONVERT_TEXT = frozenset({"LO", "SH"})  # pydicom strips each value; CS, DA, TM, UI the whole


_US = struct.Struct("<H").unpack_from


class _ScanDs:
    """pydicom's ``Dataset.get`` for the keywords of :data:`_TAG_VR`, from a :class:`Scan`:
    the values pydicom would give, or :class:`Declined` where that is not certain."""

    def __init__(self, sc: Scan, text: TextRule) -> None:
        self.sc = sc
        self.els = sc.elements
        self.text = text  # the scanner's one rule for text (character set, control characters)

    def __contains__(self, kw: str) -> bool:
        return _tag_vr(kw)[0] in self.sc.present

    def get(self, kw: str, default: Any = None) -> Any:
        tag, vr = _TAG_VR[kw]
        el = self.els.get(tag)
        if el is None:
            return default
        fvr, raw = el
        if raw is None:
            raise Declined(f"{kw} has an undefined length")
        if fvr == "UN":  # pydicom reads a known tag stored as UN with the dictionary's VR
            if len(raw) >= 0xFFFF:
                raise Declined(f"{kw} is a long UN value")
            fvr = None
        if vr == "US or SS":
            if fvr is None:  # implicit VR (or UN): pydicom picks by PixelRepresentation
                rep = _ScanFast(self.sc, self).get("PixelRepresentation")
                if not isinstance(rep, int):
                    raise Declined(f"{kw} without a PixelRepresentation")
                fvr = "US" if rep == 0 else "SS"
            if fvr not in ("US", "SS") or len(raw) != 2:
                raise Declined(f"{kw} is not one US or SS value")
            return struct.unpack("<H" if fvr == "US" else "<h", raw)[0]
        if fvr is not None and fvr != vr:
            raise Declined(f"{kw} has VR {fvr}, not {vr}")
        if vr not in _PYDICOM_TEXT:
            raise Declined(f"pydicom's {vr} values are not emulated")
        body = raw.rstrip(b"\0 ")
        self.text.check(body, kw)
        if vr == "IS":
            text = body.decode("latin-1").strip(" ")
            if not text:
                return None
            digits = text[1:] if text[0] in "+-" else text
            if not (digits.isdigit() and digits.isascii()):
                raise Declined(f"{kw} {text!r} is not a plain integer")
            return int(text)
        if vr == "UI":
            if raw and plain_uid(raw) is None:
                raise Declined(f"{kw} is not a plain UID")
            return body.decode("ascii")
        if vr == "PN":
            if b"=" in body or b"\\" in body:
                raise Declined(f"{kw} has several values or components")
            return body.decode("latin-1")
        text = raw.decode("latin-1")
        if "\\" not in text:
            return text.rstrip("\0 ")
        if vr not in _CONVERT_TEXT:
            raise Declined(f"{kw} has several values")
        return [v.rstrip("\0 ") for v in text.split("\\")]


class _ScanFast:
    """:class:`_Fast` for a :class:`Scan`: the same rules on the same raw bytes."""

    def __init__(self, sc: Scan, ds: _ScanDs) -> None:
        self.els = sc.elements
        self.ds = ds
        self.implicit = sc.implicit

    def __contains__(self, kw: str) -> bool:
        return kw in self.ds

    def raw(self, kw: str) -> object:
        """The value as stored (for keys), as :func:`_raw` gives it."""
        el = self.els.get(_TAG_VR[kw][0])
        return None if el is None else el[1]

    def get(self, kw: str, default: Any = None) -> Any:
        tag, vr = _TAG_VR[kw]
        el = self.els.get(tag)
        if el is None:
            return default
        fvr, raw = el
        if raw is None:
            raise Declined(f"{kw} has an undefined length")
        if vr == "US" and len(raw) == 2 and (fvr is None or fvr == "US"):  # common: inlined
            return _US(raw)[0]
        implicit = self.implicit
        if fvr == "UN":  # pydicom reads a known tag stored as UN as if implicit VR
            if len(raw) >= 0xFFFF:
                raise Declined(f"{kw} is a long UN value")
            fvr = None
            implicit = True
        if vr in _BINARY_INTS:
            if fvr not in (None, vr):
                raise Declined(f"{kw} has VR {fvr}, not {vr}")
            return fast_value(vr, raw)
        if vr not in FAST_ASCII:
            return self.ds.get(kw, default)
        if vr == "UI" and raw.strip(b"\0 ") and plain_uid(raw) is None:
            raise Declined(f"{kw} is not a plain UID")
        if not raw and implicit and (vr == "UI" or vr == "CS"):
            return ""  # pydicom converts an empty implicit VR (or UN) value while reading it
        return fast_value(vr, raw, default)


_NOT_FAST = {
    0x00041220: "a DICOMDIR",
    0x52009229: "enhanced multi-frame (functional groups)",
    0x52009230: "enhanced multi-frame (functional groups)",
}


def _fast_frames(
    src: Source, info_cache: dict[tuple[Any, ...], dict[str, Any]]
) -> list[Frame] | str:
    """The frames of ``src`` with the header read by :mod:`._scan`, or why not (then
    pydicom reads it)."""
    where = src.path if src.path is not None else src.data
    if where is None:
        return "no file and no bytes"  # pydicom's path says so in its own words
    try:
        sc = scan_or_reason(where, _SCAN_TAGS)
    except OSError as exc:  # the file cannot be read: pydicom's path raises its own error
        return f"cannot read the file ({exc})"
    if isinstance(sc, str):
        if sc == "not a DICOM file":  # the same test as looks_like_dicom
            raise NotDicom("not a DICOM file")
        return sc
    for tag, why in _NOT_FAST.items():
        if tag in sc.present:
            return why
    try:
        ds = _ScanDs(sc, text_rule(sc))
        fx = _ScanFast(sc, ds)
        sop_class = _s(fx, "SOPClassUID")
        if not sop_class:
            return "no SOPClassUID"
        if sop_class == "1.2.840.10008.1.3.10" or sop_class in _NOT_IMAGES:
            return f"SOP class {sop_class} is not an image"
        ts = sc.transfer_syntax
        pixel = (sc.pixel_offset, sc.pixel_length) if ts in NATIVE else None
        return _build(src, ds, fx, fx.raw, ts, sop_class, sc.size, pixel, info_cache)
    except Declined as exc:
        return str(exc)


def _f(v: Any, default: float | None = None) -> float | None:
    try:
        if v is None or v == "":
            return default
        return float(v)
    except (TypeError, ValueError):
        return default


def _fl(v: Any, n: int) -> tuple[float, ...] | None:
    try:
        vals = tuple(float(x) for x in v)
    except (TypeError, ValueError):
        return None
    return vals if len(vals) == n else None


def _valid_iop(iop: tuple[float, ...] | None) -> tuple[float, ...] | None:
    """ImageOrientationPatient if it is two (nearly) unit, non-parallel vectors, else None:
    such an image is then treated as having no 3D geometry rather than a wrong one."""
    if iop is None or not all(math.isfinite(v) for v in iop):
        return None
    r, c = iop[:3], iop[3:]
    nr = math.sqrt(sum(v * v for v in r))
    nc = math.sqrt(sum(v * v for v in c))
    if not (0.9 < nr < 1.1 and 0.9 < nc < 1.1):
        return None
    if abs(sum(a * b for a, b in zip(r, c, strict=True))) / (nr * nc) > 0.1:
        return None
    return iop


def _s(ds: Any, keyword: str) -> str:
    try:
        v = ds.get(keyword, "")
    except damaged():  # a damaged descriptive value reads as empty; the image is still shown
        return ""
    return "" if v is None else str(v).strip()


def _windows(item: Any) -> list[tuple[str, float, float]]:
    try:
        centers = item.get("WindowCenter")
        widths = item.get("WindowWidth")
    except damaged():  # damaged window values: the viewer's own windows are used
        return []
    if centers is None or widths is None:
        return []
    c = (
        list(centers)
        if isinstance(centers, Sequence) and not isinstance(centers, str)
        else [centers]
    )
    w = list(widths) if isinstance(widths, Sequence) and not isinstance(widths, str) else [widths]
    expl = item.get("WindowCenterWidthExplanation", [])
    if isinstance(expl, str):
        expl = [expl]
    out = []
    for n, (cc, ww) in enumerate(zip(c, w, strict=False)):
        level, width = _f(cc), _f(ww)
        if level is None or width is None or width <= 0:
            continue
        name = str(expl[n]).strip() if n < len(expl) and str(expl[n]).strip() else ""
        out.append((name or f"from file {n + 1}", width, level))
    return out


def _series_info(ds: Any) -> dict[str, Any]:
    num = ds.get("SeriesNumber")
    try:
        series_number = int(num) if num not in (None, "") else None
    except (TypeError, ValueError):
        series_number = None
    return {
        "patient_name": _s(ds, "PatientName"),
        "patient_id": _s(ds, "PatientID"),
        "patient_birth_date": _s(ds, "PatientBirthDate"),
        "patient_sex": _s(ds, "PatientSex"),
        "study_instance_uid": _s(ds, "StudyInstanceUID"),
        "study_date": _s(ds, "StudyDate"),
        "study_time": _s(ds, "StudyTime"),
        "study_description": _s(ds, "StudyDescription"),
        "accession_number": _s(ds, "AccessionNumber"),
        "series_instance_uid": _s(ds, "SeriesInstanceUID"),
        "series_number": series_number,
        "series_description": _s(ds, "SeriesDescription"),
        "modality": _s(ds, "Modality"),
        "body_part": _s(ds, "BodyPartExamined"),
        "manufacturer": _s(ds, "Manufacturer"),
        "institution": _s(ds, "InstitutionName"),
        "frame_of_reference_uid": _s(ds, "FrameOfReferenceUID"),
    }


def _group(frame_item: Dataset | None, shared: Dataset | None, seq: str) -> Dataset | None:
    """The first item of functional-group sequence ``seq``: per-frame first, then shared."""
    for holder in (frame_item, shared):
        if holder is not None and seq in holder:
            s = holder[seq].value
            if s:
                return s[0]
    return None


def read_frames(
    item: SourceItem | Dataset | str | Path,
    n: int = 0,
    info_cache: dict[tuple[Any, ...], dict[str, Any]] | None = None,
) -> list[Frame]:
    """Read one item's header and describe each of its frames.

    Raises
    ------
    NotDicom
        Not DICOM, or DICOM without an image (the message says which).
    ReadProblem
        DICOM that cannot be used (damaged, truncated, inconsistent).
    """
    if isinstance(item, SourceItem) and item.problem is not None:
        raise ReadProblem(item.problem)
    src = _source_of(item, n)
    cache = {} if info_cache is None else info_cache
    if src.dataset is None:
        got = _fast_frames(src, cache)
        if not isinstance(got, str):
            return got
        log.debug("%s: header read by pydicom (%s)", src.origin, got)
    with quiet_pydicom():
        return _frames_of(src, cache)


def _frames_of(src: Source, info_cache: dict[tuple[Any, ...], dict[str, Any]]) -> list[Frame]:
    """The frames of ``src`` as pydicom reads its header."""
    from pydicom import dcmread
    from pydicom.uid import UID

    ds, pos, size, pixel_head = _read_dataset(src)
    fx = _Fast(ds)
    meta = getattr(ds, "file_meta", None)
    ts = None
    if meta is not None:
        ts = meta.get("TransferSyntaxUID")
    if ts is None:
        # No meta header: pydicom guessed the encoding while reading.
        ts = IMPLICIT_LE if ds.is_implicit_VR else EXPLICIT_LE
        if ds.is_little_endian is False:
            ts = EXPLICIT_BE
    ts = TransferSyntax(UID(str(ts)))
    sop_class = _s(fx, "SOPClassUID") or (_s(meta, "MediaStorageSOPClassUID") if meta else "")
    if sop_class == "1.2.840.10008.1.3.10" or "DirectoryRecordSequence" in ds:
        raise NotDicom("a DICOMDIR (an index of the files, not an image)")
    if src.dataset is not None:
        has_pixels = "PixelData" in ds
    elif ts == DEFLATED_LE:
        # positions refer to the inflated stream: look for the element itself
        with src.open() as fp:
            has_pixels = "PixelData" in dcmread(fp, force=True)
    else:
        has_pixels = pos is not None and pos < size
    if not has_pixels and not sop_class and not str(ts):
        raise ReadProblem("damaged: the DICM marker is followed by no valid data set")
    if not has_pixels and not sop_class and len(ds) <= 1:
        raise ReadProblem("damaged: the DICM marker is followed by no valid data set")
    if not has_pixels:
        what = sop_class and getattr(UID(sop_class), "name", sop_class)
        raise NotDicom(f"DICOM without an image ({what or 'no SOP class'})")
    if sop_class in _NOT_IMAGES:
        raise NotDicom(f"a {_NOT_IMAGES[sop_class]} object, not an image")
    pixel: tuple[int | None, int | None] | None = None
    if src.dataset is None and pos is not None and ts in NATIVE and ts != DEFLATED_LE:
        pixel = _pixel_element(
            pixel_head, pos, little=ts != EXPLICIT_BE, implicit=ts == IMPLICIT_LE
        )
    return _build(src, ds, fx, lambda kw: _raw(ds, kw), ts, sop_class, size, pixel, info_cache)


def _build(
    src: Source,
    ds: Any,
    fx: Any,
    raw_of: Any,
    ts: TransferSyntax,
    sop_class: str,
    size: int,
    pixel: tuple[int | None, int | None] | None,
    info_cache: dict[tuple[Any, ...], dict[str, Any]],
) -> list[Frame]:
    """The frames from a header, read by pydicom (``ds`` a Dataset, ``fx`` its :class:`_Fast`)
    or by the scanner (``ds`` a :class:`_ScanDs`, ``fx`` a :class:`_ScanFast`): one code for
    both, so that both give the same records. ``pixel``: the (value offset, length) of native
    pixel data in a file."""

    def req_int(kw: str) -> int:
        v = fx.get(kw)
        if v is None or v == "":
            raise ReadProblem(f"{kw} is missing")
        try:
            return int(v)
        except (TypeError, ValueError):
            raise ReadProblem(f"{kw} is not a number ({v!r})") from None

    rows = req_int("Rows")
    cols = req_int("Columns")
    bits_alloc = req_int("BitsAllocated")
    if rows <= 0 or cols <= 0:
        raise ReadProblem(f"image size {cols}x{rows} is empty")
    samples = int(fx.get("SamplesPerPixel", 1) or 1)
    bits_stored = int(fx.get("BitsStored", bits_alloc) or bits_alloc)
    pixel_rep = int(fx.get("PixelRepresentation", 0) or 0)
    planar = int(fx.get("PlanarConfiguration", 0) or 0)
    photometric = _s(fx, "PhotometricInterpretation").upper() or "MONOCHROME2"
    try:
        n_frames = int(fx.get("NumberOfFrames", 1) or 1)
    except (TypeError, ValueError):
        n_frames = 1
    if bits_alloc not in (1, 8, 16, 32):
        raise ReadProblem(f"BitsAllocated {bits_alloc} is not supported (1, 8, 16 or 32)")
    if bits_alloc == 1:
        raise NotDicom("a 1-bit (binary) image, not a scan")
    if not 0 < bits_stored <= bits_alloc:
        raise ReadProblem(f"BitsStored {bits_stored} does not fit BitsAllocated {bits_alloc}")

    # Where the pixel bytes are, and whether there are enough of them.
    pixel_offset: int | None = None
    pixel_length: int | None = None
    frame_bytes = rows * cols * samples * bits_alloc // 8
    if pixel is not None:
        off, length = pixel
        if off is not None and length is not None:
            need = frame_bytes * n_frames
            have = min(length, size - off)
            if have < need:
                if length >= need:
                    raise ReadProblem(
                        f"file truncated: pixel data needs {need} bytes, only {have} present"
                    )
                raise ReadProblem(
                    f"pixel data has {length} bytes but Rows x Columns ({rows}x{cols}) x "
                    f"{samples} sample(s) x {bits_alloc} bits x {n_frames} frame(s) needs {need}"
                )
            pixel_offset, pixel_length = off, length
    elif src.dataset is not None and ts in NATIVE:
        raw = ds.PixelData
        need = frame_bytes * n_frames
        if len(raw) < need:
            raise ReadProblem(
                f"pixel data has {len(raw)} bytes but Rows x Columns ({rows}x{cols}) x "
                f"{samples} sample(s) x {bits_alloc} bits x {n_frames} frame(s) needs {need}"
            )

    padding: tuple[int, int] | None = None
    pad = fx.get("PixelPaddingValue")
    if pad is not None and not isinstance(pad, bytes | bytearray):
        try:
            p0 = int(pad)
            lim = fx.get("PixelPaddingRangeLimit")
            p1 = int(lim) if lim is not None and not isinstance(lim, bytes | bytearray) else p0
            padding = (min(p0, p1), max(p0, p1))
        except (TypeError, ValueError):
            padding = None

    # The descriptive fields are the same in every file of a series: read them once.
    # keyed on the raw bytes of PatientID (with the character set): decoding them costs more
    key = (_s(fx, "SeriesInstanceUID"), raw_of("PatientID"), raw_of("SpecificCharacterSet"))
    info = info_cache.get(key) if key[0] else None
    if info is None:
        info = _series_info(ds)
        if key[0]:
            info_cache[key] = info
    image_type = tuple(str(x).upper() for x in (fx.get("ImageType") or ()))
    if isinstance(fx.get("ImageType"), str):
        image_type = tuple(str(ds.get("ImageType")).upper().split("\\"))
    inum = fx.get("InstanceNumber")
    try:
        instance_number = int(inum) if inum not in (None, "") else None
    except (TypeError, ValueError):
        instance_number = None
    series_uid = _s(fx, "SeriesInstanceUID")
    sop_uid = _s(fx, "SOPInstanceUID")
    tilt = _f(fx.get("GantryDetectorTilt"), 0.0) or 0.0

    def base_spacing(item: Dataset | _Fast | None) -> tuple[float, float] | None:
        for holder in (item, fx):
            if holder is None:
                continue
            for kw in ("PixelSpacing", "ImagerPixelSpacing", "NominalScannedPixelSpacing"):
                if kw in holder:
                    sp = _fl(holder.get(kw), 2)
                    if sp is not None and sp[0] > 0 and sp[1] > 0:
                        return (sp[0], sp[1])
        return None

    common = dict(
        source=src,
        n_frames=n_frames,
        transfer_syntax=ts,
        sop_class=sop_class,
        sop_instance_uid=sop_uid,
        series_uid=series_uid,
        rows=rows,
        columns=cols,
        samples=samples,
        photometric=photometric,
        bits_allocated=bits_alloc,
        bits_stored=bits_stored,
        pixel_representation=pixel_rep,
        planar_configuration=planar,
        rescale_type=_s(fx, "RescaleType"),
        image_type=image_type,
        instance_number=instance_number,
        padding=padding,
        pixel_offset=pixel_offset,
        pixel_length=pixel_length,
        gantry_tilt=tilt,
        info=info,
    )

    # (``in`` first: ``ds.get`` of an absent keyword costs as much as reading one)
    pf, sf = "PerFrameFunctionalGroupsSequence", "SharedFunctionalGroupsSequence"
    per_frame = ds.get(pf) if pf in ds else None
    shared_seq = ds.get(sf) if sf in ds else None
    shared = shared_seq[0] if shared_seq else None
    if n_frames > 1 and (per_frame is not None or shared is not None):
        if per_frame is not None and len(per_frame) != n_frames:
            raise ReadProblem(f"{len(per_frame)} per-frame functional groups for {n_frames} frames")
        frames = []
        for k in range(n_frames):
            fi = per_frame[k] if per_frame is not None else None
            pos_item = _group(fi, shared, "PlanePositionSequence")
            ori_item = _group(fi, shared, "PlaneOrientationSequence")
            meas = _group(fi, shared, "PixelMeasuresSequence")
            pvt = _group(fi, shared, "PixelValueTransformationSequence")
            voi = _group(fi, shared, "FrameVOILUTSequence")
            mr_echo = _group(fi, shared, "MREchoSequence")
            ipp = _fl(pos_item.get("ImagePositionPatient"), 3) if pos_item else None
            iop = _valid_iop(_fl(ori_item.get("ImageOrientationPatient"), 6) if ori_item else None)
            sp = base_spacing(meas)
            echo = _f(mr_echo.get("EffectiveEchoTime")) if mr_echo is not None else None
            frames.append(
                Frame(
                    frame=k,
                    iop=iop,
                    ipp=ipp,  # type: ignore[arg-type]
                    pixel_spacing=sp,
                    slice_thickness=_f(meas.get("SliceThickness")) if meas else None,
                    spacing_between_slices=(_f(meas.get("SpacingBetweenSlices")) if meas else None),
                    slope=_f(pvt.get("RescaleSlope"), 1.0) if pvt else 1.0,  # type: ignore[arg-type]
                    intercept=_f(pvt.get("RescaleIntercept"), 0.0) if pvt else 0.0,  # type: ignore[arg-type]
                    echo_number=echo,
                    windows=_windows(voi) if voi is not None else _windows(ds),
                    **common,  # type: ignore[arg-type]
                )
            )
        return frames

    ipp = _fl(fx.get("ImagePositionPatient"), 3)
    iop = _valid_iop(_fl(fx.get("ImageOrientationPatient"), 6))
    slope = _f(fx.get("RescaleSlope"), 1.0)
    intercept = _f(fx.get("RescaleIntercept"), 0.0)
    echo = _f(fx.get("EchoNumbers"))
    return [
        Frame(
            frame=k,
            iop=iop,
            ipp=ipp,  # type: ignore[arg-type]
            pixel_spacing=base_spacing(None),
            slice_thickness=_f(fx.get("SliceThickness")),
            spacing_between_slices=_f(fx.get("SpacingBetweenSlices")),
            slope=slope if slope else 1.0,
            intercept=intercept or 0.0,
            echo_number=echo,
            windows=_windows(fx),
            **common,  # type: ignore[arg-type]
        )
        for k in range(n_frames)
    ]
