"""What the index needs from one DICOM file, read from its bytes without touching the pixels.

Two readers give the same :class:`Header`:

* a fast one for the files that make up nearly every import (Part 10 files in implicit or
  explicit VR little endian, compressed pixel data included, in ASCII, Latin-1 or UTF-8). It
  walks the element headers up to (0028,0008) and skips sequences without decoding them;
* pydicom for everything else (big endian, deflated, files without the Part 10 preamble, other
  character sets, documents whose title sits in a sequence) and whenever the fast reader finds
  anything it does not expect. The tests check that both agree on real and generated files.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["DICOMDIR_SOP_CLASS", "Header", "NotDicom", "is_document_class", "read_header"]

DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
_SR_PREFIX = "1.2.840.10008.5.1.4.1.1.88."
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")


class NotDicom(Exception):
    """The bytes are not a DICOM file (or are a DICOMDIR): skip, do not fail."""


@dataclass(frozen=True)
class Header:
    sop_instance_uid: str
    sop_class_uid: str
    study_uid: str
    series_uid: str
    patient_id: str
    patient_name: str
    birth_date: str
    sex: str
    study_date: str
    study_time: str
    study_description: str
    accession_number: str
    series_number: int | None
    series_description: str
    modality: str
    body_part: str
    instance_number: int | None
    frames: int
    transfer_syntax: str
    title: str


def is_document_class(sop_class_uid: str) -> bool:
    """True for Encapsulated PDF and Structured Report SOP classes (shown as documents)."""
    return sop_class_uid == ENCAPSULATED_PDF or sop_class_uid.startswith(_SR_PREFIX)


def document_kind(sop_class_uid: str) -> str:
    return "dicom-pdf" if sop_class_uid == ENCAPSULATED_PDF else "sr"


def read_header(data: bytes) -> Header:
    """Index fields of a DICOM file given as bytes.

    Raises
    ------
    NotDicom
        Not DICOM at all, or a DICOMDIR.
    ValueError
        DICOM, but unreadable or lacking a UID an instance must have (the message says which).
    """
    fast = _fast_values(data)
    if fast is not None:
        values, media_class, transfer = fast
        return _header(values, media_class, transfer, True)
    return _pydicom_header(data)


# -- the fast reader -----------------------------------------------------------------------------
_TAGS: dict[int, str] = {
    0x00080005: "SpecificCharacterSet",
    0x00080016: "SOPClassUID",
    0x00080018: "SOPInstanceUID",
    0x00080020: "StudyDate",
    0x00080030: "StudyTime",
    0x00080050: "AccessionNumber",
    0x00080060: "Modality",
    0x00081030: "StudyDescription",
    0x0008103E: "SeriesDescription",
    0x00100010: "PatientName",
    0x00100020: "PatientID",
    0x00100030: "PatientBirthDate",
    0x00100040: "PatientSex",
    0x00180015: "BodyPartExamined",
    0x0020000D: "StudyInstanceUID",
    0x0020000E: "SeriesInstanceUID",
    0x00200011: "SeriesNumber",
    0x00200013: "InstanceNumber",
    0x00280008: "NumberOfFrames",
}
_LAST_TAG = 0x00280008
_LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
_UNDEFINED = 0xFFFFFFFF
_IMPLICIT_LE = "1.2.840.10008.1.2"
_BIG_ENDIAN = "1.2.840.10008.1.2.2"
_DEFLATED = ("1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.8.1")
_CHARSETS = {"": "latin-1", "ISO_IR 6": "latin-1", "ISO_IR 100": "latin-1", "ISO_IR 192": "utf-8"}
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_TAG = struct.Struct("<HH")


class _Unexpected(Exception):
    """Something the fast reader leaves to pydicom."""


class _Truncated(Exception):
    """An element's declared length runs past the end of the file."""


