"""The stacks of each series recorded in the library's index (schema version 4,
core/library/_stacks.py): written at import from the headers, listed without reading a file,
upgraded from a library the previous version wrote (filled once, in place), and a killed
migration or fill leaves the library usable."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # stacksgen, ctgen

from schema_downgrade import downgrade_to_version_3
from stacksgen import SERIES_UID, TILTS, write_three_stacks
from test_library_cli import ownscan
from test_read_only import read_only_view

from ownscan.core._stacks import stack_label, stacks_of
from ownscan.core.bench._ctgen import write_ct_series
from ownscan.core.library import LibraryError, open_library
from ownscan.core.library._schema import MIGRATIONS, SCHEMA_VERSION
from ownscan.core.plugin_types import ImportOptions
from ownscan.plugins.folder import FolderImporter

PLAIN_UID = "1.2.826.0.1.3680043.8.498.7770100"


def _import(lib_path: Path, source: Path) -> None:
    with open_library(lib_path) as lib:
        lib.import_items(FolderImporter().iter_items(str(source), ImportOptions()))


def _list_without_files(lib_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``ownscan list`` with the library's stored files moved away (put back after; the
    library makes an empty ``objects`` folder meanwhile)."""
    away = lib_path.parent / "away"
    shutil.move(lib_path / "objects", away)
    try:
        return ownscan("list", "--library", lib_path, *args)
    finally:
        if (lib_path / "objects").exists():
            (lib_path / "objects").rmdir()  # empty: refused otherwise
        shutil.move(away, lib_path / "objects")


