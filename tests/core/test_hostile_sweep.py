"""A hostile-input sweep over real files: every variant tests/core/hostilegen.py makes from the
real head MR (91 files in 7 classes), plus file-system oddities (names with a newline, an
escape, bytes that are not UTF-8, a leading dash; a folder named like a file; a file whose
read fails with EIO), sits in one study beside 8 good slices of the same series, and goes
through ``import``, ``info``, ``export`` and ``render`` as real subprocesses under a memory cap
(RLIMIT_AS) and a hang guard (tests/core/hostile.py).

What holds (docs/SAFETY.md): no traceback and no internal error (exit 70); every file the
import refuses is one line naming it and saying why; the good neighbours are imported, exported
and drawn; an import that refuses everything leaves the library byte for byte as it was; and a
file the library refuses is never drawn alone without a word naming it, unless its damage is
outside the image (the meta group's UIDs, items after the pixel data)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hostile import assert_handled, capped
from hostilegen import Variant, make_variants

GOOD = range(180, 188)  # 8 neighbouring slices of the head MR: the good series
ODD_NAMES = ["new\nline.dcm", "esc\x1b[31m.dcm", os.fsdecode(b"bad\xff\xfe.dcm"), "-rf.dcm"]

# Refused by the library, yet the picture drawn from the file alone is the true one: the damage
# is outside the image (UIDs in the meta group, its group length, items after the pixel data)
BENIGN = {
    "flipped-meta-group-length-high",
    "flipped-meta-group-length-low",
    *(f"flipped-meta-seed{s}" for s in range(6)),
    "sequence-undelimited-at-end",
    "sequence-implicit-undelimited-at-end",
    "sequence-item-past-eof",
    "sequence-nested-undelimited-20000",
    "truncated-no-delimiter",
}


CUT = r"truncated|past the end|cut short"  # what a file cut short is said with


def _rel(path: Path, root: Path) -> str:
    """The path as the commands print it (bytes that are not UTF-8 as ``\\xff``, controls
    escaped)."""
    from ownscan.core.text import escape_controls

    text = os.fsencode(path.relative_to(root)).decode("utf-8", "backslashreplace")
    return escape_controls(text)


class Sweep:
    """The study folder, its variants, the good slices and the odd-named good files."""

    def __init__(self, root: Path, variants: list[Variant], good: list[Path], odd: list[Path]):
        self.root, self.variants, self.good, self.odd = root, variants, good, odd
        self.study = root / "study"


@pytest.fixture(scope="module")
def sweep(mr_head_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Sweep:
    root = tmp_path_factory.mktemp("sweep")
    slices = sorted(mr_head_dir.glob("*.dcm"))
    study = root / "study"
    (study / "good").mkdir(parents=True)
    good = [Path(shutil.copy(slices[k], study / "good")) for k in GOOD]
    variants = make_variants(slices[:120], study / "bad", root / "work")
    (study / "odd").mkdir()
    odd = [
        Path(shutil.copy(src, study / "odd" / name))
        for name, src in zip(ODD_NAMES, slices[300:], strict=False)
    ]
    (study / "odd" / "folder.dcm").mkdir()  # a folder named like a file
    os.symlink("/proc/self/mem", study / "odd" / "unreadable.dcm")  # read fails (EIO), even as root
    os.mkfifo(study / "odd" / "fifo.dcm")  # reading it would wait forever
    os.symlink("/dev/zero", study / "odd" / "endless.dcm")  # reading it never ends
    return Sweep(root, variants, good, odd)


def assert_clean(r: subprocess.CompletedProcess[str]) -> None:
    """:func:`assert_handled`, and no warning of a library leaked past ownscan's own lines
    (pydicom's ``UserWarning`` or log record names neither the file nor what it means)."""
    assert_handled(r)
    assert "UserWarning" not in r.stderr and "Please see <http" not in r.stderr, r.stderr[-2000:]


def _outcomes(stdout: str) -> dict[str, tuple[str, str]]:
    """``import``'s per-file lines: printed path -> (outcome, reason)."""
    out = {}
    for line in stdout.splitlines():
        word, _, rest = line.partition(" ")
        if word in ("imported", "failed", "skipped", "duplicate", "conflict"):
            path, _, reason = rest.strip().partition(": ")
            out[path] = (word, reason)
    return out


@pytest.fixture(scope="module")
def first_import(sweep: Sweep, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    lib = tmp_path_factory.mktemp("lib") / "lib"
    r = capped("import", "--library", str(lib), "study", cwd=sweep.root)
    assert_clean(r)
    assert r.returncode == 1, r.stdout[-2000:] + r.stderr  # some failed: documented exit 1
    return lib, _outcomes(r.stdout)


def _library_state(lib: Path) -> tuple[object, ...]:
    """Every row of every table but the import log, and every file under objects/."""
    conn = sqlite3.connect(lib / "index.sqlite")
    try:
        tables = [
            r[0]
            for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY 1")
            if r[0] != "imports"
        ]
        rows = {t: sorted(map(repr, conn.execute(f"SELECT * FROM {t}"))) for t in tables}
    finally:
        conn.close()
    files = sorted(
        (str(p.relative_to(lib)), hashlib.sha256(p.read_bytes()).hexdigest())
        for p in (lib / "objects").rglob("*")
        if p.is_file()
    )
    return rows, files


def test_import_names_every_refused_file_and_keeps_the_good(
    sweep: Sweep, first_import: tuple[Path, dict]
) -> None:
    lib, outcomes = first_import
    for v in sweep.variants:
        got = outcomes.get(_rel(v.path, sweep.root))
        assert got is not None, (v.name, sorted(outcomes)[:5])
        if got[0] in ("failed", "skipped"):
            assert len(got[1]) > 10, (v.name, got)  # and says why
    for f in sweep.good + sweep.odd:
        assert outcomes[_rel(f, sweep.root)][0] == "imported", (
            f,
            outcomes.get(_rel(f, sweep.root)),
        )
    unreadable = outcomes["study/odd/unreadable.dcm"]
    assert unreadable[0] == "failed" and "cannot read" in unreadable[1], unreadable
    # nothing of a refused file is in the library, and the library is consistent
    refused = {
        hashlib.sha256(v.path.read_bytes()).hexdigest()
        for v in sweep.variants
        if outcomes[_rel(v.path, sweep.root)][0] == "failed"
    }
    assert len(refused) > 30
    conn = sqlite3.connect(lib / "index.sqlite")
    held = {r[0] for r in conn.execute("SELECT sha256 FROM instances")}
    conn.close()
    assert not refused & held
    r = capped("check", "--library", str(lib))
    assert_clean(r)
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_refused_import_leaves_the_library_as_it_was(
    sweep: Sweep, first_import: tuple[Path, dict], tmp_path: Path
) -> None:
    _, outcomes = first_import
    lib = tmp_path / "lib"
    r = capped("import", "--library", str(lib), *map(str, sweep.good))
    assert r.returncode == 0, r.stdout + r.stderr
    before = _library_state(lib)
    refused = [
        str(v.path) for v in sweep.variants if outcomes[_rel(v.path, sweep.root)][0] == "failed"
    ]
    r = capped("import", "--library", str(lib), *refused)
    assert_clean(r)
    assert r.returncode == 1 and f"{len(refused)} failed" in r.stdout + r.stderr, r.stdout[-800:]
    assert _library_state(lib) == before
    assert not any((lib / "tmp").iterdir()) if (lib / "tmp").exists() else True


def _render_alone(v: Variant, out: Path) -> tuple[Variant, object]:
    png = out / f"{v.cls}-{v.name}.png"
    return v, capped("render", str(v.path), "-o", str(png), "--size", "32x32", "--backend", "cpu")


def test_each_variant_alone_is_drawn_true_or_named(
    sweep: Sweep, first_import: tuple[Path, dict], tmp_path: Path
) -> None:
    _, outcomes = first_import
    # the files the library refuses (the others are drawn in the study test below)
    refused = [v for v in sweep.variants if outcomes[_rel(v.path, sweep.root)][0] != "imported"]
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda v: _render_alone(v, tmp_path), refused))
    silent = []
    for v, r in runs:
        assert_clean(r)  # type: ignore[arg-type]
        key = f"{v.cls}-{v.name}"
        named = v.path.name in r.stderr  # type: ignore[attr-defined]
        said = r.stderr.replace(v.path.name, "")  # type: ignore[attr-defined]  # not the name
        if r.returncode != 0:  # type: ignore[attr-defined]
            # refused: exit 2 (nothing to draw) with the file named and why
            assert r.returncode == 2 and named, (key, r.stderr)  # type: ignore[attr-defined]
            assert not (tmp_path / f"{key}.png").exists()
        elif key not in BENIGN:
            reason = outcomes[_rel(v.path, sweep.root)][1]
            if not named:
                silent.append(key)
            elif re.search(CUT, reason) and not re.search(CUT, said):
                silent.append(key)  # named, but not that it is cut short
    assert not silent, f"drawn without a word though the library refuses them: {silent}"


