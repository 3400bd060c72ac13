"""One person, many hospitals: proposals, merge, split, reject, timeline, the version-2 index
upgrade and ``ownscan person``."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pydicom
import pytest
from library_dicomgen import ct_series, encapsulated_pdf
from pydicom.uid import generate_uid
from schema_downgrade import undo_version_4
from test_library_cli import ownscan

from ownscan.core.library import LibraryError, name_key, open_library
from ownscan.core.library._schema import MIGRATIONS, migrate


def _study(
    folder: Path,
    *,
    name: str,
    pid: str,
    birth: str,
    hospital: str,
    date: str,
    body_part: str = "CHEST",
    report: bool = False,
) -> str:
    """One CT study of one patient at one hospital; return its Study UID."""
    study = generate_uid()
    paths = ct_series(folder, 2, study=study, patient=(name, pid))
    for path in paths:
        ds = pydicom.dcmread(path)
        ds.PatientBirthDate = birth
        ds.InstitutionName = hospital
        ds.StudyDate = date
        ds.BodyPartExamined = body_part
        ds.save_as(path, enforce_file_format=True)
    if report:
        pdf = encapsulated_pdf(folder / "report.dcm", study, (name, pid))
        ds = pydicom.dcmread(pdf)
        ds.PatientBirthDate = birth
        ds.InstitutionName = hospital
        ds.save_as(pdf, enforce_file_format=True)
    return study


@pytest.fixture
def history(tmp_path: Path) -> Path:
    """Jane Doe at two hospitals (different IDs, name written two ways), one namesake born
    on another day, and John Roe."""
    src = tmp_path / "src"
    _study(
        src / "a1",
        name="Doe^Jane",
        pid="A-17",
        birth="19700101",
        hospital="St Anne",
        date="20190305",
        report=True,
    )
    _study(
        src / "b1",
        name="DÖE^JANE^^DR",
        pid="9001",
        birth="19700101",
        hospital="City General",
        date="20230612",
        body_part="HEAD",
    )
    _study(
        src / "a2",
        name="Doe^Jane",
        pid="A-17",
        birth="19700101",
        hospital="St Anne",
        date="20210101",
        body_part="ABDOMEN",
    )
    _study(
        src / "c1",
        name="Jane Doe",
        pid="X5",
        birth="19800202",
        hospital="Far Clinic",
        date="20200101",
    )
    _study(
        src / "d1", name="Roe^John", pid="R1", birth="19600101", hospital="St Anne", date="20220101"
    )
    return src


def _import(lib_path: Path, src: Path) -> None:
    from ownscan.core.plugin_types import SourceItem

    items = [SourceItem(origin=str(p), path=p) for p in sorted(src.rglob("*.dcm"))]
    with open_library(lib_path) as lib:
        report = lib.import_items(items)
        assert report.ok, report.summary()


def _files(lib_path: Path) -> dict[str, str]:
    """Every stored file and its sha256: merging and splitting must not change one byte."""
    out = {}
    for path in sorted((lib_path / "objects").rglob("*")):
        if path.is_file():
            out[str(path.relative_to(lib_path))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _state(lib) -> list[tuple[tuple[int, ...], ...]]:
    return [tuple(pt.key for pt in p.patients) for p in lib.persons()]  # type: ignore[misc]


def test_name_key_ignores_order_case_accents_and_dicom_formatting():
    assert name_key("Doe^Jane") == name_key("JANE DOE") == name_key("Döe^Jane^^Dr") == "doe jane"
    assert name_key("O'Brien-Smith^Mary") == name_key("mary obrien smith")
    assert name_key("Doe^Jane=ドウ^ジェーン") == "doe jane"
    assert name_key("") == ""
    assert name_key("Doe^Jane") != name_key("Doe^John")


def test_propose_merge_split_reject_round_trip(tmp_path, history):
    lib_path = tmp_path / "lib"
    _import(lib_path, history)
    files = _files(lib_path)
    with open_library(lib_path) as lib:
        keys = {p.patient_id: p.key for p in lib.patients()}
        before = _state(lib)
        assert len(before) == 4  # nobody merged yet: one person per patient
        proposed = lib.propose_person_merges()
        # only the two Jane Does born 1970-01-01; the namesake born 1980 and John are not
        assert [m.patient_keys for m in proposed] == [
            tuple(sorted(((keys["A-17"],), (keys["9001"],))))
        ]
        assert proposed[0].name_key == "doe jane" and proposed[0].birth_date == "19700101"

        person = lib.merge_persons(keys["A-17"], keys["9001"])
        assert person.linked and {p.patient_id for p in person.patients} == {"A-17", "9001"}
        assert set(person.institutions) == {"St Anne", "City General"}
        assert person.studies == 3
        assert lib.propose_person_merges() == []
        assert lib.person(keys["9001"]) == person  # any patient names the person

        timeline = lib.timeline(person)
        assert [
            (e.date, e.institutions, e.modalities, e.body_parts, e.has_report) for e in timeline
        ] == [
            ("20190305", ("St Anne",), ("CT",), ("CHEST",), True),
            ("20210101", ("St Anne",), ("CT",), ("ABDOMEN",), False),
            ("20230612", ("City General",), ("CT",), ("HEAD",), False),
        ]
        assert [e.patient_id for e in timeline] == ["A-17", "A-17", "9001"]
        assert timeline[0].images == 2  # the report's series is not counted as images

        with pytest.raises(LibraryError, match="already one person"):
            lib.merge_persons(keys["9001"], keys["A-17"])
        assert _files(lib_path) == files

        lib.split_person(keys["9001"])
        assert _state(lib) == before
        assert len(lib.propose_person_merges()) == 1  # the proposal is back
        with pytest.raises(LibraryError, match="not merged"):
            lib.split_person(keys["9001"])

        lib.reject_person_merge(keys["A-17"], keys["9001"])
        assert lib.propose_person_merges() == []
        # the user may still merge what they rejected before; the rejection is then forgotten
        lib.merge_persons(keys["A-17"], keys["9001"], keys["X5"])
        assert len(lib.person(keys["X5"]).patients) == 3
        lib.split_person(keys["X5"])
        lib.split_person(keys["A-17"])
        assert _state(lib) == before
        assert len(lib.propose_person_merges()) == 1
        with pytest.raises(LibraryError, match="no patient 999"):
            lib.merge_persons(keys["A-17"], 999)
        # removing a patient removes its link, not the other patient
        lib.merge_persons(keys["A-17"], keys["9001"])
        lib.remove(patient_key=keys["9001"])
        left = lib.person(keys["A-17"])
        assert not left.linked and [p.patient_id for p in left.patients] == ["A-17"]
        assert lib.check().consistent
    assert set(_files(lib_path)) < set(files)  # only the removed patient's files went


def _downgrade_to_version_2(lib_path: Path) -> None:
    """Turn an index into what ownscan with schema version 2 wrote, and check it is exactly
    that schema."""
    conn = sqlite3.connect(lib_path / "index.sqlite", isolation_level=None)
    undo_version_4(conn)
    conn.execute("PRAGMA foreign_keys=OFF")
    for table in ("person_rejections", "person_links", "persons"):
        conn.execute(f"DROP TABLE {table}")
    conn.execute("ALTER TABLE series DROP COLUMN institution")
    conn.execute("PRAGMA user_version = 2")
    mine = sorted(r for r in conn.execute("SELECT type, name FROM sqlite_master"))
    conn.close()
    fresh = sqlite3.connect(":memory:", isolation_level=None)
    migrate(fresh, MIGRATIONS[:2])
    assert mine == sorted(r for r in fresh.execute("SELECT type, name FROM sqlite_master"))
    cols = [r[1] for r in fresh.execute("PRAGMA table_info(series)")]
    conn = sqlite3.connect(lib_path / "index.sqlite")
    assert [r[1] for r in conn.execute("PRAGMA table_info(series)")] == cols
    conn.close()


def test_an_index_of_version_2_is_upgraded_and_hospitals_filled_from_the_files(tmp_path, history):
    lib_path = tmp_path / "lib"
    _import(lib_path, history)
    _downgrade_to_version_2(lib_path)
    files = _files(lib_path)
    with open_library(lib_path) as lib:
        assert lib.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) == 4
        unknown = lib.conn.execute(
            "SELECT count(*) FROM series WHERE institution IS NULL"
        ).fetchone()[0]
        assert unknown == 6  # every series: 5 CT series and the report
        # the query answers from the files while the column is empty, then fills it
        keys = {p.patient_id: p.key for p in lib.patients()}
        timeline = lib.timeline(keys["9001"])
        assert [e.institutions for e in timeline] == [("City General",)]
        assert (
            lib.conn.execute("SELECT count(*) FROM series WHERE institution IS NULL").fetchone()[0]
            == 0
        )
        assert sorted(r[0] for r in lib.conn.execute("SELECT institution FROM series")) == sorted(
            ["St Anne"] * 4 + ["City General", "Far Clinic"]
        )
    assert _files(lib_path) == files


def test_ownscan_person_command(tmp_path, history):
    lib_path = tmp_path / "lib"
    r = ownscan("import", history, "--library", lib_path)
    assert r.returncode == 0, r.stderr
    r = ownscan("person", "--library", lib_path, "--json")
    assert r.returncode == 0, r.stderr
    listed = json.loads(r.stdout)
    keys = {p["patients"][0]["patient_id"]: p["key"] for p in listed["persons"]}
    assert [m["person_keys"] for m in listed["proposed_merges"]] == [
        sorted([keys["A-17"], keys["9001"]])
    ]
    r = ownscan("person", "--library", lib_path)
    a, b = sorted([keys["A-17"], keys["9001"]])
    assert f"ownscan person merge {a} {b}" in r.stdout
    assert "St Anne" in r.stdout and "City General" in r.stdout
    r = ownscan("person", "merge", a, b, "--library", lib_path)
    assert r.returncode == 0 and "merged" in r.stdout, r.stderr
    r = ownscan("person", "show", b, "--library", lib_path)
    assert r.returncode == 0, r.stderr
    rows = [line for line in r.stdout.splitlines() if line.startswith("  20")]
    assert [row.split()[0] for row in rows] == ["2019-03-05", "2021-01-01", "2023-06-12"]
    assert "yes" in rows[0] and "City General" in rows[2]
    assert ownscan("person", b, "--library", lib_path).stdout == r.stdout  # N alone: show N
    r = ownscan("person", "split", b, "--library", lib_path)
    assert r.returncode == 0, r.stderr
    r = ownscan("person", "split", b, "--library", lib_path)
    assert r.returncode != 0 and "not merged" in r.stderr
    r = ownscan("person", "merge", a, "--library", lib_path)
    assert r.returncode != 0 and "2 patient number" in r.stderr
    r = ownscan("person", "join", a, b, "--library", lib_path)
    assert r.returncode != 0 and "unknown action 'join'" in r.stderr
