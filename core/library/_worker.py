"""Worker processes of a large import: they read, hash, parse and write; the parent indexes.

Why processes
-------------
Per file an import reads the bytes, hashes them (sha256), reads the header and writes a new
file into the library (the kernel's file creation is the largest part). In one process all of
that runs on one core and its threads hand the GIL back and forth after every system call. A
large import therefore hands this work to worker processes; the importing process keeps only
what needs the index: deciding, per file, whether it is new, a duplicate or a conflict, the
SQLite rows, the syncs and the report. Every decision is taken where it was taken before, in
the same order, so the outcome is the same; only the work moved.

The conversation (pickles over the worker's stdin and stdout)
-------------------------------------------------------------
1. ``("scan", chunk, [(key, path, parse)])``: the worker reads each file, hashes it and (for
   DICOM items) reads its header, keeps the bytes and answers ``("scanned", chunk, [...])``
   with per item ``(size, sha256, header, status, reason, is_pdf)``. Files larger than
   :data:`BIG_FILE` are not read: the answer says so and the parent handles them itself, so a
   worker never holds more than a few chunks of ordinary files in memory.
2. ``("write", chunk, [(key, final)], release)``: the parent has decided; the worker writes
   those kept bytes to their final paths through :meth:`Store.write` (an unnamed file linked
   when complete, exactly as the parent would) and answers ``("written", chunk, [(key,
   error)])``. ``release`` drops the chunk's remaining bytes.

Crash safety is unchanged: a worker only ever creates complete files under their final names,
and the parent syncs and commits a batch's rows only after every write of the batch has been
answered. The worker shares the writer's lock (the same open file description), so the library
stays locked while a worker lives; it ends when its stdin closes (the parent finished or died)
and writes nothing more once its parent is gone. It ignores SIGINT: a Ctrl-C reaches the
parent, which then waits for the writes of the batch it commits.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
import traceback
from concurrent.futures import Future
from pathlib import Path
from typing import IO, Any

from ownscan.core.dicom import NotDicom, ReadProblem
from ownscan.core.errors import OwnscanError
from ownscan.core.library._header import is_document_class, read_header_checked
from ownscan.core.library._image_check import image_problem

__all__: list[str] = []

# files larger than this are read by the parent, not kept in a worker: with two chunks of 32
# files a worker (plus one) in flight, two workers hold at most ~320 MB, four ~576 MB
BIG_FILE = 2 * 1024 * 1024

# what a worker says about one scanned item
SCAN_OK, SCAN_FAILED, SCAN_SKIPPED, SCAN_BIG = 0, 1, 2, 3
Scanned = tuple[int, int, str, Any, str, bool]  # status, size, sha256, header, reason, is_pdf


def worker_count() -> int:
    """Worker processes for a large import: one per usable core, at most 4 (more do not pay:
    the importing process then becomes the bottleneck); none on a single core."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return min(4, cores) if cores > 1 else 0


def examine(data: bytes, dicom: bool) -> Scanned:
    """What an import decides on, for the bytes of one item: their size and sha256 and, for a
    DICOM item, its header (or why it is skipped or failed); for another item, whether it is
    a PDF. The same function whether a worker or the importing process read the file."""
    size = len(data)
    sha = hashlib.sha256(data).hexdigest()
    if not dicom:
        return (SCAN_OK, size, sha, None, "", data.startswith(b"%PDF-"))
    try:
        header, plain = read_header_checked(data)
    except NotDicom as exc:
        return (SCAN_SKIPPED, size, sha, None, str(exc), False)
    except ReadProblem as exc:
        return (SCAN_FAILED, size, sha, None, str(exc), False)
    # the full check reads the header again (~7x the scan): only where the values the scan
    # picked up do not plainly hold together
    if not plain and not is_document_class(header.sop_class_uid):
        problem = image_problem(data)
        if problem:
            header = dataclasses.replace(header, problem=problem)
    return (SCAN_OK, size, sha, header, "", False)


# -- the worker ----------------------------------------------------------------------------------
def _scan(path: str, parse: bool, big: int) -> tuple[Scanned, bytes | None]:
    try:
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size > big:
                return (SCAN_BIG, 0, "", None, "", False), None
            data = f.read()
    except OSError as exc:
        return (SCAN_FAILED, 0, "", None, f"cannot read: {exc.strerror or exc}", False), None
    scanned = examine(data, parse)
    return scanned, data if scanned[0] == SCAN_OK else None


