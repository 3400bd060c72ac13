"""Large imports go through worker processes (core/library/_worker.py): the outcome must be the
very one of an import in one process, and a worker failing, a full disk or a killed parent
must leave a consistent library that a re-import completes."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterable, Iterator
from dataclasses import astuple
from pathlib import Path

import pytest
from library_dicomgen import (
    PDF,
    ct_series,
    encapsulated_pdf,
    limit_file_size,
    with_same_uid_other_bytes,
)
from pydicom.uid import generate_uid

from ownscan.core.library import (
    CONFLICT,
    DUPLICATE,
    FAILED,
    IMPORTED,
    Library,
    LibraryError,
    _worker,
    open_library,
)
from ownscan.core.library._worker import Worker
from ownscan.core.plugin_types import ImportOptions, SourceItem
from ownscan.plugins.folder import FolderImporter

_HERE = str(Path(__file__).parent)

# every table the index has, with the columns that do not depend on the import's number
_TABLES = {
    "patients": "patient_id, name, birth_date, sex",
    "studies": "study_uid, date, time, description, accession_number",
    "series": "series_uid, study_uid, number, modality, description, body_part",
    "instances": "sop_instance_uid, series_uid, sop_class_uid, instance_number, frames, "
    "transfer_syntax, title, sha256, size, origin",
    "documents": "sha256, media_type, title, size, origin, study_uid",
    "conflicts": "sha256, sop_instance_uid, existing_sha256, size, origin",
}


def _index(root: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(root / "index.sqlite")
    try:
        return {
            t: sorted(conn.execute(f"SELECT {cols} FROM {t}").fetchall(), key=repr)
            for t, cols in _TABLES.items()
        }
    finally:
        conn.close()


def _files(root: Path) -> dict[str, str]:
    out = {}
    for sub in ("objects", "conflicts"):
        for p in (root / sub).rglob("*"):
            if p.is_file():
                out[p.relative_to(root).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> list[SourceItem]:
    """Everything an import meets: new files (small and 'big'), a file twice, a conflict, PDFs,
    not DICOM, bad DICOM, unreadable paths, items in memory and refused items."""
    root = tmp_path_factory.mktemp("mixed")
    small = ct_series(root / "a", 30, size=16, seed=1)
    large = ct_series(root / "b", 12, size=64, seed=2)  # 8 kB: 'big' for the test below
    ct_series(root / "c", 9, size=16, seed=3, patient=("Roe^Rick", "P2"))
    (root / "a" / "IM00003-copy.dcm").write_bytes(small[3].read_bytes())  # same file twice
    with_same_uid_other_bytes(small[5], root / "a" / "IM00005-other.dcm")  # a conflict
    with_same_uid_other_bytes(large[2], root / "b" / "IM00002-other.dcm")  # a 'big' one
    (root / "a" / "report.pdf").write_bytes(PDF)
    (root / "c" / "again.pdf").write_bytes(PDF)  # the same document twice
    (root / "c" / "fake.pdf").write_bytes(b"not a pdf at all")
    encapsulated_pdf(root / "c" / "epdf.dcm", generate_uid())  # read by pydicom
    (root / "c" / "notes.txt").write_bytes(b"hello, not an image\n" * 20)
    (root / "c" / "cut.dcm").write_bytes(small[7].read_bytes()[:-100])  # truncated
    # the same file and a conflict many batches after the first: found in the index, or in
    # the batch still being synced
    (root / "c" / "zz-copy.dcm").write_bytes(small[0].read_bytes())
    with_same_uid_other_bytes(small[1], root / "c" / "zz-other.dcm")
    items = list(FolderImporter().iter_items(str(root), ImportOptions()))
    extra = [
        SourceItem(origin="memory.dcm", data=large[4].read_bytes()),  # a duplicate, in memory
        SourceItem(origin="zip!../evil", problem="entry escapes the archive"),
        SourceItem(origin="gone.dcm", path=root / "does-not-exist.dcm"),
    ]
    return items[:20] + extra[:1] + items[20:40] + extra[1:] + items[40:]


def _workers(lib: Library) -> list[Worker]:
    """The worker processes of the import running in ``lib`` (none when none runs)."""
    return lib._session.workers if lib._session is not None else []


def with_workers(lib: Library, items: Iterable[SourceItem]) -> Iterator[SourceItem]:
    """``items``, the first one alone: then wait until the import's workers have started, so
    that the rest goes to them (files are handled in the importing process until then)."""
    it = iter(items)
    yield next(it)
    deadline = time.monotonic() + 60
    while not (_workers(lib) and all(w.ready for w in _workers(lib))):
        assert time.monotonic() < deadline, "the workers did not start"
        time.sleep(0.01)
    workers = list(_workers(lib))
    yield from it
    assert all(w.used for w in workers)


def _run(lib_root: Path, items: list[SourceItem], processes: int) -> list[tuple[object, ...]]:
    with open_library(lib_root) as lib:
        lib.processes = processes
        lib.parallel_after = 0 if processes else 10**9
        lib.chunk_files = 4  # many chunks, batches ending inside a chunk
        lib.batch_files = 7
        rep = lib.import_items(with_workers(lib, items) if processes else items)
        assert lib.check().consistent
    return [astuple(r) for r in rep.results]


def test_workers_give_the_outcome_of_one_process(tmp_path, mixed, monkeypatch):
    monkeypatch.setattr(_worker, "BIG_FILE", 4000)  # the 8 kB files: read by the parent
    here, there = tmp_path / "one", tmp_path / "workers"
    first = _run(here, mixed, 0)
    assert _run(there, mixed, 2) == first
    statuses = [r[1] for r in first]
    assert statuses.count(CONFLICT) == 3 and statuses.count(DUPLICATE) == 4
    by_name = {"/".join(Path(str(r[0])).parts[-2:]): r[1:3] for r in first}
    assert by_name["c/zz-copy.dcm"] == (DUPLICATE, "already in the library")
    assert by_name["c/zz-other.dcm"][0] == CONFLICT
    assert by_name["a/IM00003.dcm"] == (DUPLICATE, "already in the library")  # after -copy
    assert statuses.count(FAILED) == 4 and statuses.count(IMPORTED) == 52
    assert _index(there) == _index(here)
    assert _files(there) == _files(here)
    # a second import of the same: everything a duplicate, the same way
    again = _run(here, mixed, 0)
    assert _run(there, mixed, 2) == again
    assert IMPORTED not in [r[1] for r in again]
    assert _index(there) == _index(here)


def test_workers_that_cannot_start_leave_the_import_to_the_process(tmp_path, monkeypatch):
    monkeypatch.setattr(_worker, "BIG_FILE", "not a number")  # each worker fails at start
    paths = ct_series(tmp_path / "src", 60, size=16)
    with open_library(tmp_path / "lib") as lib:
        lib.processes, lib.parallel_after = 2, 0
        seen: list[list[Worker]] = []

        def items() -> Iterator[SourceItem]:
            for i, p in enumerate(paths):
                yield SourceItem(origin=str(p), path=p)
                if i == 0:  # give the workers time to fail
                    seen.append(list(_workers(lib)))
                    for w in _workers(lib):
                        w.proc.wait(timeout=60)

        rep = lib.import_items(items())
        assert rep.counts[IMPORTED] == 60 and lib.check().consistent
        assert len(seen[0]) == 2 and not any(w.ready or w.used for w in seen[0])


def test_a_worker_that_dies_stops_the_import_cleanly(tmp_path):
    paths = ct_series(tmp_path / "src", 120, size=16)
    items = [SourceItem(origin=str(p), path=p) for p in paths]
    with open_library(tmp_path / "lib") as lib:
        lib.processes, lib.parallel_after, lib.chunk_files, lib.batch_files = 2, 0, 4, 10
        seen = []

        def report(result: object) -> None:
            seen.append(result)
            if len(seen) == 30:
                _workers(lib)[1].proc.kill()

        with pytest.raises(LibraryError, match="import worker") as exc:
            lib.import_items(with_workers(lib, items), report=report)
        assert exc.value.report is not None
        kept = sum(s.images for s in lib.series())
        assert 0 < kept < len(paths)
        assert lib.check().consistent or all(p.kind == "orphan" for p in lib.check().problems)
        assert lib.check(repair=True).consistent
        rep = lib.import_items(items)
        assert sum(s.images for s in lib.series()) == len(paths)
        assert rep.counts[FAILED] == 0 and lib.check().consistent


_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, sys.argv[4])
    from test_library_workers import _workers, with_workers
    from ownscan.core.library import LibraryError, open_library
    from ownscan.core.plugin_types import ImportOptions
    from ownscan.plugins.folder import FolderImporter

    src, lib_root, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
    sig = getattr(signal, sys.argv[5]) if len(sys.argv) > 5 else signal.SIGKILL
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with open_library(lib_root) as lib:
        lib.processes, lib.parallel_after, lib.chunk_files, lib.batch_files = 2, 0, 4, 10
        done = 0

        def report(result):
            global done
            done += 1
            if done == kill_at:
                print(" ".join(str(w.proc.pid) for w in _workers(lib)), flush=True)
                os.kill(os.getpid(), sig)

        items = with_workers(lib, FolderImporter().iter_items(src, ImportOptions()))
        try:
            rep = lib.import_items(items, report=report)
        except LibraryError as exc:
            print(exc, file=sys.stderr)
            print(exc.report.summary())
            sys.exit(2)
        print(rep.summary())
    """
)


