"""The private local library: :func:`open_library` and :class:`Library`, its public face.

``Library`` is assembled from three parts, each in its own module:

* ``_index.Index``: the queries (patients, studies, series, instances, documents, conflicts,
  ``resolve_*``, ``load_volume``), read-only, at any time;
* ``_import.ImportSession``: one import (batches, the hand-off to ``_worker`` processes, the
  decisions, the commits) and why an interrupted import cannot damage the library;
* ``_maintenance``: remove, check, repair (adopting orphans) and finishing what a crash left.

This module opens the index (WAL, migrations), holds the writer's lock around every write and
keeps the import's tunables (``batch_files``, ``processes``...). docs/library.md tells the
whole story.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ownscan.core.library import _maintenance, _persons, _stacks
from ownscan.core.library._ahead import copier_count
from ownscan.core.library._import import ImportSession
from ownscan.core.library._index import Index
from ownscan.core.library._model import (
    CheckReport,
    ImportReport,
    ItemResult,
    LibraryError,
    Person,
    RemoveResult,
    Series,
    TimelineEntry,
)
from ownscan.core.library._schema import SchemaTooNew, migrate
from ownscan.core.library._store import FILE_MODE, LibraryBusy, Store
from ownscan.core.library._worker import worker_count
from ownscan.core.plugin_types import SourceItem

__all__ = [
    "ENV_VAR",
    "Library",
    "LibraryError",
    "RemoveResult",
    "default_location",
    "open_library",
]

ENV_VAR = "OWNSCAN_LIBRARY"


# LibraryBusy and SchemaTooNew are raised as LibraryError subclasses for callers' convenience.
class _Busy(LibraryError, LibraryBusy):
    pass


def default_location() -> Path:
    """Where the library lives when no path is given: ``$OWNSCAN_LIBRARY``, else the user data
    directory (``platformdirs.user_data_path("ownscan") / "library"``)."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return platformdirs.user_data_path("ownscan", appauthor=False) / "library"


def open_library(
    path: str | os.PathLike[str] | None = None, *, create: bool = True, read_only: bool = False
) -> Library:
    """Open (by default creating) the library at ``path``, else at :func:`default_location`.

    Parameters
    ----------
    path
        The library folder. An existing folder that holds other files and no library index is
        refused, so that a typo never scatters files into an unrelated folder.
    create
        Make a new library if there is none (False: raise :class:`LibraryError` instead).
    read_only
        The caller only reads (list, info, render, export): a library that cannot be written
        (a read-only disc, share or folder) is then opened read-only (SQLite ``mode=ro``)
        instead of being refused with "the library is read-only"; nothing is ever created.

    Raises
    ------
    LibraryError
        Not a library, no library (``create=False``), read-only (``read_only=False``), or an
        index newer than this ownscan.
    """
    root = Path(path).expanduser() if path is not None else default_location()
    store = Store(root)
    if store.index.exists() and not _writable(store):
        if not read_only:
            raise LibraryError(
                f"{root}: the library is read-only (a read-only disc, share or folder); it "
                "can be listed and viewed, not changed"
            )
        return Library(store, read_only=True)
    if read_only:
        create = False  # a reader never makes a library; a writable one opens as always
    if not store.index.exists():
        if not create:
            raise LibraryError(f"{root}: no ownscan library here (run `ownscan import` first)")
        if root.exists() and not root.is_dir():
            raise LibraryError(f"{root}: is a file, not a library folder")
        if root.is_dir() and any(
            p.name not in _OWN_NAMES and not p.name.startswith("index.sqlite")
            for p in root.iterdir()
        ):
            raise LibraryError(
                f"{root}: folder holds other files and no ownscan library; "
                "give an empty or new folder"
            )
        store.create()
        fd = os.open(store.index, os.O_WRONLY | os.O_CREAT, FILE_MODE)
        os.close(fd)
    else:
        store.create()
    return Library(store)


