"""Uploads from the browser: chunked, resumable, staged, then imported by the importers.

Staging
-------
``POST /api/uploads`` announces the files (client name, size, relative path); the server
answers an upload id and a chunk size and makes a private folder
``<library>/serve/uploads/<id>/`` (0700). File ``n`` is written to ``files/fNNNNNN.ext``: a
name the SERVER chooses (the extension is kept only when it is 1..8 letters or digits, so
that the importers' suffix rules still see ``.zip``, ``.iso``, ``.pdf``). The client's names
never reach the file system; they are kept in memory to name the files in the outcome.

``PUT .../files/n?offset=B`` appends one chunk; it must start exactly where the staged file
ends (else 409 with the received size), and may not run past the announced size. A chunk is
written only once it has arrived whole, so a dropped connection costs at most that chunk and
``GET /api/uploads/{id}`` says where to resume.

Importing
---------
``POST .../import`` (every file complete) starts a job on the import thread: each staged file
that an importer other than ``folder`` claims (a portal zip, a disc ``.iso``) is imported as
its own source; all other files are moved together into one folder, imported by the folder
importer. So the library does what it does for ``ownscan import``: dedupe, conflicts, the
per-file report and its crash safety. The staged folder is deleted when the job ends, when an
upload is dropped, when it is idle for an hour, and at every start of the server (staging is
not resumed across restarts). Staged bytes are never part of the library: a killed or
abandoned upload leaves nothing in it.

Caps: total announced bytes (default 20 GB), number of files (default 20,000), chunk size
(at most 64 MiB per request); the zip importer's own bomb limits apply on import.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool

from ownscan.core.serve._service import (
    BadRequest,
    Conflict,
    NoRoom,
    NotFound,
    ServiceError,
    TooLarge,
)

__all__ = ["CHUNK_SIZE", "Uploads"]

CHUNK_SIZE = 8 << 20
MAX_CHUNK = 64 << 20
MAX_BYTES = 20_000_000_000
MAX_FILES = 20_000
IDLE_S = 3600.0
_ID = re.compile(r"^[0-9a-f]{32}$")
_EXT = re.compile(r"^[A-Za-z0-9]{1,8}$")


@dataclass
class _File:
    n: int
    name: str  # the client's relative path: for reports only, never a path here
    size: int
    stored: Path
    received: int = 0


@dataclass
class _Upload:
    upload_id: str
    folder: Path
    files: list[_File]
    touched: float = field(default_factory=time.monotonic)
    importing: bool = False


@dataclass
class _Job:
    job_id: str
    state: str = "running"
    done: int = 0
    total: int = 0
    results: list[dict[str, str]] = field(default_factory=list)
    error: str | None = None
    summary: str = ""
    ended: float | None = None


class Uploads:
    """Staged uploads and import jobs of one library.

    Parameters
    ----------
    library
        The library folder (imports open their own connection to it).
    private
        The server's private folder under the library; staging lives in ``uploads/``.
    max_bytes, max_files
        Caps on one upload.
    """

    def __init__(
        self,
        library: Path,
        private: Path,
        max_bytes: int = MAX_BYTES,
        max_files: int = MAX_FILES,
    ) -> None:
        from ownscan.core.library._store import make_private_dir

        self.library = library
        self.folder = private / "uploads"
        self.max_bytes = max_bytes
        self.max_files = max_files
        shutil.rmtree(self.folder, ignore_errors=True)  # a previous run's staging: not resumable
        make_private_dir(self.folder)
        self._uploads: dict[str, _Upload] = {}
        self._jobs: dict[str, _Job] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="ownscan-import")
        self._file_locks: dict[tuple[str, int], Any] = {}

    def start(self) -> None:
        """Nothing to start: expiry runs on every new upload (no timer thread to stop)."""

    def close(self) -> None:
        """Let a running import finish (it commits what it has; the library's crash safety
        covers a kill), then delete every staged file."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- staging -------------------------------------------------------------------------------
    def create(self, spec: Any) -> dict[str, Any]:
        """A new upload for the announced files: ``{"upload_id", "chunk_size"}``."""
        from ownscan.core.library._store import make_private_dir

        self._expire()
        if not isinstance(spec, list) or not spec:
            raise BadRequest('give "files": [{"name", "size", "relative_path"}, ...]')
        if len(spec) > self.max_files:
            raise TooLarge(f"{len(spec)} files: at most {self.max_files} in one upload")
        files: list[tuple[str, int, str]] = []
        for entry in spec:
            if not isinstance(entry, dict):
                raise BadRequest("each file must be an object {name, size, relative_path}")
            name = str(entry.get("relative_path") or entry.get("name") or "")[:1000]
            size = entry.get("size")
            if not name or not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise BadRequest("each file needs a name and a size in bytes (a whole number)")
            ext = name.rsplit(".", 1)[-1] if "." in name.rsplit("/", 1)[-1] else ""
            files.append((name, size, ext.lower() if _EXT.match(ext) else ""))
        total = sum(size for _, size, _ in files)
        with self._lock:
            others = sum(f.size for u in self._uploads.values() for f in u.files)
        if total + others > self.max_bytes:
            raise TooLarge(
                f"{total} bytes: at most {self.max_bytes} bytes staged at a time "
                f"({others} already announced by other uploads)"
            )
        free = shutil.disk_usage(self.folder).free
        if free < 2 * (total + others):  # staged, then copied into the library
            raise NoRoom(
                f"{total} bytes: the disk of the library has {free} bytes free, and an upload "
                "needs twice its size (staged, then imported)"
            )
        upload_id = secrets.token_hex(16)
        folder = self.folder / upload_id
        make_private_dir(folder)
        make_private_dir(folder / "files")
        staged = []
        for n, (name, size, ext) in enumerate(files):
            stored = folder / "files" / (f"f{n:06d}" + (f".{ext}" if ext else ""))
            fd = os.open(stored, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)
            staged.append(_File(n, name, size, stored))
        with self._lock:
            self._uploads[upload_id] = _Upload(upload_id, folder, staged)
        return {"upload_id": upload_id, "chunk_size": CHUNK_SIZE, "files": len(staged)}

    def _get(self, upload_id: str) -> _Upload:
        with self._lock:
            up = self._uploads.get(upload_id) if _ID.match(upload_id) else None
        if up is None:
            raise NotFound("no such upload (it was finished, dropped or expired)")
        return up

    def status(self, upload_id: str) -> dict[str, Any]:
        """Received bytes per file (to resume)."""
        up = self._get(upload_id)
        return {
            "upload_id": up.upload_id,
            "importing": up.importing,
            "files": [
                {"n": f.n, "name": f.name, "size": f.size, "received": f.received} for f in up.files
            ],
        }

    async def receive(self, upload_id: str, n: int, offset: int, body: AsyncIterator[bytes]) -> int:
        """Append one chunk to file ``n`` at ``offset``; the bytes received so far."""
        import asyncio

        up = self._get(upload_id)
        if up.importing:
            raise Conflict("this upload is being imported")
        if not 0 <= n < len(up.files):
            raise NotFound(f"no file {n} in this upload (0..{len(up.files) - 1})")
        f = up.files[n]
        lock = self._file_locks.setdefault((upload_id, n), asyncio.Lock())
        async with lock:
            if offset != f.received:
                raise Conflict(
                    f"offset {offset} is not where file {n} ends ({f.received} bytes received)"
                )
            room = min(MAX_CHUNK, f.size - f.received)
            data = bytearray()
            async for piece in body:
                data += piece
                if len(data) > room:
                    raise TooLarge(
                        f"chunk runs past the announced size of file {n} or over {MAX_CHUNK} bytes"
                    )
            await run_in_threadpool(_append, f.stored, bytes(data), f.received)
            f.received += len(data)
            up.touched = time.monotonic()
            return f.received

    def drop(self, upload_id: str) -> None:
        """Forget an upload and delete its staged bytes."""
        up = self._get(upload_id)
        if up.importing:
            raise Conflict("this upload is being imported; it is removed when the import ends")
        self._forget(up)

    def _forget(self, up: _Upload) -> None:
        """Drop an upload from memory and its staged bytes from the disk."""
        with self._lock:
            self._uploads.pop(up.upload_id, None)
            for n in range(len(up.files)):
                self._file_locks.pop((up.upload_id, n), None)
        shutil.rmtree(up.folder, ignore_errors=True)

    def _expire(self) -> None:
        now = time.monotonic()
        with self._lock:
            old = [
                u for u in self._uploads.values() if not u.importing and now - u.touched > IDLE_S
            ]
        for u in old:
            self._forget(u)
        with self._lock:  # finished jobs are kept an hour for the page to read
            for job_id in [
                j.job_id
                for j in self._jobs.values()
                if j.ended is not None and now - j.ended > IDLE_S
            ]:
                del self._jobs[job_id]

    # -- importing -----------------------------------------------------------------------------
    def start_import(self, upload_id: str, options: Any = None) -> str:
        """Start importing a complete upload; the job id.

        ``options`` (the request's JSON body) may hold ``"password"``: the password of
        encrypted zips in the upload.
        """
        extra: dict[str, Any] = {}
        if isinstance(options, dict) and options.get("password") is not None:
            if not isinstance(options["password"], str):
                raise BadRequest("password must be a string")
            extra["password"] = options["password"]
        up = self._get(upload_id)
        if up.importing:
            raise Conflict("this upload is already being imported")
        missing = [f.n for f in up.files if f.received != f.size]
        if missing:
            raise Conflict(f"{len(missing)} file(s) not complete yet (first: file {missing[0]})")
        up.importing = True
        job = _Job(secrets.token_hex(16), total=len(up.files))
        with self._lock:
            self._jobs[job.job_id] = job
        self._pool.submit(self._run, up, job, extra)
        return job.job_id

    def job(self, job_id: str) -> dict[str, Any]:
        """``{"state", "progress": [done, total], "results", "error", "summary"}``."""
        with self._lock:
            job = self._jobs.get(job_id) if _ID.match(job_id) else None
            if job is None:
                raise NotFound("no such job")
            return {
                "job_id": job.job_id,
                "state": job.state,
                "progress": [job.done, max(job.total, job.done)],
                "results": list(job.results),
                "error": job.error,
                "summary": job.summary,
            }

    def _run(self, up: _Upload, job: _Job, extra: dict[str, Any]) -> None:
        try:
            self._import(up, job, extra)
            with self._lock:
                job.total = job.done  # the estimate (zip members, folders included) is over
                job.state = "done"
        except Exception as exc:  # the job says why; the server goes on
            job.error = _clean(str(exc) or type(exc).__name__, up)
            job.state = "failed"
        finally:
            job.ended = time.monotonic()
            self._forget(up)

    def _import(self, up: _Upload, job: _Job, extra: dict[str, Any]) -> None:
        from ownscan.core.errors import OwnscanError
        from ownscan.core.library import FAILED, ItemResult, LibraryError, open_library
        from ownscan.core.library._store import make_private_dir
        from ownscan.core.plugin_host import get_host
        from ownscan.core.plugin_types import ImportOptions

        from ._origins import renamed_items

        host = get_host()
        loose = up.folder / "loose"
        make_private_dir(loose)
        names: dict[str, str] = {}  # staged path -> the client's name
        sources: list[tuple[str, Any, str]] = []  # (path, importer, client name)
        n_loose = 0
        for f in up.files:
            importer = host.find_importer(str(f.stored))
            if importer.name != "folder":
                sources.append((str(f.stored), importer, f.name))
                names[str(f.stored)] = f.name
                job.total += _members(f.stored) - 1
            else:
                target = loose / f.stored.name
                os.replace(f.stored, target)
                names[str(target)] = f.name
                n_loose += 1
        if n_loose:
            sources.append((str(loose), host.find_importer(str(loose), "folder"), ""))

        def on_item(r: ItemResult) -> None:
            status, reason = r.status, r.reason
            if status == FAILED and reason.startswith("refused"):
                # said once: "x.zip!../a.dcm: refused (path climbs out ...)"
                status, reason = "refused", reason.removeprefix("refused").lstrip(": ")
            with self._lock:
                job.done += 1
                job.results.append(
                    {
                        "name": _rename(r.origin, names, up),
                        "status": status,
                        "reason": _clean(reason, up),
                    }
                )

        with open_library(self.library, create=False) as lib:
            options = ImportOptions(extra=extra, known_instance=lib.has_instance)
            for path, importer, client in sources:
                try:
                    # stored under the names the browser gave, not the staging paths
                    items = renamed_items(
                        importer.iter_items(path, options), lambda o: _rename(o, names, up)
                    )
                    lib.import_items(items, report=on_item, sources=[client or "upload"])
                except LibraryError:
                    raise
                except OwnscanError as exc:  # the source as a whole is refused (zip bomb...)
                    reason = getattr(exc, "reason", None) or str(exc)
                    with self._lock:
                        job.done += 1
                        job.results.append(
                            {
                                "name": client or "upload",
                                "status": "refused",
                                "reason": _clean(reason, up),
                            }
                        )
        with self._lock:
            tally = Counter(r["status"] for r in job.results)
        order = ["imported", "duplicate", "conflict", "document", "skipped", "refused", "failed"]
        order += sorted(set(tally) - set(order))
        job.summary = ", ".join(f"{tally[s]} {s}" for s in order if tally[s]) or "nothing found"


