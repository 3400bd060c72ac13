"""Keeping the library whole: remove, check, repair (adopt orphans), finish what a crash left.

Each function here works on an open :class:`~ownscan.core.library._library.Library` whose
writer's lock the caller holds (``Library.remove`` and ``Library.check`` take it).

Removal runs the other way round from an import: in one transaction the rows go and the files
to delete are written to ``pending_deletes``; the files are unlinked after the commit, and
whatever a crash left in ``pending_deletes`` is finished by the next writer (:func:`recover`).
So no file that the index names is ever missing, and an orphan is always something to adopt,
never something removed half-way.

:func:`check` holds the index against the files. What an interrupted import or removal leaves
(orphans, partial files in ``tmp/``, files of a committed removal) is expected and harmless:
``check`` sets it right itself (orphans adopted by importing them again, :func:`adopt`) and
reports it as information (``CheckProblem.info``); real damage (missing or damaged files, an
orphan whose content is not its name, a damaged index, wrong permissions) is a problem, left
for ``repair`` where repairing is safe.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ownscan.core.library._model import (
    CONFLICT,
    DOCUMENT,
    DUPLICATE,
    IMPORTED,
    SKIPPED,
    CheckProblem,
    CheckReport,
    ItemResult,
    LibraryError,
    RemoveResult,
)
from ownscan.core.library._store import FILE_MODE, make_private_dir
from ownscan.core.plugin_types import DICOM, SourceItem

if TYPE_CHECKING:
    from ownscan.core.library._library import Library

__all__ = ["adopt", "check", "drop_empty_parents", "recover", "remove"]


def recover(lib: Library) -> list[CheckProblem]:
    """Finish what a crash interrupted (writer's lock held): partial files, removals."""
    problems: list[CheckProblem] = []
    if lib.store.tmp.is_dir():
        for p in sorted(lib.store.tmp.iterdir()):
            p.unlink(missing_ok=True)
            problems.append(
                CheckProblem(
                    "partial",
                    lib.store.relative(p),
                    "incomplete file of an interrupted write; removed",
                    True,
                )
            )
    for (rel,) in lib.conn.execute("SELECT path FROM pending_deletes").fetchall():
        (lib.root / rel).unlink(missing_ok=True)
        problems.append(
            CheckProblem("unfinished-removal", rel, "file of a removed series; deleted", True)
        )
    if problems:
        lib.conn.execute("DELETE FROM pending_deletes")
    return problems


def remove(
    lib: Library, series_uid: str | None, study_uid: str | None, patient_key: int | None
) -> RemoveResult:
    """:meth:`Library.remove`: rows out and files listed in ``pending_deletes`` in one
    transaction, then the files unlinked."""
    recover(lib)
    conn = lib.conn
    if series_uid is not None:
        series = [series_uid] if lib._exists("series", "series_uid", series_uid) else []
        studies: list[str] = []
        if not series:
            raise LibraryError(f"{lib.root}: no series {series_uid} in the library")
    else:
        if study_uid is not None:
            studies = [study_uid] if lib._exists("studies", "study_uid", study_uid) else []
            if not studies:
                raise LibraryError(f"{lib.root}: no study {study_uid} in the library")
        else:
            studies = [
                r[0]
                for r in conn.execute(
                    "SELECT study_uid FROM studies WHERE patient_key = ?", (patient_key,)
                )
            ]
            if not studies and not lib._exists("patients", "key", patient_key):
                raise LibraryError(f"{lib.root}: no patient #{patient_key} in the library")
        series = [
            r[0]
            for st in studies
            for r in conn.execute("SELECT series_uid FROM series WHERE study_uid = ?", (st,))
        ]
    conn.execute("BEGIN IMMEDIATE")
    try:
        paths: list[str] = []
        n_inst = size = n_docs = 0
        for se in series:
            for sop, sha, sz in conn.execute(
                "SELECT sop_instance_uid, sha256, size FROM instances WHERE series_uid = ?",
                (se,),
            ).fetchall():
                paths.append(lib.store.relative(lib.store.object_path(sha)))
                n_inst += 1
                size += sz
                for (csha,) in conn.execute(
                    "SELECT sha256 FROM conflicts WHERE sop_instance_uid = ?", (sop,)
                ).fetchall():
                    paths.append(lib.store.relative(lib.store.conflict_path(csha)))
                conn.execute("DELETE FROM conflicts WHERE sop_instance_uid = ?", (sop,))
            conn.execute("DELETE FROM instances WHERE series_uid = ?", (se,))
            conn.execute("DELETE FROM series WHERE series_uid = ?", (se,))
        for st in studies:
            for sha, sz in conn.execute(
                "SELECT sha256, size FROM documents WHERE study_uid = ?", (st,)
            ).fetchall():
                paths.append(lib.store.relative(lib.store.object_path(sha)))
                n_docs += 1
                size += sz
            conn.execute("DELETE FROM documents WHERE study_uid = ?", (st,))
        drop_empty_parents(lib)
        conn.executemany(
            "INSERT OR IGNORE INTO pending_deletes (path) VALUES (?)", [(p,) for p in paths]
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    for rel in paths:
        (lib.root / rel).unlink(missing_ok=True)
    conn.execute("DELETE FROM pending_deletes")
    return RemoveResult(len(series), n_inst, n_docs, size)


def drop_empty_parents(lib: Library) -> int:
    """Drop series without instances, studies without series or documents, patients without
    studies (inside the caller's transaction); return how many rows went."""
    n = lib.conn.execute(
        "DELETE FROM series WHERE series_uid NOT IN (SELECT series_uid FROM instances)"
    ).rowcount
    n += lib.conn.execute(
        """DELETE FROM studies WHERE study_uid NOT IN (SELECT study_uid FROM series)
           AND study_uid NOT IN (SELECT study_uid FROM documents
                                 WHERE study_uid IS NOT NULL)"""
    ).rowcount
    n += lib.conn.execute(
        "DELETE FROM patients WHERE key NOT IN (SELECT patient_key FROM studies)"
    ).rowcount
    return int(n)


def check(
    lib: Library, repair: bool, verify_hashes: bool, progress: Callable[[int], None] | None
) -> CheckReport:
    """:meth:`Library.check`: the index against the files, repaired where safe."""
    rep = CheckReport()
    conn = lib.conn
    problems = rep.problems
    ok = conn.execute("PRAGMA quick_check").fetchone()[0]
    if ok != "ok":
        problems.append(CheckProblem("index", "index.sqlite", f"index damaged: {ok}"))
        return rep
    # what a killed import or removal leaves (partial files in tmp/, files of a committed
    # removal) is expected: the writer's lock is held, so no import is running, and
    # finishing it loses nothing; said as information
    problems.extend(_informed(recover(lib)))
    # rows -> files
    expected: dict[str, tuple[int, str]] = {}
    for sha, size in conn.execute("SELECT sha256, size FROM instances"):
        expected[lib.store.relative(lib.store.object_path(sha))] = (size, sha)
        rep.instances += 1
    for sha, size in conn.execute("SELECT sha256, size FROM documents"):
        expected[lib.store.relative(lib.store.object_path(sha))] = (size, sha)
        rep.documents += 1
    for sha, size in conn.execute("SELECT sha256, size FROM conflicts"):
        expected[lib.store.relative(lib.store.conflict_path(sha))] = (size, sha)
    for rel, (size, sha) in sorted(expected.items()):
        path = lib.root / rel
        try:
            st = path.stat()
        except FileNotFoundError:
            problems.append(
                CheckProblem(
                    "missing",
                    rel,
                    "indexed file is missing; import its source again to restore it, "
                    "or remove its series",
                )
            )
            continue
        rep.files_checked += 1
        damaged = st.st_size != size
        if not damaged and verify_hashes:
            damaged = _sha256_file(path) != sha
        if progress is not None:
            progress(st.st_size)
        if damaged:
            msg = "file content does not match the index (damaged on disk)"
            if repair:
                dest = lib.root / "damaged" / path.name
                make_private_dir(dest.parent)
                os.replace(path, dest)
                msg += f"; moved to damaged/{path.name}: import its source again to restore it"
            problems.append(CheckProblem("damaged", rel, msg))
        if st.st_mode & 0o777 != FILE_MODE:
            if repair and not damaged:
                path.chmod(FILE_MODE)
            problems.append(
                CheckProblem(
                    "permissions", rel, f"mode {st.st_mode & 0o777:o}, expected 600", repair
                )
            )
    # files -> rows
    orphans: list[Path] = []
    for path in _walk_files(lib.store.objects, lib.store.conflicts):
        rel = lib.store.relative(path)
        if rel in expected:
            continue
        if not (len(path.name) == 64 and set(path.name) <= _SHA_HEX):
            problems.append(CheckProblem("unknown", rel, "file not made by ownscan; left alone"))
            continue
        orphans.append(path)
    if orphans:
        adopted = adopt(lib, orphans, repair)
        problems.extend(adopted)
        # the counts say what the library holds now, the adopted files (read whole) included
        rep.files_checked += sum(p.info for p in adopted)
        rep.instances = conn.execute("SELECT count(*) FROM instances").fetchone()[0]
        rep.documents = conn.execute("SELECT count(*) FROM documents").fetchone()[0]
    # folders' permissions
    for d in _walk_dirs(lib.root):
        mode = d.stat().st_mode & 0o777
        if mode != 0o700:
            if repair:
                d.chmod(0o700)
            problems.append(
                CheckProblem(
                    "permissions",
                    lib.store.relative(d) if d != lib.root else ".",
                    f"folder mode {mode:o}, expected 700",
                    repair,
                )
            )
    # empty parents, dangling references
    empty = conn.execute(
        """SELECT (SELECT count(*) FROM series WHERE series_uid NOT IN
                    (SELECT series_uid FROM instances)),
                  (SELECT count(*) FROM patients WHERE key NOT IN
                    (SELECT patient_key FROM studies))"""
    ).fetchone()
    if empty[0] or empty[1]:
        if repair:
            conn.execute("BEGIN IMMEDIATE")
            drop_empty_parents(lib)
            conn.execute("COMMIT")
        problems.append(
            CheckProblem(
                "empty",
                "index.sqlite",
                f"{empty[0]} empty series, {empty[1]} patients without studies",
                repair,
            )
        )
    for row in conn.execute("PRAGMA foreign_key_check"):
        problems.append(
            CheckProblem("index", "index.sqlite", f"dangling reference in table {row[0]}")
        )
    return rep


def _informed(problems: list[CheckProblem]) -> list[CheckProblem]:
    return [dataclasses.replace(p, info=True) for p in problems]


def adopt(lib: Library, orphans: list[Path], repair: bool) -> list[CheckProblem]:
    """Index orphan files (a file named by its sha256 without an index row: an import killed
    between writing its files and committing their rows) by importing them again, PDFs apart
    so that none is linked to the study of the orphans beside it; reported as information.

    An orphan whose content does not match its name is damage, not an interruption (files
    appear under their name only once complete): reported, and removed with ``repair``.

    Adopting here rather than at the next import: an import would have to read every orphan
    first, whatever it imports (a killed import of 10 GB: 10 GB read before the next small
    one), while ``check`` walks the files anyway. An import that brings the same files again
    adopts them as it goes (their files are already there and are not written again).
    """
    problems: list[CheckProblem] = []
    items: list[SourceItem] = []
    for p in orphans:
        rel = lib.store.relative(p)
        data = p.read_bytes()
        if hashlib.sha256(data).hexdigest() != p.name:
            if repair:
                p.unlink()
            problems.append(
                CheckProblem(
                    "orphan",
                    rel,
                    "unindexed file whose content does not match its name"
                    + ("; removed" if repair else " (repair removes it)"),
                    repair,
                )
            )
            continue
        media = DICOM
        if data.startswith(b"%PDF-"):
            media = "application/pdf"
        items.append(SourceItem(origin=rel, path=p, media_type=media))
    # documents apart: an orphan PDF must not be linked to whatever study the orphan
    # instances beside it happen to belong to
    results: list[ItemResult] = []
    for group in (
        [i for i in items if i.media_type == DICOM],
        [i for i in items if i.media_type != DICOM],
    ):
        if group:
            results += lib._import(iter(group), None, [_ADOPTER]).results
    left = "left by an interrupted import"
    for r in results:
        path = lib.root / r.origin
        if r.status in (IMPORTED, DOCUMENT, CONFLICT):
            if r.status == IMPORTED and path.parent == lib.store.conflicts:
                path.unlink()  # its UID is no longer held: now an ordinary instance
            problems.append(
                CheckProblem("orphan", r.origin, f"{left}; adopted ({r.status})", True, True)
            )
        elif r.status == DUPLICATE and path.parent == lib.store.conflicts:
            path.unlink()
            problems.append(
                CheckProblem("orphan", r.origin, f"{left}; same as the held file", True, True)
            )
        elif r.status == SKIPPED:
            # neither DICOM nor PDF: keep it as a document rather than lose it
            rel_item = SourceItem(origin=r.origin, path=path, media_type="application/octet-stream")
            lib._import(iter([rel_item]), None, [_ADOPTER])
            problems.append(
                CheckProblem(
                    "orphan", r.origin, f"{left}; adopted as a document (not DICOM)", True, True
                )
            )
        else:
            problems.append(CheckProblem("orphan", r.origin, f"could not adopt: {r.reason}"))
    return problems


_ADOPTER = "ownscan check (orphans adopted)"
_SHA_HEX = frozenset("0123456789abcdef")


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _walk_files(*roots: Path) -> Iterator[Path]:
    for root in roots:
        if not root.is_dir():
            continue
        for dirpath, _dirs, files in os.walk(root):
            for name in sorted(files):
                yield Path(dirpath) / name


def _walk_dirs(root: Path) -> Iterator[Path]:
    yield root
    for dirpath, dirs, _files in os.walk(root):
        for d in dirs:
            yield Path(dirpath) / d
