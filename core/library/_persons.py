"""One person, many hospitals: patient rows linked in the index into persons, and timelines.

Each hospital gives a patient its own Patient ID, so one human being appears as several patient
rows. The library proposes that patients with the same name (ignoring the order of its parts,
case, accents and DICOM ``^`` formatting) and the same birth date are one person; the user
confirms (:func:`merge`) or rejects (:func:`reject`). A merge is a row in ``person_links`` and
nothing else: no stored file is rewritten, and :func:`split` undoes it exactly.

The queries (:func:`persons`, :func:`proposals`, :func:`timeline`) read; the writers run under
the library's writer lock (the ``Library`` methods take it).
"""

from __future__ import annotations

import re
import sqlite3
import time
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

from ownscan.core.library._model import (
    LibraryError,
    MergeProposal,
    Patient,
    Person,
    TimelineEntry,
)

__all__ = [
    "fill_institutions",
    "merge",
    "name_key",
    "person",
    "persons",
    "proposals",
    "read_institution",
    "reject",
    "split",
    "timeline",
]

# modalities of series that are not images of the body (left out of a timeline's modalities)
_NOT_IMAGES = frozenset({"SR", "DOC", "KO", "PR", "REG", "SEG", "RWV", "PLAN", "OT"})
_SEPARATORS = re.compile(r"[\s,.\-_/]+")


def name_key(name: str) -> str:
    """The comparable form of a person's name: its words, accents removed, case folded,
    sorted.

    DICOM writes ``FAMILY^GIVEN^MIDDLE^PREFIX^SUFFIX``, optionally followed by ``=`` and
    ideographic and phonetic forms; the alphabetic form's family, given and middle names
    count (a title such as ``Dr`` in the prefix does not). ``"Doe^Jane"``, ``"JANE DOE"`` and
    ``"Dóe^Jane^"`` give the same key; an empty name gives ``""`` (never proposed).
    """
    alphabetic = name.split("=", 1)[0]
    parts = alphabetic.split("^")[:3]
    words: list[str] = []
    for part in parts:
        decomposed = unicodedata.normalize("NFKD", part)
        plain = "".join(c for c in decomposed if not unicodedata.combining(c))
        plain = plain.replace("'", "").replace("\u2019", "").casefold()
        words.extend(w for w in _SEPARATORS.split(plain) if w)
    return " ".join(sorted(words))


def _groups(conn: sqlite3.Connection, keys: Iterable[int]) -> dict[int, list[int]]:
    """person group of each patient key: the keys of every patient linked with it (itself
    alone when unlinked or when its person has no other patient left)."""
    links: dict[int, list[int]] = defaultdict(list)
    person_of: dict[int, int] = {}
    for patient_key, person_key in conn.execute(
        "SELECT patient_key, person_key FROM person_links ORDER BY patient_key"
    ):
        links[person_key].append(patient_key)
        person_of[patient_key] = person_key
    out: dict[int, list[int]] = {}
    for k in keys:
        members = links.get(person_of.get(k, -1), [])
        out[k] = sorted(members) if len(members) > 1 else [k]
    return out


def persons(
    conn: sqlite3.Connection,
    all_patients: list[Patient],
    institutions_of: Callable[[int], list[str]],
) -> list[Person]:
    """Every person: linked groups and single patients, by the first patient's name.

    ``institutions_of(patient_key)`` gives the hospitals of one patient's series.
    """
    by_key = {p.key: p for p in all_patients}
    groups = _groups(conn, by_key)
    seen: set[int] = set()
    out: list[Person] = []
    for key in sorted(by_key):
        if key in seen:
            continue
        members = [k for k in groups[key] if k in by_key]
        seen.update(members)
        out.append(_person(conn, [by_key[k] for k in members], institutions_of))
    out.sort(key=lambda p: (p.patients[0].name.casefold(), p.key))
    return out


def _person(
    conn: sqlite3.Connection, members: list[Patient], institutions_of: Callable[[int], list[str]]
) -> Person:
    keys = [p.key for p in members]
    marks = ",".join("?" * len(keys))
    first, last = conn.execute(
        f"SELECT min(nullif(date, '')), max(nullif(date, '')) FROM studies "
        f"WHERE patient_key IN ({marks})",
        keys,
    ).fetchone()
    places: dict[str, None] = {}
    for k in keys:
        places.update(dict.fromkeys(institutions_of(k)))
    return Person(
        key=min(keys),
        patients=tuple(members),
        linked=len(members) > 1,
        institutions=tuple(places),
        studies=sum(p.studies for p in members),
        first_date=first or "",
        last_date=last or "",
    )


