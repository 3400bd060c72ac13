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

import dataclasses
import io
import itertools
import logging
import math
import struct
from collections.abc import Iterator, Sequence
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
from ownscan.core.volume import Lut

if TYPE_CHECKING:  # pydicom is imported only where a header needs it (see _scan)
    from pydicom.dataset import Dataset

__all__ = ["NATIVE", "NATIVE_LE", "Frame", "image_orientation", "read_frames"]

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
    notes: tuple[str, ...] = ()  # header values set aside as untrue (assembly warns with them)
    # what the header leaves uncertain though nothing in it is untrue (assembly warns too)
    doubts: tuple[str, ...] = ()
    # What tells the volumes of a 4D series apart (None where the header does not say):
    temporal_position: int | None = None  # TemporalPositionIdentifier / TemporalPositionIndex
    acquisition_number: int | None = None
    acquisition_time: float | None = None  # seconds after midnight
    trigger_time: float | None = None  # ms after the R wave (cardiac phases)
    b_value: float | None = None  # diffusion weighting, s/mm^2
    b_vector: tuple[float, float, float] | None = None  # gradient direction, patient LPS
    echo_time: float | None = None  # ms
    repetition_time: float | None = None  # ms
    stack_key: tuple[int, ...] | None = None  # enhanced multi-frame: DimensionIndexValues
    # enhanced multi-frame: the attribute (tag) each of those values indexes (Dimension Index
    # Sequence's Dimension Index Pointers), when the file says
    dimension_pointers: tuple[int, ...] | None = None
    variant: int = 0  # >0: a second instance with an already-seen SOP Instance UID
    # one slice of a Siemens mosaic: (tile index, tiles per side, the mosaic's rows, columns);
    # rows and columns above are then the slice's
    tile: tuple[int, int, int, int] | None = None
    # Philips' private floating-point scale (MR Scale Slope, MR Scale Intercept), when present
    philips_scale: tuple[float, float] | None = None
    slice_time: float | None = None  # ms from the start of its volume (Siemens mosaics' CSA)
    # a legacy multi-frame cine (Frame Increment Pointer to Frame Time or Frame Time Vector):
    # seconds from the file's first frame
    cine_time: float | None = None
    # encapsulated multi-frame data whose offset table is absent, or untrue, and whose frames
    # pydicom would take wrongly: this frame's fragments as (offset, length) of their values,
    # in the file (or in the dataset's Pixel Data); None where pydicom finds the frames itself
    fragments: tuple[tuple[int, int], ...] | None = None
    # -- 2D pictures (issue 15): where a picture's scale and orientation come from ------------
    # "pixel" (Pixel Spacing), "detector" (Imager Pixel Spacing), "scanned" (Nominal Scanned
    # Pixel Spacing), "ultrasound" (Ultrasound Regions' physical deltas), "" (none: pixels only)
    spacing_source: str = ""
    # Patient Orientation: the patient directions of the rows and of the columns ("L", "F")
    patient_orientation: tuple[str, str] | None = None
    voi_function: str = ""  # VOI LUT Function: LINEAR (default), LINEAR_EXACT, SIGMOID
    presentation_shape: str = ""  # Presentation LUT Shape: IDENTITY, INVERSE (or none)
    modality_lut: Lut | None = None  # Modality LUT Sequence (first item)
    voi_luts: tuple[Lut, ...] = ()  # VOI LUT Sequence
    # a cine (multi-frame ultrasound, XA): frames per second and the attribute that said so
    frame_rate: tuple[float, str] | None = None

    @property
    def is_native(self) -> bool:
        return self.transfer_syntax in NATIVE

    @property
    def frame_bytes(self) -> int:
        # (rounded up: packed 12-bit data holds two pixels in three bytes, and a frame of an
        # odd number of pixels ends in a half-filled byte)
        return (self.rows * self.columns * self.samples * self.bits_allocated + 7) // 8

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
    "AcquisitionTime": (0x00080032, "TM"),
    "AccessionNumber": (0x00080050, "SH"),
    "RecommendedDisplayFrameRate": (0x00082144, "IS"),
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
    "CineRate": (0x00180040, "IS"),
    "SliceThickness": (0x00180050, "DS"),
    "RepetitionTime": (0x00180080, "DS"),
    "EchoTime": (0x00180081, "DS"),
    "EchoNumbers": (0x00180086, "IS"),
    "SpacingBetweenSlices": (0x00180088, "DS"),
    "TriggerTime": (0x00181060, "DS"),
    "FrameTime": (0x00181063, "DS"),
    "FrameTimeVector": (0x00181065, "DS"),
    "SliceLocationVector": (0x00182005, "DS"),
    "SliceVector": (0x00540080, "US"),
    "GridFrameOffsetVector": (0x3004000C, "DS"),
    "DoseUnits": (0x30040002, "CS"),
    "DoseGridScaling": (0x3004000E, "DS"),
    "FrameIncrementPointer": (0x00280009, "AT"),
    "GantryDetectorTilt": (0x00181120, "DS"),
    "SequenceOfUltrasoundRegions": (0x00186011, "SQ"),
    "ModalityLUTSequence": (0x00283000, "SQ"),
    "VOILUTSequence": (0x00283010, "SQ"),
    "ImagerPixelSpacing": (0x00181164, "DS"),
    "NominalScannedPixelSpacing": (0x00182010, "DS"),
    "StudyInstanceUID": (0x0020000D, "UI"),
    "SeriesInstanceUID": (0x0020000E, "UI"),
    "SeriesNumber": (0x00200011, "IS"),
    "AcquisitionNumber": (0x00200012, "IS"),
    "InstanceNumber": (0x00200013, "IS"),
    "PatientOrientation": (0x00200020, "CS"),
    "ImagePositionPatient": (0x00200032, "DS"),
    "ImageOrientationPatient": (0x00200037, "DS"),
    "FrameOfReferenceUID": (0x00200052, "UI"),
    "TemporalPositionIdentifier": (0x00200100, "IS"),
    "SamplesPerPixel": (0x00280002, "US"),
    "PhotometricInterpretation": (0x00280004, "CS"),
    "PlanarConfiguration": (0x00280006, "US"),
    "NumberOfFrames": (0x00280008, "IS"),
    "Rows": (0x00280010, "US"),
    "Columns": (0x00280011, "US"),
    "PixelSpacing": (0x00280030, "DS"),
    "BitsAllocated": (0x00280100, "US"),
    "BitsStored": (0x00280101, "US"),
    "HighBit": (0x00280102, "US"),
    "PixelRepresentation": (0x00280103, "US"),
    "PixelPaddingValue": (0x00280120, "US or SS"),
    "PixelPaddingRangeLimit": (0x00280121, "US or SS"),
    "WindowCenter": (0x00281050, "DS"),
    "WindowWidth": (0x00281051, "DS"),
    "RescaleIntercept": (0x00281052, "DS"),
    "RescaleSlope": (0x00281053, "DS"),
    "RescaleType": (0x00281054, "LO"),
    "WindowCenterWidthExplanation": (0x00281055, "LO"),
    "VOILUTFunction": (0x00281056, "CS"),
    "PresentationLUTShape": (0x20500020, "CS"),
    "RealWorldValueMappingSequence": (0x00409096, "SQ"),
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


class _Tag(int):
    """An AT value as pydicom's ``BaseTag`` shows it, ``(GGGG,EEEE)``, without importing
    pydicom (the scanner's path never does)."""

    def __repr__(self) -> str:
        return f"({self >> 16:04X},{self & 0xFFFF:04X})"

    __str__ = __repr__


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
        if vr == "AT":  # Frame Increment Pointer: (group, element) pairs, little endian
            if len(raw) % 4:
                raise Declined(f"{kw} is not a whole number of tags")
            tags = [_Tag(g << 16 | e) for g, e in struct.iter_unpack("<HH", raw)]
            return tags[0] if len(tags) == 1 else tags or None
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
            if text[0] in "+-" and str(int(text)) != text:  # "-0", "+5": str() keeps the sign
                raise Declined(f"{kw} {text!r} is not in its plain form")
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
    # diffusion values are binary (FD) or private: pydicom reads these (rarer) files
    0x00189087: "diffusion values",
    0x00189089: "diffusion values",
    0x0019100C: "diffusion values",
    0x0019100E: "diffusion values",
    0x00431039: "diffusion values",  # GE
    0x001910BB: "diffusion values",  # GE
    0x20011003: "diffusion values",  # Philips
    0x200510B0: "diffusion values",  # Philips
    0x00651050: "a UIH grid (the slices of one image)",
    0x0019100A: "a Siemens mosaic (NumberOfImagesInMosaic)",
    0x00651009: "diffusion values",  # UIH
    0x2005100E: "Philips private scale slope",
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
    if any(t >> 16 == 0x2005 and t & 0xFF == 0x0E and t & 0xFF00 > 0x1000 for t in sc.present):
        return "Philips private scale slope (in a relocated private block)"
    try:
        ds = _ScanDs(sc, text_rule(sc))
        fx = _ScanFast(sc, ds)
        sop_class = _s(fx, "SOPClassUID")
        if not sop_class:
            return "no SOPClassUID"
        if sop_class == "1.2.840.10008.1.3.10" or sop_class in _NOT_IMAGES:
            return f"SOP class {sop_class} is not an image"
        ts = sc.transfer_syntax
        plain = _plain_bytes_note(ts, sc.pixel_offset, sc.pixel_length)
        pixel = (sc.pixel_offset, sc.pixel_length) if ts in NATIVE else None
        encap = sc.pixel_offset if ts not in NATIVE else None
        return _noted(
            _real_world(
                _dose(
                    _build_frames(
                        src, ds, fx, fx.raw, ts, sop_class, sc.size, pixel, info_cache, encap
                    ),
                    fx,
                ),
                ds,
            ),
            plain,
        )
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


MAX_MM = 1e6
"""The largest coordinate or pixel spacing taken as true (1 km; a header lie beyond)."""


def _shown(v: Any) -> str:
    """A header value for a warning: short, one line."""
    text = "\\".join(str(x) for x in v) if isinstance(v, list | tuple) else str(v)
    text = text.encode("ascii", "backslashreplace").decode()
    return "'" + text[:60] + ("..." if len(text) > 60 else "") + "'"


def _check_packed12(ts: TransferSyntax, samples: int, pixels: int, n_frames: int) -> None:
    """Refuse, in words, the packed 12-bit data (Bits Allocated 12, the ACR-NEMA packing
    PS3.5 once described: two pixels in three bytes) that :mod:`ownscan.core._pixels` does not
    unpack. It unpacks grey, uncompressed little-endian data, as dcmtk and GDCM read it;
    compressed streams never hold packed pixels (a codec's samples fill 16 bits), big endian
    packs across byte-swapped words, and a multi-frame file whose frames hold an odd number of
    pixels starts each second frame in the middle of a byte."""
    if ts not in NATIVE_LE and ts != DEFLATED_LE:
        raise ReadProblem(
            "packed 12-bit pixel data (BitsAllocated 12) is read only uncompressed little "
            f"endian, not {ts.name}"
        )
    if samples != 1:
        raise ReadProblem(f"packed 12-bit pixel data with {samples} samples per pixel")
    if n_frames > 1 and pixels % 2:
        raise ReadProblem(
            f"packed 12-bit pixel data in {n_frames} frames of an odd number of pixels "
            f"({pixels}): frames do not start on a byte"
        )