def _fast_values(data: bytes) -> tuple[dict[str, str], str, str] | None:
    """(values, media storage class, transfer syntax) or None to let pydicom read it."""
    if len(data) < 132 or data[128:132] != b"DICM":
        return None
    try:
        meta, pos = _read_elements(data, 132, True, group2_only=True)
        transfer = _text(meta.get(0x00020010, b""), "latin-1")
        media_class = _text(meta.get(0x00020002, b""), "latin-1")
        if not transfer or transfer == _BIG_ENDIAN or transfer in _DEFLATED:
            return None
        raw, _ = _read_elements(data, pos, transfer != _IMPLICIT_LE)
    except _Truncated as exc:
        # pydicom would read such a file without a word, pixels cut short; a re-import from a
        # good copy would then be a conflict. Refuse it here, naming where it breaks off.
        raise ValueError(
            f"truncated DICOM file: {exc} runs past the end of the file ({len(data)} bytes)"
        ) from None
    except (_Unexpected, struct.error, IndexError):
        return None
    charset = _text(raw.get(0x00080005, b""), "latin-1")
    encoding = _CHARSETS.get(charset)
    if encoding is None:
        return None
    values = {_TAGS[tag]: _text(v, encoding) for tag, v in raw.items()}
    if is_document_class(values.get("SOPClassUID", "") or media_class):
        return None  # the title may sit in a sequence: pydicom reads documents
    return values, media_class, transfer


def _read_elements(
    data: bytes, pos: int, explicit: bool, group2_only: bool = False
) -> tuple[dict[int, bytes], int]:
    found: dict[int, bytes] = {}
    end = len(data)
    while pos + 8 <= end:
        group, elem = _TAG.unpack_from(data, pos)
        if group2_only and group != 2:
            break
        tag = group << 16 | elem
        length, header = _element_length(data, pos, explicit or group2_only)
        if tag == 0x00041220:  # Directory Record Sequence: a DICOMDIR
            raise _Unexpected
        if length == _UNDEFINED:
            pos = _skip_sequence(data, pos + header, explicit, tag)
            continue
        start = pos + header
        pos = start + length
        if pos > end:
            raise _Truncated(f"element ({group:04X},{elem:04X}) of {length} bytes")
        if group2_only or (tag <= _LAST_TAG and tag in _TAGS):
            found[tag] = data[start:pos]
    # past the fields: the rest was walked (element headers only) to find a file cut short
    return found, pos


def _element_length(data: bytes, pos: int, explicit: bool) -> tuple[int, int]:
    if not explicit:
        return _U32.unpack_from(data, pos + 4)[0], 8
    vr = data[pos + 4 : pos + 6]
    if vr in _LONG_VRS:
        return _U32.unpack_from(data, pos + 8)[0], 12
    if not (vr.isalpha() and vr.isupper()):
        raise _Unexpected  # not explicit VR after all
    return _U16.unpack_from(data, pos + 6)[0], 8


def _skip_sequence(data: bytes, pos: int, explicit: bool, tag: int, depth: int = 0) -> int:
    """Position after an undefined-length sequence whose first item starts at ``pos``."""
    if depth > 32:
        raise _Unexpected
    end = len(data)
    if pos + 8 > end:
        raise _Truncated(f"element ({tag >> 16:04X},{tag & 0xFFFF:04X})")
    while pos + 8 <= end:
        group, elem = _TAG.unpack_from(data, pos)
        length = _U32.unpack_from(data, pos + 4)[0]
        pos += 8
        if (group, elem) == (0xFFFE, 0xE0DD):  # sequence delimiter
            return pos
        if (group, elem) != (0xFFFE, 0xE000):  # not an item
            raise _Unexpected
        if length != _UNDEFINED:
            pos += length
            if pos > end:
                break
            continue
        while True:  # an undefined-length item: its elements up to the item delimiter
            if pos + 8 > end:
                raise _Truncated(f"element ({tag >> 16:04X},{tag & 0xFFFF:04X})")
            group, elem = _TAG.unpack_from(data, pos)
            if (group, elem) == (0xFFFE, 0xE00D):
                pos += 8
                break
            length, header = _element_length(data, pos, explicit)
            if length == _UNDEFINED:
                pos = _skip_sequence(data, pos + header, explicit, tag, depth + 1)
            else:
                pos += header + length
    raise _Truncated(f"element ({tag >> 16:04X},{tag & 0xFFFF:04X})")


def _text(value: bytes, encoding: str) -> str:
    return value.decode(encoding, errors="replace").strip(" \x00").strip()


# -- pydicom, for everything else --------------------------------------------------------------
def _pydicom_header(data: bytes) -> Header:
    import pydicom

    has_preamble = len(data) >= 132 and data[128:132] == b"DICM"
    settings = pydicom.config.settings
    saved = settings.reading_validation_mode
    # non-conformant values (letters in a UID...) are common in real exports and are no reason
    # to log or refuse: the index keeps the text as found
    settings.reading_validation_mode = pydicom.config.IGNORE
    try:
        return _pydicom_read(data, has_preamble)
    finally:
        settings.reading_validation_mode = saved


