"""Odd encodings real archives produce, through the front doors.

* Each encoding of one generated CT (deflated explicit VR, explicit VR big endian, a raw data
  set without preamble or meta information, explicit VR without meta, meta without Transfer
  Syntax UID, implicit VR with odd-length values, no SOP Class UID) loads to the very volume
  of the original; patient names in several Specific Character Sets (ISO_IR 100, ISO_IR 192,
  GB18030, ISO 2022 IR 87 and IR 149, ISO_IR 144) read as pydicom decodes them.
* A disc whose DICOMDIR holds a name that is not valid in its declared character set (Latin-1
  bytes under ISO_IR 192): pydicom's own warning used to reach the terminal raw (a Python
  ``UserWarning`` line with pydicom's source path, and a log line) from the DICOMDIR reader.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest
from ctgen import write_ct_series
from hostile import assert_handled, capped

from ownscan.core import assemble, load_volume


def _each(folder: Path, fn: Callable[[Path], None]) -> None:
    for f in sorted(folder.glob("*.dcm")):
        fn(f)


def _dcmconv(flag: str) -> Callable[[Path], None]:
    return lambda f: subprocess.run(["dcmconv", flag, str(f), str(f)], check=True)


def _resave(edit: Callable[[pydicom.Dataset], None], **how: bool) -> Callable[[Path], None]:
    def one(f: Path) -> None:
        ds = pydicom.dcmread(f)
        edit(ds)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds.save_as(f, enforce_file_format=False, **how)

    return one


def _no_meta(ds: pydicom.Dataset) -> None:
    del ds.file_meta
    ds.preamble = None


def _odd_lengths(f: Path) -> None:
    """Implicit VR with two text values of odd length (no padding byte), as old writers do."""
    b = f.read_bytes()
    for group, elem, text in ((0x10, 0x10, b"Phantom^Generated "), (0x08, 0x103E, b"generated CT")):
        old = struct.pack("<HHL", group, elem, len(text)) + text
        cut = text.replace(b" ", b"", 1)[: len(text) - 1]
        assert old in b and len(cut) % 2 == 1
        b = b.replace(old, struct.pack("<HHL", group, elem, len(cut)) + cut)
    f.write_bytes(b)


def _no_sop_class(ds: pydicom.Dataset) -> None:
    del ds.SOPClassUID
    del ds.file_meta.MediaStorageSOPClassUID


ENCODINGS: dict[str, tuple[bool, Callable[[Path], None]]] = {
    "deflated": (False, _dcmconv("+td")),
    "big-endian": (False, _dcmconv("+tb")),
    "raw-implicit": (False, _resave(_no_meta, implicit_vr=True, little_endian=True)),
    "raw-explicit": (False, _resave(_no_meta, implicit_vr=False, little_endian=True)),
    "meta-without-transfer-syntax": (
        False,
        _resave(lambda ds: delattr(ds.file_meta, "TransferSyntaxUID"), implicit_vr=False),
    ),
    "implicit-odd-lengths": (True, _odd_lengths),
    "no-sop-class": (False, _resave(_no_sop_class)),
}


@pytest.mark.parametrize("name", list(ENCODINGS))
def test_odd_encodings_load_the_original_volume(name: str, tmp_path: Path) -> None:
    implicit, make = ENCODINGS[name]
    write_ct_series(tmp_path / "orig", n_slices=4, implicit=implicit)
    want = load_volume(tmp_path / "orig")
    shutil.copytree(tmp_path / "orig", tmp_path / "odd")
    _each(tmp_path / "odd", make)
    found = assemble(tmp_path / "odd")
    assert not found.errors and not found.skipped, (found.errors, found.skipped)
    (s,) = found.series
    vol = s.load()
    np.testing.assert_array_equal(vol.voxels, want.voxels)
    np.testing.assert_allclose(vol.affine, want.affine, atol=1e-6)


NAMES = {
    "latin1": ("ISO_IR 100", "Müller^Jürgen"),
    "utf8": ("ISO_IR 192", "Müller^李雷"),
    "gb18030": ("GB18030", "王^小明"),
    "japanese": (["", "ISO 2022 IR 87"], "Yamada^Tarou=山田^太郎=やまだ^たろう"),
    "korean": (["", "ISO 2022 IR 149"], "Hong^Gildong=洪^吉洞=홍^길동"),
    "cyrillic": ("ISO_IR 144", "Иванов^Иван"),
}


@pytest.mark.parametrize("name", list(NAMES))
def test_names_in_each_character_set(name: str, tmp_path: Path) -> None:
    charset, person = NAMES[name]

    def edit(ds: pydicom.Dataset) -> None:
        ds.SpecificCharacterSet = charset
        ds.PatientName = person
        ds.SeriesDescription = person.split("=")[0].replace("^", " ")

    write_ct_series(tmp_path / "in", n_slices=3)
    _each(tmp_path / "in", _resave(edit))
    (s,) = assemble(tmp_path / "in").series
    want = str(pydicom.dcmread(next((tmp_path / "in").glob("*.dcm"))).PatientName)
    assert want == person  # pydicom reads back what was written
    assert s.info.patient_name == want and s.info.series_description in s.label
    r = capped("info", str(tmp_path / "in"))
    assert_handled(r)
    assert r.returncode == 0 and person.split("=")[0].split("^")[0] in r.stdout, r.stdout


def test_disc_with_a_name_not_in_its_character_set_prints_no_raw_warning(
    tmp_path: Path,
) -> None:
    disc = tmp_path / "disc"
    write_ct_series(disc / "DICOM", n_slices=3)
    _each(disc / "DICOM", _resave(lambda ds: setattr(ds, "SpecificCharacterSet", "ISO_IR 192")))
    for k, f in enumerate(sorted((disc / "DICOM").glob("*.dcm"))):
        b = f.read_bytes()  # Latin-1 bytes under ISO_IR 192: not valid UTF-8
        f.write_bytes(b.replace(b"Phantom^Generated ", b"Ph\xe4ntom^Generated "))
        f.rename(disc / "DICOM" / f"IM{k:05d}")
    subprocess.run(["dcmmkdir", "+r", "DICOM"], cwd=disc, check=True, capture_output=True)
    assert b"Ph\xe4ntom" in (disc / "DICOMDIR").read_bytes()
    for args in (("info", str(disc)), ("import", "--library", str(tmp_path / "lib"), str(disc))):
        r = capped(*args)
        assert_handled(r)
        assert r.returncode == 0, r.stderr
        assert "UserWarning" not in r.stderr and "warn_and_log" not in r.stderr, r.stderr
        assert "WARNING: Failed to decode" not in r.stderr, r.stderr