def _excess_note(length: int, need: int, rows: int, cols: int, n_frames: int) -> tuple[str, ...]:
    """A note when native pixel data holds far more than Rows x Columns need (Columns 1 with
    210 KB of pixels): the image size is probably untrue, and the image is shown cut."""
    if length >= 2 * need and length - need > 1024:  # 2x: a second frame not counted
        return (
            f"pixel data holds {length} bytes, {length / need:.0f}x what Rows x Columns "
            f"({rows}x{cols}) x {n_frames} frame(s) need: the image size may be wrong",
        )
    return ()


def _value_notes(fx: Any, bits_alloc: int, ts: TransferSyntax) -> tuple[str, ...]:
    """Notes for image values that cannot be true and are read as the common case instead
    (Samples per Pixel 0 as 1, Bits Stored 0 as Bits Allocated, a High Bit beyond Bits
    Allocated not used, a Number of Frames that is not a number as 1): the picture is the
    likely one, and the file is named for it. And a transfer syntax DICOM does not know (its
    images will not decode: said when the header is read, by ``info`` too)."""

    def number(kw: str) -> int | None:
        try:
            return int(fx.get(kw))
        except (TypeError, ValueError, OverflowError):
            return None

    notes = []
    if fx.get("SamplesPerPixel") is not None and number("SamplesPerPixel") == 0:
        notes.append("SamplesPerPixel 0 cannot be true: used 1")
    if fx.get("BitsStored") is not None and number("BitsStored") == 0:
        notes.append(f"BitsStored 0 cannot be true: used BitsAllocated ({bits_alloc})")
    high = number("HighBit")
    if high is not None and not 0 <= high < bits_alloc:
        notes.append(f"HighBit {high} cannot be true (BitsAllocated {bits_alloc}): not used")
    frames = fx.get("NumberOfFrames")
    if frames not in (None, "", b"") and number("NumberOfFrames") is None:
        notes.append(f"NumberOfFrames {_shown(frames)} is not a number: used 1")
    if ts not in NATIVE:  # the common syntaxes never import pydicom here
        from pydicom.uid import UID

        with quiet_pydicom():  # pydicom warns of a UID that is not one
            known = UID(str(ts)).is_transfer_syntax
        if not known:
            notes.append(f"transfer syntax {_shown(str(ts))} is not one DICOM knows")
    return tuple(notes)


_F32_TINY = 1.1754943508222875e-38  # numpy.finfo(numpy.float32).tiny


def _slope(raw: Any) -> tuple[float, tuple[str, ...]]:
    """Rescale Slope (1 when absent or unreadable) and a note when it is 0: no scan stores
    every pixel as the intercept, so 1 is used (as dcm2niix does) and the note says so."""
    slope = _f(raw, 1.0)
    # a slope float32 holds as 0 or a denormal (-1e-300) is 0 to the decoder, whose float32
    # arithmetic would then divide by it (the sign check) and make every pixel NaN
    if slope is not None and abs(slope) < _F32_TINY:
        return 1.0, (
            f"RescaleSlope {_shown(raw)} cannot be true (every pixel would be the intercept): "
            "used 1, values may be off",
        )
    return (1.0 if slope is None else slope), ()


def _fill_rescale(frames: list[Frame], unrescaled: set[int]) -> list[Frame]:
    """``frames`` of an enhanced file, ``unrescaled`` of them without a Pixel Value
    Transformation (the macro is required of every frame of an enhanced CT when it is not
    shared) while the others have one. Read as slope 1 and intercept 0, such a frame of a CT
    is 1024 HU off its neighbours, silently: a bright slab in every picture. When every other
    frame says the same rescale, it is used (as dcm2niix, which takes the first frame's for
    all) and said; when they differ, nothing can be assumed: the frame is left unrescaled and
    said."""
    given = {(f.slope, f.intercept) for f in frames if f.frame not in unrescaled}
    if len(given) == 1:
        ((slope, intercept),) = given
        note = (
            "no rescale (Pixel Value Transformation) for this frame; every other frame has "
            f"slope {slope:g}, intercept {intercept:g}: used theirs"
        )
        return [
            dataclasses.replace(f, slope=slope, intercept=intercept, notes=(*f.notes, note))
            if f.frame in unrescaled
            else f
            for f in frames
        ]
    note = (
        "no rescale (Pixel Value Transformation) for this frame while the other frames have "
        "differing ones: shown unrescaled, its values may be off"
    )
    return [
        dataclasses.replace(f, notes=(*f.notes, note)) if f.frame in unrescaled else f
        for f in frames
    ]


def _geometry_of(
    ipp_raw: Any,
    iop_raw: Any,
    size: tuple[int, int],
    spacing: tuple[float, float] | None,
) -> tuple[Any, Any, tuple[str, ...], tuple[str, ...]]:
    """Image Position and Orientation (Patient) of one frame, each None when absent or untrue
    (not finite, beyond :data:`MAX_MM`, not two perpendicular unit vectors: see
    :func:`_orientation`), the notes that say which was set aside (such a frame is then shown
    on its own, without 3D position, rather than breaking or silently splitting its series),
    and the doubts about an orientation used after correction. ``size`` is (rows, columns),
    ``spacing`` the frame's pixel spacing (between rows, between columns) or None."""
    notes: list[str] = []
    ipp = _fl(ipp_raw, 3) if ipp_raw is not None else None
    if ipp_raw is not None and (
        ipp is None or not all(math.isfinite(v) and abs(v) <= MAX_MM for v in ipp)
    ):
        notes.append(
            f"ImagePositionPatient {_shown(ipp_raw)} is not a position: "
            "shown on its own, without 3D position"
        )
        ipp = None
    if iop_raw is None:
        return ipp, None, tuple(notes), ()
    iop, why, doubt = _orientation(_fl(iop_raw, 6), size, spacing)
    if iop is None:
        notes.append(
            f"ImageOrientationPatient {_shown(iop_raw)} is not two perpendicular unit "
            f"vectors{why}: shown on its own, without 3D position"
        )
    return ipp, iop, tuple(notes), ((doubt,) if doubt else ())


_SQRT_HALF = math.sqrt(0.5)


def image_orientation(
    iop: Sequence[Any] | None, size: tuple[int, int], spacing: tuple[float, float] | None
) -> tuple[float, ...] | None:
    """Image Orientation (Patient) as series assembly uses it: unit vectors, made
    perpendicular where that moves no pixel by more than half a pixel, or None where no 3D
    placement is right (docs/CORE.md, "Orientation"). For readers of a header outside the
    frame records (marks placed on an image), so that they place its pixels where the image
    is shown. ``size`` is (rows, columns), ``spacing`` (between rows, between columns).

    Parameters
    ----------
    iop : sequence of six numbers, or None
        The header's value.
    size : tuple of int
        Rows and columns.
    spacing : tuple of float, or None
        Pixel Spacing (1 mm each when None).

    Returns
    -------
    tuple of six floats, or None
    """
    if iop is None:
        return None
    got = _orientation(_fl(iop, 6), size, spacing)[0]
    if got is None:
        return None
    r, c = got[:3], got[3:]
    lr = math.sqrt(sum(v * v for v in r))
    lc = math.sqrt(sum(v * v for v in c))
    return tuple([v / lr for v in r] + [v / lc for v in c])


def _orientation(
    iop: tuple[float, ...] | None,
    size: tuple[int, int],
    spacing: tuple[float, float] | None,
) -> tuple[tuple[float, ...] | None, str, str]:
    """Image Orientation (Patient) as used: ``(iop, why not, doubt)``.

    The rule (docs/CORE.md, "Orientation"):

    * vectors not finite, of no length, or (nearly) parallel: None (no 3D position);
    * lengths other than 1: their directions are used, as dcm2niix does; a doubt when a
      length is off by more than 1 % (within that it is rounding in the header);
    * not perpendicular: both vectors are turned by half the excess angle, symmetrically in
      their plane (the closest perpendicular pair). That moves a pixel by at most ``shift``
      mm (at the image's far corner). Up to a tenth of a pixel this is taken as rounding in
      the header, silently; up to half a pixel it is done with a doubt naming the angle and
      the shift; beyond, no place in 3D is right for every pixel (dcm2niix writes the
      shear into its affine, which no viewer's slice is made of), so None and the frame is
      an image of its own. Below a cosine of 1e-4 nothing is changed.
    """
    if iop is None or not all(math.isfinite(v) for v in iop):
        return None, "", ""
    r, c = iop[:3], iop[3:]
    nr = math.sqrt(sum(v * v for v in r))
    nc = math.sqrt(sum(v * v for v in c))
    if not (1e-6 < nr <= MAX_MM and 1e-6 < nc <= MAX_MM):
        return None, "", ""
    ru = [v / nr for v in r]
    cu = [v / nc for v in c]
    cos = sum(a * b for a, b in zip(ru, cu, strict=True))
    if abs(cos) > 0.5:
        return None, f" (rows and columns {math.degrees(math.acos(cos)):.1f} degrees apart)", ""
    doubt = ""
    if abs(nr - 1.0) > 0.01 or abs(nc - 1.0) > 0.01:
        doubt = (
            f"ImageOrientationPatient's row and column vectors have lengths {nr:.4g} and "
            f"{nc:.4g}, not 1: their directions are used (as dcm2niix does)"
        )
    if abs(cos) <= 1e-4:
        # unit vectors from here on (a mosaic's tiles are placed with them, by mm)
        changed = abs(nr - 1.0) > 1e-6 or abs(nc - 1.0) > 1e-6
        return (tuple(ru + cu) if changed else iop), "", doubt
    # the closest perpendicular pair: the bisectors of the two vectors, turned back by 45°
    s_ = [a + b for a, b in zip(ru, cu, strict=True)]
    d_ = [a - b for a, b in zip(ru, cu, strict=True)]
    ns, nd = math.sqrt(sum(v * v for v in s_)), math.sqrt(sum(v * v for v in d_))
    s_ = [v / ns for v in s_]
    d_ = [v / nd for v in d_]
    r2 = [(a + b) * _SQRT_HALF for a, b in zip(s_, d_, strict=True)]
    c2 = [(a - b) * _SQRT_HALF for a, b in zip(s_, d_, strict=True)]
    rows, cols = size
    dr, dc = spacing if spacing is not None else (1.0, 1.0)
    move_r = math.sqrt(sum((a - b) ** 2 for a, b in zip(ru, r2, strict=True)))
    move_c = math.sqrt(sum((a - b) ** 2 for a, b in zip(cu, c2, strict=True)))
    shift = (cols - 1) * dc * move_r + (rows - 1) * dr * move_c
    pixel = min(dr, dc)
    angle = math.degrees(math.acos(cos))
    if shift > 0.5 * pixel:
        return (
            None,
            f" (rows and columns {angle:.3f} degrees apart: made perpendicular, pixels would "
            f"move by up to {shift:.2f} mm, more than half a pixel)",
            "",
        )
    if shift > 0.1 * pixel:
        made = (
            f"ImageOrientationPatient's rows and columns are {angle:.3f} degrees apart: made "
            f"perpendicular, which moves pixels by up to {shift:.2f} mm (under half a pixel)"
        )
        doubt = f"{doubt}; {made}" if doubt else made
    return tuple(r2 + c2), "", doubt