def test_the_study_through_info_export_render(sweep: Sweep, tmp_path: Path) -> None:
    import nibabel as nib

    info = capped("info", "study", cwd=sweep.root)
    assert_clean(info)
    assert info.returncode == 0 and "Series 401 anat-T1w" in info.stdout, info.stdout[-2000:]
    assert "unreadable.dcm: cannot read" in info.stderr, info.stderr[-2000:]
    ex = capped("export", "study", "-o", str(tmp_path / "out"), cwd=sweep.root)
    assert_clean(ex)
    assert ex.returncode == 1, ex.stderr[-2000:]  # some files could not be read
    # the good slices are in (one series split into stacks by lying Rows: each its own file)
    depth = max(nib.load(f).shape[2] for f in (tmp_path / "out").glob("*.nii.gz"))
    assert depth >= len(GOOD) + len(sweep.odd)
    # one file no decoder reads (an unknown transfer syntax) fails alone, named
    assert "syntax-unknown-uid.dcm: cannot decode transfer syntax 1.2.3.4.5.6.7.8" in ex.stderr
    rd = capped(
        "render",
        "study",
        "-o",
        str(tmp_path / "r.png"),
        "--size",
        "32x32",
        "--backend",
        "cpu",
        cwd=sweep.root,
    )
    assert_clean(rd)
    assert rd.returncode == 0 and (tmp_path / "r.png").exists(), rd.stderr[-2000:]


