"""``ownscan list`` grouped by person (issue #21): each person's timeline, every study from
every hospital by date with modality, body part, hospital and whether a report is kept; the
table fits the terminal; ``--json`` gives the same as data."""

from __future__ import annotations

import json
from pathlib import Path

import pydicom
import pytest
from test_library_cli import ownscan
from test_persons import history  # noqa: F401 (the fixture)


@pytest.fixture
def library(tmp_path: Path, history: Path) -> tuple[Path, dict[str, int]]:  # noqa: F811
    lib = tmp_path / "lib"
    assert ownscan("import", history, "--library", lib).returncode == 0
    listed = json.loads(ownscan("person", "--json", "--library", lib).stdout)
    keys = {p["patients"][0]["patient_id"]: p["key"] for p in listed["persons"]}
    return lib, keys


def _table(lib: Path, columns: int, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("COLUMNS", str(columns))
    r = ownscan("list", "--library", lib)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def _block(lines: list[str], heading: str) -> list[str]:
    """The rows of the person whose heading starts with ``heading``, up to the next heading."""
    start = next(k for k, line in enumerate(lines) if line.startswith(heading))
    rest = lines[start + 1 :]
    end = next(
        (
            k
            for k, line in enumerate(rest)
            if line
            and not line[0].isspace()
            and not line[:4].isdigit()
            and not line.startswith("(no date)")
        ),
        len(rest),
    )
    return rest[:end]


def test_a_merged_person_shows_every_hospital_by_date(
    library: tuple[Path, dict[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    lib, keys = library
    lines = _table(lib, 220, monkeypatch)
    # before the merge: two persons, and the merge proposed under the table
    a, b = sorted([keys["A-17"], keys["9001"]])
    assert f"yes: ownscan person merge {a} {b}" in lines[-1]
    assert ownscan("person", "merge", a, b, "--library", lib).returncode == 0
    lines = _table(lib, 220, monkeypatch)
    header = lines[0].split()
    assert header[:6] == ["DATE", "MOD", "BODY", "PART", "HOSPITAL", "REPORT"]
    jane = _block(lines, "Jane Doe (A-17, 9001), born 1970-01-01")
    studies = [row for row in jane if row[:4].isdigit()]
    # the timeline: three studies from two hospitals, oldest first
    assert [row.split()[0] for row in studies] == ["2019-03-05", "2021-01-01", "2023-06-12"]
    assert [row.split()[2] for row in studies] == ["CHEST", "ABDOMEN", "HEAD"]
    assert "St Anne" in studies[0] and "St Anne" in studies[1] and "City General" in studies[2]
    assert [" yes " in row for row in studies] == [True, False, False]  # the report kept
    assert all(" CT " in row for row in studies)
    # each study's series under it, with its Series UID where the terminal has room
    series = [row for row in jane if "2: Axial 1mm" in row]
    assert len(series) == 3 and all(row.rstrip()[-1].isdigit() for row in series)
    # the namesake born on another day stays a person of her own
    assert _block(lines, "Jane Doe (X5), born 1980-02-02")


@pytest.mark.parametrize("columns", [80, 100, 220])
def test_the_table_fits_the_terminal(
    library: tuple[Path, dict[str, int]], monkeypatch: pytest.MonkeyPatch, columns: int
) -> None:
    lib, _ = library
    lines = _table(lib, columns, monkeypatch)
    assert all(len(line) < columns for line in lines), [ln for ln in lines if len(ln) >= columns]
    assert ("SERIES UID" in lines[0]) == (columns >= 220)
    assert any("City General"[:7] in line for line in lines)  # cut, never dropped


def test_json_gives_persons_with_their_timelines(library: tuple[Path, dict[str, int]]) -> None:
    lib, keys = library
    a, b = sorted([keys["A-17"], keys["9001"]])
    assert ownscan("person", "merge", a, b, "--library", lib).returncode == 0
    data = json.loads(ownscan("list", "--json", "--library", lib).stdout)
    (jane,) = [p for p in data["persons"] if p["linked"]]
    assert {p["patient_id"] for p in jane["patients"]} == {"A-17", "9001"}
    assert [e["date"] for e in jane["timeline"]] == ["20190305", "20210101", "20230612"]
    assert [e["institutions"] for e in jane["timeline"]] == [
        ["St Anne"],
        ["St Anne"],
        ["City General"],
    ]
    assert [e["has_report"] for e in jane["timeline"]] == [True, False, False]
    assert all(e["series_list"][0]["series_uid"] for e in jane["timeline"])
    assert data["proposed_merges"] == []
    assert len(data["patients"]) == 4  # the per-patient tree of before is still there


def test_text_from_files_cannot_drive_the_terminal(
    tmp_path: Path,
    history: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for path in history.rglob("*.dcm"):
        ds = pydicom.dcmread(path)
        if ds.get("InstitutionName") == "Far Clinic":
            ds.InstitutionName = "Far\x1b[31mClinic"
            ds.StudyDescription = "CT\rThorax\x07"
            ds.save_as(path, enforce_file_format=True)
    lib = tmp_path / "lib"
    assert ownscan("import", history, "--library", lib).returncode == 0
    out = "\n".join(_table(lib, 220, monkeypatch))
    assert "\x1b" not in out and "\r" not in out and "\x07" not in out
    assert "Far\\x1b[31mClinic" in out and "CT\\rThorax\\x07" in out