# -- 2D pictures (issue 15): scale and orientation without Image Orientation (Patient) ------
_SPACINGS = (
    ("PixelSpacing", "pixel"),
    ("ImagerPixelSpacing", "detector"),
    ("NominalScannedPixelSpacing", "scanned"),
)
_PO_LETTERS = frozenset("LRAPHF")


def _patient_orientation(fx: Any) -> tuple[str, str] | None:
    """Patient Orientation (0020,0020) as two strings of the letters L R A P H F (the
    directions of the rows and of the columns), or None when absent or not of that form."""
    try:
        v = fx.get("PatientOrientation")
    except damaged():
        return None
    if v is None or isinstance(v, str | bytes):
        return None
    vals = [str(x).strip().upper() for x in v]
    if len(vals) != 2 or not all(vals) or not all(set(x) <= _PO_LETTERS for x in vals):
        return None
    return (vals[0], vals[1])


def _ultrasound_spacing(ds: Any, src: Source) -> tuple[float, float] | None:
    """(row, column) spacing in mm from the first Ultrasound Region calibrated in cm in both
    directions (Physical Units 3), or None. The scanner does not parse sequences: for a file
    it read, pydicom reads this one sequence (only for images without any pixel spacing)."""
    try:
        regions = _sequence_items(ds, src, "SequenceOfUltrasoundRegions")
        for r in regions:
            if r.get("PhysicalUnitsXDirection") != 3 or r.get("PhysicalUnitsYDirection") != 3:
                continue
            dx, dy = _f(r.get("PhysicalDeltaX")), _f(r.get("PhysicalDeltaY"))
            if dx and dy and dx > 0 and dy > 0 and math.isfinite(dx) and math.isfinite(dy):
                return (abs(dy) * 10.0, abs(dx) * 10.0)
    except damaged():
        return None
    return None


def _sequence_items(ds: Any, src: Source, kw: str) -> list[Any]:
    """The items of top-level sequence ``kw``: from pydicom's dataset, or, for a header the
    scanner read (it does not parse sequences), from pydicom reading that one element."""
    if kw not in ds:
        return []
    if is_dataset(ds):
        return list(ds.get(kw) or ())
    from pydicom import dcmread

    with quiet_pydicom(), src.open() as fp:
        head = dcmread(fp, stop_before_pixels=True, specific_tags=[kw])
    return list(head.get(kw) or ())


def _lut(item: Any, pixel_rep: int) -> Lut | None:
    """One LUT item, or None when it is not a usable table."""
    import numpy as np

    try:
        desc = [int(x) for x in item.get("LUTDescriptor")]
        data = item.get("LUTData")
    except (TypeError, ValueError):  # no descriptor, or one that is not three numbers
        return None
    if len(desc) != 3 or data is None:
        return None
    n, first, bits = desc
    n = n or 65536
    if pixel_rep and first > 32767:  # the descriptor's US value of a signed first value
        first -= 65536
    if isinstance(data, bytes | bytearray):
        table = np.frombuffer(bytes(data), "<u1" if len(data) == n else "<u2")
    else:
        table = np.atleast_1d(np.asarray(data, dtype=np.int64))
    if len(table) < n or not 1 <= bits <= 16:
        return None
    text = item.get("LUTExplanation", "")
    return Lut(str(text or "").strip(), first, bits, tuple(int(x) for x in table[:n]))


def _luts(ds: Any, src: Source, pixel_rep: int) -> dict[str, Any]:
    """The Modality LUT and VOI LUTs of a header, as Frame fields."""
    out: dict[str, Any] = {}
    if "ModalityLUTSequence" in ds or "VOILUTSequence" in ds:
        try:
            mod = [_lut(i, pixel_rep) for i in _sequence_items(ds, src, "ModalityLUTSequence")]
            voi = [_lut(i, pixel_rep) for i in _sequence_items(ds, src, "VOILUTSequence")]
        except damaged():  # a damaged table: the image is shown with windows instead
            return out
        if mod and mod[0] is not None:
            out["modality_lut"] = mod[0]
        out["voi_luts"] = tuple(v for v in voi if v is not None)
    return out


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


_GROUP_TAGS: dict[str, int | None] = {}  # functional-group keyword: its tag (None: unknown)


def _group(frame_item: Dataset | None, shared: Dataset | None, seq: str) -> Dataset | None:
    """The first item of functional-group sequence ``seq``: per-frame first, then shared.

    Looked up by tag in the items' own element dicts: ``keyword in item`` costs pydicom a
    keyword-to-tag conversion (about 10 us), and it is asked a dozen times a frame; a keyword
    pydicom does not know is in no item (as ``in`` answered, with a warning each time)."""
    tag = _GROUP_TAGS.get(seq, 0)
    if tag == 0:
        from pydicom.datadict import tag_for_keyword

        tag = _GROUP_TAGS[seq] = tag_for_keyword(seq)
    if tag is None:
        return None
    for holder in (frame_item, shared):
        if holder is not None and tag in holder.keys():  # noqa: SIM118 (a dict view: O(1))
            s = holder[tag].value
            if s:
                return s[0]
    return None


def _tm_seconds(text: str) -> float | None:
    """Seconds after midnight of a DICOM TM (``HHMMSS.ffffff``, ``HH:MM:SS`` of old files)."""
    t = text.strip().replace(":", "")
    if not t:
        return None
    try:
        whole, _, frac = t.partition(".")
        if not whole.isdigit():
            return None
        whole = whole.ljust(6, "0")
        secs = int(whole[:2]) * 3600 + int(whole[2:4]) * 60 + int(whole[4:6])
        return secs + (float("0." + frac) if frac.isdigit() else 0.0)
    except ValueError:
        return None


def _floats(v: Any) -> list[float] | None:
    """A number or a list of numbers as floats (None when absent or not numbers)."""
    if v is None or isinstance(v, bytes | bytearray | str):
        return None
    try:
        return [float(x) for x in v] if isinstance(v, Sequence) else [float(v)]
    except (TypeError, ValueError):
        return None


def _diffusion(
    item: Any, iop: Any = None
) -> tuple[float | None, tuple[float, float, float] | None, str]:
    """(b-value, unit gradient direction in LPS, note) from the standard attributes of
    ``item`` (a dataset, or an MR Diffusion functional group), else from the vendors' private
    ones as dcm2niix reads them: Siemens (0019,100C) b-value and (0019,100E) direction (LPS);
    GE (0043,1039) b-value and (0019,10BB/BC/BD) direction in the image's frame (see
    :func:`_ge_direction`; ``iop``: the image's orientation); UIH (0065,1009) b-value and
    (0065,1037) direction along row, column and normal; Philips (2001,1003) b-value,
    (2001,1004) direction label and (2005,10B0/B1/B2) direction (LPS). ``note``: a warning
    for the series ("" when none).

    Only a pydicom dataset can hold them: the scanner declines files that carry them."""
    if not hasattr(item, "get_item"):
        return None, None, ""
    note = ""
    b = _floats(item.get("DiffusionBValue"))
    g = _floats(item.get("DiffusionGradientOrientation"))
    if g is None and "DiffusionGradientDirectionSequence" in item:
        seq = item.DiffusionGradientDirectionSequence
        g = _floats(seq[0].get("DiffusionGradientOrientation")) if seq else None
    if b is None:
        if _creator(item, 0x0019, "SIEMENS"):
            b = _private_numbers(item, 0x0019100C, 1)
            g = _private_numbers(item, 0x0019100E, 3)
        elif _creator(item, 0x0043, "GEMS_PARM") and _creator(item, 0x0019, "GEMS_ACQU"):
            raw = _private_numbers(item, 0x00431039, 1)
            # GE adds 10^9 to the b-value (a flag of its own): dcm2niix's "slop"
            b = [raw[0] % 1e9] if raw else None
            logical = [_private_numbers(item, t, 1) for t in (0x001910BB, 0x001910BC, 0x001910BD)]
            if b is not None and all(x is not None for x in logical):
                pe = str(item.get("InPlanePhaseEncodingDirection", "") or "").upper()
                g, note = _ge_direction([x[0] for x in logical if x is not None], iop, pe)
        elif _creator(item, 0x0065, _UIH_CREATOR):
            b = _private_numbers(item, 0x00651009, 1)
            along = _private_numbers(item, 0x00651037, 3)
            if b is not None and along is not None:
                g = _image_to_patient(along, iop)
        elif _creator(item, 0x2001, "PHILIPS IMAGING") and _creator(item, 0x2005, "PHILIPS MR"):
            b = _private_numbers(item, 0x20011003, 1)
            g = [
                x[0]
                for t in (0x200510B0, 0x200510B1, 0x200510B2)
                if (x := _private_numbers(item, t, 1)) is not None
            ]
            label = item.get(0x20011004)
            text = label.value if label is not None else ""
            text = text.decode("latin-1") if isinstance(text, bytes) else str(text or "")
            if text.strip("\0 ").upper() == "I":  # isotropic: a trace image, no direction
                g = [0.0, 0.0, 0.0]
    bval = b[0] if b else None
    vec = None
    if g is not None and len(g) == 3 and all(math.isfinite(x) for x in g):
        n = math.sqrt(sum(x * x for x in g))
        vec = (g[0] / n, g[1] / n, g[2] / n) if n > 1e-6 else (0.0, 0.0, 0.0)
    if bval is not None and bval == 0:
        vec = (0.0, 0.0, 0.0)
    return bval, vec, note


def _creator(item: Any, group: int, name: str) -> bool:
    """Whether private block 0x10 of ``group`` belongs to a creator whose name holds ``name``
    (the block dcm2niix reads these private tags from)."""
    el = item.get((group, 0x0010))
    value = el.value if el is not None else ""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return name in str(value).upper()


_NUMBER_TEXT = b"0123456789.+-eE\\ \0"  # the bytes of IS and DS text


def _private_numbers(item: Any, tag: int, n: int) -> list[float] | None:
    """The first ``n`` numbers of private element ``tag``: text (IS, DS) or binary (FL, FD;
    a private value read without its VR arrives as bytes), else None."""
    el = item.get(tag)
    if el is None:
        return None
    raw = el.value
    if isinstance(raw, bytes):
        binary = el.VR in ("FL", "FD") or (el.VR == "UN" and raw.strip(_NUMBER_TEXT) != b"")
        if binary:
            size = len(raw) // n
            if size not in (4, 8) or size * n != len(raw):
                return None
            vals = list(struct.unpack("<" + ("f" if size == 4 else "d") * n, raw))
        else:
            vals = _floats(raw.decode("latin-1").strip("\0 ").split("\\")) or []
    elif isinstance(raw, Sequence) and not isinstance(raw, str):
        vals = _floats(raw) or []
    else:
        vals = _floats([raw]) or []
    vals = [v for v in vals if math.isfinite(v)]
    return vals[:n] if len(vals) >= n else None


