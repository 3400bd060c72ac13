"""Zips built to exhaust memory or time (issue #16): a member that is not DICOM is judged by
its first bytes and never inflated whole; the central directory's member count is checked
before anything is read. Commands run under a memory cap (tests/core/hostile.py)."""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
from ctgen import write_ct_series
from hostile import assert_handled, capped

from ownscan.plugins.portal_zip import declared_entries

MEMBER = 1000 << 20  # one member inflates to 1000 MiB (under the 1 GiB per-member limit)


def _write_zeros_member(zf: zipfile.ZipFile, name: str, head: bytes, size: int) -> None:
    block = b"\0" * (1 << 20)
    with zf.open(zipfile.ZipInfo(name), "w", force_zip64=True) as out:
        out.write(head)
        left = size - len(head)
        while left > 0:
            out.write(block[: min(left, len(block))])
            left -= len(block)


@pytest.fixture(scope="module")
def amplifying_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two 1000 MiB "videos" (JPEG/MP4-like heads, then zeros) and three real CT slices."""
    folder = tmp_path_factory.mktemp("zipamp")
    slices = write_ct_series(folder / "ct", n_slices=3)
    path = folder / "export.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for f in slices:
            zf.write(f, f"DICOM/{f.name}")
        _write_zeros_member(zf, "Viewer/movie.mp4", b"\0\0\0\x18ftypmp42", MEMBER)
        _write_zeros_member(zf, "preview.jpg", b"\xff\xd8\xff\xe0\0\x10JFIF\0", MEMBER)
    return path


def test_members_that_are_not_dicom_are_never_inflated(
    amplifying_zip: Path, tmp_path: Path
) -> None:
    # 600 MiB of address space in all: one inflated member would not fit
    # (the compression-ratio limit, which would refuse these members anyway, is raised)
    lib = str(tmp_path / "lib")
    r = capped(
        "import",
        "--library",
        lib,
        str(amplifying_zip),
        "--option",
        "max_ratio=100000",
        memory=900 << 20,
    )
    assert_handled(r)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "3 imported" in out and "2 skipped" in out, out
    # `info` reads the zip the same way, in the same bounded memory
    r = capped("info", str(amplifying_zip), memory=900 << 20)
    assert_handled(r)
    assert "3 image(s)" in r.stdout, r.stdout + r.stderr
    assert r.stderr.count("not a DICOM file") == 2, r.stderr


def test_member_count_checked_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for n in range(3000):
            zf.writestr(f"f{n}.txt", b"x")
    with path.open("rb") as fp:
        assert declared_entries(fp) == 3000
    r = capped(
        "import", "--library", str(tmp_path / "lib"), str(path), "--option", "max_entries=1000"
    )
    assert_handled(r)
    out = r.stdout + r.stderr
    assert "declares 3,000 members, more than max_entries=1,000" in out, out


def test_zip64_member_count(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for n in range(70_000):  # more than 65535: only the zip64 record holds the count
            zf.writestr(f"{n}", b"")
    assert declared_entries(buf) == 70_000
    assert declared_entries(io.BytesIO(b"not a zip at all" * 10)) is None


def test_damaged_directory_version_is_one_line(tmp_path: Path) -> None:
    # found by tests/core/test_fuzz.py: a central directory entry whose "version needed" byte
    # is damaged made zipfile raise NotImplementedError (exit 70)
    path = tmp_path / "v.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("A/x.txt", b"hello")
    data = bytearray(path.read_bytes())
    cd = data.index(b"PK\x01\x02")
    data[cd + 6 : cd + 8] = b"\xff\x00"  # version needed to extract: 25.5
    path.write_bytes(bytes(data))
    r = capped("info", str(path))
    assert_handled(r)
    assert "not a readable zip file (zip file version 25.5)" in r.stderr, r.stderr
