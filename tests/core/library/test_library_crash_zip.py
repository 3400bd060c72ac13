"""An import of a zip (members read from the archive, not from files) killed with SIGKILL at
seeded moments, into a library that already holds a series: the series held before is
untouched, ``check`` exits 0, and importing the zip again completes it. The zip also holds
files cut short, which every run refuses by name and never keeps.

(tests/core/library/test_library_crash.py does the same for a folder; this is the other
reading path, and the damaged files beside the good.)"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from library_dicomgen import ct_series

OWNSCAN = [sys.executable, "-m", "ownscan.core.cli"]
N_GOOD, N_CUT = 200, 2


def ownscan(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*OWNSCAN, *map(str, args)], capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def portal_zip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str], Path]:
    """(the zip, the sha256 of its good members, a folder of another series)."""
    root = tmp_path_factory.mktemp("crash-zip")
    good = ct_series(root / "a", N_GOOD, size=32, seed=4)
    z = root / "portal.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in good:
            zf.write(f, f"STUDY/{f.name}")
        for k in range(N_CUT):  # cut in the pixel data: refused, never kept
            data = good[k].read_bytes()
            zf.writestr(f"STUDY/CUT{k}.dcm", data[: len(data) - 100])
    ct_series(root / "before", 5, size=16, seed=8, patient=("Roe^Rick", "P2"))
    return z, {hashlib.sha256(f.read_bytes()).hexdigest() for f in good}, root / "before"


def _state(lib: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(lib / "index.sqlite")
    try:
        return {
            t: sorted(conn.execute(f"SELECT * FROM {t}"))
            for t in ("patients", "studies", "series", "instances")
        }
    finally:
        conn.close()


def _objects(lib: Path) -> int:
    try:
        return sum(len(os.listdir(d)) for d in os.scandir(lib / "objects"))
    except FileNotFoundError:
        return 0


def test_a_zip_import_killed_leaves_what_was_there_and_completes(
    portal_zip: tuple[Path, set[str], Path], tmp_path: Path
) -> None:
    z, good, before = portal_zip
    lib = tmp_path / "lib"
    assert ownscan("import", before, "--library", lib).returncode == 0
    held = _state(lib)
    rng = random.Random(17)
    killed = 0
    for _ in range(8):
        if killed == 3:
            break
        start = _objects(lib)
        proc = subprocess.Popen(
            [*OWNSCAN, "import", str(z), "--library", str(lib)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        target = start + rng.randrange(1, N_GOOD // 4)  # 3 kills stay short of all
        while proc.poll() is None and _objects(lib) < target:
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed += proc.returncode == -signal.SIGKILL
        now = _state(lib)
        # what was held before is there, row for row
        for table in ("patients", "series"):
            assert set(held[table]) <= set(now[table]), table
        assert set(held["instances"]) <= set(now["instances"])
        check = ownscan("check", "--library", lib)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "PROBLEM" not in check.stdout, check.stdout
    assert killed == 3, f"the kills should interrupt the imports ({killed} of 3)"
    again = ownscan("import", z, "--library", lib)
    assert again.returncode == 1, again.stdout[-2000:] + again.stderr  # the cut files: failed
    for k in range(N_CUT):
        assert f"portal.zip!STUDY/CUT{k}.dcm: truncated" in again.stdout, again.stdout[-3000:]
    final = _state(lib)
    conn = sqlite3.connect(lib / "index.sqlite")
    shas = {r[0] for r in conn.execute("SELECT sha256 FROM instances")}
    conn.close()
    assert good <= shas and len(shas) == N_GOOD + len(held["instances"])
    assert set(held["instances"]) <= set(final["instances"])
    check = ownscan("check", "--library", lib)
    assert check.returncode == 0 and "PROBLEM" not in check.stdout, check.stdout
    assert not list((lib / "tmp").iterdir())