def _image_to_patient(v: list[float], iop: Any) -> list[float] | None:
    """A direction given along the image's row, column and normal (UIH's (0065,1037), as
    dcm2niix reads it) in LPS: ``x r + y c + z (r x c)``."""
    if iop is None or len(iop) != 6:
        return None
    # by direction only: vectors of another length are used so for the image too (_orientation)
    lr = math.sqrt(sum(x * x for x in iop[:3]))
    lc = math.sqrt(sum(x * x for x in iop[3:]))
    if not (lr > 1e-6 and lc > 1e-6):
        return None
    r, c = [x / lr for x in iop[:3]], [x / lc for x in iop[3:]]
    n = [r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0]]
    ln = math.sqrt(sum(x * x for x in n)) or 1.0
    return [v[0] * r[k] + v[1] * c[k] + v[2] * n[k] / ln for k in range(3)]


def _ge_direction(logical: list[float], iop: Any, pe: str) -> tuple[list[float] | None, str]:
    """A GE gradient direction (0019,10BB/BC/BD), stored in the image's frame, in LPS.

    With ``r``, ``c`` the row and column direction cosines and ``n = r x c``, as dcm2niix
    turns them into its ``.bvec`` (the rule was read off dcm2niix's output for each case:
    tests/core/test_vendor_diffusion.py): phase encoding along columns (COL)
    ``-x r - y c + z n``; along rows (ROW) ``x c - y r + z n``; phase direction not given
    ``x r - y c + z n`` (dcm2niix warns it cannot tell; so does the note)."""
    x, y, z = logical
    note = ""
    if pe in ("COL", "COLUMN"):
        along = [-x, -y, z]
    elif pe == "ROW":
        along = [-y, x, z]  # x along the column direction, y against the row direction
    else:
        along = [x, -y, z]
        note = (
            "GE diffusion directions without In-plane Phase Encoding Direction (0018,1312): "
            "taken as dcm2niix takes them, which may be wrong; check the .bvec"
        )
    return _image_to_patient(along, iop), note


# The functional groups that hold an enhanced frame's Frame Type (0008,9007), by their DICOM
# keywords (tests/core/test_truth5_frame_type_groups.py checks each against pydicom's
# dictionary): every image IOD's "... Frame Type Sequence", and ultrasound's US Image
# Description Sequence (0018,9806), where the Enhanced US Volume keeps it. (The table named
# "UltrasoundImageFrameTypeSequence" and "FrameTypeSequence", no keywords: US frame types
# were never read.)
_FRAME_TYPE_GROUPS = (
    "MRImageFrameTypeSequence",
    "CTImageFrameTypeSequence",
    "PETFrameTypeSequence",
    "XRay3DFrameTypeSequence",
    "USImageDescriptionSequence",
    "ParametricMapFrameTypeSequence",
    "IntravascularOCTFrameTypeSequence",
    "PhotoacousticImageFrameTypeSequence",
    "ConfocalMicroscopyImageFrameTypeSequence",
    "WholeSlideMicroscopyImageFrameTypeSequence",
)


def _frame_type(frame_item: Dataset | None, shared: Dataset | None) -> tuple[str, ...]:
    """An enhanced frame's own image type: its Frame Type (the ImageType of one frame: the
    file's may say MIXED) followed by its Complex Image Component, so that the magnitude and
    phase frames of one file (Philips stores both) are told apart as the magnitude and phase
    files of a classic series are, and a LOCALIZER frame is a localizer; ``()`` when the
    frame has none (the file's ImageType then holds)."""
    for seq in _FRAME_TYPE_GROUPS:
        item = _group(frame_item, shared, seq)
        if item is None:
            continue
        ft = item.get("FrameType")
        values = [ft] if isinstance(ft, str) else list(ft or ())
        complex_part = str(item.get("ComplexImageComponent") or "").strip()
        if complex_part:
            values.append(complex_part)
        return tuple(str(v).strip().upper() for v in values)
    return ()


def _as_stored16(value: int, pixel_rep: int) -> int:
    """A 16-bit padding value as the pixels hold it: its two bytes read with the pixels'
    sign (Pixel Representation 1: signed), whichever VR (US or SS) the header gave it."""
    if not -0x8000 <= value <= 0xFFFF:
        return value  # not 16 bits at all: left as it is (it then matches no pixel)
    value &= 0xFFFF
    return value - 0x10000 if pixel_rep == 1 and value >= 0x8000 else value


def _philips_frame_scale(item: Any) -> tuple[float, float] | None:
    """Philips' MR Scale Slope and Intercept of one frame of an enhanced file, or None.

    Philips' enhanced MR keeps them per frame, in the private per-frame sequence (2005,140F)
    ("Philips MR Imaging DD 005"), whose one item carries the "Philips MR Imaging DD 001"
    block; the top level of the file has none (nibabel's ``philips_mprage.dcm``). dcm2niix
    reads them there (its parser does not mind the nesting). A private sequence that an
    implicit-VR copy turned into bytes is not looked into (the top level's, if any, holds)."""
    if not hasattr(item, "get_item"):
        return None
    for tag in item.keys():  # noqa: SIM118 (iterating a Dataset yields elements)
        if tag >> 16 != 0x2005 or tag & 0xFFFF < 0x1000:
            continue
        el = item[tag]
        if el.VR != "SQ":
            continue
        for sub in el.value:
            got = _philips_scale(sub)
            if got is not None:
                return got
    return None


def _philips_scale(ds: Any) -> tuple[float, float] | None:
    """Philips' MR Scale Slope and Intercept ((2005,100E), (2005,100D) in the block of
    "Philips MR Imaging DD 001"), the floating-point scaling dcm2niix applies by default."""
    if not hasattr(ds, "get_item"):
        return None
    # the block is wherever the creator is: anonymisers and archives move private blocks
    # (dcm2niix finds them there too)
    block = next(
        (
            t & 0xFF
            for t in ds.keys()  # noqa: SIM118 (iterating a Dataset yields elements)
            if 0x20050010 <= t <= 0x200500FF
            and "PHILIPS MR IMAGING DD 001" in str(ds[t].value).upper()
        ),
        None,
    )
    if block is None:
        return None

    def fl(tag: int) -> float | None:
        el = ds.get((0x2005, (block << 8) | (tag & 0xFF)))
        if el is None:
            return None
        raw = el.value
        if isinstance(raw, bytes):
            raw = struct.unpack("<f", raw[:4])[0] if len(raw) >= 4 else None
        got = _floats(raw if isinstance(raw, Sequence) else [raw])
        return got[0] if got and math.isfinite(got[0]) else None

    ss = fl(0x100E)
    if ss is None or ss == 0:
        return None
    return (ss, fl(0x100D) or 0.0)


def _frame_rate(fx: Any) -> tuple[float, str] | None:
    """How fast a multi-frame image plays: ``(frames per second, attribute)``, or None.

    Recommended Display Frame Rate first (the sender's own advice for display), then Frame Time
    (the real time between frames: plays in real time), then Cine Rate (the acquisition's
    frames per second). Values that are no rate (zero, negative, over 1000 per second) are
    passed over.
    """
    if any(t in _SPACE_POINTERS for t in _pointers(fx)):
        return None  # the frames are slices (Frame Increment Pointer): no speed to play at
    for kw, to_fps in (
        ("RecommendedDisplayFrameRate", lambda v: v),
        ("FrameTime", lambda v: 1000.0 / v if v > 0 else 0.0),
        ("FrameTimeVector", lambda v: 1000.0 / v if v > 0 else 0.0),
        ("CineRate", lambda v: v),
    ):
        v = _mean_interval(fx) if kw == "FrameTimeVector" else _f(fx.get(kw))
        if v is not None and v > 0 and 0.0 < to_fps(v) <= 1000.0:
            return (round(float(to_fps(v)), 3), kw)
    return None


def _mean_interval(fx: Any) -> float | None:
    """The mean of a Frame Time Vector's intervals (ms; its first value is 0), or None."""
    vals = _attribute_floats(fx, "FrameTimeVector")
    if vals is None:
        return None
    steps = vals[1:]
    if not steps or not all(math.isfinite(x) and x >= 0 for x in steps) or sum(steps) <= 0:
        return None
    return sum(steps) / len(steps)


def _dimension_pointers(ds: Any) -> tuple[int, ...] | None:
    """The Dimension Index Pointer of each item of an enhanced file's Dimension Index
    Sequence (the attribute each DimensionIndexValues entry indexes), or None when absent or
    unreadable."""
    try:
        items = ds.get("DimensionIndexSequence") if "DimensionIndexSequence" in ds else None
        if not items:
            return None
        return tuple(int(item.DimensionIndexPointer) for item in items)
    except AttributeError:  # an item without a pointer: the indices are not named
        return None
    except damaged():
        return None