def _files(lib_path: Path) -> dict[str, str]:
    return {
        str(p.relative_to(lib_path)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((lib_path / "objects").rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three angled stacks under one UID, and an ordinary one-stack series beside them."""
    root = tmp_path_factory.mktemp("stacks")
    write_three_stacks(root / "src")
    write_ct_series(
        root / "src",
        n_slices=6,
        rows=32,
        cols=40,
        series_uid=PLAIN_UID,
        series_number=2,
        study_uid="1.2.826.0.1.3680043.8.498.7770002",
        prefix="plain_",
    )
    return root / "src"


def _expected(lib_path: Path) -> list[str]:
    """Each stack's words, as the viewers name and number it (the page's ``UID~N`` is the
    order of series assembly over the library's stored files of the series)."""
    with open_library(lib_path, read_only=True) as lib:
        stacks = stacks_of(lib.assemble(SERIES_UID).series)
    return [stack_label(s, n, len(stacks)) for n, s in enumerate(stacks, 1)]


def test_import_records_each_stack_and_the_list_reads_no_file(tmp_path, source, monkeypatch):
    lib_path = tmp_path / "lib"
    _import(lib_path, source)
    expected = _expected(lib_path)
    # the list is made with the stored files moved away: it reads only the index
    r = _list_without_files(lib_path, "--json")
    assert r.returncode == 0, r.stderr
    (study,) = json.loads(r.stdout)["persons"][0]["timeline"]
    by_uid = {s["series_uid"]: s for s in study["series_list"]}
    several = by_uid[SERIES_UID]["stacks"]
    assert [s["label"] for s in several] == expected
    assert [s["id"] for s in several] == [f"{SERIES_UID}~{k}" for k in (1, 2, 3)]
    assert [s["images"] for s in several] == [8, 8, 8]
    assert {(s["rows"], s["columns"]) for s in several} == {(48, 48)}
    # the -15 and +15 degree stacks are oblique, the straight one not (the planes are
    # the assembly's, whatever order it numbers them in)
    assert sorted(s["plane"] for s in several) == ["axial", "oblique axial", "oblique axial"]
    # each stack's slice direction: (0, -sin t, cos t) for a tilt t about left-right
    normals = sorted(round(s["normal"][1], 3) for s in several)
    assert normals == sorted(round(-math.sin(math.radians(t)), 3) for t in TILTS)
    (one,) = by_uid[PLAIN_UID]["stacks"]
    assert (one["plane"], one["images"], one["rows"], one["columns"]) == ("axial", 6, 32, 40)
    # the table lists each stack of the series of several, with the name that opens it
    monkeypatch.setenv("COLUMNS", "300")  # wide enough for the UID column
    r = ownscan("list", "--library", lib_path)
    assert r.returncode == 0, r.stderr
    for k, label in enumerate(expected, 1):
        (line,) = [ln for ln in r.stdout.splitlines() if label in ln]
        assert line.rstrip().endswith(f"{SERIES_UID}~{k}"), line
    assert not [ln for ln in r.stdout.splitlines() if "stack 1 of 1" in ln]


def test_an_import_that_adds_a_stack_records_it_again(tmp_path, source):
    lib_path = tmp_path / "lib"
    first = tmp_path / "first"
    first.mkdir()
    for f in source.glob("s[01]_*"):
        shutil.copy(f, first / f.name)
    _import(lib_path, first)
    with open_library(lib_path) as lib:
        (se,) = lib.series()
        assert se.stacks is not None and len(se.stacks) == 2
    _import(lib_path, source)
    with open_library(lib_path) as lib:
        stacks = {s.series_uid: s.stacks for s in lib.series()}
    assert [s.label for s in stacks[SERIES_UID] or ()] == _expected(lib_path)
    assert len(stacks[PLAIN_UID] or ()) == 1


def test_a_library_of_the_previous_version_is_upgraded_and_filled_once(tmp_path, source):
    lib_path = tmp_path / "lib"
    _import(lib_path, source)
    with open_library(lib_path) as lib:
        lib.store_registration(PLAIN_UID, SERIES_UID, "rigid test", [[1, 0, 0, 0]] * 4)
    expected = _expected(lib_path)
    downgrade_to_version_3(lib_path)  # what the previous ownscan's import left
    files = _files(lib_path)
    with open_library(lib_path) as lib:
        assert lib.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
        assert (
            lib.conn.execute("SELECT count(*) FROM series WHERE stacks IS NULL").fetchone()[0] == 2
        )
        # the registration kept before is the one of stack 1 of each (all there was)
        kept = lib.registration(PLAIN_UID, SERIES_UID, "rigid test")
        assert kept is not None and kept.matrix[0] == (1.0, 0.0, 0.0, 0.0)
        assert lib.registration(PLAIN_UID, SERIES_UID, "rigid test", current_stack=2) is None
        # the first list fills them from the stored headers, and stores them
        stacks = {s.series_uid: s.stacks for s in lib.series()}
        assert [s.label for s in stacks[SERIES_UID] or ()] == expected
        assert (
            lib.conn.execute("SELECT count(*) FROM series WHERE stacks IS NULL").fetchone()[0] == 0
        )
    # once: the next list needs no stored file
    r = _list_without_files(lib_path, "--json")
    assert r.returncode == 0, r.stderr
    assert "stack 3 of 3" in r.stdout
    assert _files(lib_path) == files  # no stored file touched
    with open_library(lib_path) as lib:
        assert lib.check().consistent


def test_a_read_only_library_of_the_previous_version_is_read_as_it_is(tmp_path, source):
    """A library of version 3 on a read-only disc cannot be upgraded: it is read as it is,
    each series of several stacks one entry, its stacks named and loaded all the same."""
    lib_path = tmp_path / "lib"
    _import(lib_path, source)
    with open_library(lib_path) as lib:
        lib.store_registration(PLAIN_UID, SERIES_UID, "rigid test", [[1, 0, 0, 0]] * 4)
    expected = _expected(lib_path)
    downgrade_to_version_3(lib_path)
    with read_only_view(lib_path, tmp_path / "ro") as ro:
        with open_library(ro, read_only=True) as lib:
            assert lib.read_only and lib.conn.execute("PRAGMA user_version").fetchone()[0] == 3
            assert {s.series_uid: s.stacks for s in lib.series()} == {
                SERIES_UID: None,
                PLAIN_UID: None,
            }
            assert lib.registration(PLAIN_UID, SERIES_UID, "rigid test") is not None
            assert lib.registration(PLAIN_UID, SERIES_UID, "rigid test", current_stack=2) is None
            assert lib.resolve_stack(f"{SERIES_UID}~3") == f"{SERIES_UID}~3"
            stacks = stacks_of(lib.assemble(SERIES_UID).series)
            assert [stack_label(s, n, 3) for n, s in enumerate(stacks, 1)] == expected
            assert lib.load_volume(f"{SERIES_UID}~2").shape == (8, 48, 48)
        r = ownscan("list", "--library", ro, "--json")
        assert r.returncode == 0, r.stderr
        (study,) = json.loads(r.stdout)["persons"][0]["timeline"]
        assert [s["stacks"] for s in study["series_list"]] == [None, None]


_KILLED_MIGRATION = """
import os, signal, sqlite3, sys
from ownscan.core.library._schema import MIGRATIONS, _statements
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
for statement in _statements(MIGRATIONS[3]):
    conn.execute(statement)
os.kill(os.getpid(), signal.SIGKILL)  # before the COMMIT, as a power cut would
"""

_KILLED_FILL = """
import os, signal, sys
from ownscan.core.library import open_library
from ownscan.core.library import _stacks
lib = open_library(sys.argv[1])  # migrates to version 4
lib.store.lock()
_stacks.fill(lib, [sys.argv[2]])  # one series recorded...
os.kill(os.getpid(), signal.SIGKILL)  # ...and killed before the others
"""


def _killed(script: str, *args: str | Path) -> None:
    r = subprocess.run([sys.executable, "-c", script, *map(str, args)], check=False, timeout=120)
    assert r.returncode == -signal.SIGKILL


def test_a_killed_migration_and_a_killed_fill_leave_the_library_usable(tmp_path, source):
    lib_path = tmp_path / "lib"
    _import(lib_path, source)
    expected = _expected(lib_path)
    downgrade_to_version_3(lib_path)
    files = _files(lib_path)
    _killed(_KILLED_MIGRATION, lib_path / "index.sqlite")
    conn = sqlite3.connect(lib_path / "index.sqlite")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 3  # rolled back, whole
    assert "stacks" not in [r[1] for r in conn.execute("PRAGMA table_info(series)")]
    conn.close()
    _killed(_KILLED_FILL, lib_path, PLAIN_UID)
    conn = sqlite3.connect(lib_path / "index.sqlite")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    filled = dict(conn.execute("SELECT series_uid, stacks IS NOT NULL FROM series"))
    conn.close()
    assert filled == {PLAIN_UID: 1, SERIES_UID: 0}  # what was stored before the kill stays
    with open_library(lib_path) as lib:
        stacks = {s.series_uid: s.stacks for s in lib.series()}
        assert [s.label for s in stacks[SERIES_UID] or ()] == expected
        assert lib.check().consistent
        assert len(lib.instances(SERIES_UID)) == 24
    assert _files(lib_path) == files


def test_a_stack_is_named_uid_tilde_n(tmp_path, source):
    lib_path = tmp_path / "lib"
    _import(lib_path, source)
    with open_library(lib_path) as lib:
        expected = stacks_of(lib.assemble(SERIES_UID).series)
        assert lib.resolve_stack(SERIES_UID[:-2] + "~2") == f"{SERIES_UID}~2"
        for n, stack in enumerate(expected, 1):
            vol = lib.load_volume(f"{SERIES_UID}~{n}")
            want = stack.load()
            assert (vol.voxels == want.voxels).all()
            assert (vol.affine == want.affine).all()
        with pytest.raises(LibraryError, match=r"no stack 4 .* stacks 1\.\.3"):
            lib.resolve_stack(f"{SERIES_UID}~4")
        with pytest.raises(LibraryError, match="one stack"):
            lib.resolve_stack(f"{PLAIN_UID}~1")
        with pytest.raises(LibraryError, match="3 series found"):
            lib.load_volume(SERIES_UID)  # the plain UID is not one volume: name a stack


def test_a_source_library_uid_tilde_n_is_that_stack_alone(tmp_path, source):
    """``ownscan info`` / ``export`` of ``library:UID~N`` read that stack's files only."""
    import numpy as np

    lib_path = tmp_path / "lib"
    _import(lib_path, source)
    with open_library(lib_path) as lib:
        wants = {n: lib.load_volume(f"{SERIES_UID}~{n}") for n in (1, 2, 3)}
    for n, want in wants.items():
        r = ownscan("info", f"library:{SERIES_UID}~{n}", "--library", lib_path, "--json")
        assert r.returncode == 0, r.stderr
        (one,) = json.loads(r.stdout)["series"]  # not "3 stacks": this one alone
        assert one["n_images"] == 8
        np.testing.assert_allclose(one["direction"], want.affine[:3, :3] / want.spacing, atol=1e-6)
    out = tmp_path / "out"
    r = ownscan(
        "export",
        f"library:{SERIES_UID}~3",
        "--library",
        lib_path,
        "--format",
        "nifti",
        "--output",
        out,
    )
    assert r.returncode == 0, r.stderr
    (nii,) = out.glob("*.nii.gz")
    import nibabel

    img = nibabel.load(nii)
    assert img.shape == (48, 48, 8)
    # NIfTI is RAS: the LPS affine with x and y negated
    np.testing.assert_allclose(img.affine, np.diag([-1, -1, 1, 1]) @ wants[3].affine, atol=1e-3)
    r = ownscan("info", f"library:{SERIES_UID}~4", "--library", lib_path)
    assert r.returncode != 0 and "stacks 1..3" in r.stderr


def test_remove_and_report_name_a_stack_s_series(tmp_path, source):
    lib_path = tmp_path / "lib"
    _import(lib_path, source)
    r = ownscan("remove", "series", f"{SERIES_UID}~2", "--library", lib_path, "--yes")
    assert r.returncode != 0 and "cannot be removed alone" in r.stderr
    with open_library(lib_path) as lib:
        assert len(lib.instances(SERIES_UID)) == 24  # nothing removed
    # a stack's reports are its series' (none here: said as for the series)
    r = ownscan("report", f"library:{SERIES_UID}~2", "--library", lib_path)
    plain = ownscan("report", f"library:{SERIES_UID}", "--library", lib_path)
    assert r.returncode == plain.returncode == 2
    assert "no report" in r.stderr and "no series" not in r.stderr
