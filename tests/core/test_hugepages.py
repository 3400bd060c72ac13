"""The start again with glibc's huge-page tunable (core/_hugepages.py, cli.main): real processes.

Each child runs a small program that calls ``reexec_for_huge_pages`` the way ``cli.main`` does
and then says what it got: how often it started (a line on stderr before the call), its
``GLIBC_TUNABLES``, and whether a 32 MiB ``malloc`` block is backed by huge pages
(``AnonHugePages`` of its mapping in ``/proc/self/smaps``): the proof that glibc itself took
the tunable, not only that the variable was set.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ownscan.core._hugepages import (
    DEFAULT_ON,
    REEXEC_MARK,
    SWITCH,
    TUNABLE,
    huge_page_tunables,
    machine_tunables,
)

CHILD = r"""
import ctypes, os, sys, time
sys.stderr.write("start\n"); sys.stderr.flush()
from ownscan.core._hugepages import reexec_for_huge_pages, started_again
reexec_for_huge_pages()
again = started_again()
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
n = 32 << 20
block = libc.malloc(n)
ctypes.memset(block, 1, n)
huge = 0
with open("/proc/self/smaps") as f:
    inside = False
    for line in f:
        parts = line.split()
        if ":" not in parts[0] and "-" in parts[0]:
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            inside = lo <= block < hi
        elif inside and parts[0] == "AnonHugePages:":
            huge = int(parts[1])
print("argv", sys.argv[1:])
print("tunables", os.environ.get("GLIBC_TUNABLES"))
print("mark", os.environ.get("MARK"))
print("again", again)
print("huge_kb", huge)
print("stdin", sys.stdin.read().strip())
sys.stdout.flush()
if "sleep" in sys.argv:
    print("ready", flush=True)
    time.sleep(60)
sys.exit(int(sys.argv[1]))
""".replace("MARK", REEXEC_MARK)

ON = {SWITCH: "1"}
# whether this machine takes the tunable (Linux, glibc 2.35+, THP in madvise mode)
HELPS = machine_tunables(ON) is not None


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES", SWITCH)}
    env.pop(REEXEC_MARK, None)
    env.update(extra)
    return env


def _run(env: dict[str, str], *args: str) -> tuple[int, dict[str, str], int]:
    """(exit status, the child's report, how many times it started)."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *args],
        input="from the pipe\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    report = dict(ln.split(" ", 1) for ln in done.stdout.splitlines() if " " in ln)
    return done.returncode, report, done.stderr.count("start\n")


@pytest.mark.parametrize(
    ("environ", "platform", "glibc", "thp", "expected"),
    [
        (ON, "linux", (2, 36), "madvise", TUNABLE),
        (ON, "linux", (2, 35), "madvise", TUNABLE),
        ({**ON, "GLIBC_TUNABLES": "glibc.malloc.arena_max=2"}, "linux", (2, 36), "madvise",
         f"glibc.malloc.arena_max=2:{TUNABLE}"),
        (ON, "linux", (2, 34), "madvise", None),  # glibc without the tunable
        (ON, "linux", None, "madvise", None),  # musl
        (ON, "linux", (2, 36), "always", None),  # huge pages without asking
        (ON, "linux", (2, 36), "never", None),
        (ON, "linux", (2, 36), None, None),  # no THP in this kernel
        (ON, "darwin", (2, 36), "madvise", None),
        ({SWITCH: "0"}, "linux", (2, 36), "madvise", None),
        ({}, "linux", (2, 36), "madvise", TUNABLE if DEFAULT_ON else None),
        ({**ON, "GLIBC_TUNABLES": "glibc.malloc.hugetlb=0"}, "linux", (2, 36), "madvise", None),
        ({**ON, REEXEC_MARK: "1"}, "linux", (2, 36), "madvise", None),  # never a second start
    ],
    ids=[
        "glibc-2.36", "glibc-2.35", "keeps-others", "glibc-2.34", "not-glibc", "thp-always",
        "thp-never", "no-thp", "macos", "switched-off", "by-default", "users-own-value",
        "started-again",
    ],
)  # fmt: skip
def test_when_to_start_again(
    environ: dict[str, str],
    platform: str,
    glibc: tuple[int, int] | None,
    thp: str | None,
    expected: str | None,
) -> None:
    assert huge_page_tunables(environ, platform, glibc, thp) == expected


def test_started_once_more_with_the_tunable_in_force() -> None:
    """Arguments, standard input and the exit status pass through; glibc takes the tunable
    (huge pages under a malloc block); the mark is gone from the started process's
    environment; it starts exactly twice (no loop)."""
    rc, report, starts = _run(_env(**ON), "7", "two words", "--flag")
    assert rc == 7
    assert report["argv"] == repr(["7", "two words", "--flag"])
    assert report["stdin"] == "from the pipe"
    assert report["mark"] == "None"
    if not HELPS:  # this machine would not gain: nothing happens
        assert (starts, report["tunables"], report["again"]) == (1, "None", "False")
        return
    assert starts == 2
    assert report["again"] == "True"
    assert report["tunables"] == TUNABLE
    assert int(report["huge_kb"]) > 0


def test_switched_off_or_set_already_nothing_starts_again() -> None:
    for env in (_env(**{SWITCH: "0"}), *([] if DEFAULT_ON else [_env()])):
        rc, report, starts = _run(env, "3")
        assert (rc, starts, report["tunables"], report["again"]) == (3, 1, "None", "False")
        if HELPS:  # madvise mode: a malloc block without the tunable gets no huge pages
            assert int(report["huge_kb"]) == 0
    own = "glibc.malloc.hugetlb=1"
    rc, report, starts = _run(_env(GLIBC_TUNABLES=own), "0")
    assert (rc, starts, report["tunables"], report["again"]) == (0, 1, own, "False")


def test_signals_reach_the_started_process() -> None:
    """Ctrl-C (SIGINT to the process id the parent knows) interrupts the started program."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, "0", "sleep"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(**ON),
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        lines = []
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if line.startswith("ready") or not line:
                break
        assert "ready\n" in lines
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert "KeyboardInterrupt" in err
    assert err.count("start\n") == (2 if HELPS else 1)
    assert proc.returncode == -signal.SIGINT  # Python ends by the signal itself


def _ownscan(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("ownscan")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=env, timeout=300)


def test_the_ownscan_command(tmp_path: Path) -> None:
    """The installed ``ownscan`` script: switched on, ``render`` starts again (said at
    --debug), its output and exit status as before; switched off it does not; a command that
    draws nothing (``list``) never does."""
    line = f"started again with GLIBC_TUNABLES={TUNABLE}"
    args = ["--debug", "render", "--sample", "--backend", "cpu", "--size", "64x64"]
    done = _ownscan(_env(**ON), *args, "-o", str(tmp_path / "a.png"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "a.png").stat().st_size > 0
    assert done.stderr.count(line) == (1 if HELPS else 0)
    done = _ownscan(_env(**{SWITCH: "0"}), *args, "-o", str(tmp_path / "b.png"))
    assert done.returncode == 0, done.stderr
    assert "started again" not in done.stderr
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    missing = str(tmp_path / "no such folder" / "c.png")
    for env in (_env(**ON), _env(**{SWITCH: "0"})):  # the user's error, one line, status 2
        done = _ownscan(env, *args[1:], "-o", missing)
        assert (done.returncode, done.stderr.count("\n")) == (2, 1), done.stderr
        assert "no such folder" in done.stderr
    done = _ownscan(_env(**ON), "--debug", "list", "--library", str(tmp_path / "lib"))
    assert "started again" not in done.stderr
