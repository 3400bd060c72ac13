"""What the index needs from one DICOM file, read from its bytes without touching the pixels."""

from __future__ import annotations

import io
import re
import warnings
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
    import pydicom

    has_preamble = len(data) >= 132 and data[128:132] == b"DICM"
    settings = pydicom.config.settings
    saved = settings.reading_validation_mode
    # non-conformant values (letters in a UID...) are common in real exports and are no reason
    # to log or refuse: the index keeps the text as found
    settings.reading_validation_mode = pydicom.config.IGNORE
    try:
        return _read(data, has_preamble)
    finally:
        settings.reading_validation_mode = saved


def _read(data: bytes, has_preamble: bool) -> Header:
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
            return _fields(ds, has_preamble)
        except NotDicom:
            raise
        except ValueError:
            raise
        except Exception as exc:
            if not has_preamble:
                raise NotDicom("not a DICOM file") from exc
            raise ValueError(f"unreadable DICOM header ({type(exc).__name__}: {exc})") from exc


def _fields(ds: object, has_preamble: bool) -> Header:
    from pydicom.dataset import Dataset

    assert isinstance(ds, Dataset)
    meta = getattr(ds, "file_meta", None)
    media_class = str(getattr(meta, "MediaStorageSOPClassUID", "") or "") if meta else ""
    if media_class == DICOMDIR_SOP_CLASS or "DirectoryRecordSequence" in ds:
        raise NotDicom("DICOMDIR (the disc's table of contents, not an image)")

    def text(keyword: str) -> str:
        value = ds.get(keyword, "")
        if value is None:
            return ""
        return str(value).strip().replace("\x00", "")

    def integer(keyword: str) -> int | None:
        value = ds.get(keyword, None)
        try:
            return int(value) if value not in (None, "") else None
        except (TypeError, ValueError):
            return None

    sop = text("SOPInstanceUID")
    if not has_preamble and not (sop and _UID.match(sop)):
        raise NotDicom("not a DICOM file")
    missing = [
        name
        for name, value in (
            ("SOP Instance UID", sop),
            ("Study Instance UID", text("StudyInstanceUID")),
            ("Series Instance UID", text("SeriesInstanceUID")),
        )
        if not value
    ]
    if missing:
        raise ValueError(f"DICOM file without {' and '.join(missing)}")
    for name, value in (
        ("SOP Instance UID", sop),
        ("Study Instance UID", text("StudyInstanceUID")),
        ("Series Instance UID", text("SeriesInstanceUID")),
    ):
        # non-conformant UIDs (letters, too long) occur in real exports; they still name the
        # instance, so they are accepted. Control characters would break listings: refused.
        if not value.isprintable():
            raise ValueError(f"unusable {name} {value!r}")
    sop_class = text("SOPClassUID") or media_class
    title = text("DocumentTitle")
    if not title and is_document_class(sop_class):
        seq = ds.get("ConceptNameCodeSequence")
        if seq:
            title = str(seq[0].get("CodeMeaning", "") or "")
    transfer = str(getattr(meta, "TransferSyntaxUID", "") or "") if meta else ""
    return Header(
        sop_instance_uid=sop,
        sop_class_uid=sop_class,
        study_uid=text("StudyInstanceUID"),
        series_uid=text("SeriesInstanceUID"),
        patient_id=text("PatientID"),
        patient_name=text("PatientName"),
        birth_date=text("PatientBirthDate"),
        sex=text("PatientSex"),
        study_date=text("StudyDate"),
        study_time=text("StudyTime"),
        study_description=text("StudyDescription"),
        accession_number=text("AccessionNumber"),
        series_number=integer("SeriesNumber"),
        series_description=text("SeriesDescription"),
        modality=text("Modality"),
        body_part=text("BodyPartExamined"),
        instance_number=integer("InstanceNumber"),
        frames=integer("NumberOfFrames") or 1,
        transfer_syntax=transfer or ("1.2.840.10008.1.2" if not has_preamble else ""),
        title=title,
    )
