"""What the index needs from one DICOM file, read from its bytes without touching the pixels.

The header is read by core's one DICOM reader (:mod:`ownscan.core.dicom`), two ways that give
the same :class:`Header`:

* its scanner, for the files that make up nearly every import (Part 10 files in implicit or
  explicit VR little endian, compressed pixel data included, with the text that
  :func:`~ownscan.core.dicom.text_rule` lets it decode). The rest of the file after the pixel
  data is walked too (element headers only), so that a file cut short is refused;
* its pydicom fallback for everything else (big endian, deflated, files without the Part 10
  preamble, other character sets or text beyond the rule, documents whose title sits in a
  sequence) and whenever the scanner declines. The tests check that both agree on real and
  generated files.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass

from ownscan.core.dicom import (
    IMPLICIT_LE,
    MEDIA_STORAGE_SOP_CLASS,
    SPECIFIC_CHARACTER_SET,
    TRANSFER_SYNTAX,
    Declined,
    NotDicom,
    ReadProblem,
    Truncated,
    check_complete,
    damaged,
    meta_text,
    quiet_pydicom,
    read_dataset,
    scan_strict,
    text_rule,
)
from ownscan.core.library._image_check import IMAGE_TAGS, plainly_true

__all__ = [
    "DICOMDIR_SOP_CLASS",
    "Header",
    "is_document_class",
    "read_header",
    "read_header_checked",
]

DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
_SR_PREFIX = "1.2.840.10008.5.1.4.1.1.88."
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")


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
    institution: str = ""
    # why its image cannot be drawn as its header says (set by the import; see _image_check)
    problem: str = ""


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
    ReadProblem
        DICOM, but unreadable, cut short, or lacking a UID an instance must have (the message
        says which).
    """
    return read_header_checked(data)[0]


def read_header_checked(data: bytes) -> tuple[Header, bool]:
    """As :func:`read_header`, and whether its image header plainly holds together (see
    :func:`~ownscan.core.library._image_check.plainly_true`; False where the scanner did not
    read it: then only the full check can tell)."""
    fast = _fast_scan(data)
    if fast is not None:
        values, media_class, transfer, plain = fast
        return _header(values, media_class, transfer, True), plain
    return _pydicom_header(data), False


