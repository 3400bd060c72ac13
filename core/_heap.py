"""A steady C heap for the commands that draw volumes: one glibc malloc arena for all threads.

Why
---
glibc gives each thread that allocates while another holds the heap's lock an arena of its
own, and memory freed in an arena is kept there for that arena's next allocations (given
back only when its top is large enough). The render path makes its slab temporaries (the
quantisation's float32 slabs, the gradient's int32 block sums, a few MiB each) on the pool's
worker threads and the next stage's on the calling thread: each freed lot stayed resident in
its own arena while the next stage took fresh memory in another. With one arena
(``mallopt(M_ARENA_MAX, 1)``) the next stage reuses what the last one freed. Measured on a
512x512x300 CT (``ownscan render``, peak RSS of the command alone, ``OWNSCAN_STEADY_HEAP=0``
against one arena): mip 310 -> 297 MiB, shaded dvr 392 -> 376 MiB (docs/BENCH.md, Memory).

Holding glibc's mmap threshold fixed (``M_MMAP_THRESHOLD`` at 256 KiB to 8 MiB, so that large
temporaries are mmaps of their own) saved the same but made the upload and the gradient take
60-90 % more CPU on this VM (a fresh mapping's page faults per temporary, and the heap's top
given back and faulted in again at every free). One arena costs little: the worker threads
and the calling thread rarely allocate at the same moment (numpy's loops hold no lock).

When
----
Only the commands that put volumes into GL textures (``cli._HUGE_PAGE_COMMANDS``: ``render``,
``view``, ``serve``, ``bench``), once at start, before any thread; on glibc; not when the
user set the arenas (``MALLOC_ARENA_MAX`` or ``glibc.malloc.arena_max`` in
``GLIBC_TUNABLES``). ``OWNSCAN_STEADY_HEAP=0`` turns it off.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Mapping
from functools import cache
from typing import Any

__all__ = ["SWITCH", "one_arena", "user_chose"]

SWITCH = "OWNSCAN_STEADY_HEAP"  # "0": leave glibc's arenas as they are
_M_ARENA_MAX = -8  # mallopt's parameter number (malloc.h)


@cache
def _libc() -> Any | None:
    """glibc (None elsewhere: musl's ``mallopt`` does nothing, macOS and Windows have none)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    if not hasattr(libc, "mallopt") or not hasattr(libc, "gnu_get_libc_version"):
        return None
    return libc


def user_chose(environ: Mapping[str, str]) -> bool:
    """Whether ``environ`` sets glibc's arenas itself, or turns this off."""
    if environ.get(SWITCH) == "0" or "MALLOC_ARENA_MAX" in environ:
        return True
    return "glibc.malloc.arena_max" in environ.get("GLIBC_TUNABLES", "")


def one_arena(environ: Mapping[str, str] | None = None) -> bool:
    """Let every thread allocate from glibc's one main arena (see the module). True when set;
    False without glibc or when the user chose (:func:`user_chose`)."""
    libc = _libc()
    if libc is None or user_chose(os.environ if environ is None else environ):
        return False
    return bool(libc.mallopt(_M_ARENA_MAX, 1))
