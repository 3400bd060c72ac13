"""Plain dataclasses that the library's queries, imports, removals and checks return, and its
error."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ownscan.core.errors import OwnscanError

__all__ = [
    "CONFLICT",
    "DOCUMENT",
    "DUPLICATE",
    "FAILED",
    "IMPORTED",
    "SKIPPED",
    "CheckProblem",
    "CheckReport",
    "Conflict",
    "Document",
    "ImportReport",
    "Instance",
    "ItemResult",
    "LibraryError",
    "MergeProposal",
    "Patient",
    "Person",
    "RemoveResult",
    "Series",
    "SeriesWarnings",
    "StackInfo",
    "StoredRegistration",
    "Study",
    "TimelineEntry",
]

# What happened to one item of an import.
IMPORTED = "imported"  # a new instance, stored and indexed
DUPLICATE = "duplicate"  # the library already held these exact bytes under this SOP Instance UID
CONFLICT = "conflict"  # same SOP Instance UID, different bytes: kept aside in conflicts/
DOCUMENT = "document"  # a non-DICOM document (PDF) stored with the study or the import
SKIPPED = "skipped"  # not DICOM (or a DICOMDIR): nothing to import, nothing lost
FAILED = "failed"  # could not be read or lacks what an instance must have

STATUSES = (IMPORTED, DUPLICATE, CONFLICT, DOCUMENT, SKIPPED, FAILED)


@dataclass(frozen=True)
class Patient:
    """A patient as the files name them (patient ID, name and birth date together)."""

    key: int
    patient_id: str
    name: str
    birth_date: str
    sex: str
    studies: int
    images: int
    size: int


@dataclass(frozen=True)
class Study:
    """One study (one visit's examination) with its totals."""

    study_uid: str
    patient_key: int
    patient_name: str
    patient_id: str
    date: str
    time: str
    description: str
    accession_number: str
    series: int
    images: int
    size: int
    documents: int


@dataclass(frozen=True)
class StackInfo:
    """One stack of a series as series assembly found it when the series was imported (a
    series of several stacks: angled lumbar stacks, a three-plane scout, two reconstructions
    under one Series Instance UID; each is shown on its own as ``UID~number``).

    ``plane`` is ``axial``, ``coronal``, ``sagittal`` (``oblique ...`` when tilted more than
    about 8 degrees; :func:`ownscan.core._stacks.plane_of`) or ``image`` for a 2D picture;
    ``label`` the words the viewers show (``stack 2 of 3, oblique axial, 8 images``); ``rows``
    and ``columns`` the size of one slice; ``normal`` the slice direction (unit, LPS), which
    tells apart stacks of one plane at different angles."""

    number: int
    plane: str
    images: int
    rows: int
    columns: int
    label: str
    normal: tuple[float, float, float]


@dataclass(frozen=True)
class Series:
    """One series. ``is_document`` for Encapsulated PDF and Structured Report series.

    ``stacks``: the stacks series assembly makes of it (one for an ordinary series, none for
    a document or a series without an image), recorded in the index at import; None while
    not known (a library indexed before schema version 4 and not filled yet, a series that
    changed since)."""

    series_uid: str
    study_uid: str
    number: int | None
    modality: str
    description: str
    body_part: str
    images: int
    size: int
    is_document: bool
    thumbnail: bytes | None = None
    stacks: tuple[StackInfo, ...] | None = None


@dataclass(frozen=True)
class StoredRegistration:
    """A registration kept in the index (``ownscan compare`` computes each pair once).

    ``matrix`` is the 4x4 as 4 rows (current series' LPS mm -> prior's); ``details`` holds the
    rest of the result (JSON text).
    """

    prior_series_uid: str
    current_series_uid: str
    method: str
    matrix: tuple[tuple[float, ...], ...]
    metric: float | None
    quality: float | None
    overlap: float | None
    details: str
    created: str


@dataclass(frozen=True)
class Instance:
    """One stored DICOM instance and where its bytes live."""

    sop_instance_uid: str
    series_uid: str
    sop_class_uid: str
    instance_number: int | None
    frames: int
    transfer_syntax: str
    sha256: str
    size: int
    path: str
    origin: str


@dataclass(frozen=True)
class Document:
    """A document to show beside the images.

    ``kind`` is ``"pdf"`` (a PDF file that came with an import), ``"dicom-pdf"`` (a DICOM
    Encapsulated PDF instance) or ``"sr"`` (a DICOM Structured Report instance).
    """

    kind: str
    title: str
    study_uid: str | None
    import_id: int | None
    size: int
    path: str
    origin: str
    sop_instance_uid: str = ""


@dataclass(frozen=True)
class Conflict:
    """A file whose SOP Instance UID the library holds with different bytes, kept aside."""

    sop_instance_uid: str
    sha256: str
    existing_sha256: str
    size: int
    path: str
    origin: str


@dataclass(frozen=True)
class ItemResult:
    """What happened to one item of an import (one line of the per-file report)."""

    origin: str
    status: str
    reason: str = ""
    sop_instance_uid: str = ""
    study_uid: str = ""
    series_uid: str = ""
    size: int = 0
    # an instance stored as it is whose image header lies or is damaged (Rows 0, pixel data
    # shorter than declared...): what info, render and export will say of it
    warning: str = ""


@dataclass(frozen=True)
class SeriesWarnings:
    """What series assembly says of one picture (a stack, a scout...) of a series an import
    added images to: its ``warnings`` (slices missing, a gantry tilt...) in the words ``info``
    uses, with its ``label`` and ``files`` in slice order, to name it."""

    series_uid: str
    label: str
    files: tuple[str, ...]
    warnings: tuple[str, ...]


@dataclass
class ImportReport:
    """The outcome of :meth:`Library.import_items`.

    ``ok`` is True when every image found was imported or was already present: no item failed
    and no conflicting file was found. Files that are not DICOM (skipped) do not spoil it.
    """

    import_id: int
    results: list[ItemResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    bytes_read: int = 0
    # series UID -> each of its pictures as series assembly made them when their stacks were
    # recorded after this import (the same assembly ``info`` makes of the stored files): what
    # the CLI's import says of them without assembling them again; absent for a series that
    # could not be assembled (its files' own lines said why)
    series_warnings: dict[str, list[SeriesWarnings]] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        c = Counter(r.status for r in self.results)
        return {s: c.get(s, 0) for s in STATUSES}

    @property
    def ok(self) -> bool:
        c = self.counts
        return c[FAILED] == 0 and c[CONFLICT] == 0

    def summary(self) -> str:
        """One line: the counts, e.g. ``12 imported, 3 duplicate, 1 skipped``."""
        parts = [f"{n} {s}" for s, n in self.counts.items() if n]
        return ", ".join(parts) if parts else "nothing found"

    def to_dict(self) -> dict[str, Any]:
        return {
            "import_id": self.import_id,
            "counts": self.counts,
            "ok": self.ok,
            "notes": list(self.notes),
            "results": [r.__dict__ for r in self.results],
        }


@dataclass(frozen=True)
class CheckProblem:
    """One finding of :meth:`Library.check`; ``repaired`` says if it was fixed.

    ``info``: not damage but what an interrupted import or removal is expected to leave (an
    orphan file, a partial file in ``tmp/``, a file of a removal), set right by the check
    itself and reported for information.
    """

    kind: str
    path: str
    message: str
    repaired: bool = False
    info: bool = False


@dataclass
class CheckReport:
    """The outcome of :meth:`Library.check`. ``consistent`` when nothing is left to fix."""

    problems: list[CheckProblem] = field(default_factory=list)
    instances: int = 0
    documents: int = 0
    files_checked: int = 0

    @property
    def consistent(self) -> bool:
        return all(p.repaired for p in self.problems)

    @property
    def unrepaired(self) -> list[CheckProblem]:
        return [p for p in self.problems if not p.repaired]

    @property
    def information(self) -> list[CheckProblem]:
        """What an interrupted import or removal left, set right by the check itself."""
        return [p for p in self.problems if p.info]


@dataclass(frozen=True)
class RemoveResult:
    """What :meth:`Library.remove` took out."""

    series: int
    instances: int
    documents: int
    size: int


class LibraryError(OwnscanError):
    """A library-level problem: not a library, busy, disk full, too new. One clear line.

    When an import stops on it, ``report`` holds what the import did until then.
    """

    report: ImportReport | None = None


@dataclass(frozen=True)
class Person:
    """One human being: the patient rows (one per hospital ID, name and birth date) that the
    user confirmed are the same person, or a single patient nobody merged.

    ``key`` is the lowest patient key among ``patients``; any of the patients' keys names the
    person in :meth:`Library.person` and the ``ownscan person`` commands. ``linked`` is True
    when the user merged patients into it. ``institutions`` are the hospitals (Institution
    Name) of its series, as the files write them.
    """

    key: int
    patients: tuple[Patient, ...]
    linked: bool
    institutions: tuple[str, ...]
    studies: int
    first_date: str
    last_date: str

    @property
    def patient_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.patient_id for p in self.patients))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.name for p in self.patients))

    @property
    def birth_dates(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.birth_date for p in self.patients if p.birth_date))