def _open_read_only(store: Store) -> sqlite3.Connection:
    """The index opened for reading only: ``mode=ro``; on a read-only file system, where
    SQLite cannot make the WAL's shared-memory file, ``immutable=1`` (nobody can be writing
    there)."""
    from urllib.parse import quote

    uri = "file:" + quote(str(store.index.absolute()))
    error: Exception | None = None
    for query in ("?mode=ro", "?mode=ro&immutable=1"):
        conn = sqlite3.connect(uri + query, uri=True, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA user_version").fetchone()
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.DatabaseError as exc:
            conn.close()
            error = exc
    raise LibraryError(f"{store.index}: cannot open the library index for reading ({error})")


def _writable(store: Store) -> bool:
    """Whether the library's folder and index can be written (``access`` also says no for root
    on a read-only file system)."""
    return os.access(store.root, os.W_OK) and os.access(store.index, os.W_OK)


# serve/: the private folder of `ownscan serve` (thumbnails, staged uploads)
_OWN_NAMES = frozenset({"index.sqlite", "objects", "conflicts", "tmp", "lock", "damaged", "serve"})


class Library(Index):
    """A private local library of DICOM instances and documents. Use :func:`open_library`.

    The query methods return plain dataclasses and may be called at any time (SQLite WAL lets
    readers go on while an import writes). Writing methods (:meth:`import_items`,
    :meth:`remove`, :meth:`check` with ``repair``) take the library's writer lock.
    """

    batch_files = 500
    batch_bytes = 256 * 1024 * 1024
    batch_seconds = 2.0
    writers = 4  # threads writing files (the kernel's file creation overlaps with parsing)
    # A large import hands reading, hashing, header parsing and writing to worker processes
    # (see _worker): this many, started once this many files with a path were handled here
    # (which goes on while they start), in chunks of this many files. 0 processes: everything
    # in this process.
    processes = worker_count()
    parallel_after = 200
    chunk_files = 32
    # files of at least copy_ahead_size bytes are copied into the library, hashed and parsed
    # by this many threads instead (_ahead: kernel copies, no GIL in hashing), at most
    # copy_ahead_bytes of them at once; 0 copiers: none
    copiers = copier_count()
    copy_ahead_size = 256 * 1024
    copy_ahead_bytes = 64 * 1024 * 1024
    lock_wait = 5.0  # seconds to wait for another writer before raising "busy"

    def __init__(self, store: Store, *, read_only: bool = False) -> None:
        self.read_only = read_only
        self._session: ImportSession | None = None  # the import running now
        if read_only:
            conn = _open_read_only(store)
            super().__init__(store, conn)
            found = int(conn.execute("PRAGMA user_version").fetchone()[0])
            # version 3 is read as it is (no recorded stacks, registrations of stack 1),
            # since a read-only library cannot be upgraded; older ones lack more
            self.schema = found
            if found not in (3, len(_migrations())):
                conn.close()
                raise LibraryError(
                    f"{store.index}: this library's index is of another ownscan version; open "
                    "it once where it can be written (e.g. `ownscan list` on a writable copy)"
                )
            self.durable = True
            return
        # an importer may ask has_instance() from its worker threads; SQLite serialises the
        # calls (its default threading mode), so the connection need not be bound to a thread
        conn = sqlite3.connect(
            store.index, isolation_level=None, timeout=30.0, check_same_thread=False
        )
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise LibraryError(
                f"{store.index}: cannot open the library index ({exc}); the files under "
                f"{store.objects} are intact, move the index aside and run `ownscan check "
                "--repair` to rebuild it from them"
            ) from exc
        super().__init__(store, conn)
        try:
            if int(conn.execute("PRAGMA user_version").fetchone()[0]) < len(_migrations()):
                self._locked(lambda: migrate(conn))
            else:
                migrate(conn)  # raises when the index is too new
        except SchemaTooNew as exc:
            conn.close()
            raise LibraryError(f"{store.index}: {exc}") from exc
        self.durable = True

    # -- lifetime ------------------------------------------------------------------------------
    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Library({str(self.root)!r})"

    def _locked(self, fn: Callable[[], Any]) -> Any:
        if self.read_only:
            raise LibraryError(f"{self.root}: the library is read-only (opened for reading)")
        try:
            self.store.lock(self.lock_wait)
        except LibraryBusy as exc:
            raise _Busy(str(exc)) from None
        try:
            return fn()
        finally:
            self.store.unlock()

    # -- import --------------------------------------------------------------------------------
    def import_items(
        self,
        items: Iterable[SourceItem],
        *,
        report: Callable[[ItemResult], None] | None = None,
        sources: Iterable[str] = (),
    ) -> ImportReport:
        """Store and index every item; return what happened to each.

        Parameters
        ----------
        items
            What an importer yielded (``SourceItem``). Items with ``problem`` are reported as
            failed; non-DICOM media types (``application/pdf``) are stored as documents.
        report
            Called with each item's :class:`ItemResult` as soon as it is known (progress).
        sources
            The sources the items come from, recorded with the import.

        Raises
        ------
        LibraryError
            The library is busy, or writing failed (disk full...). Everything committed before
            stays; the library is consistent and re-running the import completes it.
        """
        return self._locked(lambda: self._import(items, report, list(sources)))

    def _import(
        self,
        items: Iterable[SourceItem],
        report: Callable[[ItemResult], None] | None,
        sources: list[str],
    ) -> ImportReport:
        """One import, the writer's lock held: finish what a crash left, then a session."""
        _maintenance.recover(self)
        self._session = ImportSession(self)
        try:
            rep = self._session.run(items, report, sources)
        finally:
            self._session = None
        # each series' stacks, so that a list shows a series of several stacks stack by stack
        # without reading a file (an import cut short leaves them to the first list: _stacks);
        # the same assembly gives each series' warnings to the report, so that the caller
        # (the CLI's import) says them without assembling the series again
        _stacks.fill(self, _stacks.touched(self, rep.import_id), rep.series_warnings)
        return rep

    # -- remove --------------------------------------------------------------------------------
    def remove(
        self,
        *,
        series_uid: str | None = None,
        study_uid: str | None = None,
        patient_key: int | None = None,
    ) -> RemoveResult:
        """Remove one series, one study (with its documents) or one patient, files included.

        Exactly one of the arguments is given.
        """
        given = [x for x in (series_uid, study_uid, patient_key) if x is not None]
        if len(given) != 1:
            raise ValueError("remove: give exactly one of series_uid, study_uid, patient_key")
        return self._locked(lambda: _maintenance.remove(self, series_uid, study_uid, patient_key))

    # -- check ---------------------------------------------------------------------------------
    def check(
        self,
        repair: bool = False,
        *,
        verify_hashes: bool = True,
        progress: Callable[[int], None] | None = None,
    ) -> CheckReport:
        """Verify the index against the files; with ``repair``, fix what can be fixed safely.

        What an interrupted import or removal leaves is expected and set right by the check
        itself, reported with ``info`` set: partial files of interrupted writes and files of
        unfinished removals (deleted), orphan files without a row (adopted into the index).
        Problems (real damage): indexed files that are missing or damaged (not repairable:
        re-import the source, or remove the series; repair moves a damaged file to
        ``damaged/`` so a re-import restores it), an orphan whose content is not its name
        (repair: delete), wrong permissions (repair: 0700/0600), empty
        series/studies/patients (repair: drop) and a damaged index.

        Parameters
        ----------
        repair
            Fix what is safe to fix.
        verify_hashes
            Re-hash every file (slower); otherwise only presence and size are checked.
        progress
            Called with the number of bytes of each file checked.
        """
        return self._locked(lambda: _maintenance.check(self, repair, verify_hashes, progress))

    # -- registrations -------------------------------------------------------------------------
    def store_registration(
        self,
        prior_series_uid: str,
        current_series_uid: str,
        method: str,
        matrix: Sequence[Sequence[float]],
        *,
        metric: float | None = None,
        quality: float | None = None,
        overlap: float | None = None,
        details: Mapping[str, Any] | None = None,
        prior_stack: int = 1,
        current_stack: int = 1,
    ) -> None:
        """Keep a registration of two library series (replacing one of the same method).

        Parameters
        ----------
        prior_series_uid, current_series_uid
            The two series; both must be in the library.
        prior_stack, current_stack
            Which stack (from 1) of a series of several stacks was registered (1 for a
            one-stack series).
        method
            The method's name with its version (``ownscan.core.compare.RIGID_METHOD``).
        matrix
            4x4, current LPS mm -> prior LPS mm.
        metric, quality, overlap, details
            What the method measured (``details``: anything JSON can hold).
        """
        rows = [[float(v) for v in row] for row in matrix]
        if len(rows) != 4 or any(len(r) != 4 for r in rows):
            raise ValueError(f"a registration matrix is 4x4, got {rows!r}")
        for uid in (prior_series_uid, current_series_uid):
            if not self._exists("series", "series_uid", uid):
                raise LibraryError(f"{self.root}: no series {uid} in the library")

        def write() -> None:
            self.conn.execute(
                """INSERT OR REPLACE INTO registrations (prior_series_uid, prior_stack,
                     current_series_uid, current_stack, method, prior_digest, current_digest,
                     matrix, metric, quality, overlap, details, created)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    prior_series_uid,
                    prior_stack,
                    current_series_uid,
                    current_stack,
                    method,
                    self.series_digest(prior_series_uid),
                    self.series_digest(current_series_uid),
                    json.dumps(rows),
                    metric,
                    quality,
                    overlap,
                    json.dumps(dict(details or {})),
                    time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                ),
            )

        self._locked(write)

    # -- persons -------------------------------------------------------------------------------
    def merge_persons(self, *patient_keys: int) -> Person:
        """Confirm that these patients (any patient of each person) are one person.

        Only the index changes (a link per patient); no stored file is rewritten, and
        :meth:`split_person` undoes it.

        Raises
        ------
        LibraryError
            An unknown patient key, fewer than two, or they are already one person.
        """
        key = self._locked(lambda: _persons.merge(self.conn, patient_keys))
        return self.person(key)

    def split_person(self, patient_key: int) -> None:
        """Take patient ``patient_key`` out of the person it was merged into (undoing the
        merge for it); a person left with one patient is no longer linked."""
        self._locked(lambda: _persons.split(self.conn, patient_key))

    def reject_person_merge(self, a: int, b: int) -> None:
        """Say that the persons of patients ``a`` and ``b`` are not one: the library stops
        proposing it (a later :meth:`merge_persons` still joins them)."""
        self._locked(lambda: _persons.reject(self.conn, a, b))

    def fill_institutions(self) -> int:
        """Store the hospital (Institution Name) of series indexed before schema version 3,
        read from their first stored file; return how many series were filled."""
        return int(self._locked(lambda: _persons.fill_institutions(self.conn, self._first_file)))

    def series(self, study_uid: str | None = None) -> list[Series]:
        found = super().series(study_uid)
        unknown = [s.series_uid for s in found if s.stacks is None]
        if unknown and self._fill_stacks_if_free(unknown):
            found = super().series(study_uid)
        return found

    def _fill_stacks_if_free(self, series_uids: list[str]) -> bool:
        """Record the stacks of series indexed before schema version 4 (or changed since),
        from their stored headers, once, when no other writer holds the library; True when
        done (until then they are listed as one entry each)."""
        if self.read_only:
            return False
        try:
            self.store.lock(0.0)
        except LibraryBusy:
            return False
        try:
            _stacks.fill(self, series_uids)
        finally:
            self.store.unlock()
        return True

    def persons(self) -> list[Person]:
        self._fill_if_free()
        return super().persons()

    def timeline(self, person: Person | int) -> list[TimelineEntry]:
        self._fill_if_free()
        return super().timeline(person)

    def _fill_if_free(self) -> None:
        """Fill missing hospitals once, when no other writer holds the library (the queries
        read them from the files meanwhile, so the answer is the same either way)."""
        if self.read_only:  # (the queries read them from the files)
            return
        if self.conn.execute("SELECT 1 FROM series WHERE institution IS NULL LIMIT 1").fetchone():
            try:
                self.store.lock(0.0)
            except LibraryBusy:
                return
            try:
                _persons.fill_institutions(self.conn, self._first_file)
            finally:
                self.store.unlock()


def _migrations() -> tuple[str, ...]:
    from ownscan.core.library._schema import MIGRATIONS

    return MIGRATIONS
