"""Which kind of document a file is, and the PDF inside a DICOM Encapsulated PDF."""

from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import Any

from ownscan.core.reports._marks import _PRESENTATION_STATES
from ownscan.core.reports._sr import (
    ENCAPSULATED_PDF,
    KEY_OBJECT_SELECTION,
    ReportError,
    _text,
    read_dataset_file,
)

__all__ = ["DocumentKind", "classify", "encapsulated_pdf"]


class DocumentKind(enum.Enum):
    """What ``ownscan report`` can show."""

    SR = "structured report"
    KOS = "key object selection"
    PRESENTATION_STATE = "presentation state"
    DICOM_PDF = "encapsulated PDF"
    PDF = "PDF file"


def classify(path: str | os.PathLike[str]) -> DocumentKind | None:
    """The kind of document ``path`` is, or None for anything else (images, other files).

    Reads the first bytes and, for DICOM, the header up to the pixel data only.
    """
    p = Path(path)
    try:
        with p.open("rb") as fh:
            head = fh.read(132)
    except OSError:
        return None
    if head.startswith(b"%PDF-"):
        return DocumentKind.PDF
    import pydicom

    from ownscan.core.dicom import quiet_pydicom

    try:
        with quiet_pydicom():
            ds = pydicom.dcmread(p, stop_before_pixels=True, specific_tags=["SOPClassUID"])
    except Exception:  # not DICOM, or damaged: not a document this command shows
        return None
    sop = _text(ds.get("SOPClassUID"))
    if sop == ENCAPSULATED_PDF:
        return DocumentKind.DICOM_PDF
    if sop == KEY_OBJECT_SELECTION:
        return DocumentKind.KOS
    if sop in _PRESENTATION_STATES:
        return DocumentKind.PRESENTATION_STATE
    if sop.startswith("1.2.840.10008.5.1.4.1.1.88."):
        return DocumentKind.SR
    return None


def encapsulated_pdf(source: str | os.PathLike[str] | Any) -> tuple[str, bytes]:
    """(title, PDF bytes) of a DICOM Encapsulated PDF, the PDF byte for byte (DICOM pads the
    value to an even length with one zero byte, which is taken off again only when the PDF's
    end marker comes before it).

    Raises
    ------
    ReportError
        Not an encapsulated PDF, or no PDF inside (the message names the file).
    """
    ds = read_dataset_file(source) if isinstance(source, (str, os.PathLike)) else source
    name = str(source) if isinstance(source, (str, os.PathLike)) else "dataset"
    if _text(ds.get("SOPClassUID")) != ENCAPSULATED_PDF or "EncapsulatedDocument" not in ds:
        raise ReportError(f"{name}: not a DICOM Encapsulated PDF")
    data = bytes(ds.EncapsulatedDocument)
    length = ds.get("EncapsulatedDocumentLength")
    if length and int(length) <= len(data):
        data = data[: int(length)]
    elif data.endswith(b"\x00") and data.rstrip(b"\x00").endswith(
        (b"%%EOF", b"%%EOF\n", b"%%EOF\r\n")
    ):
        data = data[:-1]
    if not data.startswith(b"%PDF-"):
        raise ReportError(f"{name}: the encapsulated document is not a PDF")
    title = _text(ds.get("DocumentTitle")) or "report"
    return title, data