@dataclass(frozen=True)
class MergeProposal:
    """Two persons the library thinks are one: the same name (ignoring order, case, accents
    and DICOM ``^`` formatting) and the same birth date. The user confirms
    (:meth:`Library.merge_persons`) or rejects (:meth:`Library.reject_person_merge`)."""

    person_keys: tuple[int, int]
    patient_keys: tuple[tuple[int, ...], tuple[int, ...]]
    name_key: str
    birth_date: str
    reason: str


@dataclass(frozen=True)
class TimelineEntry:
    """One study in a person's timeline.

    ``modalities`` and ``body_parts`` are those of its image series (documents, key object
    selections and presentation states left out); ``institutions`` its hospitals;
    ``reports`` how many documents the library keeps with it (PDF files, DICOM encapsulated
    PDFs and Structured Reports); ``marked`` how many Key Object Selections and presentation
    states (the radiologist's key images and annotations, read by ``ownscan.core.reports``).
    """

    date: str
    time: str
    study_uid: str
    patient_key: int
    patient_id: str
    patient_name: str
    description: str
    modalities: tuple[str, ...]
    body_parts: tuple[str, ...]
    institutions: tuple[str, ...]
    series: int
    images: int
    reports: int
    marked: int = 0

    @property
    def has_report(self) -> bool:
        return self.reports > 0
