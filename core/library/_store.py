"""The files of a library: content-addressed, written atomically, private.

Layout under the library folder (every folder 0700, every file 0600)::

    index.sqlite          the index (SQLite, WAL)
    objects/ab/abcdef...  instances and documents, named by the sha256 of their bytes
    conflicts/abcdef...   files whose SOP Instance UID the library holds with other bytes
    tmp/                  files being written; anything here after a crash is incomplete
    lock                  held (flock) by the one process that writes

A file is written without a name (``O_TMPFILE`` in its final folder) and linked to its final
name once complete; where the file system or the kernel cannot do that (or the final name is
taken by an incomplete file), it is written to ``tmp/`` and renamed. Only after the file system
has been synced (``syncfs``, once per batch of files) does the index row that names it get
committed. So at any moment of a crash every row names a complete file; the reverse case, a
complete file without a row, is an orphan that :meth:`Library.check` adopts. A file being
written when the process dies leaves nothing (an unnamed file) or a partial file in ``tmp/``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import itertools
import os
import time
from pathlib import Path

from ownscan.core import _unnamed
from ownscan.core.errors import OwnscanError

__all__ = ["LibraryBusy", "Staged", "Store"]

DIR_MODE = 0o700
FILE_MODE = 0o600


class LibraryBusy(OwnscanError):
    """Another process is writing to the library."""


def _load_syncfs() -> object | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        return libc.syncfs
    except (OSError, AttributeError):
        return None


_SYNCFS = _load_syncfs()


class Store:
    """Paths and durable writes inside one library folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.objects = root / "objects"
        self.conflicts = root / "conflicts"
        self.tmp = root / "tmp"
        self.index = root / "index.sqlite"
        self._lock_fd: int | None = None
        self._lock_depth = 0
        self._dirs_made: set[str] = set()
        self._serial = itertools.count()  # unique temporary names, also across threads
        # unnamed temporary files until the file system says it cannot make them
        self._unnamed = _unnamed.AVAILABLE

    # -- setup ---------------------------------------------------------------------------------
    def create(self) -> None:
        """Make the folders (0700) if missing."""
        for d in (self.root, self.objects, self.conflicts, self.tmp):
            make_private_dir(d)

    # -- names ---------------------------------------------------------------------------------
    def object_path(self, sha256: str) -> Path:
        return self.objects / sha256[:2] / sha256

    def conflict_path(self, sha256: str) -> Path:
        return self.conflicts / sha256

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    # -- writing -------------------------------------------------------------------------------
    def write(self, data: bytes, final: Path) -> None:
        """Write ``data`` to ``final``, which appears only when complete (not yet synced: see
        sync). Thread-safe."""
        parent = final.parent
        key = str(parent)
        if key not in self._dirs_made:
            make_private_dir(parent)
            self._dirs_made.add(key)
        if self._unnamed and self._write_unnamed(data, key, final):
            return
        tmp = self.tmp / f"{final.name}.{os.getpid()}.{next(self._serial)}.part"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            _write_all(fd, data)
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        os.close(fd)
        os.replace(tmp, final)

    def place(self, src: Path, final: Path) -> None:
        """Make the complete file ``src`` also appear as ``final`` (a hard link, or a copy
        where the file system has none); nothing when ``final`` exists already."""
        make_private_dir(final.parent)
        try:
            os.link(src, final)
        except FileExistsError:
            return
        except OSError:  # no hard links here (FAT, some network shares)
            self.write(src.read_bytes(), final)

    def _write_unnamed(self, data: bytes, parent: str, final: Path) -> bool:
        """Write ``data`` to an unnamed file in ``parent`` and link it as ``final``.

        One file creation instead of two (a ``tmp/`` name, then the rename), and a crash
        mid-write leaves nothing behind. False when this cannot be done here (the file system
        has no ``O_TMPFILE``, or ``final`` exists, e.g. incomplete): the caller writes through
        ``tmp/`` then.
        """
        fd = _unnamed.open_unnamed(parent, os.O_WRONLY, FILE_MODE)
        if fd is None:  # refused by the file system or kernel: tmp/ + rename from now on
            self._unnamed = False
            return False
        try:
            _write_all(fd, data)
            _unnamed.link_unnamed(fd, final)
        except FileExistsError:
            return False
        finally:
            os.close(fd)
        return True

    def stage(self, src: int, size: int) -> Staged:
        """Copy ``size`` bytes of the open file ``src`` into a new file of the library that
        has no final name yet (an unnamed file, or a name in ``tmp/``), in the kernel
        (``copy_file_range``, else ``sendfile``, else read and write). Thread-safe.

        The caller reads the copy back (:meth:`Staged.read`), so the bytes it hashes and
        parses are those kept, whatever happens to the source meanwhile; then it names the
        copy (:meth:`Staged.keep`) or drops it (:meth:`Staged.discard`). A crash before
        ``keep`` leaves nothing, or a file in ``tmp/`` (removed by the next writer).
        """
        fd = tmp = None
        if self._unnamed:
            fd = _unnamed.open_unnamed(self.objects, os.O_RDWR, FILE_MODE)
            if fd is None:  # refused by the file system or kernel: tmp/ from now on
                self._unnamed = False
        if fd is None:
            tmp = self.tmp / f"stage.{os.getpid()}.{next(self._serial)}.part"
            fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, FILE_MODE)
        staged = Staged(self, fd, tmp, size)
        try:
            _copy_all(src, fd, size)
        except BaseException:
            staged.discard()
            raise
        return staged

    def sync(self) -> None:
        """Make every file written so far durable (data and directory entries)."""
        fd = os.open(self.root, os.O_RDONLY)
        try:
            if _SYNCFS is not None and _SYNCFS(fd) == 0:  # type: ignore[operator]
                return
            os.sync()
        finally:
            os.close(fd)

    # -- the writer's lock -----------------------------------------------------------------------
    def lock(self, wait: float = 5.0) -> None:
        """Take the writer's lock (re-entrant); raise LibraryBusy after ``wait`` seconds."""
        if self._lock_depth:
            self._lock_depth += 1
            return
        fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT, FILE_MODE)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise LibraryBusy(
                        f"{self.root}: the library is busy (another ownscan process is writing "
                        "to it); try again when it has finished"
                    ) from None
                time.sleep(0.1)
        self._lock_fd = fd
        self._lock_depth = 1

    @property
    def lock_fd(self) -> int | None:
        """The descriptor holding the writer's lock (None when not held); a worker process
        given it shares the lock, which then lasts as long as the worker too."""
        return self._lock_fd

    def unlock(self) -> None:
        if not self._lock_depth:
            return
        self._lock_depth -= 1
        if self._lock_depth == 0 and self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None


