"""The series an import touched are assembled once: the library's own assembly (which records
their stacks) keeps each series' warnings in the import's report, and the CLI's import prints
them from there, in the words ``info`` uses, without assembling the series a second time. A
source that fails part way leaves its series to the CLI, which assembles them itself.

Real files (the shared head MR, slices taken out of its middle), the real library and the real
command; the count of assemblies is a spy around the real function."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ownscan.core import assembly
from ownscan.core.cli import main
from ownscan.core.library import SeriesWarnings, open_library
from ownscan.core.plugin_types import ImportOptions
from ownscan.plugins.folder import FolderImporter


def _gap(mr_head_dir: Path, dest: Path) -> Path:
    """40 slices with 9 missing from their middle: ``info`` warns of the gap."""
    slices = sorted(mr_head_dir.glob("*.dcm"))[:49]
    dest.mkdir()
    for f in slices[:20] + slices[29:]:
        shutil.copy(f, dest)
    return dest


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many items each call of series assembly was given (it still runs for real)."""
    calls: list[int] = []
    real = assembly.assemble

    def spy(items, **kw):  # type: ignore[no-untyped-def]
        items = list(items)
        calls.append(len(items))
        return real(items, **kw)

    monkeypatch.setattr(assembly, "assemble", spy)
    return calls


def test_the_report_keeps_what_assembly_said_of_each_series(
    mr_head_dir: Path, tmp_path: Path
) -> None:
    src = _gap(mr_head_dir, tmp_path / "gap")
    with open_library(tmp_path / "lib") as lib:
        rep = lib.import_items(FolderImporter().iter_items(str(src), ImportOptions()))
        assert rep.counts["imported"] == 40
        (uid,) = {r.series_uid for r in rep.results}
        assert list(rep.series_warnings) == [uid]
        again = lib.assemble(uid)  # what info and the viewer make of the stored files
        assert rep.series_warnings[uid] == [
            SeriesWarnings(uid, s.label, tuple(s.files), tuple(s.warnings)) for s in again.series
        ]
        (kept,) = rep.series_warnings[uid]
        assert any(w.startswith("missing slices: about 9 slice(s) absent") for w in kept.warnings)
        assert len(kept.files) == 40
        # importing the same files again adds no image: no series is assembled or said
        rep = lib.import_items(FolderImporter().iter_items(str(src), ImportOptions()))
        assert rep.counts["duplicate"] == 40 and rep.series_warnings == {}


def test_the_cli_says_them_from_the_one_assembly(
    mr_head_dir: Path,
    tmp_path: Path,
    counted: list[int],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    _gap(mr_head_dir, tmp_path / "gap")
    assert main(["info", "gap"]) == 0
    said = [
        ln.split("warning: ", 1)[1]
        for ln in capsys.readouterr().out.splitlines()
        if "warning: " in ln
    ]
    assert said
    counted.clear()
    assert main(["import", "--library", "lib", "gap"]) == 0
    err = capsys.readouterr().err
    warned = [ln for ln in err.splitlines() if ln.startswith("ownscan import: warning: ")]
    assert [ln.rsplit(": ", 1)[1] for ln in warned] == [w.rsplit(": ", 1)[1] for w in said]
    assert all("gap/" in ln and "40 files" in ln for ln in warned), warned
    assert counted == [40]  # the library's assembly only: none made again for the warnings


def test_a_source_that_fails_part_way_is_assembled_by_the_cli(
    mr_head_dir: Path,
    tmp_path: Path,
    counted: list[int],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a zip whose last member is encrypted, given the wrong password: the import stops there
    # (the source fails) after storing the 40 slices before it; the library recorded no
    # stacks for them, so the CLI assembles the series itself and still says its warnings
    pyzipper = pytest.importorskip("pyzipper")
    monkeypatch.chdir(tmp_path)
    src = _gap(mr_head_dir, tmp_path / "gap")
    z = tmp_path / "portal.zip"
    with pyzipper.AESZipFile(z, "w") as zf:
        for f in sorted(src.iterdir()):
            zf.write(f, f"gap/{f.name}")
    with pyzipper.AESZipFile(z, "a", encryption=pyzipper.WZ_AES) as zf:
        zf.setpassword(b"secret")
        zf.write(next(src.iterdir()), "gap/locked.dcm")
    counted.clear()
    code = main(["import", "--library", "lib", "--password", "wrong", str(z)])
    out, err = capsys.readouterr()
    assert code == 1 and "40 imported" in out and "wrong password" in out, out + err
    warned = [ln for ln in err.splitlines() if ln.startswith("ownscan import: warning: ")]
    assert any("missing slices: about 9 slice(s) absent" in ln for ln in warned), err
    assert counted == [40]  # the CLI's own assembly: the library's never ran
