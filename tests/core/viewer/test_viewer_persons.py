"""People in the viewer's browser: a person's timeline from every hospital, the merges the
library proposes confirmed, rejected and undone (index-level links; no file rewritten)."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.uid import generate_uid

sys.path.insert(0, str(Path(__file__).parent.parent / "library"))

from library_dicomgen import ct_series, encapsulated_pdf
from viewer_ui import click_place

from ownscan.core.viewer import Viewer, ViewerOptions, entries_from_library
from ownscan.core.viewer._persons import timeline_line


def _study(folder: Path, name: str, pid: str, hospital: str, date: str, report: bool) -> str:
    study = generate_uid()
    for path in ct_series(folder, 2, study=study, patient=(name, pid)):
        ds = pydicom.dcmread(path)
        ds.PatientBirthDate = "19700101"
        ds.InstitutionName = hospital
        ds.StudyDate = date
        ds.BodyPartExamined = "CHEST"
        ds.save_as(path, enforce_file_format=True)
    if report:
        encapsulated_pdf(folder / "report.dcm", study, (name, pid))
    return study


@pytest.fixture
def history(tmp_path: Path) -> Any:
    """Jane Doe at St Anne (2019, a report kept) and at City General (2023, another ID, her
    name written another way), and John Roe."""
    from ownscan.core.library import open_library
    from ownscan.core.plugin_host import get_host
    from ownscan.core.plugin_types import ImportOptions

    src = tmp_path / "src"
    a = _study(src / "a", "Doe^Jane", "A-17", "St Anne", "20190305", report=True)
    b = _study(src / "b", "DÖE^JANE", "9001", "City General", "20230612", report=False)
    _study(src / "c", "Roe^John", "R-1", "St Anne", "20200101", report=False)
    lib = open_library(tmp_path / "lib")
    imp = get_host().find_importer(str(src))
    assert lib.import_items(imp.iter_items(str(src), ImportOptions())).ok
    yield lib, a, b
    lib.close()


def _stored(lib: Any) -> dict[str, str]:
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((lib.root / "objects").rglob("*"))
        if p.is_file()
    }


def test_people_merge_reject_and_undo(xvfb: str, history: Any, tmp_path: Path) -> None:
    lib, study_a, study_b = history
    before = _stored(lib)
    first = [s.series_uid for s in lib.series(study_a) if not s.is_document]
    entries = entries_from_library(lib, first)  # opened on one study only
    with Viewer(entries, ViewerOptions(size=(1100, 700), library=lib)) as v:
        people = v.people
        assert people is not None and v.show_browser
        v.frame()
        click_place(v, people.places["people"])  # the browser's Series/People switch
        assert people.showing
        assert len(people.persons()) == 3
        assert len(people.proposals()) == 1
        v.screenshot(tmp_path / "proposal.png")
        img = v.frame(capture=True)
        assert img is not None
        b = v.layout().browser
        assert b is not None
        assert (img[b.y + 40 : b.y + b.h, b.x : b.x + b.w].max(axis=-1) > 150).mean() > 0.005

        click_place(v, people.places["same:0"])  # "Same person"
        assert not people.proposals()
        jane = next(p for p in people.persons() if p.linked)
        assert len(people.persons()) == 2
        assert set(jane.patient_ids) == {"A-17", "9001"}
        lines = [timeline_line(e) for e in people.timeline(jane)]
        assert lines == [
            "2019-03-05  CT  Chest  St Anne  report kept",
            "2023-06-12  CT  Chest  City General",
        ]
        v.frame()
        v.screenshot(tmp_path / "timeline.png")

        # a study of the timeline that is not open: its series join the browser and show
        click_place(v, people.places[f"study:{study_b}"])
        v.wait_until_loaded(timeout=60)
        assert v.entry.info.study_instance_uid == study_b
        assert len(v.entries) == 2

        # undo for one patient: two persons again, and the library proposes it again
        patient = next(p for p in jane.patients if p.patient_id == "9001")
        click_place(v, people.places[f"undo:{patient.key}"])
        assert len(people.persons()) == 3 and len(people.proposals()) == 1
        # not the same: kept apart, no longer proposed
        v.frame()
        click_place(v, people.places["apart:0"])
        assert not people.proposals() and len(people.persons()) == 3
        v.frame()
    assert _stored(lib) == before  # links in the index only: every stored file as it was
