"""Files on the user's disk: the one folder walk, and files that appear only once complete.

Public API::

    from ownscan.core.files import PartFile, is_litter, walk_files

    for path in walk_files(folder):   # every regular file, sorted per folder, no litter
        ...

Core reads a folder itself (``assemble(folder)``) and so do the built-in importers (the
folder importer; the disc importer for a disc copied to a folder): one walk, one rule for
litter, so that the same folder gives the same files whichever way it is read.

:class:`PartFile` is how the NIfTI exporter writes every output file, and how a third-party
exporter can: a killed export then leaves nothing half-written behind a real name, and an
existing file is never overwritten. Unnamed (Linux ``O_TMPFILE``, linked once complete) where
the file system allows it, else a hidden ``.part`` name in the same folder.

:func:`rename_new` moves a folder written as a whole (the ``share`` exporter's package, built
under a hidden name) into place without ever replacing what is there.
"""

from __future__ import annotations

import errno
import itertools
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

from ownscan.core import _unnamed

__all__ = ["PartFile", "is_litter", "rename_new", "walk_entries", "walk_files"]

_LITTER_NAMES = frozenset({".ds_store", "thumbs.db", "desktop.ini", "ehthumbs.db"})


def is_litter(parts: tuple[str, ...]) -> bool:
    """True for macOS / Windows litter: ``__MACOSX/``, ``.DS_Store``, ``._x``, ``Thumbs.db``.

    Parameters
    ----------
    parts
        The path components of a file, the file's name last.
    """
    if any(p == "__MACOSX" for p in parts[:-1]):
        return True
    last = parts[-1]
    return last.lower() in _LITTER_NAMES or last.startswith("._")


def walk_files(root: Path) -> Iterator[Path]:
    """Every regular file under ``root`` (:func:`walk_entries` without what it passes over)."""
    for path, why in walk_entries(root):
        if why is None:
            yield path


def _passed_over(entry: os.DirEntry[str]) -> str:
    """Why an entry that is neither a folder nor a regular file is passed over (it is never
    opened: a FIFO would wait forever, a device may never end)."""
    try:
        mode = os.stat(entry.path).st_mode
    except OSError as exc:  # only a link gets here without a target
        return f"a link that leads to no file ({exc.strerror or exc})"
    if stat.S_ISFIFO(mode):
        kind = "a FIFO"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        kind = "a device"
    elif stat.S_ISSOCK(mode):
        kind = "a socket"
    else:
        kind = "not a file"
    return f"not a regular file ({kind}); not opened"


def walk_entries(root: Path) -> Iterator[tuple[Path, str | None]]:
    """Every regular file under ``root``, sorted per folder, each real folder once.

    Symbolic links to folders are followed, but each real folder is visited once, so a link
    loop (``a/loop -> ..``) ends instead of running forever. Folders and files that cannot be
    read are passed over; litter (:func:`is_litter`) is left out.

    Parameters
    ----------
    root
        The folder to walk.

    Yields
    ------
    (Path, str or None)
        Each file, depth first, in name order within a folder, with None; and each entry that
        is neither a folder nor a regular file (a FIFO, a device, a link that leads to no
        file) with why it is passed over, so that an import can name it.
    """
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = folder.stat()
        except OSError:
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:
            continue
        seen.add(key)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        subdirs = []
        for entry in entries:
            # macOS / Windows litter is never DICOM and only clutters reports: the same rule as
            # the disc and zip importers (a __MACOSX folder, .DS_Store, ._x, Thumbs.db...)
            if entry.name == "__MACOSX" or is_litter((entry.name,)):
                continue
            try:
                if entry.is_dir(follow_symlinks=True):
                    subdirs.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=True):
                    yield Path(entry.path), None
                else:
                    yield Path(entry.path), _passed_over(entry)
            except OSError:
                continue
        stack.extend(reversed(subdirs))


# open(O_TMPFILE) errors after which a named .part file is used instead
_NO_TMPFILE = _unnamed.REFUSED | {errno.ENOENT}
_NO_LINK = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK, errno.EXDEV}
_serial = itertools.count()


class PartFile:
    """A new file in ``folder`` that appears under its final name only once complete.

    Use it as a context manager: :meth:`write` at any offsets (``fd`` is the descriptor, for
    writers that want it), then :meth:`commit` with a function giving the name to try.

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
        if named is None and _unnamed.AVAILABLE:
            fd = _unnamed.open_unnamed(folder, os.O_RDWR, 0o666, refused=_NO_TMPFILE)
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

    def commit(self, name: Callable[..., str | os.PathLike[str]]) -> Path:
        """Give the file its name: ``name()`` returns a path in the folder to try; it is
        called again (the name was taken meanwhile) until a free one is found."""
        while True:
            final = Path(name())
            try:
                if self.path is None:
                    _unnamed.link_unnamed(self.fd, final)
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
    else a check followed by ``os.rename`` (a small window in which an empty folder created by
    another process at ``dst`` at that very moment would be replaced).
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