def _pydicom_read(data: bytes, has_preamble: bool) -> Header:
    import pydicom
    from pydicom.errors import InvalidDicomError

    with warnings.catch_warnings():
        # odd values in descriptive fields must not stop an import; the pixels are checked when
        # the series is assembled
        warnings.simplefilter("ignore")
        try:
            ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, force=not has_preamble)
        except InvalidDicomError as exc:
            raise NotDicom("not a DICOM file") from exc
        except Exception as exc:
            if not has_preamble:
                raise NotDicom("not a DICOM file") from exc
            raise ValueError(f"unreadable DICOM header ({type(exc).__name__}: {exc})") from exc
        try:
            meta = getattr(ds, "file_meta", None)
            media_class = str(getattr(meta, "MediaStorageSOPClassUID", "") or "") if meta else ""
            if "DirectoryRecordSequence" in ds:
                media_class = DICOMDIR_SOP_CLASS
            transfer = str(getattr(meta, "TransferSyntaxUID", "") or "") if meta else ""
            values = {kw: _ds_text(ds, kw) for kw in (*_TAGS.values(), "DocumentTitle")}
            sop_class = values["SOPClassUID"] or media_class
            if not values["DocumentTitle"] and is_document_class(sop_class):
                seq = ds.get("ConceptNameCodeSequence")
                if seq:
                    values["DocumentTitle"] = str(seq[0].get("CodeMeaning", "") or "")
            return _header(values, media_class, transfer or _IMPLICIT_LE, has_preamble)
        except (NotDicom, ValueError):
            raise
        except Exception as exc:
            if not has_preamble:
                raise NotDicom("not a DICOM file") from exc
            raise ValueError(f"unreadable DICOM header ({type(exc).__name__}: {exc})") from exc


def _ds_text(ds: object, keyword: str) -> str:
    from pydicom.multival import MultiValue

    value = ds.get(keyword, "")  # type: ignore[attr-defined]
    if value is None:
        return ""
    if isinstance(value, MultiValue):
        return "\\".join(str(x) for x in value).strip().replace("\x00", "")
    return str(value).strip().replace("\x00", "")


# -- both --------------------------------------------------------------------------------------
def _header(
    values: Mapping[str, str], media_class: str, transfer: str, has_preamble: bool
) -> Header:
    if media_class == DICOMDIR_SOP_CLASS:
        raise NotDicom("DICOMDIR (the disc's table of contents, not an image)")
    v = {kw: values.get(kw, "") for kw in (*_TAGS.values(), "DocumentTitle")}
    sop = v["SOPInstanceUID"]
    if not has_preamble and not (sop and _UID.match(sop)):
        raise NotDicom("not a DICOM file")
    uids = (
        ("SOP Instance UID", sop),
        ("Study Instance UID", v["StudyInstanceUID"]),
        ("Series Instance UID", v["SeriesInstanceUID"]),
    )
    missing = [name for name, value in uids if not value]
    if missing:
        raise ValueError(f"DICOM file without {' and '.join(missing)}")
    for name, value in uids:
        # non-conformant UIDs (letters, too long) occur in real exports; they still name the
        # instance, so they are accepted. Control characters would break listings: refused.
        if not value.isprintable():
            raise ValueError(f"unusable {name} {value!r}")
    return Header(
        sop_instance_uid=sop,
        sop_class_uid=v["SOPClassUID"] or media_class,
        study_uid=v["StudyInstanceUID"],
        series_uid=v["SeriesInstanceUID"],
        patient_id=v["PatientID"],
        patient_name=v["PatientName"],
        birth_date=v["PatientBirthDate"],
        sex=v["PatientSex"],
        study_date=v["StudyDate"],
        study_time=v["StudyTime"],
        study_description=v["StudyDescription"],
        accession_number=v["AccessionNumber"],
        series_number=_integer(v["SeriesNumber"]),
        series_description=v["SeriesDescription"],
        modality=v["Modality"],
        body_part=v["BodyPartExamined"],
        instance_number=_integer(v["InstanceNumber"]),
        frames=_integer(v["NumberOfFrames"]) or 1,
        transfer_syntax=transfer,
        title=v["DocumentTitle"],
    )


def _integer(text: str) -> int | None:
    first = text.split("\\")[0].strip()
    try:
        return int(first) if first else None
    except ValueError:
        try:
            return int(float(first))
        except ValueError:
            return None
