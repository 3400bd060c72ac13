"""Files that appear under their name only once complete (Linux ``O_TMPFILE``).

A file opened with ``O_TMPFILE`` in a folder has no name, so a process killed while writing it
leaves nothing behind; ``linkat`` through ``/proc/self/fd`` names it once it is complete, and
never over an existing name. The library's store (every instance) and the exporters (every
output file, through :class:`PartFile`) write this way; each keeps its own fallback for file
systems and kernels that cannot (the store: a name in ``tmp/`` and a rename; :class:`PartFile`:
a hidden ``.part`` name). A folder written as a whole (a share package) is built under a hidden
name and renamed into place by :func:`rename_new`, which never replaces anything.
"""

from __future__ import annotations

import errno
import itertools
import os
from collections.abc import Collection
from pathlib import Path
from typing import Any

__all__ = ["AVAILABLE", "REFUSED", "PartFile", "link_unnamed", "open_unnamed", "rename_new"]

_O_TMPFILE = getattr(os, "O_TMPFILE", 0)  # Linux >= 3.11
_PROC_FD = "/proc/self/fd"
# worth trying here: the flag exists and /proc can name the file afterwards
AVAILABLE = bool(_O_TMPFILE) and os.path.isdir(_PROC_FD)
# what open(O_TMPFILE) fails with where the file system or the kernel cannot make unnamed files
REFUSED = frozenset({errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOSYS})


def open_unnamed(
    folder: str | os.PathLike[str], flags: int, mode: int, refused: Collection[int] = REFUSED
) -> int | None:
    """A descriptor of a new unnamed file in ``folder`` (``flags``: ``os.O_WRONLY`` or
    ``os.O_RDWR``, with ``mode`` as its permissions once named), or None when the open fails
    with an errno in ``refused`` (the caller then writes through a named temporary file)."""
    try:
        return os.open(folder, flags | _O_TMPFILE, mode)
    except OSError as exc:
        if exc.errno in refused:
            return None
        raise


def link_unnamed(fd: int, final: str | os.PathLike[str]) -> None:
    """Give the unnamed file ``fd`` the name ``final``; FileExistsError when it is taken
    (nothing is replaced)."""
    # link(2) does not follow the /proc magic link, linkat(AT_SYMLINK_FOLLOW) does; os.link
    # uses linkat only when given a dir fd (ignored: the source path is absolute). No
    # CAP_DAC_READ_SEARCH needed, unlike AT_EMPTY_PATH.
    os.link(f"{_PROC_FD}/{fd}", final, src_dir_fd=fd, follow_symlinks=True)


# open(O_TMPFILE) errors after which a named .part file is used instead
_NO_TMPFILE = REFUSED | {errno.ENOENT}
_NO_LINK = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK, errno.EXDEV}
_serial = itertools.count()


class PartFile:
    """A new file in ``folder`` that appears under its final name only once complete.

    Unnamed (``O_TMPFILE``) where the file system allows it, so a killed export leaves
    nothing; else, or when ``named`` (a suffix: the writer needs a path, as ``nibabel.save``
    does), a hidden ``.NAME.part`` file in the same folder. :meth:`commit` links it to a
    name that does not exist yet (never overwriting); leaving the ``with`` block without
    committing removes it. Permissions are those of ``open(path, "wb")``.
    """

    def __init__(self, folder: Path, *, named: str | None = None) -> None:
        self.folder = folder
        self.path: Path | None = None
        self.fd = -1
        if named is None and AVAILABLE:
            fd = open_unnamed(folder, os.O_RDWR, 0o666, refused=_NO_TMPFILE)
            if fd is not None:
                self.fd = fd
                return
        self.path = folder / f".ownscan-{os.getpid()}-{next(_serial)}.part{named or ''}"
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)

    def __enter__(self) -> PartFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()

    def write(self, data: bytes | memoryview, offset: int) -> None:
        """Write all of ``data`` at ``offset``."""
        view = memoryview(data).cast("B")
        if not hasattr(os, "pwrite"):  # Windows
            os.lseek(self.fd, offset, os.SEEK_SET)
        while view:
            n = (
                os.pwrite(self.fd, view, offset)
                if hasattr(os, "pwrite")
                else os.write(self.fd, view)
            )
            view, offset = view[n:], offset + n

    def commit(self, name: Any) -> Path:
        """Give the file its name: ``name()`` returns a path in the folder to try; it is
        called again (the name was taken meanwhile) until a free one is found."""
        while True:
            final = Path(name())
            try:
                if self.path is None:
                    link_unnamed(self.fd, final)
                else:
                    self._link_named(final)
            except FileExistsError:
                continue
            self.discard()
            return final

    def _link_named(self, final: Path) -> None:
        assert self.path is not None
        try:
            os.link(self.path, final)
        except OSError as exc:  # no hard links here (FAT, some network shares): rename
            if exc.errno not in _NO_LINK:
                raise
            if final.exists():
                raise FileExistsError(errno.EEXIST, "exists", str(final)) from None
            os.rename(self.path, final)
            self.path = None

    def discard(self) -> None:
        """Close the file and remove its temporary name, if any (idempotent)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path = None


_RENAME_NOREPLACE = 1  # linux/fs.h


def rename_new(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Rename ``src`` (a file or a folder) to ``dst``, which must not exist: FileExistsError
    when it does, even when it is an empty folder (which ``os.rename`` would replace).

    ``renameat2(RENAME_NOREPLACE)`` where the C library and the file system have it (atomic);
    else a check followed by ``os.rename`` (a small window in which a folder created by
    another process at ``dst`` at that very moment could be replaced if it is empty).
    """
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    fn = getattr(libc, "renameat2", None)
    if fn is not None:
        at_fdcwd = -100
        rc = fn(at_fdcwd, os.fsencode(src), at_fdcwd, os.fsencode(dst), _RENAME_NOREPLACE)
        if rc == 0:
            return
        err = ctypes.get_errno()
        if err == errno.EEXIST:
            raise FileExistsError(err, os.strerror(err), os.fspath(dst))
        if err not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise OSError(err, os.strerror(err), os.fspath(src))
    if os.path.lexists(dst):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), os.fspath(dst))
    os.rename(src, dst)
