"""``ownscan info library:UID~N`` says which stack of how many it shows (the stack's files,
read alone, no longer show the others), and ``info library:UID`` names each stack of a series
of several with the words ``ownscan list`` uses and the source that asks for it alone; each
name leads to that very stack (its origin and slice direction). A library whose stacks are not
recorded (a series changed since, a read-only one) gives the same words, made from the headers.

A real library of tests/core/stacksgen.py's three angled stacks (-15, 0, +15 degrees), the
command in-process."""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from stacksgen import SERIES_UID, write_three_stacks

from ownscan.core.cli import main
from ownscan.core.library import open_library


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("stackinfo")
    write_three_stacks(root / "in")
    assert main(["import", str(root / "in"), "--library", str(root / "lib")]) == 0
    return root / "lib"


def _info(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["info", *args]) == 0
    return capsys.readouterr().out


def _labels(library: Path) -> list[str]:
    """The words `ownscan list` shows of each stack, in ``UID~N`` order, as recorded."""
    with open_library(library, create=False, read_only=True) as lib:
        return [s.label for s in lib.series_stacks(SERIES_UID)]


def test_the_recorded_stacks_are_the_three_written(library: Path) -> None:
    # the order is that of series assembly over the stored files (instance number, then SOP
    # Instance UID: random here), so only the set is known: one upright, two tilted 15 deg
    labels = _labels(library)
    assert len(labels) == 3
    planes = sorted(label.split(", ")[1] for label in labels)
    assert planes == ["axial", "oblique axial", "oblique axial"]
    for n, label in enumerate(labels, 1):
        assert label.startswith(f"stack {n} of 3, ") and label.endswith(", 8 images")


def test_one_stack_says_which_of_how_many(
    library: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for n, label in enumerate(_labels(library), 1):
        out = _info(capsys, f"library:{SERIES_UID[:24]}~{n}", "--library", str(library))
        assert "    [1] Series 1 L-spine ax T2: CT volume 48x48x8" in out, out
        assert f"        {label} (all 3 stacks: library:{SERIES_UID})" in out.splitlines(), out
        assert "[2]" not in out, out  # one stack, alone


def test_the_series_names_each_stack_and_each_name_leads_to_it(
    library: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = _labels(library)
    out = _info(capsys, f"library:{SERIES_UID}", "--library", str(library))
    lines = out.splitlines()
    for n, label in enumerate(labels, 1):
        said = f"        {label}: library:{SERIES_UID}~{n}"
        assert said in lines, out
        assert lines[lines.index(said) - 1].startswith("    ["), out  # under its series line
    lib = str(library)
    whole = json.loads(_info(capsys, f"library:{SERIES_UID}", "--library", lib, "--json"))
    assert sorted(s["stack"]["number"] for s in whole["series"]) == [1, 2, 3]
    for n, label in enumerate(labels, 1):
        (listed,) = [s for s in whole["series"] if s["stack"]["number"] == n]
        assert listed["stack"] == {
            "number": n,
            "count": 3,
            "label": label,
            "source": f"library:{SERIES_UID}~{n}",
        }
        alone = json.loads(_info(capsys, listed["stack"]["source"], "--library", lib, "--json"))
        (one,) = alone["series"]
        assert one["stack"] == listed["stack"]
        # the very stack: where it lies and how it is tilted, as in the whole series' listing
        assert one["origin_lps"] == pytest.approx(listed["origin_lps"])
        np.testing.assert_allclose(one["direction"], listed["direction"], atol=1e-9)
        # and its words say its tilt: upright is axial, 15 degrees off is oblique
        normal_z = abs(one["direction"][2][2])
        tilt = math.degrees(math.acos(min(1.0, normal_z)))
        assert tilt == pytest.approx(0.0 if ", axial," in label else 15.0, abs=0.01), label


def test_unrecorded_stacks_are_made_from_the_headers(
    library: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = _labels(library)
    copy = tmp_path / "lib"
    shutil.copytree(library, copy)
    conn = sqlite3.connect(copy / "index.sqlite")
    conn.execute("UPDATE series SET stacks = NULL")
    conn.commit()
    conn.close()
    with open_library(copy, create=False, read_only=True) as lib:
        assert [s.label for s in lib.series_stacks(SERIES_UID)] == labels
    conn = sqlite3.connect(copy / "index.sqlite")
    assert conn.execute("SELECT stacks FROM series").fetchall() == [(None,)]  # made, not written
    conn.close()
    out = _info(capsys, f"library:{SERIES_UID}~2", "--library", str(copy))
    assert f"{labels[1]} (all 3 stacks: library:{SERIES_UID})" in out, out


def test_a_series_of_one_stack_is_shown_as_before(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ctgen import write_ct_series

    uid = "1.2.826.0.1.3680043.8.498.7770101"
    write_ct_series(tmp_path / "in", n_slices=8, rows=48, cols=48, series_uid=uid)
    assert main(["import", str(tmp_path / "in"), "--library", str(tmp_path / "lib")]) == 0
    capsys.readouterr()
    with open_library(tmp_path / "lib", create=False, read_only=True) as lib:
        assert len(lib.series_stacks(uid)) == 1
    out = _info(capsys, f"library:{uid}", "--library", str(tmp_path / "lib"))
    assert "stack" not in out, out