class Staged:
    """A complete copy made by :meth:`Store.stage`, not yet named (see there)."""

    def __init__(self, store: Store, fd: int, tmp: Path | None, size: int) -> None:
        self._store = store
        self._fd: int | None = fd
        self._tmp = tmp  # its name in tmp/ (None: an unnamed file)
        self.size = size

    def read(self) -> bytes:
        """The copy's bytes (as written: no one else can write to it)."""
        assert self._fd is not None
        parts = []
        done = 0
        while done < self.size:
            part = os.pread(self._fd, self.size - done, done)
            if not part:
                raise OSError(errno.EIO, "the library's copy is shorter than written")
            parts.append(part)
            done += len(part)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def keep(self, final: Path) -> None:
        """Name the copy ``final`` (never over a complete file: an existing ``final`` is one
        an interrupted write left, and is replaced) and close it."""
        assert self._fd is not None
        store = self._store
        parent = final.parent
        key = str(parent)
        if key not in store._dirs_made:
            make_private_dir(parent)
            store._dirs_made.add(key)
        try:
            if self._tmp is None:
                try:
                    _unnamed.link_unnamed(self._fd, final)
                    return
                except FileExistsError:  # name it in tmp/ first, then replace
                    self._tmp = store.tmp / f"{final.name}.{os.getpid()}.{next(store._serial)}.part"
                    _unnamed.link_unnamed(self._fd, self._tmp)
            os.replace(self._tmp, final)
            self._tmp = None
        finally:
            self.discard()

    def discard(self) -> None:
        """Drop the copy (nothing when it was named or dropped already)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
            self._tmp = None


# what copy_file_range and sendfile fail with where they cannot copy between these two files
_NO_KERNEL_COPY = frozenset({errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP})


def _copy_all(src: int, dst: int, size: int) -> None:
    """Copy ``size`` bytes from offset 0 of ``src`` to ``dst`` (at its offset 0), in the
    kernel where it can (no copy through this process's memory)."""
    done = 0
    for copy in (_copy_file_range, _sendfile):
        try:
            while done < size:
                n = copy(src, dst, size - done, done)
                if n == 0:
                    raise OSError(errno.EIO, "the file ended while it was copied")
                done += n
            return
        except OSError as exc:
            if exc.errno not in _NO_KERNEL_COPY or done:
                raise
    while done < size:  # neither: through this process
        data = os.pread(src, min(size - done, 1 << 24), done)
        if not data:
            raise OSError(errno.EIO, "the file ended while it was copied")
        _write_all_at(dst, data, done)
        done += len(data)


def _copy_file_range(src: int, dst: int, count: int, offset: int) -> int:
    if not hasattr(os, "copy_file_range"):
        raise OSError(errno.ENOSYS, "no copy_file_range")
    return os.copy_file_range(src, dst, count, offset, offset)


def _sendfile(src: int, dst: int, count: int, offset: int) -> int:
    os.lseek(dst, offset, os.SEEK_SET)
    return os.sendfile(dst, src, offset, count)


def _write_all_at(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view = view[n:]
        offset += n


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) and make it 0700."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o777 != DIR_MODE:
        path.chmod(DIR_MODE)