def person(
    conn: sqlite3.Connection,
    all_patients: list[Patient],
    patient_key: int,
    institutions_of: Callable[[int], list[str]],
) -> Person:
    """The person that patient ``patient_key`` belongs to."""
    by_key = {p.key: p for p in all_patients}
    if patient_key not in by_key:
        raise LibraryError(f"no patient {patient_key} in the library")
    members = [k for k in _groups(conn, [patient_key])[patient_key] if k in by_key]
    return _person(conn, [by_key[k] for k in members], institutions_of)


def proposals(conn: sqlite3.Connection, all_patients: list[Patient]) -> list[MergeProposal]:
    """Pairs of persons with the same name key and birth date, not yet merged and not
    rejected by the user (no rejected pair between their patients)."""
    by_key = {p.key: p for p in all_patients}
    groups = _groups(conn, by_key)
    rejected = {
        (a, b) for a, b in conn.execute("SELECT patient_a, patient_b FROM person_rejections")
    }
    # one entry per person: (its patients, the (name key, birth date) of each of them)
    candidates: dict[tuple[str, str], list[tuple[int, ...]]] = defaultdict(list)
    for key in sorted(by_key):
        members = tuple(k for k in groups[key] if k in by_key)
        if min(members) != key:
            continue
        for identity in dict.fromkeys(
            (name_key(by_key[k].name), by_key[k].birth_date) for k in members
        ):
            if identity[0] and identity[1]:
                candidates[identity].append(members)
    out: list[MergeProposal] = []
    done: set[tuple[int, int]] = set()
    for (key_text, birth), found in sorted(candidates.items()):
        for i, a in enumerate(found):
            for b in found[i + 1 :]:
                pair = (min(a), min(b))
                if pair in done or any((min(x, y), max(x, y)) in rejected for x in a for y in b):
                    continue
                done.add(pair)
                out.append(
                    MergeProposal(
                        person_keys=pair,
                        patient_keys=(a, b),
                        name_key=key_text,
                        birth_date=birth,
                        reason=f"same name ({key_text}) and birth date ({birth})",
                    )
                )
    return out


