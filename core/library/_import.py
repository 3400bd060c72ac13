"""One import into the library: batches, the workers' hand-off, the decisions, the commits.

:meth:`Library.import_items <ownscan.core.library._library.Library.import_items>` takes the
writer's lock, finishes what a crash left (``_maintenance.recover``) and runs one
:class:`ImportSession`. The session decides for each item (new, duplicate, conflict, document,
skipped, failed), writes new files through the store, and commits the index rows batch by
batch. Who does the per-file work (this process, or ``_worker`` processes for a large import)
does not change the order of the steps below for any file.

How an import stays consistent when it is interrupted
-----------------------------------------------------
Items are handled in batches. For each item the bytes are hashed (sha256) and the header is
read; a new instance's bytes are written as an unnamed file and linked as
``objects/ab/<sha256>`` when complete (or, where that cannot be done, written to ``tmp/`` and
renamed; see ``Store.write``); a large file is copied as an unnamed file before its decision
and linked the same way once decided (``_ahead``, ``Store.stage``). At the end of a batch the
file system is synced once (``syncfs``) and then one SQLite transaction adds the index rows of
the whole batch. A kill at any moment therefore leaves:

* before the link (rename): nothing, or a partial file in ``tmp/`` (removed by the next writer
  or by ``check``);
* after it, before the commit: a complete file without a row (an *orphan*). The next
  import of the same source finds the file already in place and only adds the row; ``check
  --repair`` adopts it (reads its header and indexes it);
* after the commit: the instance is in the library.

Ctrl-C, an importer failing mid-source and a full disk first commit the batch of complete
files, then stop (:meth:`ImportSession.run`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import itertools
import json
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from ownscan.core.library._ahead import Read, ReadAhead, drop
from ownscan.core.library._decodes import why_not_decodable
from ownscan.core.library._header import Header
from ownscan.core.library._maintenance import drop_empty_parents
from ownscan.core.library._model import (
    CONFLICT,
    DOCUMENT,
    DUPLICATE,
    FAILED,
    IMPORTED,
    SKIPPED,
    ImportReport,
    ItemResult,
    LibraryError,
)
from ownscan.core.library._worker import (
    SCAN_BIG,
    SCAN_FAILED,
    SCAN_SKIPPED,
    Scanned,
    Worker,
    WorkerDied,
    examine,
)
from ownscan.core.plugin_types import DICOM, SourceItem
from ownscan.core.text import redact_url

if TYPE_CHECKING:
    from ownscan.core.library._library import Library

__all__ = ["ImportSession"]

_DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO}


# a conflict settled for the new copy: its header, sha256, size, origin; the sha256 held
# until then and why that copy does not decode
_Swap = tuple[Header, str, int, str, str, str]


@dataclass
class _Pending:
    """A batch: files written (renamed into place) whose rows are not yet committed."""

    instances: list[tuple[Header, str, int, str]] = field(default_factory=list)
    documents: list[tuple[str, str, str, int, str]] = field(default_factory=list)
    conflicts: list[tuple[str, str, str, int, str]] = field(default_factory=list)
    uids: dict[str, str] = field(default_factory=dict)
    doc_shas: set[str] = field(default_factory=set)
    conflict_shas: set[str] = field(default_factory=set)
    # new conflicts to settle at commit (the copy that decodes is kept): the new copy's
    # header, sha256, size and origin, and the sha256 held when it came
    contests: list[tuple[Header, str, int, str, str]] = field(default_factory=list)
    writes: list[tuple[Future[None], Path, str]] = field(default_factory=list)
    queued: set[Path] = field(default_factory=set)  # files being written for this batch
    failed_origins: list[tuple[str, str]] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    started: float = field(default_factory=time.monotonic)

    def __len__(self) -> int:
        return (
            len(self.instances)
            + len(self.documents)
            + len(self.conflicts)
            + len(self.contests)
            + self.files
        )

    def clear(self) -> None:
        """After the commit: nothing is pending any more (a second flush does nothing)."""
        self.instances.clear()
        self.documents.clear()
        self.conflicts.clear()
        self.contests.clear()
        self.writes.clear()
        self.queued.clear()
        self.files = self.bytes = 0


def _redacted(item: SourceItem) -> SourceItem:
    """``item`` with the secrets of its origin URL removed (the same item when it has none),
    and an origin that is not text (a file name whose bytes are not UTF-8: Python keeps them
    as lone surrogates, which SQLite cannot store, and the batch's commit failed with every
    good file in it) with those bytes written ``\\xff``."""
    origin = redact_url(item.origin) if "://" in item.origin else item.origin
    try:
        origin.encode("utf-8")
    except UnicodeEncodeError:
        origin = origin.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return item if origin == item.origin else dataclasses.replace(item, origin=origin)


class ImportSession:
    """One import into ``lib``, whose writer's lock the caller holds; :meth:`run` does it.

    The library's tunables (``batch_files``, ``processes``, ``durable``...) are read from
    ``lib`` as the import goes. ``workers`` are the import's worker processes while it runs.
    """

    def __init__(self, lib: Library) -> None:
        self.lib = lib
        self.conn = lib.conn
        self.store = lib.store
        self.root = lib.root
        self.workers: list[Worker] = []
        # files that importers wrote for this import (SourceItem.temporary), not yet read
        self._temporary: set[Path] = set()

    def run(
        self,
        items: Iterable[SourceItem],
        report: Callable[[ItemResult], None] | None,
        sources: list[str],
    ) -> ImportReport:
        """Store and index every item (see :meth:`Library.import_items`)."""
        # nothing secret is recorded: a source or origin URL loses its user:password@ and
        # its token-like query values before it reaches the index (or a report)
        sources = [redact_url(x) for x in sources]
        items = (_redacted(it) for it in items)
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
        self._writer = ThreadPoolExecutor(self.lib.writers, thread_name_prefix="ownscan-write")
        self._write_error = False
        self.workers = []
        self._remote: tuple[Worker, int, list[tuple[int, str]]] | None = None
        # the previous batch while its files are waited for and synced (in a thread); its
        # rows are committed once that is done, while this batch goes on (see _hand_off)
        self._syncing: tuple[_Pending, Future[_WriteFailed | None]] | None = None
        # chunks given to workers, in item order: (items, worker, chunk number)
        pipeline: deque[tuple[list[SourceItem], Worker, int]] = deque()
        chunk: list[SourceItem] = []
        chunks = itertools.count()
        inline = self.lib.parallel_after
        parallel = False  # the workers have started: files with a path go to them
        started = False

        def done(result: ItemResult) -> None:
            nonlocal batch
            rep.results.append(result)
            rep.bytes_read += result.size
            if report is not None:
                report(result)
            if (
                len(batch) >= self.lib.batch_files
                or batch.bytes >= self.lib.batch_bytes
                or time.monotonic() - batch.started >= self.lib.batch_seconds
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
            worker = self.workers[number % len(self.workers)]
            todo = [(k, str(it.path), it.media_type == DICOM) for k, it in enumerate(chunk)]
            worker.send(("scan", number, todo))
            pipeline.append((chunk, worker, number))
            chunk = []

        def take_chunk() -> None:
            # the oldest chunk's items, decided and reported in their order, as if read here
            chunk_items, worker, number = pipeline.popleft()
            scanned = worker.result(number)
            for item, result in zip(chunk_items, scanned, strict=True):
                if result[0] != SCAN_BIG:  # the worker has read it (and keeps its bytes)
                    self._release(item)
            self._remote = (worker, number, [])
            for key, (item, result) in enumerate(zip(chunk_items, scanned, strict=True)):
                if result[0] == SCAN_BIG:
                    done(self._import_one(item, batch, ctx))
                else:
                    done(self._import_scanned(item, key, result, batch, ctx))
            self._send_remote(release=True)

        def seen(item: SourceItem) -> None:
            if item.temporary and item.path is not None:
                self._temporary.add(item.path)

        # large files are copied, hashed and parsed by threads ahead of their decision (_ahead)
        lib = self.lib
        ahead = ReadAhead(self.store, lib.copiers, lib.copy_ahead_size, lib.copy_ahead_bytes)
        stream = ahead.iterate(items, seen)
        try:
            for item, read in stream:
                if read is not None:
                    try:
                        send_chunk()  # the items before it first, in order
                        while pipeline:
                            take_chunk()
                    except BaseException:
                        drop(read)
                        raise
                    done(self._import_read(item, read, batch, ctx))
                    continue
                if not parallel and item.path is not None and inline <= 0 and self.lib.processes:
                    if not started:
                        started = True
                        self._start_workers()
                    # until all have started (~50 ms) the files are handled here; a worker
                    # that cannot start leaves the whole import to this process
                    parallel = bool(self.workers) and all(w.ready for w in self.workers)
                if parallel and item.path is not None and not item.temporary:
                    # (a download is read here: it arrives one by one, and its file goes
                    # once read, so a conflict could not read it again)
                    chunk.append(item)
                    if len(chunk) >= self.lib.chunk_files:
                        send_chunk()
                        while len(pipeline) > 2 * len(self.workers):
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
            stream.close()  # drops the copies of items not reached
            ahead.close()
            self._remote = None
            self._syncing = None
            for path in self._temporary:  # an importer's downloads never read (a failure)
                path.unlink(missing_ok=True)
            self._temporary.clear()
            for worker in self.workers:
                worker.close()
            self.workers = []
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
            for _ in range(max(1, self.lib.processes)):
                self.workers.append(Worker(root, self.store.lock_fd, failed))
        except OSError:  # no process to be had (a limit reached): import in this process
            for worker in self.workers:
                worker.close()
            self.workers = []

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
        if item.skip is not None:
            return ItemResult(origin, SKIPPED, item.skip)
        try:
            data = item.read_bytes()
        except OSError as exc:
            return ItemResult(origin, FAILED, f"cannot read: {exc.strerror or exc}")
        finally:
            self._release(item)

        def write(final: Path) -> None:
            self._write(data, final, batch, origin)

        scanned = examine(data, item.media_type == DICOM)
        return self._decide(item, scanned, write, batch, ctx)

    def _import_read(
        self, item: SourceItem, read: Future[Read], batch: _Pending, ctx: _ImportContext
    ) -> ItemResult:
        """:meth:`_import_one` for a file a thread has copied, hashed and parsed (_ahead)."""
        try:
            scanned, data, staged = read.result()
        finally:
            self._release(item)
        kept = False

        def write(final: Path) -> None:
            nonlocal kept
            if staged is None:  # the library could not take the copy: written as read
                assert data is not None  # only a file examined as usable is written
                self._write(data, final, batch, item.origin)
                return
            kept = True
            # a link, done here: no descriptor waits in the write queue (a batch holds 500)
            self._queue(lambda: staged.keep(final), final, batch, item.origin, now=True)

        try:
            return self._decide(item, scanned, write, batch, ctx)
        finally:
            if staged is not None and not kept:  # a duplicate, or refused: dropped unnamed
                staged.discard()

    def _release(self, item: SourceItem) -> None:
        """Remove an importer's download (``SourceItem.temporary``) once its bytes are read."""
        if item.temporary and item.path is not None:
            item.path.unlink(missing_ok=True)
            self._temporary.discard(item.path)

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
                or self.lib._exists("conflicts", "sha256", sha)
            ):
                batch.conflicts.append((sha, h.sop_instance_uid, held, size, origin))
                batch.conflict_shas.add(sha)
            # settled at commit, also for a conflict kept aside before (by an ownscan that
            # kept the first copy whatever it was): the one that decodes is held
            batch.contests.append((h, sha, size, origin, held))
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
        return ItemResult(origin, IMPORTED, warning=h.problem, **ids)

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
            or self.lib._exists("documents", "sha256", sha)
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
        self._queue(lambda: self.store.write(data, final), final, batch, origin)

    def _queue(
        self,
        write: Callable[[], None],
        final: Path,
        batch: _Pending,
        origin: str,
        now: bool = False,
    ) -> None:
        """Queue ``write``, which makes the file ``final`` appear complete (see _hand_off);
        ``now``: run it here at once (its failure is reported the same way)."""

        def run() -> None:
            try:
                write()
            except BaseException:
                self._write_error = True
                raise

        if now:
            future: Future[None] = Future()
            try:
                run()
                future.set_result(None)
            except Exception as exc:
                future.set_exception(exc)
        else:
            future = self._writer.submit(run)
        batch.writes.append((future, final, origin))
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
            if self.lib.durable and (len(batch) or batch.bytes):
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
        swaps = self._settle(batch)
        conn.execute("BEGIN IMMEDIATE")
        try:
            for h, sha, size, origin in batch.instances:
                self._index_parents(h, ctx, rep)
                self._insert_instance(h, sha, size, origin, ctx.import_id)
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
            gone = [self._swap(swap, ctx, rep) for swap in swaps]
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
        for paths in gone:  # the copies now held elsewhere (pending_deletes until done)
            for rel in paths:
                (self.root / rel).unlink(missing_ok=True)
        if any(gone):
            conn.execute("DELETE FROM pending_deletes")

    def _insert_instance(self, h: Header, sha: str, size: int, origin: str, import_id: int) -> None:
        self.conn.execute(
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
                import_id,
            ),
        )

    def _settle(self, batch: _Pending) -> list[_Swap]:
        """Which new conflicts of the batch replace the held copy: those whose image decodes
        when the held one's does not (so the good copy is kept whatever the order they came
        in). Their files are put in place before the rows: the new copy linked into
        ``objects/``, the held one into ``conflicts/``, synced."""
        swaps: list[_Swap] = []
        held_now: dict[str, str] = {}
        for h, sha, size, origin, held in batch.contests:
            held = held_now.get(h.sop_instance_uid, held)
            new_path = self.store.conflict_path(sha)
            old_path = self.store.object_path(held)
            if not (new_path.is_file() and old_path.is_file()):
                continue  # one of them could not be written: nothing to choose
            if why_not_decodable(new_path) is not None:
                continue  # the held copy stays, as any conflict
            why = why_not_decodable(old_path)
            if why is None:
                continue  # both decode: the first one stays
            self.store.place(new_path, self.store.object_path(sha))
            self.store.place(old_path, self.store.conflict_path(held))
            held_now[h.sop_instance_uid] = sha
            swaps.append((h, sha, size, origin, held, why))
        if swaps and self.lib.durable:
            self.store.sync()
        return swaps

    def _swap(self, swap: _Swap, ctx: _ImportContext, rep: ImportReport) -> list[str]:
        """In the commit's transaction: the instance row names the new copy, the held one
        becomes a conflict; returns the files to remove after the commit."""
        h, sha, size, origin, held, why = swap
        conn = self.conn
        row = conn.execute(
            "SELECT sha256, size, origin FROM instances WHERE sop_instance_uid = ?",
            (h.sop_instance_uid,),
        ).fetchone()
        if row is None or row[0] != held:
            return []
        self._index_parents(h, ctx, rep)
        conn.execute("DELETE FROM instances WHERE sop_instance_uid = ?", (h.sop_instance_uid,))
        self._insert_instance(h, sha, size, origin, ctx.import_id)
        conn.execute("DELETE FROM conflicts WHERE sha256 = ?", (sha,))
        conn.execute(
            "INSERT OR IGNORE INTO conflicts (sha256, sop_instance_uid, existing_sha256, "
            "size, origin, import_id) VALUES (?,?,?,?,?,?)",
            (held, h.sop_instance_uid, sha, row[1], row[2], ctx.import_id),
        )
        conn.execute(
            "UPDATE conflicts SET existing_sha256 = ? WHERE sop_instance_uid = ?",
            (sha, h.sop_instance_uid),
        )
        drop_empty_parents(self.lib)
        gone = [
            self.store.relative(self.store.conflict_path(sha)),
            self.store.relative(self.store.object_path(held)),
        ]
        conn.executemany(
            "INSERT OR IGNORE INTO pending_deletes (path) VALUES (?)", [(p,) for p in gone]
        )
        aside = self.store.relative(self.store.conflict_path(held))
        said = (
            f"kept this copy of SOP Instance UID {h.sop_instance_uid}: its image decodes, the "
            f"copy held from {row[2]} does not ({why}); that one is kept aside in {aside}"
        )
        rep.notes.append(f"{origin}: {said}")
        rep.results = [
            dataclasses.replace(r, reason=said)
            if r.origin == origin and r.status == CONFLICT
            else r
            for r in rep.results
        ]
        return gone

    def _index_parents(self, h: Header, ctx: _ImportContext, rep: ImportReport) -> None:
        """The study and series rows of an instance, and its patient's row with a new study.

        The first instance imported names them. A patient row is made only for a study that
        needs it: an instance naming another patient than the one its study is held under
        makes none, so no patient is ever left without studies.
        """
        if h.series_uid in ctx.series_done:
            return
        conn = self.conn
        row = conn.execute(
            "SELECT patient_key FROM studies WHERE study_uid = ?", (h.study_uid,)
        ).fetchone()
        if row is None:
            conn.execute(
                "INSERT INTO studies (study_uid, patient_key, date, time, description, "
                "accession_number) VALUES (?,?,?,?,?,?)",
                (
                    h.study_uid,
                    self._patient_key(h, ctx, create=True),
                    h.study_date,
                    h.study_time,
                    h.study_description,
                    h.accession_number,
                ),
            )
        elif h.study_uid not in ctx.warned and int(row[0]) != self._patient_key(h, ctx):
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
                "body_part, institution) VALUES (?,?,?,?,?,?,?)",
                (
                    h.series_uid,
                    h.study_uid,
                    h.series_number,
                    h.modality,
                    h.series_description,
                    h.body_part,
                    h.institution,
                ),
            )
        elif row[0] != h.study_uid:
            rep.notes.append(
                f"series {h.series_uid} appears in two studies ({row[0]} and {h.study_uid}); "
                "it is listed under the first"
            )
        ctx.series_done.add(h.series_uid)

    def _patient_key(self, h: Header, ctx: _ImportContext, create: bool = False) -> int | None:
        """The key of the patient ``h`` names (made first with ``create``; else None if the
        library holds no such patient)."""
        pkey = (h.patient_id, h.patient_name, h.birth_date)
        key = ctx.patients.get(pkey)
        if key is None:
            if create:
                self.conn.execute(
                    "INSERT OR IGNORE INTO patients (patient_id, name, birth_date, sex) "
                    "VALUES (?,?,?,?)",
                    (*pkey, h.sex),
                )
            row = self.conn.execute(
                "SELECT key FROM patients WHERE patient_id=? AND name=? AND birth_date=?", pkey
            ).fetchone()
            if row is None:
                return None
            key = ctx.patients[pkey] = int(row[0])
        return key

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


def _complete(path: Path, size: int) -> bool:
    try:
        return path.stat().st_size == size
    except FileNotFoundError:
        return False


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