# -- discs and zips -----------------------------------------------------------------------------
def _disc(slices: list[Path], root: Path) -> Path:
    """A disc folder: the slices as DICOM/IM00000k and a DICOMDIR by dcmmkdir."""
    (root / "DICOM").mkdir(parents=True)
    for k, f in enumerate(slices):
        shutil.copy(f, root / "DICOM" / f"IM{k:06d}")
    subprocess.run(["dcmmkdir", "-Nxc", "+r", "DICOM"], cwd=root, check=True, capture_output=True)
    return root


def _damaged_disc(slices: list[Path], root: Path, damage: Callable[[bytes], bytes]) -> Path:
    disc = _disc(slices, root)
    (disc / "DICOMDIR").write_bytes(damage((disc / "DICOMDIR").read_bytes()))
    return disc


def _outside_and_itself(data: bytes) -> bytes:
    # Referenced File IDs are 14 bytes (DICOM\IM00000k): the same length keeps the records
    data = data.replace(b"DICOM\\IM000000", b"..\\..\\etc\\PASS")  # outside the disc
    return data.replace(b"DICOM\\IM000001", b"DICOMDIR      ")  # the DICOMDIR itself


_UL = b"UL\x04\x00"
_NEXT = b"\x04\x00\x00\x14" + _UL  # Offset of the Next Directory Record
_LOWER = b"\x04\x00\x20\x14" + _UL  # Offset of Referenced Lower-Level Directory Entity


def _loop(data: bytes) -> bytes:
    """The first record's next record is itself."""
    first = data.index(b"\x04\x00\x30\x14")  # its Record In-use Flag, then the next offset
    at = data.index(_NEXT) + 8
    record = data.rindex(b"\xfe\xff\x00\xe0", 0, first)  # the record's item tag
    return data[:at] + record.to_bytes(4, "little") + data[at + 4 :]


def _two_offsets(data: bytes) -> bytes:
    """The first record's lower-level offset holds two values (VM 2)."""
    at = data.index(_LOWER)
    return data[:at] + _LOWER[:6] + b"\x08\x00" + data[at + 8 : at + 12] * 2 + data[at + 12 :]


def test_a_dicomdir_pointing_outside_at_itself_or_in_a_loop(mr_head_dir: Path, tmp_path: Path):
    slices = sorted(mr_head_dir.glob("*.dcm"))[200:204]
    disc = _damaged_disc(slices, tmp_path / "disc", _outside_and_itself)
    r = capped("import", "--library", str(tmp_path / "lib"), str(disc))
    assert_clean(r)
    assert r.returncode == 1 and "leaves the disc folder; refused" in r.stdout, r.stdout
    out = _outcomes(r.stdout)
    # every image on the disc is read, listed truly or not: nothing is lost
    assert sum(o == "imported" for o, _ in out.values()) == 4, out
    # records that loop or whose offset is not one number: the DICOMDIR is set aside (said),
    # every file is read
    for name, damage, says in (
        ("loop", _loop, "loop"),
        ("two-offsets", _two_offsets, "is not one number"),
    ):
        disc = _damaged_disc(slices, tmp_path / name, damage)
        lib = tmp_path / f"lib-{name}"
        for args in (["info", str(disc)], ["import", "--library", str(lib), str(disc)]):
            r = capped(*args)
            assert_clean(r)
            assert says in r.stderr and "scanning every file" in r.stderr, (name, r.stderr)
        assert r.returncode == 0 and "4 imported" in r.stdout + r.stderr, r.stdout + r.stderr


