"""One glibc malloc arena for the commands that draw volumes (``core/_heap.py``).

Each test runs a real child process through ``cli.main`` (the arenas are process-wide and
set before any thread): a worker thread frees 40 MiB of slab-sized temporaries below a live
block, then the calling thread makes 40 MiB of its own. With an arena per thread (glibc's
default) the worker's 40 MiB stay resident beside the new ones; with one arena they are
reused.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ownscan.core import _heap

# a command's cli.main, then one stage's temporaries on a worker and the next on this thread:
# prints the MiB resident beyond the 40 the calling thread holds
_CHILD = """
import sys, threading
from ownscan.core import cli
try:
    cli.main([sys.argv[1], "--help"])
except SystemExit:
    pass
import numpy as np
def rss():
    with open("/proc/self/status") as f:
        return [int(l.split()[1]) for l in f if l.startswith("VmRSS:")][0] / 1024
big = np.ones(8 << 20, np.uint8)  # freed: glibc serves blocks below 8 MiB from its arenas
del big
base = rss()
pins = []
def worker():  # a pool thread's slab temporaries, freed below a block it keeps
    temporaries = [np.ones(2 << 20, np.uint8) for _ in range(20)]
    pins.append(bytearray(200_000))
    del temporaries
thread = threading.Thread(target=worker)
thread.start()
thread.join()
mine = [np.ones(2 << 20, np.uint8) for _ in range(20)]  # the next stage's, on this thread
print(rss() - base - 40)
"""


def _left_resident(command: str, **env: str) -> float:
    if _heap._libc() is None or not os.path.exists("/proc/self/status"):
        pytest.skip("glibc and /proc only")
    mine = ("GLIBC_TUNABLES", "MALLOC_ARENA_MAX", _heap.SWITCH)
    clean = {k: v for k, v in os.environ.items() if k not in mine}
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
def test_what_a_worker_freed_is_reused(command):
    assert _left_resident(command) < 8.0


def test_off_switch_and_other_commands_keep_an_arena_per_thread():
    # the same child with glibc's arenas: the worker's 40 MiB stay (the test above can fail)
    assert _left_resident("render", OWNSCAN_STEADY_HEAP="0") > 30.0
    assert _left_resident("info") > 30.0  # a command that draws no volume is left alone


def test_a_users_own_arenas_are_kept():
    assert _heap.user_chose({"MALLOC_ARENA_MAX": "4"})
    assert _heap.user_chose({"GLIBC_TUNABLES": "glibc.malloc.arena_max=4"})
    assert _heap.user_chose({_heap.SWITCH: "0"})
    assert not _heap.user_chose({"GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"})
    assert not _heap.one_arena({_heap.SWITCH: "0"})
    assert _left_resident("render", MALLOC_ARENA_MAX="8") > 30.0  # the user's 8, not 1
