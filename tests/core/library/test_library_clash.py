"""A damaged and a good file with one SOP Instance UID: the library keeps the copy whose image
decodes, whatever the order they come in, sets the other aside in conflicts/ and says which
was kept (issue #16). The damaged copies are real damage: the same slice compressed by gdcm
(JPEG lossless, JPEG 2000) with its stream scrambled, and a copy without its pixel data."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest
from library_dicomgen import ct_series

from ownscan.core.library import CONFLICT, open_library
from ownscan.core.plugin_types import ImportOptions
from ownscan.plugins.folder import FolderImporter

OWNSCAN = [sys.executable, "-m", "ownscan.core.cli"]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _scrambled(flag: str) -> object:
    def make(good: Path, out: Path) -> None:
        subprocess.run(["gdcmconv", flag, str(good), str(out)], check=True)
        data = bytearray(out.read_bytes())
        p = bytes(data).rindex(b"\xe0\x7f\x10\x00") + 40
        data[p : p + 200] = bytes((b * 37 + 11) % 256 for b in data[p : p + 200])
        out.write_bytes(bytes(data))

    return make


def _no_pixels(good: Path, out: Path) -> None:
    ds = pydicom.dcmread(good)
    del ds.PixelData
    ds.save_as(out, enforce_file_format=True)


DAMAGE = {"jpeg-scrambled": _scrambled("--jpeg"), "j2k-scrambled": _scrambled("--j2k")}
DAMAGE["no-pixel-data"] = _no_pixels


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    if shutil.which("gdcmconv") is None:
        pytest.fail("gdcmconv (Debian libgdcm-tools) is needed: .ci/system-packages.txt")
    root = tmp_path_factory.mktemp("clash")
    out = {}
    for name, make in DAMAGE.items():
        good = ct_series(root / name / "good", 1, size=64, seed=len(name))[0]
        bad = root / name / "bad" / good.name
        bad.parent.mkdir(parents=True)
        make(good, bad)  # type: ignore[operator]
        assert pydicom.dcmread(bad).SOPInstanceUID == pydicom.dcmread(good).SOPInstanceUID
        out[name] = (good, bad)
    return out


def _ownscan(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*OWNSCAN, *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


def _assert_good_kept(lib_root: Path, good: Path, bad: Path) -> None:
    with open_library(lib_root) as lib:
        uid = str(pydicom.dcmread(good, stop_before_pixels=True).SOPInstanceUID)
        (inst,) = [i for s in lib.series() for i in lib.instances(s.series_uid)]
        assert inst.sop_instance_uid == uid and Path(inst.path).read_bytes() == good.read_bytes()
        (c,) = lib.conflicts()
        assert c.sha256 == _sha(bad) and c.existing_sha256 == _sha(good)
        assert Path(c.path).read_bytes() == bad.read_bytes()  # kept aside, not lost
        # nothing else: no stale copy under objects/, nothing pending
        objects = [p for p in (lib_root / "objects").rglob("*") if p.is_file()]
        assert [p.name for p in objects] == [_sha(good)]
        assert [p.name for p in (lib_root / "conflicts").iterdir()] == [_sha(bad)]
        assert lib.conn.execute("SELECT count(*) FROM pending_deletes").fetchone()[0] == 0
    check = _ownscan("check", "--library", lib_root)
    assert check.returncode == 0 and check.stdout.count("\n") == 1, check.stdout


@pytest.mark.parametrize("damage", list(DAMAGE))
@pytest.mark.parametrize("first", ["damaged", "good"])
def test_two_imports_keep_the_copy_that_decodes(
    pairs: dict[str, tuple[Path, Path]], damage: str, first: str, tmp_path: Path
) -> None:
    good, bad = pairs[damage]
    lib = tmp_path / "lib"
    order = [bad, good] if first == "damaged" else [good, bad]
    runs = [_ownscan("import", f, "--library", lib) for f in order]
    second = runs[1].stdout
    assert runs[0].returncode == 0, runs[0].stdout + runs[0].stderr
    assert runs[1].returncode == 1, second  # a conflict is always said
    if first == "damaged":
        # the good copy replaces the damaged one, and the patient is told which and why
        assert "kept this copy of SOP Instance UID" in second, second
        assert "its image decodes, the copy held from" in second and str(bad) in second
    else:
        assert "this one is kept aside in conflicts/" in second, second
    _assert_good_kept(lib, good, bad)


@pytest.mark.parametrize("damage", ["jpeg-scrambled", "no-pixel-data"])
@pytest.mark.parametrize("bad_name", ["a.dcm", "z.dcm"])
def test_one_import_keeps_the_copy_that_decodes(
    pairs: dict[str, tuple[Path, Path]], damage: str, bad_name: str, tmp_path: Path
) -> None:
    # both copies in one folder (one batch), read in name order: either may come first
    good, bad = pairs[damage]
    src = tmp_path / "cd"
    src.mkdir()
    shutil.copy(good, src / "m.dcm")
    shutil.copy(bad, src / bad_name)
    lib = tmp_path / "lib"
    r = _ownscan("import", src, "--library", lib)
    assert r.returncode == 1, r.stdout + r.stderr
    _assert_good_kept(lib, src / "m.dcm", src / bad_name)
    if bad_name == "a.dcm":
        assert "kept this copy" in r.stdout, r.stdout


def test_through_worker_processes(pairs: dict[str, tuple[Path, Path]], tmp_path: Path) -> None:
    # the same in an import whose files are read by worker processes
    good, bad = pairs["j2k-scrambled"]
    src = tmp_path / "cd"
    others = ct_series(src / "others", 20, size=16, seed=9)
    shutil.copy(bad, src / "a.dcm")
    shutil.copy(good, src / "z.dcm")
    with open_library(tmp_path / "lib", create=True) as lib:
        lib.processes = 2
        lib.parallel_after = 0
        rep = lib.import_items(FolderImporter().iter_items(str(src), ImportOptions()))
        (conflict,) = [r for r in rep.results if r.status == CONFLICT]
        assert conflict.origin.endswith("z.dcm") and "kept this copy" in conflict.reason
        (c,) = lib.conflicts()
        assert c.sha256 == _sha(bad) and len(lib.instances(lib.series()[0].series_uid)) >= 1
        held = {i.sha256 for s in lib.series() for i in lib.instances(s.series_uid)}
        assert _sha(good) in held and _sha(bad) not in held and len(held) == len(others) + 1


def test_a_good_copy_kept_aside_before_is_held_at_its_next_import(
    pairs: dict[str, tuple[Path, Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a library where an older ownscan kept the damaged copy and set the good one aside:
    # importing the good copy again puts it in place
    from ownscan.core.library._import import ImportSession

    good, bad = pairs["jpeg-scrambled"]
    lib = tmp_path / "lib"
    with open_library(lib, create=True) as library:
        library.import_items(FolderImporter().iter_items(str(bad), ImportOptions()))
        with monkeypatch.context() as m:
            m.setattr(ImportSession, "_settle", lambda self, batch: [])  # as before
            library.import_items(FolderImporter().iter_items(str(good), ImportOptions()))
        (c,) = library.conflicts()
        assert c.sha256 == _sha(good)  # the good copy aside: what this test starts from
        rep = library.import_items(FolderImporter().iter_items(str(good), ImportOptions()))
        (r,) = rep.results
        assert r.status == CONFLICT and "kept this copy" in r.reason, r
    _assert_good_kept(lib, good, bad)
