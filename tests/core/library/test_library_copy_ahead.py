"""Large files are copied into the library by the kernel, hashed and parsed by threads ahead of
their decision (core/library/_ahead.py, ``Store.stage``): the outcome must be the very one of
reading each file in the importing process, whatever way the copy is made, and a killed import
must leave a consistent library that a re-import completes."""

from __future__ import annotations

import errno
import hashlib
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import astuple
from pathlib import Path

import pytest
from library_dicomgen import ct_series
from test_library_crash import OWNSCAN, _count_objects, _library_hashes, _source_hashes, ownscan
from test_library_workers import _files, _index, mixed  # noqa: F401 (mixed: a fixture)

from ownscan.core.library import DUPLICATE, IMPORTED, _store, open_library
from ownscan.core.library._store import Store
from ownscan.core.plugin_types import SourceItem


def _run(root: Path, items: list[SourceItem], **tunables: int) -> list[tuple[object, ...]]:
    with open_library(root) as lib:
        lib.processes, lib.parallel_after = 0, 10**9
        lib.batch_files = 7  # many batches
        for name, value in tunables.items():
            setattr(lib, name, value)
        rep = lib.import_items(items)
        assert not list((root / "tmp").iterdir())  # no copy left behind (check would clear)
        assert lib.check().consistent
    return [astuple(r) for r in rep.results]


def _same_as_reading(tmp_path: Path, items: list[SourceItem], **tunables: int) -> None:
    """Import ``items`` by reading (no copy ahead) and with ``tunables``, twice each: the same
    report, index and files."""
    here, there = tmp_path / "read", tmp_path / "ahead"
    for _ in range(2):  # the second time: every file a duplicate, its copy dropped
        first = _run(here, items, copiers=0)
        assert _run(there, items, **tunables) == first
        assert _index(there) == _index(here)
        assert _files(there) == _files(here)
    assert IMPORTED not in [r[1] for r in first] and DUPLICATE in [r[1] for r in first]


def test_copy_ahead_gives_the_outcome_of_reading(tmp_path, mixed):  # noqa: F811
    # every file with a path is copied ahead: new, repeated, conflicting, PDF, not DICOM,
    # truncated, unreadable, between items in memory and refused ones
    _same_as_reading(tmp_path, mixed, copiers=2, copy_ahead_size=1)


def test_copy_ahead_beside_the_worker_processes(tmp_path, mixed):  # noqa: F811
    # the 8 kB files copied ahead, the small ones read by worker processes, in item order
    _same_as_reading(
        tmp_path,
        mixed,
        copiers=2,
        copy_ahead_size=4000,
        processes=2,
        parallel_after=0,
        chunk_files=4,
    )


def _refuse(*args: object) -> int:
    raise OSError(errno.EXDEV, "not between these file systems")


@pytest.mark.parametrize("way", ["sendfile", "read and write", "tmp/ names", "no copy"])
def test_every_way_of_copying_gives_the_same(tmp_path, mixed, monkeypatch, way):  # noqa: F811
    if way in ("sendfile", "read and write"):
        monkeypatch.setattr(_store, "_copy_file_range", _refuse)
    if way == "read and write":
        monkeypatch.setattr(_store, "_sendfile", _refuse)
    if way == "tmp/ names":  # a file system without unnamed files
        monkeypatch.setattr(_store._unnamed, "AVAILABLE", False)
    if way == "no copy":  # the library cannot take the copy: the file is read, as before

        def full(self: Store, src: int, size: int) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(Store, "stage", full)
    _same_as_reading(tmp_path, mixed, copiers=2, copy_ahead_size=1)


def test_the_bytes_kept_are_the_bytes_named(tmp_path, monkeypatch):
    """A source changed right after its copy was made: the library keeps the copy under the
    sha256 of the copy (the hash is taken from the library's copy, not the source)."""
    paths = ct_series(tmp_path / "src", 6, size=64)
    before = {hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}
    stage = Store.stage

    def stage_then_change(self: Store, src: int, size: int) -> _store.Staged:
        staged = stage(self, src, size)
        path = Path(f"/proc/self/fd/{src}").resolve()
        path.write_bytes(b"changed after the copy " * 100)
        return staged

    monkeypatch.setattr(Store, "stage", stage_then_change)
    with open_library(tmp_path / "lib") as lib:
        lib.copy_ahead_size = 1
        rep = lib.import_items(SourceItem(origin=str(p), path=p) for p in paths)
        assert rep.counts[IMPORTED] == 6 and lib.check().consistent
    assert _library_hashes(tmp_path / "lib") == before
    assert all(p.read_bytes().startswith(b"changed") for p in paths)


