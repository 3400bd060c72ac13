"""Running ownscan on hostile input the way an attacker or an unlucky user would: in a
subprocess under a memory cap (``RLIMIT_AS``) and a time bound, so that a header lie that
allocates gigabytes fails the test instead of the machine."""

from __future__ import annotations

import os
import resource
import struct
import subprocess
import sys
from pathlib import Path

MEMORY_CAP = 1536 << 20  # address space of the ownscan process: numpy, pydicom, GL and threads
TIME_CAP = 120.0  # seconds; hitting it is a hang (subprocess.TimeoutExpired fails the test)
EXE = str(Path(sys.executable).with_name("ownscan"))


def _cap(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def capped(
    *args: str,
    memory: int = MEMORY_CAP,
    timeout: float = TIME_CAP,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """``ownscan ARGS`` under a memory cap and a time bound; ``OWNSCAN_RENDERER=array`` is not
    set, so render uses whatever the machine has."""
    return subprocess.run(
        [EXE, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        preexec_fn=lambda: _cap(memory),
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


def assert_handled(r: subprocess.CompletedProcess[str]) -> None:
    """No internal error (exit 70), no traceback, no crash by signal."""
    out = r.stdout + r.stderr
    assert r.returncode in (0, 1, 2), (r.returncode, out[-2000:])
    assert "internal error" not in out and "Traceback" not in out, out[-2000:]


def nest_sequences(data: bytes, depth: int) -> bytes:
    """``data`` (an explicit little endian file) with a private sequence nested ``depth`` deep
    inserted before Patient's Name: undefined lengths, one item per level."""
    opening = (
        struct.pack("<HH", 0x0009, 0x1010)
        + b"SQ\0\0"
        + struct.pack("<L", 0xFFFFFFFF)
        + struct.pack("<HHL", 0xFFFE, 0xE000, 0xFFFFFFFF)
    )
    closing = struct.pack("<HHL", 0xFFFE, 0xE00D, 0) + struct.pack("<HHL", 0xFFFE, 0xE0DD, 0)
    i = data.index(struct.pack("<HH", 0x0010, 0x0010) + b"PN")
    return data[:i] + opening * depth + closing * depth + data[i:]
