"""A steady C heap for the commands that draw volumes: glibc's ``mmap`` threshold held fixed.

Why
---
glibc serves an allocation of ``M_MMAP_THRESHOLD`` bytes or more (128 KiB at start) with its
own ``mmap``, given back to the system when freed. But each time such a block is freed, glibc
raises the threshold to the block's size (up to 32 MiB on 64-bit), and the trim threshold to
twice that: from then on the render path's temporaries (numpy's slab buffers of a few MiB:
the quantisation's float32 slabs, the gradient's int32 sums, the block bounds) come from the
heap and the threads' arenas, and once freed they stay resident there, in pieces the heap
cannot give back. Measured on a 512x512x300 CT (``ownscan render``, peak RSS of the command
alone, ``OWNSCAN_STEADY_HEAP=0`` against held at 1 MiB): mip 308 -> 297 MiB, shaded dvr 396
-> 376 MiB (docs/BENCH.md, Memory; 256 KiB gave the same). Holding it
(``mallopt(M_MMAP_THRESHOLD, ...)``, which also stops the dynamic change of the trim
threshold) keeps every large temporary an ``mmap`` of its own, returned whole when freed.

The cost is a fresh mapping (its page faults) per large temporary instead of reused heap:
:data:`MMAP_THRESHOLD` is 1 MiB, so the slab-sized buffers are mapped and the many small ones
are not.

When
----
Only the commands that put volumes into GL textures (``cli._HUGE_PAGE_COMMANDS``: ``render``,
``view``, ``serve``, ``bench``), once at start, on glibc; not when the user set the threshold
(``MALLOC_MMAP_THRESHOLD_`` or ``glibc.malloc.mmap_threshold`` in ``GLIBC_TUNABLES``).
``OWNSCAN_STEADY_HEAP=0`` turns it off.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Mapping
from functools import cache
from typing import Any

__all__ = ["MMAP_THRESHOLD", "SWITCH", "hold_mmap_threshold", "user_chose"]

MMAP_THRESHOLD = 1 << 20  # bytes: a block this large or larger is an mmap of its own
SWITCH = "OWNSCAN_STEADY_HEAP"  # "0": leave glibc's dynamic threshold as it is
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)


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
    """Whether ``environ`` sets glibc's mmap threshold itself, or turns this off."""
    if environ.get(SWITCH) == "0" or "MALLOC_MMAP_THRESHOLD_" in environ:
        return True
    return "glibc.malloc.mmap_threshold" in environ.get("GLIBC_TUNABLES", "")


def hold_mmap_threshold(environ: Mapping[str, str] | None = None) -> bool:
    """Fix glibc's mmap threshold at :data:`MMAP_THRESHOLD` (see the module). True when set;
    False without glibc or when the user chose (:func:`user_chose`)."""
    libc = _libc()
    if libc is None or user_chose(os.environ if environ is None else environ):
        return False
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
