"""An import killed at random moments (SIGKILL), or stopped by a full disk, leaves a consistent
library, and running the import again completes it."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pydicom
import pytest
from library_dicomgen import ct_series, limit_file_size, with_same_uid_other_bytes

OWNSCAN = [sys.executable, "-m", "ownscan.core.cli"]
N_FILES = 400


def ownscan(*args: str | Path, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*OWNSCAN, *map(str, args)], capture_output=True, text=True, timeout=300, **kw
    )


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """Three series of small CT slices (400 files)."""
    root = tmp_path_factory.mktemp("crash-src")
    ct_series(root / "a", 150, size=32, seed=1)
    ct_series(root / "b", 150, size=32, seed=2)
    ct_series(root / "c", 100, size=32, seed=3, patient=("Roe^Rick", "P2"))
    return root


def _source_hashes(root: Path) -> set[str]:
    return {hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*.dcm")}


def _count_objects(lib: Path) -> int:
    objects = lib / "objects"
    if not objects.is_dir():
        return 0
    try:
        return sum(len(os.listdir(d)) for d in os.scandir(objects))
    except FileNotFoundError:
        return 0


def _library_hashes(lib: Path) -> set[str]:
    conn = sqlite3.connect(lib / "index.sqlite")
    try:
        if conn.execute("PRAGMA user_version").fetchone()[0] == 0:
            return set()  # killed before the index got its tables: the next open makes them
        shas = {r[0] for r in conn.execute("SELECT sha256 FROM instances")}
    finally:
        conn.close()
    for sha in shas:  # every indexed file exists and holds the bytes its name says
        data = (lib / "objects" / sha[:2] / sha).read_bytes()
        assert hashlib.sha256(data).hexdigest() == sha
    return shas


def _default_sigint() -> None:
    # A test run started in the background by a non-interactive shell inherits SIGINT ignored,
    # and Python then installs no KeyboardInterrupt handler: give the child the default back,
    # as a terminal user's ownscan has.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _kill_import(
    lib: Path, source: Path, rng: random.Random, sig: int = signal.SIGKILL
) -> tuple[int, str]:
    """Start `ownscan import`, send ``sig`` at a random moment; return (returncode, stderr)."""
    proc = subprocess.Popen(
        [*OWNSCAN, "import", str(source), "--library", str(lib)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )
    try:
        if sig == signal.SIGKILL and rng.random() < 0.3:
            # a moment in time: maybe while starting up, maybe while creating the library
            time.sleep(rng.uniform(0.05, 1.0))
        else:
            # a moment in the work: once that many files have been written
            target = rng.randrange(1, N_FILES)
            while proc.poll() is None and _count_objects(lib) < target:
                time.sleep(0.002)
        proc.send_signal(sig)
    finally:
        _, err = proc.communicate()
    return proc.returncode, err


def test_sigkill_at_random_moments_then_check_and_reimport_complete_it(tmp_path, source):
    expected = _source_hashes(source)
    rng = random.Random(20240131)
    killed = 0
    orphans_seen = 0
    # An import can finish before the kill lands on a quiet machine: such attempts are checked
    # too, and attempts go on until six were really killed.
    for run in range(20):
        if killed == 6:
            break
        lib = tmp_path / f"lib{run}"
        code, _ = _kill_import(lib, source, rng)
        killed += code == -signal.SIGKILL
        if not (lib / "index.sqlite").exists():
            continue  # killed before the library existed: nothing to check
        # whatever the moment, every row names a complete file
        partial = _library_hashes(lib)
        assert partial <= expected
        if run % 2 == 0:
            # what the kill left (orphans, partial files) is expected: check sets it right,
            # says it as information and exits 0; nothing is left for a repair
            check = ownscan("check", "--library", lib)
            assert check.returncode == 0, check.stdout + check.stderr
            assert "PROBLEM" not in check.stdout, check.stdout
            infos = [ln for ln in check.stdout.splitlines() if ln.startswith("info")]
            assert all(" orphan " in ln or " partial " in ln for ln in infos), check.stdout
            adopted = _library_hashes(lib)
            # every orphan was adopted: the index names every object file there is
            on_disk = {p.name for p in (lib / "objects").rglob("*") if p.is_file()}
            assert adopted >= partial and on_disk == adopted
            assert f"consistent ({len(adopted)} instances" in check.stdout, check.stdout
            assert not list((lib / "tmp").iterdir())
            repair = ownscan("check", "--repair", "--library", lib)
            assert repair.returncode == 0, repair.stdout + repair.stderr
            assert "info" not in repair.stdout and "repaired" not in repair.stdout
            orphans_seen += sum(" orphan " in ln for ln in infos)
        # running the import again completes the library
        again = ownscan("import", source, "--library", lib)
        assert again.returncode == 0, again.stdout[-2000:] + again.stderr
        assert _library_hashes(lib) == expected
        final = ownscan("check", "--library", lib)
        assert final.returncode == 0, final.stdout
        assert f"{N_FILES} instances" in final.stdout
        assert not list((lib / "tmp").iterdir())
    assert killed == 6, "the kills should interrupt the imports"
    assert orphans_seen, "some kill should land between a batch's files and its rows"


def test_an_uninterrupted_import_leaves_nothing_for_check(tmp_path, source):
    # two patients, three series, a study with an image naming another patient, and a
    # conflict: nothing for check to say, not even information ("1 patients without
    # studies" was once left here)
    extra = tmp_path / "extra"
    first = sorted((source / "a").rglob("*.dcm"))[0]
    other = with_same_uid_other_bytes(first, extra / "conflict.dcm")
    ds = pydicom.dcmread(sorted((source / "c").rglob("*.dcm"))[0])
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.PatientName, ds.PatientID = "Else^Someone", "P9"
    ds.save_as(extra / "other_patient.dcm", enforce_file_format=True)
    lib = tmp_path / "lib"
    for src in (source, extra):
        r = ownscan("import", src, "--library", lib)
        assert r.returncode in (0, 1), r.stdout + r.stderr
    assert "conflict" in r.stdout and other.exists()
    check = ownscan("check", "--library", lib)
    assert check.returncode == 0, check.stdout
    assert check.stdout.count("\n") == 1 and "consistent" in check.stdout, check.stdout


def test_ctrl_c_keeps_what_is_complete_and_reimport_completes(tmp_path, source):
    expected = _source_hashes(source)
    rng = random.Random(7)
    interrupted = 0
    # On a quiet machine a small import can finish before the signal lands; every attempt is
    # checked either way, and attempts go on (fresh libraries) until two were interrupted.
    for attempt in range(12):
        if interrupted == 2:
            break
        lib = tmp_path / f"lib{attempt}"
        while not (lib / "index.sqlite").exists():  # interrupt it while it imports
            code, err = _kill_import(lib, source, rng, signal.SIGINT)
        if code == 130:
            interrupted += 1
            assert "ownscan: interrupted" in err
        else:
            assert code == 0, err  # it finished first: a complete import
        assert _library_hashes(lib) <= expected
        again = ownscan("import", source, "--library", lib)
        assert again.returncode == 0, again.stderr
        assert _library_hashes(lib) == expected
        assert ownscan("check", "--library", lib).returncode == 0
    assert interrupted == 2


def test_disk_full_stops_cleanly_and_reimport_completes(tmp_path):
    src = tmp_path / "src"
    ct_series(src / "a_small", 20, size=16)
    ct_series(src / "z_big", 1, size=512)  # 512 kB: more than the disk lets us write
    lib = tmp_path / "lib"
    r = subprocess.run(
        [*OWNSCAN, "import", str(src), "--library", str(lib)],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=limit_file_size,
    )
    assert r.returncode == 2
    assert "cannot write to the library" in r.stderr and "File too large" in r.stderr
    assert "run the import again" in r.stderr
    assert "could not be written" in r.stdout and "20 imported, 1 failed" in r.stdout
    assert len(_library_hashes(lib)) == 20  # what was complete is kept
    check = ownscan("check", "--library", lib)
    assert check.returncode == 0, check.stdout
    again = ownscan("import", src, "--library", lib)
    assert again.returncode == 0 and "1 imported, 20 duplicate" in again.stdout
    assert _library_hashes(lib) == _source_hashes(src)