def _int_or_none(v: Any) -> int | None:
    try:
        return int(v) if v not in (None, "") else None
    except (TypeError, ValueError):
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
        Not DICOM, or DICOM without an image (the message says which), or an item its importer
        passed over (``SourceItem.skip``: the message is its reason).
    ReadProblem
        DICOM that cannot be used (damaged, truncated, inconsistent).
    """
    if isinstance(item, SourceItem) and item.problem is not None:
        raise ReadProblem(item.problem)
    if isinstance(item, SourceItem) and item.skip is not None:
        # passed over on purpose by its importer (a FIFO, a link out of a zip): never opened,
        # skipped with the importer's reason as the library's import skips it
        raise NotDicom(item.skip)
    src = _source_of(item, n)
    cache = {} if info_cache is None else info_cache
    if src.dataset is None:
        got = _fast_frames(src, cache)
        if not isinstance(got, str):
            return got
        log.debug("%s: header read by pydicom (%s)", src.origin, got)
    with quiet_pydicom():
        try:
            return _frames_of(src, cache)
        except damaged() as exc:  # a value pydicom converts only when it is read (a bad VR)
            if isinstance(exc, OSError):  # the file itself cannot be read: said as it is
                raise
            raise ReadProblem(f"damaged header ({type(exc).__name__}: {exc})") from None


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
    encap: int | None = None
    plain: tuple[str, ...] = ()
    if src.dataset is None and pos is not None and ts in NATIVE and ts != DEFLATED_LE:
        pixel = _pixel_element(
            pixel_head, pos, little=ts != EXPLICIT_BE, implicit=ts == IMPLICIT_LE
        )
    elif src.dataset is None and pos is not None and ts not in NATIVE:
        encap, length = _pixel_element(pixel_head, pos, little=True, implicit=False)
        plain = _plain_bytes_note(ts, encap, length)
    frames = _build_frames(
        src, ds, fx, lambda kw: _raw(ds, kw), ts, sop_class, size, pixel, info_cache, encap
    )
    return _noted(_real_world(_dose(frames, fx), ds), plain)


def _plain_bytes_note(
    ts: TransferSyntax, offset: int | None, length: int | None
) -> tuple[str, ...]:
    """A note (for every frame) when pixel data of a defined length sits under a compressed
    transfer syntax (JPEG, RLE...): such a value is plain bytes, which PS3.5 A.4 never allows
    there, so the transfer syntax is untrue and no frame will decode. Said when the header is
    read (``info``, ``import``), not first when the pixels are decoded."""
    if ts in NATIVE or offset is None or length is None:
        return ()
    from pydicom.uid import UID

    with quiet_pydicom():  # a UID DICOM does not know is said by a note (_value_notes)
        if not UID(str(ts)).is_transfer_syntax:
            return ()
    return (
        f"the pixel data is stored as plain bytes, not in fragments as its transfer "
        f"syntax ({ts.name}) requires: the file's transfer syntax is untrue",
    )


def _noted(frames: list[Frame], notes: tuple[str, ...]) -> list[Frame]:
    """``frames``, each with ``notes`` added to its own."""
    if notes:
        for fr in frames:
            fr.notes = fr.notes + notes
    return frames


MAX_FRAMES = 1_000_000
"""The most frames one file may claim (a sane ceiling, whatever its size)."""
MAX_FRAME_BYTES = 1 << 30
"""The most bytes one decoded frame may need (1 GiB: 16384 x 16384 x 4 bytes; a CT slice
needs 0.5 MiB, a mammogram about 50 MiB)."""
_DEFLATE_RATIO = 1032  # the most bytes deflate can expand one byte into
FREE_FRAMES = 10_000
"""Up to this many frames a file is read whatever the size of its frames."""
RECORD_BYTES = 4096
"""About what one frame costs in memory before any pixel is decoded: its :class:`Frame` and,
in an enhanced file, pydicom's datasets of its per-frame functional groups (measured: 3.1 KB a
frame with empty per-frame items, about 8 KB with a position and a frame content each)."""


def _check_records(
    n_frames: int, frame_bytes: int, rows: int, cols: int, compressed: bool, size: int
) -> None:
    """Refuse a file of more than :data:`FREE_FRAMES` frames each smaller than its own record.

    The frame records (and an enhanced file's per-frame functional groups) are made before any
    pixel is read, one per frame. A file of a million 1x1 frames (9 MB: 8 bytes of per-frame
    item and 2 of pixels a frame) held ``info`` over 5 minutes and 1.5 GiB. Beyond
    :data:`FREE_FRAMES`, a frame must hold at least :data:`RECORD_BYTES` of decoded pixels, so
    that the records never cost more than the volume the file describes (which loading
    allocates, under its own memory check). Real series with that many frames have frames of
    64x32 pixels and more (a 4D MR of 128x128 frames: 32 KiB each; a CT slice 512 KiB), so
    only files whose frames are too small to be a scan's are refused; the ceiling of
    :data:`MAX_FRAMES` holds for all.

    Compressed frames are also checked against the file itself (``size``; 0: a dataset in
    memory, not checked): beyond :data:`FREE_FRAMES`, a file holds at least a quarter of the
    records' cost a frame (1 KiB: a JPEG of a blank 64x64 frame and its per-frame item take
    more), so that a million empty fragments claiming 64x64 frames (16 MB) cannot cost 4 GB
    of records either; the records stay within four times the file's size."""
    if n_frames <= FREE_FRAMES:
        return
    per_file = RECORD_BYTES // 4
    if compressed and 0 < size < n_frames * per_file:
        raise ReadProblem(
            f"{n_frames:,} compressed frames in a file of {size:,} bytes: a file of more than "
            f"{FREE_FRAMES:,} frames is read only when it holds at least {per_file} bytes a "
            f"frame (these would need about {n_frames * RECORD_BYTES / 2**20:,.0f} MiB of "
            "frame records)"
        )
    if frame_bytes < RECORD_BYTES:
        raise ReadProblem(
            f"{n_frames:,} frames of {cols}x{rows} pixels ({frame_bytes} bytes each): a file of "
            f"more than {FREE_FRAMES:,} frames is read only when each frame holds at least "
            f"{RECORD_BYTES} bytes of pixels (these would need about "
            f"{n_frames * RECORD_BYTES / 2**20:,.0f} MiB of frame records for "
            f"{n_frames * frame_bytes / 2**20:,.1f} MiB of pixels)"
        )


def _check_claims(
    src: Source,
    ds: Any,
    ts: TransferSyntax,
    n_frames: int,
    frame_bytes: int,
    size: int,
    encap: int | None,
) -> list[tuple[tuple[int, int], ...]] | None:
    """Refuse a header whose Number of Frames or image size the file cannot hold, before any
    record or pixel buffer is allocated from them.

    Native pixel data is checked against its length later (its bytes must all be there);
    here: the ceilings, each encapsulated frame needing a fragment of its own (PS3.5 A.4: a
    fragment never holds data of two frames) and a deflated file's most possible expansion.

    Returns
    -------
    list or None
        For encapsulated multi-frame data whose Basic Offset Table is untrue (or absent, with
        frames in several fragments), each frame's fragments (see :func:`_frame_fragments`);
        None when pydicom's own reading finds the right bytes.

    Raises
    ------
    ReadProblem
        The header claims more than the file holds or than any scan needs.
    """
    if n_frames < 1:
        raise ReadProblem(f"Number of Frames is {n_frames}")
    if n_frames > MAX_FRAMES:
        raise ReadProblem(f"Number of Frames {n_frames} is more than {MAX_FRAMES:,} (a lie)")
    if frame_bytes > MAX_FRAME_BYTES:
        raise ReadProblem(
            f"one frame would need {frame_bytes / 2**30:.1f} GiB (more than "
            f"{MAX_FRAME_BYTES >> 30} GiB: Rows, Columns or Samples per Pixel are not true)"
        )
    if ts == DEFLATED_LE and frame_bytes * n_frames > size * _DEFLATE_RATIO:
        raise ReadProblem(
            f"Number of Frames {n_frames} needs {frame_bytes * n_frames} bytes, more than "
            f"a deflated file of {size} bytes can hold"
        )
    if ts in NATIVE:
        return None
    if n_frames == 1:
        if src.dataset is None and encap is not None:
            with src.open() as item:
                _refuse_cut_fragment(item, encap, size)
        return None
    if src.dataset is not None:
        raw = ds.get("PixelData") if "PixelData" in ds else None
        fp: Any = io.BytesIO(raw or b"")
        offset, end = 0, len(raw or b"")
    elif encap is not None:
        fp, offset, end = src.open(), encap, size
    else:
        return None
    with fp:
        found = _count_fragments(fp, offset, end, n_frames)
        if found < n_frames:
            raise ReadProblem(
                f"Number of Frames is {n_frames} but the compressed pixel data holds only "
                f"{found} fragment(s) (one at least per frame)"
            )
        return _frame_fragments(fp, offset, end, n_frames, ts)


def _refuse_cut_fragment(fp: Any, offset: int, size: int) -> None:
    """Refuse the one frame of encapsulated pixel data (value at ``offset``) when an item runs
    past the end of the file: a JPEG decoder turns half a codestream into a whole picture
    without a word (its lower part blank or garbage), and a wrong image is worse than none.
    Item headers only are read.

    Raises
    ------
    ReadProblem
        A fragment (or the offset table) runs past the end of the file.
    """
    for p, length in _items(fp, offset, size):
        if p + 8 + length > size:
            raise ReadProblem(
                f"file truncated: a fragment of the compressed pixel data declares {length} "
                f"bytes, only {size - p - 8} present"
            )


def _items(fp: Any, p: int, size: int) -> Iterator[tuple[int, int]]:
    """``(position, declared length)`` of each item of an encapsulated value from ``p`` on,
    until the sequence delimiter, damage (which pydicom's decoding reports) or the end of the
    file: item headers only are read."""
    while p + 8 <= size:
        fp.seek(p)
        head = fp.read(8)
        if len(head) < 8:
            return
        group, elem, length = struct.unpack("<HHL", head)
        if (group, elem) != (0xFFFE, 0xE000) or length == 0xFFFFFFFF:
            return
        yield p, length
        p += 8 + length


def _count_fragments(fp: Any, offset: int, size: int, enough: int) -> int:
    """How many fragments (the offset table not counted) the encapsulated pixel data value at
    ``offset`` holds, counting no further than ``enough``: item headers only are read."""
    count = -1  # the first item is the basic offset table
    for _ in _items(fp, offset, size):
        count += 1
        if count >= enough:
            break
    return max(count, 0)


# colour stored at half the horizontal resolution (4:2:2)
_SUBSAMPLED = frozenset({"YBR_FULL_422", "YBR_PARTIAL_422"})

# The first bytes of a compressed frame (PS3.5 A.4: every frame starts a new fragment): JPEG,
# JPEG-LS (SOI) and JPEG 2000 / HTJ2K (a codestream's SOC + SIZ, or a JP2 file's signature).
_FRAME_STARTS = (b"\xff\xd8", b"\xff\x4f\xff\x51", b"\x00\x00\x00\x0cjP  ")


def _frame_fragments(
    fp: Any, offset: int, size: int, n_frames: int, ts: str
) -> list[tuple[tuple[int, int], ...]] | None:
    """Each frame's fragments, as (value offset, length), when pydicom's own reading of the
    encapsulated value at ``offset`` would take the wrong bytes for some frame; else None.

    pydicom trusts a Basic Offset Table as it is; one that lies (offsets past the data, out
    of order, between fragments: a hand-edited or badly re-encoded file) gives every frame
    another frame's bytes, or parts of two: a wrong picture, or slices in the wrong order.
    The table is believed only when it has one offset per frame, starting at 0, increasing,
    each at a fragment's start. Otherwise the frames are found in the data itself: one
    fragment each when there are as many fragments as frames, else at the fragments that
    begin a JPEG / JPEG-LS / JPEG 2000 codestream (as many as there are frames, the first
    fragment among them). With no table and no untrue one, pydicom's way is kept.

    Raises
    ------
    ReadProblem
        The table is untrue and the frames cannot be told apart in the data.
    """
    fp.seek(offset)
    head = fp.read(8)
    if len(head) < 8:
        return None
    group, elem, bot_len = struct.unpack("<HHL", head)
    if (group, elem) != (0xFFFE, 0xE000) or bot_len % 4 or offset + 8 + bot_len > size:
        return None
    table = struct.unpack(f"<{bot_len // 4}L", fp.read(bot_len)) if bot_len else ()
    first = offset + 8 + bot_len  # the first fragment's item tag
    frags: list[tuple[int, int]] = []  # (position from `first`, length)
    cut = False
    for p, length in _items(fp, first, size):
        # a file cut short: its last fragment keeps the length it declares, so that the frame
        # it belongs to fails alone (read short, :func:`_pixels._decode_fragments` refuses it:
        # a JPEG decoder would turn half a codestream into a whole, wrong picture)
        cut = cut or p + 8 + length > size
        frags.append((p - first, length))
    starts = {pos: k for k, (pos, _) in enumerate(frags)}
    values = [(first + pos + 8, length) for pos, length in frags]
    if not table and len(frags) == n_frames and not cut:
        return None  # one fragment a frame: pydicom takes them so
    if table:
        true = (
            len(table) == n_frames
            and table[0] == 0
            and all(a < b for a, b in itertools.pairwise(table))
            and all(t in starts for t in table)
        )
        if true and not cut:
            return None
        if true:  # the table's frames, read here so that the cut one fails alone
            bounds = [starts[t] for t in table] + [len(values)]
            return [tuple(values[a:b]) for a, b in itertools.pairwise(bounds)]
    if len(frags) == n_frames:
        return [(v,) for v in values]
    begins = []
    for k, (value, length) in enumerate(values):
        fp.seek(value)
        lead = fp.read(min(length, 12))
        if any(lead.startswith(m) for m in _FRAME_STARTS):
            begins.append(k)
    if len(begins) == n_frames and begins[0] == 0:
        ends = [*begins[1:], len(values)]
        return [tuple(values[a:b]) for a, b in zip(begins, ends, strict=True)]
    if not table:
        return None  # pydicom looks for each frame's end marker itself
    raise ReadProblem(
        f"the compressed pixel data's offset table is untrue ({len(table)} offset(s) for "
        f"{n_frames} frames in {len(frags)} fragments) and the frames cannot be told apart"
    )