def test_an_incomplete_file_under_the_final_name_is_replaced(tmp_path):
    """What an interrupted write left under an object's name (cut short) is replaced by the
    complete copy, as the writes that are not copied ahead do."""
    (path,) = ct_series(tmp_path / "src", 1, size=64)
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    with open_library(tmp_path / "lib") as lib:
        final = lib.store.object_path(sha)
        final.parent.mkdir(parents=True)
        final.write_bytes(data[:1000])
        lib.copy_ahead_size = 1
        rep = lib.import_items([SourceItem(origin=str(path), path=path)])
        assert rep.counts[IMPORTED] == 1 and lib.check().consistent
        assert final.read_bytes() == data
    assert not list((tmp_path / "lib" / "tmp").iterdir())


def test_a_stopped_import_drops_the_copies_not_reached(tmp_path):
    paths = ct_series(tmp_path / "src", 20, size=64)

    def items() -> Iterator[SourceItem]:
        for i, p in enumerate(paths):
            if i == 12:
                raise KeyboardInterrupt  # Ctrl-C while the files before are copied ahead
            yield SourceItem(origin=str(p), path=p)

    with open_library(tmp_path / "lib") as lib:
        lib.copy_ahead_size, lib.batch_files = 1, 5
        with pytest.raises(KeyboardInterrupt):
            lib.import_items(items())
        assert not list((tmp_path / "lib" / "tmp").iterdir())
        kept = sum(s.images for s in lib.series())
        assert 0 < kept <= 12 and lib.check().consistent


def test_a_source_that_fails_keeps_the_items_before_it(tmp_path):
    paths = ct_series(tmp_path / "src", 10, size=64)

    def items() -> Iterator[SourceItem]:
        yield from (SourceItem(origin=str(p), path=p) for p in paths)
        raise OSError(errno.EIO, "the disc was removed")

    with open_library(tmp_path / "lib") as lib:
        lib.copy_ahead_size = 1
        seen: list[object] = []
        with pytest.raises(OSError, match="disc was removed"):
            lib.import_items(items(), report=seen.append)
        assert len(seen) == 10  # every item taken before the failure was handled
        assert sum(s.images for s in lib.series()) == 10


def test_sigkill_while_copying_ahead_then_reimport_completes(tmp_path):
    """The crash test of test_library_crash on large files (512 kB: copied ahead)."""
    src = tmp_path / "src"
    ct_series(src / "a", 24, size=512, seed=1)
    ct_series(src / "b", 16, size=512, seed=2)
    expected = _source_hashes(src)
    rng = random.Random(5)
    killed = 0
    for run in range(12):
        if killed == 3:
            break
        lib = tmp_path / f"lib{run}"
        proc = subprocess.Popen(
            [*OWNSCAN, "import", str(src), "--library", str(lib)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        target = rng.randrange(1, len(expected))
        while proc.poll() is None and _count_objects(lib) < target:
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        killed += proc.wait() == -signal.SIGKILL
        if not (lib / "index.sqlite").exists():
            continue
        assert _library_hashes(lib) <= expected  # every row names a complete file
        check = ownscan("check", "--library", lib)
        assert check.returncode == 0 and "PROBLEM" not in check.stdout, check.stdout
        assert not list((lib / "tmp").iterdir())
        again = ownscan("import", src, "--library", lib)
        assert again.returncode == 0, again.stdout[-2000:] + again.stderr
        assert _library_hashes(lib) == expected
        on_disk = {p.name for p in (lib / "objects").rglob("*") if p.is_file()}
        assert on_disk == expected  # nothing but the instances: no copy left named
    assert killed == 3, "the kills should interrupt the imports"