def _append(path: Path, data: bytes, offset: int) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        if os.fstat(fd).st_size != offset:  # the staged file and our count must agree
            raise ServiceError("staged file changed size; drop the upload and start again")
        os.lseek(fd, offset, os.SEEK_SET)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _members(path: Path) -> int:
    """About how many items a zip will give (its members, folders included), for the
    progress bar; 1 otherwise."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            return max(1, len(zf.infolist()))
    except Exception:  # not a zip (a disc image): one step, refined as items come
        return 1


def _rename(origin: str, names: dict[str, str], up: _Upload) -> str:
    """An item's origin with the staged path replaced by the client's name."""
    for staged, client in names.items():
        if origin == staged or origin.startswith(staged + "!"):
            return client + origin[len(staged) :]
    return _clean(origin, up)


_CLI_OPTION = re.compile(r"; -o [a-z_]+=[A-Z]+ raises it")


def _clean(text: str, up: _Upload) -> str:
    """A message with the staging folder taken out (it says nothing to the user), and the
    command line's advice said the page's way."""
    text = text.replace("give its password with --password", "give its password with the import")
    # the command line's options (-o max_ratio=N raises it) are not the page's to give
    text = _CLI_OPTION.sub("", text)
    return text.replace(str(up.folder / "loose") + "/", "").replace(str(up.folder), "upload")