def _dose(frames: list[Frame], fx: Any) -> list[Frame]:
    """``frames`` of an RT Dose grid in dose: stored value x Dose Grid Scaling, in Dose Units
    (``_dose``); other modalities' unchanged."""
    from ownscan.core.dicom._dose import apply_dose_scaling

    return apply_dose_scaling(frames, fx)


def _real_world(frames: list[Frame], ds: Any) -> list[Frame]:
    """``frames`` with their Real World Value Mapping decided (``_realworld``: applied where
    it is the only quantitative mapping, else said where it differs)."""
    from ownscan.core.dicom._realworld import apply_real_world

    if not frames:
        return frames
    return apply_real_world(frames, ds, str(frames[0].info.get("modality", "")))


def _build_frames(
    src: Source,
    ds: Any,
    fx: Any,
    raw_of: Any,
    ts: TransferSyntax,
    sop_class: str,
    size: int,
    pixel: tuple[int | None, int | None] | None,
    info_cache: dict[tuple[Any, ...], dict[str, Any]],
    encap: int | None = None,
) -> list[Frame]:
    """The frames from a header, read by pydicom (``ds`` a Dataset, ``fx`` its :class:`_Fast`)
    or by the scanner (``ds`` a :class:`_ScanDs`, ``fx`` a :class:`_ScanFast`): one code for
    both, so that both give the same records. ``pixel``: the (value offset, length) of native
    pixel data in a file; ``encap``: the value offset of encapsulated pixel data in a file."""

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
    except (TypeError, ValueError, OverflowError):
        n_frames = 1
    if bits_alloc not in (1, 8, 12, 16, 32):
        raise ReadProblem(f"BitsAllocated {bits_alloc} is not supported (1, 8, 12, 16 or 32)")
    if bits_alloc == 12:
        _check_packed12(ts, samples, rows * cols, n_frames)
    if bits_alloc == 1:
        raise NotDicom("a 1-bit (binary) image, not a scan")
    if not 0 < bits_stored <= bits_alloc:
        raise ReadProblem(f"BitsStored {bits_stored} does not fit BitsAllocated {bits_alloc}")

    # Where the pixel bytes are, and whether there are enough of them.
    pixel_offset: int | None = None
    pixel_length: int | None = None
    size_notes: tuple[str, ...] = ()
    frame_bytes = (rows * cols * samples * bits_alloc + 7) // 8
    if samples == 3 and photometric in _SUBSAMPLED and ts in NATIVE:
        # uncompressed 4:2:2 (PS3.3 C.7.6.3.1.2): two Y values share one CB and one CR, so
        # four samples hold two pixels: two thirds of what three samples a pixel would need
        frame_bytes = rows * cols * 2 * bits_alloc // 8
    # Every allocation a header value drives is checked here, before any is made: the frame
    # records (one per frame) and, later, the decoded volume (frames x frame bytes).
    groups = _check_claims(src, ds, ts, n_frames, frame_bytes, size, encap)
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
            size_notes = (
                _excess_note(length, need, rows, cols, n_frames)
                if length <= size - off
                else (
                    f"the pixel data's length ({length} bytes) runs past the end of the file "
                    f"({size - off} present): the file was cut short or the length is untrue",
                )
            )
    elif src.dataset is not None and ts in NATIVE:
        raw = ds.PixelData
        need = frame_bytes * n_frames
        if len(raw) < need:
            raise ReadProblem(
                f"pixel data has {len(raw)} bytes but Rows x Columns ({rows}x{cols}) x "
                f"{samples} sample(s) x {bits_alloc} bits x {n_frames} frame(s) needs {need}"
            )

    # before the per-frame groups are read (a deflated file's size says no more than a JPEG's)
    _check_records(n_frames, frame_bytes, rows, cols, ts not in NATIVE or ts == DEFLATED_LE, size)
    size_notes += _value_notes(fx, bits_alloc, ts)

    padding: tuple[int, int] | None = None
    pad = fx.get("PixelPaddingValue")
    if pad is not None and not isinstance(pad, bytes | bytearray):
        try:
            p0 = int(pad)
            lim = fx.get("PixelPaddingRangeLimit")
            p1 = int(lim) if lim is not None and not isinstance(lim, bytes | bytearray) else p0
            if bits_alloc == 16:
                # the value as the pixels store it: GE writes the padding of signed pixels
                # with VR US (-2000 as 63536), and the reverse happens; the 16 bits are meant
                p0, p1 = (_as_stored16(v, pixel_rep) for v in (p0, p1))
            padding = (min(p0, p1), max(p0, p1))
        except (TypeError, ValueError):
            padding = None

    # The descriptive fields are the same in every file of a series: read them once.
    # keyed on the raw bytes of PatientID (with the character set): decoding them costs more
    # (and SeriesNumber: files of one Series Instance UID may carry several, dcm2niix splits them)
    key = (
        _s(fx, "SeriesInstanceUID"),
        raw_of("PatientID"),
        raw_of("SpecificCharacterSet"),
        raw_of("SeriesNumber"),
    )
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

    spacing_from = ""  # the source of the last spacing base_spacing found

    def base_spacing(
        item: Dataset | _Fast | None,
    ) -> tuple[tuple[float, float] | None, tuple[str, ...]]:
        """The first true pixel spacing (of ``item``, then of the data set, then the
        ultrasound regions'); when there is none, a note for each one present but untrue
        (zero, negative, not finite, beyond :data:`MAX_MM`)."""
        nonlocal spacing_from
        notes: list[str] = []
        for holder in (item, fx):
            if holder is None:
                continue
            for kw, source in _SPACINGS:
                if kw in holder:
                    sp = _fl(holder.get(kw), 2)
                    if sp is not None and 0 < sp[0] <= MAX_MM and 0 < sp[1] <= MAX_MM:
                        spacing_from = source
                        return (sp[0], sp[1]), ()  # a true one is used: nothing to say
                    notes.append(f"{kw} {_shown(holder.get(kw))} is not a pixel spacing: ignored")
        us = _ultrasound_spacing(ds, src)
        spacing_from = "ultrasound" if us is not None else ""
        return us, (() if us is not None else tuple(notes))

    acq_time = _tm_seconds(_s(fx, "AcquisitionTime"))
    b_value, b_vector, diff_note = _diffusion(ds, _fl(fx.get("ImageOrientationPatient") or (), 6))
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
        acquisition_number=_int_or_none(fx.get("AcquisitionNumber")),
        repetition_time=_f(fx.get("RepetitionTime")),
        philips_scale=_philips_scale(ds),
        patient_orientation=_patient_orientation(fx),
        **_luts(ds, src, pixel_rep),
        voi_function=_s(fx, "VOILUTFunction").upper(),
        presentation_shape=_s(fx, "PresentationLUTShape").upper(),
        frame_rate=_frame_rate(fx) if n_frames > 1 else None,
    )

    # (``in`` first: ``ds.get`` of an absent keyword costs as much as reading one)
    pf, sf = "PerFrameFunctionalGroupsSequence", "SharedFunctionalGroupsSequence"
    per_frame = ds.get(pf) if pf in ds else None
    shared_seq = ds.get(sf) if sf in ds else None
    shared = shared_seq[0] if shared_seq else None
    # An enhanced file of one frame (Siemens XA and Philips write them) holds its geometry and
    # rescale in the functional groups as one of many frames does: read it the same way.
    if (n_frames > 1 and (per_frame is not None or shared is not None)) or (
        n_frames == 1 and per_frame
    ):
        if per_frame is not None and len(per_frame) != n_frames:
            raise ReadProblem(f"{len(per_frame)} per-frame functional groups for {n_frames} frames")
        pointers = _dimension_pointers(ds)
        # What a writer left at the top level instead of in the functional groups (dcm2niix
        # reads it there too): the orientation and the rescale hold for every frame; a
        # position only for a file of one frame (for many it would stack them all in one place).
        top_iop = fx.get("ImageOrientationPatient")
        top_ipp = fx.get("ImagePositionPatient") if n_frames == 1 else None
        top_pvt = fx if "RescaleSlope" in fx or "RescaleIntercept" in fx else None
        top_windows = _windows(ds)  # the file's own windows (each frame given a copy)
        frames = []
        unrescaled: set[int] = set()  # frames without a rescale while the file has one
        for k in range(n_frames):
            fi = per_frame[k] if per_frame is not None else None
            pos_item = _group(fi, shared, "PlanePositionSequence")
            ori_item = _group(fi, shared, "PlaneOrientationSequence")
            meas = _group(fi, shared, "PixelMeasuresSequence")
            pvt = _group(fi, shared, "PixelValueTransformationSequence") or top_pvt
            if pvt is None:
                unrescaled.add(k)
            voi = _group(fi, shared, "FrameVOILUTSequence")
            mr_echo = _group(fi, shared, "MREchoSequence")
            frame_type = _frame_type(fi, shared)
            philips = _philips_frame_scale(fi) if fi is not None else None
            sp, sp_notes = base_spacing(meas)
            ipp, iop, notes, iop_doubts = _geometry_of(
                pos_item.get("ImagePositionPatient") if pos_item else top_ipp,
                ori_item.get("ImageOrientationPatient") if ori_item else top_iop,
                (rows, cols),
                sp,
            )
            notes += size_notes
            echo = _f(mr_echo.get("EffectiveEchoTime")) if mr_echo is not None else None
            content = _group(fi, None, "FrameContentSequence")
            cardiac = _group(fi, shared, "CardiacSynchronizationSequence")
            diff = _group(fi, shared, "MRDiffusionSequence")
            timing = _group(fi, shared, "MRTimingAndRelatedParametersSequence")
            slope, slope_notes = _slope(pvt.get("RescaleSlope") if pvt else None)
            fb, fg, fnote = (
                _diffusion(diff, iop) if diff is not None else (b_value, b_vector, diff_note)
            )
            doubts = iop_doubts + ((fnote,) if fnote else ())
            dim = content.get("DimensionIndexValues") if content is not None else None
            fdt = str(content.get("FrameAcquisitionDateTime", "")) if content else ""
            ftime = _tm_seconds(fdt[8:14] + fdt[14:].split("+")[0].split("-")[0])
            frames.append(
                Frame(
                    frame=k,
                    iop=iop,
                    ipp=ipp,
                    pixel_spacing=sp,
                    spacing_source=spacing_from,
                    slice_thickness=_f(meas.get("SliceThickness")) if meas else None,
                    spacing_between_slices=(_f(meas.get("SpacingBetweenSlices")) if meas else None),
                    slope=slope,
                    intercept=_f(pvt.get("RescaleIntercept"), 0.0) if pvt else 0.0,  # type: ignore[arg-type]
                    echo_number=echo,
                    echo_time=echo,
                    windows=_windows(voi) if voi is not None else list(top_windows),
                    temporal_position=_int_or_none(
                        content.get("TemporalPositionIndex") if content else None
                    ),
                    acquisition_time=ftime if ftime is not None else acq_time,
                    trigger_time=_f(cardiac.get("NominalCardiacTriggerDelayTime"))
                    if cardiac is not None
                    else None,
                    b_value=fb,
                    b_vector=fg,
                    stack_key=tuple(int(x) for x in dim)
                    if isinstance(dim, Sequence) and not isinstance(dim, str)
                    else ((int(dim),) if dim is not None else None),
                    dimension_pointers=pointers,
                    notes=notes + sp_notes + slope_notes,
                    doubts=doubts,
                    **{
                        **common,
                        **(
                            {}
                            if timing is None or "RepetitionTime" not in timing
                            else {"repetition_time": _f(timing.get("RepetitionTime"))}
                        ),
                        **({"image_type": frame_type} if frame_type else {}),
                        **({"philips_scale": philips} if philips is not None else {}),
                    },
                )
            )
        if unrescaled and len(unrescaled) < n_frames:
            frames = _fill_rescale(frames, unrescaled)
        return _with_fragments(frames, groups)

    if "MOSAIC" in image_type and n_frames == 1 and not hasattr(ds, "get_item"):
        raise Declined("a Siemens mosaic (its CSA header is read by nibabel from pydicom's)")
    spacing, sp_notes = base_spacing(None)
    ipp, iop, notes, iop_doubts = _geometry_of(
        fx.get("ImagePositionPatient"), fx.get("ImageOrientationPatient"), (rows, cols), spacing
    )
    notes += size_notes
    notes += sp_notes
    slope, slope_notes = _slope(fx.get("RescaleSlope"))
    notes += slope_notes
    intercept = _f(fx.get("RescaleIntercept"), 0.0)
    echo = _f(fx.get("EchoNumbers"))
    frames = [
        Frame(
            frame=k,
            iop=iop,
            ipp=ipp,
            pixel_spacing=spacing,
            spacing_source=spacing_from,
            slice_thickness=_f(fx.get("SliceThickness")),
            spacing_between_slices=_f(fx.get("SpacingBetweenSlices")),
            slope=slope,
            intercept=intercept or 0.0,
            echo_number=echo,
            echo_time=_f(fx.get("EchoTime")),
            windows=_windows(fx),
            temporal_position=_int_or_none(fx.get("TemporalPositionIdentifier")),
            acquisition_time=acq_time,
            trigger_time=_f(fx.get("TriggerTime")),
            b_value=b_value,
            b_vector=b_vector,
            notes=notes,
            doubts=iop_doubts + ((diff_note,) if diff_note else ()),
            **common,
        )
        for k in range(n_frames)
    ]
    uih = _uih_count(ds) if n_frames == 1 else 0
    if uih:
        return _uih_tiles(ds, frames[0], uih)
    if n_frames == 1 and ("MOSAIC" in image_type or _siemens_mosaic_count(ds) > 1):
        return _mosaic_tiles(ds, frames[0])
    if n_frames > 1:
        frames = _legacy_frames(frames, fx)
    return _with_fragments(frames, groups)


