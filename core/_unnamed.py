"""Files that appear under their name only once complete (Linux ``O_TMPFILE``).

A file opened with ``O_TMPFILE`` in a folder has no name, so a process killed while writing it
leaves nothing behind; ``linkat`` through ``/proc/self/fd`` names it once it is complete, and
never over an existing name. The library's store (every instance) and the NIfTI exporter (every
output file) write this way; each keeps its own fallback for file systems and kernels that
cannot (the store: a name in ``tmp/`` and a rename; the exporter: a hidden ``.part`` name).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Collection

__all__ = ["AVAILABLE", "REFUSED", "link_unnamed", "open_unnamed"]

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
