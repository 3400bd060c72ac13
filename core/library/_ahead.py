"""Large files copied ahead: copied into the library, hashed and parsed by threads while the
items before them are decided.

Why
---
Per large file (a 512x512 CT slice is 512 KB) nearly all of an import's work is moving bytes
and hashing them (sha256). Reading a file into memory and writing it from there cost this
machine's kernel 3-7x what ``cp``'s in-kernel copy does (``perf``: the write's copy from user
memory), and the importing process did it file after file for the first 200 files (the worker
processes of ``_worker`` pay for their start only on many small files, whose header parsing,
Python under the GIL, dominates). So a large file is copied by the kernel
(:meth:`Store.stage <ownscan.core.library._store.Store.stage>`: ``copy_file_range``) into an
unnamed file of the library, read back from there (the page cache) and hashed and parsed by
:func:`~ownscan.core.library._worker.examine`, the function every path uses; none of that
holds the GIL but the header walk, so threads use every core.

What stays the same
-------------------
The bytes hashed and parsed are read from the library's own copy, which nobody else can
write: a source changing during the import cannot give a file a name that is not its
content's. The items are still decided, reported, named (linked) and committed in their order
by the importing process; a copy not kept (a duplicate, a refused file) is dropped unnamed, and
a crash leaves no name for it (see ``Store.stage``), so crash safety, dedupe and the report
are unchanged. Where the library cannot take the copy, the file is read as before and the
write that follows the decision says what fails. At most :attr:`ReadAhead.depth` items and
:attr:`ReadAhead.max_bytes` bytes are ahead at any time.
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from ownscan.core.library._store import Staged, Store
from ownscan.core.library._worker import SCAN_OK, Scanned, _scan, examine
from ownscan.core.plugin_types import DICOM, SourceItem

__all__: list[str] = []

# a file read ahead: what examine() says about it and, when it is usable, the library's copy
# of it (or, where none could be made, its bytes)
Read = tuple[Scanned, bytes | None, Staged | None]
_WHOLE = 1 << 62  # _scan's size limit: none


def copy_ahead(path: str, dicom: bool, store: Store) -> Read:
    """Copy the file ``path`` into the library unnamed, then examine the copy (see the
    module's docstring); a file that cannot be read is examined by :func:`_scan`, which says
    why, and one the library cannot take a copy of is read as before."""
    try:
        src = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return (*_scan(path, dicom, _WHOLE), None)
    try:
        staged = store.stage(src, os.fstat(src).st_size)
        try:
            data = staged.read()
        except BaseException:
            staged.discard()
            raise
    except OSError:
        return (*_scan(path, dicom, _WHOLE), None)
    finally:
        os.close(src)
    try:
        scanned = examine(data, dicom)
    except BaseException:
        staged.discard()
        raise
    if scanned[0] != SCAN_OK:
        staged.discard()
        return scanned, None, None
    return scanned, None, staged


def copier_count() -> int:
    """Threads copying ahead: one per usable core, at least 2 (copying overlaps with the
    importing process's decisions even on one core), at most 4."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(2, min(4, cores))


def drop(read: Future[Read]) -> None:
    """Drop the copy of a file copied ahead that will not be decided (the import stopped)."""
    if read.cancel():
        return
    with contextlib.suppress(Exception):  # (a failure of a file not decided is not reported)
        staged = read.result()[2]
        if staged is not None:
            staged.discard()


class ReadAhead:
    """Copies the large files of an item stream ahead (see the module's docstring).

    Parameters
    ----------
    store
        The library's files.
    threads
        Copying threads (0: nothing is copied ahead).
    min_size
        Files with a path of at least this many bytes are copied ahead; others are left to
        the caller (a small file is not worth a thread's hand-off; the worker processes take
        them).
    max_bytes
        At most this many bytes of files ahead at once (one file always).
    """

    def __init__(self, store: Store, threads: int, min_size: int, max_bytes: int) -> None:
        self.store = store
        self.min_size = min_size
        self.max_bytes = max_bytes
        self.depth = 2 * threads
        self._pool = (
            ThreadPoolExecutor(threads, thread_name_prefix="ownscan-copy") if threads else None
        )

    def iterate(
        self, items: Iterable[SourceItem], seen: Callable[[SourceItem], None]
    ) -> Generator[tuple[SourceItem, Future[Read] | None], None, None]:
        """``items`` in their order, each with the future of its :func:`copy_ahead` (None: not
        copied ahead). ``seen(item)`` is called as soon as an item is taken from ``items`` (so its
        download can be removed even if the import stops before it is reached). An exception
        raised by ``items`` comes after the items taken before it."""
        window: deque[tuple[SourceItem, Future[Read] | None, int]] = deque()
        source = iter(items)
        try:
            yield from self._stream(window, source, seen)
        finally:
            # the import stopped before these: drop their copies
            for _, left, _ in window:
                if left is not None:
                    drop(left)

    def _stream(
        self,
        window: deque[tuple[SourceItem, Future[Read] | None, int]],
        source: Iterator[SourceItem],
        seen: Callable[[SourceItem], None],
    ) -> Iterator[tuple[SourceItem, Future[Read] | None]]:
        ahead = 0  # bytes of the window's files
        error: BaseException | None = None
        while True:
            # fill: large files only; the first other item ends the window (it is handled
            # when reached, as without read ahead)
            while error is None and len(window) < max(1, self.depth) and ahead < self.max_bytes:
                if window and window[-1][1] is None:
                    break
                try:
                    item = next(source)
                except StopIteration:
                    error = StopIteration()
                    break
                except Exception as exc:  # the source failed: first the items taken before it
                    error = exc
                    break
                seen(item)
                size = self._size(item)
                if size is None:
                    window.append((item, None, 0))
                    continue
                assert self._pool is not None and item.path is not None
                dicom = item.media_type == DICOM
                copying = self._pool.submit(copy_ahead, str(item.path), dicom, self.store)
                window.append((item, copying, size))
                ahead += size
            if not window:
                if error is None or isinstance(error, StopIteration):
                    return
                raise error
            item, future, size = window.popleft()
            ahead -= size
            yield item, future

    def _size(self, item: SourceItem) -> int | None:
        """The size of a file to copy ahead, or None for an item that is not one."""
        if self._pool is None or item.path is None or item.problem is not None or item.skip:
            return None
        try:
            size = os.stat(item.path).st_size
        except OSError:
            return None  # the caller reads it and says why it cannot
        return size if size >= self.min_size else None

    def close(self) -> None:
        """Wait for the copies in flight and end the threads (after :meth:`iterate`'s stream
        was closed, which drops the copies not taken)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