def test_disk_full_in_a_worker_stops_cleanly_and_reimport_completes(tmp_path):
    src = tmp_path / "src"
    ct_series(src / "a_small", 20, size=16)
    ct_series(src / "z_big", 1, size=512)  # 512 kB: more than the disk lets us write
    lib = tmp_path / "lib"
    r = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(src), str(lib), "0", _HERE],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit_file_size,
    )
    assert r.returncode == 2, r.stderr
    assert "cannot write to the library" in r.stderr and "File too large" in r.stderr
    with open_library(lib) as library:
        assert sum(s.images for s in library.series()) == 20  # what was complete is kept
        assert library.check().consistent
        items = FolderImporter().iter_items(str(src), ImportOptions())
        rep = library.import_items(items)
        assert (rep.counts[IMPORTED], rep.counts[DUPLICATE]) == (1, 20)


def test_workers_end_with_a_killed_parent_and_the_library_stays_consistent(tmp_path):
    src = tmp_path / "src"
    ct_series(src, 200, size=16)
    lib = tmp_path / "lib"
    r = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(src), str(lib), "90", _HERE],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == -signal.SIGKILL, r.stderr
    pids = [int(p) for p in r.stdout.split()]
    assert len(pids) == 2
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.05)
    assert not any(_alive(p) for p in pids), "workers outlived their parent"
    with open_library(lib) as library:
        assert library.check(repair=True).consistent
        items = FolderImporter().iter_items(str(src), ImportOptions())
        library.import_items(items)
        assert sum(s.images for s in library.series()) == 200
        assert library.check().consistent and library.check().problems == []


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status  # a zombie has ended


