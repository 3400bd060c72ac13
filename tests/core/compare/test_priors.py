"""Prior finding in the library, the same-patient rule, and registrations kept in the index."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pydicom.uid import generate_uid
from volgen import write_volume_series

from ownscan.core.compare import (
    RIGID_METHOD,
    Registration,
    load_registration,
    patient_check,
    propose_priors,
    save_registration,
)
from ownscan.core.library import Library, open_library
from ownscan.core.plugin_types import SourceItem
from ownscan.core.volume import SeriesInfo

JANE = SeriesInfo(patient_name="DOE^JANE", patient_id="P1", patient_birth_date="19700101")
CORONAL = np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])  # i: left, j: feet, k: anterior


def _series(
    root: Path,
    lib: Library,
    info: SeriesInfo,
    date: str,
    *,
    modality: str = "CT",
    description: str = "CT chest",
    direction: np.ndarray | None = None,
    study_uid: str | None = None,
    body: str = "CHEST",
) -> str:
    """Write a tiny series and import it; returns its Series Instance UID."""
    uid = generate_uid()
    folder = root / uid
    write_volume_series(
        folder,
        np.zeros((3, 4, 4)),
        spacing=(1.0, 1.0, 2.0),
        origin=(0, 0, 0),
        direction=np.eye(3) if direction is None else direction,
        modality=modality,
        info=SeriesInfo(**{**info.to_dict(), "body_part": body}),
        series_uid=uid,
        study_uid=study_uid,
        study_date=date,
        description=description,
    )
    lib.import_items([SourceItem(origin=str(p), path=p) for p in sorted(folder.iterdir())])
    return uid


@pytest.fixture
def lib(tmp_path: Path):
    with open_library(tmp_path / "lib") as library:
        yield library


def test_priors_are_the_same_patients_earlier_series_best_first(
    tmp_path: Path, lib, capsys
) -> None:
    src = tmp_path / "src"
    study = generate_uid()
    current = _series(src, lib, JANE, "20250101", study_uid=study)
    best = _series(src, lib, JANE, "20240101")
    coronal = _series(src, lib, JANE, "20230601", direction=CORONAL)
    other_hospital = _series(
        src, lib, SeriesInfo(**{**JANE.to_dict(), "patient_id": "H2-77"}), "20220101"
    )
    older = _series(src, lib, JANE, "20200101", description="CT abdomen", body="ABDOMEN")
    # not priors: another modality, a later study, the same study, another patient
    _series(src, lib, JANE, "20240101", modality="MR", description="T1")
    _series(src, lib, JANE, "20260101")
    _series(src, lib, JANE, "20250101", study_uid=study)
    _series(src, lib, SeriesInfo(patient_name="ROE^RICHARD", patient_id="P2"), "20240101")

    found = propose_priors(lib, current[:-3])  # a unique start of the UID is enough
    assert [c.series.series_uid for c in found] == [best, other_hospital, coronal, older]
    assert "same orientation (axial)" in found[0].reasons
    assert "same body part (CHEST)" in found[0].reasons
    assert found[0].score > found[2].score  # coronal ranks below every axial chest series

    # the same list from the command line
    from ownscan.core.cli import main

    args = ["compare", "--priors", "library:" + current, "--library", str(lib.root)]
    assert main([*args, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["series_uid"] for r in rows] == [c.series.series_uid for c in found]
    assert rows[0]["reasons"] == list(found[0].reasons)
    assert main(args) == 0
    text = capsys.readouterr().out
    assert text.index(best) < text.index(other_hospital) < text.index(coronal)
    assert main(["compare", "--priors", "library:" + current, "x", "--library", str(lib.root)]) == 2


@pytest.mark.parametrize(
    ("other", "same", "named"),
    [
        pytest.param({"patient_name": "doe jane"}, True, [], id="name-case-and-separators"),
        pytest.param({"patient_id": "H2-77"}, True, ["patient ID"], id="other-hospital-id"),
        pytest.param({"patient_name": "", "patient_birth_date": ""}, True, [], id="id-only"),
        pytest.param({"patient_name": "ROE^RICHARD"}, False, ["name"], id="other-name"),
        pytest.param(
            {"patient_id": "P2", "patient_birth_date": "19800101"},
            False,
            ["patient ID", "birth date"],
            id="other-id-and-birth-date",
        ),
        pytest.param(
            {"patient_id": "", "patient_name": "", "patient_birth_date": ""},
            False,
            ["too few patient identifiers"],
            id="nothing-to-compare",
        ),
    ],
)
def test_patient_check(other: dict[str, str], same: bool, named: list[str]) -> None:
    ok, differences = patient_check(JANE, SeriesInfo(**{**JANE.to_dict(), **other}))
    assert ok is same
    assert len(differences) == len(named)
    for text, what in zip(differences, named, strict=True):
        assert text.startswith(what)
    if not same and named[0] == "name":
        assert "'DOE JANE' vs 'ROE RICHARD'" in differences[0]


def test_a_registration_is_kept_until_a_series_changes(tmp_path: Path, lib) -> None:
    src = tmp_path / "src"
    prior = _series(src, lib, JANE, "20240101")
    current = _series(src, lib, JANE, "20250101")
    assert load_registration(lib, prior, current, RIGID_METHOD) is None
    m = np.eye(4)
    m[:3, 3] = (1.5, -2.0, 3.25)
    reg = Registration(m, RIGID_METHOD, metric=-0.8, quality=0.6, overlap=0.97, start="x")
    save_registration(lib, prior, current, reg)
    back = load_registration(lib, prior, current, RIGID_METHOD)
    assert back is not None
    np.testing.assert_array_equal(back.matrix, m)
    assert (back.metric, back.quality, back.overlap, back.start) == (-0.8, 0.6, 0.97, "x")
    assert load_registration(lib, current, prior, RIGID_METHOD) is None  # the other way round
    assert load_registration(lib, prior, current, "another-method") is None

    # an image added to the current series later: the stored result is out of date
    extra = src / "extra"
    info = SeriesInfo(**{**JANE.to_dict(), "body_part": "CHEST"})
    write_volume_series(
        extra,
        np.ones((1, 4, 4)),
        spacing=(1, 1, 2),
        origin=(0, 0, 9),
        direction=np.eye(3),
        modality="CT",
        info=info,
        series_uid=current,
    )
    lib.import_items([SourceItem(origin="x", path=p) for p in extra.iterdir()])
    assert load_registration(lib, prior, current, RIGID_METHOD) is None

    # removing a series removes its registrations (and check finds nothing dangling)
    save_registration(lib, prior, current, reg)
    lib.remove(series_uid=prior)
    assert lib.conn.execute("SELECT count(*) FROM registrations").fetchone()[0] == 0
    assert lib.check(verify_hashes=False).consistent


def test_a_registration_needs_library_series(lib) -> None:
    from ownscan.core.library import LibraryError

    with pytest.raises(LibraryError, match=r"no series 1\.2\.3"):
        lib.store_registration("1.2.3", "1.2.4", RIGID_METHOD, np.eye(4).tolist())
    with pytest.raises(ValueError, match="4x4"):
        lib.store_registration("1.2.3", "1.2.4", RIGID_METHOD, [[1.0]])