def _serve(root: Path, big: int, inp: IO[bytes], out: IO[bytes]) -> int:
    from ownscan.core.library._store import Store

    parent = os.getppid()
    store = Store(root)
    kept: dict[int, dict[int, bytes]] = {}
    pickle.dump(("ready", -1, None), out)  # started: the parent may now send work
    out.flush()
    while True:
        try:
            msg = pickle.load(inp)
        except EOFError:
            return 0
        kind, chunk = msg[0], msg[1]
        try:
            if kind == "scan":
                results, held = [], {}
                for key, path, parse in msg[2]:
                    scanned, data = _scan(path, parse, big)
                    results.append(scanned)
                    if data is not None:
                        held[key] = data
                kept[chunk] = held
                reply: tuple[Any, ...] = ("scanned", chunk, results)
            else:  # "write"
                if os.getppid() != parent:
                    return 1  # the parent is gone: write nothing more
                held = kept.get(chunk, {})
                errors: list[tuple[int, tuple[Any, ...] | None]] = []
                for key, final in msg[2]:
                    try:
                        store.write(held.pop(key), Path(final))
                        errors.append((key, None))
                    except OSError as exc:
                        errors.append((key, (exc.errno, exc.strerror, exc.filename)))
                if msg[3]:
                    kept.pop(chunk, None)
                reply = ("written", chunk, errors)
        except Exception:
            pickle.dump(("error", chunk, traceback.format_exc()), out)
            out.flush()
            return 1  # the parent stops the import and says why
        pickle.dump(reply, out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()


def main(argv: list[str]) -> int:
    """Serve one importing process (``argv``: the library folder, :data:`BIG_FILE`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # the answers go to a private copy of stdout; anything printed by accident goes to stderr
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    return _serve(Path(argv[0]), int(argv[1]), sys.stdin.buffer, out)


# -- the parent's side ---------------------------------------------------------------------------
class WorkerDied(OwnscanError):
    """A worker process ended or failed in the middle of an import."""


def _start_code() -> str:
    """The worker's ``python -S -c`` program: the parent's sys.path, and the three packages
    above this module as bare skeletons (their real ``__init__`` would import the whole
    library, ~50 ms of a worker's start for nothing: it needs only _header, _store, errors)."""
    import ownscan
    import ownscan.core
    import ownscan.core.library

    skeletons = [
        (m.__name__, list(m.__path__)) for m in (ownscan, ownscan.core, ownscan.core.library)
    ]
    return (
        f"import sys, types\nsys.path[:0] = {sys.path!r}\n"
        f"for name, path in {skeletons!r}:\n"
        "    sys.modules[name] = m = types.ModuleType(name)\n"
        "    m.__path__ = path\n"
        "from ownscan.core.library._worker import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )


class Worker:
    """One worker process and the thread that reads its answers."""

    def __init__(self, root: Path, lock_fd: int | None, on_write_error: Any) -> None:
        # -S: no site (the parent's sys.path is given); see _start_code
        self.proc = subprocess.Popen(
            [sys.executable, "-S", "-c", _start_code(), str(root), str(BIG_FILE)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            pass_fds=() if lock_fd is None else (lock_fd,),
            start_new_session=True,  # a Ctrl-C on the terminal goes to the parent only
        )
        self.scanned: queue.SimpleQueue[tuple[int, Any]] = queue.SimpleQueue()
        self.futures: dict[int, dict[int, Future[None]]] = {}
        self._lock = threading.Lock()
        self._on_write_error = on_write_error
        self.failure: str | None = None
        self.ready = False  # set by the reader thread when the worker has started
        self.used = False
        self._reader = threading.Thread(target=self._read, name="ownscan-worker", daemon=True)
        self._reader.start()

    def send(self, msg: tuple[Any, ...]) -> None:
        if self.failure is not None:
            raise WorkerDied(self.failure)
        self.used = True
        stdin = self.proc.stdin
        assert stdin is not None
        try:
            stdin.write(pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL))
            stdin.flush()
        except (BrokenPipeError, ValueError) as exc:
            raise WorkerDied(self.failure or f"import worker gone ({exc})") from None

    def future(self, chunk: int, key: int) -> Future[None]:
        fut: Future[None] = Future()
        with self._lock:
            if self.failure is not None:
                fut.set_exception(WorkerDied(self.failure))
            else:
                self.futures.setdefault(chunk, {})[key] = fut
        return fut

    def result(self, chunk: int) -> list[Scanned]:
        """The answer to ``("scan", chunk, ...)`` (answers come in the order asked)."""
        got, payload = self.scanned.get()
        if got != chunk:
            raise WorkerDied(str(payload) if got < 0 else f"import worker answered {got}")
        return list(payload)

    def _read(self) -> None:
        stdout = self.proc.stdout
        assert stdout is not None
        why = "import worker process ended unexpectedly"
        try:
            while True:
                kind, chunk, payload = pickle.load(stdout)
                if kind == "ready":
                    self.ready = True
                elif kind == "scanned":
                    self.scanned.put((chunk, payload))
                elif kind == "written":
                    with self._lock:
                        futures = self.futures.get(chunk, {})
                        done = [(futures.pop(key), err) for key, err in payload]
                    for fut, err in done:
                        if err is None:
                            fut.set_result(None)
                        else:
                            self._on_write_error()
                            errno_, strerror, filename = err
                            args = (errno_, strerror) if filename is None else err
                            fut.set_exception(OSError(*args))
                else:
                    why = f"import worker failed:\n{payload}"
                    break
        except (EOFError, OSError, pickle.UnpicklingError):
            pass
        with self._lock:
            self.failure = why
            pending = [f for fs in self.futures.values() for f in fs.values()]
            self.futures.clear()
        for fut in pending:
            self._on_write_error()
            fut.set_exception(WorkerDied(why))
        self.scanned.put((-1, why))

    def close(self) -> None:
        """Let the worker finish what it was given and end (waits for it); one that was
        given nothing (the import ended while it started) is simply stopped."""
        if not self.used and self.proc.poll() is None:
            self.proc.kill()
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
