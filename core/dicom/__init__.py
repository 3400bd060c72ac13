"""Reading DICOM headers: one scanner, one pydicom fallback, one rule for what is DICOM.

Every part of ownscan that reads a header goes through here: assembly (the frame records that
become a volume), the library (the fields of its index) and importers such as DICOMweb (the
file meta information of a retrieved instance). Public API::

    from ownscan.core.dicom import read_frames, scan, file_meta

    frames = read_frames(path)               # list[Frame]: one record per image frame
    sc = scan(path, {0x00100010})            # the raw top level of a header, or None
    meta = file_meta(data)                   # group 0002 of a Part-10 file
    fields = acquisition_fields(frame.source)  # TR, TE, ... under dcm2niix's BIDS names

The scanner (:func:`scan`) reads the top level of the common headers without pydicom and
*declines* whatever it is not sure to read exactly as pydicom would; the caller then reads the
file with pydicom (:func:`read_dataset`, the one fallback). :class:`NotDicom` (skip: not DICOM,
a DICOMDIR, no image) and :class:`ReadProblem` (fail: damaged, truncated) are the two outcomes
for an item that cannot be used; both derive from :class:`~ownscan.core.errors.OwnscanError`.
Text values follow one rule (:func:`text_rule`): Latin-1 and ASCII-only UTF-8 headers are
decoded here, everything else by pydicom.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ownscan.core.dicom._pydicom import (
    damaged,
    is_dataset,
    looks_like_dicom,
    quiet_pydicom,
    read_dataset,
)
from ownscan.core.dicom._scan import (
    DEFLATED_LE,
    EXPLICIT_BE,
    EXPLICIT_LE,
    IMPLICIT_LE,
    MEDIA_STORAGE_SOP_CLASS,
    MEDIA_STORAGE_SOP_INSTANCE,
    PIXEL_DATA,
    SPECIFIC_CHARACTER_SET,
    TRANSFER_SYNTAX,
    Declined,
    Scan,
    TextRule,
    TransferSyntax,
    Truncated,
    check_complete,
    file_meta,
    meta_text,
    plain_uid,
    scan,
    scan_or_reason,
    scan_strict,
    text_rule,
)
from ownscan.core.errors import NotDicom, ReadProblem

if TYPE_CHECKING:
    from ownscan.core.dicom._acquisition import acquisition_fields
    from ownscan.core.dicom._frames import (
        NATIVE,
        NATIVE_LE,
        Frame,
        image_orientation,
        read_frames,
    )

__all__ = [
    "DEFLATED_LE",
    "EXPLICIT_BE",
    "EXPLICIT_LE",
    "IMPLICIT_LE",
    "MEDIA_STORAGE_SOP_CLASS",
    "MEDIA_STORAGE_SOP_INSTANCE",
    "NATIVE",
    "NATIVE_LE",
    "PIXEL_DATA",
    "SPECIFIC_CHARACTER_SET",
    "TRANSFER_SYNTAX",
    "Declined",
    "Frame",
    "NotDicom",
    "ReadProblem",
    "Scan",
    "TextRule",
    "TransferSyntax",
    "Truncated",
    "acquisition_fields",
    "check_complete",
    "damaged",
    "file_meta",
    "image_orientation",
    "is_dataset",
    "looks_like_dicom",
    "meta_text",
    "plain_uid",
    "quiet_pydicom",
    "read_dataset",
    "read_frames",
    "scan",
    "scan_or_reason",
    "scan_strict",
    "text_rule",
]

# The frame records are imported when first asked for: every ownscan command loads the DICOMweb
# importer at start-up, and it needs the scanner (``file_meta``), not the record builder.
_LAZY = frozenset({"NATIVE", "NATIVE_LE", "Frame", "image_orientation", "read_frames"})


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from ownscan.core.dicom import _frames

        return getattr(_frames, name)
    if name == "acquisition_fields":  # the NIfTI sidecar's, read only when one is written
        from ownscan.core.dicom._acquisition import acquisition_fields

        return acquisition_fields
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