def test_zips_with_links_duplicates_folders_and_encryption(mr_head_dir: Path, tmp_path: Path):
    import stat
    import warnings
    import zipfile

    import pyzipper

    slices = sorted(mr_head_dir.glob("*.dcm"))[210:214]
    z = tmp_path / "portal.zip"
    with zipfile.ZipFile(z, "w") as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate name
        zf.write(slices[0], "A/IM1.dcm")
        for name, target in (("A/passwd.dcm", "/etc/passwd"), ("A/up.dcm", "../" * 8 + "etc")):
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
        zf.write(slices[1], "A/same.dcm")
        zf.write(slices[2], "A/same.dcm")  # two members of one name: both are read
        zf.writestr("A/folder.dcm/", b"")
        zf.write(slices[3], "A/" + "x" * 300 + ".dcm")
    r = capped("import", "--library", str(tmp_path / "lib"), str(z))
    assert_clean(r)
    assert r.returncode == 1 and "4 imported" in r.stdout + r.stderr, r.stdout + r.stderr
    assert r.stdout.count("refused: symbolic link") == 2, r.stdout
    enc = tmp_path / "enc.zip"
    with pyzipper.AESZipFile(enc, "w", encryption=pyzipper.WZ_AES) as zf:
        zf.setpassword(b"secret")
        zf.write(slices[0], "A/IM1.dcm")
    before = _library_state(tmp_path / "lib")
    for args in (["info", str(enc)], ["import", "--library", str(tmp_path / "lib"), str(enc)]):
        r = subprocess.run(  # no terminal to ask the password on
            [*_exe(), *args], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120
        )
        assert_clean(r)
        assert r.returncode in (1, 2) and "enc.zip" in r.stdout + r.stderr, r.stderr
        assert "encrypted" in r.stdout + r.stderr and "--password" in r.stdout + r.stderr
    assert _library_state(tmp_path / "lib") == before


def _exe() -> list[str]:
    from hostile import EXE

    return [EXE]


SPECIAL = {
    "zero.dcm": lambda p: p.write_bytes(b""),
    "unreadable.dcm": lambda p: os.symlink("/proc/self/mem", p),
    "folder.dcm": lambda p: p.mkdir(),
    "fifo.dcm": lambda p: os.mkfifo(p),
    "endless.dcm": lambda p: os.symlink("/dev/zero", p),
    "dangling.dcm": lambda p: os.symlink("nowhere", p),
    "loop.dcm": lambda p: os.symlink("loop.dcm", p),
}


def test_odd_files_given_as_the_source(tmp_path: Path) -> None:
    for name, make in SPECIAL.items():
        make(tmp_path / name)
    r = capped("import", "--library", str(tmp_path / "lib"), *SPECIAL, cwd=tmp_path)
    assert_clean(r)
    assert r.returncode == 1, r.stdout + r.stderr
    for name in SPECIAL:
        if name != "folder.dcm":  # an empty folder is said as "no files found"
            assert name in r.stdout + r.stderr, (name, r.stdout + r.stderr)
    rows, files = _library_state(tmp_path / "lib")
    assert not files and not any(rows.values()), (rows, files)  # nothing kept of any of them
    for name in SPECIAL:
        commands = [["info"]]
        if name in ("zero.dcm", "unreadable.dcm", "fifo.dcm"):
            commands += [["export", "-o", "out"], ["render", "-o", "r.png", "--backend", "cpu"]]
        for command in commands:
            r = capped(*command[:1], name, *command[1:], cwd=tmp_path)
            assert_clean(r)
            assert r.returncode == 2 and name in r.stderr, (command, name, r.stderr)
    for name, says in (("dangling.dcm", "No such file"), ("loop.dcm", "Too many levels")):
        r = capped("info", name, cwd=tmp_path)
        assert f"{name}: a link that leads to no file ({says}" in r.stderr, r.stderr


def test_every_lying_value_is_named_by_info(mr_head_dir: Path, tmp_path: Path) -> None:
    # the library keeps such files as they are (their bytes are whole); reading them, each is
    # refused or warned about by name (Bits Stored 0, Samples per Pixel 0, High Bit 40 and a
    # Number of Frames "many" were read as the common case without a word)
    slices = sorted(mr_head_dir.glob("*.dcm"))
    variants = make_variants(slices[:40], tmp_path / "values", tmp_path / "work", ["values"])
    r = capped("info", str(tmp_path / "values"))
    assert_clean(r)
    said = r.stdout + r.stderr
    assert not [v.name for v in variants if v.path.name not in said], said[-3000:]
    for value in ("BitsStored 0", "SamplesPerPixel 0", "HighBit 40", "NumberOfFrames 'many'"):
        assert value in said, value
    # a transfer syntax DICOM does not know is said when the header is read, by info too
    variants = make_variants(slices[:40], tmp_path / "syntax", tmp_path / "work2", ["syntax"])
    r = capped("info", str(tmp_path / "syntax"))
    assert_clean(r)
    for name, uid in (("unknown-uid", "1.2.3.4.5.6.7.8"), ("not-a-uid", "hello world")):
        assert f"syntax-{name}.dcm): transfer syntax '{uid}' is not one DICOM knows" in r.stdout
