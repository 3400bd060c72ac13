"""The library's index, read: patients, studies, series, instances, documents, conflicts.

:class:`Index` holds the SQLite connection and the store, and answers every query with plain
frozen dataclasses (``_model``). :class:`~ownscan.core.library._library.Library` is an
``Index`` that can also write (import, remove, check); the queries may be called at any time,
since SQLite WAL lets readers go on while an import writes.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from ownscan.core._stacks import split_id, stack_id
from ownscan.core.errors import OwnscanError
from ownscan.core.library import _persons
from ownscan.core.library._header import document_kind, is_document_class
from ownscan.core.library._model import (
    Conflict,
    Document,
    Instance,
    LibraryError,
    MergeProposal,
    Patient,
    Person,
    Series,
    StackInfo,
    StoredRegistration,
    Study,
    TimelineEntry,
)
from ownscan.core.library._schema import SCHEMA_VERSION
from ownscan.core.library._stacks import (
    check_stack,
    load_stack,
    recorded_stacks,
    stack_items,
    stacks,
)
from ownscan.core.library._store import Store
from ownscan.core.plugin_types import SourceItem

if TYPE_CHECKING:
    from ownscan.core.assembly import Assembly
    from ownscan.core.volume import Volume

__all__ = ["Index"]


class Index:
    """The queries of a library: what it holds, read from its index (``index.sqlite``).

    Parameters
    ----------
    store
        The library folder.
    conn
        An open connection to its index (the library opens it, sets WAL and migrates).
    """

    # the index's schema version: a read-only library of version 3 is read as it is
    # (docs/library.md, "The stacks of a series")
    schema = SCHEMA_VERSION

    def __init__(self, store: Store, conn: sqlite3.Connection) -> None:
        self.store = store
        self.root = store.root
        self.conn = conn

    # -- queries -------------------------------------------------------------------------------
    def has_instance(self, sop_instance_uid: str) -> bool:
        """True when the library holds this SOP Instance UID (for ImportOptions.known_instance)."""
        row = self.conn.execute(
            "SELECT 1 FROM instances WHERE sop_instance_uid = ?", (sop_instance_uid,)
        ).fetchone()
        return row is not None

    def patients(self) -> list[Patient]:
        """Every patient, by name."""
        rows = self.conn.execute(
            """SELECT p.key, p.patient_id, p.name, p.birth_date, p.sex,
                 (SELECT count(*) FROM studies st WHERE st.patient_key = p.key),
                 (SELECT count(*) FROM instances i JOIN series se USING (series_uid)
                    JOIN studies st USING (study_uid) WHERE st.patient_key = p.key),
                 (SELECT coalesce(sum(i.size), 0) FROM instances i JOIN series se
                    USING (series_uid) JOIN studies st USING (study_uid)
                    WHERE st.patient_key = p.key)
               FROM patients p ORDER BY p.name, p.patient_id, p.key"""
        ).fetchall()
        return [Patient(*r) for r in rows]

    def studies(self, patient_key: int | None = None) -> list[Study]:
        """Studies of one patient (or all), oldest first."""
        where, args = ("WHERE st.patient_key = ?", (patient_key,)) if patient_key else ("", ())
        rows = self.conn.execute(
            f"""SELECT st.study_uid, st.patient_key, p.name, p.patient_id, st.date, st.time,
                 st.description, st.accession_number,
                 (SELECT count(*) FROM series se WHERE se.study_uid = st.study_uid),
                 (SELECT count(*) FROM instances i JOIN series se USING (series_uid)
                    WHERE se.study_uid = st.study_uid),
                 (SELECT coalesce(sum(i.size), 0) FROM instances i JOIN series se
                    USING (series_uid) WHERE se.study_uid = st.study_uid),
                 (SELECT count(*) FROM documents d WHERE d.study_uid = st.study_uid)
               FROM studies st JOIN patients p ON p.key = st.patient_key {where}
               ORDER BY p.name, st.date, st.time, st.study_uid""",
            args,
        ).fetchall()
        return [Study(*r) for r in rows]

    def series(self, study_uid: str | None = None) -> list[Series]:
        """Series of one study (or all), by series number."""
        where, args = ("WHERE se.study_uid = ?", (study_uid,)) if study_uid else ("", ())
        rows = self.conn.execute(
            f"""SELECT se.series_uid, se.study_uid, se.number, se.modality, se.description,
                 se.body_part, count(i.sop_instance_uid), coalesce(sum(i.size), 0),
                 min(i.sop_class_uid), se.thumbnail, {"se.stacks" if self.schema >= 4 else "NULL"}
               FROM series se LEFT JOIN instances i USING (series_uid) {where}
               GROUP BY se.series_uid
               ORDER BY se.study_uid, se.number IS NULL, se.number, se.series_uid""",
            args,
        ).fetchall()
        return [
            Series(
                series_uid=r[0],
                study_uid=r[1],
                number=r[2],
                modality=r[3],
                description=r[4],
                body_part=r[5],
                images=r[6],
                size=r[7],
                is_document=is_document_class(r[8] or "") or r[3] in ("SR", "DOC"),
                thumbnail=r[9],
                stacks=recorded_stacks(r[10], r[6], r[7]),
            )
            for r in rows
        ]

    def instances(self, series_uid: str) -> list[Instance]:
        """The instances of a series, by instance number (the file order, not the geometry)."""
        rows = self.conn.execute(
            """SELECT sop_instance_uid, series_uid, sop_class_uid, instance_number, frames,
                 transfer_syntax, sha256, size, origin FROM instances WHERE series_uid = ?
               ORDER BY instance_number IS NULL, instance_number, sop_instance_uid""",
            (series_uid,),
        ).fetchall()
        return [
            Instance(
                sop_instance_uid=r[0],
                series_uid=r[1],
                sop_class_uid=r[2],
                instance_number=r[3],
                frames=r[4],
                transfer_syntax=r[5],
                sha256=r[6],
                size=r[7],
                path=str(self.store.object_path(r[6])),
                origin=r[8],
            )
            for r in rows
        ]

    def documents(self, study_uid: str | None = None) -> list[Document]:
        """Documents of a study (or all): PDFs that came with imports, DICOM Encapsulated PDF
        and Structured Report instances."""
        out: list[Document] = []
        where, args = ("WHERE study_uid = ?", (study_uid,)) if study_uid else ("", ())
        for title, study, import_id, size, sha, origin in self.conn.execute(
            f"SELECT title, study_uid, import_id, size, sha256, origin FROM documents {where} "
            "ORDER BY id",
            args,
        ):
            path = str(self.store.object_path(sha))
            out.append(Document("pdf", title, study, import_id, size, path, origin))
        where2 = "WHERE se.study_uid = ?" if study_uid else ""
        for sop, cls, title, study, import_id, size, sha, origin in self.conn.execute(
            f"""SELECT i.sop_instance_uid, i.sop_class_uid, i.title, se.study_uid, i.import_id,
                  i.size, i.sha256, i.origin
                FROM instances i JOIN series se USING (series_uid) {where2}
                ORDER BY se.study_uid, i.instance_number""",
            args,
        ):
            if not is_document_class(cls):
                continue
            path = str(self.store.object_path(sha))
            out.append(
                Document(document_kind(cls), title, study, import_id, size, path, origin, sop)
            )
        return out

    def conflicts(self) -> list[Conflict]:
        """Files kept aside because their SOP Instance UID is held with other bytes."""
        return [
            Conflict(r[0], r[1], r[2], r[3], str(self.store.conflict_path(r[1])), r[4])
            for r in self.conn.execute(
                "SELECT sop_instance_uid, sha256, existing_sha256, size, origin FROM conflicts "
                "ORDER BY sop_instance_uid"
            )
        ]

    def series_items(self, series_uid: str) -> list[SourceItem]:
        """The stored files of a series as :class:`SourceItem` (for series assembly).

        ``origin`` is the file the user imported (where the library recorded it came from),
        so that every warning and error about it names that file, never the library's stored
        copy (a name of hashes inside the library folder, which means nothing to the user).
        Only an instance without a recorded origin is named by its stored copy; two instances
        recorded from the same place (a file re-imported after it changed) are told apart by
        their copies.

        ``series_uid`` may name one stack of a series of several (``UID~N``): the files of
        that stack only, so that a source ``library:UID~N`` reads as that stack alone.
        """
        uid, number = split_id(series_uid)
        if number is not None:
            return stack_items(self, uid, number)
        items = self.instances(series_uid)
        if not items and not self._exists("series", "series_uid", series_uid):
            raise LibraryError(f"{self.root}: no series {series_uid} in the library")
        seen = Counter(inst.origin for inst in items)
        return [
            SourceItem(origin=_shown_origin(inst, seen[inst.origin] > 1), path=Path(inst.path))
            for inst in items
        ]

    def assemble(self, series_uid: str) -> Assembly:
        """The series' stored files through series assembly (one or more stacks, warnings)."""
        from ownscan.core.assembly import assemble

        return assemble(self.series_items(series_uid))

    def load_volume(self, series_uid: str) -> Volume:
        """Assemble a series into a :class:`~ownscan.core.volume.Volume`.

        ``series_uid`` may name one stack of a series of several (``UID~N``, N from 1).

        Raises
        ------
        LibraryError
            No such series or stack, or it does not make one volume (e.g. it holds two
            stacks of different orientation: name one, ``UID~N``).
        """
        from ownscan.core.assembly import load_volume

        uid, number = split_id(series_uid)
        if number is not None:  # one stack of a series of several (UID~N)
            return load_stack(self, uid, number)
        items = self.series_items(series_uid)
        try:
            return load_volume(items)
        except LibraryError:
            raise
        except OwnscanError as exc:
            raise LibraryError(f"series {series_uid} in {self.root}: {exc}") from exc

    def series_digest(self, series_uid: str) -> str:
        """sha256 over the sorted sha256 of the series' instances: changes when an image is
        added or removed, so a stored registration can tell it is out of date."""
        h = hashlib.sha256()
        for (sha,) in self.conn.execute(
            "SELECT sha256 FROM instances WHERE series_uid = ? ORDER BY sha256", (series_uid,)
        ):
            h.update(sha.encode("ascii"))
        return h.hexdigest()

    def registration(
        self,
        prior_series_uid: str,
        current_series_uid: str,
        method: str,
        *,
        prior_stack: int = 1,
        current_stack: int = 1,
    ) -> StoredRegistration | None:
        """The stored registration of this pair (of these stacks, from 1, of series of
        several stacks) by this method, or None when there is none or either series changed
        since it was computed."""
        if self.schema < 4 and (prior_stack, current_stack) != (1, 1):
            return None  # (a read-only index of version 3 kept registrations of stacks 1)
        stacks = " AND prior_stack = ? AND current_stack = ?" if self.schema >= 4 else ""
        row = self.conn.execute(
            """SELECT prior_digest, current_digest, matrix, metric, quality, overlap, details,
                 created FROM registrations
               WHERE prior_series_uid = ? AND current_series_uid = ? AND method = ?"""
            + stacks,
            (prior_series_uid, current_series_uid, method, prior_stack, current_stack)[
                : 5 if stacks else 3
            ],
        ).fetchone()
        if row is None:
            return None
        if (row[0], row[1]) != (
            self.series_digest(prior_series_uid),
            self.series_digest(current_series_uid),
        ):
            return None
        matrix = tuple(tuple(float(v) for v in r) for r in json.loads(row[2]))
        return StoredRegistration(prior_series_uid, current_series_uid, method, matrix, *row[3:])

    # -- persons (docs/library.md, "One person, many hospitals") ------------------------------
    def persons(self) -> list[Person]:
        """Every person: patients the user merged, and each other patient on its own."""
        return _persons.persons(self.conn, self.patients(), self._patient_institutions)

    def person(self, patient_key: int) -> Person:
        """The person that patient ``patient_key`` belongs to (any of its patients' keys)."""
        return _persons.person(self.conn, self.patients(), patient_key, self._patient_institutions)

    def propose_person_merges(self) -> list[MergeProposal]:
        """Pairs of persons with the same name (ignoring order, case, accents and DICOM ``^``
        formatting) and the same birth date that the user neither merged nor rejected."""
        return _persons.proposals(self.conn, self.patients())

    def timeline(self, person: Person | int) -> list[TimelineEntry]:
        """Every study of a person (a :class:`Person` or any of its patients' keys) from every
        hospital, oldest first, with modalities, body parts, hospitals and kept reports."""
        who = person if isinstance(person, Person) else self.person(person)
        return _persons.timeline(
            self.conn,
            [p.key for p in who.patients],
            self._institution,
        )

    def _first_file(self, series_uid: str) -> str | None:
        row = self.conn.execute(
            "SELECT sha256 FROM instances WHERE series_uid = ? "
            "ORDER BY instance_number IS NULL, instance_number LIMIT 1",
            (series_uid,),
        ).fetchone()
        return str(self.store.object_path(row[0])) if row else None

    def _institution(self, series_uid: str, stored: str | None) -> str:
        """A series' hospital: the index's value, or (rows older than schema version 3 that
        were not filled yet) the first stored file's."""
        if stored is not None:
            return stored
        path = self._first_file(series_uid)
        return _persons.read_institution(path) if path else ""

    def _patient_institutions(self, patient_key: int) -> list[str]:
        found: dict[str, None] = {}
        for uid, stored in self.conn.execute(
            "SELECT se.series_uid, se.institution FROM series se JOIN studies st "
            "USING (study_uid) WHERE st.patient_key = ? ORDER BY st.date, se.number",
            (patient_key,),
        ):
            place = self._institution(uid, stored)
            if place:
                found[place] = None
        return list(found)

    def resolve_series(self, text: str) -> str:
        """A Series Instance UID from a UID or a unique prefix of one (for the CLI)."""
        return self._resolve("series", "series_uid", text)

    def resolve_stack(self, text: str) -> str:
        """:meth:`resolve_series` that also takes one stack of a series of several stacks,
        ``UID~N`` (a unique prefix of the UID, then ``~N``); the full name, ``UID~N`` or
        ``UID``. A stack the series does not have is refused, naming those it has."""
        uid, number = split_id(text)
        full = self.resolve_series(uid)
        if number is None:
            return full
        check_stack(self, full, number)
        return stack_id(full, number)

    def series_stacks(self, series_uid: str) -> tuple[StackInfo, ...]:
        """The stacks of series ``series_uid`` in the order ``UID~N`` numbers them (one for a
        series of one stack), each with the words that tell it apart (``StackInfo.label``:
        ``stack 2 of 3, oblique axial, 8 images``): as recorded at import, else made now
        from the stored headers (no pixel is read)."""
        return stacks(self, series_uid)

    def resolve_study(self, text: str) -> str:
        """A Study Instance UID from a UID or a unique prefix of one."""
        return self._resolve("studies", "study_uid", text)

    def _resolve(self, table: str, column: str, text: str) -> str:
        rows = self.conn.execute(
            f"SELECT {column} FROM {table} WHERE {column} = ? OR substr({column}, 1, ?) = ? "
            "LIMIT 3",
            (text, len(text), text),
        ).fetchall()
        exact = [r[0] for r in rows if r[0] == text]
        if exact:
            return str(exact[0])
        what = "series" if table == "series" else "study"
        if not rows:
            raise LibraryError(f"{self.root}: no {what} {text!r} in the library")
        if len(rows) > 1:
            raise LibraryError(f"{text!r} matches more than one {what}; give more of the UID")
        return str(rows[0][0])

    def _exists(self, table: str, column: str, value: object) -> bool:
        return (
            self.conn.execute(f"SELECT 1 FROM {table} WHERE {column} = ?", (value,)).fetchone()
            is not None
        )


def _shown_origin(inst: Instance, shared: bool) -> str:
    """How messages name a stored instance: the file it was imported from; its stored copy
    only where no origin was recorded, or beside an origin that other instances share."""
    if not inst.origin:
        return f"{inst.path} (library copy; where it was imported from is not recorded)"
    if shared:
        return f"{inst.origin} (library copy {Path(inst.path).name[:12]})"
    return inst.origin