# -- legacy multi-frame: frames that share the file's one Image Position ---------------------
# Frame Increment Pointer (0028,0009) names the attribute whose values step from frame to frame
_TIME_POINTERS = {0x00181063: "FrameTime", 0x00181065: "FrameTimeVector"}
_SPACE_POINTERS = {
    0x00182005: "SliceLocationVector",
    0x00540080: "SliceVector",
    0x3004000C: "GridFrameOffsetVector",
}
_DIRECTION_DOUBT = (
    "the file gives one Image Position for its {n} frames: frame k is placed {how} along "
    "the normal (row x column) from it; which way the slices run is not recorded (dcm2niix "
    "assumes the same): check head/feet before relying on it"
)


def _pointers(fx: Any) -> tuple[int, ...]:
    """Frame Increment Pointer's tags (none when absent or unreadable)."""
    if "FrameIncrementPointer" not in fx:
        return ()
    try:
        v = fx.get("FrameIncrementPointer")
        vals = v if isinstance(v, Sequence) and not isinstance(v, str | bytes) else [v]
        return tuple(int(x) for x in vals if x is not None)
    except (TypeError, ValueError):
        return ()
    except damaged():
        return ()


def _attribute_floats(fx: Any, kw: str) -> list[float] | None:
    """The values of attribute ``kw`` of ``fx`` as floats (one value or several), else None
    (absent, not numbers, or damaged)."""
    if kw not in fx:
        return None
    try:
        v = fx.get(kw)
        return [
            float(x) for x in (v if isinstance(v, Sequence) and not isinstance(v, str) else [v])
        ]
    except (TypeError, ValueError):
        return None
    except damaged():
        return None


def _vector(fx: Any, kw: str, n: int) -> list[float] | None:
    """A per-frame vector attribute (``n`` finite values), else None."""
    vals = _attribute_floats(fx, kw)
    if vals is None:
        return None
    return vals if len(vals) == n and all(math.isfinite(x) for x in vals) else None


def _placed(frames: list[Frame], steps: list[float], doubt: str) -> list[Frame]:
    """``frames`` moved ``steps[k]`` mm along the normal from the file's one position
    (``doubt`` "": the file says which way the normal runs)."""
    assert frames[0].ipp is not None and frames[0].iop is not None
    r, c = frames[0].iop[:3], frames[0].iop[3:]
    nrm = (r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0])
    ln = math.sqrt(sum(x * x for x in nrm)) or 1.0
    p = frames[0].ipp
    return [
        dataclasses.replace(
            fr,
            ipp=tuple(p[a] + steps[k] * nrm[a] / ln for a in range(3)),  # type: ignore[arg-type]
            doubts=(*fr.doubts, doubt) if doubt else fr.doubts,
        )
        for k, fr in enumerate(frames)
    ]


def _legacy_frames(frames: list[Frame], fx: Any) -> list[Frame]:
    """The frames of a legacy (not enhanced) multi-frame image, which all have the file's one
    Image Position: where each lies (a volume) or when (a cine), from the file's own words.

    * Frame Increment Pointer to Frame Time / Frame Time Vector: a cine at one position, the
      frames ``Frame.cine_time`` apart (assembly makes them the volumes of a 4D series);
    * to Slice Location Vector (mm) or Slice Vector (slice numbers, Spacing Between Slices or
      else Slice Thickness apart): a volume, each frame moved along the normal;
    * no pointer: Frame Time alone says cine; Spacing Between Slices alone says a volume,
      as dcm2niix stacks such a file;
    * anything else (no word on it, both kinds of pointer, pointers to other attributes):
      left at one position with a doubt that says why, and assembly shows the frames as
      repetitions in frame order with its own warning. dcm2niix stacks them at Slice
      Thickness (or 1 mm), which for a cine puts time points into space.

    A volume's direction along the normal is not recorded anywhere in such a file: the
    placement says so in a doubt (a warning on the series)."""
    first = frames[0]
    n = len(frames)
    if first.ipp is None or first.iop is None:
        return _unplaced_cine(frames, fx)
    if any(fr.ipp != first.ipp for fr in frames):
        return frames
    pointers = _pointers(fx)
    time = [t for t in pointers if t in _TIME_POINTERS]
    space = [t for t in pointers if t in _SPACE_POINTERS]
    others = [
        f"({t >> 16:04X},{t & 0xFFFF:04X})"
        for t in pointers
        if t not in _TIME_POINTERS and t not in _SPACE_POINTERS
    ]
    frame_time = _f(fx.get("FrameTime"))
    sbs = first.spacing_between_slices
    thick = first.slice_thickness
    if time and not space and not others:
        times: list[float] | None = None
        if time[0] == 0x00181063 and frame_time is not None and frame_time > 0:
            times = [k * frame_time / 1000.0 for k in range(n)]
        elif time[0] == 0x00181065:
            inc = _vector(fx, "FrameTimeVector", n)
            if inc is not None and all(x >= 0 for x in inc[1:]) and sum(inc[1:]) > 0:
                times = [sum(inc[1 : k + 1]) / 1000.0 for k in range(n)]
        if times is not None:
            return [
                dataclasses.replace(fr, cine_time=round(t, 6))
                for fr, t in zip(frames, times, strict=True)
            ]
        why = f"its Frame Increment Pointer names {_TIME_POINTERS[time[0]]}, without a usable value"
    elif space and not time and not others:
        if space[0] == 0x00182005:
            loc = _vector(fx, "SliceLocationVector", n)
            if loc is not None and len({round(x, 3) for x in loc}) == n:
                steps = [x - loc[0] for x in loc]
                return _placed(
                    frames, steps, _DIRECTION_DOUBT.format(n=n, how="by its Slice Location Vector")
                )
        elif space[0] == 0x3004000C:
            # an RT Dose grid (PS3.3 C.8.8.3.2): the planes lie at these offsets along the
            # normal (row x column), relative to the Image Position when the first is 0, else
            # absolute, the first being the Image Position's own: k - first either way, and
            # the direction is the standard's, so no doubt (dcmrtstruct2nii, plastimatch and
            # SimpleITK's RT readers place them so)
            grid = _vector(fx, "GridFrameOffsetVector", n)
            if grid is not None and len({round(x, 3) for x in grid}) == n:
                return _placed(frames, [x - grid[0] for x in grid], "")
        else:
            num = _vector(fx, "SliceVector", n)
            step = sbs if sbs is not None and sbs > 0 else thick
            if num is not None and step is not None and step > 0 and len(set(num)) == n:
                src = "Spacing Between Slices" if step == sbs else "Slice Thickness"
                return _placed(
                    frames,
                    [(x - num[0]) * step for x in num],
                    _DIRECTION_DOUBT.format(
                        n=n, how=f"by its Slice Vector, {step:g} mm ({src}) a slice"
                    ),
                )
        why = (
            f"its Frame Increment Pointer names {_SPACE_POINTERS[space[0]]}, without a usable value"
        )
    elif not pointers and frame_time is not None and frame_time > 0 and not sbs:
        return [
            dataclasses.replace(fr, cine_time=round(k * frame_time / 1000.0, 6))
            for k, fr in enumerate(frames)
        ]
    elif not pointers and sbs is not None and 0 < sbs <= MAX_MM and frame_time is None:
        return _placed(
            frames,
            [k * sbs for k in range(n)],
            _DIRECTION_DOUBT.format(n=n, how=f"k x {sbs:g} mm (Spacing Between Slices)"),
        )
    elif not pointers:
        why = "it has no Frame Increment Pointer" + (
            ", and both Frame Time (a cine) and Spacing Between Slices (a volume)"
            if frame_time and sbs
            else ", Frame Time or Spacing Between Slices"
        )
        if thick:
            why += f" (dcm2niix stacks such frames {thick:g} mm apart, the Slice Thickness)"
    else:
        names = [*(_TIME_POINTERS[t] for t in time), *(_SPACE_POINTERS[t] for t in space), *others]
        why = "its Frame Increment Pointer names " + ", ".join(names)
    doubt = (
        f"the file's {n} frames share one Image Position and {why}: whether they are time "
        "points or slices is not known; shown in frame order at that position"
    )
    return [dataclasses.replace(fr, doubts=(*fr.doubts, doubt)) for fr in frames]