def test_worker_reads_exactly_what_the_parent_would(tmp_path):
    (p,) = ct_series(tmp_path / "src", 1, size=16)
    data = p.read_bytes()
    (status, size, sha, header, reason, is_pdf), kept = _worker._scan(str(p), True, 1 << 20)
    assert (status, size, sha, reason, is_pdf) == (
        _worker.SCAN_OK,
        len(data),
        hashlib.sha256(data).hexdigest(),
        "",
        False,
    )
    assert kept == data and header.sop_instance_uid
    assert _worker._scan(str(p), True, len(data) - 1)[0][0] == _worker.SCAN_BIG
    assert _worker._scan(str(tmp_path / "nope"), True, 1 << 20)[0][0] == _worker.SCAN_FAILED
    pdf = tmp_path / "x.pdf"
    pdf.write_bytes(PDF)
    assert _worker._scan(str(pdf), False, 1 << 20)[0][5] is True
    os.truncate(p, len(data) - 50)
    (status, _, _, _, reason, _), kept = _worker._scan(str(p), True, 1 << 20)
    assert status == _worker.SCAN_FAILED and "truncated" in reason and kept is None


def test_ctrl_c_with_workers_commits_every_file_reported(tmp_path):
    src = tmp_path / "src"
    ct_series(src, 200, size=16)
    lib = tmp_path / "lib"
    r = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(src), str(lib), "90", _HERE, "SIGINT"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode != 0 and "KeyboardInterrupt" in r.stderr, r.stderr
    with open_library(lib) as library:
        # the 90 files reported (the last one while Ctrl-C came) are in, and nothing else:
        # no file was written that the parent had not decided on
        assert sum(s.images for s in library.series()) == 90
        check = library.check()
        assert check.consistent and check.problems == [], check.problems
        items = FolderImporter().iter_items(str(src), ImportOptions())
        rep = library.import_items(items)
        assert (rep.counts[IMPORTED], rep.counts[DUPLICATE]) == (110, 90)
