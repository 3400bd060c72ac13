"""The private local library: import, query, remove, check.

How an import stays consistent when it is interrupted
-----------------------------------------------------
Items are handled in batches. For each item the bytes are hashed (sha256) and the header is
read; a new instance's bytes are written as an unnamed file and linked as
``objects/ab/<sha256>`` when complete (or, where that cannot be done, written to ``tmp/`` and
renamed; see ``Store.write``). At the end of a batch the file system is synced once
(``syncfs``) and then one SQLite transaction adds the index rows of the whole batch. A kill at
any moment therefore leaves:

* before the link (rename): nothing, or a partial file in ``tmp/`` (removed by the next writer
  or by ``check``);
* after it, before the commit: a complete file without a row (an *orphan*). The next
  import of the same source finds the file already in place and only adds the row; ``check
  --repair`` adopts it (reads its header and indexes it);
* after the commit: the instance is in the library.

Removal runs the other way round: in one transaction the rows go and the files to delete are
written to ``pending_deletes``; the files are unlinked after the commit, and whatever a crash
left in ``pending_deletes`` is finished by the next writer. So no file that the index names is
ever missing, and an orphan is always something to adopt, never something removed half-way.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import itertools
import json
import os
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from ownscan.core.errors import OwnscanError
from ownscan.core.library._header import (
    Header,
    document_kind,
    is_document_class,
)
from ownscan.core.library._model import (
    CONFLICT,
    DOCUMENT,
    DUPLICATE,
    FAILED,
    IMPORTED,
    SKIPPED,
    CheckProblem,
    CheckReport,
    Conflict,
    Document,
    ImportReport,
    Instance,
    ItemResult,
    Patient,
    Series,
    Study,
)
from ownscan.core.library._schema import SchemaTooNew, migrate
from ownscan.core.library._store import FILE_MODE, LibraryBusy, Store, make_private_dir
from ownscan.core.library._worker import (
    SCAN_BIG,
    SCAN_FAILED,
    SCAN_SKIPPED,
    Scanned,
    Worker,
    WorkerDied,
    examine,
    worker_count,
)
from ownscan.core.plugin_types import DICOM, SourceItem

if TYPE_CHECKING:
    from ownscan.core.assembly import Assembly
    from ownscan.core.volume import Volume

__all__ = [
    "ENV_VAR",
    "Library",
    "LibraryError",
    "RemoveResult",
    "default_location",
    "open_library",
]

ENV_VAR = "OWNSCAN_LIBRARY"
_DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO}
_SHA_HEX = frozenset("0123456789abcdef")


class LibraryError(OwnscanError):
    """A library-level problem: not a library, busy, disk full, too new. One clear line.

    When an import stops on it, ``report`` holds what the import did until then.
    """

    report: ImportReport | None = None


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


def open_library(path: str | os.PathLike[str] | None = None, *, create: bool = True) -> Library:
    """Open (by default creating) the library at ``path``, else at :func:`default_location`.

    Parameters
    ----------
    path
        The library folder. An existing folder that holds other files and no library index is
        refused, so that a typo never scatters files into an unrelated folder.
    create
        Make a new library if there is none (False: raise :class:`LibraryError` instead).

    Raises
    ------
    LibraryError
        Not a library, no library (``create=False``), or an index newer than this ownscan.
    """
    root = Path(path).expanduser() if path is not None else default_location()
    store = Store(root)
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


# serve/: the private folder of `ownscan serve` (thumbnails, staged uploads)
_OWN_NAMES = frozenset({"index.sqlite", "objects", "conflicts", "tmp", "lock", "damaged", "serve"})


@dataclass(frozen=True)
class RemoveResult:
    """What :meth:`Library.remove` took out."""

    series: int
    instances: int
    documents: int
    size: int


@dataclass
class _Pending:
    """A batch: files written (renamed into place) whose rows are not yet committed."""

    instances: list[tuple[Header, str, int, str]] = field(default_factory=list)
    documents: list[tuple[str, str, str, int, str]] = field(default_factory=list)
    conflicts: list[tuple[str, str, str, int, str]] = field(default_factory=list)
    uids: dict[str, str] = field(default_factory=dict)
    doc_shas: set[str] = field(default_factory=set)
    conflict_shas: set[str] = field(default_factory=set)
    writes: list[tuple[Future[None], Path, str]] = field(default_factory=list)
    queued: set[Path] = field(default_factory=set)  # files being written for this batch
    failed_origins: list[tuple[str, str]] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    started: float = field(default_factory=time.monotonic)

    def __len__(self) -> int:
        return len(self.instances) + len(self.documents) + len(self.conflicts) + self.files

    def clear(self) -> None:
        """After the commit: nothing is pending any more (a second flush does nothing)."""
        self.instances.clear()
        self.documents.clear()
        self.conflicts.clear()
        self.writes.clear()
        self.queued.clear()
        self.files = self.bytes = 0


class Library:
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
    lock_wait = 5.0  # seconds to wait for another writer before raising "busy"

    def __init__(self, store: Store) -> None:
        self.store = store
        self.root = store.root
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
        self.conn = conn
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
        try:
            self.store.lock(self.lock_wait)
        except LibraryBusy as exc:
            raise _Busy(str(exc)) from None
        try:
            return fn()
        finally:
            self.store.unlock()

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
                 min(i.sop_class_uid), se.thumbnail
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

        ``origin`` names the stored file and where it was imported from.
        """
        items = self.instances(series_uid)
        if not items and not self._exists("series", "series_uid", series_uid):
            raise LibraryError(f"{self.root}: no series {series_uid} in the library")
        return [
            SourceItem(origin=f"{inst.path} (imported from {inst.origin})", path=Path(inst.path))
            for inst in items
        ]

    def assemble(self, series_uid: str) -> Assembly:
        """The series' stored files through series assembly (one or more stacks, warnings)."""
        from ownscan.core.assembly import assemble

        return assemble(self.series_items(series_uid))

    def load_volume(self, series_uid: str) -> Volume:
        """Assemble a series into a :class:`~ownscan.core.volume.Volume`.

        Raises
        ------
        LibraryError
            No such series, or it does not make one volume (e.g. it holds two stacks of
            different orientation: use :meth:`assemble` and choose).
        """
        from ownscan.core.assembly import load_volume

        items = self.series_items(series_uid)
        try:
            return load_volume(items)
        except LibraryError:
            raise
        except OwnscanError as exc:
            raise LibraryError(f"series {series_uid} in {self.root}: {exc}") from exc

    def resolve_series(self, text: str) -> str:
        """A Series Instance UID from a UID or a unique prefix of one (for the CLI)."""
        return self._resolve("series", "series_uid", text)

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
        self._recover()
        cur = self.conn.execute(
            "INSERT INTO imports (started, sources) VALUES (?, ?)",
            (_now(), json.dumps(sources)),
        )
        import_id = int(cur.lastrowid or 0)
        rep = ImportReport(import_id)
        ctx = _ImportContext(import_id)
        batch = _Pending()
        # files are written by background threads (or worker processes) while the next items
        # are read and parsed; a full batch is handed off (_hand_off): its files are waited
        # for and synced, then its rows committed
        self._writer = ThreadPoolExecutor(self.writers, thread_name_prefix="ownscan-write")
        self._write_error = False
        self._workers: list[Worker] = []
        self._remote: tuple[Worker, int, list[tuple[int, str]]] | None = None
        # the previous batch while its files are waited for and synced (in a thread); its
        # rows are committed once that is done, while this batch goes on (see _hand_off)
        self._syncing: tuple[_Pending, Future[_WriteFailed | None]] | None = None
        # chunks given to workers, in item order: (items, worker, chunk number)
        pipeline: deque[tuple[list[SourceItem], Worker, int]] = deque()
        chunk: list[SourceItem] = []
        chunks = itertools.count()
        inline = self.parallel_after
        parallel = False  # the workers have started: files with a path go to them
        started = False

        def done(result: ItemResult) -> None:
            nonlocal batch
            rep.results.append(result)
            rep.bytes_read += result.size
            if report is not None:
                report(result)
            if (
                len(batch) >= self.batch_files
                or batch.bytes >= self.batch_bytes
                or time.monotonic() - batch.started >= self.batch_seconds
                or self._write_error
            ):
                self._hand_off(batch, ctx, rep)
                batch = _Pending()
            elif self._syncing is not None:
                self._finish_synced(ctx, rep, wait=False)

        def send_chunk() -> None:
            nonlocal chunk
            if not chunk:
                return
            number = next(chunks)
            worker = self._workers[number % len(self._workers)]
            todo = [(k, str(it.path), it.media_type == DICOM) for k, it in enumerate(chunk)]
            worker.send(("scan", number, todo))
            pipeline.append((chunk, worker, number))
            chunk = []

        def take_chunk() -> None:
            # the oldest chunk's items, decided and reported in their order, as if read here
            chunk_items, worker, number = pipeline.popleft()
            scanned = worker.result(number)
            self._remote = (worker, number, [])
            for key, (item, result) in enumerate(zip(chunk_items, scanned, strict=True)):
                if result[0] == SCAN_BIG:
                    done(self._import_one(item, batch, ctx))
                else:
                    done(self._import_scanned(item, key, result, batch, ctx))
            self._send_remote(release=True)

        try:
            for item in items:
                if not parallel and item.path is not None and inline <= 0 and self.processes:
                    if not started:
                        started = True
                        self._start_workers()
                    # until all have started (~50 ms) the files are handled here; a worker
                    # that cannot start leaves the whole import to this process
                    parallel = bool(self._workers) and all(w.ready for w in self._workers)
                if parallel and item.path is not None:
                    chunk.append(item)
                    if len(chunk) >= self.chunk_files:
                        send_chunk()
                        while len(pipeline) > 2 * len(self._workers):
                            take_chunk()
                    continue
                inline -= item.path is not None
                send_chunk()  # items in memory (and the first files) are handled here, in order
                while pipeline:
                    take_chunk()
                done(self._import_one(item, batch, ctx))
            send_chunk()
            while pipeline:
                take_chunk()
            self._flush(batch, ctx, rep)
        except (_WriteFailed, WorkerDied) as failed:
            # keep what is complete if the disk still lets us; otherwise its files stay as
            # orphans, which the next import or check adopts
            self._flush_after_error(batch, ctx, rep)
            if isinstance(failed, WorkerDied):
                error = LibraryError(
                    f"{self.root}: {failed}; what was imported before is kept, run the import "
                    "again to complete it"
                )
            else:
                exc = failed.error
                where = f"{failed.origin}: " if failed.origin else ""
                hint = "free some space and " if exc.errno in _DISK_ERRORS else ""
                error = LibraryError(
                    f"{where}cannot write to the library at {self.root} "
                    f"({exc.strerror or exc}); what was imported before is kept, {hint}run the "
                    "import again to complete it"
                )
            error.report = rep
            raise error from failed
        except BaseException:
            # Ctrl-C, or the importer's source failed (a disc removed, a server gone): keep
            # what is complete; running the import again brings the rest
            self._flush_after_error(batch, ctx, rep)
            raise
        finally:
            self._remote = None
            self._syncing = None
            for worker in self._workers:
                worker.close()
            self._workers = []
            self._writer.shutdown(wait=True)
        self._link_documents(ctx, rep)
        self.conn.execute(
            "UPDATE imports SET finished = ?, summary = ? WHERE id = ?",
            (_now(), rep.summary(), import_id),
        )
        return rep

    def _start_workers(self) -> None:
        def failed() -> None:
            self._write_error = True

        root = self.root.absolute()
        try:
            for _ in range(max(1, self.processes)):
                self._workers.append(Worker(root, self.store.lock_fd, failed))
        except OSError:  # no process to be had (a limit reached): import in this process
            for worker in self._workers:
                worker.close()
            self._workers = []

    def _send_remote(self, release: bool) -> None:
        """Send the writes decided for the current worker chunk (``release``: it is done)."""
        if self._remote is None:
            return
        worker, number, orders = self._remote
        if orders or release:
            worker.send(("write", number, orders, release))
        self._remote = None if release else (worker, number, [])

    def _import_one(self, item: SourceItem, batch: _Pending, ctx: _ImportContext) -> ItemResult:
        origin = item.origin
        if item.problem is not None:
            return ItemResult(origin, FAILED, item.problem)
        try:
            data = item.read_bytes()
        except OSError as exc:
            return ItemResult(origin, FAILED, f"cannot read: {exc.strerror or exc}")

        def write(final: Path) -> None:
            self._write(data, final, batch, origin)

        scanned = examine(data, item.media_type == DICOM)
        return self._decide(item, scanned, write, batch, ctx)

    def _import_scanned(
        self, item: SourceItem, key: int, scanned: Scanned, batch: _Pending, ctx: _ImportContext
    ) -> ItemResult:
        """:meth:`_import_one` for an item a worker has read, hashed and parsed (and keeps)."""
        remote = self._remote
        assert remote is not None

        def write(final: Path) -> None:  # the worker writes the bytes it keeps
            worker, number, orders = remote
            orders.append((key, str(final)))
            batch.writes.append((worker.future(number, key), final, item.origin))
            batch.queued.add(final)

        return self._decide(item, scanned, write, batch, ctx)

    def _decide(
        self,
        item: SourceItem,
        scanned: Scanned,
        write: Callable[[Path], None],
        batch: _Pending,
        ctx: _ImportContext,
    ) -> ItemResult:
        """The outcome for an item :func:`examine` has looked at (here or in a worker): failed,
        skipped, a document, or an instance to place; ``write(final)`` queues its file."""
        status, size, sha, h, reason, is_pdf = scanned
        if status == SCAN_FAILED:
            return ItemResult(item.origin, FAILED, reason, size=size)
        if status == SCAN_SKIPPED:
            return ItemResult(item.origin, SKIPPED, reason, size=size)
        if item.media_type != DICOM:
            return self._import_document(item, size, sha, is_pdf, write, batch, ctx)
        return self._place(item.origin, h, size, sha, write, batch, ctx)

    def _place(
        self,
        origin: str,
        h: Header,
        size: int,
        sha: str,
        write: Callable[[Path], None],
        batch: _Pending,
        ctx: _ImportContext,
    ) -> ItemResult:
        """Decide what an instance is (new, duplicate, conflict) and queue its file."""
        ids: dict[str, Any] = {
            "sop_instance_uid": h.sop_instance_uid,
            "study_uid": h.study_uid,
            "series_uid": h.series_uid,
            "size": size,
        }
        ctx.studies.add(h.study_uid)
        uid = h.sop_instance_uid
        prev = self._syncing[0] if self._syncing is not None else None
        held = batch.uids.get(uid) or (prev and prev.uids.get(uid)) or self._held_sha(uid)
        if held == sha:
            final = self.store.object_path(sha)
            if self._present(final, size, batch):
                return ItemResult(origin, DUPLICATE, "already in the library", **ids)
            write(final)
            batch.files += 1
            batch.bytes += size
            return ItemResult(
                origin, DUPLICATE, "was in the index; its missing file restored", **ids
            )
        if held is not None:
            final = self.store.conflict_path(sha)
            if not self._present(final, size, batch):
                write(final)
                batch.bytes += size
            if not (
                sha in batch.conflict_shas
                or (prev and sha in prev.conflict_shas)
                or self._exists("conflicts", "sha256", sha)
            ):
                batch.conflicts.append((sha, h.sop_instance_uid, held, size, origin))
                batch.conflict_shas.add(sha)
            return ItemResult(
                origin,
                CONFLICT,
                "the library holds a different file with this SOP Instance UID; "
                f"this one is kept aside in {self.store.relative(final)}",
                **ids,
            )
        final = self.store.object_path(sha)
        if not self._present(final, size, batch):  # an orphan of an interrupted import is there
            write(final)
            batch.bytes += size
        batch.instances.append((h, sha, size, origin))
        batch.uids[h.sop_instance_uid] = sha
        return ItemResult(origin, IMPORTED, **ids)

    def _import_document(
        self,
        item: SourceItem,
        size: int,
        sha: str,
        is_pdf: bool,
        write: Callable[[Path], None],
        batch: _Pending,
        ctx: _ImportContext,
    ) -> ItemResult:
        if item.media_type == "application/pdf" and not is_pdf:
            return ItemResult(item.origin, FAILED, "named a PDF but is not one", size=size)
        ctx.documents.add(sha)
        final = self.store.object_path(sha)
        prev = self._syncing[0] if self._syncing is not None else None
        if (
            sha in batch.doc_shas
            or (prev and sha in prev.doc_shas)
            or self._exists("documents", "sha256", sha)
        ):
            if self._present(final, size, batch):
                return ItemResult(
                    item.origin, DUPLICATE, "document already in the library", size=size
                )
            write(final)
            batch.files += 1
            batch.bytes += size
            return ItemResult(item.origin, DUPLICATE, "its missing file restored", size=size)
        if not self._present(final, size, batch):
            write(final)
            batch.bytes += size
        title = PurePosixPath(item.origin.replace("\\", "/").split("!")[-1]).name
        batch.documents.append((sha, item.media_type, title, size, item.origin))
        batch.doc_shas.add(sha)
        return ItemResult(item.origin, DOCUMENT, f"stored ({item.media_type})", size=size)

    def _write(self, data: bytes, final: Path, batch: _Pending, origin: str) -> None:
        """Queue ``data`` to be written to ``final`` (see _hand_off)."""

        def write() -> None:
            try:
                self.store.write(data, final)
            except BaseException:
                self._write_error = True
                raise

        batch.writes.append((self._writer.submit(write), final, origin))
        batch.queued.add(final)

    def _wait_writes(self, batch: _Pending) -> _WriteFailed | None:
        """Wait for the batch's files; drop the rows of files that could not be written."""
        failed: set[Path] = set()
        first: _WriteFailed | None = None
        for future, final, origin in batch.writes:
            exc = future.exception()
            if exc is None:
                continue
            failed.add(final)
            batch.failed_origins.append((origin, str(exc)))
            if first is None:
                error = exc if isinstance(exc, OSError) else OSError(str(exc))
                first = _WriteFailed(error, origin)
        if failed:
            path = self.store.object_path
            batch.instances[:] = [r for r in batch.instances if path(r[1]) not in failed]
            batch.documents[:] = [r for r in batch.documents if path(r[0]) not in failed]
            batch.conflicts[:] = [
                r for r in batch.conflicts if self.store.conflict_path(r[0]) not in failed
            ]
        batch.writes.clear()
        return first

    def _held_sha(self, sop_instance_uid: str) -> str | None:
        row = self.conn.execute(
            "SELECT sha256 FROM instances WHERE sop_instance_uid = ?", (sop_instance_uid,)
        ).fetchone()
        return None if row is None else str(row[0])

    def _present(self, path: Path, size: int, batch: _Pending) -> bool:
        """The file is there (complete) or being written for this batch or the previous."""
        if path in batch.queued:
            return True
        if self._syncing is not None and path in self._syncing[0].queued:
            return True
        return _complete(path, size)

    def _hand_off(self, batch: _Pending, ctx: _ImportContext, rep: ImportReport) -> None:
        """End a batch without stopping the import: a thread waits for the batch's files and
        syncs them, and its rows are committed when that is done (by _finish_synced), while
        the next batch's files are already read and written. One batch at a time syncs."""
        self._finish_synced(ctx, rep, wait=True)
        self._send_remote(release=False)

        def wait_and_sync() -> _WriteFailed | None:
            failed = self._wait_writes(batch)
            if self.durable and (len(batch) or batch.bytes):
                self.store.sync()  # the complete files of the batch, before its rows
            return failed

        self._syncing = (batch, self._writer.submit(wait_and_sync))

    def _finish_synced(self, ctx: _ImportContext, rep: ImportReport, wait: bool) -> None:
        """Commit the rows of the batch handed off, once its files are synced."""
        if self._syncing is None:
            return
        batch, synced = self._syncing
        if not wait and not synced.done():
            return
        self._syncing = None  # whatever happens next, this batch is not committed twice
        failed = synced.result()
        if len(batch) or batch.bytes:
            self._commit(batch, ctx, rep)
        self._report_failed(batch, failed, rep)

    def _report_failed(
        self, batch: _Pending, failed: _WriteFailed | None, rep: ImportReport
    ) -> None:
        batch.clear()
        if failed is not None:
            # those items were reported as they were read; say what became of them
            why = dict(batch.failed_origins)
            rep.results = [
                ItemResult(r.origin, FAILED, f"could not be written: {why[r.origin]}")
                if r.origin in why and r.status != FAILED
                else r
                for r in rep.results
            ]
            raise failed

    def _flush_after_error(self, batch: _Pending, ctx: _ImportContext, rep: ImportReport) -> None:
        """Keep what is complete of both batches if the disk still lets us; otherwise their
        files stay as orphans, which the next import or check adopts."""
        with contextlib.suppress(*_FLUSH_ERRORS):
            self._finish_synced(ctx, rep, wait=True)
        with contextlib.suppress(*_FLUSH_ERRORS):
            self._flush(batch, ctx, rep)

    def _flush(self, batch: _Pending, ctx: _ImportContext, rep: ImportReport) -> None:
        """End the last batch: hand it off as any other and wait until it is committed."""
        self._hand_off(batch, ctx, rep)
        self._finish_synced(ctx, rep, wait=True)

    def _commit(self, batch: _Pending, ctx: _ImportContext, rep: ImportReport) -> None:
        """Index the batch in one transaction (its files are complete and synced)."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            for h, sha, size, origin in batch.instances:
                self._index_parents(h, ctx, rep)
                conn.execute(
                    """INSERT INTO instances (sop_instance_uid, series_uid, sop_class_uid,
                         instance_number, frames, transfer_syntax, title, sha256, size, origin,
                         import_id) VALUES (?,?,?,?,?,?,?,?,?,?,?)""",
                    (
                        h.sop_instance_uid,
                        h.series_uid,
                        h.sop_class_uid,
                        h.instance_number,
                        h.frames,
                        h.transfer_syntax,
                        h.title,
                        sha,
                        size,
                        origin,
                        ctx.import_id,
                    ),
                )
            conn.executemany(
                "INSERT OR IGNORE INTO conflicts (sha256, sop_instance_uid, existing_sha256, "
                "size, origin, import_id) VALUES (?,?,?,?,?,?)",
                [(*c, ctx.import_id) for c in batch.conflicts],
            )
            conn.executemany(
                "INSERT OR IGNORE INTO documents (sha256, media_type, title, size, origin, "
                "import_id) VALUES (?,?,?,?,?,?)",
                [(*d, ctx.import_id) for d in batch.documents],
            )
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise LibraryError(
                f"{self.store.index}: cannot write the library index ({exc}); what was "
                "imported before is kept, run the import again to complete it"
            ) from exc
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise

    def _index_parents(self, h: Header, ctx: _ImportContext, rep: ImportReport) -> None:
        if h.series_uid in ctx.series_done:
            return
        conn = self.conn
        pkey = (h.patient_id, h.patient_name, h.birth_date)
        key = ctx.patients.get(pkey)
        if key is None:
            conn.execute(
                "INSERT OR IGNORE INTO patients (patient_id, name, birth_date, sex) "
                "VALUES (?,?,?,?)",
                (*pkey, h.sex),
            )
            key = int(
                conn.execute(
                    "SELECT key FROM patients WHERE patient_id=? AND name=? AND birth_date=?",
                    pkey,
                ).fetchone()[0]
            )
            ctx.patients[pkey] = key
        row = conn.execute(
            "SELECT patient_key FROM studies WHERE study_uid = ?", (h.study_uid,)
        ).fetchone()
        if row is None:
            conn.execute(
                "INSERT INTO studies (study_uid, patient_key, date, time, description, "
                "accession_number) VALUES (?,?,?,?,?,?)",
                (
                    h.study_uid,
                    key,
                    h.study_date,
                    h.study_time,
                    h.study_description,
                    h.accession_number,
                ),
            )
        elif int(row[0]) != key and h.study_uid not in ctx.warned:
            ctx.warned.add(h.study_uid)
            rep.notes.append(
                f"study {h.study_uid} holds images naming different patients "
                f"({h.patient_name or '?'} / ID {h.patient_id or '?'} differs from the first "
                "one imported); the study is listed under the first"
            )
        row = conn.execute(
            "SELECT study_uid FROM series WHERE series_uid = ?", (h.series_uid,)
        ).fetchone()
        if row is None:
            conn.execute(
                "INSERT INTO series (series_uid, study_uid, number, modality, description, "
                "body_part) VALUES (?,?,?,?,?,?)",
                (
                    h.series_uid,
                    h.study_uid,
                    h.series_number,
                    h.modality,
                    h.series_description,
                    h.body_part,
                ),
            )
        elif row[0] != h.study_uid:
            rep.notes.append(
                f"series {h.series_uid} appears in two studies ({row[0]} and {h.study_uid}); "
                "it is listed under the first"
            )
        ctx.series_done.add(h.series_uid)

    def _link_documents(self, ctx: _ImportContext, rep: ImportReport) -> None:
        if not ctx.documents:
            return
        shas = sorted(ctx.documents)
        marks = ",".join("?" * len(shas))
        if len(ctx.studies) == 1:
            (study,) = ctx.studies
            self.conn.execute(
                f"UPDATE documents SET study_uid = ? WHERE study_uid IS NULL "
                f"AND sha256 IN ({marks})",
                (study, *shas),
            )
            return
        unlinked = self.conn.execute(
            f"SELECT count(*) FROM documents WHERE study_uid IS NULL AND sha256 IN ({marks})",
            shas,
        ).fetchone()[0]
        if unlinked:
            why = "no study" if not ctx.studies else f"{len(ctx.studies)} studies"
            rep.notes.append(
                f"{unlinked} document(s) kept with import #{ctx.import_id}, not with a study: "
                f"the import holds {why}, so which study they belong to is not known"
            )

    # -- recovery ------------------------------------------------------------------------------
    def _recover(self) -> list[CheckProblem]:
        """Finish what a crash interrupted (writer's lock held): partial files, removals."""
        problems: list[CheckProblem] = []
        if self.store.tmp.is_dir():
            for p in sorted(self.store.tmp.iterdir()):
                p.unlink(missing_ok=True)
                problems.append(
                    CheckProblem(
                        "partial",
                        self.store.relative(p),
                        "incomplete file of an interrupted write; removed",
                        True,
                    )
                )
        for (rel,) in self.conn.execute("SELECT path FROM pending_deletes").fetchall():
            (self.root / rel).unlink(missing_ok=True)
            problems.append(
                CheckProblem("unfinished-removal", rel, "file of a removed series; deleted", True)
            )
        if problems:
            self.conn.execute("DELETE FROM pending_deletes")
        return problems

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
        return self._locked(lambda: self._remove(series_uid, study_uid, patient_key))

    def _remove(
        self, series_uid: str | None, study_uid: str | None, patient_key: int | None
    ) -> RemoveResult:
        self._recover()
        conn = self.conn
        if series_uid is not None:
            series = [series_uid] if self._exists("series", "series_uid", series_uid) else []
            studies: list[str] = []
            if not series:
                raise LibraryError(f"{self.root}: no series {series_uid} in the library")
        else:
            if study_uid is not None:
                studies = [study_uid] if self._exists("studies", "study_uid", study_uid) else []
                if not studies:
                    raise LibraryError(f"{self.root}: no study {study_uid} in the library")
            else:
                studies = [
                    r[0]
                    for r in conn.execute(
                        "SELECT study_uid FROM studies WHERE patient_key = ?", (patient_key,)
                    )
                ]
                if not studies and not self._exists("patients", "key", patient_key):
                    raise LibraryError(f"{self.root}: no patient #{patient_key} in the library")
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
                    paths.append(self.store.relative(self.store.object_path(sha)))
                    n_inst += 1
                    size += sz
                    for (csha,) in conn.execute(
                        "SELECT sha256 FROM conflicts WHERE sop_instance_uid = ?", (sop,)
                    ).fetchall():
                        paths.append(self.store.relative(self.store.conflict_path(csha)))
                    conn.execute("DELETE FROM conflicts WHERE sop_instance_uid = ?", (sop,))
                conn.execute("DELETE FROM instances WHERE series_uid = ?", (se,))
                conn.execute("DELETE FROM series WHERE series_uid = ?", (se,))
            for st in studies:
                for sha, sz in conn.execute(
                    "SELECT sha256, size FROM documents WHERE study_uid = ?", (st,)
                ).fetchall():
                    paths.append(self.store.relative(self.store.object_path(sha)))
                    n_docs += 1
                    size += sz
                conn.execute("DELETE FROM documents WHERE study_uid = ?", (st,))
            self._drop_empty_parents()
            conn.executemany(
                "INSERT OR IGNORE INTO pending_deletes (path) VALUES (?)", [(p,) for p in paths]
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        for rel in paths:
            (self.root / rel).unlink(missing_ok=True)
        conn.execute("DELETE FROM pending_deletes")
        return RemoveResult(len(series), n_inst, n_docs, size)

    def _drop_empty_parents(self) -> int:
        n = self.conn.execute(
            "DELETE FROM series WHERE series_uid NOT IN (SELECT series_uid FROM instances)"
        ).rowcount
        n += self.conn.execute(
            """DELETE FROM studies WHERE study_uid NOT IN (SELECT study_uid FROM series)
               AND study_uid NOT IN (SELECT study_uid FROM documents
                                     WHERE study_uid IS NOT NULL)"""
        ).rowcount
        n += self.conn.execute(
            "DELETE FROM patients WHERE key NOT IN (SELECT patient_key FROM studies)"
        ).rowcount
        return int(n)

    # -- check ---------------------------------------------------------------------------------
    def check(
        self,
        repair: bool = False,
        *,
        verify_hashes: bool = True,
        progress: Callable[[int], None] | None = None,
    ) -> CheckReport:
        """Verify the index against the files; with ``repair``, fix what can be fixed safely.

        Finds: partial files of interrupted writes and unfinished removals (repair: delete),
        indexed files that are missing or damaged (not repairable: re-import the source, or
        remove the series; repair moves a damaged file to ``damaged/`` so a re-import restores
        it), orphan files without a row (repair: adopt them into the index), wrong permissions
        (repair: 0700/0600), empty series/studies/patients (repair: drop) and a damaged index.

        Parameters
        ----------
        repair
            Fix what is safe to fix.
        verify_hashes
            Re-hash every file (slower); otherwise only presence and size are checked.
        progress
            Called with the number of bytes of each file checked.
        """
        return self._locked(lambda: self._check(repair, verify_hashes, progress))

    def _check(
        self, repair: bool, verify_hashes: bool, progress: Callable[[int], None] | None
    ) -> CheckReport:
        rep = CheckReport()
        conn = self.conn
        problems = rep.problems
        ok = conn.execute("PRAGMA quick_check").fetchone()[0]
        if ok != "ok":
            problems.append(CheckProblem("index", "index.sqlite", f"index damaged: {ok}"))
            return rep
        if repair:
            problems.extend(self._recover())
        else:
            if self.store.tmp.is_dir():
                for p in sorted(self.store.tmp.iterdir()):
                    problems.append(
                        CheckProblem(
                            "partial",
                            self.store.relative(p),
                            "incomplete file of an interrupted write (repair removes it)",
                        )
                    )
            for (rel,) in conn.execute("SELECT path FROM pending_deletes"):
                problems.append(
                    CheckProblem(
                        "unfinished-removal",
                        rel,
                        "file of a removed series still present (repair deletes it)",
                    )
                )
        # rows -> files
        expected: dict[str, tuple[int, str]] = {}
        for sha, size in conn.execute("SELECT sha256, size FROM instances"):
            expected[self.store.relative(self.store.object_path(sha))] = (size, sha)
            rep.instances += 1
        for sha, size in conn.execute("SELECT sha256, size FROM documents"):
            expected[self.store.relative(self.store.object_path(sha))] = (size, sha)
            rep.documents += 1
        for sha, size in conn.execute("SELECT sha256, size FROM conflicts"):
            expected[self.store.relative(self.store.conflict_path(sha))] = (size, sha)
        for rel, (size, sha) in sorted(expected.items()):
            path = self.root / rel
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
                    dest = self.root / "damaged" / path.name
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
        for path in _walk_files(self.store.objects, self.store.conflicts):
            rel = self.store.relative(path)
            if rel in expected:
                continue
            if not (len(path.name) == 64 and set(path.name) <= _SHA_HEX):
                problems.append(
                    CheckProblem("unknown", rel, "file not made by ownscan; left alone")
                )
                continue
            orphans.append(path)
        if orphans:
            problems.extend(self._adopt(orphans, repair))
        # folders' permissions
        for d in _walk_dirs(self.root):
            mode = d.stat().st_mode & 0o777
            if mode != 0o700:
                if repair:
                    d.chmod(0o700)
                problems.append(
                    CheckProblem(
                        "permissions",
                        self.store.relative(d) if d != self.root else ".",
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
                self._drop_empty_parents()
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

    def _adopt(self, orphans: list[Path], repair: bool) -> list[CheckProblem]:
        if not repair:
            return [
                CheckProblem(
                    "orphan",
                    self.store.relative(p),
                    "file without an index row, left by an interrupted import (repair adopts it)",
                )
                for p in orphans
            ]
        problems: list[CheckProblem] = []
        items: list[SourceItem] = []
        for p in orphans:
            rel = self.store.relative(p)
            data = p.read_bytes()
            if hashlib.sha256(data).hexdigest() != p.name:
                p.unlink()
                problems.append(
                    CheckProblem("orphan", rel, "unindexed file with wrong content; removed", True)
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
                results += self._import(iter(group), None, ["ownscan check --repair"]).results
        for r in results:
            path = self.root / r.origin
            if r.status in (IMPORTED, DOCUMENT, CONFLICT):
                if r.status == IMPORTED and path.parent == self.store.conflicts:
                    path.unlink()  # its UID is no longer held: now an ordinary instance
                problems.append(CheckProblem("orphan", r.origin, f"adopted ({r.status})", True))
            elif r.status == DUPLICATE and path.parent == self.store.conflicts:
                path.unlink()
                problems.append(CheckProblem("orphan", r.origin, "same as the held file", True))
            elif r.status == SKIPPED:
                # neither DICOM nor PDF: keep it as a document rather than lose it
                rel_item = SourceItem(
                    origin=r.origin, path=path, media_type="application/octet-stream"
                )
                self._import(iter([rel_item]), None, ["ownscan check --repair"])
                problems.append(
                    CheckProblem("orphan", r.origin, "adopted as a document (not DICOM)", True)
                )
            else:
                problems.append(CheckProblem("orphan", r.origin, f"could not adopt: {r.reason}"))
        return problems


class _WriteFailed(Exception):
    """Writing into the library failed (as opposed to reading a source)."""

    def __init__(self, error: OSError, origin: str = "") -> None:
        super().__init__(str(error))
        self.error = error
        self.origin = origin


# what may go wrong while the complete part of an interrupted import is committed
_FLUSH_ERRORS = (OSError, sqlite3.Error, LibraryError, _WriteFailed, WorkerDied)


@dataclass
class _ImportContext:
    import_id: int
    studies: set[str] = field(default_factory=set)
    documents: set[str] = field(default_factory=set)
    patients: dict[tuple[str, str, str], int] = field(default_factory=dict)
    series_done: set[str] = field(default_factory=set)
    warned: set[str] = field(default_factory=set)


def _migrations() -> tuple[str, ...]:
    from ownscan.core.library._schema import MIGRATIONS

    return MIGRATIONS


def _complete(path: Path, size: int) -> bool:
    try:
        return path.stat().st_size == size
    except FileNotFoundError:
        return False


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


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
