"""``ownscan list`` writes names as people do and fits the terminal (issue 15)."""

from __future__ import annotations

import pytest
from library_dicomgen import ct_series

from ownscan.core.cli import main
from ownscan.core.names import display_name


@pytest.mark.parametrize(
    ("pn", "shown"),
    [
        ("Citizen^Jan", "Jan Citizen"),
        ("Citizen^Jan^Peter^Dr.^Jr.", "Dr. Jan Peter Citizen Jr."),
        ("Citizen", "Citizen"),
        ("^Jan", "Jan"),
        ("=山田^太郎=やまだ^たろう", "太郎 山田"),
        ("", "(no name)"),
        ("^^", "(no name)"),
        (None, "(no name)"),
    ],
)
def test_display_name(pn, shown):
    assert display_name(pn) == shown


@pytest.fixture
def library(tmp_path):
    ct_series(tmp_path / "src" / "a", 2, patient=("Citizen^Jan", "P1"), description="Chest")
    ct_series(tmp_path / "src" / "b", 2, patient=("", "P2"), description="x" * 60)
    lib = tmp_path / "lib"
    assert main(["import", str(tmp_path / "src"), "--library", str(lib)]) == 0
    return lib


def test_list_fits_the_terminal_and_writes_names_as_people_do(library, capsys, monkeypatch):
    capsys.readouterr()
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["list", "--library", str(library)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(len(line) < 80 for line in lines), lines
    assert "SERIES UID" not in lines[0]  # left out before the names are cut
    assert "Citizen^Jan" not in "\n".join(lines)
    # a person's heading (name, patient ID, birth date), its study under it
    jan = next(k for k, line in enumerate(lines) if line.startswith("Jan Citizen (P1)"))
    assert " CT " in lines[jan + 1] and lines[jan + 1].startswith("20")
    unnamed = next(k for k, line in enumerate(lines) if line.startswith("(no name) (P2)"))
    assert " CT " in lines[unnamed + 1] and lines[unnamed + 1].startswith("20")
    monkeypatch.setenv("COLUMNS", "250")
    assert main(["list", "--library", str(library)]) == 0
    assert "SERIES UID" in capsys.readouterr().out.splitlines()[0]
