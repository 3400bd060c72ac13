"""The library API: storage byte for byte, deduplication, conflicts, documents, queries, remove."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from library_dicomgen import PDF, ct_series, encapsulated_pdf, with_same_uid_other_bytes
from pydicom.uid import generate_uid

from ownscan.core.library import (
    CONFLICT,
    DOCUMENT,
    DUPLICATE,
    FAILED,
    IMPORTED,
    SCHEMA_VERSION,
    SKIPPED,
    Library,
    LibraryError,
    open_library,
)
from ownscan.core.library._schema import migrate
from ownscan.core.plugin_types import ImportOptions, SourceItem
from ownscan.plugins.folder import FolderImporter


def _items(source: Path) -> list[SourceItem]:
    return list(FolderImporter().iter_items(str(source), ImportOptions()))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def lib(tmp_path: Path):
    with open_library(tmp_path / "lib") as library:
        yield library


def test_import_stores_bytes_unchanged_and_indexes_what_a_browser_needs(tmp_path, lib):
    study = generate_uid()
    a = ct_series(tmp_path / "src" / "a", 4, study=study, series_number=2, seed=1)
    b = ct_series(tmp_path / "src" / "b", 3, study=study, series_number=3, description="Bone")
    rep = lib.import_items(_items(tmp_path / "src"), sources=["src"])
    assert rep.counts[IMPORTED] == 7 and rep.ok
    (patient,) = lib.patients()
    assert (patient.name, patient.patient_id, patient.birth_date, patient.sex) == (
        "Doe^Jane",
        "P1",
        "19700101",
        "F",
    )
    assert patient.studies == 1 and patient.images == 7
    assert patient.size == sum(p.stat().st_size for p in a + b)
    (st,) = lib.studies(patient.key)
    assert (st.study_uid, st.date, st.description, st.series, st.images) == (
        study,
        "20240131",
        "CT Thorax",
        2,
        7,
    )
    series = lib.series(study)
    assert [(s.number, s.description, s.modality, s.images) for s in series] == [
        (2, "Axial 1mm", "CT", 4),
        (3, "Bone", "CT", 3),
    ]
    insts = lib.instances(series[0].series_uid)
    assert [i.instance_number for i in insts] == [1, 2, 3, 4]
    # byte for byte: each stored file is the very file imported, named by its sha256
    for src, inst in zip(a, insts, strict=True):
        assert Path(inst.path).read_bytes() == src.read_bytes()
        assert Path(inst.path).name == _sha(src) == inst.sha256
        assert inst.origin == str(src)
    items = lib.series_items(series[1].series_uid)
    assert sorted(i.read_bytes() for i in items) == sorted(p.read_bytes() for p in b)
    assert lib.has_instance(insts[0].sop_instance_uid)
    assert not lib.has_instance("1.2.3.4")


def test_private_permissions(tmp_path, lib):
    ct_series(tmp_path / "src", 2)
    lib.import_items(_items(tmp_path / "src"))
    for dirpath, _dirs, files in os.walk(lib.root):
        assert stat.S_IMODE(os.stat(dirpath).st_mode) == 0o700, dirpath
        for f in files:
            mode = stat.S_IMODE(os.stat(Path(dirpath) / f).st_mode)
            assert mode == 0o600, f"{dirpath}/{f}: {mode:o}"


def test_reimport_adds_nothing_and_says_so(tmp_path, lib):
    ct_series(tmp_path / "src", 5)
    lib.import_items(_items(tmp_path / "src"))
    before = sorted(p for p in (lib.root / "objects").rglob("*") if p.is_file())
    rep = lib.import_items(_items(tmp_path / "src"))
    assert rep.counts[DUPLICATE] == 5 and rep.counts[IMPORTED] == 0 and rep.ok
    assert sorted(p for p in (lib.root / "objects").rglob("*") if p.is_file()) == before
    assert lib.patients()[0].images == 5


def test_same_uid_different_bytes_is_kept_aside_and_reported(tmp_path, lib):
    (first, _) = ct_series(tmp_path / "src", 2)
    other = with_same_uid_other_bytes(first, tmp_path / "other" / "changed.dcm")
    lib.import_items(_items(tmp_path / "src"))
    rep = lib.import_items(_items(tmp_path / "other"))
    (r,) = rep.results
    assert r.status == CONFLICT and "kept aside" in r.reason and not rep.ok
    (c,) = lib.conflicts()
    assert Path(c.path).read_bytes() == other.read_bytes()
    assert c.existing_sha256 == _sha(first)
    # the held instance is untouched
    (inst,) = [i for i in lib.instances(r.series_uid) if i.sop_instance_uid == r.sop_instance_uid]
    assert Path(inst.path).read_bytes() == first.read_bytes()
    assert lib.check().consistent


def test_within_one_import_a_repeated_file_is_a_duplicate(tmp_path, lib):
    (p,) = ct_series(tmp_path / "src", 1)
    items = [SourceItem(origin="one", path=p), SourceItem(origin="two", data=p.read_bytes())]
    rep = lib.import_items(items)
    assert [r.status for r in rep.results] == [IMPORTED, DUPLICATE]


def test_not_dicom_skipped_bad_dicom_failed_problem_items_failed(tmp_path, lib):
    (p,) = ct_series(tmp_path / "src", 1)
    import pydicom

    ds = pydicom.dcmread(p)
    del ds.SeriesInstanceUID
    ds.save_as(tmp_path / "nouid.dcm", enforce_file_format=True)
    dicomdir = tmp_path / "dd"
    dicomdir.mkdir()
    (dicomdir / "DICOM").mkdir()
    os.link(p, dicomdir / "DICOM" / "IM1")
    import subprocess

    subprocess.run(
        ["dcmmkdir", "--invent", "+r", "DICOM"], cwd=dicomdir, check=True, capture_output=True
    )
    items = [
        SourceItem(origin="notes.txt", data=b"hello, not an image\n" * 20),
        SourceItem(origin="DICOMDIR", path=dicomdir / "DICOMDIR"),
        SourceItem(origin="nouid.dcm", path=tmp_path / "nouid.dcm"),
        SourceItem(origin="cut.dcm", data=p.read_bytes()[:200]),
        SourceItem(origin="zip!../evil", problem="entry escapes the archive"),
        SourceItem(origin="gone.dcm", path=tmp_path / "does-not-exist.dcm"),
    ]
    rep = lib.import_items(items)
    got = {r.origin: (r.status, r.reason) for r in rep.results}
    assert got["notes.txt"] == (SKIPPED, "not a DICOM file")
    assert got["DICOMDIR"][0] == SKIPPED and "DICOMDIR" in got["DICOMDIR"][1]
    assert got["nouid.dcm"] == (FAILED, "DICOM file without Series Instance UID")
    assert got["cut.dcm"][0] == FAILED
    assert got["zip!../evil"] == (FAILED, "entry escapes the archive")
    assert got["gone.dcm"][0] == FAILED and "cannot read" in got["gone.dcm"][1]
    assert not rep.ok
    assert lib.patients() == [] and lib.check().consistent


def test_a_study_naming_two_patients_leaves_no_patient_without_studies(tmp_path, lib):
    # issue 16: the second patient's row was made although the study stays with the first,
    # so an uninterrupted import left "1 patients without studies" for check to report
    study = generate_uid()
    ct_series(tmp_path / "src" / "a", 2, study=study)
    ct_series(tmp_path / "src" / "b", 2, study=study, patient=("Doe^J", "P1"), seed=2)
    rep = lib.import_items(_items(tmp_path / "src"))
    assert rep.counts[IMPORTED] == 4
    (note,) = rep.notes
    assert f"study {study} holds images naming different patients (Doe^J / ID P1" in note
    (patient,) = lib.patients()
    assert (patient.name, patient.studies, patient.images) == ("Doe^Jane", 1, 4)
    check = lib.check()
    assert check.problems == [] and check.consistent
    # the same study again: said again, and still one patient; that patient's own study
    # later makes the patient
    again = lib.import_items(_items(tmp_path / "src" / "b"))
    assert again.counts[DUPLICATE] == 2 and again.notes == []
    ct_series(tmp_path / "own", 1, patient=("Doe^J", "P1"))
    lib.import_items(_items(tmp_path / "own"))
    assert [(p.name, p.studies) for p in lib.patients()] == [("Doe^J", 1), ("Doe^Jane", 1)]
    assert lib.check().problems == []


def test_pdf_is_linked_to_the_single_study_of_its_import(tmp_path, lib):
    study = generate_uid()
    ct_series(tmp_path / "src", 2, study=study)
    (tmp_path / "src" / "report.pdf").write_bytes(PDF)
    rep = lib.import_items(_items(tmp_path / "src"))
    assert rep.counts[DOCUMENT] == 1 and rep.ok and not rep.notes
    (doc,) = lib.documents(study)
    assert (doc.kind, doc.title, doc.study_uid) == ("pdf", "report.pdf", study)
    assert Path(doc.path).read_bytes() == PDF
    assert lib.studies()[0].documents == 1


def test_pdf_with_two_studies_stays_with_the_import_and_it_is_said(tmp_path, lib):
    ct_series(tmp_path / "src" / "a", 1)
    ct_series(tmp_path / "src" / "b", 1)
    (tmp_path / "src" / "report.pdf").write_bytes(PDF)
    rep = lib.import_items(_items(tmp_path / "src"))
    (doc,) = lib.documents()
    assert doc.study_uid is None and doc.import_id == rep.import_id
    assert any("1 document(s) kept with import" in n and "2 studies" in n for n in rep.notes)
    bad = SourceItem(origin="fake.pdf", data=b"GIF89a", media_type="application/pdf")
    assert lib.import_items([bad]).results[0].status == FAILED


def test_encapsulated_pdf_instance_is_indexed_and_shown_as_document(tmp_path, lib):
    study = generate_uid()
    ct_series(tmp_path / "src", 1, study=study)
    encapsulated_pdf(tmp_path / "src" / "doc.dcm", study)
    rep = lib.import_items(_items(tmp_path / "src"))
    assert rep.counts[IMPORTED] == 2
    docs = lib.documents(study)
    assert [(d.kind, d.title) for d in docs] == [("dicom-pdf", "Radiology report")]
    series = lib.series(study)
    assert [s.is_document for s in series] == [False, True]


def test_remove_series_study_patient(tmp_path, lib):
    study = generate_uid()
    ct_series(tmp_path / "src" / "a", 2, study=study)
    ct_series(tmp_path / "src" / "b", 3, study=study, series_number=5)
    ct_series(tmp_path / "src" / "c", 2, patient=("Roe^Rick", "P2"))
    (tmp_path / "src" / "a" / "r.pdf").write_bytes(PDF)
    lib.import_items(_items(tmp_path / "src" / "a"))
    lib.import_items(_items(tmp_path / "src" / "b"))
    lib.import_items(_items(tmp_path / "src" / "c"))
    files = lambda: sorted(p for p in (lib.root / "objects").rglob("*") if p.is_file())  # noqa: E731
    assert len(files()) == 8
    s2 = lib.series(study)[0]
    res = lib.remove(series_uid=s2.series_uid)
    assert (res.series, res.instances, res.documents) == (1, 2, 0)
    assert len(files()) == 6 and len(lib.series(study)) == 1
    res = lib.remove(study_uid=study)
    assert (res.series, res.instances, res.documents) == (1, 3, 1)
    assert [p.name for p in lib.patients()] == ["Roe^Rick"]
    res = lib.remove(patient_key=lib.patients()[0].key)
    assert res.instances == 2 and files() == [] and lib.patients() == []
    assert lib.check().consistent
    with pytest.raises(LibraryError, match="no series"):
        lib.remove(series_uid="1.2.3")


def test_series_uid_prefix_resolution(tmp_path, lib):
    ct_series(tmp_path / "src", 1)
    lib.import_items(_items(tmp_path / "src"))
    uid = lib.series()[0].series_uid
    assert lib.resolve_series(uid[:30]) == uid
    with pytest.raises(LibraryError, match="no series"):
        lib.resolve_series("9.9.9")


def test_location_env_and_refusal_of_foreign_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("OWNSCAN_LIBRARY", str(tmp_path / "envlib"))
    with open_library() as library:
        assert library.root == tmp_path / "envlib"
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_bytes(b"x")
    with pytest.raises(LibraryError, match="holds other files and no ownscan library"):
        open_library(foreign)
    with pytest.raises(LibraryError, match="no ownscan library here"):
        open_library(tmp_path / "new", create=False)


def test_schema_versioned_with_migrations(tmp_path):
    with open_library(tmp_path / "lib") as library:
        v = library.conn.execute("PRAGMA user_version").fetchone()[0]
        assert v == SCHEMA_VERSION >= 1
    # a newer ownscan's index is refused with a clear message, not damaged
    conn = sqlite3.connect(tmp_path / "lib" / "index.sqlite")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(LibraryError, match="upgrade ownscan"):
        open_library(tmp_path / "lib")
    # the mechanism applies each pending step in order, atomically with its version
    conn = sqlite3.connect(":memory:", isolation_level=None)
    steps = ("CREATE TABLE a (x);", "ALTER TABLE a ADD COLUMN y;", "CREATE TABLE broken (;")
    assert migrate(conn, steps[:1]) == 0
    assert migrate(conn, steps[:2]) == 1
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, steps)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    assert [r[1] for r in conn.execute("PRAGMA table_info(a)")] == ["x", "y"]


def test_a_second_writer_is_refused_while_one_writes(tmp_path, lib):
    other = open_library(lib.root)
    other.store.lock()
    try:
        lib.lock_wait = 0.2
        with pytest.raises(LibraryError, match="busy"):
            lib.import_items([])
    finally:
        other.store.unlock()
        other.close()


def test_real_mr_series(mr_head_dir, tmp_path):
    with open_library(tmp_path / "lib") as library:
        rep = library.import_items(_items(mr_head_dir))
        assert rep.counts[IMPORTED] == 384 and rep.ok
        (series,) = library.series()
        assert (series.modality, series.description, series.images) == ("MR", "anat-T1w", 384)
        assert series.size == sum(p.stat().st_size for p in mr_head_dir.iterdir())
        stored = {i.sha256 for i in library.instances(series.series_uid)}
        assert stored == {_sha(p) for p in mr_head_dir.iterdir()}
        assert library.check().consistent
        assert isinstance(library, Library)


def test_load_volume_gives_what_assembly_gives_from_the_source(tmp_path, lib):
    import numpy as np
    import pydicom

    from ownscan.core.assembly import load_volume

    paths = ct_series(tmp_path / "src", 4, size=16, seed=3)
    lib.import_items(_items(tmp_path / "src"))
    (series,) = lib.series()
    vol = lib.load_volume(series.series_uid)
    assert vol.shape == (4, 16, 16)
    raw = pydicom.dcmread(paths[2]).pixel_array.astype(np.int32) - 1024  # rescale intercept
    assert np.array_equal(vol.voxels[2], raw)
    direct = load_volume(str(tmp_path / "src"))
    assert np.array_equal(vol.voxels, direct.voxels)
    assert np.allclose(vol.affine, direct.affine)
    assert lib.assemble(series.series_uid).series[0].n_images == 4


def test_load_volume_of_the_real_mr_matches_the_source(mr_head_dir, tmp_path, lib):
    import numpy as np

    from ownscan.core.assembly import load_volume

    lib.import_items(_items(mr_head_dir))
    (series,) = lib.series()
    vol = lib.load_volume(series.series_uid)
    direct = load_volume(str(mr_head_dir))
    assert vol.shape == direct.shape and vol.shape[0] > 1
    assert np.array_equal(vol.voxels, direct.voxels)
    assert np.allclose(vol.affine, direct.affine)
    with pytest.raises(LibraryError, match="no series"):
        lib.load_volume("1.2.3.4")


def test_importer_failing_midway_keeps_what_came_before(tmp_path, lib):
    from ownscan.core.errors import ImportFailed

    paths = ct_series(tmp_path / "src", 3)

    def items():
        for p in paths:
            yield SourceItem(origin=str(p), path=p)
        raise ImportFailed("disc.iso", "the disc was ejected")

    with pytest.raises(ImportFailed, match="ejected"):
        lib.import_items(items())
    assert lib.patients()[0].images == 3
    assert lib.check().consistent


def test_check_adopts_orphan_documents_and_conflicts_and_finishes_removals(tmp_path, lib):
    (first, second) = ct_series(tmp_path / "src", 2)
    lib.import_items(_items(tmp_path / "src"))
    store = lib.store
    # a conflict file and a PDF left without rows (killed between rename and commit)
    other = with_same_uid_other_bytes(first, tmp_path / "other.dcm").read_bytes()
    conflict = store.conflict_path(hashlib.sha256(other).hexdigest())
    store.write(other, conflict)
    pdf = store.object_path(hashlib.sha256(PDF).hexdigest())
    store.write(PDF, pdf)
    # a removal killed after its commit: the row is gone, the file and the intent remain
    (inst,) = [
        i for s in lib.series() for i in lib.instances(s.series_uid) if i.origin == str(second)
    ]
    lib.conn.execute("DELETE FROM instances WHERE sop_instance_uid = ?", (inst.sop_instance_uid,))
    rel = store.relative(Path(inst.path))
    lib.conn.execute("INSERT INTO pending_deletes (path) VALUES (?)", (rel,))

    # what a killed import and a killed removal leave is set right by check itself, and
    # reported as information (no repair needed)
    rep = lib.check()
    kinds = sorted(p.kind for p in rep.problems)
    # (the removal is finished first: its file is deleted, not adopted as an orphan)
    assert kinds == ["orphan", "orphan", "unfinished-removal"], rep.problems
    assert rep.consistent and rep.information == rep.problems, rep.unrepaired
    assert not Path(inst.path).exists()  # the removal was finished, not undone
    (c,) = lib.conflicts()
    assert c.path == str(conflict) and c.existing_sha256 == _sha(first)
    (doc,) = lib.documents()
    assert doc.kind == "pdf" and doc.study_uid is None and Path(doc.path).read_bytes() == PDF
    assert lib.check().consistent and lib.check().problems == []


@pytest.mark.parametrize("unnamed", [True, False])
def test_store_write_replaces_an_incomplete_file_and_leaves_no_temporary(tmp_path, unnamed):
    from ownscan.core.library._store import Store

    store = Store(tmp_path / "lib")
    store.create()
    store._unnamed = store._unnamed and unnamed  # False: the tmp/ + rename path
    final = store.object_path("ab" * 32)
    store.write(b"complete bytes", final)
    assert final.read_bytes() == b"complete bytes"
    final.write_bytes(b"compl")  # an incomplete file under the final name
    store.write(b"complete bytes", final)
    assert final.read_bytes() == b"complete bytes"
    assert stat.S_IMODE(final.stat().st_mode) == 0o600
    assert not list(store.tmp.iterdir())