def _frame_times(fx: Any, n: int) -> list[float] | None:
    """Each frame's time in seconds from the first, from Frame Time (ms between frames) or
    Frame Time Vector (ms since the previous frame), where Frame Increment Pointer names one
    of them or names nothing; else None."""
    pointers = _pointers(fx)
    if pointers and not all(t in _TIME_POINTERS for t in pointers):
        return None
    ft = _f(fx.get("FrameTime"))
    if (not pointers or 0x00181063 in pointers) and ft is not None and ft > 0:
        return [round(k * ft / 1000.0, 6) for k in range(n)]
    if not pointers or 0x00181065 in pointers:
        inc = _vector(fx, "FrameTimeVector", n)
        if inc is not None and all(x >= 0 for x in inc[1:]) and sum(inc[1:]) > 0:
            # running sums, added in the same order as sum(inc[1 : k + 1]) (the same floats),
            # in one pass: a file's many thousand frames cost no quadratic time
            since = itertools.accumulate(inc[1:], initial=0.0)
            return [round(t / 1000.0, 6) for t in since]
    return None


def _unplaced_cine(frames: list[Frame], fx: Any) -> list[Frame]:
    """The frames of a multi-frame image without a place in the patient (an ultrasound cine,
    an angiography or fluoroscopy run): where Frame Time or Frame Time Vector gives their
    times, each frame's ``cine_time`` (assembly shows such frames as a cine, in time, never
    as slices: docs/CORE.md, "Cines without positions")."""
    times = _frame_times(fx, len(frames))
    if times is None:
        return frames
    return [dataclasses.replace(fr, cine_time=t) for fr, t in zip(frames, times, strict=True)]


def _with_fragments(
    frames: list[Frame], groups: list[tuple[tuple[int, int], ...]] | None
) -> list[Frame]:
    """``frames`` each given its fragments where pydicom would not find them right
    (:func:`_frame_fragments`; ``groups`` None: it does)."""
    if groups is None:
        return frames
    return [dataclasses.replace(fr, fragments=groups[fr.frame]) for fr in frames]


def _mosaic_tiles(ds: Dataset, fr: Frame) -> list[Frame]:
    """The slices of a Siemens mosaic, each placed where it was acquired.

    The number of slices comes from the CSA image header (NumberOfImagesInMosaic, read with
    nibabel's ``csareader``); the tiles fill a square grid of ``ceil(sqrt(n))`` per side.
    ImagePositionPatient of a mosaic is the corner of the whole mosaic as if it were one
    image; the first slice's corner is half the difference between the mosaic and a tile
    further along the rows and columns (the correction nibabel and dcm2niix apply), and slice
    ``k`` lies ``k`` slice spacings along the CSA SliceNormalVector from it.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from nibabel.nicom import csareader

    try:
        csa = csareader.get_csa_header(ds, "image")
        n = int(csareader.get_n_mosaic(csa) or 0) if csa else 0
        normal = csareader.get_slice_normal(csa) if csa else None
        times = _floats(csa["tags"].get("MosaicRefAcqTimes", {}).get("items")) if csa else None
    except Exception as exc:  # a damaged CSA header: one line, the file kept flat
        raise ReadProblem(f"Siemens mosaic with an unreadable CSA header ({exc})") from None
    if n <= 0:
        # the CSA header removed (by an anonymiser) but Siemens' own count kept: dcm2niix
        # reads that one too; the slice direction is then row x column, said as a doubt
        n = _siemens_mosaic_count(ds)
        if n > 1 and normal is None:
            fr = dataclasses.replace(
                fr,
                doubts=(
                    *fr.doubts,
                    "Siemens mosaic without its CSA header: slices placed along row x "
                    "column (the CSA SliceNormalVector is missing), which may be reversed",
                ),
            )
    if n <= 0:
        raise ReadProblem(
            "Siemens mosaic without NumberOfImagesInMosaic (neither in its CSA header nor in "
            "(0019,100A)): its slices cannot be cut out"
        )
    side = math.ceil(math.sqrt(n))
    rows, cols = fr.rows // side, fr.columns // side
    if rows <= 0 or cols <= 0 or fr.rows % side or fr.columns % side:
        # Siemens lays a mosaic out as side x side tiles of one size, so its rows and columns
        # are multiples of side; where they are not, the count and the image contradict each
        # other and no cut is right (a flooring cut takes each "slice" partly from its
        # neighbours). nibabel refuses such a file; dcm2niix and GDCM floor the tile size.
        raise ReadProblem(
            f"Siemens mosaic of {n} images ({side} x {side} tiles) does not fit "
            f"{fr.columns}x{fr.rows}: its columns and rows are not multiples of {side}"
        )
    ipp = None
    if fr.iop is not None and fr.ipp is not None and fr.pixel_spacing is not None:
        row_dir, col_dir = fr.iop[:3], fr.iop[3:]
        rs, cs = fr.pixel_spacing
        fix_r, fix_c = (fr.rows - rows) / 2, (fr.columns - cols) / 2
        corner = [fr.ipp[a] + col_dir[a] * rs * fix_r + row_dir[a] * cs * fix_c for a in range(3)]
        if normal is None or len(normal) != 3:
            r, c = row_dir, col_dir
            normal = (
                r[1] * c[2] - r[2] * c[1],
                r[2] * c[0] - r[0] * c[2],
                r[0] * c[1] - r[1] * c[0],
            )
        dz = fr.spacing_between_slices or fr.slice_thickness or 1.0
        ipp = [tuple(corner[a] + k * dz * float(normal[a]) for a in range(3)) for k in range(n)]
    return _cut(fr, n, side, rows, cols, ipp, times)


def _siemens_mosaic_count(ds: Any) -> int:
    """Siemens' NumberOfImagesInMosaic ((0019,100A) of "SIEMENS MR HEADER"), or 0: dcm2niix
    cuts a file into that many slices whatever its ImageType says (an anonymiser may have
    rewritten it) and without the CSA header."""
    if not hasattr(ds, "get_item") or not _creator(ds, 0x0019, "SIEMENS MR HEADER"):
        return 0
    el = ds.get((0x0019, 0x100A))
    if el is None:
        return 0
    raw = el.value
    if isinstance(raw, bytes):  # read without its VR (implicit VR): US, little endian
        raw = struct.unpack("<H", raw[:2])[0] if len(raw) >= 2 else 0
    try:
        n = int(raw[0] if isinstance(raw, Sequence) and not isinstance(raw, str) else raw)
    except (TypeError, ValueError, IndexError):
        return 0
    return n if 1 < n <= 4096 else 0


def _cut(
    fr: Frame,
    n: int,
    side: int,
    rows: int,
    cols: int,
    ipp: list[tuple[float, ...]] | None,
    times: list[float] | None = None,
) -> list[Frame]:
    """The ``n`` slice records of a grid image ``fr`` (Siemens mosaic, UIH grid): tile ``k``
    is ``rows x cols`` at grid row ``k // side``, column ``k % side``, placed at ``ipp[k]``."""
    return [
        dataclasses.replace(
            fr,
            rows=rows,
            columns=cols,
            ipp=None if ipp is None else ipp[k],  # type: ignore[arg-type]
            tile=(k, side, fr.rows, fr.columns),
            slice_time=times[k] if times is not None and len(times) >= n else None,
        )
        for k in range(n)
    ]


_UIH_CREATOR = "IMAGE PRIVATE HEADER"


def _uih_count(ds: Any) -> int:
    """UIH's number of images in a grid ((0065,1050) of "Image Private Header"), or 0 when
    the file is not a UIH grid (dcm2niix unpacks every image with a count above one)."""
    if not hasattr(ds, "get_item") or not _creator(ds, 0x0065, _UIH_CREATOR):
        return 0
    got = _private_numbers(ds, 0x00651050, 1)
    return int(got[0]) if got and got[0] > 1 and got[0] == int(got[0]) else 0


def _uih_tiles(ds: Dataset, fr: Frame, n: int) -> list[Frame]:
    """The slices of a UIH grid image (United Imaging's mosaic), placed where acquired.

    UIH lays ``n`` slices out ``ceil(sqrt(n))`` to a row of tiles, in as many rows as they
    need (dcm2niix's reading). Unlike a Siemens mosaic, ImagePositionPatient is already the
    first slice's corner (dcm2niix applies no correction); the slices' own positions are in
    the private MRVFrameSequence (0065,1051), used when it holds one per slice; otherwise
    slice ``k`` lies ``k`` slice spacings along the private slice normal (0065,1014), else
    along row x column, said in a note (dcm2niix warns it cannot tell the slice direction).
    The items' AcquisitionTime, when each has one, give the slice times (dcm2niix's
    SliceTiming).
    """
    side = math.ceil(math.sqrt(n))
    down = math.ceil(n / side)
    if fr.rows % down or fr.columns % side:
        raise ReadProblem(
            f"UIH grid of {n} images ({side} x {down} tiles) does not fit {fr.columns}x{fr.rows}"
        )
    rows, cols = fr.rows // down, fr.columns // side
    if fr.iop is None or fr.ipp is None:
        return _cut(fr, n, side, rows, cols, None)
    ipp: list[tuple[float, ...]] = []
    seq_el = ds.get((0x0065, 0x1051))
    items = (seq_el.value if seq_el is not None and seq_el.VR == "SQ" else [])[:n]
    # each slice's AcquisitionTime in the items: its slice time (ms after the earliest)
    clock = [_tm_seconds(str(item.get("AcquisitionTime", "") or "")) for item in items]
    times = None
    if len(clock) == n and all(t is not None for t in clock):
        t0 = min(t for t in clock if t is not None)
        times = [round((t - t0) * 1000.0, 3) for t in clock if t is not None]
    for item in items:
        p = _fl(item.get("ImagePositionPatient"), 3)
        if p is None or not all(math.isfinite(v) and abs(v) <= MAX_MM for v in p):
            break
        ipp.append(p)
    if len(ipp) == n:
        return _cut(fr, n, side, rows, cols, ipp, times)
    normal = _private_numbers(ds, 0x00651014, 3)
    if normal is None or abs(math.sqrt(sum(v * v for v in normal)) - 1.0) > 0.01:
        r, c = fr.iop[:3], fr.iop[3:]
        normal = [r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0]]
        fr = dataclasses.replace(
            fr,
            doubts=(
                *fr.doubts,
                "UIH grid without slice positions or slice normal: slices placed along "
                "row x column, which may be reversed",
            ),
        )
    dz = fr.spacing_between_slices or fr.slice_thickness or 1.0
    first = fr.ipp
    assert first is not None  # checked above; dataclasses.replace keeps it
    ipp = [tuple(first[a] + k * dz * normal[a] for a in range(3)) for k in range(n)]
    return _cut(fr, n, side, rows, cols, ipp, times)
