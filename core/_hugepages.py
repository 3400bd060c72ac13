"""Transparent huge pages for the C libraries' large blocks: the ``ownscan`` process runs once
more, at start, with glibc's ``glibc.malloc.hugetlb=1`` tunable.

Why
---
A GL texture of a volume is allocated by the driver (Mesa's llvmpipe without a GPU: ``malloc``
and clearing 150 MiB for a 512x512x300 CT), and every 4 KiB page of it costs a page fault
when first touched: about 80 ms of that CT's first frame, 40 % of its upload. glibc 2.35 and
later mark their large ``mmap`` blocks for transparent huge pages (``madvise(MADV_HUGEPAGE)``:
one fault per 2 MiB) when the ``glibc.malloc.hugetlb`` tunable is 1, and the kernel honours it
when ``/sys/kernel/mm/transparent_hugepage/enabled`` is ``madvise`` (the usual default;
``always`` gives huge pages without asking, ``never`` none). numpy already asks for its own
arrays; the tunable reaches the libraries numpy does not allocate for (the GL driver,
decoders). glibc reads the tunable from ``GLIBC_TUNABLES`` only when a process starts, so
:func:`reexec_for_huge_pages` starts the same command line again in the same process
(``os.execve``: same process id, standard streams, arguments and exit status; signals reach
it as they would have; nothing has run yet but the interpreter's start) with the tunable
added. Measured in docs/RENDER.md ("Large volumes"): off by default for now.

When
----
Only the commands that put volumes into GL textures ask (``ownscan render``, ``view``,
``serve``, ``bench``: ``cli._HUGE_PAGE_COMMANDS``), only on Linux with glibc 2.35 or later
and THP in ``madvise`` mode, and never twice: not when ``GLIBC_TUNABLES`` already names the
tunable (a user's own choice is kept, and a re-executed process has it), nor when
:data:`REEXEC_MARK` says the process was started again already. ``OWNSCAN_HUGE_PAGES=1``
turns it on, ``0`` off; unset, :data:`DEFAULT_ON` decides (off for now: see there).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, Sequence

__all__ = [
    "DEFAULT_ON",
    "REEXEC_MARK",
    "SWITCH",
    "TUNABLE",
    "glibc_version",
    "huge_page_tunables",
    "machine_tunables",
    "reexec_for_huge_pages",
    "started_again",
    "thp_mode",
]

log = logging.getLogger(__name__)

TUNABLE = "glibc.malloc.hugetlb=1"
SWITCH = "OWNSCAN_HUGE_PAGES"  # "1": start again for huge pages where it helps; "0": never
# Without SWITCH: off. On this project's 2-core Firecracker VM the texture's page faults drop
# 38,400 -> 76 and its storage 81 -> 17 ms of CPU, but a fresh process's upload of a series
# read from DICOM took 2-5x longer (0.27-0.74 -> 0.72-2.14 s, 5 alternated pairs at load
# 6-7) and a whole `ownscan render` twice the kernel time: fresh 2 MiB pages seem to cost
# the VM's host more than the 4 KiB pages the guest recycles (docs/RENDER.md). Until a quiet
# machine or bare metal says otherwise.
DEFAULT_ON = False
# Set in the environment of the process started again, and taken out of it there (its own
# children do not inherit it): a second start can never follow, whatever glibc does with
# GLIBC_TUNABLES.
REEXEC_MARK = "_OWNSCAN_HUGE_PAGES_REEXEC"
_THP_ENABLED = "/sys/kernel/mm/transparent_hugepage/enabled"


def glibc_version() -> tuple[int, int] | None:
    """``(major, minor)`` of the C library's glibc, or None when it is not glibc (musl,
    macOS, Windows)."""
    try:
        found = os.confstr("CS_GNU_LIBC_VERSION")  # "glibc 2.36"
    except (AttributeError, ValueError, OSError):
        return None
    if not found or not found.startswith("glibc "):
        return None
    try:
        major, minor = found.split()[1].split(".")[:2]
        return int(major), int(minor)
    except ValueError:
        return None


def thp_mode(path: str = _THP_ENABLED) -> str | None:
    """The kernel's transparent huge page mode, ``always``, ``madvise`` or ``never`` (the
    bracketed word of ``path``), or None where there is no such file."""
    try:
        with open(path, encoding="ascii") as f:
            text = f.read()
    except OSError:
        return None
    start, end = text.find("["), text.find("]")
    return text[start + 1 : end] if 0 <= start < end else None


def huge_page_tunables(
    environ: Mapping[str, str],
    platform: str,
    glibc: tuple[int, int] | None,
    thp: str | None,
) -> str | None:
    """The ``GLIBC_TUNABLES`` value to start again with, or None when starting again would
    not help or is not wanted: ``platform`` (``sys.platform``) not Linux, ``glibc``
    (:func:`glibc_version`) older than 2.35 or not glibc, ``thp`` (:func:`thp_mode`) not
    ``madvise``, or in ``environ`` :data:`SWITCH` ``"0"`` (or unset while :data:`DEFAULT_ON`
    is False), the tunable already set or :data:`REEXEC_MARK`. An existing
    ``GLIBC_TUNABLES`` keeps its tunables (the new one is appended)."""
    switch = environ.get(SWITCH, "").strip()
    if switch == "0" or (switch != "1" and not DEFAULT_ON) or REEXEC_MARK in environ:
        return None
    existing = environ.get("GLIBC_TUNABLES", "")
    if "glibc.malloc.hugetlb" in existing:
        return None
    if platform != "linux" or glibc is None or glibc < (2, 35):
        return None
    if thp != "madvise":
        return None  # "always": huge pages without asking; "never" or unknown: none at all
    return f"{existing}:{TUNABLE}" if existing else TUNABLE


def machine_tunables(environ: Mapping[str, str]) -> str | None:
    """:func:`huge_page_tunables` of ``environ`` on this machine."""
    return huge_page_tunables(environ, sys.platform, glibc_version(), thp_mode())


_started_again: bool | None = None


def started_again() -> bool:
    """Whether this process is the one :func:`reexec_for_huge_pages` started; the first call
    takes :data:`REEXEC_MARK` out of the environment, so that the process's own children
    (``ownscan bench`` runs ``ownscan`` commands) do not inherit it; they inherit the
    tunable."""
    global _started_again
    if _started_again is None:
        _started_again = os.environ.pop(REEXEC_MARK, None) is not None
    return _started_again


def reexec_for_huge_pages(argv: Sequence[str] | None = None) -> None:
    """Start this process's command line again, in place, with glibc's huge-page tunable, when
    :func:`huge_page_tunables` says so; return (doing nothing) otherwise or when the start
    fails (logged: ownscan runs on without huge pages).

    Call it first thing, before any thread, open window or output: ``os.execve`` keeps the
    process id, the standard streams, the environment (plus the tunable and the mark) and
    the signal mask; the exit status is the new program's. ``argv``: the interpreter's whole
    command line (``sys.orig_argv``: its options, ``-m`` or the script, and the arguments).
    """
    tunables = machine_tunables(os.environ)
    if tunables is None:
        return
    args = list(sys.orig_argv if argv is None else argv)
    if not args or not sys.executable:
        return
    env = dict(os.environ)
    env["GLIBC_TUNABLES"] = tunables
    env[REEXEC_MARK] = "1"
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    # Signal dispositions need nothing: a handler the interpreter installed (SIGINT) is reset
    # by execve and installed again by the new interpreter, an ignored signal stays ignored
    # (the new interpreter then leaves SIGINT alone, as this one did).
    try:
        os.execve(sys.executable, [sys.executable, *args[1:]], env)
    except OSError as exc:  # not started: go on here, without huge pages
        log.debug("could not start again with GLIBC_TUNABLES=%s: %s", tunables, exc)