# -- the scanner -----------------------------------------------------------------------------
_TAGS: dict[int, str] = {
    SPECIFIC_CHARACTER_SET: "SpecificCharacterSet",
    0x00080016: "SOPClassUID",
    0x00080018: "SOPInstanceUID",
    0x00080020: "StudyDate",
    0x00080030: "StudyTime",
    0x00080050: "AccessionNumber",
    0x00080060: "Modality",
    0x00080080: "InstitutionName",
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
_SCAN_TAGS = frozenset(_TAGS) | frozenset(IMAGE_TAGS)
_DIRECTORY_RECORDS = 0x00041220  # Directory Record Sequence: a DICOMDIR


def _fast_values(data: bytes) -> tuple[dict[str, str], str, str] | None:
    """(values, media storage class, transfer syntax) read by the scanner, or None to let
    pydicom read the file.

    Raises
    ------
    ReadProblem
        The file is cut short: an element runs past its end.
    """
    fast = _fast_scan(data)
    return None if fast is None else fast[:3]


def _fast_scan(data: bytes) -> tuple[dict[str, str], str, str, bool] | None:
    """As :func:`_fast_values`, and whether the image header plainly holds together.

    Raises
    ------
    ReadProblem
        The file is cut short: an element runs past its end.
    """
    if data[128:132] != b"DICM":
        return None  # files without the Part 10 preamble are rare: pydicom reads them
    try:
        sc = scan_strict(data, _SCAN_TAGS)
        # the scan stops at the pixel data; the rest is walked too (element headers only)
        check_complete(data, sc)
        transfer = meta_text(sc.meta, TRANSFER_SYNTAX)
        if not transfer or _DIRECTORY_RECORDS in sc.present:
            return None
        values: dict[str, str] = {}
        texts = [(tag, raw) for tag, (_vr, raw) in sc.elements.items() if tag in _TAGS]
        for tag, raw in texts:
            if raw is None:
                return None  # an undefined-length value where text belongs
            values[_TAGS[tag]] = raw.decode("latin-1").strip(" \x00").strip()
        # the one text rule, on all values at once (one check instead of one per field, each
        # without its trailing padding; the joining backslash is printable ASCII)
        bodies = (raw.rstrip(b"\0 ") for _, raw in texts if raw is not None)
        text_rule(sc).check(b"\\".join(bodies), "a text value")
    except Truncated as exc:
        # pydicom would read such a file without a word, pixels cut short; a re-import from a
        # good copy would then be a conflict. Refuse it here, naming where it breaks off.
        raise ReadProblem(
            f"truncated DICOM file: {exc.element or exc} runs past the end of the file "
            f"({len(data)} bytes)"
        ) from None
    except Declined:
        return None
    media_class = meta_text(sc.meta, MEDIA_STORAGE_SOP_CLASS)
    if is_document_class(values.get("SOPClassUID", "") or media_class):
        return None  # the title may sit in a sequence: pydicom reads documents
    return values, media_class, transfer, plainly_true(sc, values.get("NumberOfFrames", ""))


# -- pydicom, for everything else --------------------------------------------------------------
def _pydicom_header(data: bytes) -> Header:
    import pydicom

    has_preamble = data[128:132] == b"DICM"
    settings = pydicom.config.settings
    saved = settings.reading_validation_mode
    # non-conformant values (letters in a UID...) are common in real exports and are no reason
    # to log or refuse: the index keeps the text as found
    settings.reading_validation_mode = pydicom.config.IGNORE
    try:
        # odd values in descriptive fields must not stop an import; the pixels are checked when
        # the series is assembled
        with quiet_pydicom():
            return _pydicom_read(data, has_preamble)
    finally:
        settings.reading_validation_mode = saved


def _pydicom_read(data: bytes, has_preamble: bool) -> Header:
    ds = read_dataset(io.BytesIO(data))[0]
    try:
        meta = getattr(ds, "file_meta", None)
        media_class = str(getattr(meta, "MediaStorageSOPClassUID", "") or "") if meta else ""
        if "DirectoryRecordSequence" in ds:
            media_class = DICOMDIR_SOP_CLASS
        transfer = str(getattr(meta, "TransferSyntaxUID", "") or "") if meta else ""
        values = {kw: _value_or_none(ds, kw) for kw in (*_TAGS.values(), "DocumentTitle")}
        sop_class = values["SOPClassUID"] or media_class
        if not values["DocumentTitle"] and is_document_class(sop_class):
            seq = ds.get("ConceptNameCodeSequence")
            if seq:
                values["DocumentTitle"] = str(seq[0].get("CodeMeaning", "") or "")
    except damaged() as exc:
        raise ReadProblem(f"unreadable DICOM header ({type(exc).__name__}: {exc})") from exc
    return _header(values, media_class, transfer or IMPLICIT_LE, has_preamble)


def _value_or_none(ds: object, keyword: str) -> str:
    """``keyword``'s text; "" for a descriptive value pydicom cannot convert (a VR it does not
    know, bytes that do not decode): the file is kept, the value shown as absent, as the
    assembly shows it (``info`` listed such an image that the import refused whole). A UID
    that cannot be read still refuses the file: it names the instance."""
    try:
        return _ds_text(ds, keyword)
    except damaged():
        if keyword.endswith("UID"):
            raise
        return ""


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
        raise ReadProblem(f"DICOM file without {' and '.join(missing)}")
    for name, value in uids:
        # non-conformant UIDs (letters, too long) occur in real exports; they still name the
        # instance, so they are accepted. Control characters would break listings: refused.
        if not value.isprintable():
            raise ReadProblem(f"unusable {name} {value!r}")
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
        institution=v["InstitutionName"],
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
