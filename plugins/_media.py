"""Shared internals of the disc and portal-zip importers: sniffing files, reading a DICOMDIR.

Not public API: :mod:`ownscan.plugins.disc` re-exports what is meant to be used.

About DICOMDIR parsing
----------------------
A DICOMDIR (PS3.10 / PS3.3 Annex F) is one DICOM dataset whose Directory Record Sequence is a
tree stored as a flat list: every record carries the byte offset (from the start of the file)
of its next sibling and of its first child, and the dataset carries the offset of the first
root record. The leaf records (IMAGE, SR DOCUMENT, ENCAP DOC, ...) name their file by a
Referenced File ID: path components relative to the folder that holds the DICOMDIR.

pydicom's :class:`pydicom.fileset.FileSet` walks the same tree, but only for a DICOMDIR that is a
file on disk, and it silently drops (with a warning) every record whose file it cannot find
there. A disc image or a zip is read without extracting it, so ownscan walks the offsets itself
(:func:`read_dicomdir`, ~60 lines, loop- and garbage-safe), on a dataset that pydicom parsed;
the tests check the result against ``FileSet`` on the same media laid out on disk.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, BinaryIO

from ownscan.core.errors import ReadProblem
from ownscan.core.files import is_litter  # core's rule, shared with the folder walk

__all__ = [
    "DicomdirEntry",
    "DicomdirError",
    "DicomdirIndex",
    "is_litter",
    "media_type_for",
    "normalise_name",
    "read_dicomdir",
]

DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"  # Media Storage Directory Storage
PDF = "application/pdf"
DICOM = "application/dicom"

# Suffixes that are never DICOM in practice: the viewer, its web pages and the previews that
# discs and portal downloads carry beside the images. A file with one of these suffixes is still
# taken as DICOM when it starts with the DICOM preamble ("DICM" at byte 128).
NON_DICOM_SUFFIXES = frozenset(
    """
    .exe .dll .msi .cab .sys .ocx .com .bat .cmd .ps1 .sh .app .dylib .so .jar .class .pyd
    .inf .ini .cfg .conf .config .manifest .lic .log .reg .chm .hlp .url .lnk .ico .icns .cur
    .htm .html .xhtml .js .css .xml .xsl .xsd .json .txt .rtf .md .csv .doc .docx .odt .xls
    .xlsx .jpg .jpeg .png .gif .bmp .tif .tiff .svg .webp .mp4 .avi .mov .wmv .mpg .mpeg .wav
    .mp3 .ttf .otf .woff .woff2 .swf .dat .db .plist .nfo .zip .7z .rar .gz .tar .iso
    """.split()  # noqa: SIM905 (a list of 80 words reads better as text)
)


def normalise_name(name: str) -> str:
    """An ISO 9660 / Joliet / FAT name as a case-free key: ``im000001.;1`` -> ``IM000001``.

    ISO 9660 identifiers end with a version (``;1``) and, without an extension, a lone dot;
    mounted discs show names in either case depending on the mount options.
    """
    base, sep, version = name.rpartition(";")
    if sep and version.isdigit():
        name = base
    if name.endswith(".") and name not in (".", ".."):
        name = name[:-1]
    return name.upper()


def media_type_for(name: str, head: bytes) -> str:
    """The media type to yield a file under, from its name and first 132 bytes.

    ``application/pdf`` for a PDF (by its ``%PDF-`` signature or its suffix: a damaged report
    should be reported, not silently dropped); otherwise ``application/dicom``, which for files
    without the DICOM preamble means "probably": the library reads them and reports those that
    are not DICOM as skipped. (A library stores every other media type as a document of the
    study, so a JPEG preview or a viewer must never be yielded under its own type.)
    """
    if head[128:132] == b"DICM":
        return DICOM
    suffix = PurePosixPath(normalise_name(name)).suffix.lower()
    if head.startswith(b"%PDF-") or suffix == ".pdf":
        return PDF
    return DICOM


class DicomdirError(ReadProblem):
    """The DICOMDIR cannot be used (not a DICOMDIR, unreadable, or its offsets are broken)."""


@dataclass(frozen=True)
class DicomdirEntry:
    """One file that a DICOMDIR references, with the patient / study / series it sits under.

    ``file_id`` is the Referenced File ID (path components relative to the DICOMDIR's folder);
    ``problem`` is set when the record is unusable (e.g. a file ID that climbs out with ``..``).
    """

    file_id: tuple[str, ...]
    record_type: str
    sop_instance_uid: str = ""
    sop_class_uid: str = ""
    transfer_syntax_uid: str = ""
    patient_id: str = ""
    patient_name: str = ""
    study_instance_uid: str = ""
    study_date: str = ""
    study_description: str = ""
    series_instance_uid: str = ""
    series_number: str = ""
    modality: str = ""
    instance_number: str = ""
    orphan: bool = False
    problem: str | None = None

    @property
    def key(self) -> tuple[str, ...]:
        """The file ID as a case-free key (see :func:`normalise_name`)."""
        return tuple(normalise_name(p) for p in self.file_id)


@dataclass
class DicomdirIndex:
    """What a DICOMDIR lists: its referenced files in DICOMDIR order, and oddities found."""

    entries: list[DicomdirEntry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def series(self) -> dict[str, list[DicomdirEntry]]:
        """Entries grouped by Series Instance UID (``""`` for records outside any series)."""
        out: dict[str, list[DicomdirEntry]] = {}
        for e in self.entries:
            out.setdefault(e.series_instance_uid, []).append(e)
        return out


# What each level of the record tree contributes to the entries below it.
_LEVEL_FIELDS = {
    "PATIENT": {"PatientID": "patient_id", "PatientName": "patient_name"},
    "STUDY": {
        "StudyInstanceUID": "study_instance_uid",
        "StudyDate": "study_date",
        "StudyDescription": "study_description",
    },
    "SERIES": {
        "SeriesInstanceUID": "series_instance_uid",
        "SeriesNumber": "series_number",
        "Modality": "modality",
    },
}
_FIRST = 0x00041200  # Offset of the First Directory Record of the Root Directory Entity
_NEXT = 0x00041400  # Offset of the Next Directory Record
_IN_USE = 0x00041410  # Record In-use Flag (0 = inactive)
_LOWER = 0x00041420  # Offset of Referenced Lower-Level Directory Entity


def _text(record: Any, keyword: str) -> str:
    value = record.get(keyword, "")
    return "" if value is None else str(value).strip()


def _in_use(record: Any) -> bool:
    flag = record.get(_IN_USE)
    return flag is None or flag.value != 0


def _check_file_id(file_id: tuple[str, ...]) -> str | None:
    if not file_id:
        return "empty Referenced File ID"
    for part in file_id:
        if part in ("", ".", "..") or "/" in part or "\\" in part or ":" in part:
            shown = "\\".join(file_id)
            return f"Referenced File ID {shown!r} leaves the disc folder; refused"
    return None


def _entry(record: Any, context: dict[str, str], orphan: bool) -> DicomdirEntry:
    raw = record.get("ReferencedFileID")
    value = raw if raw is not None else ""
    if isinstance(value, str):
        parts: tuple[str, ...] = tuple(value.replace("\\", "/").split("/")) if value else ()
        if "\\" in value:  # a single-valued ID that smuggles a path separator
            parts = (value,)
    else:
        parts = tuple(str(p) for p in value)
    return DicomdirEntry(
        file_id=parts,
        record_type=_text(record, "DirectoryRecordType"),
        sop_instance_uid=_text(record, "ReferencedSOPInstanceUIDInFile"),
        sop_class_uid=_text(record, "ReferencedSOPClassUIDInFile"),
        transfer_syntax_uid=_text(record, "ReferencedTransferSyntaxUIDInFile"),
        instance_number=_text(record, "InstanceNumber"),
        orphan=orphan,
        problem=_check_file_id(parts),
        **context,
    )


def read_dicomdir(source: bytes | BinaryIO | str) -> DicomdirIndex:
    """Read the referenced files of a DICOMDIR, with their patient / study / series.

    Parameters
    ----------
    source
        The DICOMDIR's bytes, an open binary file, or a path.

    Returns
    -------
    DicomdirIndex
        Entries in DICOMDIR order (patients, their studies, their series, their instances),
        then orphaned records that still reference a file; inactive records are left out.

    Raises
    ------
    DicomdirError
        Not a DICOMDIR, unreadable, or its record offsets are broken (point nowhere, loop).
    """
    from ownscan.core.dicom import quiet_pydicom

    # pydicom's own warnings (a name that is not valid in its character set...) would reach
    # the terminal raw; what matters is said by ownscan, naming the file
    with quiet_pydicom():
        return _read_dicomdir(source)


def _offset(elem: Any) -> int:
    """A record offset element's value (0 when absent or empty).

    Raises
    ------
    DicomdirError
        The value is not one offset (several values, text: a damaged or hostile DICOMDIR).
    """
    value = None if elem is None else elem.value
    if value is None or value == "" or value == []:
        return 0
    if not isinstance(value, int):
        raise DicomdirError(f"a record offset {elem.tag} is not one number ({value!r:.40})")
    return value


def _read_dicomdir(source: bytes | BinaryIO | str) -> DicomdirIndex:
    import pydicom
    from pydicom.errors import InvalidDicomError

    fp: Any = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        ds = pydicom.dcmread(fp)
    except (InvalidDicomError, EOFError, ValueError, KeyError, TypeError, OverflowError) as exc:
        raise DicomdirError(f"not a readable DICOM file ({exc})") from exc
    sop_class = ds.get("file_meta", {}).get("MediaStorageSOPClassUID", "")
    if sop_class != DICOMDIR_SOP_CLASS:
        raise DicomdirError(f"not a DICOMDIR (Media Storage SOP Class {sop_class or 'missing'})")
    try:
        sequence = list(ds.get("DirectoryRecordSequence", None) or [])
    except (ValueError, KeyError, TypeError, EOFError) as exc:  # damaged sequence items
        raise DicomdirError(f"its record sequence cannot be read ({exc})") from exc
    if not sequence:
        raise DicomdirError("it lists no records")
    records = {int(getattr(r, "seq_item_tell", -1)): r for r in sequence}
    index = DicomdirIndex()
    visited: set[int] = set()
    first = ds.get(_FIRST)
    first_offset = _offset(first)
    # Depth-first, in DICOMDIR order: (offset, context of the parent records).
    stack: list[tuple[int, dict[str, str]]] = [(first_offset, {})] if first_offset else []
    while stack:
        offset, context = stack.pop()
        if offset in visited:
            raise DicomdirError(f"its records form a loop at offset {offset}")
        record = records.get(offset)
        if record is None:
            raise DicomdirError(f"a record offset ({offset}) points to no record")
        visited.add(offset)
        nxt = _offset(record.get(_NEXT))
        if nxt:
            stack.append((nxt, context))
        if not _in_use(record):
            continue  # an inactive record and everything under it
        rtype = _text(record, "DirectoryRecordType")
        fields = _LEVEL_FIELDS.get(rtype, {})
        below = dict(context)
        below.update({attr: _text(record, kw) for kw, attr in fields.items()})
        if "ReferencedFileID" in record:
            index.entries.append(_entry(record, below, orphan=False))
        lower = _offset(record.get(_LOWER))
        if lower:
            stack.append((lower, below))
    orphans = [
        r
        for off, r in records.items()
        if off not in visited and "ReferencedFileID" in r and _in_use(r)
    ]
    if orphans:
        index.notes.append(
            f"{len(orphans)} record(s) are outside the DICOMDIR's patient/study/series tree"
        )
        index.entries.extend(_entry(r, {}, orphan=True) for r in orphans)
    if not visited and not orphans:
        raise DicomdirError("it has no root record")
    return index