def merge(conn: sqlite3.Connection, patient_keys: Iterable[int]) -> int:
    """Link the persons of these patients into one; return the person's key (its lowest
    patient key). Rejections between them are forgotten (the user changed their mind)."""
    keys = sorted(set(patient_keys))
    _require_patients(conn, keys)
    if len(keys) < 2:
        raise LibraryError("merging needs two or more patients")
    groups = _groups(conn, keys)
    every = sorted({m for k in keys for m in groups[k]})
    if all(set(groups[k]) == set(groups[keys[0]]) for k in keys):
        raise LibraryError(f"patients {', '.join(map(str, keys))} are already one person")
    marks = ",".join("?" * len(every))
    existing = [
        r[0]
        for r in conn.execute(
            f"SELECT DISTINCT person_key FROM person_links WHERE patient_key IN ({marks}) "
            "ORDER BY person_key",
            every,
        )
    ]
    conn.execute("BEGIN IMMEDIATE")
    try:
        if existing:
            target = existing[0]
        else:
            cur = conn.execute(
                "INSERT INTO persons (created) VALUES (?)", (time.strftime("%Y-%m-%dT%H:%M:%S%z"),)
            )
            target = int(cur.lastrowid or 0)
        conn.executemany(
            "INSERT OR REPLACE INTO person_links (patient_key, person_key) VALUES (?, ?)",
            [(k, target) for k in every],
        )
        for old in existing[1:]:
            conn.execute("DELETE FROM persons WHERE key = ?", (old,))
        conn.execute(
            f"DELETE FROM person_rejections WHERE patient_a IN ({marks}) "
            f"AND patient_b IN ({marks})",
            every + every,
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return every[0]


def split(conn: sqlite3.Connection, patient_key: int) -> None:
    """Take one patient out of its person (undoing a merge); a person left with one patient
    is no longer a link at all."""
    _require_patients(conn, [patient_key])
    row = conn.execute(
        "SELECT person_key FROM person_links WHERE patient_key = ?", (patient_key,)
    ).fetchone()
    if row is None or len(_groups(conn, [patient_key])[patient_key]) < 2:
        raise LibraryError(f"patient {patient_key} is not merged with anyone")
    person_key = int(row[0])
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("DELETE FROM person_links WHERE patient_key = ?", (patient_key,))
        left = conn.execute(
            "SELECT count(*) FROM person_links WHERE person_key = ?", (person_key,)
        ).fetchone()[0]
        if left < 2:
            conn.execute("DELETE FROM persons WHERE key = ?", (person_key,))  # links cascade
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def reject(conn: sqlite3.Connection, a: int, b: int) -> None:
    """Remember that the persons of patients ``a`` and ``b`` are not one (never proposed
    again; :func:`merge` still can join them if the user asks)."""
    _require_patients(conn, [a, b])
    if set(_groups(conn, [a])[a]) == set(_groups(conn, [b])[b]):
        raise LibraryError(f"patients {a} and {b} are one person; split them first")
    ga, gb = _groups(conn, [a])[a], _groups(conn, [b])[b]
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(
            "INSERT OR IGNORE INTO person_rejections (patient_a, patient_b) VALUES (?, ?)",
            [(min(x, y), max(x, y)) for x in ga for y in gb],
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _require_patients(conn: sqlite3.Connection, keys: Iterable[int]) -> None:
    for k in keys:
        if conn.execute("SELECT 1 FROM patients WHERE key = ?", (k,)).fetchone() is None:
            raise LibraryError(f"no patient {k} in the library (see `ownscan person`)")


def timeline(
    conn: sqlite3.Connection,
    patient_keys: list[int],
    institution_of: Callable[[str, str | None], str],
) -> list[TimelineEntry]:
    """Every study of these patients, oldest first (studies without a date last).

    ``institution_of(series_uid, stored)`` gives a series' hospital (``stored`` is the
    index's value, None when not known yet).
    """
    marks = ",".join("?" * len(patient_keys))
    rows = conn.execute(
        f"""SELECT st.study_uid, st.patient_key, p.patient_id, p.name, st.date, st.time,
             st.description
           FROM studies st JOIN patients p ON p.key = st.patient_key
           WHERE st.patient_key IN ({marks})
           ORDER BY st.date = '', st.date, st.time, st.study_uid""",
        patient_keys,
    ).fetchall()
    out: list[TimelineEntry] = []
    for study_uid, pkey, pid, name, date, tm, description in rows:
        modalities: dict[str, None] = {}
        body_parts: dict[str, None] = {}
        places: dict[str, None] = {}
        n_series = images = marked = 0
        for series_uid, modality, body_part, stored, count in conn.execute(
            """SELECT se.series_uid, se.modality, se.body_part, se.institution,
                 (SELECT count(*) FROM instances i WHERE i.series_uid = se.series_uid)
               FROM series se WHERE se.study_uid = ? ORDER BY se.number, se.series_uid""",
            (study_uid,),
        ):
            n_series += 1
            place = institution_of(series_uid, stored)
            if place:
                places[place] = None
            if modality in ("KO", "PR"):
                marked += count
            if modality in _NOT_IMAGES:
                continue
            images += count
            if modality:
                modalities[modality] = None
            if body_part:
                body_parts[body_part.upper()] = None
        out.append(
            TimelineEntry(
                date=date,
                time=tm,
                study_uid=study_uid,
                patient_key=pkey,
                patient_id=pid,
                patient_name=name,
                description=description,
                modalities=tuple(modalities),
                body_parts=tuple(body_parts),
                institutions=tuple(places),
                series=n_series,
                images=images,
                reports=_reports(conn, study_uid),
                marked=marked,
            )
        )
    return out


_ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
_KEY_OBJECT_SELECTION = "1.2.840.10008.5.1.4.1.1.88.59"


def _reports(conn: sqlite3.Connection, study_uid: str) -> int:
    """Reports kept with a study: PDF files, encapsulated PDFs and SRs (a Key Object
    Selection, though an SR class, is a selection of images, not a report)."""
    row = conn.execute(
        """SELECT (SELECT count(*) FROM documents WHERE study_uid = ?)
             + (SELECT count(*) FROM instances i JOIN series se USING (series_uid)
                WHERE se.study_uid = ? AND (i.sop_class_uid = ?
                  OR (substr(i.sop_class_uid, 1, 27) = '1.2.840.10008.5.1.4.1.1.88.'
                      AND i.sop_class_uid != ?)))""",
        (study_uid, study_uid, _ENCAPSULATED_PDF, _KEY_OBJECT_SELECTION),
    ).fetchone()
    return int(row[0])


def read_institution(path: str | Path) -> str:
    """The Institution Name written in one stored file ("" when it has none)."""
    import pydicom

    from ownscan.core.dicom import quiet_pydicom

    with quiet_pydicom():
        try:
            ds = pydicom.dcmread(
                path,
                stop_before_pixels=True,
                specific_tags=["SpecificCharacterSet", "InstitutionName"],
            )
            value = ds.get("InstitutionName", "") or ""
        except Exception:  # a damaged file: `ownscan check` reports it; no hospital known
            return ""
    return str(value).strip().replace("\x00", "")


def fill_institutions(conn: sqlite3.Connection, first_file: Callable[[str], str | None]) -> int:
    """Store the Institution Name of every series whose row predates schema version 3 (read
    from its first stored file); return how many rows were filled."""
    pending = [
        r[0] for r in conn.execute("SELECT series_uid FROM series WHERE institution IS NULL")
    ]
    if not pending:
        return 0
    values = []
    for uid in pending:
        path = first_file(uid)
        values.append((read_institution(path) if path else "", uid))
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(
            "UPDATE series SET institution = ? WHERE series_uid = ? AND institution IS NULL",
            values,
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return len(values)
