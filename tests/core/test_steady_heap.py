"""glibc's mmap threshold held fixed for the commands that draw volumes (``core/_heap.py``).

Each test runs a real child process through ``cli.main`` (the threshold is process-wide and
can be set once): after a freed 8 MiB block, glibc by default serves 2 MiB blocks (the size
of the render path's slab temporaries) from its heap, where they stay resident once freed
below a live allocation; held at 1 MiB they are mmaps of their own, returned when freed.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ownscan.core import _heap

# a command through the real cli.main, then temporaries freed below a live block: prints how
# many MiB of resident memory the freed temporaries left behind
_CHILD = """
import sys
from ownscan.core import cli
try:
    cli.main([sys.argv[1], "--help"])
except SystemExit:
    pass
import numpy as np
def rss():
    with open("/proc/self/status") as f:
        return [int(l.split()[1]) for l in f if l.startswith("VmRSS:")][0] / 1024
big = np.ones(8 << 20, np.uint8)  # freed: glibc raises its threshold to 8 MiB
del big
base = rss()
temporaries = [np.ones(2 << 20, np.uint8) for _ in range(20)]  # 40 MiB, touched
pin = bytearray(200_000)  # a live block after them: the heap cannot shrink below it
del temporaries
print(rss() - base)
"""


def _left_resident(command: str, **env: str) -> float:
    if _heap._libc() is None or not os.path.exists("/proc/self/status"):
        pytest.skip("glibc and /proc only")
    clean = {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES", _heap.SWITCH)}
    clean.pop("MALLOC_MMAP_THRESHOLD_", None)
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, command],
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, **env},
    )
    assert done.returncode == 0, done.stderr
    return float(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("command", ["render", "view"])
def test_freed_temporaries_are_given_back(command):
    assert _left_resident(command) < 4.0


def test_off_switch_and_other_commands_keep_glibcs_threshold():
    # the same child without the held threshold: the freed 40 MiB stay resident (the test
    # above can fail)
    assert _left_resident("render", OWNSCAN_STEADY_HEAP="0") > 30.0
    assert _left_resident("info") > 30.0  # a command that draws no volume is left alone


def test_a_users_own_threshold_is_kept():
    assert _heap.user_chose({"MALLOC_MMAP_THRESHOLD_": "65536"})
    assert _heap.user_chose({"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=65536"})
    assert _heap.user_chose({_heap.SWITCH: "0"})
    assert not _heap.user_chose({"GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"})
    assert not _heap.hold_mmap_threshold({_heap.SWITCH: "0"})
    # a user's own threshold: glibc's, not ours (a 2 MiB temporary stays below 8 MiB)
    assert _left_resident("render", MALLOC_MMAP_THRESHOLD_="8388608") > 30.0
